/*
 * Tests of core/time: civil date parsing and arithmetic, wall times at
 * every DST change of the US transition table for 2024 to 2030, elapsed
 * against civil steps, yearly schedules and zone lookup. ctest runs this
 * program under TZ=UTC and TZ=America/Chicago as well, and every result
 * must be the same, because nothing here may read the process's zone.
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
#include "time/civil.h"

#define TRANSITIONS_CSV \
    CRIER_SHARED_DIR "/data/tz/us_dst_transitions_2024_2030.csv"
#define MINUTE_MS 60000LL


static int64_t
instant(const char *rfc3339)
{
    int64_t ms = 0;

    if (clock_parse_rfc3339(rfc3339, &ms) != 0) {
        fail_msg("bad test instant %s", rfc3339);
    }
    return ms;
}


static GDate
date_of(const char *text)
{
    GDate date;

    if (civil_date_parse(text, &date) != 0) {
        fail_msg("bad test date %s", text);
    }
    return date;
}


static GTimeZone *
zone_of(const char *name)
{
    GTimeZone *zone = civil_zone_open(name);

    if (zone == NULL) {
        fail_msg("zone %s not found", name);
    }
    return zone;
}


/* Asserts that `date` formats as `expected`. */
static void
assert_date(const GDate *date, const char *expected)
{
    char text[16];

    civil_date_format(date, text, sizeof(text));
    assert_string_equal(text, expected);
}


static void
date_parse_valid(void **state)
{
    GDate date;

    (void) state;
    assert_int_equal(civil_date_parse("2024-02-29", &date), 0);
    assert_date(&date, "2024-02-29");
    assert_int_equal(civil_date_parse("0001-01-01", &date), 0);
    assert_int_equal(civil_date_parse("9999-12-31", &date), 0);
}


static void
date_parse_invalid(void **state)
{
    static const char *const invalid[] = {
        "2026-02-29", "2025-13-01", "2025-00-10", "2025-04-31",
        "0000-01-01", "2025-1-01", "2025-01-1", "20250101", "2025/01/01",
        "2025-01-01T00:00:00Z", " 2025-01-01", "2025-01-01 ", "", "+025-01-01",
        "2025-0a-01", NULL
    };
    GDate date;

    (void) state;
    for (size_t i = 0; invalid[i] != NULL; i++) {
        if (civil_date_parse(invalid[i], &date) != CRIER_EINVAL) {
            fail_msg("\"%s\" was accepted", invalid[i]);
        }
    }
    assert_int_equal(civil_date_parse(NULL, &date), CRIER_EINVAL);
}


static void
date_add_clamps(void **state)
{
    static const struct {
        const char *from;
        enum civil_unit unit;
        int64_t amount;
        const char *expected;
    } cases[] = {
        { "2025-01-31", CIVIL_MONTHS, 1, "2025-02-28" },
        { "2024-01-31", CIVIL_MONTHS, 1, "2024-02-29" },
        { "2025-03-31", CIVIL_MONTHS, -1, "2025-02-28" },
        { "2025-05-31", CIVIL_MONTHS, 1, "2025-06-30" },
        { "2025-06-01", CIVIL_MONTHS, 6, "2025-12-01" },
        { "2025-08-15", CIVIL_MONTHS, 6, "2026-02-15" },
        { "2025-01-15", CIVIL_MONTHS, -1, "2024-12-15" },
        { "2024-02-29", CIVIL_YEARS, 1, "2025-02-28" },
        { "2024-02-29", CIVIL_YEARS, 4, "2028-02-29" },
        { "2024-02-29", CIVIL_YEARS, -1, "2023-02-28" },
        { "2025-12-31", CIVIL_DAYS, 1, "2026-01-01" },
        { "2024-03-01", CIVIL_DAYS, -1, "2024-02-29" },
        { "2025-01-01", CIVIL_WEEKS, 2, "2025-01-15" },
        { "2025-03-10", CIVIL_DAYS, -30, "2025-02-08" },
        { "2024-01-31", CIVIL_MONTHS, 0, "2024-01-31" },
    };
    GDate date;

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        date = date_of(cases[i].from);
        assert_int_equal(civil_date_add(&date, cases[i].unit,
                                        cases[i].amount), 0);
        assert_date(&date, cases[i].expected);
    }
}


/* Each step starts from the result of the last, so clamping sticks:
 * Jan 31 + 1 month + 1 month is Mar 28, while Jan 31 + 2 months is
 * Mar 31. */
