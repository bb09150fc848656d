/*
 * Several crier nodes on one database: two instances of the store open on
 * the same data claim each job once and commit each pipeline batch once.
 * The cases skip themselves on a store that one process owns alone.
 */
#include <stdio.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define JOB_COUNT 40


/* The outcome of one call that runs beside others. */
struct slot {
    int *pending;             /* calls still running, shared */
    int *all_done;            /* set when *pending reaches 0 */
    int status;
    json_t *result;
};


static void
slot_done(void *arg, int status, json_t *result)
{
    struct slot *s = arg;

    s->status = status;
    s->result = json_incref(result);
    if (--*s->pending == 0)
        *s->all_done = 1;
}


void *
store_second_open(struct fixture *f)
{
    const struct crier_plugin *plugin = store_plugin.plugin;
    json_t *config = store_config();
    void *store = NULL;

    assert_int_equal(plugin->init(testhost_ctx(&f->th), &f->th.host, config,
                                  &store), 0);
    json_decref(config);
    assert_int_equal(plugin->start(store), 0);
    return store;
}


static void
stopped_flag(void *arg)
{
    *(int *)arg = 1;
}


void
store_second_close(struct fixture *f, void *store)
{
    int stopped = 0;

    store_plugin.plugin->stop(store, stopped_flag, &stopped);
    assert_int_equal(testhost_run_until(&f->th, &stopped, WAIT_TIMEOUT_MS),
                     0);
    store_plugin.plugin->destroy(store);
}


/* Claims on both stores at once and adds the claimed ids to `seen`,
 * failing on an id claimed twice. Returns how many were claimed. */
static size_t
claim_round(struct fixture *f, void *stores[2], json_t *seen)
{
    struct slot slots[4];
    int pending = 4;
    int all_done = 0;
    size_t claimed = 0;

    for (int i = 0; i < 4; i++) {
        json_t *request = json_pack("{s:I, s:i, s:i, s:s}", "now",
                                    (json_int_t)T0, "limit", 7,
                                    "lease_ms", 30000, "owner",
                                    i % 2 == 0 ? "node-a" : "node-b");

        slots[i] = (struct slot){ &pending, &all_done, 0, NULL };
        assert_int_equal(f->ops->jobs_claim(stores[i % 2], request,
                                            slot_done, &slots[i]), 0);
        json_decref(request);
    }
    assert_int_equal(testhost_run_until(&f->th, &all_done, WAIT_TIMEOUT_MS),
                     0);
    for (int i = 0; i < 4; i++) {
        json_t *jobs = json_object_get(slots[i].result, "jobs");
        size_t j;
        json_t *job;

        assert_int_equal(slots[i].status, 0);
        json_array_foreach(jobs, j, job) {
            const char *key = member_str(job, "key");

            assert_null(json_object_get(seen, key));
            assert_int_equal(member_int(job, "generation"), 1);
            json_object_set_new(seen, key, json_true());
            claimed++;
        }
        json_decref(slots[i].result);
    }
    return claimed;
}


static void
shared_claims_disjoint(void **state)
{
    struct fixture *f = *state;
    json_t *seen;
    void *stores[2];
    char key[32];
    size_t total = 0;
    size_t claimed;

    if (!store_shared())
        skip();
    seen = json_object();
    for (int i = 0; i < JOB_COUNT; i++) {
        snprintf(key, sizeof(key), "job-%02d", i);
        job_plan_commit(f, key, "welcome", T0 - 1000);
    }
    stores[0] = f->store;
    stores[1] = store_second_open(f);
    do {
        claimed = claim_round(f, stores, seen);
        total += claimed;
    } while (claimed > 0);
    assert_int_equal(total, JOB_COUNT);
    assert_int_equal(json_object_size(seen), JOB_COUNT);
    store_second_close(f, stores[1]);
    json_decref(seen);
}


static void
shared_batch_commits_once(void **state)
{
    struct fixture *f = *state;
    struct slot slots[2];
    int pending = 2;
    int all_done = 0;
    void *stores[2];
    json_t *result;

    if (!store_shared())
        skip();
    stores[0] = f->store;
    stores[1] = store_second_open(f);

    /* Both nodes read the events after 0 and commit them at once, each
     * with the same stage move. */
    for (int i = 0; i < 2; i++) {
        json_t *batch = json_pack(
            "{s:{s:s, s:i, s:i}, s:[{s:s, s:s, s:s, s:I}]}",
            "cursor", "name", "pipeline", "value", 4, "from", 0,
            "stages", "profile", "p_1", "program", "child-safety",
            "to", "enrolled", "time", (json_int_t)T0);

        slots[i] = (struct slot){ &pending, &all_done, 0, NULL };
        assert_int_equal(f->ops->commit(stores[i], batch, slot_done,
                                        &slots[i]), 0);
        json_decref(batch);
    }
    assert_int_equal(testhost_run_until(&f->th, &all_done, WAIT_TIMEOUT_MS),
                     0);
    assert_true((slots[0].status == 0 && slots[1].status == CRIER_ESTALE)
                || (slots[0].status == CRIER_ESTALE && slots[1].status == 0));
    json_decref(slots[0].result);
    json_decref(slots[1].result);

    result = json_ok(f, f->ops->timeline,
                     json_pack("{s:s}", "profile", "p_1"));
    assert_int_equal(json_array_size(json_object_get(result, "entries")), 1);
    json_decref(result);
    store_second_close(f, stores[1]);
}


const struct CMUnitTest shared_tests[] = {
    CASE(shared_claims_disjoint),
    CASE(shared_batch_commits_once)
};

const size_t shared_test_count =
    sizeof(shared_tests) / sizeof(shared_tests[0]);
