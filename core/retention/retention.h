/*
 * Retention: deletes stored events of configured types once they are
 * older than their `keep` duration. It runs once when the engine starts
 * and then every hour on the crier clock, so the test clock drives it.
 * Events whose type no entry matches are kept forever.
 */
#ifndef CRIER_CORE_RETENTION_H
#define CRIER_CORE_RETENTION_H

#include "config/config.h"

/* Reads the `retention` list; 0 or CRIER_ECONFIG with file:line. */
int retention_load(struct config *cfg);

/* Runs the first pass and starts the hourly timer. Does nothing without
 * entries. The store must be started. */
void retention_start(void);

/* Stops the timer and calls `done` once no store call is in flight. */
void retention_stop(void (*done)(void *arg), void *arg);

void retention_release(void);

#endif
