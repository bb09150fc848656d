/*
 * job_sending_capped: the frequency caps counted in the transaction that
 * marks a job `sending`. On a store that several nodes share, two
 * instances race for the last slots of the same profiles.
 */
#include <stdio.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE 30000
#define RACE_PROFILES 12


/* Plans job `key` to `profile` on email in `lane`, due at T0. */
static void
plan_for(struct fixture *f, const char *key, const char *profile, int lane)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:I,"
                                  " s:i}]}", "jobs", "key", key,
                                  "rule", "offer", "profile", profile,
                                  "channel", "email", "template", "t",
                                  "to", "a@b.gov", "due", (json_int_t)T0,
                                  "lane", lane)));
}


/* Claims every due job and returns {key: id}. */
static json_t *
claim_all(struct fixture *f)
{
    json_t *jobs = jobs_claim_at(f, T0, 100, LEASE);
    json_t *ids = json_object();
    size_t i;
    json_t *job;

    json_array_foreach(jobs, i, job) {
        assert_int_equal(member_int(job, "generation"), 1);
        json_object_set_new(ids, member_str(job, "key"),
                            json_integer(member_int(job, "id")));
    }
    json_decref(jobs);
    return ids;
}


static int64_t
id_of(const json_t *ids, const char *key)
{
    return member_int(ids, key);
}


/* Moves claimed job `id` to `state` at `now`. */
static void
move(struct fixture *f, int64_t id, const char *state, int64_t now)
{
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:i, s:s, s:I}", "id",
                                  (json_int_t)id, "generation", 1,
                                  "state", state, "now", (json_int_t)now)));
}


/* Builds a capped `sending` request for job `id` with `caps` (taken
 * over). */
static json_t *
capped_request(int64_t id, int64_t now, json_t *caps)
{
    return json_pack("{s:I, s:i, s:s, s:I, s:s, s:i, s:o, s:s}", "id",
                     (json_int_t)id, "generation", 1, "state", "sending",
                     "now", (json_int_t)now, "message_id", "<m@crier>",
                     "lease_ms", LEASE, "caps", caps, "cap_error", "cap");
}


/* Returns {"since", "max"} with "lane" when `lane` is not -1. */
static json_t *
cap(int64_t since, int max, int lane)
{
    json_t *entry = json_pack("{s:I, s:i}", "since", (json_int_t)since,
                              "max", max);

    if (lane >= 0)
        json_object_set_new(entry, "lane", json_integer(lane));
    return entry;
}


/* Marks job `id` with `caps` and returns the state the store gave it. */
static const char *
capped_mark(struct fixture *f, int64_t id, int64_t now, json_t *caps)
{
    static char state[32];
    json_t *result = json_ok(f, f->ops->job_sending_capped,
                             capped_request(id, now, caps));

    snprintf(state, sizeof(state), "%s", member_str(result, "state"));
    json_decref(result);
    return state;
}


/* Returns the listed job with `id`, a new reference. */
static json_t *
job_listed(struct fixture *f, int64_t id)
{
    json_t *list = jobs_list_all(f);
    size_t i;
    json_t *job;
    json_t *found = NULL;

    json_array_foreach(json_object_get(list, "jobs"), i, job)
        if (member_int(job, "id") == id)
            found = json_incref(job);
    json_decref(list);
    assert_non_null(found);
    return found;
}


static void
capped_marks_sending_with_room(void **state)
{
    struct fixture *f = *state;
    json_t *ids;
    json_t *job;

    plan_for(f, "a", "p_1", 1);
    plan_for(f, "b", "p_1", 1);
    ids = claim_all(f);
    move(f, id_of(ids, "a"), "sending", T0 + 10);
    move(f, id_of(ids, "a"), "sent", T0 + 20);

    assert_string_equal(capped_mark(f, id_of(ids, "b"), T0 + 30,
                                    json_pack("[o]", cap(T0, 2, -1))),
                        "sending");
    job = job_listed(f, id_of(ids, "b"));
    assert_string_equal(member_str(job, "state"), "sending");
    assert_int_equal(member_int(job, "attempts"), 1);
    assert_string_equal(member_str(job, "message_id"), "<m@crier>");
    assert_int_equal(member_int(job, "lease_until"), T0 + 30 + LEASE);
    json_decref(job);
    json_decref(ids);
}


