/*
 * Civil dates and wall times in a zone, to and from instants.
 *
 * A wall time is resolved by trying the offsets in force a day and a
 * half before and after it. When one of them reproduces the wall time,
 * the wall time exists. When both do, the hour is repeated, and when
 * neither does, the hour is skipped.
 *
 * NOTE: this assumes at most one change of offset within those three
 * days. A zone with two changes that close together would resolve some
 * wall times near them wrongly (docs/KNOWN_LIMITS.md, "Time").
 */
#include <crier/error.h>

#include "time/civil.h"

#define SECONDS_PER_DAY 86400
#define PROBE_SECONDS (36 * 3600)   /* further than any UTC offset */


/* Returns the Julian day number (GDate's count) of 1970-01-01. */
static int64_t
epoch_julian(void)
{
    static int64_t julian;
    GDate epoch;

    if (julian == 0) {
        g_date_clear(&epoch, 1);
        g_date_set_dmy(&epoch, 1, G_DATE_JANUARY, 1970);
        julian = g_date_get_julian(&epoch);
    }
    return julian;
}


/* Divides rounding toward minus infinity, so times before 1970 work. */
static int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}


/* Returns the UTC offset of `zone` at `seconds` since the epoch. */
static int32_t
offset_at_seconds(GTimeZone *zone, int64_t seconds)
{
    gint interval = g_time_zone_find_interval(zone, G_TIME_TYPE_UNIVERSAL,
                                              seconds);

    return interval < 0 ? 0 : g_time_zone_get_offset(zone, interval);
}


int32_t
civil_offset_at(GTimeZone *zone, int64_t ms)
{
    return offset_at_seconds(zone, floor_div(ms, 1000));
}


/*
 * Converts local seconds (the wall time read as if it were UTC) into
 * seconds since the epoch, by the rules of civil_to_instant.
 */
static int64_t
local_to_seconds(int64_t local, GTimeZone *zone)
{
    int32_t before = offset_at_seconds(zone, local - PROBE_SECONDS);
    int32_t after = offset_at_seconds(zone, local + PROBE_SECONDS);
    int64_t early = local - before;
    int64_t late = local - after;
    int early_exists = offset_at_seconds(zone, early) == before;
    int late_exists = offset_at_seconds(zone, late) == after;

    /* In a repeated hour both exist, and the earlier instant wins. */
    if (early_exists && late_exists) {
        return early < late ? early : late;
    }
    if (early_exists) {
        return early;
    }
    if (late_exists) {
        return late;
    }

    /* A skipped wall time keeps the offset from before the change, so it
     * lands as far after the change as it was meant to be after the last
     * valid wall time: 02:30 becomes 03:30 when 02:00 jumps to 03:00. */
    return early;
}


/* Returns the local seconds of `date` at `second_of_day`. */
static int64_t
date_local_seconds(const GDate *date, int64_t second_of_day)
{
    int64_t days = (int64_t) g_date_get_julian(date) - epoch_julian();

    return days * SECONDS_PER_DAY + second_of_day;
}


int
civil_to_instant(const GDate *date, const struct civil_time *time,
                 GTimeZone *zone, int64_t *ms)
{
    int64_t local;

    if (!g_date_valid(date) || time->hour < 0 || time->hour > 23
        || time->minute < 0 || time->minute > 59)
    {
        return CRIER_EINVAL;
    }
    local = date_local_seconds(date, time->hour * 3600 + time->minute * 60);
    *ms = local_to_seconds(local, zone) * 1000;
    return 0;
}


/*
 * Splits the instant `ms` into its civil date in `zone` and the
 * milliseconds since that date's local midnight.
 */
