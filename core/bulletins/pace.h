/*
 * A bulletin's pace across nodes (pace.c): its stored origin, and the
 * planning lease that one node at a time holds for a turn.
 */
#ifndef CRIER_CORE_BULLETINS_PACE_H
#define CRIER_CORE_BULLETINS_PACE_H

#include <stdint.h>

#include <jansson.h>

#include "bulletins/bulletins.h"

/* Returns the jobs in a jobs_tally result of a bulletin that count
 * toward its rate: every job but the suppressed ones. */
int64_t bulletin_counted(const json_t *tally);

/* Returns how many jobs the bulletin's rate allows in all by `now`, or
 * INT64_MAX for a bulletin without a rate. */
int64_t bulletin_allowed(const struct bulletin *b, int64_t now);

/* Starts the bulletin's pace again at `now`, or at its send time when
 * that is later, from the jobs counted in `tally`, and stores the new
 * origin: after a resume or a rate change the rate counts from then. */
void bulletin_pace_restart(struct bulletin *b, const json_t *tally,
                           int64_t now);

/* Moves the origin of a bulletin more than one batch behind its pace so
 * that the rate allows one batch now, and stores it: the pace does not
 * catch up on time when no node planned. */
void bulletin_pace_forward(struct bulletin *b, int64_t counted,
                           int64_t now);

/* Gets the store's status once the bulletin's stored origin is read. */
typedef void (*bulletin_pace_cb)(void *arg, int status);

/* Reads the stored origin of bulletin `id` into the bulletin. A bulletin
 * without one counts from its send time. Returns 0, or a negative
 * CRIER_E* code and then `done` is not called. */
int bulletin_pace_load(const char *id, bulletin_pace_cb done, void *arg);

/* How long a lease lasts unless released, in real ms: a node that dies
 * in a turn holds up the bulletin's planning this long.
 * NOTE: a turn that takes longer lets another node plan from the same
 * counts, up to one batch past the rate (docs/KNOWN_LIMITS.md). */
#define BULLETIN_LEASE_MS 5000

/* The slot of a turn on a store without pacing operations, which only
 * one node can use. */
#define BULLETIN_LEASE_NONE (-1)

/* Gets 0 and the lease's slot, 0 when another node holds it, or
 * BULLETIN_LEASE_NONE; or a negative CRIER_E* code. */
typedef void (*bulletin_lease_cb)(void *arg, int status, int64_t slot);

/* Takes the bulletin's lease. Returns 0, or a negative CRIER_E* code and
 * then `done` is not called. */
int bulletin_lease_take(const char *id, bulletin_lease_cb done, void *arg);

/* Releases the lease `slot` of a turn; a failure is logged, and the lease
 * then ends on its own. */
void bulletin_lease_end(const char *id, int64_t slot);

#endif
