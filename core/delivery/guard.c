/*
 * Claim-time checks: consent and quiet hours. See guard.h.
 */
#include "delivery/guard.h"

#include <stdio.h>
#include <string.h>

#include <crier/error.h>

#include "pipeline/profile.h"


int
quiet_window_parse(const char *text, struct quiet_window *w)
{
    char start[8], end[8];
    const char *dash = text != NULL ? strchr(text, '-') : NULL;
    size_t n;

    if (dash == NULL)
        return CRIER_EINVAL;
    n = (size_t) (dash - text);
    if (n == 0 || n >= sizeof(start) || strlen(dash + 1) >= sizeof(end))
        return CRIER_EINVAL;
    memcpy(start, text, n);
    start[n] = '\0';
    snprintf(end, sizeof(end), "%s", dash + 1);
    if (civil_time_parse(start, &w->start) != 0 ||
        civil_time_parse(end, &w->end) != 0)
        return CRIER_EINVAL;
    if (w->start.hour == w->end.hour && w->start.minute == w->end.minute)
        return CRIER_EINVAL;
    return 0;
}


static int
minute_of_day(const struct civil_time *t)
{
    return t->hour * 60 + t->minute;
}


int
quiet_window_end(const struct quiet_window *w, int64_t now_ms,
                 GTimeZone *zone, int64_t *end_ms)
{
    GDate date;
    struct civil_time now;
    int start = minute_of_day(&w->start);
    int end = minute_of_day(&w->end);
    int t;
    int rc;

    g_date_clear(&date, 1);
    rc = civil_from_instant(now_ms, zone, &date, &now);
    if (rc != 0)
        return rc;
    t = minute_of_day(&now);

    /* Within one day: [start, end). Across midnight: from start to the
     * end of the day, or from midnight to end. */
    if (start < end) {
        if (t < start || t >= end)
            return 0;
    } else if (t < start && t >= end) {
        return 0;
    }

    /* The window ends today unless it started today and crosses midnight.
     * civil_to_instant resolves an end skipped by a DST change. */
    if (start > end && t >= start)
        return civil_next_day_at(now_ms, &w->end, zone, end_ms) ? -1 : 1;
    rc = civil_to_instant(&date, &w->end, zone, end_ms);
    return rc != 0 ? rc : 1;
}


const char *
guard_consent_reason(const json_t *profile, const char *kind, int service)
{
    json_t *entry = json_object_get(json_object_get(profile, "consent"),
                                    kind);
    const char *state = json_string_value(json_object_get(entry, "state"));

    if (state == NULL || strcmp(state, "revoked") != 0)
        return NULL;
    if (profile_consent_hard(entry))
        return GUARD_REASON_HARD;
    return service ? NULL : GUARD_REASON_CONSENT;
}


GTimeZone *
guard_profile_zone(const json_t *profile)
{
    json_t *attributes = json_object_get(profile, "attributes");

    return civil_zone_or_default(json_string_value(
        json_object_get(attributes, "timezone")));
}
