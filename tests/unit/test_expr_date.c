/*
 * Tests of date arithmetic in expressions (core/rules/expr_date.c and
 * expr_duration.c): `+` and `-` with a duration on dates and instants,
 * now(), the profile's zone with the agency default behind it, and
 * comparisons between a date and an instant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/clock.h"
#include "rules/expr.h"
#include "time/civil.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-03-07 12:00 America/Chicago (CST), the day before spring forward. */
#define VIEW_MS 1772906400000LL


static int64_t
instant(const char *rfc3339)
{
    int64_t ms = 0;

    if (clock_parse_rfc3339(rfc3339, &ms) != 0) {
        fail_msg("bad test instant %s", rfc3339);
    }
    return ms;
}


/* Returns a context whose profile has `zone` (or none when NULL) and the
 * attributes `due` and `born`, with "now" at `now_ms`. */
static json_t *
context(const char *zone, int64_t now_ms)
{
    json_t *ctx = json_pack("{s:{s:s,s:{s:s,s:s,s:I}},s:I}", "profile",
                            "id", "p_1", "attributes", "due_date",
                            "2026-03-20", "birth_date", "2025-06-01",
                            "viewed", (json_int_t) VIEW_MS, "now",
                            (json_int_t) now_ms);
    json_t *attributes = json_object_get(json_object_get(ctx, "profile"),
                                         "attributes");

    if (zone != NULL) {
        json_object_set_new(attributes, "timezone", json_string(zone));
    }
    return ctx;
}


/* Evaluates `src` in `ctx` and returns its value as compact JSON, which
 * the caller frees. */
static char *
eval_text(const char *src, const json_t *ctx)
{
    struct expr_error err;
    struct expr *e = expr_parse(src, &err);
    json_t *value;
    char *text;

    if (e == NULL) {
        fail_msg("%s: %d:%d: %s", src, err.line, err.col, err.message);
    }
    value = expr_eval(e, ctx);
    text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(value);
    expr_free(e);
    return text;
}


static void
assert_eval(const char *src, const json_t *ctx, const char *expected)
{
    char *text = eval_text(src, ctx);

    if (strcmp(text, expected) != 0) {
        fail_msg("%s: got %s, expected %s", src, text, expected);
    }
    free(text);
}


static void
assert_eval_ms(const char *src, const json_t *ctx, const char *expected)
{
    char text[32];

    snprintf(text, sizeof(text), "%lld", (long long) instant(expected));
    assert_eval(src, ctx, text);
}


static void
dates_stay_dates(void **state)
{
    static const struct {
        const char *src;
        const char *expected;
    } cases[] = {
        { "'2025-06-01' + 6 months", "\"2025-12-01\"" },
        { "profile.birth_date + 6 months", "\"2025-12-01\"" },
        { "'2025-01-31' + 1 month", "\"2025-02-28\"" },
        { "'2024-01-31' + 1 month", "\"2024-02-29\"" },
        { "'2024-02-29' + 1 year", "\"2025-02-28\"" },
        { "'2024-02-29' - 1 year", "\"2023-02-28\"" },
        { "profile.due_date - 30 days", "\"2026-02-18\"" },
        { "'2025-12-29' + 1 week", "\"2026-01-05\"" },
        { "'2025-01-31' + 1 month + 1 month", "\"2025-03-28\"" },
        { "'2025-01-31' + 2 months", "\"2025-03-31\"" },
        { "'2025-06-01' + 0 days", "\"2025-06-01\"" },
        { "'2025-06-01' + 2 hours", "null" },
        { "'2025-06-01' - 90 minutes", "null" },
        { "'9999-12-31' + 1 day", "null" },
        { "'2026-02-29' + 1 day", "null" },
        { "'June 1' + 1 day", "null" },
        { "true + 1 day", "null" },
        { "profile.missing + 1 day", "null" },
        { "1.5 + 1 day", "null" },
    };
    json_t *ctx = context(NULL, VIEW_MS);

    (void) state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        assert_eval(cases[i].src, ctx, cases[i].expected);
    }
    json_decref(ctx);
}


/* The page view of docs/time.md in America/Chicago: 22 hours is elapsed
 * time across the change, while 1 day keeps the wall time. */
static void
instants_in_profile_zone(void **state)
{
    json_t *ctx = context("America/Chicago", VIEW_MS);

    (void) state;
    assert_eval_ms("profile.viewed", ctx, "2026-03-07T18:00:00Z");
    assert_eval_ms("profile.viewed + 22 hours", ctx, "2026-03-08T16:00:00Z");
    assert_eval_ms("profile.viewed + 1 day", ctx, "2026-03-08T17:00:00Z");
    assert_eval_ms("profile.viewed + 24 hours", ctx,
                   "2026-03-08T18:00:00Z");
    assert_eval_ms("profile.viewed - 90 minutes", ctx,
                   "2026-03-07T16:30:00Z");
    assert_eval_ms("profile.viewed + 1 month", ctx, "2026-04-07T17:00:00Z");
    assert_eval_ms("profile.viewed + 2 weeks - 1 year", ctx,
                   "2025-03-21T17:00:00Z");
    json_decref(ctx);
}


