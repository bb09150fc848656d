/*
 * Claims that go straight to `sending`: the lanes a claim's "send_now"
 * lists per channel, its "max_attempts", and the attempt that a hold or
 * a suppression before the hand-over gives back.
 */
#include <stdio.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE 30000


/* Plans job `key` on `channel` in `lane`, due at T0. */
static void
plan_on(struct fixture *f, const char *key, const char *channel, int lane)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
                                  " s:i}]}", "jobs", "key", key,
                                  "rule", "notice", "profile", "p_1",
                                  "channel", channel, "template", "t",
                                  "to", "a@b.gov", "due", (json_int_t)T0,
                                  "lane", lane)));
}


/* Claims at `now` with `send_now` (stolen) and `max_attempts`, and
 * returns the claimed jobs. */
static json_t *
claim_sending(struct fixture *f, int64_t now, json_t *send_now,
              int max_attempts)
{
    json_t *result;
    json_t *jobs;

    result = json_ok(f, f->ops->jobs_claim,
                     json_pack("{s:I, s:i, s:i, s:s, s:o, s:i}",
                               "now", (json_int_t)now, "limit", 10,
                               "lease_ms", LEASE, "owner", "node-1",
                               "send_now", send_now,
                               "max_attempts", max_attempts));
    jobs = json_incref(json_object_get(result, "jobs"));
    json_decref(result);
    assert_true(json_is_array(jobs));
    return jobs;
}


/* Returns the claimed job with `key`. */
static json_t *
claimed_key(json_t *jobs, const char *key)
{
    size_t i;
    json_t *job;

    json_array_foreach(jobs, i, job) {
        if (strcmp(member_str(job, "key"), key) == 0)
            return job;
    }
    fail_msg("job %s was not claimed", key);
    return NULL;
}


/* Returns the stored attempts of the job with `key`. */
static int64_t
stored_attempts(struct fixture *f, const char *key, const char *state)
{
    json_t *list = jobs_list_all(f);
    json_t *jobs = json_object_get(list, "jobs");
    int64_t attempts = -1;
    size_t i;
    json_t *job;

    json_array_foreach(jobs, i, job) {
        if (strcmp(member_str(job, "key"), key) != 0)
            continue;
        assert_string_equal(member_str(job, "state"), state);
        attempts = member_int(job, "attempts");
    }
    json_decref(list);
    assert_true(attempts >= 0);
    return attempts;
}


/* Moves job `claimed` to `state` at `now`, with a "retry" verdict when
 * `verdict` is nonzero. */
static void
move(struct fixture *f, const json_t *claimed, const char *state,
     int64_t now, int verdict)
{
    json_t *update = json_pack("{s:I, s:I, s:s, s:I, s:I}",
                               "id", (json_int_t)member_int(claimed, "id"),
                               "generation",
                               (json_int_t)member_int(claimed, "generation"),
                               "state", state, "now", (json_int_t)now,
                               "due", (json_int_t)now);

    if (verdict)
        json_object_set_new(update, "attempt",
                            json_pack("{s:I, s:s}", "time", (json_int_t)now,
                                      "outcome", "retry"));
    json_decref(json_ok(f, f->ops->job_update, update));
}


/* Only the listed lanes of the listed channel go straight to `sending`,
 * which counts the attempt, and the others are claimed as before. */
static void
send_now_takes_listed_lanes(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;
    json_t *job;

    plan_on(f, "service", "email", 0);
    plan_on(f, "outreach", "email", 1);
    plan_on(f, "sms", "sms", 0);
    jobs = claim_sending(f, T0, json_pack("{s:[i, i]}", "email", 0, 2), 0);
    assert_int_equal(json_array_size(jobs), 3);

    job = claimed_key(jobs, "service");
    assert_string_equal(member_str(job, "state"), "sending");
    assert_string_equal(member_str(job, "was"), "planned");
    assert_int_equal(member_int(job, "attempts"), 1);
    assert_int_equal(member_int(job, "generation"), 1);
    assert_int_equal(member_int(job, "lease_until"), T0 + LEASE);
    job = claimed_key(jobs, "outreach");
    assert_string_equal(member_str(job, "state"), "claimed");
    assert_int_equal(member_int(job, "attempts"), 0);
    job = claimed_key(jobs, "sms");
    assert_string_equal(member_str(job, "state"), "claimed");
    json_decref(jobs);

    assert_int_equal(stored_attempts(f, "service", "sending"), 1);
    assert_int_equal(stored_attempts(f, "outreach", "claimed"), 0);
}


