/*
 * Limits on how large one profile may grow. Every event may carry up to
 * 64 KiB of attributes, and without a limit they pile up on the profile.
 * The pipeline would then parse and write megabytes for each event of
 * that resident while the event loop waits. docs/profiles.md describes
 * the limits.
 */
#ifndef CRIER_CORE_PROFILE_LIMITS_H
#define CRIER_CORE_PROFILE_LIMITS_H

#include <stddef.h>

#include <jansson.h>

/* The maximum number of attributes of one profile. */
#define PROFILE_ATTRIBUTES_MAX 256

/* The maximum size of a profile's attributes as compact JSON, in bytes. */
#define PROFILE_ATTRIBUTES_BYTES_MAX (64 * 1024)

/* The maximum number of dependents, and of cases, of one profile. */
#define PROFILE_RELATED_MAX 256

/*
 * Checks a profile's attributes `after` a change from `before` (either
 * may be NULL for none). Returns 0 when they stay within the limits, or
 * when the change does not make them larger in count or size, so a
 * profile stored before the limits existed may still shrink. Otherwise
 * returns -1 and writes the reason, naming the limit, to `reason`.
 */
int profile_attributes_within(const json_t *before, const json_t *after,
                              char *reason, size_t reason_size);

/*
 * Checks the attributes `attrs` would have after `changes` ({name:
 * value}, where null removes a name), as profile_attributes_within
 * does.
 */
int profile_attributes_check(const json_t *attrs, const json_t *changes,
                             char *reason, size_t reason_size);

#endif
