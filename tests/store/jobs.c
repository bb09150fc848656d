/* Jobs: planning in commit, jobs_claim, job_update and jobs_list. */
#include <stdio.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE 30000


/* Sends a job_update and returns its status. */
static int
job_move(struct fixture *f, json_t *update)
{
    json_t *result;
    int rc = json_wait(f, f->ops->job_update, update, &result);

    json_decref(result);
    return rc;
}


/* Returns the listed job with `id` from a jobs_list result. */
static json_t *
listed_job(json_t *list_result, int64_t id)
{
    json_t *jobs = json_object_get(list_result, "jobs");
    size_t i;

    for (i = 0; i < json_array_size(jobs); i++) {
        if (member_int(json_array_get(jobs, i), "id") == id)
            return json_array_get(jobs, i);
    }
    fail_msg("job %lld is not listed", (long long)id);
    return NULL;
}


/* Plans one job due at T0, claims it and returns the claim. */
static json_t *
job_claimed(struct fixture *f)
{
    json_t *jobs;
    json_t *job;

    job_plan_commit(f, "k-1", "crib-recall", T0);
    jobs = jobs_claim_at(f, T0, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    job = json_incref(json_array_get(jobs, 0));
    json_decref(jobs);
    return job;
}


static void
commit_inserts_job_once(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *jobs;
    json_t *job;

    result = json_ok(f, f->ops->commit,
                     json_pack("{s:[{s:s, s:s, s:s, s:s, s:I},"
                               " {s:s, s:s, s:s, s:s, s:I}]}", "jobs",
                               "key", "k-1", "rule", "r", "channel", "email",
                               "template", "first", "due", (json_int_t)T0,
                               "key", "k-2", "rule", "r", "channel", "email",
                               "template", "first", "due", (json_int_t)T0));
    assert_int_equal(member_int(result, "planned"), 2);
    assert_int_equal(member_int(result, "existing"), 0);
    json_decref(result);

    /* The same key again is skipped and changes nothing. */
    result = json_ok(f, f->ops->commit,
                     json_pack("{s:[{s:s, s:s, s:s, s:s, s:I},"
                               " {s:s, s:s, s:s, s:s, s:I}]}", "jobs",
                               "key", "k-1", "rule", "r", "channel", "sms",
                               "template", "second", "due", (json_int_t)0,
                               "key", "k-3", "rule", "r", "channel", "email",
                               "template", "first", "due", (json_int_t)T0));
    assert_int_equal(member_int(result, "planned"), 1);
    assert_int_equal(member_int(result, "existing"), 1);
    json_decref(result);

    result = jobs_list_all(f);
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 3);
    job = json_array_get(jobs, 2);
    assert_string_equal(member_str(job, "key"), "k-1");
    assert_string_equal(member_str(job, "channel"), "email");
    assert_string_equal(member_str(job, "template"), "first");
    assert_int_equal(member_int(job, "due"), T0);
    assert_string_equal(member_str(job, "state"), "planned");
    assert_int_equal(member_int(job, "generation"), 0);
    assert_int_equal(member_int(job, "attempts"), 0);
    assert_int_equal(member_int(job, "created"), T0);
    assert_true(json_is_null(json_object_get(job, "error")));
    json_decref(result);
}


