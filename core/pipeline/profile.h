/*
 * Profiles as the pipeline handles them: the stored form of
 * docs/internals/store.md, resolved from an event's identities, changed by
 * its attributes, and flattened into the `profile` that rules and
 * templates see.
 */
#ifndef CRIER_CORE_PROFILE_H
#define CRIER_CORE_PROFILE_H

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

/* The profiles of one pipeline batch, found by identity. */
struct profile_index {
    json_t *profiles;           /* array of stored-form profiles, owned */
    GHashTable *by_identity;    /* "kind\nvalue" -> profile (borrowed) */
    GHashTable *by_id;          /* profile id -> profile (borrowed) */
    json_t *merges;             /* the merges made, for the commit */
    json_t *moved;              /* merged-away id -> id it went to, as
                                   profiles_load found them */
};

/*
 * Profiles carry these markers while a batch is evaluated; they are never
 * stored. "_dirty": changed, to be written. "_new": created in this batch.
 * "_merged_into": the id of the profile this one was merged into.
 */

/* Builds the request of profiles_load for a batch of stored events: the
 * identities they carry and the ids of those addressed by "profile_id". */
json_t *profile_identities_of(const json_t *events);

void profile_index_init(struct profile_index *idx, const json_t *loaded);
void profile_index_clear(struct profile_index *idx);

/*
 * Returns the profile an event belongs to. An event that crier recorded
 * itself names its profile by "profile_id", which follows merges; it
 * returns NULL when that profile no longer exists (erased). Otherwise
 * creates a profile when none of its
 * identities is known, and attaches its unknown identities and applies
 * its attributes (a null value removes one). When the event carries a
 * visitor id of one profile and a known identity of another, merges the
 * anonymous one into the known one first (see profile_merge). Marks
 * changed profiles with "_dirty". `seq` names the event in the warning
 * logged when its attributes would pass the profile's limits and are
 * ignored. The result is borrowed from the index.
 */
json_t *profile_resolve(struct profile_index *idx, const json_t *event,
                        int64_t seq, int64_t now_ms);

/*
 * Merges profile `from` into `into` in the index: identities move,
 * attributes of `from` fill the names `into` lacks, a stage of `from`
 * moves for a program `into` has none in. Records the merge in
 * idx->merges, with "programs" listing the stages that moved, and marks
 * `from` with "_merged_into".
 */
void profile_merge(struct profile_index *idx, json_t *from, json_t *into,
                   int64_t now_ms);

/* Returns the profile that `profile` ended in after this batch's merges. */
json_t *profile_final(struct profile_index *idx, json_t *profile);

/*
 * Returns the view of a stored profile that expressions and templates use:
 * its attributes, then one value per identity kind ("email", "phone"),
 * "id", "stages" ({program: stage}), "consent" ({kind: state}), and
 * "dependents" and "cases" (lists of records, which hide attributes of
 * those names). New reference.
 */
json_t *profile_flatten(const json_t *stored);

/*
 * Applies the event's "consent" ({kind: "granted" | "revoked"}) to the
 * profile. Each named kind's entry becomes {"state", "source", "time"},
 * with source "<source>:<type>" and the event's time. When the event
 * carries consent, marks the profile "_dirty" and sets "updated" to
 * `now_ms`.
 */
void profile_consent_apply(json_t *profile, const json_t *event,
                           const char *source, const char *type,
                           int64_t time_ms, int64_t now_ms);

/*
 * Returns nonzero when a consent entry is a hard revoke, which stops even
 * service messages: one marked `"hard": true`, or one set by an event
 * whose type ends in ".stop", the type of an SMS STOP reply.
 */
int profile_consent_hard(const json_t *entry);

/*
 * Returns nonzero when the consent entry `candidate` beats `current`,
 * either of which may be NULL for none. A hard revoke beats revoked,
 * revoked beats granted and granted beats none. Of two equal states the later time wins, and at equal times
 * `current` stays.
 */
int profile_consent_wins(const json_t *candidate, const json_t *current);

/* Gives `into`, per channel kind, the winning consent entry of the two
 * profiles. */
void profile_consent_merge(json_t *into, const json_t *from);

/* Returns the consent view rules see, {kind: state}. New reference. */
json_t *profile_consent_view(const json_t *stored);

/*
 * Applies the event's "related" upserts to the profile's dependents and
 * cases, and for an event whose `type` starts with "case." the case in
 * properties.case. When anything applies, marks the profile "_dirty"
 * and sets "updated" and each touched record's "updated" to `now_ms`.
 */
void profile_related_apply(json_t *profile, const json_t *event,
                           const char *type, int64_t now_ms);

/* Gives `into` the related records of `from` under the ids it lacks. */
void profile_related_merge(json_t *into, const json_t *from);

/* Adds the "dependents" and "cases" lists that rules see to `flat`. */
void profile_related_view(const json_t *stored, json_t *flat);

/* Returns the profile's stage in `program`, or NULL. */
const char *profile_stage(const json_t *stored, const char *program);

/* Writes a new profile id (UUID version 7 layout, sorting by time). */
void profile_id_new(int64_t now_ms, char buf[37]);

/* Returns the value of the profile's first identity of `kind`, or NULL. */
const char *profile_identity(const json_t *stored, const char *kind);

#endif
