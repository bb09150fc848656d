/* The outbox's store operations: claim lanes and priority, counting sent
 * jobs for frequency caps, retrying by hand and paging jobs_list. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE 30000


/* Plans job `key` to profile p_1 on email with a lane and a priority. */
static void
plan(struct fixture *f, const char *key, int64_t due, int lane,
     int priority)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
                                  " s:i, s:i}]}", "jobs", "key", key,
                                  "rule", key, "profile", "p_1",
                                  "channel", "email", "template", "t",
                                  "to", "a@b.gov", "due", (json_int_t)due,
                                  "lane", lane, "priority", priority)));
}


/* Moves claimed job `id` (generation 1) to `state` at `now`. */
static void
move(struct fixture *f, int64_t id, int64_t generation, const char *state,
     int64_t now)
{
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:I, s:s, s:I}", "id",
                                  (json_int_t)id, "generation",
                                  (json_int_t)generation, "state", state,
                                  "now", (json_int_t)now)));
}


/* Returns the count of jobs_sent_count for p_1 on `channel`. */
static int64_t
sent_count(struct fixture *f, const char *channel, int64_t since, int lane)
{
    json_t *request = json_pack("{s:s, s:s, s:I}", "profile", "p_1",
                                "channel", channel, "since",
                                (json_int_t)since);
    json_t *result;
    int64_t count;

    if (lane >= 0)
        json_object_set_new(request, "lane", json_integer(lane));
    result = json_ok(f, f->ops->jobs_sent_count, request);
    count = member_int(result, "count");
    json_decref(result);
    return count;
}


static void
claim_orders_lane_due_priority(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    plan(f, "outreach-early", T0 - 10, 1, 0);
    plan(f, "outreach-early-urgent", T0 - 10, 1, 5);
    plan(f, "outreach-earliest", T0 - 20, 1, 0);
    plan(f, "service-late", T0, 0, 0);
    jobs = jobs_claim_at(f, T0, 3, LEASE);
    assert_int_equal(json_array_size(jobs), 3);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"),
                        "service-late");
    assert_int_equal(member_int(json_array_get(jobs, 0), "lane"), 0);
    assert_string_equal(member_str(json_array_get(jobs, 1), "key"),
                        "outreach-earliest");
    assert_string_equal(member_str(json_array_get(jobs, 2), "key"),
                        "outreach-early-urgent");
    assert_int_equal(member_int(json_array_get(jobs, 2), "priority"), 5);
    assert_string_equal(member_str(json_array_get(jobs, 2), "profile_id"),
                        "p_1");
    json_decref(jobs);
}


/* A bulletin's backlog in lane 2 waits behind every due job of lanes 0
 * and 1, however early it is due; within a lane, ties go in id order. */
static void
claim_bulk_lane_last(void **state)
{
    struct fixture *f = *state;
    char key[32];
    json_t *jobs;

    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "bulk-%02d", i);
        plan(f, key, T0 - 100, 2, 0);
    }
    plan(f, "outreach", T0, 1, 0);
    plan(f, "service-future", T0 + 10, 0, 9);
    plan(f, "service", T0, 0, 0);
    jobs = jobs_claim_at(f, T0, 4, LEASE);
    assert_int_equal(json_array_size(jobs), 4);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"),
                        "service");
    assert_string_equal(member_str(json_array_get(jobs, 1), "key"),
                        "outreach");
    assert_string_equal(member_str(json_array_get(jobs, 2), "key"),
                        "bulk-00");
    assert_string_equal(member_str(json_array_get(jobs, 3), "key"),
                        "bulk-01");
    assert_int_equal(member_int(json_array_get(jobs, 3), "lane"), 2);
    json_decref(jobs);
}


/* Claims at `now` and returns the keys of the claimed jobs, joined by
 * ",", with " (claimed)" after a job whose lease had ended. */
static void
claim_keys(struct fixture *f, int64_t now, int limit, char *out,
           size_t size)
{
    json_t *jobs = jobs_claim_at(f, now, limit, LEASE);
    size_t i;
    json_t *job;

    out[0] = '\0';
    json_array_foreach(jobs, i, job) {
        if (i > 0)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, member_str(job, "key"), size - strlen(out) - 1);
        if (strcmp(member_str(job, "was"), "planned") != 0)
            strncat(out, " (claimed)", size - strlen(out) - 1);
    }
    json_decref(jobs);
}


/* Plans job `key` and claims it alone at `due`, with a lease that ends
 * at T0 - 50. */
static void
plan_leased(struct fixture *f, const char *key, int64_t due, int lane)
{
    json_t *jobs;

    plan(f, key, due, lane, 0);
    jobs = jobs_claim_at(f, due, 1, T0 - 50 - due);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), key);
    json_decref(jobs);
}


/* Jobs whose lease has ended go among the planned jobs of their lane by
 * due time, priority and id, and the limit can end a claim between
 * them. */