static void
jobs_claim_respects_due(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    job_plan_commit(f, "k-now", "r", T0);
    job_plan_commit(f, "k-later", "r", T0 + 1000);

    jobs = jobs_claim_at(f, T0, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-now");
    json_decref(jobs);

    jobs = jobs_claim_at(f, T0 + 999, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);

    jobs = jobs_claim_at(f, T0 + 1000, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"),
                        "k-later");
    json_decref(jobs);
}


static void
jobs_claim_respects_limit_and_order(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    job_plan_commit(f, "k-3", "r", T0 - 10);
    job_plan_commit(f, "k-1", "r", T0 - 30);
    job_plan_commit(f, "k-2a", "r", T0 - 20);
    job_plan_commit(f, "k-2b", "r", T0 - 20);

    jobs = jobs_claim_at(f, T0, 3, LEASE);
    assert_int_equal(json_array_size(jobs), 3);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-1");
    assert_string_equal(member_str(json_array_get(jobs, 1), "key"), "k-2a");
    assert_string_equal(member_str(json_array_get(jobs, 2), "key"), "k-2b");
    json_decref(jobs);

    jobs = jobs_claim_at(f, T0, 3, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-3");
    json_decref(jobs);
}


static void
jobs_claim_orders_reclaims_by_due(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;

    job_plan_commit(f, "k-early", "r", T0 - 100);
    jobs = jobs_claim_at(f, T0, 1, 10);
    json_decref(jobs);
    job_plan_commit(f, "k-late", "r", T0 - 50);
    job_plan_commit(f, "k-first", "r", T0 - 200);

    /* At T0 + 10 the lease of k-early has ended: it competes by due time
     * with the planned jobs. */
    jobs = jobs_claim_at(f, T0 + 10, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 3);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"),
                        "k-first");
    assert_string_equal(member_str(json_array_get(jobs, 1), "key"),
                        "k-early");
    assert_string_equal(member_str(json_array_get(jobs, 1), "was"),
                        "claimed");
    assert_string_equal(member_str(json_array_get(jobs, 2), "key"),
                        "k-late");
    json_decref(jobs);
}


static void
jobs_claim_bumps_generation_and_leases(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    json_t *jobs;
    json_t *list;
    json_t *listed;

    assert_int_equal(member_int(job, "generation"), 1);
    assert_int_equal(member_int(job, "attempts"), 0);
    assert_string_equal(member_str(job, "was"), "planned");
    assert_string_equal(member_str(job, "key"), "k-1");
    assert_string_equal(member_str(job, "rule"), "crib-recall");
    assert_string_equal(member_str(job, "program"), "child-safety");
    assert_string_equal(member_str(job, "channel"), "email");
    assert_string_equal(member_str(job, "template"), "crib-safety");
    assert_string_equal(member_str(job, "to"), "a@b.gov");
    assert_int_equal(member_int(job, "due"), T0);

    /* While the lease runs, no other claim gets the job. */
    jobs = jobs_claim_at(f, T0 + LEASE - 1, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);

    list = jobs_list_all(f);
    listed = listed_job(list, member_int(job, "id"));
    assert_string_equal(member_str(listed, "state"), "claimed");
    assert_string_equal(member_str(listed, "owner"), "node-1");
    assert_int_equal(member_int(listed, "lease_until"), T0 + LEASE);
    assert_int_equal(member_int(listed, "generation"), 1);
    assert_int_equal(member_int(listed, "updated"), T0);
    json_decref(list);
    json_decref(job);
}


static void
jobs_claim_reclaims_expired_claimed(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    json_t *jobs;
    json_t *again;

    jobs = jobs_claim_at(f, T0 + LEASE, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    again = json_array_get(jobs, 0);
    assert_int_equal(member_int(again, "id"), member_int(job, "id"));
    assert_string_equal(member_str(again, "was"), "claimed");
    assert_int_equal(member_int(again, "generation"), 2);
    json_decref(jobs);
    json_decref(job);
}


static void
jobs_claim_reclaims_expired_sending(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *jobs;
    json_t *again;

    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I, s:s, s:i}",
                                           "id", (json_int_t)id,
                                           "generation", 1,
                                           "state", "sending",
                                           "now", (json_int_t)(T0 + 5),
                                           "message_id", "<m1@crier>",
                                           "lease_ms", 1000)), 0);

    /* The hand-over lease ends at T0 + 5 + 1000. */
    jobs = jobs_claim_at(f, T0 + 1004, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);

    jobs = jobs_claim_at(f, T0 + 1005, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    again = json_array_get(jobs, 0);
    assert_int_equal(member_int(again, "id"), id);
    assert_string_equal(member_str(again, "was"), "sending");
    assert_int_equal(member_int(again, "generation"), 2);
    assert_int_equal(member_int(again, "attempts"), 1);
    json_decref(jobs);
    json_decref(job);
}


static void
jobs_claim_includes_event_and_profile(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec rec = event_rec("api", "e-1", "page_view", T0,
                                           "{\"type\":\"page_view\"}");
    json_t *read;
    json_t *jobs;
    json_t *job;
    json_t *profile;
    json_t *expected;
    size_t accepted;
    size_t duplicates;
    int64_t seq;

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(events_read_wait(f, 0, 1, &read), 0);
    seq = member_int(json_array_get(json_object_get(read, "events"), 0),
                     "seq");
    json_decref(read);

    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{s:s},"
                                  " s:[{s:s, s:s}]}],"
                                  " s:[{s:s, s:s, s:n, s:s, s:I, s:I}],"
                                  " s:[{s:s, s:s, s:s, s:s, s:I, s:s,"
                                  " s:s, s:s, s:I}]}",
                                  "profiles", "id", "p_1",
                                  "created", (json_int_t)T0,
                                  "updated", (json_int_t)T0,
                                  "attributes", "first_name", "Ana",
                                  "identities", "kind", "email",
                                  "value", "a@b.gov",
                                  "stages", "profile", "p_1",
                                  "program", "child-safety", "from",
                                  "to", "awareness", "time", (json_int_t)T0,
                                  "event_seq", (json_int_t)seq,
                                  "jobs", "key", "k-1", "rule", "r",
                                  "program", "child-safety",
                                  "profile", "p_1", "event_seq",
                                  (json_int_t)seq, "channel", "email",
                                  "template", "t", "to", "a@b.gov",
                                  "due", (json_int_t)T0)));

    jobs = jobs_claim_at(f, T0, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    job = json_array_get(jobs, 0);
    assert_int_equal(member_int(job, "event_seq"), seq);
    expected = json_loads(rec.json, 0, NULL);
    assert_true(json_equal(json_object_get(job, "event"), expected));
    json_decref(expected);

    profile = json_object_get(job, "profile");
    assert_string_equal(member_str(profile, "id"), "p_1");
    assert_string_equal(member_str(json_object_get(profile, "attributes"),
                                   "first_name"), "Ana");
    assert_int_equal(json_array_size(json_object_get(profile,
                                                     "identities")), 1);
    assert_string_equal(member_str(json_object_get(json_object_get(profile,
                                                                   "stages"),
                                                   "child-safety"),
                                   "stage"), "awareness");
    json_decref(jobs);
}


