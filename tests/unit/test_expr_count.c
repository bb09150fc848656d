/*
 * Tests of count(condition, window) in core/rules/expr_count.c and
 * expr_call.c: windows and their boundaries, the current event, history
 * that is missing or out of order, `event` and `case` inside the
 * condition, and the parse errors of windows and nesting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "rules/expr.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define DAY_MS (86400LL * 1000)
#define NOW_MS 1767225600000LL

struct error_case {
    const char *src;
    int col;
    const char *message;
};


static struct expr *
parse_ok(const char *src)
{
    struct expr_error err;
    struct expr *e = expr_parse(src, &err);

    if (e == NULL) {
        fail_msg("%s: %d:%d: %s", src, err.line, err.col, err.message);
    }
    return e;
}


/* Returns a history entry, a row of events_read, at `time` for a page
 * view of `url`. */
static json_t *
view(int64_t seq, int64_t time, const char *url)
{
    return json_pack("{s:I,s:s,s:I,s:{s:s,s:{s:s}}}", "seq",
                     (json_int_t) seq, "type", "page_view", "time",
                     (json_int_t) time, "event", "type", "page_view",
                     "properties", "url", url);
}


/*
 * Builds the context of a current view of `url` at NOW_MS, whose
 * history is `history` (taken over) with the current event first.
 */
static json_t *
context_with(json_t *history, const char *url)
{
    json_t *current = view(100, NOW_MS, url);

    json_array_insert(history, 0, current);
    json_t *ctx = json_pack("{s:O,s:{s:s},s:o,s:I,s:I}", "event",
                            json_object_get(current, "event"), "profile",
                            "id", "p_1", "history", history, "time",
                            (json_int_t) NOW_MS, "now",
                            (json_int_t) NOW_MS + 5 * DAY_MS);

    json_decref(current);
    return ctx;
}


/* Evaluates `src` in `ctx` and returns its integer value, -1 if none. */
static long long
count_of(const char *src, const json_t *ctx)
{
    struct expr *e = parse_ok(src);
    json_t *value = expr_eval(e, ctx);
    long long count = json_is_integer(value) ? json_integer_value(value)
                                             : -1;

    json_decref(value);
    expr_free(e);
    return count;
}


static void
count_current_event_counts(void **state)
{
    json_t *ctx = context_with(json_array(), "/benefits/snap/apply");
    struct expr *rule = parse_ok("count(event.properties.url ~ '/apply', "
                                 "7 days) >= 2");

    (void) state;
    assert_int_equal(count_of("count(event.type == 'page_view', 7 days)",
                              ctx), 1);
    assert_false(expr_test(rule, ctx));

    /* A second matching view makes the rule true. */
    json_array_append_new(json_object_get(ctx, "history"),
                          view(99, NOW_MS - DAY_MS, "/benefits/snap/apply"));
    assert_true(expr_test(rule, ctx));
    expr_free(rule);
    json_decref(ctx);
}


static void
count_window_boundary(void **state)
{
    json_t *history = json_array();
    json_t *ctx;

    (void) state;
    json_array_append_new(history, view(3, NOW_MS - 7 * DAY_MS, "/a"));
    json_array_append_new(history, view(2, NOW_MS - 7 * DAY_MS - 1, "/a"));
    json_array_append_new(history, view(1, NOW_MS - 30 * DAY_MS, "/a"));
    ctx = context_with(history, "/a");

    /* An event exactly one window old counts, a millisecond older not. */
    assert_int_equal(count_of("count(event.properties.url == '/a', "
                              "7 days)", ctx), 2);
    assert_int_equal(count_of("count(true, 1 week)", ctx), 2);
    assert_int_equal(count_of("count(true, 30 days)", ctx), 4);
    assert_int_equal(count_of("count(true, 168 hours)", ctx), 2);
    assert_int_equal(count_of("count(true, 1 minute)", ctx), 1);
    json_decref(ctx);
}


static void
count_later_event_excluded(void **state)
{
    json_t *history = json_array();
    json_t *ctx;

    (void) state;
    /* An event stored earlier but with a later time is not in the past
     * of the current event. */
    json_array_append_new(history, view(101, NOW_MS + 1, "/a"));
    ctx = context_with(history, "/a");
    assert_int_equal(count_of("count(true, 7 days)", ctx), 1);
    json_decref(ctx);
}


static void
count_without_history(void **state)
{
    json_t *ctx = json_pack("{s:{s:s},s:{}}", "event", "type", "page_view",
                            "profile");
    json_t *no_time = json_pack("{s:[]}", "history");

    (void) state;
    assert_int_equal(count_of("count(true, 7 days)", ctx), 0);
    assert_int_equal(count_of("count(true, 7 days)", no_time), 0);
    json_decref(ctx);
    json_decref(no_time);
}


static void
count_window_ends_at_now(void **state)
{
    json_t *history = json_array();
    json_t *ctx;

    (void) state;
    json_array_append_new(history, view(2, NOW_MS, "/a"));
    json_array_append_new(history, view(1, NOW_MS - 10 * DAY_MS, "/a"));

    /* A segment has no current event, so the window ends at "now". */
    ctx = json_pack("{s:n,s:{},s:o,s:I}", "event", "profile", "history",
                    history, "now", (json_int_t) NOW_MS + 5 * DAY_MS);
    assert_int_equal(count_of("count(true, 7 days)", ctx), 1);
    assert_int_equal(count_of("count(true, 15 days)", ctx), 2);
    json_decref(ctx);
}


