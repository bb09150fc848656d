/* Report counters: kept by commit, job_update and profile_erase, read
 * by report_read. */
#include <stdio.h>
#include <string.h>

#include "store_test.h"

/* T0 is midnight UTC, so T0 + n * DAY starts day n. */
#define T0 TESTHOST_EPOCH_MS
#define DAY INT64_C(86400000)
#define LEASE 30000


/* Reads the report of the days that start in [since, until). */
static json_t *
report_at(struct fixture *f, int64_t since, int64_t until,
          const char *program)
{
    return json_ok(f, f->ops->report_read,
                   json_pack("{s:I, s:I, s:s?}", "since", (json_int_t)since,
                             "until", (json_int_t)until, "program",
                             program));
}


/* Returns the message counter `metric` of rule "crib-recall", 0 when the
 * report has no such row. */
static int64_t
message_count(const json_t *report, const char *metric)
{
    json_t *rows = json_object_get(report, "messages");
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row) {
        if (strcmp(member_str(row, "rule"), "crib-recall") == 0 &&
            strcmp(member_str(row, "template"), "crib-safety") == 0 &&
            strcmp(member_str(row, "channel"), "email") == 0 &&
            strcmp(member_str(row, "metric"), metric) == 0)
            return member_int(row, "count");
    }
    return 0;
}


static void
job_to(struct fixture *f, int64_t id, const char *state, const char *error,
       int64_t now)
{
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:i, s:s, s:I, s:s?}", "id",
                                  (json_int_t)id, "generation", 1, "state",
                                  state, "now", (json_int_t)now, "error",
                                  error)));
}


/* Plans jobs k-1 .. k-n for p_1 and claims them at T0. */
static void
jobs_claimed(struct fixture *f, int n)
{
    char key[16];
    json_t *jobs;

    for (int i = 1; i <= n; i++) {
        snprintf(key, sizeof(key), "k-%d", i);
        job_plan_commit(f, key, "crib-recall", T0);
    }
    jobs = jobs_claim_at(f, T0, n, LEASE);
    assert_int_equal(json_array_size(jobs), (size_t)n);
    json_decref(jobs);
}


static void
report_counts_job_states(void **state)
{
    struct fixture *f = *state;
    json_t *report;

    jobs_claimed(f, 3);
    job_to(f, 1, "sending", NULL, T0);
    job_to(f, 1, "sent", NULL, T0 + 1000);
    job_to(f, 2, "suppressed", "consent", T0 + 1000);
    job_to(f, 3, "failed", "SMTP 550", T0 + DAY);
    /* A replayed plan is skipped and counts nothing. */
    job_plan_commit(f, "k-1", "crib-recall", T0);

    report = report_at(f, T0, T0 + 2 * DAY, NULL);
    assert_int_equal(message_count(report, "planned"), 3);
    assert_int_equal(message_count(report, "sent"), 1);
    assert_int_equal(message_count(report, "suppressed:consent"), 1);
    assert_int_equal(message_count(report, "failed"), 1);
    assert_int_equal(message_count(report, "sending"), 0);
    json_decref(report);

    /* Only the days that start in the range count. */
    report = report_at(f, T0 + DAY, T0 + 2 * DAY, NULL);
    assert_int_equal(message_count(report, "planned"), 0);
    assert_int_equal(message_count(report, "failed"), 1);
    json_decref(report);
}


/* Commits one goal hit of p_1 in child-safety at `time`. */
static void
goal_hit(struct fixture *f, const char *goal, const char *program,
         int64_t seq, int64_t time, int64_t window)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:I, s:I, s:I}]}",
                                  "goals", "goal", goal, "profile", "p_1",
                                  "program", program, "event_seq",
                                  (json_int_t)seq, "time", (json_int_t)time,
                                  "window_ms", (json_int_t)window)));
}