/* Appends an event of `type` with body `body` and returns its seq. */
static int64_t
event_append(struct fixture *f, const char *type, const char *body)
{
    struct crier_event_rec rec = event_rec("api", NULL, type, T0, body);
    size_t accepted;
    size_t duplicates;
    json_t *read;
    json_t *events;
    int64_t seq;

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(events_read_wait(f, 0, 1000, &read), 0);
    events = json_object_get(read, "events");
    seq = member_int(json_array_get(events, json_array_size(events) - 1),
                     "seq");
    json_decref(read);
    return seq;
}


/* Plans job `key` of event `seq`, due at `due`. */
static void
event_job_plan(struct fixture *f, const char *key, int64_t seq, int64_t due)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:I, s:s, s:s,"
                                  " s:s, s:I}]}",
                                  "jobs", "key", key, "rule", "r",
                                  "profile", "p_1", "event_seq",
                                  (json_int_t)seq, "channel", "email",
                                  "template", "t", "to", "a@b.gov",
                                  "due", (json_int_t)due)));
}


/* Checks that claimed job `job` carries the event with body `body`. */
static void
claimed_event_check(const json_t *job, const char *body)
{
    json_t *expected = json_loads(body, 0, NULL);

    assert_non_null(expected);
    assert_true(json_equal(json_object_get(job, "event"), expected));
    json_decref(expected);
}


/* Jobs of one event may share its parsed body within a claim. Each still
 * carries its own event, also when another event's job comes between,
 * and a later claim reads the event as it is stored then. */
static void
jobs_claim_event_per_job(void **state)
{
    struct fixture *f = *state;
    const char *body_a = "{\"type\":\"a\",\"n\":1}";
    const char *body_b = "{\"type\":\"b\",\"n\":2}";
    int64_t a = event_append(f, "a", body_a);
    int64_t b = event_append(f, "b", body_b);
    json_t *jobs;

    event_job_plan(f, "k-1", a, T0);
    event_job_plan(f, "k-2", a, T0 + 1);
    event_job_plan(f, "k-3", b, T0 + 2);
    event_job_plan(f, "k-4", a, T0 + 3);
    event_job_plan(f, "k-5", a, T0 + 100);
    jobs = jobs_claim_at(f, T0 + 10, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 4);
    assert_string_equal(member_str(json_array_get(jobs, 2), "key"), "k-3");
    claimed_event_check(json_array_get(jobs, 0), body_a);
    claimed_event_check(json_array_get(jobs, 1), body_a);
    claimed_event_check(json_array_get(jobs, 2), body_b);
    claimed_event_check(json_array_get(jobs, 3), body_a);
    json_decref(jobs);

    /* Retention deletes event a before k-5 is claimed. */
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:{s:s, s:I}}", "cursor", "name",
                                  "pipeline", "value", (json_int_t)b)));
    json_decref(json_ok(f, f->ops->events_expire,
                        json_pack("{s:[s], s:[], s:I, s:i, s:s}",
                                  "types", "a", "prefixes",
                                  "before", (json_int_t)(T0 + 1),
                                  "limit", 10, "cursor", "pipeline")));
    jobs = jobs_claim_at(f, T0 + 100, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-5");
    assert_true(json_is_null(json_object_get(json_array_get(jobs, 0),
                                             "event")));
    json_decref(jobs);
}


static void
jobs_claim_null_profile_and_event(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);

    /* job_plan_commit names profile p_1, which was never written, and no
     * event. */
    assert_true(json_is_null(json_object_get(job, "profile")));
    assert_true(json_is_null(json_object_get(job, "event")));
    assert_true(json_is_null(json_object_get(job, "event_seq")));
    json_decref(job);
}


static void
jobs_claim_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->jobs_claim,
                               json_pack("{s:I, s:i, s:i, s:s}",
                                         "now", (json_int_t)T0, "limit", 0,
                                         "lease_ms", 1000, "owner", "n"),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->jobs_claim,
                               json_pack("{s:I, s:i, s:i, s:s}",
                                         "now", (json_int_t)T0, "limit", 1,
                                         "lease_ms", 0, "owner", "n"),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->jobs_claim,
                               json_pack("{s:I, s:i, s:i}",
                                         "now", (json_int_t)T0, "limit", 1,
                                         "lease_ms", 1000),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->jobs_claim,
                               json_pack("{s:i, s:i, s:s}", "limit", 1,
                                         "lease_ms", 1000, "owner", "n"),
                               &result), CRIER_EINVAL);
}


