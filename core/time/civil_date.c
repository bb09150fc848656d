/*
 * Civil dates: parsing, formatting and calendar arithmetic on GDate.
 * Month and year arithmetic clamps to the end of a short month, and a
 * year is twelve months, so Feb 29 + 1 year is Feb 28.
 */
#include <stdio.h>
#include <string.h>

#include <crier/error.h>

#include "time/civil.h"


/* Reads `count` ASCII digits at `text`. Returns -1 when one is not. */
static int
digits_read(const char *text, int count)
{
    int value = 0;

    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}


int
civil_date_parse(const char *text, GDate *date)
{
    int year;
    int month;
    int day;

    if (text == NULL || strlen(text) != 10 || text[4] != '-'
        || text[7] != '-')
    {
        return CRIER_EINVAL;
    }
    year = digits_read(text, 4);
    month = digits_read(text + 5, 2);
    day = digits_read(text + 8, 2);
    if (year < CIVIL_YEAR_MIN || month < 0 || day < 0
        || !g_date_valid_dmy(day, month, year))
    {
        return CRIER_EINVAL;
    }
    g_date_clear(date, 1);
    g_date_set_dmy(date, day, month, year);
    return 0;
}


void
civil_date_format(const GDate *date, char *buf, size_t size)
{
    snprintf(buf, size, "%04d-%02d-%02d", (int) g_date_get_year(date),
             (int) g_date_get_month(date), (int) g_date_get_day(date));
}


/* Moves `date` by whole days, within the valid years. */
static int
date_add_days(GDate *date, int64_t days)
{
    GDate first;
    GDate last;
    int64_t julian = (int64_t) g_date_get_julian(date) + days;

    g_date_clear(&first, 1);
    g_date_clear(&last, 1);
    g_date_set_dmy(&first, 1, G_DATE_JANUARY, CIVIL_YEAR_MIN);
    g_date_set_dmy(&last, 31, G_DATE_DECEMBER, CIVIL_YEAR_MAX);
    if (days > INT32_MAX || days < -INT32_MAX
        || julian < (int64_t) g_date_get_julian(&first)
        || julian > (int64_t) g_date_get_julian(&last))
    {
        return CRIER_EINVAL;
    }
    g_date_set_julian(date, (guint32) julian);
    return 0;
}


/* Moves `date` by whole months, clamping the day to the month's end. */
static int
date_add_months(GDate *date, int64_t months)
{
    int64_t index;
    int year;
    int month;
    int day = g_date_get_day(date);
    int last_day;

    if (months > 12LL * CIVIL_YEAR_MAX || months < -12LL * CIVIL_YEAR_MAX) {
        return CRIER_EINVAL;
    }
    index = (int64_t) g_date_get_year(date) * 12
            + (g_date_get_month(date) - 1) + months;
    year = (int) (index / 12);
    month = (int) (index % 12) + 1;
    if (year < CIVIL_YEAR_MIN || year > CIVIL_YEAR_MAX) {
        return CRIER_EINVAL;
    }

    last_day = g_date_get_days_in_month(month, year);
    if (day > last_day) {
        day = last_day;
    }
    g_date_set_dmy(date, day, month, year);
    return 0;
}


int
civil_date_add(GDate *date, enum civil_unit unit, int64_t amount)
{
    if (!g_date_valid(date)) {
        return CRIER_EINVAL;
    }
    switch (unit) {
    case CIVIL_DAYS:
        return date_add_days(date, amount);
    case CIVIL_WEEKS:
        if (amount > INT32_MAX / 7 || amount < -INT32_MAX / 7) {
            return CRIER_EINVAL;
        }
        return date_add_days(date, amount * 7);
    case CIVIL_MONTHS:
        return date_add_months(date, amount);
    case CIVIL_YEARS:
        if (amount > CIVIL_YEAR_MAX || amount < -CIVIL_YEAR_MAX) {
            return CRIER_EINVAL;
        }
        return date_add_months(date, amount * 12);
    default:
        return CRIER_EINVAL;
    }
}


int
civil_time_parse(const char *text, struct civil_time *time)
{
    int hour;
    int minute;

    if (text == NULL || strlen(text) != 5 || text[2] != ':') {
        return CRIER_EINVAL;
    }
    hour = digits_read(text, 2);
    minute = digits_read(text + 3, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59) {
        return CRIER_EINVAL;
    }
    time->hour = hour;
    time->minute = minute;
    return 0;
}
