/*
 * Profile import: validates each row of a CSV file as a "profile.imported"
 * event, with the same checks as an event sent to POST /v1/events. The
 * valid rows are applied to profiles in batches (import/apply.h), and no
 * event is stored. A bad row is reported with its line and column and
 * never stops the good ones. docs/imports.md describes the file format
 * and the summary.
 */
#ifndef CRIER_CORE_IMPORT_H
#define CRIER_CORE_IMPORT_H

#include <stddef.h>

#include <jansson.h>

/* The event type of every imported row. */
#define IMPORT_EVENT_TYPE "profile.imported"

/* The source of imported rows. Consent that a row sets records
 * "import:profile.imported" as its source. */
#define IMPORT_SOURCE "import"

/* Maximum length of an import id. */
#define IMPORT_ID_MAX 128

/* Maximum number of rejected rows listed in a summary. */
#define IMPORT_MAX_LISTED 1000

/*
 * Reads up to `cap` bytes of the CSV into `buf`. Returns the number read,
 * 0 at the end of the input, or a negative CRIER_E* code.
 */
typedef long (*import_read_fn)(void *arg, char *buf, size_t cap);

/*
 * Receives the end of an import, once. On status 0, `summary` is
 * {"import", "rows", "accepted", "duplicates", "rejected_total",
 * "rejected": [{"line", "field", "error"}, ...]} (borrowed). Otherwise
 * `summary` is NULL and `error`/`field` say why: CRIER_EINVAL for a bad
 * header (nothing was emitted), or the read or store error that ended the
 * import early (the batches committed before it stay stored).
 */
typedef void (*import_done_cb)(void *arg, int status, const json_t *summary,
                               const char *error, const char *field);

/* Returns 1 when `id` is 1 to IMPORT_ID_MAX letters, digits, '.', '_',
 * ':' or '-', else 0. */
int import_id_valid(const char *id);

/*
 * Starts importing under `id`: reads which line an earlier run of `id`
 * committed, reads the input through `read`, applies the valid rows after
 * that line in batches and calls `done` when every batch is committed.
 * Only a few batches are in flight at a time, so memory stays bounded
 * whatever the size of the input. Returns 0, or the store's error when it
 * cannot be asked for the committed line, and then `done` is not called.
 */
int import_start(const char *id, import_read_fn read, void *read_arg,
                 import_done_cb done, void *arg);

/* Exit codes of `crier profiles import`. */
#define IMPORT_EXIT_FAILED 1    /* the store failed partway */
#define IMPORT_EXIT_NOT_RUN 2   /* unreadable file, bad header, busy store */

/*
 * Runs `crier profiles import FILE`, after server_prepare: imports the CSV
 * file with only the store and the pipeline running, waits until every
 * batch is committed and prints the summary as JSON. The
 * import id is derived from the file's content, as POST /v1/imports
 * derives it from the body. Returns 0 (rejected rows included) or one of
 * the IMPORT_EXIT_* codes.
 */
int import_file_command(const char *path);

#endif