static void
job_update_stale_generation(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *jobs;

    /* The lease ends and another claim takes the job: generation 2. */
    jobs = jobs_claim_at(f, T0 + LEASE, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    json_decref(jobs);

    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}",
                                           "id", (json_int_t)id,
                                           "generation", 1, "state", "sent",
                                           "now", (json_int_t)T0)),
                     CRIER_ESTALE);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}",
                                           "id", (json_int_t)id,
                                           "generation", 2, "state", "sent",
                                           "now", (json_int_t)T0)), 0);
    json_decref(job);
}


static void
job_update_unknown_id(void **state)
{
    struct fixture *f = *state;

    job_plan_commit(f, "k-1", "r", T0);
    assert_int_equal(job_move(f, json_pack("{s:i, s:i, s:s, s:I}",
                                           "id", 999, "generation", 1,
                                           "state", "sent",
                                           "now", (json_int_t)T0)),
                     CRIER_ENOTFOUND);
}


static void
job_update_requires_claim(void **state)
{
    struct fixture *f = *state;
    json_t *list;
    json_t *job;
    int64_t id;

    job_plan_commit(f, "k-1", "r", T0);
    list = jobs_list_all(f);
    id = member_int(json_array_get(json_object_get(list, "jobs"), 0), "id");
    json_decref(list);

    /* A planned job has no claim to update. */
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}",
                                           "id", (json_int_t)id,
                                           "generation", 0, "state", "sent",
                                           "now", (json_int_t)T0)),
                     CRIER_ESTALE);

    /* Nor has a job that reached a final state. */
    job = jobs_claim_at(f, T0, 1, LEASE);
    json_decref(job);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}",
                                           "id", (json_int_t)id,
                                           "generation", 1, "state", "sent",
                                           "now", (json_int_t)T0)), 0);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I, s:s}",
                                           "id", (json_int_t)id,
                                           "generation", 1,
                                           "state", "failed",
                                           "now", (json_int_t)T0,
                                           "error", "late")),
                     CRIER_ESTALE);
}


static void
job_update_sending_then_sent(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *result;
    json_t *list;
    json_t *listed;

    result = json_ok(f, f->ops->job_update,
                     json_pack("{s:I, s:i, s:s, s:I, s:s, s:i}",
                               "id", (json_int_t)id, "generation", 1,
                               "state", "sending",
                               "now", (json_int_t)(T0 + 1),
                               "message_id", "<m1@crier>",
                               "lease_ms", 5000));
    assert_string_equal(member_str(result, "state"), "sending");
    json_decref(result);

    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "sending");
    assert_int_equal(member_int(listed, "attempts"), 1);
    assert_string_equal(member_str(listed, "message_id"), "<m1@crier>");
    assert_int_equal(member_int(listed, "lease_until"), T0 + 5001);
    assert_int_equal(member_int(listed, "updated"), T0 + 1);
    json_decref(list);

    result = json_ok(f, f->ops->job_update,
                     json_pack("{s:I, s:i, s:s, s:I, s:s}",
                               "id", (json_int_t)id, "generation", 1,
                               "state", "sent", "now", (json_int_t)(T0 + 2),
                               "provider_id", "ses-77"));
    assert_string_equal(member_str(result, "state"), "sent");
    json_decref(result);

    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "sent");
    assert_string_equal(member_str(listed, "provider_id"), "ses-77");
    assert_string_equal(member_str(listed, "message_id"), "<m1@crier>");
    assert_int_equal(member_int(listed, "attempts"), 1);
    assert_int_equal(member_int(listed, "updated"), T0 + 2);
    assert_true(json_is_null(json_object_get(listed, "lease_until")));
    json_decref(list);

    /* A sent job is never claimed again. */
    result = jobs_claim_at(f, T0 + 10 * LEASE, 10, LEASE);
    assert_int_equal(json_array_size(result), 0);
    json_decref(result);
    json_decref(job);
}


/* `sending` records the template's language, which later moves keep. */
static void
job_update_records_language(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *list;
    json_t *listed;

    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_true(json_is_null(json_object_get(listed, "language")));
    json_decref(list);

    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:i, s:s, s:I, s:s, s:s}",
                                  "id", (json_int_t)id, "generation", 1,
                                  "state", "sending",
                                  "now", (json_int_t)(T0 + 1),
                                  "message_id", "<m1@crier>",
                                  "language", "es")));
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:i, s:s, s:I}",
                                  "id", (json_int_t)id, "generation", 1,
                                  "state", "sent",
                                  "now", (json_int_t)(T0 + 2))));

    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "sent");
    assert_string_equal(member_str(listed, "language"), "es");
    json_decref(list);
    json_decref(job);
}