static void
date_add_steps_compose(void **state)
{
    GDate stepped = date_of("2025-01-31");
    GDate direct = date_of("2025-01-31");

    (void) state;
    assert_int_equal(civil_date_add(&stepped, CIVIL_MONTHS, 1), 0);
    assert_int_equal(civil_date_add(&stepped, CIVIL_MONTHS, 1), 0);
    assert_int_equal(civil_date_add(&direct, CIVIL_MONTHS, 2), 0);
    assert_date(&stepped, "2025-03-28");
    assert_date(&direct, "2025-03-31");
}


static void
date_add_rejects(void **state)
{
    GDate date = date_of("9999-12-31");

    (void) state;
    assert_int_equal(civil_date_add(&date, CIVIL_DAYS, 1), CRIER_EINVAL);
    assert_date(&date, "9999-12-31");
    assert_int_equal(civil_date_add(&date, CIVIL_MONTHS, 1), CRIER_EINVAL);
    assert_int_equal(civil_date_add(&date, CIVIL_YEARS, INT64_MAX),
                     CRIER_EINVAL);
    assert_int_equal(civil_date_add(&date, CIVIL_HOURS, 1), CRIER_EINVAL);
    date = date_of("0001-01-01");
    assert_int_equal(civil_date_add(&date, CIVIL_DAYS, -1), CRIER_EINVAL);
    assert_int_equal(civil_date_add(&date, CIVIL_MONTHS, -1),
                     CRIER_EINVAL);
    assert_int_equal(civil_date_add(&date, CIVIL_WEEKS, INT64_MIN),
                     CRIER_EINVAL);
    assert_date(&date, "0001-01-01");
}


static void
time_parse_cases(void **state)
{
    struct civil_time time;

    (void) state;
    assert_int_equal(civil_time_parse("09:05", &time), 0);
    assert_int_equal(time.hour, 9);
    assert_int_equal(time.minute, 5);
    assert_int_equal(civil_time_parse("23:59", &time), 0);
    assert_int_equal(civil_time_parse("24:00", &time), CRIER_EINVAL);
    assert_int_equal(civil_time_parse("12:60", &time), CRIER_EINVAL);
    assert_int_equal(civil_time_parse("9:05", &time), CRIER_EINVAL);
    assert_int_equal(civil_time_parse("09:05:00", &time), CRIER_EINVAL);
}


/* Reads "+HH:MM" or "-HH:MM" into seconds. */
static int32_t
offset_parse(const char *text)
{
    int hours;
    int minutes;

    if (sscanf(text + 1, "%d:%d", &hours, &minutes) != 2) {
        fail_msg("bad offset %s", text);
    }
    return (text[0] == '-' ? -1 : 1) * (hours * 3600 + minutes * 60);
}


/* One row of the transition table. */
struct transition {
    char zone[64];
    int64_t instant_ms;             /* the change, in UTC */
    char local_before[24];          /* wall time one second before it */
    char local_after[24];           /* wall time at it */
    int32_t offset_before;
    int32_t offset_after;
    int gap;                        /* 1 spring forward, 0 fall back */
};


static int
transition_read(FILE *file, struct transition *t)
{
    char line[512];
    char instant_text[32];
    char before[16];
    char after[16];
    char kind[40];

    if (fgets(line, sizeof(line), file) == NULL) {
        return 0;
    }
    if (sscanf(line, "%63[^,],%31[^,],%23[^,],%23[^,],%15[^,],%15[^,],"
               "%39[^,\n]", t->zone, instant_text, t->local_before,
               t->local_after, before, after, kind) != 7) {
        fail_msg("bad transition row: %s", line);
    }
    t->instant_ms = instant(instant_text);
    t->offset_before = offset_parse(before);
    t->offset_after = offset_parse(after);
    t->gap = strncmp(kind, "spring_forward", 14) == 0;
    return 1;
}


/* Reads "YYYY-MM-DDTHH:MM:SS" into a date and the seconds of its day. */
static void
local_parse(const char *text, GDate *date, int *second_of_day)
{
    char day[11];
    int hour;
    int minute;
    int second;

    memcpy(day, text, 10);
    day[10] = '\0';
    *date = date_of(day);
    if (sscanf(text + 11, "%d:%d:%d", &hour, &minute, &second) != 3) {
        fail_msg("bad local time %s", text);
    }
    *second_of_day = hour * 3600 + minute * 60 + second;
}


