/*
 * Tests of core/base/clock.c: the test clock and its timers on a private
 * loop, and the RFC 3339, duration and formatting helpers. Every timer
 * test ends by closing the clock and checking that the loop closes with
 * no handle left open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>
#include <uv.h>

#include "base/clock.h"
#include "crier/error.h"

#define START_MS CLOCK_TEST_DEFAULT_START_MS
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* What the timers of one test did: their tags in the order they ran. */
struct record {
    char tags[16];
    int count;
};

/* One timer's callback argument. */
struct shot {
    struct record *record;
    char tag;
};


static void
on_shot(void *arg)
{
    struct shot *s = arg;

    if (s->record->count < (int) sizeof(s->record->tags) - 1)
        s->record->tags[s->record->count] = s->tag;
    s->record->count++;
}


static int
loop_open(void **state)
{
    uv_loop_t *loop = malloc(sizeof(*loop));

    if (loop == NULL || uv_loop_init(loop) != 0) {
        free(loop);
        return -1;
    }
    if (clock_init(loop, 1, START_MS) != 0) {
        uv_loop_close(loop);
        free(loop);
        return -1;
    }
    *state = loop;
    return 0;
}


/* Closes the clock, lets its handle close and checks the loop is empty. */
static int
loop_close(void **state)
{
    uv_loop_t *loop = *state;
    int rc;

    clock_close();
    uv_run(loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(loop);
    free(loop);
    if (rc != 0)
        print_error("uv_loop_close: %s\n", uv_strerror(rc));
    return rc == 0 ? 0 : -1;
}


static void
start_time(void **state)
{
    assert_true(clock_is_test());
    assert_int_equal(clock_now_ms(), START_MS);
    assert_int_equal(uv_run(*state, UV_RUN_NOWAIT), 0);
    assert_int_equal(clock_now_ms(), START_MS);
}


static void
set_runs_due_in_order(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'}, b = {&rec, 'b'}, c = {&rec, 'c'};
    struct shot d = {&rec, 'd'}, e = {&rec, 'e'};

    /* Started out of order; b and d are due at the same time. */
    assert_non_null(timer_start(3000, on_shot, &c));
    assert_non_null(timer_start(1000, on_shot, &a));
    assert_non_null(timer_start(2000, on_shot, &b));
    assert_non_null(timer_start(2000, on_shot, &d));
    assert_non_null(timer_start(9000, on_shot, &e));

    assert_int_equal(clock_set_ms(START_MS + 999), 0);
    assert_int_equal(rec.count, 0);

    assert_int_equal(clock_set_ms(START_MS + 3000), 0);
    assert_int_equal(clock_now_ms(), START_MS + 3000);
    assert_int_equal(rec.count, 4);
    assert_string_equal(rec.tags, "abdc");

    /* The later timer waits for its time, even across loop turns. */
    uv_run(*state, UV_RUN_NOWAIT);
    assert_int_equal(rec.count, 4);
    assert_int_equal(clock_set_ms(START_MS + 9000), 0);
    assert_int_equal(rec.count, 5);
    assert_string_equal(rec.tags, "abdce");
}


static void
set_backwards_rejected(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'};

    assert_int_equal(clock_set_ms(START_MS + 5000), 0);
    assert_non_null(timer_start(1000, on_shot, &a));
    assert_int_equal(clock_set_ms(START_MS + 4999), CRIER_EINVAL);
    assert_int_equal(clock_now_ms(), START_MS + 5000);
    assert_int_equal(rec.count, 0);

    /* Setting the same time again is allowed and runs nothing new. */
    assert_int_equal(clock_set_ms(START_MS + 5000), 0);
    assert_int_equal(rec.count, 0);
    assert_int_equal(clock_set_ms(START_MS + 6000), 0);
    assert_int_equal(rec.count, 1);
}


static void
timer_stop_cancels(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'}, b = {&rec, 'b'}, c = {&rec, 'c'};
    struct crier_timer *tb;

    assert_non_null(timer_start(1000, on_shot, &a));
    tb = timer_start(2000, on_shot, &b);
    assert_non_null(tb);
    assert_non_null(timer_start(3000, on_shot, &c));
    timer_stop(tb);
    timer_stop(NULL);

    assert_int_equal(clock_set_ms(START_MS + 10000), 0);
    assert_int_equal(rec.count, 2);
    assert_string_equal(rec.tags, "ac");
}


static void
zero_delay_next_turn(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'}, b = {&rec, 'b'};

    assert_non_null(timer_start(0, on_shot, &a));
    assert_non_null(timer_start(-50, on_shot, &b));
    assert_int_equal(rec.count, 0);

    uv_run(*state, UV_RUN_NOWAIT);
    assert_int_equal(rec.count, 2);
    assert_string_equal(rec.tags, "ab");
    assert_int_equal(clock_now_ms(), START_MS);
}


/* A timer in the future never fires by itself, because the test clock
 * does not move on its own. */
static void
future_waits_for_set(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'};

    assert_non_null(timer_start(1, on_shot, &a));
    assert_int_equal(uv_run(*state, UV_RUN_NOWAIT), 0);
    assert_int_equal(rec.count, 0);
    assert_int_equal(clock_set_ms(START_MS + 1), 0);
    assert_int_equal(rec.count, 1);
}


/* A pending timer is dropped by clock_close and its memory freed. */
static void
close_drops_pending(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'};

    assert_non_null(timer_start(1000, on_shot, &a));
    assert_non_null(timer_start(0, on_shot, &a));
    clock_close();
    uv_run(*state, UV_RUN_DEFAULT);
    assert_int_equal(rec.count, 0);
}


/*
 * Callbacks run after the clock has moved: a timer started by one counts
 * its delay from the new time. A zero delay still runs in the same
 * clock_set_ms, after the timers that were due before it.
 */
static struct shot chained_now;
static struct shot chained_later;


static void
on_chain(void *arg)
{
    on_shot(arg);
    assert_int_equal(clock_now_ms(), START_MS + 2000);
    assert_non_null(timer_start(0, on_shot, &chained_now));
    assert_non_null(timer_start(500, on_shot, &chained_later));
}


static void
callback_starts_timer(void **state)
{
    struct record rec = {{0}, 0};
    struct shot a = {&rec, 'a'}, c = {&rec, 'c'};

    chained_now.record = &rec;
    chained_now.tag = 'b';
    chained_later.record = &rec;
    chained_later.tag = 'd';
    assert_non_null(timer_start(1000, on_chain, &a));
    assert_non_null(timer_start(1700, on_shot, &c));
    assert_int_equal(clock_set_ms(START_MS + 2000), 0);
    assert_int_equal(rec.count, 3);
    assert_string_equal(rec.tags, "acb");
    assert_int_equal(clock_set_ms(START_MS + 2499), 0);
    assert_int_equal(rec.count, 3);
    assert_int_equal(clock_set_ms(START_MS + 2500), 0);
    assert_int_equal(rec.count, 4);
    assert_string_equal(rec.tags, "acbd");
}


static void
host_clock(void **state)
{
    uv_loop_t loop;
    int64_t before, now;

    assert_int_equal(uv_loop_init(&loop), 0);
    before = (int64_t) time(NULL) * 1000;
    assert_int_equal(clock_init(&loop, 0, 0), 0);
    assert_false(clock_is_test());
    now = clock_now_ms();
    assert_true(now >= before);
    assert_true(now <= before + 5000);
    assert_int_equal(clock_set_ms(now + 1000), CRIER_ENOTSUP);
    clock_close();
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}


struct time_case {
    const char *text;
    int64_t ms;
};


static void
parse_rfc3339_valid(void **state)
{
    static const struct time_case cases[] = {
        {"2026-01-01T00:00:00Z", START_MS},
        {"2026-01-01T00:00:00+00:00", START_MS},
        {"2026-01-01T00:00:00-00:00", START_MS},
        {"2026-01-01T01:30:00+01:30", START_MS},
        {"2025-12-31T19:00:00-05:00", START_MS},
        {"2026-01-01T00:00:00.5Z", START_MS + 500},
        {"2026-01-01T00:00:00.250Z", START_MS + 250},
        {"2026-01-01T00:00:00.123Z", START_MS + 123},
        {"2026-01-01T00:00:00.001Z", START_MS + 1},
        {"2026-01-01T00:00:00.999999Z", START_MS + 999},
        {"2026-01-01T02:00:00.750+02:00", START_MS + 750},
        {"2014-07-29T14:11:58-05:00", INT64_C(1406661118000)},
        {"1970-01-01T00:00:00Z", 0},
        {"1969-12-31T23:59:59.500Z", -500},
        {"2024-02-29T12:00:00Z", INT64_C(1709208000000)},
        {"2016-12-31T23:59:60Z", INT64_C(1483228799999)},
        {"2016-12-31T23:59:60.250Z", INT64_C(1483228799999)},
        {"0001-01-01T00:00:00Z", CLOCK_MIN_MS},
        {"0001-01-01T00:00:00-14:00", CLOCK_MIN_MS + 14 * 3600 * 1000},
        {"9999-12-31T23:59:59.999Z", CLOCK_MAX_MS},
        {"9999-12-31T23:59:59+14:00", CLOCK_MAX_MS - 14 * 3600 * 1000 - 999},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = -1;
        int rc = clock_parse_rfc3339(cases[i].text, &ms);

        if (rc != 0 || ms != cases[i].ms)
            print_error("%s: rc %d, ms %lld\n", cases[i].text, rc,
                        (long long) ms);
        assert_int_equal(rc, 0);
        assert_int_equal(ms, cases[i].ms);
    }
}


static void
parse_rfc3339_invalid(void **state)
{
    static const char *const cases[] = {
        "",
        "now",
        "2026-01-01",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.000",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00X",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T25:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:00Z trailing",
        "2026-01-01T00:00+01:00",
        "2026-01-01T00:00:00.Z",
        "+2026-01-01T00:00:00Z",
        "2016-06-15T10:00:61Z",
        "2016-06-15T10:00:99Z",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999-00:01",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00.999+00:01",
        "0000-12-31T23:59:59Z",
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = 42;
        int rc = clock_parse_rfc3339(cases[i], &ms);

        if (rc != CRIER_EINVAL)
            print_error("\"%s\" was accepted as %lld\n", cases[i],
                        (long long) ms);
        assert_int_equal(rc, CRIER_EINVAL);
        assert_int_equal(ms, 42);
    }
}


/* RFC 3339, section 5.6, allows "t" and "z" in lowercase. */
static void
parse_rfc3339_lowercase(void **state)
{
    static const struct time_case cases[] = {
        {"2026-01-01t00:00:00Z", START_MS},
        {"2026-01-01T00:00:00z", START_MS},
        {"2026-01-01t00:00:00.250z", START_MS + 250},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = -1;
        int rc = clock_parse_rfc3339(cases[i].text, &ms);

        if (rc != 0)
            print_error("\"%s\" was rejected\n", cases[i].text);
        assert_int_equal(rc, 0);
        assert_int_equal(ms, cases[i].ms);
    }
}


/* ISO 8601 forms that GLib reads but the grammar of RFC 3339 excludes. */
static void
parse_rfc3339_iso_only(void **state)
{
    static const char *const cases[] = {
        "2026-01-01T00:00:00+0100",
        "2026-01-01T00:00:00+01",
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00,5Z",
        "2026-W01-4T00:00:00Z",
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = 42;
        int rc = clock_parse_rfc3339(cases[i], &ms);

        if (rc != CRIER_EINVAL)
            print_error("\"%s\" was accepted as %lld\n", cases[i],
                        (long long) ms);
        assert_int_equal(rc, CRIER_EINVAL);
        assert_int_equal(ms, 42);
    }
}


static void
parse_duration_valid(void **state)
{
    static const struct time_case cases[] = {
        {"500ms", 500},
        {"0ms", 0},
        {"15s", 15000},
        {"90m", 90 * 60000},
        {"36h", INT64_C(36) * 3600000},
        {"2d", INT64_C(2) * 86400000},
        {"1.5h", 5400000},
        {"0.5s", 500},
        {"365d", INT64_C(365) * 86400000},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = -1;

        if (clock_parse_duration(cases[i].text, &ms) != 0)
            print_error("\"%s\" was rejected\n", cases[i].text);
        assert_int_equal(clock_parse_duration(cases[i].text, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}


static void
parse_duration_invalid(void **state)
{
    static const char *const cases[] = {
        "",
        "5",
        "s",
        "-1s",
        "1w",
        "5 s",
        "5sec",
        "5S",
        "1h30m",
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = 42;
        int rc = clock_parse_duration(cases[i], &ms);

        if (rc != CRIER_EINVAL)
            print_error("\"%s\" was accepted as %lld\n", cases[i],
                        (long long) ms);
        assert_int_equal(rc, CRIER_EINVAL);
        assert_int_equal(ms, 42);
    }
}


/* strtod reads "inf" and "nan", and 1e300 days overflow int64_t. */
static void
parse_duration_not_finite(void **state)
{
    static const char *const cases[] = {
        "infs",
        "nanms",
        "1e300d",
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        int64_t ms = 42;
        int rc = clock_parse_duration(cases[i], &ms);

        if (rc != CRIER_EINVAL)
            print_error("\"%s\" was accepted as %lld\n", cases[i],
                        (long long) ms);
        assert_int_equal(rc, CRIER_EINVAL);
        assert_int_equal(ms, 42);
    }
}


static void
format_ms(void **state)
{
    static const struct time_case cases[] = {
        {"2026-01-01T00:00:00.000Z", START_MS},
        {"2026-01-01T00:00:00.123Z", START_MS + 123},
        {"2014-07-29T19:11:58.000Z", INT64_C(1406661118000)},
        {"1970-01-01T00:00:00.000Z", 0},
        {"1970-01-01T00:00:00.001Z", 1},
        {"1969-12-31T23:59:59.999Z", -1},
        {"1969-12-31T23:59:59.000Z", -1000},
        {"1969-12-31T23:59:58.500Z", -1500},
        {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
    };
    char buf[25];

    for (size_t i = 0; i < COUNT(cases); i++) {
        clock_format_ms(cases[i].ms, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].text);
    }
}


/* What clock_format_ms writes, clock_parse_rfc3339 reads back. */
static void
format_parse_round_trip(void **state)
{
    static const int64_t values[] = {
        START_MS, START_MS + 7, -1, -999, INT64_C(951782400123),
    };
    char buf[25];

    for (size_t i = 0; i < COUNT(values); i++) {
        int64_t ms = 0;

        clock_format_ms(values[i], buf, sizeof(buf));
        assert_int_equal(clock_parse_rfc3339(buf, &ms), 0);
        assert_int_equal(ms, values[i]);
    }
}


/* The version comes from the system's tzdata.zi, as "2025b" or the like,
 * or is "unknown" where the file is missing. */
static void
tzdata_version_read(void **state)
{
    char version[32];

    clock_tzdata_version(version, sizeof(version));
    if (access("/usr/share/zoneinfo/tzdata.zi", R_OK) != 0) {
        assert_string_equal(version, "unknown");
        return;
    }
    assert_true(strlen(version) >= 5);
    assert_true(version[0] == '2');
    assert_true(strspn(version, "0123456789") == 4);
}


int
main(void)
{
    const struct CMUnitTest timers[] = {
        cmocka_unit_test_setup_teardown(start_time, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(set_runs_due_in_order, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(set_backwards_rejected, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(timer_stop_cancels, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(zero_delay_next_turn, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(future_waits_for_set, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(close_drops_pending, loop_open,
                                        loop_close),
        cmocka_unit_test_setup_teardown(callback_starts_timer, loop_open,
                                        loop_close),
        cmocka_unit_test(host_clock),
    };
    const struct CMUnitTest text[] = {
        cmocka_unit_test(parse_rfc3339_valid),
        cmocka_unit_test(parse_rfc3339_invalid),
        cmocka_unit_test(parse_rfc3339_lowercase),
        cmocka_unit_test(parse_rfc3339_iso_only),
        cmocka_unit_test(parse_duration_valid),
        cmocka_unit_test(parse_duration_invalid),
        cmocka_unit_test(parse_duration_not_finite),
        cmocka_unit_test(format_ms),
        cmocka_unit_test(format_parse_round_trip),
        cmocka_unit_test(tzdata_version_read),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("clock timers", timers, NULL,
                                          NULL);
    failed += cmocka_run_group_tests_name("clock text", text, NULL, NULL);
    return failed > 0;
}
