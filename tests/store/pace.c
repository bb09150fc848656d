/*
 * Pacing slots. pace_acquire grants a slot while fewer than max_in_flight
 * are held and fewer than max_per_second started in the last 1000 ms. A
 * lease gives back the slot of a holder that never releases it. On a
 * store that several nodes share, the limits hold for all of them.
 */
#include <stdio.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE_MS 30000


/* Asks for a slot of `key` at `now`; returns the result (a reference). */
static json_t *
acquire_at(struct fixture *f, void *store, const char *key, int64_t now,
           int per_second, int in_flight, int64_t lease_ms)
{
    void *saved = f->store;
    json_t *result;

    f->store = store;
    result = json_ok(f, f->ops->pace_acquire,
                     json_pack("{s:s, s:I, s:i, s:i, s:I}", "key", key,
                               "now", (json_int_t)now,
                               "max_per_second", per_second,
                               "max_in_flight", in_flight,
                               "lease_ms", (json_int_t)lease_ms));
    f->store = saved;
    return result;
}


/* Returns the granted slot's id, or 0 when refused; *wait_ms receives
 * the wait of a refusal. */
static int64_t
slot_of(json_t *result, int64_t *wait_ms)
{
    json_t *slot = json_object_get(result, "slot");

    *wait_ms = member_int(result, "wait_ms");
    if (json_is_null(slot))
        return 0;
    assert_true(json_is_integer(slot));
    assert_int_equal(*wait_ms, 0);
    return json_integer_value(slot);
}


/* Takes a slot and returns its id, or 0 when refused. */
static int64_t
acquire(struct fixture *f, const char *key, int64_t now, int per_second,
        int in_flight, int64_t lease_ms, int64_t *wait_ms)
{
    json_t *result = acquire_at(f, f->store, key, now, per_second,
                                in_flight, lease_ms);
    int64_t slot = slot_of(result, wait_ms);

    json_decref(result);
    return slot;
}


/* Releases a slot; returns 1 when it was still held. */
static int
release(struct fixture *f, const char *key, int64_t slot)
{
    json_t *result = json_ok(f, f->ops->pace_release,
                             json_pack("{s:s, s:I}", "key", key, "slot",
                                       (json_int_t)slot));
    int released = json_is_true(json_object_get(result, "released"));

    assert_true(json_is_boolean(json_object_get(result, "released")));
    json_decref(result);
    return released;
}


static void
pace_in_flight_limit(void **state)
{
    struct fixture *f = *state;
    int64_t wait;
    int64_t first = acquire(f, "dest", T0, 100, 2, LEASE_MS, &wait);
    int64_t second = acquire(f, "dest", T0 + 1, 100, 2, LEASE_MS, &wait);

    assert_true(first > 0);
    assert_true(second > 0);
    assert_int_not_equal(first, second);

    /* Both are held, so a third waits for a release, not for time. */
    assert_int_equal(acquire(f, "dest", T0 + 2, 100, 2, LEASE_MS, &wait), 0);
    assert_int_equal(wait, 0);

    assert_int_equal(release(f, "dest", first), 1);
    assert_int_equal(release(f, "dest", first), 0);
    assert_true(acquire(f, "dest", T0 + 3, 100, 2, LEASE_MS, &wait) > 0);
    assert_int_equal(acquire(f, "dest", T0 + 4, 100, 2, LEASE_MS, &wait), 0);
}


static void
pace_rate_limit(void **state)
{
    struct fixture *f = *state;
    int64_t wait;

    /* Three starts in the window, each released at once: the window
     * still counts them. */
    for (int i = 0; i < 3; i++) {
        int64_t slot = acquire(f, "dest", T0 + 100 * i, 3, 10, LEASE_MS,
                               &wait);

        assert_true(slot > 0);
        assert_int_equal(release(f, "dest", slot), 1);
    }
    assert_int_equal(acquire(f, "dest", T0 + 300, 3, 10, LEASE_MS, &wait),
                     0);
    assert_int_equal(wait, 700);
    assert_int_equal(acquire(f, "dest", T0 + 999, 3, 10, LEASE_MS, &wait),
                     0);
    assert_int_equal(wait, 1);

    /* The first start is a whole window old at T0 + 1000, so one more
     * may go, and then the second one decides. */
    assert_true(acquire(f, "dest", T0 + 1000, 3, 10, LEASE_MS, &wait) > 0);
    assert_int_equal(acquire(f, "dest", T0 + 1001, 3, 10, LEASE_MS, &wait),
                     0);
    assert_int_equal(wait, 99);
}


