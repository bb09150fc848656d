/*
 * Pauses: the operator's emergency stop for one channel, one program or
 * everything. The store keeps them, so a pause survives a restart, and
 * its jobs_claim takes no job that a pause covers. This module keeps a
 * copy so that the outbox can also hold a job that it claimed before the
 * pause, right up to the hand-over to the channel.
 */
#ifndef CRIER_CORE_PAUSES_H
#define CRIER_CORE_PAUSES_H

#include <jansson.h>

/* Reports a load or a change: a status, and for a change whether the
 * store's pauses changed. */
typedef void (*pauses_cb)(void *arg, int status, int changed);

/* Returns 1 when the store has the pause operations. */
int pauses_supported(void);

/* Reads the pauses from the store into the copy; `done` gets the status
 * (CRIER_ENOTSUP for a store without pauses). */
int pauses_load(pauses_cb done, void *arg);

/*
 * Pauses (paused 1) or resumes the scope "all" (name NULL), "channel" or
 * "program" in the store, then in the copy. A resume kicks the outbox, so
 * the jobs that waited go out in claim order. `by` names who asked.
 */
int pauses_change(const char *scope, const char *name, int paused,
                  const char *by, pauses_cb done, void *arg);

/* Returns the pause that covers a job on `channel` of `program` (either
 * may be NULL), as "all", "channel:NAME" or "program:NAME", or NULL. */
const char *pauses_covering(const char *channel, const char *program);

/* Returns the pauses as a JSON array of {"scope", "name", "since", "by"},
 * times in RFC 3339. */
json_t *pauses_json(void);

/* Frees the copy. */
void pauses_clear(void);

#endif