static void
count_condition_reads_past_event(void **state)
{
    json_t *history = json_array();
    json_t *past = view(1, NOW_MS - DAY_MS, "/recalls/cribs");
    json_t *ctx;

    (void) state;
    json_object_set_new(json_object_get(json_object_get(past, "event"),
                                        "properties"),
                        "case", json_pack("{s:s}", "status", "open"));
    json_array_append_new(history, past);
    ctx = context_with(history, "/home");

    assert_int_equal(count_of("count(event.properties.url ~ '^/recalls/', "
                              "2 days)", ctx), 1);
    assert_int_equal(count_of("count(case.status == 'open', 2 days)", ctx),
                     1);
    /* `profile` is the profile itself, and the current event counts as
     * the history entry it is. */
    assert_int_equal(count_of("count(profile.id == 'p_1', 2 days)", ctx),
                     2);
    assert_int_equal(count_of("count(event.properties.url == '/home', "
                              "2 days)", ctx), 1);
    json_decref(ctx);
}


static void
count_history_limit(void **state)
{
    json_t *history = json_array();
    json_t *ctx;

    (void) state;
    for (int i = 0; i < EXPR_HISTORY_MAX + 10; i++) {
        json_array_append_new(history, view(i, NOW_MS - i, "/a"));
    }
    ctx = context_with(history, "/a");
    assert_int_equal(count_of("count(true, 1 day)", ctx), EXPR_HISTORY_MAX);
    json_decref(ctx);
}


static void
count_inside_any(void **state)
{
    json_t *ctx = context_with(json_array(), "/a");
    struct expr *e;

    (void) state;
    json_object_set_new(json_object_get(ctx, "profile"), "dependents",
                        json_pack("[{s:s}]", "name", "kid"));
    e = parse_ok("any(profile.dependents, name == 'kid' && "
                 "count(true, 1 day) == 1)");
    assert_true(expr_test(e, ctx));
    expr_free(e);
    json_decref(ctx);
}


static void
count_window_max(void **state)
{
    struct expr *e = parse_ok("count(true, 2 weeks) > 1 || "
                              "count(true, 30 days) > 2");
    struct expr *none = parse_ok("event.type == 'x'");

    (void) state;
    assert_int_equal(expr_window_max_ms(e), 30 * DAY_MS);
    assert_int_equal(expr_window_max_ms(none), 0);
    expr_free(e);
    expr_free(none);
}


static void
count_parse_errors(void **state)
{
    static const struct error_case cases[] = {
        {"count(event.type == 'x') > 1", 24,
         "count() needs a window after the condition, such as "
         "count(condition, 30 days)"},
        {"count(true, 30) > 1", 15,
         "expected a unit of the count() window (minutes, hours, days or "
         "weeks), found ')'"},
        {"count(true, 3 months) > 1", 15,
         "a count() window cannot be in months or years, which vary in "
         "length; write days or weeks, such as 30 days"},
        {"count(true, 1 year) > 1", 15,
         "a count() window cannot be in months or years, which vary in "
         "length; write days or weeks, such as 30 days"},
        {"count(true, 2 fortnights)", 15,
         "expected a unit of the count() window (minutes, hours, days or "
         "weeks), found 'fortnights'"},
        {"count(true, 0 days)", 13,
         "a count() window is a whole number of at least 1 and a unit, "
         "such as 30 days"},
        {"count(true, 1.5 days)", 13,
         "a count() window is a whole number of at least 1 and a unit, "
         "such as 30 days"},
        {"count(true, -1 days)", 13,
         "expected a window such as 30 days in count(condition, window), "
         "found '-'"},
        {"count(true, event.days)", 13,
         "expected a window such as 30 days in count(condition, window), "
         "found 'event'"},
        {"count(true, 367 days)", 13, "a count() window is at most 366 days"},
        {"count(true, 53 weeks)", 13, "a count() window is at most 366 days"},
        {"count(true, 7 days, 1)", 19,
         "expected ')' after the window in count(condition, window)"},
        {"count(count(true, 1 day) > 1, 7 days)", 7,
         "count() cannot be nested in the condition of another count()"},
        {"any(profile.dependents, count(name == 'x', 1 day) > 0)", 31,
         "unknown name 'name'; a field starts with event., profile. or "
         "case."},
    };
    struct expr_error err;
    struct expr *e;

    (void) state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        e = expr_parse(cases[i].src, &err);
        if (e != NULL || err.col != cases[i].col
            || strcmp(err.message, cases[i].message) != 0) {
            print_error("expression: %s\ngot %d:%d: %s\n", cases[i].src,
                        err.line, err.col, err.message);
        }
        assert_null(e);
        assert_int_equal(err.line, 1);
        assert_int_equal(err.col, cases[i].col);
        assert_string_equal(err.message, cases[i].message);
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_current_event_counts),
        cmocka_unit_test(count_window_boundary),
        cmocka_unit_test(count_later_event_excluded),
        cmocka_unit_test(count_without_history),
        cmocka_unit_test(count_window_ends_at_now),
        cmocka_unit_test(count_condition_reads_past_event),
        cmocka_unit_test(count_history_limit),
        cmocka_unit_test(count_inside_any),
        cmocka_unit_test(count_window_max),
        cmocka_unit_test(count_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