/* Asserts the civil date and wall time (to the minute) of `ms`. */
static void
assert_local(GTimeZone *zone, int64_t ms, const char *expected)
{
    struct civil_time time;
    GDate expected_date;
    GDate date;
    int second_of_day;

    local_parse(expected, &expected_date, &second_of_day);
    assert_int_equal(civil_from_instant(ms, zone, &date, &time), 0);
    assert_int_equal(g_date_compare(&date, &expected_date), 0);
    assert_int_equal(time.hour, second_of_day / 3600);
    assert_int_equal(time.minute, second_of_day / 60 % 60);
}


/* Returns the instant of `date` at `minute_of_day` in `zone`. */
static int64_t
wall_instant(const GDate *date, int minute_of_day, GTimeZone *zone)
{
    struct civil_time time = { minute_of_day / 60, minute_of_day % 60 };
    int64_t ms = 0;

    assert_int_equal(civil_to_instant(date, &time, zone, &ms), 0);
    return ms;
}


/*
 * Checks one change: the offsets and wall times one second before and
 * at the instant, the wall time 30 minutes into the skipped or repeated
 * hour (read with the offset before the change), and the wall times
 * just outside it.
 */
static void
transition_check(const struct transition *t)
{
    GTimeZone *zone = zone_of(t->zone);
    int64_t change = t->instant_ms;
    int64_t shift = (int64_t) (t->offset_after - t->offset_before) * 1000;
    int before_second;
    int after_second;
    int64_t local_ms;
    GDate before_date;
    GDate after_date;

    assert_int_equal(civil_offset_at(zone, change - 1000),
                     t->offset_before);
    assert_int_equal(civil_offset_at(zone, change), t->offset_after);
    assert_int_equal(civil_offset_at(zone, change - 1), t->offset_before);
    assert_local(zone, change - 1000, t->local_before);
    assert_local(zone, change, t->local_after);

    local_parse(t->local_before, &before_date, &before_second);
    local_parse(t->local_after, &after_date, &after_second);
    if (t->gap) {
        /* 02:30 in a 02:00 -> 03:00 gap is 30 minutes after the change,
         * which reads 03:30. */
        int inside = (before_second + 1) / 60 + 30;

        local_ms = wall_instant(&before_date, inside, zone);
        assert_int_equal(local_ms, change + 30 * MINUTE_MS);
        assert_int_equal(wall_instant(&after_date, after_second / 60, zone),
                         change);
        assert_int_equal(wall_instant(&before_date, before_second / 60,
                                      zone), change - MINUTE_MS);
    } else {
        /* 01:30 in a repeated 01:00 -> 02:00 hour is its first
         * occurrence, with the offset from before the change. */
        int inside = after_second / 60 + 30;

        local_ms = wall_instant(&after_date, inside, zone);
        assert_int_equal(local_ms, change + shift + 30 * MINUTE_MS);
        assert_int_equal(civil_offset_at(zone, local_ms), t->offset_before);
        assert_int_equal(wall_instant(&after_date, after_second / 60, zone),
                         change + shift);
        assert_int_equal(wall_instant(&before_date, before_second / 60,
                                      zone), change - MINUTE_MS);
    }
    g_time_zone_unref(zone);
}


static void
transitions_from_table(void **state)
{
    FILE *file = fopen(TRANSITIONS_CSV, "r");
    struct transition t;
    char header[256];
    int rows = 0;

    (void) state;
    if (file == NULL) {
        fail_msg("cannot open %s", TRANSITIONS_CSV);
    }
    assert_non_null(fgets(header, sizeof(header), file));
    while (transition_read(file, &t)) {
        transition_check(&t);
        rows++;
    }
    fclose(file);
    assert_int_equal(rows, 112);
}


/* The page view of docs/time.md: elapsed hours cross the DST change as
 * plain time, while "next day at 12:00" is a civil step. */