static void
capped_suppresses_when_full(void **state)
{
    struct fixture *f = *state;
    json_t *ids;
    json_t *job;

    plan_for(f, "a", "p_1", 1);
    plan_for(f, "b", "p_1", 1);
    ids = claim_all(f);
    move(f, id_of(ids, "a"), "sending", T0 + 10);

    /* A job being sent counts as well as a sent one. */
    assert_string_equal(capped_mark(f, id_of(ids, "b"), T0 + 30,
                                    json_pack("[o]", cap(T0, 1, -1))),
                        "suppressed");
    job = job_listed(f, id_of(ids, "b"));
    assert_string_equal(member_str(job, "state"), "suppressed");
    assert_string_equal(member_str(job, "error"), "cap");
    assert_int_equal(member_int(job, "attempts"), 0);
    assert_null(member_str(job, "message_id"));
    assert_true(json_is_null(json_object_get(job, "lease_until")));
    json_decref(job);
    json_decref(ids);
}


/* A cap counts only its lane and its window, and never the job it
 * marks; with several caps, any full one suppresses. */
static void
capped_counts_lane_and_window(void **state)
{
    struct fixture *f = *state;
    json_t *ids;

    plan_for(f, "service", "p_1", 0);
    plan_for(f, "other", "p_2", 1);
    plan_for(f, "b", "p_1", 1);
    plan_for(f, "c", "p_1", 1);
    ids = claim_all(f);
    move(f, id_of(ids, "service"), "sending", T0 + 10);
    move(f, id_of(ids, "service"), "sent", T0 + 20);
    move(f, id_of(ids, "other"), "sending", T0 + 20);

    assert_string_equal(capped_mark(f, id_of(ids, "b"), T0 + 30,
                                    json_pack("[o, o]", cap(T0, 1, 1),
                                              cap(T0 + 25, 1, -1))),
                        "sending");
    /* b fills the outreach cap, and the cap of both lanes, whose window
     * leaves out the service message, has room. */
    assert_string_equal(capped_mark(f, id_of(ids, "c"), T0 + 40,
                                    json_pack("[o, o]", cap(T0 + 25, 2, -1),
                                              cap(T0, 1, 1))),
                        "suppressed");
    json_decref(ids);
}


/* A cap of both classes does not count a bulletin's messages. */
static void
capped_leaves_out_bulletins(void **state)
{
    struct fixture *f = *state;
    json_t *ids;

    plan_for(f, "bulletin", "p_1", 2);
    plan_for(f, "b", "p_1", 1);
    ids = claim_all(f);
    move(f, id_of(ids, "bulletin"), "sending", T0 + 10);
    move(f, id_of(ids, "bulletin"), "sent", T0 + 20);
    assert_string_equal(capped_mark(f, id_of(ids, "b"), T0 + 30,
                                    json_pack("[o]", cap(T0, 1, -1))),
                        "sending");
    json_decref(ids);
}


static void
capped_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *request;
    json_t *result;

    plan_for(f, "a", "p_1", 1);
    json_decref(claim_all(f));

    request = capped_request(1, T0, json_array());
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_EINVAL);
    request = capped_request(1, T0, json_pack("[o]", cap(T0, 0, -1)));
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_EINVAL);
    request = capped_request(1, T0, json_pack("[o]", cap(T0, 1, 5)));
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_EINVAL);
    request = capped_request(1, T0, json_pack("[{s:i}]", "max", 1));
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_EINVAL);
    request = capped_request(1, T0, json_pack("[o]", cap(T0, 1, -1)));
    json_object_del(request, "cap_error");
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_EINVAL);
    request = capped_request(1, T0, json_pack("[o]", cap(T0, 1, -1)));
    json_object_set_new(request, "state", json_string("sent"));
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_EINVAL);

    /* A valid request for a job of another generation is stale. */
    request = capped_request(1, T0, json_pack("[o]", cap(T0, 1, -1)));
    json_object_set_new(request, "generation", json_integer(7));
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_ESTALE);
    request = capped_request(99, T0, json_pack("[o]", cap(T0, 1, -1)));
    assert_int_equal(json_wait(f, f->ops->job_sending_capped, request,
                               &result), CRIER_ENOTFOUND);
}