/* Moves claimed job `id` of generation `gen` to `sending` at `now`. */
static void
job_send_start(struct fixture *f, int64_t id, int gen, int64_t now,
               const char *version)
{
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:i, s:s, s:I, s:s, s:s?}",
                                  "id", (json_int_t)id, "generation", gen,
                                  "state", "sending",
                                  "now", (json_int_t)now,
                                  "message_id", "<m1@crier>",
                                  "template_version", version)));
}


/* Returns the jobs_list result for job `id` alone, with its attempts. */
static json_t *
job_list_attempts(struct fixture *f, int64_t id)
{
    return json_ok(f, f->ops->jobs_list,
                   json_pack("{s:i, s:I, s:b}", "limit", 1,
                             "before", (json_int_t)(id + 1),
                             "attempts", 1));
}


/* Each update that ends a hand-over records its attempt: a retry, then
 * the send; a hold in between records none. */
static void
job_update_records_attempts(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *jobs;
    json_t *list;
    json_t *listed;
    json_t *log;

    job_send_start(f, id, 1, T0 + 1, "0123456789ab");
    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:I, s:s, s:{s:I, s:s, s:s}}",
        "id", (json_int_t)id, "generation", 1, "state", "planned",
        "now", (json_int_t)(T0 + 2), "due", (json_int_t)(T0 + 100),
        "error", "421 busy", "attempt", "time", (json_int_t)(T0 + 2),
        "outcome", "retry", "reply", "421 busy")), 0);

    /* A quiet-hours hold of a claimed job ends no hand-over. */
    jobs = jobs_claim_at(f, T0 + 100, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    json_decref(jobs);
    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:I, s:{s:I, s:s}}",
        "id", (json_int_t)id, "generation", 2, "state", "planned",
        "now", (json_int_t)(T0 + 101), "due", (json_int_t)(T0 + 200),
        "attempt", "time", (json_int_t)(T0 + 101), "outcome", "retry")),
        0);

    jobs = jobs_claim_at(f, T0 + 200, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    json_decref(jobs);
    job_send_start(f, id, 3, T0 + 201, "ba9876543210");
    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:s, s:{s:I, s:s, s:s}}",
        "id", (json_int_t)id, "generation", 3, "state", "sent",
        "now", (json_int_t)(T0 + 202), "provider_id", "SM1",
        "attempt", "time", (json_int_t)(T0 + 202), "outcome", "sent",
        "reply", "250 queued as SM1")), 0);

    list = job_list_attempts(f, id);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "template_version"),
                        "ba9876543210");
    assert_int_equal(member_int(listed, "attempts"), 2);
    log = json_object_get(listed, "attempt_log");
    assert_int_equal(json_array_size(log), 2);
    assert_int_equal(member_int(json_array_get(log, 0), "number"), 1);
    assert_int_equal(member_int(json_array_get(log, 0), "time"), T0 + 2);
    assert_string_equal(member_str(json_array_get(log, 0), "outcome"),
                        "retry");
    assert_string_equal(member_str(json_array_get(log, 0), "reply"),
                        "421 busy");
    assert_int_equal(member_int(json_array_get(log, 1), "number"), 2);
    assert_int_equal(member_int(json_array_get(log, 1), "time"), T0 + 202);
    assert_string_equal(member_str(json_array_get(log, 1), "outcome"),
                        "sent");
    assert_string_equal(member_str(json_array_get(log, 1), "reply"),
                        "250 queued as SM1");
    json_decref(list);

    /* A list that does not ask has no attempt_log. */
    list = jobs_list_all(f);
    assert_null(json_object_get(listed_job(list, id), "attempt_log"));
    json_decref(list);
    json_decref(job);
}


/* An attempt with an unknown outcome, or on `sending`, is rejected and
 * changes nothing. */
static void
job_update_rejects_bad_attempt(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *list;
    json_t *listed;

    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:s, s:{s:I, s:s}}",
        "id", (json_int_t)id, "generation", 1, "state", "sending",
        "now", (json_int_t)(T0 + 1), "message_id", "<m1@crier>",
        "attempt", "time", (json_int_t)(T0 + 1), "outcome", "sent")),
        CRIER_EINVAL);
    job_send_start(f, id, 1, T0 + 1, NULL);
    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:{s:I, s:s}}",
        "id", (json_int_t)id, "generation", 1, "state", "sent",
        "now", (json_int_t)(T0 + 2),
        "attempt", "time", (json_int_t)(T0 + 2), "outcome", "maybe")),
        CRIER_EINVAL);
    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:{s:s}}",
        "id", (json_int_t)id, "generation", 1, "state", "sent",
        "now", (json_int_t)(T0 + 2), "attempt", "outcome", "sent")),
        CRIER_EINVAL);

    list = job_list_attempts(f, id);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "sending");
    assert_null(json_object_get(listed, "template_version"));
    assert_int_equal(json_array_size(json_object_get(listed,
                                                     "attempt_log")), 0);
    json_decref(list);
    json_decref(job);
}


