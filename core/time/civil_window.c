/*
 * Allowed days and hours, such as "Sun-Thu 09:00-17:00", and the next
 * instant that falls inside them in a zone: the arithmetic behind a
 * journey's waits for a window or a time of day.
 */
#include <string.h>

#include <crier/error.h>

#include "time/civil.h"

/* Day names in GDateWeekday order, Monday first, as GLib numbers them. */
static const char *const day_names[] = {
    "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"
};


/* Reads a three-letter day name at `text` into a bit index 0 (Monday) to
 * 6 (Sunday). Returns the index or -1. */
static int
day_parse(const char *text)
{
    for (int i = 0; i < 7; i++)
        if (g_ascii_strncasecmp(text, day_names[i], 3) == 0)
            return i;
    return -1;
}


/* Reads "Mon", "Sun-Thu" (a range may wrap past Sunday) or a comma list
 * of them into a day mask. Returns 0 or CRIER_EINVAL. */
static int
days_parse(const char *text, size_t len, unsigned *mask)
{
    char **parts;
    char *copy = g_strndup(text, len);
    int rc = 0;

    *mask = 0;
    parts = g_strsplit(copy, ",", -1);
    for (char **p = parts; *p != NULL && rc == 0; p++) {
        size_t n = strlen(*p);
        int first = n >= 3 ? day_parse(*p) : -1;
        int last = first;

        if (n == 7 && (*p)[3] == '-')
            last = day_parse(*p + 4);
        else if (n != 3)
            first = -1;
        if (first < 0 || last < 0) {
            rc = CRIER_EINVAL;
            break;
        }
        for (int d = first;; d = (d + 1) % 7) {
            *mask |= 1u << d;
            if (d == last)
                break;
        }
    }
    g_strfreev(parts);
    g_free(copy);
    return rc;
}


int
civil_window_parse(const char *text, struct civil_window *window)
{
    const char *hours;
    char from[6], to[6];

    if (text == NULL)
        return CRIER_EINVAL;
    hours = strrchr(text, ' ');
    if (hours == NULL) {
        window->days = 0x7f;
        hours = text;
    } else if (days_parse(text, (size_t) (hours - text),
                          &window->days) != 0) {
        return CRIER_EINVAL;
    } else {
        hours++;
    }
    if (strlen(hours) != 11 || hours[5] != '-')
        return CRIER_EINVAL;
    memcpy(from, hours, 5);
    from[5] = '\0';
    memcpy(to, hours + 6, 5);
    to[5] = '\0';
    if (civil_time_parse(from, &window->from) != 0 ||
        civil_time_parse(to, &window->to) != 0)
        return CRIER_EINVAL;
    /* A window that runs past midnight would belong to two days. */
    if (window->to.hour * 60 + window->to.minute <=
        window->from.hour * 60 + window->from.minute)
        return CRIER_EINVAL;
    return 0;
}


int
civil_window_next(const struct civil_window *window, GTimeZone *zone,
                  int64_t from_ms, int64_t *result)
{
    GDate date;
    int rc = civil_from_instant(from_ms, zone, &date, NULL);

    /* Eight days always reach an allowed day, including today's next
     * week when today's hours have passed. */
    for (int d = 0; rc == 0 && d < 8; d++) {
        int day = (int) g_date_get_weekday(&date) - 1;
        int64_t start, end;

        if ((window->days & (1u << day)) != 0 &&
            civil_to_instant(&date, &window->from, zone, &start) == 0 &&
            civil_to_instant(&date, &window->to, zone, &end) == 0 &&
            from_ms < end) {
            *result = from_ms > start ? from_ms : start;
            return 0;
        }
        rc = civil_date_add(&date, CIVIL_DAYS, 1);
    }
    return CRIER_EINVAL;
}


int
civil_time_next(const struct civil_time *time, GTimeZone *zone,
                int64_t from_ms, int64_t *result)
{
    GDate date;
    int rc = civil_from_instant(from_ms, zone, &date, NULL);

    if (rc == 0)
        rc = civil_to_instant(&date, time, zone, result);
    if (rc == 0 && *result < from_ms)
        rc = civil_next_day_at(from_ms, time, zone, result);
    return rc;
}