static void
report_credits_last_sent_job(void **state)
{
    struct fixture *f = *state;
    json_t *report;

    jobs_claimed(f, 2);
    job_to(f, 1, "sent", NULL, T0 + 1000);
    job_to(f, 2, "sent", NULL, T0 + 2000);

    /* Credited to job 2, the last sent; a replay of the same event and a
     * second event credit that job no more. */
    goal_hit(f, "enrolled", "child-safety", 7, T0 + 5000, 10000);
    goal_hit(f, "enrolled", "child-safety", 7, T0 + 5000, 10000);
    goal_hit(f, "enrolled", "child-safety", 8, T0 + 6000, 10000);
    /* Another program, or a window that ends before both sends, credits
     * nothing. */
    goal_hit(f, "other", "housing", 9, T0 + 5000, 10000);
    goal_hit(f, "late", "child-safety", 10, T0 + 5000, 2000);

    report = report_at(f, T0, T0 + DAY, NULL);
    assert_int_equal(message_count(report, "converted:enrolled"), 1);
    assert_int_equal(message_count(report, "converted:other"), 0);
    assert_int_equal(message_count(report, "converted:late"), 0);
    json_decref(report);
}


static void
engagement_commit(struct fixture *f, const char *key, const char *kind,
                  int bot)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:b, s:I}]}",
                                  "engagements", "key", key, "kind", kind,
                                  "bot", bot, "time",
                                  (json_int_t)(T0 + 3000))));
}


static void
report_counts_engagements_once(void **state)
{
    struct fixture *f = *state;
    json_t *report;
    json_t *result;

    jobs_claimed(f, 1);
    job_to(f, 1, "sent", NULL, T0 + 1000);
    engagement_commit(f, "k-1", "opened", 0);
    engagement_commit(f, "k-1", "opened", 0);
    engagement_commit(f, "k-1", "opened", 1);
    engagement_commit(f, "k-1", "clicked", 1);
    engagement_commit(f, "k-1", "unsubscribed", 0);
    engagement_commit(f, "no-such-job", "opened", 0);

    report = report_at(f, T0, T0 + DAY, NULL);
    assert_int_equal(message_count(report, "opened"), 1);
    assert_int_equal(message_count(report, "opened_bot"), 1);
    assert_int_equal(message_count(report, "clicked"), 0);
    assert_int_equal(message_count(report, "clicked_bot"), 1);
    assert_int_equal(message_count(report, "unsubscribed"), 1);
    json_decref(report);

    /* An unknown kind is invalid. */
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s, s:s, s:I}]}",
                                         "engagements", "key", "k-1",
                                         "kind", "forwarded", "time",
                                         (json_int_t)T0), &result),
                     CRIER_EINVAL);
}


/* Commits a delivery status of the job that `key` or `message_id`
 * names, at T0 + `offset`. */
static void
delivery_commit(struct fixture *f, const char *key, const char *message_id,
                const char *kind, const char *code, int64_t offset)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s?, s:s?, s:s, s:s?, s:s, s:I}]}",
                                  "engagements", "key", key, "message_id",
                                  message_id, "kind", kind, "code", code,
                                  "text", "provider text", "time",
                                  (json_int_t)(T0 + offset))));
}


/* Returns the "delivery" member of the only listed job, or NULL. */
static json_t *
job_delivery(struct fixture *f)
{
    json_t *listed = jobs_list_all(f);
    json_t *jobs = json_object_get(listed, "jobs");
    json_t *delivery;

    assert_int_equal(json_array_size(jobs), 1);
    delivery = json_object_get(json_array_get(jobs, 0), "delivery");
    json_incref(delivery);
    json_decref(listed);
    return delivery;
}