static void
job_update_keeps_first_error(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *jobs;
    json_t *list;
    json_t *listed;

    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I, s:I, s:s}",
                                           "id", (json_int_t)id,
                                           "generation", 1,
                                           "state", "planned",
                                           "now", (json_int_t)(T0 + 1),
                                           "due", (json_int_t)(T0 + 100),
                                           "error", "421 try later")), 0);
    jobs = jobs_claim_at(f, T0 + 100, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_int_equal(member_int(json_array_get(jobs, 0), "generation"), 2);
    json_decref(jobs);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I, s:s}",
                                           "id", (json_int_t)id,
                                           "generation", 2,
                                           "state", "failed",
                                           "now", (json_int_t)(T0 + 101),
                                           "error", "550 no such user")), 0);

    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "failed");
    assert_string_equal(member_str(listed, "error"), "421 try later");
    assert_string_equal(member_str(listed, "last_error"),
                        "550 no such user");
    json_decref(list);
    json_decref(job);
}


static void
job_update_retry_waits_for_due(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *jobs;
    json_t *list;
    json_t *listed;

    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I, s:I}",
                                           "id", (json_int_t)id,
                                           "generation", 1,
                                           "state", "planned",
                                           "now", (json_int_t)(T0 + 1),
                                           "due", (json_int_t)(T0 + 5000))),
                     0);
    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "planned");
    assert_int_equal(member_int(listed, "due"), T0 + 5000);
    assert_true(json_is_null(json_object_get(listed, "error")));
    assert_true(json_is_null(json_object_get(listed, "lease_until")));
    json_decref(list);

    jobs = jobs_claim_at(f, T0 + 4999, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);

    jobs = jobs_claim_at(f, T0 + 5000, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "was"),
                        "planned");
    assert_int_equal(member_int(json_array_get(jobs, 0), "generation"), 2);
    json_decref(jobs);
    json_decref(job);
}


static void
job_update_suppressed(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    int64_t id = member_int(job, "id");
    json_t *list;
    json_t *listed;

    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I, s:s}",
                                           "id", (json_int_t)id,
                                           "generation", 1,
                                           "state", "suppressed",
                                           "now", (json_int_t)(T0 + 1),
                                           "error", "unsubscribed")), 0);
    list = jobs_list_all(f);
    listed = listed_job(list, id);
    assert_string_equal(member_str(listed, "state"), "suppressed");
    assert_string_equal(member_str(listed, "error"), "unsubscribed");
    assert_string_equal(member_str(listed, "last_error"), "unsubscribed");
    assert_int_equal(member_int(listed, "attempts"), 0);
    json_decref(list);
    json_decref(job);
}


static void
job_update_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *job = job_claimed(f);
    json_int_t id = (json_int_t)member_int(job, "id");
    json_t *list;

    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}", "id", id,
                                           "generation", 1,
                                           "state", "claimed",
                                           "now", (json_int_t)T0)),
                     CRIER_EINVAL);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}", "id", id,
                                           "generation", 1,
                                           "state", "delivered",
                                           "now", (json_int_t)T0)),
                     CRIER_EINVAL);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s, s:I}", "id", id,
                                           "generation", 1,
                                           "state", "planned",
                                           "now", (json_int_t)T0)),
                     CRIER_EINVAL);
    assert_int_equal(job_move(f, json_pack("{s:I, s:s, s:I}", "id", id,
                                           "state", "sent",
                                           "now", (json_int_t)T0)),
                     CRIER_EINVAL);
    assert_int_equal(job_move(f, json_pack("{s:I, s:i, s:s}", "id", id,
                                           "generation", 1,
                                           "state", "sent")),
                     CRIER_EINVAL);

    list = jobs_list_all(f);
    assert_string_equal(member_str(listed_job(list, id), "state"),
                        "claimed");
    json_decref(list);
    json_decref(job);
}


static void
jobs_list_filters_and_counts(void **state)
{
    struct fixture *f = *state;
    json_t *claimed;
    json_t *result;
    json_t *jobs;
    json_t *counts;

    job_plan_commit(f, "k-1", "crib-recall", T0);
    job_plan_commit(f, "k-2", "welcome", T0);
    job_plan_commit(f, "k-3", "crib-recall", T0 + 1000);
    claimed = jobs_claim_at(f, T0, 1, LEASE);
    json_decref(claimed);

    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:s}", "state", "planned"));
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-3");
    assert_string_equal(member_str(json_array_get(jobs, 1), "key"), "k-2");
    counts = json_object_get(result, "counts");
    assert_int_equal(json_object_size(counts), 2);
    assert_int_equal(member_int(counts, "planned"), 2);
    assert_int_equal(member_int(counts, "claimed"), 1);
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:s}", "rule", "crib-recall"));
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 2);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-3");
    assert_string_equal(member_str(json_array_get(jobs, 1), "key"), "k-1");
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:s, s:s}", "rule", "crib-recall",
                               "state", "claimed"));
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-1");
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:s}", "state", "sent"));
    assert_int_equal(json_array_size(json_object_get(result, "jobs")), 0);
    assert_int_equal(json_object_size(json_object_get(result, "counts")), 2);
    json_decref(result);
}