static void
claim_merges_ended_leases_by_lane(void **state)
{
    struct fixture *f = *state;
    char keys[256];

    plan_leased(f, "bulk-leased", T0 - 500, 2);
    plan_leased(f, "service-leased", T0 - 400, 0);
    plan_leased(f, "outreach-leased", T0 - 300, 1);
    plan(f, "service-first", T0 - 450, 0, 0);
    plan(f, "service-last", T0 - 100, 0, 0);
    plan(f, "outreach-first", T0 - 350, 1, 0);
    plan(f, "outreach-urgent", T0 - 300, 1, 5);
    plan(f, "outreach-tie", T0 - 300, 1, 0);
    plan(f, "outreach-last", T0 - 200, 1, 0);
    plan(f, "bulk-first", T0 - 600, 2, 0);
    plan(f, "bulk-last", T0, 2, 0);

    claim_keys(f, T0, 6, keys, sizeof(keys));
    assert_string_equal(keys, "service-first,service-leased (claimed),"
                              "service-last,outreach-first,"
                              "outreach-urgent,outreach-leased (claimed)");
    claim_keys(f, T0, 4, keys, sizeof(keys));
    assert_string_equal(keys, "outreach-tie,outreach-last,bulk-first,"
                              "bulk-leased (claimed)");
    claim_keys(f, T0, 10, keys, sizeof(keys));
    assert_string_equal(keys, "bulk-last");
}


/* The sqlite store reads a lane's due jobs in claim order from
 * jobs_claim, with no sort, and checks the pauses by primary key with no
 * temporary table per row. The query is a copy of lane_due_sql in
 * plugins/stores/sqlite/claimable.c. */
static void
claim_sqlite_reads_lane_unsorted(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *rows;
    char *query_plan;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    plan(f, "k-1", T0, 1, 0);
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    rows = sqlite_file_rows(path, "EXPLAIN QUERY PLAN SELECT * FROM jobs"
                            " WHERE state = 'planned' AND lane = 1"
                            " AND due <= 0"
                            " AND NOT EXISTS (SELECT 1 FROM pauses"
                            "  WHERE scope = 'all')"
                            " AND NOT EXISTS (SELECT 1 FROM pauses p"
                            "  WHERE p.scope = 'channel'"
                            "  AND p.name = jobs.channel)"
                            " AND NOT EXISTS (SELECT 1 FROM pauses p"
                            "  WHERE p.scope = 'program'"
                            "  AND p.name = jobs.program)"
                            " ORDER BY due, priority DESC, id LIMIT 10");
    query_plan = json_dumps(rows, 0);
    assert_non_null(strstr(query_plan, "jobs_claim"));
    assert_null(strstr(query_plan, "TEMP B-TREE"));
    assert_null(strstr(query_plan, "MULTI-INDEX OR"));
    assert_null(strstr(query_plan, "SCAN"));
    free(query_plan);
    json_decref(rows);
}


static void
plan_defaults_to_outreach(void **state)
{
    struct fixture *f = *state;
    json_t *list;
    json_t *job;

    job_plan_commit(f, "k-1", "r", T0);
    list = jobs_list_all(f);
    job = json_array_get(json_object_get(list, "jobs"), 0);
    assert_int_equal(member_int(job, "lane"), 1);
    assert_int_equal(member_int(job, "priority"), 0);
    json_decref(list);

    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s, s:s, s:s, s:s, s:I,"
                                         " s:i}]}", "jobs", "key", "k-2",
                                         "rule", "r", "channel", "email",
                                         "template", "t", "due",
                                         (json_int_t)T0, "lane", 7), &list),
                     CRIER_EINVAL);
}


static void
sent_count_by_window_channel_lane(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    plan(f, "a", T0, 1, 0);
    plan(f, "b", T0, 1, 0);
    plan(f, "c", T0, 0, 0);
    plan(f, "d", T0, 1, 0);
    jobs = jobs_claim_at(f, T0, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 4);
    json_decref(jobs);

    /* c (service) is claimed first, so the ids follow plan order. */
    move(f, 1, 1, "sending", T0 + 10);
    move(f, 1, 1, "sent", T0 + 20);
    move(f, 2, 1, "sending", T0 + 30);
    move(f, 3, 1, "sending", T0 + 40);
    move(f, 3, 1, "sent", T0 + 50);
    move(f, 4, 1, "failed", T0 + 60);

    assert_int_equal(sent_count(f, "email", T0, -1), 3);
    assert_int_equal(sent_count(f, "email", T0, 1), 2);
    assert_int_equal(sent_count(f, "email", T0, 0), 1);
    assert_int_equal(sent_count(f, "email", T0 + 25, -1), 2);
    assert_int_equal(sent_count(f, "email", T0 + 51, -1), 0);
    assert_int_equal(sent_count(f, "sms", T0, -1), 0);
}


static void
sent_count_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->jobs_sent_count,
                               json_pack("{s:s, s:I}", "channel", "email",
                                         "since", (json_int_t)T0),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->jobs_sent_count,
                               json_pack("{s:s, s:s}", "profile", "p_1",
                                         "channel", "email"),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->jobs_sent_count,
                               json_pack("{s:s, s:s, s:I, s:i}", "profile",
                                         "p_1", "channel", "email", "since",
                                         (json_int_t)T0, "lane", 9),
                               &result), CRIER_EINVAL);
}


