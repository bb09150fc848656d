/*
 * Tests of core/bulletins/pace.c: the jobs that count toward a bulletin's
 * rate, the total its rate allows by an instant, and the stored origin
 * that a resume restarts and a turn far behind the pace moves forward.
 * A fake store keeps the last object written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/clock.h"
#include "bulletins/bulletins.h"
#include "bulletins/pace.h"
#include "server/server.h"

#define MINUTE_MS INT64_C(60000)

/* The origin 2026-01-01T00:00:00Z, in ms since the epoch. */
#define ORIGIN_MS INT64_C(1767225600000)

static json_t *fake_stored;     /* the last object_put request */
static int fake_puts;


static int
fake_object_put(void *store, json_t *request, crier_store_cb done,
                void *arg)
{
    json_t *result = json_object();

    (void) store;
    json_decref(fake_stored);
    fake_stored = json_deep_copy(request);
    fake_puts++;
    done(arg, 0, result);
    json_decref(result);
    return 0;
}


static const struct crier_store_ops fake_store_ops = {
    .size = sizeof(struct crier_store_ops),
    .object_put = fake_object_put,
};
static struct plugin_instance fake_store;


static int
fake_store_install(void **state)
{
    (void) state;
    json_decref(fake_stored);
    fake_stored = NULL;
    fake_puts = 0;
    server.store = &fake_store;
    server.store_ops = &fake_store_ops;
    return 0;
}


static int
fake_store_remove(void **state)
{
    (void) state;
    json_decref(fake_stored);
    fake_stored = NULL;
    server.store = NULL;
    server.store_ops = NULL;
    return 0;
}


static struct bulletin
bulletin_at(int64_t rate, int64_t paced_count)
{
    struct bulletin b;

    memset(&b, 0, sizeof(b));
    b.id = "b-1";
    b.rate = rate;
    b.send_at = ORIGIN_MS;
    b.paced_from = ORIGIN_MS;
    b.paced_count = paced_count;
    return b;
}


static void
counted_leaves_out_suppressed(void **state)
{
    json_t *tally = json_pack("{s:{s:i,s:i,s:i,s:i},s:{s:i}}", "states",
                              "planned", 3, "sent", 5, "failed", 1,
                              "suppressed", 4, "reasons", "unconfirmed", 4);

    (void) state;
    assert_int_equal(bulletin_counted(tally), 9);
    json_decref(tally);
}


static void
counted_empty_tally(void **state)
{
    json_t *tally = json_pack("{s:{}}", "states");

    (void) state;
    assert_int_equal(bulletin_counted(tally), 0);
    assert_int_equal(bulletin_counted(NULL), 0);
    json_decref(tally);
}


static void
allowed_grows_with_rate(void **state)
{
    struct bulletin b = bulletin_at(60, 10);

    (void) state;
    /* One at the origin, then one a minute, whole messages only. */
    assert_int_equal(bulletin_allowed(&b, ORIGIN_MS), 11);
    assert_int_equal(bulletin_allowed(&b, ORIGIN_MS + MINUTE_MS - 1), 11);
    assert_int_equal(bulletin_allowed(&b, ORIGIN_MS + MINUTE_MS), 12);
    assert_int_equal(bulletin_allowed(&b, ORIGIN_MS + 90 * MINUTE_MS), 101);
}


static void
allowed_before_origin(void **state)
{
    struct bulletin b = bulletin_at(60, 10);

    (void) state;
    assert_int_equal(bulletin_allowed(&b, ORIGIN_MS - 5 * MINUTE_MS), 11);
}


static void
allowed_without_rate(void **state)
{
    struct bulletin b = bulletin_at(0, 10);

    (void) state;
    assert_true(bulletin_allowed(&b, ORIGIN_MS) == INT64_MAX);
}