static void
report_keeps_delivery_status(void **state)
{
    struct fixture *f = *state;
    json_t *report;
    json_t *delivery;
    json_t *result;

    jobs_claimed(f, 1);
    assert_null(job_delivery(f));
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:i, s:i, s:s, s:I, s:s}", "id", 1,
                                  "generation", 1, "state", "sending", "now",
                                  (json_int_t)T0, "message_id",
                                  "<m1@crier.test>")));
    job_to(f, 1, "sent", NULL, T0 + 1000);

    /* Named by Message-ID, then by key; a repeat counts once, and a
     * status reported earlier than the stored one does not replace it. */
    delivery_commit(f, NULL, "<m1@crier.test>", "delivered", NULL, 2000);
    delivery_commit(f, NULL, "<m1@crier.test>", "delivered", NULL, 2000);
    delivery_commit(f, "k-1", NULL, "bounced", "5.1.1", 5000);
    delivery_commit(f, "k-1", NULL, "failed", "30003", 4000);
    delivery_commit(f, NULL, "<no-such@crier.test>", "bounced", NULL, 6000);

    delivery = job_delivery(f);
    assert_non_null(delivery);
    assert_string_equal(member_str(delivery, "status"), "bounced");
    assert_string_equal(member_str(delivery, "code"), "5.1.1");
    assert_string_equal(member_str(delivery, "text"), "provider text");
    assert_int_equal(member_int(delivery, "time"), T0 + 5000);
    json_decref(delivery);

    report = report_at(f, T0, T0 + DAY, NULL);
    assert_int_equal(message_count(report, "delivered"), 1);
    assert_int_equal(message_count(report, "bounced"), 1);
    assert_int_equal(message_count(report, "delivery_failed"), 1);
    assert_int_equal(message_count(report, "failed"), 0);
    json_decref(report);

    /* A delivery status needs a key or a Message-ID. */
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s, s:I}]}", "engagements",
                                         "kind", "delivered", "time",
                                         (json_int_t)T0), &result),
                     CRIER_EINVAL);
}


static void
report_delivery_invalidates_address(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    jobs_claimed(f, 1);
    job_to(f, 1, "sent", NULL, T0 + 1000);
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:I}]}",
                                  "engagements", "key", "k-1", "kind",
                                  "bounced", "code", "5.1.1", "invalidate",
                                  "email", "time", (json_int_t)(T0 + 2000))));

    /* The next job to the same recipient is claimed with the reason. */
    job_plan_commit(f, "k-2", "crib-recall", T0);
    jobs = jobs_claim_at(f, T0 + LEASE + 1, 1, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0),
                                   "address_invalid"), "5.1.1");
    json_decref(jobs);
}


static void
stage_commit(struct fixture *f, const char *profile, const char *from,
             const char *to, int64_t time)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s?, s:s, s:I}]}",
                                  "stages", "profile", profile, "program",
                                  "child-safety", "from", from, "to", to,
                                  "time", (json_int_t)time)));
}


static void
report_counts_stage_moves(void **state)
{
    struct fixture *f = *state;
    json_t *report;
    json_t *row;

    stage_commit(f, "p_1", NULL, "awareness", T0);
    stage_commit(f, "p_2", NULL, "awareness", T0 + 1000);
    stage_commit(f, "p_1", "awareness", "adoption", T0 + 2 * DAY + 5);

    report = report_at(f, T0, T0 + 3 * DAY, "child-safety");
    assert_int_equal(json_array_size(json_object_get(report, "residents")),
                     2);
    row = json_array_get(json_object_get(report, "residents"), 0);
    assert_string_equal(member_str(row, "stage"), "adoption");
    assert_int_equal(member_int(row, "count"), 1);
    row = json_array_get(json_object_get(report, "residents"), 1);
    assert_string_equal(member_str(row, "stage"), "awareness");
    assert_int_equal(member_int(row, "count"), 1);

    assert_int_equal(json_array_size(json_object_get(report, "moves")), 2);
    row = json_array_get(json_object_get(report, "moves"), 0);
    assert_int_equal(member_int(row, "day"), T0);
    assert_null(member_str(row, "from"));
    assert_string_equal(member_str(row, "to"), "awareness");
    assert_int_equal(member_int(row, "count"), 2);
    row = json_array_get(json_object_get(report, "moves"), 1);
    assert_int_equal(member_int(row, "day"), T0 + 2 * DAY);
    assert_string_equal(member_str(row, "from"), "awareness");
    assert_int_equal(member_int(row, "count"), 1);

    assert_int_equal(json_array_size(json_object_get(report, "durations")),
                     1);
    row = json_array_get(json_object_get(report, "durations"), 0);
    assert_string_equal(member_str(row, "stage"), "awareness");
    assert_int_equal(member_int(row, "days"), 2);
    assert_int_equal(member_int(row, "count"), 1);
    json_decref(report);

    /* Another program has none of them. */
    report = report_at(f, T0, T0 + 3 * DAY, "housing");
    assert_int_equal(json_array_size(json_object_get(report, "residents")),
                     0);
    assert_int_equal(json_array_size(json_object_get(report, "moves")), 0);
    json_decref(report);
}


