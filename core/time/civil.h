/*
 * Civil dates and times in IANA time zones: the arithmetic behind
 * date-relative schedules and the date operators of expressions.
 *
 * A civil date is a GDate: a day of the Gregorian calendar with no time
 * and no zone, such as a birth date. It becomes an instant only with a
 * wall time of day and a zone (civil_to_instant), never through UTC
 * midnight. Instants are milliseconds since the Unix epoch. Zones come
 * from GLib's GTimeZone, which reads the system's tzdata, so nothing
 * here depends on the process's TZ variable. docs/time.md states every
 * rule with examples.
 */
#ifndef CRIER_CORE_CIVIL_H
#define CRIER_CORE_CIVIL_H

#include <stdint.h>

#include <glib.h>

/* Dates outside years 1 to 9999 are invalid, as for `date` attributes. */
#define CIVIL_YEAR_MIN 1
#define CIVIL_YEAR_MAX 9999

/* The units of a calendar or elapsed amount, such as `6 months`. */
enum civil_unit {
    CIVIL_MINUTES,
    CIVIL_HOURS,
    CIVIL_DAYS,
    CIVIL_WEEKS,
    CIVIL_MONTHS,
    CIVIL_YEARS
};

/* A wall-clock time of day, 00:00 to 23:59. */
struct civil_time {
    int hour;
    int minute;
};

/*
 * Parses "YYYY-MM-DD" into `date`. Returns 0, or CRIER_EINVAL for any
 * other shape or a day the calendar lacks, such as 2026-02-29.
 */
int civil_date_parse(const char *text, GDate *date);

/* Writes `date` as "YYYY-MM-DD"; `buf` needs 11 bytes. */
void civil_date_format(const GDate *date, char *buf, size_t size);

/*
 * Adds `amount` (negative to subtract) days, weeks, months or years to
 * `date`. A day the target month lacks clamps to its last day:
 * 2025-01-31 + 1 month is 2025-02-28, and 2024-02-29 + 1 year is
 * 2025-02-28. Returns 0, or CRIER_EINVAL for minutes or hours or a result
 * outside CIVIL_YEAR_MIN to CIVIL_YEAR_MAX, leaving `date` unchanged.
 */
int civil_date_add(GDate *date, enum civil_unit unit, int64_t amount);

/*
 * Parses "HH:MM" (24-hour clock) into `time`. Returns 0 or CRIER_EINVAL.
 */
int civil_time_parse(const char *text, struct civil_time *time);

/*
 * Converts a date and a wall time in `zone` into an instant. A wall time
 * skipped by a spring-forward change is read with the offset in force
 * before the change, so 02:30 on the change day becomes 03:30. A wall
 * time that occurs twice at a fall-back change is the first, earlier
 * occurrence. Returns 0, or CRIER_EINVAL for an invalid date or time.
 */
int civil_to_instant(const GDate *date, const struct civil_time *time,
                     GTimeZone *zone, int64_t *ms);

/*
 * Sets `date` and `time` (either may be NULL) to the civil date and wall
 * time of the instant `ms` in `zone`. Seconds are dropped.
 */
int civil_from_instant(int64_t ms, GTimeZone *zone, GDate *date,
                       struct civil_time *time);

/* Returns the UTC offset of `zone` at the instant `ms`, in seconds. */
int32_t civil_offset_at(GTimeZone *zone, int64_t ms);

/*
 * Adds `amount` of `unit` to the instant `ms`. Minutes and hours are
 * elapsed time. Days, weeks, months and years move the civil date in
 * `zone` and keep the wall time, down to the millisecond, resolving a
 * skipped or repeated wall time as civil_to_instant does. Returns 0, or
 * CRIER_EINVAL when the result leaves the valid years.
 */
int civil_instant_add(int64_t ms, enum civil_unit unit, int64_t amount,
                      GTimeZone *zone, int64_t *result);

/*
 * Computes "the next day at `time` local": the civil date of `ms` in
 * `zone`, plus one day, at that wall time.
 */
int civil_next_day_at(int64_t ms, const struct civil_time *time,
                      GTimeZone *zone, int64_t *result);

/*
 * Finds the first occurrence at or after `from_ms` of a yearly schedule
 * on the month and day of `anchor`, at `time` in `zone`. Each year's day
 * comes from the anchor itself, so an anchor on Feb 29 falls on Feb 28 in
 * a common year and on Feb 29 again in the next leap year. No occurrence
 * is earlier than the anchor's own year. Returns 0, or CRIER_EINVAL past
 * CIVIL_YEAR_MAX.
 */
int civil_yearly_next(const GDate *anchor, const struct civil_time *time,
                      GTimeZone *zone, int64_t from_ms, int64_t *result);

/*
 * Opens the zone `name` when it is an IANA zone name that the system's
 * database has (the rules of the `timezone` attribute type). Returns a
 * new reference, or NULL for an unknown or malformed name.
 */
GTimeZone *civil_zone_open(const char *name);

/*
 * Sets the agency's default zone, the `time_zone` of plugins.conf.
 * Returns 0, or CRIER_EINVAL when civil_zone_open rejects `name`.
 */
int civil_zone_set_default(const char *name);

/* Returns the default zone (UTC until one is set), borrowed. */
GTimeZone *civil_zone_default(void);

/*
 * Returns the zone `name` when it is valid, else the default zone: a new
 * reference either way, so a profile with a missing or unknown zone
 * falls back to the agency's.
 */
GTimeZone *civil_zone_or_default(const char *name);

/* Allowed days of the week and hours of those days, such as
 * "Sun-Thu 09:00-17:00". */
struct civil_window {
    unsigned days;              /* bit 0 Monday to bit 6 Sunday */
    struct civil_time from;     /* inclusive */
    struct civil_time to;       /* exclusive, after `from` */
};

/*
 * Parses "[DAYS ]HH:MM-HH:MM" into `window` (civil_window.c). DAYS is a
 * comma list of three-letter English day names or ranges of them, such
 * as "Mon-Fri" or "Fri-Mon,Wed"; without DAYS every day is allowed. The
 * end time must be later than the start on the same day. Returns 0 or
 * CRIER_EINVAL.
 */
int civil_window_parse(const char *text, struct civil_window *window);

/*
 * Finds the first instant at or after `from_ms` that falls inside
 * `window` in `zone`: `from_ms` itself when it is inside. Returns 0, or
 * CRIER_EINVAL past the valid years.
 */
int civil_window_next(const struct civil_window *window, GTimeZone *zone,
                      int64_t from_ms, int64_t *result);

/*
 * Finds the first instant at or after `from_ms` whose wall time in `zone`
 * is `time`: today when that time is still ahead, else tomorrow.
 */
int civil_time_next(const struct civil_time *time, GTimeZone *zone,
                    int64_t from_ms, int64_t *result);

#endif
