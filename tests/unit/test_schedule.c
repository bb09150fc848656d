/*
 * Tests of core/schedule: checking definitions, the next due time of
 * each kind of schedule at the calendar's edges, and the plan rows of a
 * profile with its catch-up policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <crier/error.h>

#include "base/clock.h"
#include "schedule/schedule.h"


static int64_t
instant(const char *rfc3339)
{
    int64_t ms = 0;

    if (clock_parse_rfc3339(rfc3339, &ms) != 0)
        fail_msg("bad test instant %s", rfc3339);
    return ms;
}


/* Defines a schedule of source "dates" from libconfig-like JSON text. */
static int
define(const char *text, struct crier_input_error *err)
{
    json_t *config = json_loads(text, 0, NULL);
    int rc;

    assert_non_null(config);
    memset(err, 0, sizeof(*err));
    rc = schedule_define("dates", config, err);
    json_decref(config);
    return rc;
}


static const struct schedule_def *
defined(const char *text)
{
    struct crier_input_error err;
    json_t *config = json_loads(text, 0, NULL);
    const char *name = json_string_value(json_object_get(config, "name"));
    const struct schedule_def *def;

    assert_int_equal(define(text, &err), 0);
    def = schedule_find("dates", name);
    json_decref(config);
    assert_non_null(def);
    return def;
}


static int
teardown(void **state)
{
    (void) state;
    schedule_defs_clear();
    return 0;
}


/* Returns the next due time of `def` for `value` in `zone` from `from`
 * as RFC 3339 text in a static buffer. */
static const char *
next_due(const struct schedule_def *def, const char *value,
         const char *zone, const char *from)
{
    static char text[40];
    GTimeZone *tz = civil_zone_open(zone);
    int64_t due = 0;

    assert_non_null(tz);
    assert_int_equal(schedule_next_due(def, value, tz, instant(from), &due),
                     0);
    g_time_zone_unref(tz);
    clock_format_ms(due, text, sizeof(text));
    return text;
}


static void
define_rejects_bad_keys(void **state)
{
    static const struct {
        const char *config;
        const char *field;
    } cases[] = {
        { "{\"date\": \"profile.x\", \"at\": \"09:00\"}", "name" },
        { "{\"name\": \"a b\", \"date\": \"profile.x\", \"at\": \"09:00\"}",
          "name" },
        { "{\"name\": \"a\", \"at\": \"09:00\"}", "date" },
        { "{\"name\": \"a\", \"date\": \"children.x\", \"at\": \"09:00\"}",
          "date" },
        { "{\"name\": \"a\", \"date\": \"profile.x\"}", "at" },
        { "{\"name\": \"a\", \"date\": \"profile.x\", \"at\": \"25:00\"}",
          "at" },
        { "{\"name\": \"a\", \"date\": \"profile.x\", \"at\": \"09:00\","
          " \"offset\": \"6 moons\"}", "offset" },
        { "{\"name\": \"a\", \"date\": \"profile.x\", \"at\": \"09:00\","
          " \"offset\": \"3 hours\"}", "offset" },
        { "{\"name\": \"a\", \"date\": \"profile.x\", \"at\": \"09:00\","
          " \"repeat\": \"monthly\"}", "repeat" },
        { "{\"name\": \"a\", \"date\": \"profile.created\","
          " \"repeat\": \"yearly\"}", "at" },
        { "{\"name\": \"a\", \"date\": \"profile.x\", \"at\": \"09:00\","
          " \"catch_up\": \"2 months\"}", "catch_up" },
    };
    struct crier_input_error err;

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(define(cases[i].config, &err), CRIER_EINVAL);
        assert_string_equal(err.field, cases[i].field);
        assert_true(err.message[0] != '\0');
    }
    defined("{\"name\": \"a\", \"date\": \"profile.x\", \"at\": \"09:00\"}");
    assert_int_equal(define("{\"name\": \"a\", \"date\": \"profile.y\","
                            " \"at\": \"10:00\"}", &err), CRIER_EINVAL);
    assert_string_equal(err.field, "name");
}


