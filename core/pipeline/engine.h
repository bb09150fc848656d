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

/*
 * Builds templates, programs, rules, segments and delivery settings from
 * `cfg` while the engine is stopped, and keeps the old ones allocated
 * until engine_release. On an error puts the old objects back (and
 * retention from `old_cfg`) and returns CRIER_ECONFIG with the error in
 * cfg->error. server.settings and server.channels must already be those
 * of `cfg`, because templates and rules read them.
 */
int engine_reload(struct config *cfg, struct config *old_cfg);

/* Starts the pipeline, the outbox and retention; the store must be
 * started. */
int engine_start(void);

/*
 * Stops the pipeline (after its batch in flight), the outbox's claims and
 * retention (after its store call in flight), then calls `done`. Deliveries already handed to channels go on: stop
 * the channels next, then wait for them with engine_drain.
 */
void engine_stop(void (*done)(void *arg), void *arg);

/* Calls `done` once every delivery in flight has been recorded. */
void engine_drain(void (*done)(void *arg), void *arg);

void engine_release(void);

/* Wakes the pipeline: new events were committed. */
void engine_notify_events(void);

#endif