static void
report_counts_erased_jobs(void **state)
{
    struct fixture *f = *state;
    json_t *report;

    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{}, s:[]}]}",
                                  "profiles", "id", "p_1", "created",
                                  (json_int_t)T0, "updated", (json_int_t)T0,
                                  "attributes", "identities")));
    job_plan_commit(f, "k-1", "crib-recall", T0);
    json_decref(json_ok(f, f->ops->profile_erase,
                        json_pack("{s:s, s:I}", "id", "p_1", "now",
                                  (json_int_t)(T0 + DAY))));
    report = report_at(f, T0, T0 + 2 * DAY, NULL);
    assert_int_equal(message_count(report, "planned"), 1);
    assert_int_equal(message_count(report, "suppressed:erased"), 1);
    json_decref(report);
}


static void
report_records_holdout_unsent(void **state)
{
    struct fixture *f = *state;
    json_t *report;
    json_t *jobs;
    json_t *list;

    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
                                  " s:b}]}", "jobs", "key", "k-1", "rule",
                                  "crib-recall", "program", "child-safety",
                                  "profile", "p_1", "channel", "email",
                                  "template", "crib-safety", "due",
                                  (json_int_t)T0, "holdout", 1)));
    jobs = jobs_claim_at(f, T0 + DAY, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);
    list = jobs_list_all(f);
    assert_string_equal(member_str(json_array_get(json_object_get(list,
                                                                  "jobs"),
                                                  0), "state"),
                        "suppressed");
    assert_string_equal(member_str(json_array_get(json_object_get(list,
                                                                  "jobs"),
                                                  0), "error"),
                        "holdout");
    json_decref(list);

    /* The holdout's conversion is credited to its job, planned at T0. */
    goal_hit(f, "enrolled", "child-safety", 7, T0 + 5000, 10000);
    report = report_at(f, T0, T0 + DAY, NULL);
    assert_int_equal(message_count(report, "planned"), 0);
    assert_int_equal(message_count(report, "suppressed:holdout"), 1);
    assert_int_equal(message_count(report, "converted:enrolled"), 1);
    json_decref(report);
}


static void
report_read_rejects_bad_request(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->report_read,
                               json_pack("{s:I}", "since", (json_int_t)T0),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->report_read,
                               json_pack("{s:I, s:I, s:i}", "since",
                                         (json_int_t)T0, "until",
                                         (json_int_t)T0, "program", 3),
                               &result), CRIER_EINVAL);
}


const struct CMUnitTest report_tests[] = {
    CASE(report_counts_job_states),
    CASE(report_credits_last_sent_job),
    CASE(report_counts_engagements_once),
    CASE(report_keeps_delivery_status),
    CASE(report_delivery_invalidates_address),
    CASE(report_counts_stage_moves),
    CASE(report_counts_erased_jobs),
    CASE(report_records_holdout_unsent),
    CASE(report_read_rejects_bad_request),
};
const size_t report_test_count = sizeof(report_tests) / sizeof(report_tests[0]);
