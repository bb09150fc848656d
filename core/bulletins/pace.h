/*
 * The planning lease of a bulletin, which one node at a time holds for a
 * turn (pace.c).
 */
#ifndef CRIER_CORE_BULLETINS_PACE_H
#define CRIER_CORE_BULLETINS_PACE_H

#include <stdint.h>

/* How long a lease lasts unless released, in real ms: a node that dies
 * in a turn holds up the bulletin's planning this long. */
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