static void
jobs_list_limit_newest_first(void **state)
{
    struct fixture *f = *state;
    json_t *planned = json_array();
    json_t *result;
    json_t *jobs;
    char key[32];
    int i;

    for (i = 0; i < 105; i++) {
        snprintf(key, sizeof(key), "k-%03d", i);
        json_array_append_new(planned,
                              json_pack("{s:s, s:s, s:s, s:s, s:I}",
                                        "key", key, "rule", "r",
                                        "channel", "email", "template", "t",
                                        "due", (json_int_t)T0));
    }
    result = json_ok(f, f->ops->commit, json_pack("{s:o}", "jobs", planned));
    assert_int_equal(member_int(result, "planned"), 105);
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list, json_object());
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 100);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"), "k-104");
    assert_string_equal(member_str(json_array_get(jobs, 99), "key"), "k-005");
    assert_true(member_int(json_array_get(jobs, 0), "id")
                > member_int(json_array_get(jobs, 1), "id"));
    assert_int_equal(member_int(json_object_get(result, "counts"), "planned"),
                     105);
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list, json_pack("{s:i}", "limit", 2));
    assert_int_equal(json_array_size(json_object_get(result, "jobs")), 2);
    json_decref(result);

    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:i}", "limit", 5000));
    assert_int_equal(json_array_size(json_object_get(result, "jobs")), 105);
    json_decref(result);

    assert_int_equal(json_wait(f, f->ops->jobs_list,
                               json_pack("{s:s}", "state", "lost"), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->jobs_list,
                               json_pack("{s:i}", "limit", 0), &result),
                     CRIER_EINVAL);
}


/* The jobs of jobs_list_every_state in the order they are planned, each
 * with its rule and the state it ends in. */
static const struct {
    const char *key;
    const char *rule;
    const char *state;
} every_state[] = {
    { "r-a/k-0", "r-a", "claimed" },
    { "r-b/k-1", "r-b", "sending" },
    { "r-a/k-2", "r-a", "sending" },
    { "r-a/k-3", "r-a", "sent" },
    { "r-b/k-4", "r-b", "failed" },
    { "r-a/k-5", "r-a", "dead" },
    { "r-a/k-6", "r-a", "suppressed" },
    { "r-b/k-7", "r-b", "planned" },      /* claimed, then retried later */
    { "r-a/k-8", "r-a", "planned" }       /* due after the claim */
};

#define EVERY_STATE_COUNT (sizeof(every_state) / sizeof(every_state[0]))


/* Moves claimed job `id` (generation 1) to `state` the way the outbox
 * does: through `sending` to a final state, or straight to `planned` or
 * `suppressed`. */
static void
job_move_to(struct fixture *f, int64_t id, const char *state)
{
    const char *error = strcmp(state, "failed") == 0 ? "550 no such user"
                        : strcmp(state, "dead") == 0 ? "lease lost"
                        : "unsubscribed";

    if (strcmp(state, "claimed") == 0)
        return;
    if (strcmp(state, "planned") == 0) {
        assert_int_equal(job_move(f, json_pack(
            "{s:I, s:i, s:s, s:I, s:I}", "id", (json_int_t)id,
            "generation", 1, "state", "planned", "now", (json_int_t)T0,
            "due", (json_int_t)(T0 + 1000 * LEASE))), 0);
        return;
    }
    if (strcmp(state, "suppressed") != 0)
        assert_int_equal(job_move(f, json_pack(
            "{s:I, s:i, s:s, s:I, s:s, s:i}", "id", (json_int_t)id,
            "generation", 1, "state", "sending", "now", (json_int_t)T0,
            "message_id", "<m@crier>", "lease_ms", LEASE)), 0);
    if (strcmp(state, "sending") == 0)
        return;
    assert_int_equal(job_move(f, json_pack(
        "{s:I, s:i, s:s, s:I, s:s}", "id", (json_int_t)id,
        "generation", 1, "state", state, "now", (json_int_t)(T0 + 1),
        strcmp(state, "sent") == 0 ? "provider_id" : "error", error)), 0);
}


/* Lists with `request` and checks the listed keys, newest first, against
 * the jobs of every_state in `state` and, unless NULL, `rule`. */
static void
listed_keys_check(struct fixture *f, json_t *request, const char *state,
                  const char *rule)
{
    json_t *result = json_ok(f, f->ops->jobs_list, request);
    json_t *jobs = json_object_get(result, "jobs");
    size_t listed = 0;

    for (size_t i = EVERY_STATE_COUNT; i-- > 0;) {
        if (strcmp(every_state[i].state, state) != 0
            || (rule != NULL && strcmp(every_state[i].rule, rule) != 0))
            continue;
        assert_true(listed < json_array_size(jobs));
        assert_string_equal(member_str(json_array_get(jobs, listed), "key"),
                            every_state[i].key);
        assert_string_equal(member_str(json_array_get(jobs, listed),
                                       "state"), state);
        listed++;
    }
    assert_int_equal(json_array_size(jobs), listed);
    json_decref(result);
}