static void
pace_lease_expiry_gives_back(void **state)
{
    struct fixture *f = *state;
    int64_t wait;
    int64_t lost = acquire(f, "dest", T0, 100, 1, 500, &wait);
    int64_t next;

    assert_true(lost > 0);
    assert_int_equal(acquire(f, "dest", T0 + 499, 100, 1, 500, &wait), 0);
    assert_int_equal(wait, 0);

    /* The holder never released its slot; at the end of the lease it is
     * free again. */
    next = acquire(f, "dest", T0 + 500, 100, 1, 500, &wait);
    assert_true(next > 0);
    assert_int_equal(release(f, "dest", next), 1);

    /* Once its start left the window, the lost slot is dropped, so a
     * late release finds nothing to end. */
    assert_true(acquire(f, "dest", T0 + 2000, 100, 1, 500, &wait) > 0);
    assert_int_equal(release(f, "dest", lost), 0);
}


static void
pace_keys_independent(void **state)
{
    struct fixture *f = *state;
    int64_t wait;
    int64_t slot = acquire(f, "cases", T0, 1, 1, LEASE_MS, &wait);

    assert_true(slot > 0);
    assert_int_equal(acquire(f, "cases", T0, 1, 1, LEASE_MS, &wait), 0);
    assert_true(acquire(f, "permits", T0, 1, 1, LEASE_MS, &wait) > 0);

    /* A release names its key: another key's slot is not ended. */
    assert_int_equal(release(f, "permits", slot), 0);
    assert_int_equal(release(f, "cases", slot), 1);
}


static void
pace_rejects_bad_requests(void **state)
{
    struct fixture *f = *state;
    json_t *result = NULL;

    assert_int_equal(json_wait(f, f->ops->pace_acquire, json_pack(
        "{s:I, s:i, s:i, s:i}", "now", (json_int_t)T0, "max_per_second", 1,
        "max_in_flight", 1, "lease_ms", 1000), &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pace_acquire, json_pack(
        "{s:s, s:I, s:i, s:i, s:i}", "key", "dest", "now", (json_int_t)T0,
        "max_per_second", 1, "max_in_flight", 0, "lease_ms", 1000),
        &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pace_acquire, json_pack(
        "{s:s, s:I, s:i, s:i, s:i}", "key", "dest", "now", (json_int_t)T0,
        "max_per_second", 0, "max_in_flight", 1, "lease_ms", 1000),
        &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pace_acquire, json_pack(
        "{s:s, s:I, s:i, s:i}", "key", "dest", "now", (json_int_t)T0,
        "max_per_second", 1, "max_in_flight", 1), &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pace_release, json_pack(
        "{s:s}", "key", "dest"), &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pace_release, json_pack(
        "{s:s, s:i}", "key", "", "slot", 1), &result), CRIER_EINVAL);
    assert_null(result);
}


/* The outcome of one acquire that runs beside others. */
struct pending_acquire {
    int *pending;
    int *all_done;
    int status;
    json_t *result;
};


static void
pending_acquire_done(void *arg, int status, json_t *result)
{
    struct pending_acquire *p = arg;

    p->status = status;
    p->result = json_incref(result);
    if (--*p->pending == 0)
        *p->all_done = 1;
}


/*
 * Sends `count` acquires at `now` to the two stores in turn, all queued
 * before any callback runs, and returns how many were granted.
 */
