/*
 * Applying imported rows: each batch of validated rows updates profiles
 * and segment memberships in one store commit, without the event log or
 * the rules. An applier keeps the pipeline's exclusive turn
 * (pipeline_exclusive) while it has batches to apply, so no pipeline
 * batch changes a profile between an import batch's read and its commit.
 */
#ifndef CRIER_CORE_IMPORT_APPLY_H
#define CRIER_CORE_IMPORT_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct applier;

/* Receives the end of one batch, once per batch: 0 once its commit is
 * durable, with the number of rows applied, or the error that stored
 * nothing of it. After a failure every later batch fails with the same
 * error. */
typedef void (*import_applied_cb)(void *arg, int status, size_t applied);

/*
 * Builds the row of a validated event as the pipeline's evaluation takes
 * it: {"seq": line, "source", "type", "time", "event"}. Steals `event`.
 */
json_t *import_row_new(json_t *event, size_t line, int64_t time_ms);

/* Returns an applier whose commits set store cursor `cursor` to the line
 * of their last row. */
struct applier *applier_new(const char *cursor, import_applied_cb done,
                            void *arg);

/*
 * Queues a batch of import_row_new rows in file order, with the
 * profile_identities_of request for them (both stolen). The caller builds
 * the request, so that it can do so off the loop thread. The applier
 * loads the profiles that own their identities, applies each row
 * as an event with no rules, and commits the changed profiles, the
 * segment changes and the cursor together. `done` may run before this
 * returns. Returns 0, or CRIER_ECLOSED when the pipeline is stopping,
 * and then `done` is not called for the batch.
 */
int applier_push(struct applier *ap, json_t *rows, json_t *request);

/* Frees the applier once every pushed batch has been reported; may be
 * called from its `done`. */
void applier_free(struct applier *ap);

#endif