static void
retry_moves_failed_and_dead(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *list;
    json_t *job;
    json_t *jobs;

    plan(f, "a", T0, 1, 0);
    plan(f, "b", T0, 1, 0);
    jobs = jobs_claim_at(f, T0, 10, LEASE);
    json_decref(jobs);
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:i, s:i, s:s, s:I, s:s}", "id", 1,
                                  "generation", 1, "state", "failed", "now",
                                  (json_int_t)T0 + 5, "error",
                                  "554 rejected")));
    move(f, 2, 1, "dead", T0 + 5);

    result = json_ok(f, f->ops->job_retry,
                     json_pack("{s:i, s:I}", "id", 1,
                               "now", (json_int_t)T0 + 100));
    assert_string_equal(member_str(result, "state"), "planned");
    json_decref(result);
    json_decref(json_ok(f, f->ops->job_retry,
                        json_pack("{s:i, s:I}", "id", 2,
                                  "now", (json_int_t)T0 + 100)));

    list = jobs_list_all(f);
    job = json_array_get(json_object_get(list, "jobs"), 1);
    assert_int_equal(member_int(job, "id"), 1);
    assert_string_equal(member_str(job, "state"), "planned");
    assert_int_equal(member_int(job, "attempts"), 0);
    assert_int_equal(member_int(job, "due"), T0 + 100);
    assert_string_equal(member_str(job, "error"), "554 rejected");
    json_decref(list);

    /* Planned again, so claimable again with a new generation. */
    jobs = jobs_claim_at(f, T0 + 100, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 2);
    assert_int_equal(member_int(json_array_get(jobs, 0), "generation"), 2);
    json_decref(jobs);
}


static void
retry_rejects_other_states(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    plan(f, "a", T0, 1, 0);
    assert_int_equal(json_wait(f, f->ops->job_retry,
                               json_pack("{s:i, s:I}", "id", 1, "now",
                                         (json_int_t)T0), &result),
                     CRIER_ESTALE);
    assert_int_equal(json_wait(f, f->ops->job_retry,
                               json_pack("{s:i, s:I}", "id", 99, "now",
                                         (json_int_t)T0), &result),
                     CRIER_ENOTFOUND);
    assert_int_equal(json_wait(f, f->ops->job_retry,
                               json_pack("{s:i}", "id", 1), &result),
                     CRIER_EINVAL);
}


static void
jobs_list_pages_before(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *jobs;
    char key[16];

    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k-%d", i);
        plan(f, key, T0, 1, 0);
    }
    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:i, s:i}", "limit", 2, "before", 4));
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_int_equal(member_int(json_array_get(jobs, 0), "id"), 3);
    assert_int_equal(member_int(json_array_get(jobs, 1), "id"), 2);
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:i, s:i, s:s}", "limit", 10, "before", 2,
                               "state", "planned"));
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    assert_int_equal(member_int(json_array_get(jobs, 0), "id"), 1);
    json_decref(result);
}


static void
invalid_address_marks_claims(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *jobs;

    plan(f, "a", T0, 1, 0);
    json_decref(json_ok(f, f->ops->address_invalidate,
                        json_pack("{s:s, s:s, s:s, s:I}", "kind", "email",
                                  "value", "a@b.gov", "reason",
                                  "SMTP 550 5.1.1 no such user",
                                  "time", (json_int_t)T0)));
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:I}]}",
                                  "jobs", "key", "b", "rule", "b",
                                  "channel", "email", "template", "t",
                                  "to", "c@d.gov", "due", (json_int_t)T0)));
    jobs = jobs_claim_at(f, T0, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(member_str(json_array_get(jobs, 0),
                                   "address_invalid"),
                        "SMTP 550 5.1.1 no such user");
    assert_null(json_object_get(json_array_get(jobs, 1),
                                "address_invalid"));
    json_decref(jobs);

    assert_int_equal(json_wait(f, f->ops->address_invalidate,
                               json_pack("{s:s, s:s}", "kind", "email",
                                         "value", "a@b.gov"), &result),
                     CRIER_EINVAL);
}


const struct CMUnitTest outbox_tests[] = {
    CASE(invalid_address_marks_claims),
    CASE(claim_orders_lane_due_priority),
    CASE(claim_bulk_lane_last),
    CASE(claim_merges_ended_leases_by_lane),
    CASE(claim_sqlite_reads_lane_unsorted),
    CASE(plan_defaults_to_outreach),
    CASE(sent_count_by_window_channel_lane),
    CASE(sent_count_rejects_invalid),
    CASE(retry_moves_failed_and_dead),
    CASE(retry_rejects_other_states),
    CASE(jobs_list_pages_before)
};

const size_t outbox_test_count =
    sizeof(outbox_tests) / sizeof(outbox_tests[0]);
