/*
 * Applying imported rows: a batch of validated rows updates profiles and
 * segment memberships in one store commit, during a turn of the pipeline
 * (pipeline_exclusive), without the event log or the rules.
 */
#ifndef CRIER_CORE_IMPORT_APPLY_H
#define CRIER_CORE_IMPORT_APPLY_H

#include <stddef.h>

#include <jansson.h>

/* Receives the end of one batch: 0 once its commit is durable, with the
 * number of rows applied, or the error that stored nothing of it. */
typedef void (*import_applied_cb)(void *arg, int status, size_t applied);

/*
 * Builds the row of a validated event as the pipeline's evaluation takes
 * it: {"seq": line, "source", "type", "time", "event"}. Steals `event`.
 */
json_t *import_row_new(json_t *event, size_t line, int64_t time_ms);

/*
 * Queues `rows` (import_row_new rows in file order, stolen) for the next
 * pipeline turn. In that turn the profiles owning their identities are
 * loaded, each row is applied as an event with no rules, and one commit
 * stores the changed profiles, the segment changes and cursor `cursor`
 * set to the last row's line. Batches apply in the order they were
 * queued. Returns 0, or CRIER_ECLOSED when the pipeline is stopping or
 * CRIER_ENOMEM, and then `done` is not called.
 */
int import_apply(const char *cursor, json_t *rows, import_applied_cb done,
                 void *arg);

#endif
