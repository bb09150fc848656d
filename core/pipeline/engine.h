/*
 * The engine: what turns stored events into sent messages. Templates,
 * programs and rules are loaded from the config; the pipeline reads
 * committed events by its durable cursor, and the outbox delivers the jobs
 * the pipeline planned.
 */
#ifndef CRIER_CORE_ENGINE_H
#define CRIER_CORE_ENGINE_H

#include "config/config.h"

/* Loads templates, programs and rules; 0 or CRIER_ECONFIG. */
int engine_prepare(struct config *cfg);

/* Starts the pipeline and the outbox; the store must be started. */
int engine_start(void);

/* Stops both; `done` runs once work in flight has settled. */
void engine_stop(void (*done)(void *arg), void *arg);

void engine_release(void);

/* Wakes the pipeline: new events were committed. */
void engine_notify_events(void);

#endif
