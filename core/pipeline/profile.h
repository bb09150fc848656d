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
};

/* Builds the request of profiles_load for a batch of stored events. */
json_t *profile_identities_of(const json_t *events);

void profile_index_init(struct profile_index *idx, const json_t *loaded);
void profile_index_clear(struct profile_index *idx);

/*
 * Returns the profile an event belongs to, creating one when none of its
 * identities is known, and attaches its unknown identities and applies
 * its attributes (a null value removes one). Marks changed profiles with
 * "_dirty". The result is borrowed from the index.
 */
json_t *profile_resolve(struct profile_index *idx, const json_t *event,
                        int64_t now_ms);

/*
 * Returns the view of a stored profile that expressions and templates use:
 * its attributes, then one value per identity kind ("email", "phone"),
 * "id", and "stages" ({program: stage}). New reference.
 */
json_t *profile_flatten(const json_t *stored);

/* Returns the profile's stage in `program`, or NULL. */
const char *profile_stage(const json_t *stored, const char *program);

/* Returns the value of the profile's first identity of `kind`, or NULL. */
const char *profile_identity(const json_t *stored, const char *kind);

#endif