static void
next_due_dates_and_edges(void **state)
{
    const struct schedule_def *six = defined(
        "{\"name\": \"six\", \"date\": \"dependents.birth_date\","
        " \"offset\": \"6 months\", \"at\": \"09:00\"}");
    const struct schedule_def *month = defined(
        "{\"name\": \"month\", \"date\": \"profile.d\","
        " \"offset\": \"1 month\", \"at\": \"09:00\"}");
    const struct schedule_def *before = defined(
        "{\"name\": \"before\", \"date\": \"cases.renewal_date\","
        " \"offset\": \"-30 days\", \"at\": \"10:00\"}");
    const struct schedule_def *gap = defined(
        "{\"name\": \"gap\", \"date\": \"profile.d\", \"at\": \"02:30\"}");
    const struct schedule_def *overlap = defined(
        "{\"name\": \"overlap\", \"date\": \"profile.d\", \"at\": \"01:30\"}");

    (void) state;
    assert_string_equal(next_due(six, "2025-06-01", "America/Chicago",
                                 "2025-06-01T00:00:00Z"),
                        "2025-12-01T15:00:00.000Z");
    /* Month ends clamp: Jan 31 + 1 month is Feb 28. */
    assert_string_equal(next_due(month, "2025-01-31", "UTC",
                                 "2025-01-01T00:00:00Z"),
                        "2025-02-28T09:00:00.000Z");
    assert_string_equal(next_due(before, "2026-03-20", "America/New_York",
                                 "2026-01-01T00:00:00Z"),
                        "2026-02-18T15:00:00.000Z");
    /* A skipped wall time reads with the offset before the change, and a
     * repeated one is the first. */
    assert_string_equal(next_due(gap, "2026-03-08", "America/New_York",
                                 "2026-01-01T00:00:00Z"),
                        "2026-03-08T07:30:00.000Z");
    assert_string_equal(next_due(overlap, "2026-11-01", "America/New_York",
                                 "2026-01-01T00:00:00Z"),
                        "2026-11-01T05:30:00.000Z");
}


static void
next_due_yearly_and_created(void **state)
{
    const struct schedule_def *yearly = defined(
        "{\"name\": \"yearly\", \"date\": \"profile.enrolled_on\","
        " \"repeat\": \"yearly\", \"at\": \"10:00\"}");
    const struct schedule_def *welcome = defined(
        "{\"name\": \"welcome\", \"date\": \"profile.created\","
        " \"offset\": \"3 days\"}");
    const struct schedule_def *hours = defined(
        "{\"name\": \"hours\", \"date\": \"profile.created\","
        " \"offset\": \"22 hours\"}");
    const struct schedule_def *noon = defined(
        "{\"name\": \"noon\", \"date\": \"profile.created\","
        " \"offset\": \"1 day\", \"at\": \"12:00\"}");
    char created[32];

    (void) state;
    assert_string_equal(next_due(yearly, "2024-03-10", "America/New_York",
                                 "2026-01-01T00:00:00Z"),
                        "2026-03-10T14:00:00.000Z");
    assert_string_equal(next_due(yearly, "2024-02-29", "America/New_York",
                                 "2026-01-01T00:00:00Z"),
                        "2026-02-28T15:00:00.000Z");
    assert_string_equal(next_due(yearly, "2024-02-29", "America/New_York",
                                 "2026-03-01T00:00:00Z"),
                        "2027-02-28T15:00:00.000Z");
    assert_string_equal(next_due(yearly, "2024-02-29", "America/New_York",
                                 "2027-03-01T00:00:00Z"),
                        "2028-02-29T15:00:00.000Z");

    /* profile.created is an instant: days keep its wall time across the
     * DST change, hours are elapsed, and with `at` its local date
     * counts. */
    snprintf(created, sizeof(created), "%lld",
             (long long) instant("2026-03-07T18:00:00Z"));
    assert_string_equal(next_due(welcome, created, "America/Chicago",
                                 "2026-03-07T18:00:00Z"),
                        "2026-03-10T17:00:00.000Z");
    assert_string_equal(next_due(hours, created, "America/Chicago",
                                 "2026-03-07T18:00:00Z"),
                        "2026-03-08T16:00:00.000Z");
    assert_string_equal(next_due(noon, created, "America/Chicago",
                                 "2026-03-07T18:00:00Z"),
                        "2026-03-08T17:00:00.000Z");
}


/* Returns the rows of the one plan entry that planning `profile` (JSON
 * text) at `now` gives. */
static json_t *
plan_rows(const char *profile, const char *now)
{
    json_t *p = json_loads(profile, 0, NULL);
    json_t *out = json_array();
    json_t *rows;

    assert_non_null(p);
    schedule_plan_profile(p, instant(now), out);
    assert_int_equal(json_array_size(out), 1);
    rows = json_incref(json_object_get(json_array_get(out, 0), "rows"));
    json_decref(out);
    json_decref(p);
    return rows;
}


