/*
 * The checks a job passes when it is claimed, before it is rendered:
 * consent from the profile as it is then, and quiet hours in the
 * resident's zone. They are pure functions of the job, the profile and
 * the time, so unit tests drive them without a store. docs/delivery.md
 * states the rules.
 */
#ifndef CRIER_CORE_GUARD_H
#define CRIER_CORE_GUARD_H

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "time/civil.h"

/* The suppression reasons that a job records in its `error`. */
#define GUARD_REASON_CONSENT "consent"
#define GUARD_REASON_HARD "hard opt-out"
#define GUARD_REASON_CAP "cap"
#define GUARD_REASON_INVALID "invalid address"

/* A daily window of wall times, such as 21:00-08:00, that may cross
 * midnight. `start` equal to `end` is rejected when parsed. */
struct quiet_window {
    struct civil_time start;
    struct civil_time end;
};

/* Parses "HH:MM-HH:MM" into `w`. Returns 0, or CRIER_EINVAL. */
int quiet_window_parse(const char *text, struct quiet_window *w);

/*
 * Returns 1 when the instant `now_ms` falls inside the window in `zone`,
 * and sets *end_ms to the instant the window ends there (the next
 * occurrence of `end`, on the next civil day for a window that crossed
 * midnight). Returns 0 outside the window, and a negative code when the
 * end cannot be computed.
 */
int quiet_window_end(const struct quiet_window *w, int64_t now_ms,
                     GTimeZone *zone, int64_t *end_ms);

/*
 * Returns why a message of the given class may not go to the profile on
 * the consent kind `kind` ("email", "sms"), or NULL when it may. Outreach
 * needs consent that is not revoked: unknown consent sends. A service
 * message ignores a plain revoke but not a hard one (an SMS STOP).
 * `profile` is the stored form, whose consent map is {kind: {"state",
 * "source", "time", "hard"}}.
 */
const char *guard_consent_reason(const json_t *profile, const char *kind,
                                 int service);

/* Returns the zone of the profile's `timezone` attribute, or the agency's
 * default zone: a new reference. */
GTimeZone *guard_profile_zone(const json_t *profile);

#endif