static void
restart_stores_origin(void **state)
{
    struct bulletin b = bulletin_at(60, 0);
    json_t *tally = json_pack("{s:{s:i,s:i}}", "states", "sent", 7,
                              "suppressed", 2);
    json_t *body;
    char from[32];

    (void) state;
    bulletin_pace_restart(&b, tally, ORIGIN_MS + 30 * MINUTE_MS);
    assert_int_equal(b.paced_from, ORIGIN_MS + 30 * MINUTE_MS);
    assert_int_equal(b.paced_count, 7);
    assert_int_equal(fake_puts, 1);
    assert_string_equal(json_string_value(json_object_get(fake_stored,
                                                          "kind")),
                        "bulletin_pace");
    assert_string_equal(json_string_value(json_object_get(fake_stored,
                                                          "id")), "b-1");
    body = json_object_get(fake_stored, "body");
    clock_format_ms(ORIGIN_MS + 30 * MINUTE_MS, from, sizeof(from));
    assert_string_equal(json_string_value(json_object_get(body,
                                                          "paced_from")),
                        from);
    assert_int_equal(json_integer_value(json_object_get(body,
                                                        "paced_count")), 7);
    /* Paused time allowed nothing: one message at the resume. */
    assert_int_equal(bulletin_allowed(&b, ORIGIN_MS + 30 * MINUTE_MS), 8);
    json_decref(tally);
}


static void
restart_before_send_at(void **state)
{
    struct bulletin b = bulletin_at(60, 0);
    json_t *tally = json_pack("{s:{}}", "states");

    (void) state;
    b.send_at = ORIGIN_MS + 60 * MINUTE_MS;
    bulletin_pace_restart(&b, tally, ORIGIN_MS);
    assert_int_equal(b.paced_from, ORIGIN_MS + 60 * MINUTE_MS);
    json_decref(tally);
}


static void
forward_within_batch_keeps_origin(void **state)
{
    struct bulletin b = bulletin_at(60, 0);
    int64_t now = ORIGIN_MS + (int64_t) BULLETIN_BATCH * MINUTE_MS;

    (void) state;
    /* BULLETIN_BATCH + 1 allowed, 1 planned: exactly a batch behind. */
    bulletin_pace_forward(&b, 1, now);
    assert_int_equal(b.paced_from, ORIGIN_MS);
    assert_int_equal(b.paced_count, 0);
    assert_int_equal(fake_puts, 0);
}


static void
forward_past_batch_moves_origin(void **state)
{
    struct bulletin b = bulletin_at(60, 0);
    int64_t now = ORIGIN_MS + 10 * (int64_t) BULLETIN_BATCH * MINUTE_MS;

    (void) state;
    bulletin_pace_forward(&b, 40, now);
    assert_int_equal(b.paced_from, now);
    assert_int_equal(bulletin_allowed(&b, now) - 40, BULLETIN_BATCH);
    assert_int_equal(bulletin_allowed(&b, now + MINUTE_MS) - 40,
                     BULLETIN_BATCH + 1);
    assert_int_equal(fake_puts, 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(
        fake_stored, "body"), "paced_count")), 40 + BULLETIN_BATCH - 1);
}


static void
forward_without_rate(void **state)
{
    struct bulletin b = bulletin_at(0, 0);

    (void) state;
    bulletin_pace_forward(&b, 0, ORIGIN_MS + 1000 * MINUTE_MS);
    assert_int_equal(b.paced_from, ORIGIN_MS);
    assert_int_equal(fake_puts, 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counted_leaves_out_suppressed),
        cmocka_unit_test(counted_empty_tally),
        cmocka_unit_test(allowed_grows_with_rate),
        cmocka_unit_test(allowed_before_origin),
        cmocka_unit_test(allowed_without_rate),
        cmocka_unit_test_setup_teardown(restart_stores_origin,
                                        fake_store_install,
                                        fake_store_remove),
        cmocka_unit_test_setup_teardown(restart_before_send_at,
                                        fake_store_install,
                                        fake_store_remove),
        cmocka_unit_test_setup_teardown(forward_within_batch_keeps_origin,
                                        fake_store_install,
                                        fake_store_remove),
        cmocka_unit_test_setup_teardown(forward_past_batch_moves_origin,
                                        fake_store_install,
                                        fake_store_remove),
        cmocka_unit_test_setup_teardown(forward_without_rate,
                                        fake_store_install,
                                        fake_store_remove),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