/* The outcome of one mark that runs beside the others. */
struct race_slot {
    int *pending;
    int *all_done;
    int status;
    char state[32];
};


static void
race_done(void *arg, int status, json_t *result)
{
    struct race_slot *s = arg;

    s->status = status;
    if (status == 0)
        snprintf(s->state, sizeof(s->state), "%s",
                 member_str(result, "state"));
    if (--*s->pending == 0)
        *s->all_done = 1;
}


/*
 * Two nodes race for the last slot of each of several profiles: every
 * profile has one message sent under a cap of two, and each node marks
 * one more of its jobs, all queued at once. The nodes go through the
 * profiles in opposite orders, so that a store that locked them in
 * request order could deadlock. Exactly one mark per profile wins.
 */
static void
capped_race_last_slot(void **state)
{
    struct fixture *f = *state;
    struct race_slot slots[2 * RACE_PROFILES];
    void *stores[2];
    int pending = 2 * RACE_PROFILES;
    int all_done = 0;
    char key[48];
    char profile[16];
    json_t *ids;

    for (int p = 0; p < RACE_PROFILES; p++) {
        snprintf(profile, sizeof(profile), "p_%d", p);
        for (int k = 0; k < 3; k++) {
            snprintf(key, sizeof(key), "%s/%d", profile, k);
            plan_for(f, key, profile, 1);
        }
    }
    ids = claim_all(f);
    for (int p = 0; p < RACE_PROFILES; p++) {
        snprintf(key, sizeof(key), "p_%d/0", p);
        move(f, id_of(ids, key), "sending", T0 + 10);
        move(f, id_of(ids, key), "sent", T0 + 20);
    }

    stores[0] = f->store;
    stores[1] = store_shared() ? store_second_open(f) : f->store;
    for (int i = 0; i < 2 * RACE_PROFILES; i++) {
        int node = i % 2;
        int p = node == 0 ? i / 2 : RACE_PROFILES - 1 - i / 2;
        json_t *request;

        snprintf(key, sizeof(key), "p_%d/%d", p, node + 1);
        request = capped_request(id_of(ids, key), T0 + 30,
                                 json_pack("[o]", cap(T0, 2, -1)));
        slots[i] = (struct race_slot){ &pending, &all_done, -1, "" };
        assert_int_equal(f->ops->job_sending_capped(stores[node], request,
                                                    race_done, &slots[i]),
                         0);
        json_decref(request);
    }
    assert_int_equal(testhost_run_until(&f->th, &all_done, WAIT_TIMEOUT_MS),
                     0);

    for (int p = 0; p < RACE_PROFILES; p++) {
        int sending = 0;
        int suppressed = 0;

        for (int i = 0; i < 2 * RACE_PROFILES; i++) {
            int node = i % 2;
            int slot_profile = node == 0 ? i / 2
                                         : RACE_PROFILES - 1 - i / 2;

            if (slot_profile != p)
                continue;
            assert_int_equal(slots[i].status, 0);
            sending += strcmp(slots[i].state, "sending") == 0;
            suppressed += strcmp(slots[i].state, "suppressed") == 0;
        }
        assert_int_equal(sending, 1);
        assert_int_equal(suppressed, 1);
    }
    if (stores[1] != f->store)
        store_second_close(f, stores[1]);
    json_decref(ids);
}


const struct CMUnitTest cap_tests[] = {
    CASE(capped_marks_sending_with_room),
    CASE(capped_suppresses_when_full),
    CASE(capped_counts_lane_and_window),
    CASE(capped_leaves_out_bulletins),
    CASE(capped_rejects_invalid),
    CASE(capped_race_last_slot)
};

const size_t cap_test_count = sizeof(cap_tests) / sizeof(cap_tests[0]);