static void
elapsed_and_next_day(void **state)
{
    GTimeZone *zone = zone_of("America/Chicago");
    struct civil_time noon = { 12, 0 };
    GDate view_date = date_of("2026-03-07");
    int64_t view;
    int64_t result;

    (void) state;
    assert_int_equal(civil_to_instant(&view_date, &noon, zone, &view), 0);
    assert_int_equal(view, instant("2026-03-07T18:00:00Z"));

    assert_int_equal(civil_instant_add(view, CIVIL_HOURS, 22, zone,
                                       &result), 0);
    assert_int_equal(result, instant("2026-03-08T16:00:00Z"));

    assert_int_equal(civil_next_day_at(view, &noon, zone, &result), 0);
    assert_int_equal(result, instant("2026-03-08T17:00:00Z"));

    /* A civil day keeps the wall time, so it is 23 hours long here. */
    assert_int_equal(civil_instant_add(view, CIVIL_DAYS, 1, zone,
                                       &result), 0);
    assert_int_equal(result, instant("2026-03-08T17:00:00Z"));
    assert_int_equal(civil_instant_add(view, CIVIL_MINUTES, -90, zone,
                                       &result), 0);
    assert_int_equal(result, view - 90 * MINUTE_MS);
    g_time_zone_unref(zone);
}


static void
instant_add_months(void **state)
{
    GTimeZone *zone = zone_of("America/New_York");
    int64_t result;

    (void) state;

    /* Jan 31 09:00:00.250 EST + 1 month: Feb 28 at the same wall time. */
    assert_int_equal(civil_instant_add(instant("2025-01-31T14:00:00.250Z"),
                                       CIVIL_MONTHS, 1, zone, &result), 0);
    assert_int_equal(result, instant("2025-02-28T14:00:00.250Z"));

    /* Across spring forward the wall time stays 09:00, now EDT. */
    assert_int_equal(civil_instant_add(instant("2025-02-15T14:00:00Z"),
                                       CIVIL_MONTHS, 1, zone, &result), 0);
    assert_int_equal(result, instant("2025-03-15T13:00:00Z"));

    /* The local date differs from the UTC date: 2025-03-31 21:00 EDT is
     * 2025-04-01Z, and the month is that of the zone. */
    assert_int_equal(civil_instant_add(instant("2025-04-01T01:00:00Z"),
                                       CIVIL_MONTHS, 1, zone, &result), 0);
    assert_int_equal(result, instant("2025-05-01T01:00:00Z"));

    /* A wall time that a change skips: one day after 02:30 the day before
     * spring forward is 03:30 EDT. */
    assert_int_equal(civil_instant_add(instant("2026-03-07T07:30:00Z"),
                                       CIVIL_DAYS, 1, zone, &result), 0);
    assert_int_equal(result, instant("2026-03-08T07:30:00Z"));

    assert_int_equal(civil_instant_add(instant("2025-01-01T00:00:00Z"),
                                       CIVIL_YEARS, 9000, zone, &result),
                     CRIER_EINVAL);
    g_time_zone_unref(zone);
}


static void
yearly_after_change_day(void **state)
{
    GTimeZone *zone = zone_of("America/New_York");
    struct civil_time ten = { 10, 0 };
    GDate enrolled = date_of("2024-03-10");
    int64_t result;

    (void) state;
    assert_int_equal(civil_yearly_next(&enrolled, &ten, zone,
                                       instant("2026-01-01T00:00:00Z"),
                                       &result), 0);
    assert_int_equal(result, instant("2026-03-10T14:00:00Z"));

    /* At the occurrence itself it counts. A millisecond later the next
     * one is 2027's, in EST, because 2027's change comes on March 14. */
    assert_int_equal(civil_yearly_next(&enrolled, &ten, zone,
                                       instant("2026-03-10T14:00:00Z"),
                                       &result), 0);
    assert_int_equal(result, instant("2026-03-10T14:00:00Z"));
    assert_int_equal(civil_yearly_next(&enrolled, &ten, zone,
                                       instant("2026-03-10T14:00:00Z") + 1,
                                       &result), 0);
    assert_int_equal(result, instant("2027-03-10T15:00:00Z"));

    /* Nothing before the anchor's year: the first is the anchor day. */
    assert_int_equal(civil_yearly_next(&enrolled, &ten, zone,
                                       instant("2020-06-01T00:00:00Z"),
                                       &result), 0);
    assert_int_equal(result, instant("2024-03-10T14:00:00Z"));
    g_time_zone_unref(zone);
}


/* Enrolled on Feb 29: one occurrence in 2026, on Feb 28, and Feb 29
 * again in 2028. */
