/*
 * The pipeline: reads committed events in order from its durable cursor,
 * resolves each event's profile, evaluates the rules and commits profile
 * changes, stage moves, planned jobs and the new cursor in one
 * transaction per batch. A crash between two batches only delays work;
 * job keys make a rerun plan nothing twice.
 */
#ifndef CRIER_CORE_PIPELINE_H
#define CRIER_CORE_PIPELINE_H

#include <stdint.h>

#include <jansson.h>

struct ruleset;

/* Reads the cursor and starts processing; `on_planned` runs after a batch
 * that planned jobs. */
int pipeline_start(const struct ruleset *rules, void (*on_planned)(void));

/* Wakes the pipeline when new events are committed. */
void pipeline_notify(void);

/*
 * Merges profile `from` into `into` between two batches, so that no batch
 * in flight writes a profile that the merge removes. `done` gets the
 * store's commit result ({"merged": N}, 0 when `from` is unknown).
 * Returns CRIER_ECLOSED while stopping.
 */
int pipeline_merge(const char *from, const char *into, int64_t now_ms,
                   void (*done)(void *arg, int status, json_t *result),
                   void *arg);

/*
 * Calls `run` between two batches and starts no batch until the caller
 * calls pipeline_exclusive_end, so a change that `run` reads and writes
 * is neither overwritten by a batch in flight nor missed by the next one.
 * Runs in order with pipeline_merge. Returns CRIER_ECLOSED while
 * stopping.
 */
int pipeline_exclusive(void (*run)(void *arg), void *arg);

/* Ends the turn that pipeline_exclusive started; batches resume. */
void pipeline_exclusive_end(void);

/*
 * Calls `done` once a read of the events that started after this call
 * finds none left to process, so every event committed before the call
 * has been processed. One caller at a time: a second call replaces the
 * first one's `done`.
 */
void pipeline_when_idle(void (*done)(void *arg), void *arg);

/* Lets the batch in flight finish, then calls `done`. */
void pipeline_stop(void (*done)(void *arg), void *arg);

#endif