/* SQLite reads the jobs in flight (claimed, sending) and the settled
 * ones from different indexes, and every state must still be listed,
 * counted and tallied. */
static void
jobs_list_every_state(void **state)
{
    static const char *const states[] = {
        "planned", "claimed", "sending", "sent", "failed", "dead",
        "suppressed"
    };
    struct fixture *f = *state;
    int64_t ids[EVERY_STATE_COUNT];
    json_t *claimed;
    json_t *result;
    json_t *counts;
    json_t *tally;
    size_t i;

    for (i = 0; i < EVERY_STATE_COUNT; i++)
        job_plan_commit(f, every_state[i].key, every_state[i].rule,
                        i + 1 < EVERY_STATE_COUNT ? T0
                                                  : T0 + 1000 * LEASE);
    claimed = jobs_claim_at(f, T0, 20, LEASE);
    assert_int_equal(json_array_size(claimed), EVERY_STATE_COUNT - 1);
    for (i = 0; i + 1 < EVERY_STATE_COUNT; i++) {
        json_t *job = json_array_get(claimed, i);

        assert_string_equal(member_str(job, "key"), every_state[i].key);
        ids[i] = member_int(job, "id");
        job_move_to(f, ids[i], every_state[i].state);
    }
    json_decref(claimed);

    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        listed_keys_check(f, json_pack("{s:s}", "state", states[i]),
                          states[i], NULL);
        listed_keys_check(f, json_pack("{s:s, s:s}", "state", states[i],
                                       "rule", "r-a"), states[i], "r-a");
    }

    /* The second page of the jobs sending, after r-a/k-2. */
    result = json_ok(f, f->ops->jobs_list,
                     json_pack("{s:s, s:I}", "state", "sending", "before",
                               (json_int_t)ids[2]));
    assert_int_equal(json_array_size(json_object_get(result, "jobs")), 1);
    assert_string_equal(member_str(json_array_get(json_object_get(
                            result, "jobs"), 0), "key"), "r-b/k-1");
    counts = json_object_get(result, "counts");
    assert_int_equal(json_object_size(counts), 7);
    assert_int_equal(member_int(counts, "planned"), 2);
    assert_int_equal(member_int(counts, "claimed"), 1);
    assert_int_equal(member_int(counts, "sending"), 2);
    assert_int_equal(member_int(counts, "sent"), 1);
    assert_int_equal(member_int(counts, "failed"), 1);
    assert_int_equal(member_int(counts, "dead"), 1);
    assert_int_equal(member_int(counts, "suppressed"), 1);
    json_decref(result);

    result = json_ok(f, f->ops->jobs_tally, json_pack("{s:s}", "rule",
                                                      "r-a"));
    tally = json_object_get(result, "states");
    assert_int_equal(json_object_size(tally), 6);
    assert_int_equal(member_int(tally, "planned"), 1);
    assert_int_equal(member_int(tally, "claimed"), 1);
    assert_int_equal(member_int(tally, "sending"), 1);
    assert_int_equal(member_int(tally, "sent"), 1);
    assert_int_equal(member_int(tally, "dead"), 1);
    assert_int_equal(member_int(tally, "suppressed"), 1);
    assert_int_equal(json_object_size(json_object_get(result, "reasons")),
                     1);
    assert_int_equal(member_int(json_object_get(result, "reasons"),
                                "unsubscribed"), 1);
    json_decref(result);
}


const struct CMUnitTest job_tests[] = {
    CASE(commit_inserts_job_once),
    CASE(jobs_claim_respects_due),
    CASE(jobs_claim_respects_limit_and_order),
    CASE(jobs_claim_orders_reclaims_by_due),
    CASE(jobs_claim_bumps_generation_and_leases),
    CASE(jobs_claim_reclaims_expired_claimed),
    CASE(jobs_claim_reclaims_expired_sending),
    CASE(jobs_claim_includes_event_and_profile),
    CASE(jobs_claim_event_per_job),
    CASE(jobs_claim_null_profile_and_event),
    CASE(jobs_claim_rejects_invalid),
    CASE(job_update_stale_generation),
    CASE(job_update_unknown_id),
    CASE(job_update_requires_claim),
    CASE(job_update_sending_then_sent),
    CASE(job_update_records_language),
    CASE(job_update_records_attempts),
    CASE(job_update_rejects_bad_attempt),
    CASE(job_update_keeps_first_error),
    CASE(job_update_retry_waits_for_due),
    CASE(job_update_suppressed),
    CASE(job_update_rejects_invalid),
    CASE(jobs_list_filters_and_counts),
    CASE(jobs_list_limit_newest_first),
    CASE(jobs_list_every_state)
};

const size_t job_test_count = sizeof(job_tests) / sizeof(job_tests[0]);