static void
yearly_leap_day(void **state)
{
    GTimeZone *zone = zone_of("America/New_York");
    struct civil_time ten = { 10, 0 };
    GDate enrolled = date_of("2024-02-29");
    int64_t from = instant("2026-01-01T05:00:00Z");
    int64_t end = instant("2027-01-01T05:00:00Z");
    int64_t result;
    int occurrences = 0;

    (void) state;
    while (civil_yearly_next(&enrolled, &ten, zone, from, &result) == 0
           && result < end) {
        assert_int_equal(result, instant("2026-02-28T15:00:00Z"));
        occurrences++;
        from = result + 1;
    }
    assert_int_equal(occurrences, 1);
    assert_int_equal(result, instant("2027-02-28T15:00:00Z"));

    assert_int_equal(civil_yearly_next(&enrolled, &ten, zone,
                                       instant("2028-01-01T00:00:00Z"),
                                       &result), 0);
    assert_int_equal(result, instant("2028-02-29T15:00:00Z"));
    g_time_zone_unref(zone);
}


static void
zone_lookup_and_default(void **state)
{
    GTimeZone *zone;

    (void) state;
    assert_null(civil_zone_open("America/Nowhere"));
    assert_null(civil_zone_open("UTC+5"));
    assert_null(civil_zone_open("america/chicago"));
    assert_null(civil_zone_open(""));
    assert_null(civil_zone_open(NULL));

    /* Before any config, the default is UTC. */
    assert_int_equal(civil_offset_at(civil_zone_default(),
                                     instant("2026-07-01T00:00:00Z")), 0);

    assert_int_equal(civil_zone_set_default("Mars/Olympus"), CRIER_EINVAL);
    assert_int_equal(civil_zone_set_default("America/Chicago"), 0);
    zone = civil_zone_or_default("Not/AZone");
    assert_int_equal(civil_offset_at(zone, instant("2026-07-01T00:00:00Z")),
                     -5 * 3600);
    g_time_zone_unref(zone);
    zone = civil_zone_or_default(NULL);
    assert_int_equal(civil_offset_at(zone, instant("2026-01-01T00:00:00Z")),
                     -6 * 3600);
    g_time_zone_unref(zone);
    zone = civil_zone_or_default("Asia/Kolkata");
    assert_int_equal(civil_offset_at(zone, instant("2026-01-01T00:00:00Z")),
                     19800);
    g_time_zone_unref(zone);
    assert_int_equal(civil_zone_set_default("UTC"), 0);
}


/* A zone far from the US ones, so that a run under TZ=America/Chicago
 * that leaked the process's zone into a result would fail here too. */
static void
process_zone_ignored(void **state)
{
    GTimeZone *zone = zone_of("Europe/London");
    GDate date = date_of("2026-07-01");
    struct civil_time nine = { 9, 0 };
    int64_t ms;

    (void) state;
    assert_int_equal(civil_to_instant(&date, &nine, zone, &ms), 0);
    assert_int_equal(ms, instant("2026-07-01T08:00:00Z"));
    g_time_zone_unref(zone);
}


/* Asserts that the next instant of `window` in `zone` from `from` is
 * `expected`, all instants in ISO 8601. */
static void
assert_window_next(const char *window, const char *zone_name,
                   const char *from, const char *expected)
{
    GTimeZone *zone = zone_of(zone_name);
    struct civil_window w;
    int64_t ms = 0;

    if (civil_window_parse(window, &w) != 0)
        fail_msg("window \"%s\" was rejected", window);
    assert_int_equal(civil_window_next(&w, zone, instant(from), &ms), 0);
    if (ms != instant(expected))
        fail_msg("%s from %s in %s: %lld, expected %s", window, from,
                 zone_name, (long long) ms, expected);
    g_time_zone_unref(zone);
}


static void
window_parse_cases(void **state)
{
    static const char *const invalid[] = {
        "Sun-Thu 17:00-09:00", "Sun-Thu 09:00-09:00", "Xyz 09:00-10:00",
        "Sun-Thu", "Sun-Thu 9:00-17:00", "Sun-Thu  09:00-17:00",
        "Sun-Thu 09:00-24:00", "Sun- 09:00-17:00", "Sunday 09:00-17:00",
        "Sun,,Mon 09:00-17:00", "", NULL
    };
    struct civil_window w;

    (void) state;
    assert_int_equal(civil_window_parse("Sun-Thu 09:00-17:00", &w), 0);
    /* Bit 0 is Monday: Sun-Thu is Sunday and Monday to Thursday. */
    assert_int_equal(w.days, 0x4f);
    assert_int_equal(w.from.hour, 9);
    assert_int_equal(w.to.hour, 17);
    assert_int_equal(civil_window_parse("Fri-Mon 10:00-12:30", &w), 0);
    assert_int_equal(w.days, 0x71);
    assert_int_equal(w.to.minute, 30);
    assert_int_equal(civil_window_parse("Mon,Wed,sat-sun 08:00-09:00", &w),
                     0);
    assert_int_equal(w.days, 0x65);
    assert_int_equal(civil_window_parse("06:00-22:00", &w), 0);
    assert_int_equal(w.days, 0x7f);
    for (size_t i = 0; invalid[i] != NULL; i++)
        if (civil_window_parse(invalid[i], &w) != CRIER_EINVAL)
            fail_msg("\"%s\" was accepted", invalid[i]);
    assert_int_equal(civil_window_parse(NULL, &w), CRIER_EINVAL);
}