/* The pipeline's profile is flattened: attributes are its members. */
static void
flattened_profile_zone(void **state)
{
    json_t *ctx = json_pack("{s:{s:s,s:s,s:I},s:I}", "profile", "id", "p_1",
                            "timezone", "America/Chicago", "viewed",
                            (json_int_t) VIEW_MS, "now",
                            (json_int_t) VIEW_MS);

    (void) state;
    assert_eval_ms("profile.viewed + 1 day", ctx, "2026-03-08T17:00:00Z");
    assert_eval("'2026-03-08' == 1772949600000", ctx, "true");
    json_decref(ctx);
}


/* Without a valid zone of its own a profile takes the agency default. */
static void
instants_in_default_zone(void **state)
{
    json_t *none = context(NULL, VIEW_MS);
    json_t *unknown = context("Mars/Olympus", VIEW_MS);
    json_t *number = context(NULL, VIEW_MS);

    (void) state;
    json_object_set_new(json_object_get(json_object_get(number, "profile"),
                                        "attributes"),
                        "timezone", json_integer(5));

    assert_int_equal(civil_zone_set_default("UTC"), 0);
    assert_eval_ms("profile.viewed + 1 day", none, "2026-03-08T18:00:00Z");

    assert_int_equal(civil_zone_set_default("America/New_York"), 0);
    assert_eval_ms("profile.viewed + 1 day", none, "2026-03-08T17:00:00Z");
    assert_eval_ms("profile.viewed + 1 day", unknown,
                   "2026-03-08T17:00:00Z");
    assert_eval_ms("profile.viewed + 1 day", number,
                   "2026-03-08T17:00:00Z");

    assert_int_equal(civil_zone_set_default("UTC"), 0);
    json_decref(none);
    json_decref(unknown);
    json_decref(number);
}


static void
now_reads_clock(void **state)
{
    json_t *ctx = context(NULL, VIEW_MS);
    json_t *bare = json_object();

    (void) state;
    assert_eval("now()", ctx, "1772906400000");
    assert_eval_ms("now() - 2 weeks", ctx, "2026-02-21T18:00:00Z");
    assert_eval("now()", bare, "null");
    assert_eval("now() + 1 day", bare, "null");
    json_decref(ctx);
    json_decref(bare);
}


/* A date compared with an instant is 00:00 of that day in the profile's
 * zone, here 2026-03-20 05:00Z (CDT). */
static void
date_against_instant(void **state)
{
    static const struct {
        int64_t now;
        const char *src;
        const char *expected;
    } cases[] = {
        { 1773982800000LL, "profile.due_date == now()", "true" },
        { 1773982800000LL, "now() == profile.due_date", "true" },
        { 1773982800000LL, "profile.due_date <= now()", "true" },
        { 1773982800000LL - 1, "profile.due_date > now()", "true" },
        { 1773982800000LL - 1, "profile.due_date != now()", "true" },
        { 1773982800000LL - 1, "now() < profile.due_date", "true" },
        { 1773982800000LL + 1, "profile.due_date < now()", "true" },
        { 1773982800000LL + 1, "profile.due_date == now()", "false" },
        /* due_date - 2 weeks is 2026-03-06, 00:00 CST, 06:00Z */
        { 1772776800000LL, "profile.due_date - 2 weeks <= now()", "true" },
        { 1772776800000LL - 1, "profile.due_date - 2 weeks < now()",
          "false" },
        /* Two dates still compare as strings, in calendar order. */
        { 0, "profile.birth_date + 6 months == '2025-12-01'", "true" },
        { 0, "profile.birth_date < profile.due_date", "true" },
        /* A string that is no date keeps the rule for mixed types. */
        { 0, "'soon' < now()", "false" },
        { 0, "'soon' != now()", "true" },
    };

    (void) state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_t *ctx = context("America/Chicago", cases[i].now);

        assert_eval(cases[i].src, ctx, cases[i].expected);
        json_decref(ctx);
    }
}


static void
shift_binds_tighter(void **state)
{
    json_t *ctx = context(NULL, VIEW_MS);

    (void) state;
    assert_eval("profile.due_date - 2 weeks < '2026-03-07' && true", ctx,
                "true");
    assert_eval("profile.viewed + 1 day > profile.viewed", ctx, "true");
    assert_eval("event.x == -7", ctx, "false");
    assert_eval("(profile.birth_date + 1 year) - 1 day", ctx,
                "\"2026-05-31\"");
    json_decref(ctx);
}


static void
shift_chain_capped(void **state)
{
    char src[512] = "profile.birth_date";
    struct expr_error err;
    struct expr *e;

    (void) state;
    for (int i = 0; i < 16; i++) {
        strcat(src, " + 1 day");
    }
    e = expr_parse(src, &err);
    assert_non_null(e);
    expr_free(e);

    strcat(src, " + 1 day");
    e = expr_parse(src, &err);
    assert_null(e);
    assert_string_equal(err.message, "more than 16 durations added in a "
                        "row");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates_stay_dates),
        cmocka_unit_test(instants_in_profile_zone),
        cmocka_unit_test(flattened_profile_zone),
        cmocka_unit_test(instants_in_default_zone),
        cmocka_unit_test(now_reads_clock),
        cmocka_unit_test(date_against_instant),
        cmocka_unit_test(shift_binds_tighter),
        cmocka_unit_test(shift_chain_capped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