/* Returns the row of (schedule, record), or NULL. */
static const json_t *
row_of(const json_t *rows, const char *schedule, const char *record)
{
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row) {
        if (strcmp(json_string_value(json_object_get(row, "schedule")),
                   schedule) == 0 &&
            strcmp(json_string_value(json_object_get(row, "record")),
                   record) == 0)
            return row;
    }
    return NULL;
}


static const char *
occurrence_of(const json_t *rows, const char *schedule, const char *record)
{
    return json_string_value(json_object_get(row_of(rows, schedule, record),
                                             "occurrence"));
}


/* Returns the row's due member, or NULL when there is no such row. */
static const json_t *
due_of(const json_t *rows, const char *schedule, const char *record)
{
    const json_t *row = row_of(rows, schedule, record);

    assert_non_null(row);
    return json_object_get(row, "due");
}


static void
plan_catch_up_and_records(void **state)
{
    json_t *rows;

    (void) state;
    defined("{\"name\": \"crib\", \"date\": \"dependents.birth_date\","
            " \"offset\": \"14 days\", \"at\": \"09:00\","
            " \"catch_up\": \"14 days\"}");
    defined("{\"name\": \"infant\", \"date\": \"dependents.birth_date\","
            " \"offset\": \"1 month\", \"at\": \"09:00\"}");
    defined("{\"name\": \"anniversary\", \"date\": \"profile.enrolled_on\","
            " \"repeat\": \"yearly\", \"at\": \"10:00\","
            " \"catch_up\": \"30 days\"}");

    /* On 2026-02-05: ava's crib date (Jan 24) is 12 days old, within its
     * catch_up, and her one-month date is ahead. Ben's crib date is 52
     * days old and his one-month date is past with "skip", so neither
     * fires. Cy has no birth date and no rows. The anniversary of Jan 20 is 16 days old, within its
     * catch_up: only that latest past year is a candidate. */
    rows = plan_rows(
        "{\"id\": \"p_1\", \"created\": 0, \"attributes\":"
        " {\"enrolled_on\": \"2020-01-20\", \"timezone\": \"UTC\"},"
        " \"related\": {\"dependents\": {"
        "   \"ava\": {\"attributes\": {\"birth_date\": \"2026-01-10\"}},"
        "   \"ben\": {\"attributes\": {\"birth_date\": \"2025-12-01\"}},"
        "   \"cy\": {\"attributes\": {}}}, \"cases\": {}}}",
        "2026-02-05T00:00:00Z");
    assert_int_equal(json_array_size(rows), 5);
    assert_string_equal(occurrence_of(rows, "crib", "dependents/ava"),
                        "2026-01-24");
    assert_true(json_is_integer(due_of(rows, "crib", "dependents/ava")));
    assert_string_equal(occurrence_of(rows, "infant", "dependents/ava"),
                        "2026-02-10");
    assert_true(json_is_integer(due_of(rows, "infant", "dependents/ava")));
    assert_string_equal(occurrence_of(rows, "anniversary", "profile"),
                        "2026-01-20");
    assert_true(json_is_integer(due_of(rows, "anniversary", "profile")));

    /* Ben's rows are listed, so a stored row of the same basis stays as
     * it is, but with no due time they never fire. */
    assert_true(json_is_null(due_of(rows, "crib", "dependents/ben")));
    assert_true(json_is_null(due_of(rows, "infant", "dependents/ben")));
    assert_null(occurrence_of(rows, "crib", "dependents/cy"));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(rows, 0), "zone")), "UTC");
    json_decref(rows);

    /* Past the catch-up, a yearly schedule plans next year's date. */
    rows = plan_rows("{\"id\": \"p_1\", \"created\": 0, \"attributes\":"
                     " {\"enrolled_on\": \"2020-01-20\"}}",
                     "2026-03-05T00:00:00Z");
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(occurrence_of(rows, "anniversary", "profile"),
                        "2027-01-20");
    json_decref(rows);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(define_rejects_bad_keys, teardown),
        cmocka_unit_test_teardown(next_due_dates_and_edges, teardown),
        cmocka_unit_test_teardown(next_due_yearly_and_created, teardown),
        cmocka_unit_test_teardown(plan_catch_up_and_records, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