/* Jerusalem's working week is Sunday to Thursday, at UTC+2 in
 * December 2026; 2026-12-04 is a Friday. */
static void
window_next_sun_thu(void **state)
{
    const char *w = "Sun-Thu 09:00-17:00";

    (void) state;
    assert_window_next(w, "Asia/Jerusalem", "2026-12-04T10:00:00Z",
                       "2026-12-06T07:00:00Z");
    assert_window_next(w, "Asia/Jerusalem", "2026-12-03T08:00:00Z",
                       "2026-12-03T08:00:00Z");
    assert_window_next(w, "Asia/Jerusalem", "2026-12-03T15:00:00Z",
                       "2026-12-06T07:00:00Z");
    assert_window_next(w, "Asia/Jerusalem", "2026-12-03T14:59:00Z",
                       "2026-12-03T14:59:00Z");
    assert_window_next(w, "Asia/Jerusalem", "2026-12-02T05:00:00Z",
                       "2026-12-02T07:00:00Z");
    assert_window_next(w, "Asia/Jerusalem", "2026-12-05T23:00:00Z",
                       "2026-12-06T07:00:00Z");
}


static void
window_next_wraps_and_changes(void **state)
{
    (void) state;
    /* A range that wraps past Sunday, from a Tuesday. */
    assert_window_next("Fri-Mon 10:00-12:00", "UTC", "2026-12-01T11:00:00Z",
                       "2026-12-04T10:00:00Z");
    /* A single day, after its hours: the same day next week. */
    assert_window_next("Fri 10:00-12:00", "UTC", "2026-12-04T12:00:00Z",
                       "2026-12-11T10:00:00Z");
    /* New York moves to EDT on Sunday 2026-03-08, so Monday's 09:00 is
     * 13:00 UTC where Friday's was 14:00. */
    assert_window_next("Mon-Fri 09:00-17:00", "America/New_York",
                       "2026-03-06T22:30:00Z", "2026-03-09T13:00:00Z");
}


static void
time_next_today_or_tomorrow(void **state)
{
    GTimeZone *zone = zone_of("America/Chicago");
    struct civil_time nine = { 9, 0 };
    int64_t ms = 0;

    (void) state;
    assert_int_equal(civil_time_next(&nine, zone,
                                     instant("2026-12-04T14:00:00Z"), &ms),
                     0);
    assert_int_equal(ms, instant("2026-12-04T15:00:00Z"));
    assert_int_equal(civil_time_next(&nine, zone,
                                     instant("2026-12-04T15:00:00Z"), &ms),
                     0);
    assert_int_equal(ms, instant("2026-12-04T15:00:00Z"));
    assert_int_equal(civil_time_next(&nine, zone,
                                     instant("2026-12-04T15:00:01Z"), &ms),
                     0);
    assert_int_equal(ms, instant("2026-12-05T15:00:00Z"));
    g_time_zone_unref(zone);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(date_parse_valid),
        cmocka_unit_test(date_parse_invalid),
        cmocka_unit_test(date_add_clamps),
        cmocka_unit_test(date_add_steps_compose),
        cmocka_unit_test(date_add_rejects),
        cmocka_unit_test(time_parse_cases),
        cmocka_unit_test(transitions_from_table),
        cmocka_unit_test(elapsed_and_next_day),
        cmocka_unit_test(instant_add_months),
        cmocka_unit_test(yearly_after_change_day),
        cmocka_unit_test(yearly_leap_day),
        cmocka_unit_test(zone_lookup_and_default),
        cmocka_unit_test(process_zone_ignored),
        cmocka_unit_test(window_parse_cases),
        cmocka_unit_test(window_next_sun_thu),
        cmocka_unit_test(window_next_wraps_and_changes),
        cmocka_unit_test(time_next_today_or_tomorrow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
