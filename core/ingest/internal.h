/*
 * Events that crier records itself, as the effect of something it did
 * rather than something a trigger saw: a profile entering or leaving a
 * segment, an admin changing or merging profiles. Each is addressed to a
 * profile by its id and stored in the same commit as the change it
 * records, so a crash never keeps one without the other. The pipeline
 * then reads it like any other event, so rules can react to it and it
 * shows in the profile's timeline.
 */
#ifndef CRIER_CORE_INGEST_INTERNAL_H
#define CRIER_CORE_INGEST_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

/* The source of every event crier records itself. */
#define INTERNAL_EVENT_SOURCE "crier"

#define INTERNAL_SEGMENT_ENTERED "segment.entered"
#define INTERNAL_SEGMENT_LEFT "segment.left"
#define INTERNAL_PROFILE_UPDATED "profile.updated"
#define INTERNAL_PROFILE_MERGED "profile.merged"
#define INTERNAL_JOURNEY_DUE "journey.due"
#define INTERNAL_DIGEST_DUE "digest.due"
#define INTERNAL_SUBSCRIPTION_CONFIRMED "subscription.confirmed"

/* The type prefix of the events that schedule triggers fire, such as
 * "date.infant-6-months". The core builds them, addressed by profile id,
 * so a sender may not use the prefix. */
#define INTERNAL_DATE_PREFIX "date."

/*
 * Builds one entry of a commit batch's "events": an event of `type` at
 * `time_ms` addressed by "profile_id" to `profile`, with `properties`
 * (stolen; NULL for none). New reference.
 */
json_t *internal_event(const char *type, const char *profile,
                       int64_t time_ms, json_t *properties);

/* Returns 1 when `type` is one that only crier records, so ingest
 * rejects it from a sender. */
int internal_event_type(const char *type);

/*
 * Returns the delivery status that an event of `type` reports, such as
 * "bounced" for "email.bounced", or NULL for any other type. Only a
 * channel plugin may emit these types (docs/deliverability.md), so that
 * a trigger cannot mark a message bounced or an address invalid.
 */
const char *delivery_event_status(const char *type);

#endif