static int
acquire_burst(struct fixture *f, void *stores[2], int count, int64_t now,
              int per_second, int in_flight)
{
    struct pending_acquire calls[40];
    int pending = count;
    int all_done = 0;
    int granted = 0;

    assert_true(count <= 40);
    for (int i = 0; i < count; i++) {
        json_t *request = json_pack("{s:s, s:I, s:i, s:i, s:i}", "key",
                                    "dest", "now", (json_int_t)now,
                                    "max_per_second", per_second,
                                    "max_in_flight", in_flight,
                                    "lease_ms", LEASE_MS);

        calls[i] = (struct pending_acquire){ &pending, &all_done, 0, NULL };
        assert_int_equal(f->ops->pace_acquire(stores[i % 2], request,
                                              pending_acquire_done,
                                              &calls[i]), 0);
        json_decref(request);
    }
    assert_int_equal(testhost_run_until(&f->th, &all_done, WAIT_TIMEOUT_MS),
                     0);
    for (int i = 0; i < count; i++) {
        int64_t wait;

        assert_int_equal(calls[i].status, 0);
        granted += slot_of(calls[i].result, &wait) > 0;
        json_decref(calls[i].result);
    }
    return granted;
}


/* Opens another instance of the store on the same data, with more
 * connections for reads, so that more acquires run at once. */
static void *
second_store_open(struct fixture *f)
{
    const struct crier_plugin *plugin = store_plugin.plugin;
    json_t *config = store_config();
    void *store = NULL;

    json_object_set_new(config, "connections", json_integer(4));
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


static void
second_store_close(struct fixture *f, void *store)
{
    int stopped = 0;

    store_plugin.plugin->stop(store, stopped_flag, &stopped);
    assert_int_equal(testhost_run_until(&f->th, &stopped, WAIT_TIMEOUT_MS),
                     0);
    store_plugin.plugin->destroy(store);
}


static void
pace_shared_in_flight(void **state)
{
    struct fixture *f = *state;
    void *stores[2];

    if (!store_shared())
        skip();
    stores[0] = second_store_open(f);
    stores[1] = second_store_open(f);
    assert_int_equal(acquire_burst(f, stores, 40, T0, 1000, 3), 3);
    /* Later, with the three still held, neither node gets one. */
    assert_int_equal(acquire_burst(f, stores, 10, T0 + 5000, 1000, 3), 0);
    second_store_close(f, stores[0]);
    second_store_close(f, stores[1]);
}


static void
pace_shared_rate(void **state)
{
    struct fixture *f = *state;
    void *stores[2];

    if (!store_shared())
        skip();
    stores[0] = second_store_open(f);
    stores[1] = second_store_open(f);
    assert_int_equal(acquire_burst(f, stores, 40, T0, 5, 100), 5);
    assert_int_equal(acquire_burst(f, stores, 10, T0 + 999, 5, 100), 0);
    assert_int_equal(acquire_burst(f, stores, 40, T0 + 1000, 5, 100), 5);
    second_store_close(f, stores[0]);
    second_store_close(f, stores[1]);
}


static void
pace_shared_lease_expiry(void **state)
{
    struct fixture *f = *state;
    void *stores[2];
    json_t *result;
    int64_t wait;

    if (!store_shared())
        skip();
    stores[0] = f->store;
    stores[1] = second_store_open(f);

    /* The first node takes the only slot and dies holding it. */
    result = acquire_at(f, stores[0], "dest", T0, 100, 1, 500);
    assert_true(slot_of(result, &wait) > 0);
    json_decref(result);
    result = acquire_at(f, stores[1], "dest", T0 + 499, 100, 1, 500);
    assert_int_equal(slot_of(result, &wait), 0);
    json_decref(result);
    result = acquire_at(f, stores[1], "dest", T0 + 500, 100, 1, 500);
    assert_true(slot_of(result, &wait) > 0);
    json_decref(result);
    second_store_close(f, stores[1]);
}


const struct CMUnitTest pace_tests[] = {
    CASE(pace_in_flight_limit),
    CASE(pace_rate_limit),
    CASE(pace_lease_expiry_gives_back),
    CASE(pace_keys_independent),
    CASE(pace_rejects_bad_requests),
    CASE(pace_shared_in_flight),
    CASE(pace_shared_rate),
    CASE(pace_shared_lease_expiry),
};

const size_t pace_test_count = sizeof(pace_tests) / sizeof(pace_tests[0]);
