/*
 * The pipeline: reads committed events in order from its durable cursor,
 * resolves each event's profile, evaluates the rules and commits profile
 * changes, stage moves, planned jobs and the new cursor in one
 * transaction per batch. A crash between two batches only delays work;
 * job keys make a rerun plan nothing twice.
 */
#ifndef CRIER_CORE_PIPELINE_H
#define CRIER_CORE_PIPELINE_H

struct ruleset;

/* Reads the cursor and starts processing; `on_planned` runs after a batch
 * that planned jobs. */
int pipeline_start(const struct ruleset *rules, void (*on_planned)(void));

/* Wakes the pipeline when new events are committed. */
void pipeline_notify(void);

/* Lets the batch in flight finish, then calls `done`. */
void pipeline_stop(void (*done)(void *arg), void *arg);

#endif
