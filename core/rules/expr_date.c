/*
 * Date and time arithmetic of the expression language: `value + N unit`,
 * now(), and comparisons between a date and an instant. A date is a
 * string "YYYY-MM-DD" and stays one; an instant is an integer of ms
 * since the Unix epoch. Calendar steps on an instant and the reading of
 * a date as an instant both need a zone: the profile's `timezone`
 * attribute when it names a valid zone, else the agency's `time_zone`.
 */
#include "rules/expr_int.h"


/*
 * Returns the zone of the context's profile, a new reference. The
 * pipeline passes the profile flattened, with attributes as members,
 * and a stored profile keeps them under "attributes": both are read.
 *
 * NOTE: only the attribute named `timezone` is read, so a zone kept
 * under another name, even one declared with the type timezone, is not
 * used (docs/KNOWN_LIMITS.md, "Time").
 */
static GTimeZone *
profile_zone(const struct expr_scope *scope)
{
    const json_t *profile = json_object_get(scope->ctx, "profile");
    const json_t *name = json_object_get(profile, "timezone");

    if (!json_is_string(name)) {
        name = json_object_get(json_object_get(profile, "attributes"),
                               "timezone");
    }
    return civil_zone_or_default(json_string_value(name));
}


/* Keeps `value` (a new reference) among the scope's computed values and
 * returns it borrowed, or json_null() when that fails. */
static const json_t *
computed_keep(const struct expr_scope *scope, json_t *value)
{
    if (value == NULL || scope->computed == NULL
        || json_array_append_new(scope->computed, value) != 0)
    {
        return json_null();
    }
    return value;
}


/* Adds the shift of `e` to a date. Minutes and hours give null: a date
 * has no time of day. */
static const json_t *
date_shift(const struct expr *e, const struct expr_scope *scope,
           GDate *date)
{
    char text[16];

    if (e->shift_unit == CIVIL_MINUTES || e->shift_unit == CIVIL_HOURS
        || civil_date_add(date, e->shift_unit, e->shift_amount) != 0)
    {
        return json_null();
    }
    civil_date_format(date, text, sizeof(text));
    return computed_keep(scope, json_string(text));
}


const json_t *
expr_shift(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *value = expr_eval_borrowed(e->children[0], scope);
    GTimeZone *zone;
    int64_t result;
    GDate date;
    int rc;

    if (json_is_string(value)
        && civil_date_parse(json_string_value(value), &date) == 0)
    {
        return date_shift(e, scope, &date);
    }
    if (!json_is_integer(value)) {
        return json_null();
    }

    zone = profile_zone(scope);
    rc = civil_instant_add(json_integer_value(value), e->shift_unit,
                           e->shift_amount, zone, &result);
    g_time_zone_unref(zone);
    if (rc != 0) {
        return json_null();
    }
    return computed_keep(scope, json_integer(result));
}


const json_t *
expr_now(const struct expr_scope *scope)
{
    const json_t *now = json_object_get(scope->ctx, "now");

    return json_is_integer(now) ? now : json_null();
}


/* Reads a date string as the instant of 00:00 on that day in the
 * profile's zone. Returns 0 when `value` is not a date. */
static int
date_start_ms(const json_t *value, const struct expr_scope *scope,
              int64_t *ms)
{
    static const struct civil_time midnight = { 0, 0 };
    GTimeZone *zone;
    GDate date;
    int rc;

    if (!json_is_string(value)
        || civil_date_parse(json_string_value(value), &date) != 0)
    {
        return 0;
    }
    zone = profile_zone(scope);
    rc = civil_to_instant(&date, &midnight, zone, ms);
    g_time_zone_unref(zone);
    return rc == 0;
}


int
expr_date_instant_order(const json_t *a, const json_t *b,
                        const struct expr_scope *scope, int *order)
{
    int64_t left;
    int64_t right;

    if (json_is_integer(b) && date_start_ms(a, scope, &left)) {
        right = json_integer_value(b);
    } else if (json_is_integer(a) && date_start_ms(b, scope, &right)) {
        left = json_integer_value(a);
    } else {
        return 0;
    }
    *order = (left > right) - (left < right);
    return 1;
}
