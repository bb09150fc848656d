/*
 * The evaluator's functions: any(list, condition) and age_months(date).
 * age_months counts from the context's "now" member, the crier clock's
 * time in milliseconds, which the pipeline sets, so tests govern it.
 */
#include <time.h>

#include <glib.h>

#include "rules/expr_int.h"


/* Drops the values computed after `mark`, which nothing uses any more. */
static void
computed_truncate(json_t *computed, size_t mark)
{
    while (json_array_size(computed) > mark) {
        json_array_remove(computed, json_array_size(computed) - 1);
    }
}


int
expr_any_test(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *list = expr_eval_borrowed(e->children[0], scope);
    struct expr_scope inner = *scope;
    size_t mark = json_array_size(scope->computed);
    const json_t *value;
    size_t count;
    size_t i;
    int found = 0;

    if (!json_is_array(list)) {
        return 0;
    }

    /* NOTE: elements past the limit are never examined, so a match there
     * is missed without a log line. */
    count = json_array_size(list);
    if (count > EXPR_ANY_MAX_ELEMENTS) {
        count = EXPR_ANY_MAX_ELEMENTS;
    }
    for (i = 0; i < count && !found; i++) {
        inner.element = json_array_get(list, i);
        value = expr_eval_borrowed(e->children[1], &inner);
        found = expr_value_truthy(value);
        computed_truncate(scope->computed, mark);
    }
    return found;
}


/* Reads a "YYYY-MM-DD" string into `date`. Returns 0 when it is not one. */
static int
date_parse(const json_t *value, GDate *date)
{
    const char *text = json_string_value(value);
    int digits[8];
    size_t i;
    size_t d = 0;

    if (text == NULL || json_string_length(value) != 10
        || text[4] != '-' || text[7] != '-')
    {
        return 0;
    }
    for (i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            continue;
        }
        if (text[i] < '0' || text[i] > '9') {
            return 0;
        }
        digits[d++] = text[i] - '0';
    }

    int year = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10
               + digits[3];
    int month = digits[4] * 10 + digits[5];
    int day = digits[6] * 10 + digits[7];

    if (!g_date_valid_dmy(day, month, year)) {
        return 0;
    }
    g_date_clear(date, 1);
    g_date_set_dmy(date, day, month, year);
    return 1;
}


/*
 * Sets `date` to the civil date in UTC of `ms` since the Unix epoch.
 *
 * NOTE: the date is UTC's, not the profile's zone's, so age_months() can
 * be a day early or late near midnight; docs/KNOWN_LIMITS.md, "Time".
 */
static int
date_from_ms(json_int_t ms, GDate *date)
{
    time_t seconds = (time_t) (ms / 1000 - (ms % 1000 < 0));
    struct tm civil;

    if (gmtime_r(&seconds, &civil) == NULL
        || !g_date_valid_dmy(civil.tm_mday, civil.tm_mon + 1,
                             civil.tm_year + 1900))
    {
        return 0;
    }
    g_date_clear(date, 1);
    g_date_set_dmy(date, civil.tm_mday, civil.tm_mon + 1,
                   civil.tm_year + 1900);
    return 1;
}


/*
 * Counts whole months from `from` to `to`. A month is complete when the
 * day of the month reaches the start day again, so 2024-01-31 to
 * 2024-02-29 is 0 months and to 2024-03-01 is 1. The count is negative
 * when `from` is later.
 */
static long
months_between(const GDate *from, const GDate *to)
{
    long months = (long) (g_date_get_year(to) - g_date_get_year(from)) * 12
                  + ((long) g_date_get_month(to)
                     - (long) g_date_get_month(from));

    if (months > 0 && g_date_get_day(to) < g_date_get_day(from)) {
        months--;
    } else if (months < 0 && g_date_get_day(to) > g_date_get_day(from)) {
        months++;
    }
    return months;
}


const json_t *
expr_age_months(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *argument = expr_eval_borrowed(e->children[0], scope);
    const json_t *now = json_object_get(scope->ctx, "now");
    json_t *months;
    GDate from;
    GDate to;

    if (scope->computed == NULL || !json_is_integer(now)
        || !date_parse(argument, &from)
        || !date_from_ms(json_integer_value(now), &to))
    {
        return json_null();
    }

    months = json_integer(months_between(&from, &to));
    if (json_array_append_new(scope->computed, months) != 0) {
        return json_null();
    }
    return months;
}