/* A job sent straight from its claim ends like any other: the verdict
 * takes the attempt's number and records what went out. */
static void
send_now_verdict_records_message(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;
    json_t *job;
    json_t *list;
    json_t *listed;

    plan_on(f, "k", "email", 1);
    jobs = claim_sending(f, T0, json_pack("{s:[i]}", "email", 1), 0);
    job = json_array_get(jobs, 0);
    json_decref(json_ok(f, f->ops->job_update, json_pack(
        "{s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:{s:I, s:s, s:s}}",
        "id", (json_int_t)member_int(job, "id"), "generation",
        (json_int_t)member_int(job, "generation"), "state", "sent",
        "now", (json_int_t)(T0 + 1), "message_id", "<m@crier>",
        "language", "es", "template_version", "v7", "attempt",
        "time", (json_int_t)(T0 + 1), "outcome", "sent", "reply",
        "250 ok")));
    json_decref(jobs);

    list = json_ok(f, f->ops->jobs_list,
                   json_pack("{s:i, s:b}", "limit", 10, "attempts", 1));
    listed = json_array_get(json_object_get(list, "jobs"), 0);
    assert_string_equal(member_str(listed, "state"), "sent");
    assert_int_equal(member_int(listed, "attempts"), 1);
    assert_string_equal(member_str(listed, "message_id"), "<m@crier>");
    assert_string_equal(member_str(listed, "language"), "es");
    assert_int_equal(json_array_size(json_object_get(listed, "attempt_log")),
                     1);
    assert_int_equal(member_int(json_array_get(json_object_get(
                         listed, "attempt_log"), 0), "number"), 1);
    json_decref(list);
}


/* A job with max_attempts attempts already is claimed, not sent, so that
 * the outbox can end it. */
static void
send_now_stops_at_max_attempts(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;
    int64_t now = T0;

    plan_on(f, "k", "email", 1);
    for (int attempt = 1; attempt <= 2; attempt++) {
        jobs = claim_sending(f, now, json_pack("{s:[i]}", "email", 1), 2);
        assert_string_equal(member_str(json_array_get(jobs, 0), "state"),
                            "sending");
        assert_int_equal(member_int(json_array_get(jobs, 0), "attempts"),
                         attempt);
        move(f, json_array_get(jobs, 0), "planned", now + 1, 1);
        json_decref(jobs);
        now += 10;
    }
    jobs = claim_sending(f, now, json_pack("{s:[i]}", "email", 1), 2);
    assert_string_equal(member_str(json_array_get(jobs, 0), "state"),
                        "claimed");
    assert_int_equal(member_int(json_array_get(jobs, 0), "attempts"), 2);
    json_decref(jobs);
}


/* A hold, a suppression or a failure with no verdict gives the attempt
 * back; a retry with a verdict keeps it. */
static void
hold_before_hand_over_gives_attempt_back(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    plan_on(f, "held", "email", 1);
    plan_on(f, "suppressed", "email", 1);
    plan_on(f, "unrendered", "email", 1);
    plan_on(f, "retried", "email", 1);
    jobs = claim_sending(f, T0, json_pack("{s:[i]}", "email", 1), 0);
    move(f, claimed_key(jobs, "held"), "planned", T0 + 1, 0);
    move(f, claimed_key(jobs, "suppressed"), "suppressed", T0 + 1, 0);
    move(f, claimed_key(jobs, "unrendered"), "failed", T0 + 1, 0);
    move(f, claimed_key(jobs, "retried"), "planned", T0 + 1, 1);
    json_decref(jobs);

    assert_int_equal(stored_attempts(f, "held", "planned"), 0);
    assert_int_equal(stored_attempts(f, "suppressed", "suppressed"), 0);
    assert_int_equal(stored_attempts(f, "unrendered", "failed"), 0);
    assert_int_equal(stored_attempts(f, "retried", "planned"), 1);
}