static int
instant_split(int64_t ms, GTimeZone *zone, GDate *date, int64_t *ms_of_day)
{
    int64_t seconds = floor_div(ms, 1000);
    int64_t local_ms = ms + (int64_t) offset_at_seconds(zone, seconds) * 1000;
    int64_t days = floor_div(local_ms, SECONDS_PER_DAY * 1000LL);
    int64_t julian = epoch_julian() + days;

    if (julian < 1 || julian > G_MAXUINT32) {
        return CRIER_EINVAL;
    }
    g_date_clear(date, 1);
    g_date_set_julian(date, (guint32) julian);
    if (g_date_get_year(date) > CIVIL_YEAR_MAX) {
        return CRIER_EINVAL;
    }
    *ms_of_day = local_ms - days * SECONDS_PER_DAY * 1000LL;
    return 0;
}


int
civil_from_instant(int64_t ms, GTimeZone *zone, GDate *date,
                   struct civil_time *time)
{
    GDate day;
    int64_t ms_of_day;
    int rc = instant_split(ms, zone, &day, &ms_of_day);

    if (rc != 0) {
        return rc;
    }
    if (date != NULL) {
        *date = day;
    }
    if (time != NULL) {
        time->hour = (int) (ms_of_day / 3600000);
        time->minute = (int) (ms_of_day / 60000 % 60);
    }
    return 0;
}


int
civil_instant_add(int64_t ms, enum civil_unit unit, int64_t amount,
                  GTimeZone *zone, int64_t *result)
{
    static const int64_t limit = 400000LL * 366 * SECONDS_PER_DAY * 1000;
    int64_t ms_of_day;
    int64_t seconds;
    GDate date;
    int rc;

    /* Elapsed units are plain arithmetic, bounded to stay far from
     * overflow: about 400,000 years either way. */
    if (unit == CIVIL_MINUTES || unit == CIVIL_HOURS) {
        int64_t step = unit == CIVIL_MINUTES ? 60000 : 3600000;

        if (amount > limit / step || amount < -limit / step
            || ms > limit || ms < -limit)
        {
            return CRIER_EINVAL;
        }
        *result = ms + amount * step;
        return 0;
    }

    rc = instant_split(ms, zone, &date, &ms_of_day);
    if (rc == 0) {
        rc = civil_date_add(&date, unit, amount);
    }
    if (rc != 0) {
        return rc;
    }
    seconds = local_to_seconds(date_local_seconds(&date, ms_of_day / 1000),
                               zone);
    *result = seconds * 1000 + ms_of_day % 1000;
    return 0;
}


int
civil_next_day_at(int64_t ms, const struct civil_time *time,
                  GTimeZone *zone, int64_t *result)
{
    GDate date;
    int rc = civil_from_instant(ms, zone, &date, NULL);

    if (rc == 0) {
        rc = civil_date_add(&date, CIVIL_DAYS, 1);
    }
    if (rc == 0) {
        rc = civil_to_instant(&date, time, zone, result);
    }
    return rc;
}


/* Sets `date` to the anchor's month and day in `year`, with Feb 29
 * falling on Feb 28 in a common year. */
static void
yearly_date(const GDate *anchor, int year, GDate *date)
{
    int month = g_date_get_month(anchor);
    int day = g_date_get_day(anchor);
    int last_day = g_date_get_days_in_month(month, year);

    g_date_clear(date, 1);
    g_date_set_dmy(date, day > last_day ? last_day : day, month, year);
}


int
civil_yearly_next(const GDate *anchor, const struct civil_time *time,
                  GTimeZone *zone, int64_t from_ms, int64_t *result)
{
    GDate from;
    GDate date;
    int year;
    int rc;

    if (!g_date_valid(anchor)) {
        return CRIER_EINVAL;
    }
    rc = civil_from_instant(from_ms, zone, &from, NULL);
    if (rc != 0) {
        return rc;
    }

    /* This year's occurrence, unless it has passed, then next year's. An
     * occurrence of an earlier local year is always before `from_ms`. */
    year = g_date_get_year(&from);
    if (year < g_date_get_year(anchor)) {
        year = g_date_get_year(anchor);
    }
    for (; year <= CIVIL_YEAR_MAX; year++) {
        yearly_date(anchor, year, &date);
        rc = civil_to_instant(&date, time, zone, result);
        if (rc != 0 || *result >= from_ms) {
            return rc;
        }
    }
    return CRIER_EINVAL;
}