/* An expired `sending` claimed again straight to `sending` keeps the
 * interrupted attempt and counts a new one. */
static void
send_now_reclaim_counts_again(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    plan_on(f, "k", "email", 1);
    json_decref(claim_sending(f, T0, json_pack("{s:[i]}", "email", 1), 0));
    jobs = claim_sending(f, T0 + LEASE, json_pack("{s:[i]}", "email", 1), 0);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "was"),
                        "sending");
    assert_string_equal(member_str(json_array_get(jobs, 0), "state"),
                        "sending");
    assert_int_equal(member_int(json_array_get(jobs, 0), "attempts"), 2);
    assert_int_equal(member_int(json_array_get(jobs, 0), "generation"), 2);
    json_decref(jobs);
}


/* A claim of a job that a `sending` mark left returns the Message-ID the
 * mark stored, so that the resend repeats it. */
static void
reclaim_returns_stored_message_id(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    plan_on(f, "k", "email", 1);
    jobs = jobs_claim_at(f, T0, 10, LEASE);
    assert_null(json_string_value(json_object_get(json_array_get(jobs, 0),
                                                  "message_id")));
    json_decref(json_ok(f, f->ops->job_update, json_pack(
        "{s:I, s:i, s:s, s:I, s:s}", "id",
        (json_int_t)member_int(json_array_get(jobs, 0), "id"),
        "generation", 1, "state", "sending", "now", (json_int_t)(T0 + 1),
        "message_id", "<m@crier>")));
    json_decref(jobs);

    jobs = jobs_claim_at(f, T0 + LEASE, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "message_id"),
                        "<m@crier>");
    json_decref(jobs);
}


static int
claim_status(struct fixture *f, json_t *send_now, int max_attempts)
{
    json_t *result = NULL;
    int rc;

    rc = json_wait(f, f->ops->jobs_claim,
                   json_pack("{s:I, s:i, s:i, s:s, s:o, s:i}",
                             "now", (json_int_t)T0, "limit", 1,
                             "lease_ms", 1000, "owner", "n",
                             "send_now", send_now,
                             "max_attempts", max_attempts), &result);
    json_decref(result);
    return rc;
}


static void
send_now_rejects_invalid(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(claim_status(f, json_pack("[i]", 0), 0), CRIER_EINVAL);
    assert_int_equal(claim_status(f, json_pack("{s:i}", "email", 0), 0),
                     CRIER_EINVAL);
    assert_int_equal(claim_status(f, json_pack("{s:[i]}", "email", 3), 0),
                     CRIER_EINVAL);
    assert_int_equal(claim_status(f, json_pack("{s:[s]}", "email", "0"), 0),
                     CRIER_EINVAL);
    assert_int_equal(claim_status(f, json_pack("{s:[i]}", "email", 0), -1),
                     CRIER_EINVAL);
    assert_int_equal(claim_status(f, json_pack("{s:[]}", "email"), 0), 0);
}



const struct CMUnitTest claim_send_tests[] = {
    CASE(send_now_takes_listed_lanes),
    CASE(send_now_verdict_records_message),
    CASE(send_now_stops_at_max_attempts),
    CASE(hold_before_hand_over_gives_attempt_back),
    CASE(send_now_reclaim_counts_again),
    CASE(reclaim_returns_stored_message_id),
    CASE(send_now_rejects_invalid)
};

const size_t claim_send_test_count =
    sizeof(claim_send_tests) / sizeof(claim_send_tests[0]);
