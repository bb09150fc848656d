#include "import/import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "import/apply.h"
#include "import/csv.h"
#include "ingest/identity.h"
#include "ingest/ingest.h"
#include "pipeline/profile.h"
#include "profile/attributes.h"
#include "profile/limits.h"
#include "server/server.h"

/* Bytes read from the input at a time. */
#define IMPORT_CHUNK (64 * 1024)

/* Rows applied in one store commit. A larger batch spreads the commit's
 * fsync and round trips over more rows, but the rows, profiles and commit
 * of a few batches stay in memory. With 1,000, bench/profiles peaks near
 * 47 MB; with 4,000 it measured 88 MB before rows were parsed on the
 * thread pool. */
#define IMPORT_BATCH 1000

/* Batches queued and not yet committed before reading pauses. Three let
 * the store commit one batch while the next is evaluated and a third is
 * read. */
#define IMPORT_MAX_IN_FLIGHT 3

/* Prefix of the store cursor that records the last line an import
 * committed, so that running it again skips the rows already applied. */
#define IMPORT_CURSOR_PREFIX "import:"

/* Identity kinds taken from a column of the same name. */
static const char *const bare_identities[] = { "email", "phone", "case_id" };

enum column_kind { COLUMN_IDENTITY, COLUMN_ATTRIBUTE, COLUMN_CONSENT };

/* One header column and where its cells go in the event. */
struct column {
    enum column_kind kind;
    char *header;               /* the header text */
    char *key;                  /* identity kind, attribute or channel */
    char *path;                 /* the event field: "profile.email" */
    int type;                   /* enum attribute_type, or 0 */
};

/*
 * Reading, parsing and validating run on libuv's thread pool, one chunk
 * run (parse_work) at a time, while the loop thread applies and commits
 * the batches that earlier runs produced. During a run the pool thread
 * alone touches the members marked "parser side" below, and the loop
 * thread reads them only between runs (in parse_done and after). The JSON
 * rows of a batch are built on the pool thread and handed over whole in
 * parse_done, so no JSON value is touched by both threads at once.
 */
struct import {
    char *id;
    char *cursor;               /* IMPORT_CURSOR_PREFIX + id */
    size_t resume_line;         /* rows up to this line are applied */
    import_done_cb done;
    void *done_arg;
    struct applier *applier;
    unsigned in_flight;
    int pumping;                /* inside batches_queue: on_applied does
                                 * not pump */
    int parsing;                /* a parse_work run is under way */
    uv_work_t work;
    int status;                 /* the first error, or 0 */
    char error[256];
    char field[160];
    size_t accepted;

    /* Parser side. */
    import_read_fn read;
    void *read_arg;
    struct csv_parser *parser;
    struct column *columns;     /* NULL until the header is read */
    size_t ncolumns;
    int64_t now_ms;             /* the time of the rows of this run */
    json_t *batch;              /* import_row_new rows not yet queued */
    GQueue parsed;              /* full batches (json_t *) to queue, each
                                 * followed by its profiles_load request */
    int eof;
    int parse_status;           /* the parser's first error, or 0 */
    char parse_error[256];
    char parse_field[160];
    size_t rows, duplicates, rejected_total;
    json_t *rejected;
    char *chunk;
};

static void pump(struct import *im);


int
import_id_valid(const char *id)
{
    size_t len = strlen(id);

    if (len == 0 || len > IMPORT_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(id[i]) && strchr("._:-", id[i]) == NULL)
            return 0;
    return 1;
}


static void
import_free(struct import *im)
{
    json_t *rows;

    for (size_t i = 0; im->columns != NULL && i < im->ncolumns; i++) {
        g_free(im->columns[i].header);
        g_free(im->columns[i].key);
        g_free(im->columns[i].path);
    }
    g_free(im->columns);
    csv_parser_free(im->parser);
    applier_free(im->applier);
    json_decref(im->batch);
    while ((rows = g_queue_pop_head(&im->parsed)) != NULL)
        json_decref(rows);
    json_decref(im->rejected);
    g_free(im->chunk);
    g_free(im->cursor);
    g_free(im->id);
    g_free(im);
}


/* Records the error that ends the import, on the loop thread. The first
 * one is kept. */
static int
import_fail(struct import *im, int status, const char *field,
            const char *format, ...)
{
    va_list ap;

    if (im->status != 0)
        return im->status;
    im->status = status;
    snprintf(im->field, sizeof(im->field), "%s", field ? field : "");
    va_start(ap, format);
    vsnprintf(im->error, sizeof(im->error), format, ap);
    va_end(ap);
    return status;
}


/* Records the parser's error that ends the import, on the pool thread;
 * parse_done hands it to import_fail. The first one is kept. */
static int
parse_fail(struct import *im, int status, const char *field,
           const char *format, ...)
{
    va_list ap;

    if (im->parse_status != 0)
        return im->parse_status;
    im->parse_status = status;
    snprintf(im->parse_field, sizeof(im->parse_field), "%s",
             field ? field : "");
    va_start(ap, format);
    vsnprintf(im->parse_error, sizeof(im->parse_error), format, ap);
    va_end(ap);
    return status;
}


static void
reject_row(struct import *im, size_t line, const char *field,
           const char *error)
{
    im->rejected_total++;
    if (json_array_size(im->rejected) >= IMPORT_MAX_LISTED)
        return;
    json_array_append_new(im->rejected,
                          json_pack("{s:I,s:s?,s:s}", "line",
                                    (json_int_t) line, "field", field,
                                    "error", error));
}


/* Classifies one header name; returns 0 or fills the import's error. */
static int
column_classify(struct import *im, struct column *c, const char *name)
{
    const char *dot = strchr(name, '.');

    c->header = g_strdup(name);
    c->kind = COLUMN_ATTRIBUTE;
    for (size_t i = 0; i < G_N_ELEMENTS(bare_identities); i++)
        if (strcmp(name, bare_identities[i]) == 0)
            c->kind = COLUMN_IDENTITY;
    if (c->kind == COLUMN_IDENTITY)
        c->key = g_strdup(name);
    else if (dot != NULL && strncmp(name, "identity.", 9) == 0)
        c->kind = COLUMN_IDENTITY;
    else if (dot != NULL && strncmp(name, "consent.", 8) == 0)
        c->kind = COLUMN_CONSENT;
    if (c->key == NULL)
        c->key = g_strdup(c->kind == COLUMN_ATTRIBUTE &&
                          strncmp(name, "attribute.", 10) != 0
                          ? name : dot + 1);
    if (c->key[0] == '\0')
        return parse_fail(im, CRIER_EINVAL, name, "the header has an "
                           "empty column name: name every column");
    if (c->kind != COLUMN_ATTRIBUTE && !identity_kind_valid(c->key))
        return parse_fail(im, CRIER_EINVAL, name, "column %s: %s "
                           "is not a valid kind: use lowercase letters, "
                           "digits and '_', starting with a letter", name,
                           c->key);
    c->path = g_strdup_printf("%s.%s", c->kind == COLUMN_IDENTITY
                              ? "profile" : c->kind == COLUMN_CONSENT
                              ? "consent" : "attributes", c->key);
    return 0;
}


static int
column_type(const char *name)
{
    GHashTable *types = server.settings.attribute_types;
    gpointer type;

    if (types == NULL || !g_hash_table_lookup_extended(types, name, NULL,
                                                       &type))
        return 0;
    return GPOINTER_TO_INT(type);
}


/* Reads the header record into the import's columns. */
static int
header_read(struct import *im, const struct csv_record *r)
{
    int identities = 0;

    if (r->error != NULL)
        return parse_fail(im, CRIER_EINVAL, NULL, "line %zu (the header): "
                           "%s", r->line, r->error);
    im->ncolumns = r->count;
    im->columns = g_new0(struct column, r->count);
    for (size_t i = 0; i < r->count; i++) {
        struct column *c = &im->columns[i];

        if (column_classify(im, c, r->fields[i]) != 0)
            return im->parse_status;
        if (c->kind == COLUMN_ATTRIBUTE)
            c->type = column_type(c->key);
        identities += c->kind == COLUMN_IDENTITY;
        for (size_t j = 0; j < i; j++)
            if (strcmp(im->columns[j].path, c->path) == 0)
                return parse_fail(im, CRIER_EINVAL, r->fields[i],
                                   "the header has column %s twice "
                                   "(columns %zu and %zu): remove one",
                                   c->path, j + 1, i + 1);
    }
    if (identities == 0)
        return parse_fail(im, CRIER_EINVAL, NULL, "the header names no "
                           "identity column: add email, phone, case_id or "
                           "identity.<kind>");
    return 0;
}


/* Returns a cell as the JSON value its attribute's declared type expects.
 * Numbers and booleans are unquoted when they parse. Anything else stays
 * a string, so validation rejects it with the expected type. */
static json_t *
cell_value(const struct column *c, const char *text, size_t len)
{
    json_t *v;

    if (c->type == ATTRIBUTE_BOOL && strcmp(text, "true") == 0)
        return json_true();
    if (c->type == ATTRIBUTE_BOOL && strcmp(text, "false") == 0)
        return json_false();
    if (c->type == ATTRIBUTE_NUMBER) {
        v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
        if (json_is_number(v))
            return v;
        json_decref(v);
    }
    return json_stringn(text, len);
}


/* Returns the header name of the column behind event field `path`, or
 * `path` itself when no column maps to it. */
static const char *
column_of(const struct import *im, const char *path)
{
    for (size_t i = 0; i < im->ncolumns; i++)
        if (strcmp(im->columns[i].path, path) == 0)
            return im->columns[i].header;
    return path[0] ? path : NULL;
}


/* Builds the event of one data row; returns NULL and rejects the row when
 * a cell is not UTF-8 or the row has no identity. */
static json_t *
row_event(struct import *im, const struct csv_record *r)
{
    json_t *profile = json_object(), *attributes = json_object();
    json_t *consent = json_object(), *group, *event;
    char reason[160];

    for (size_t i = 0; i < im->ncolumns; i++) {
        const struct column *c = &im->columns[i];

        if (r->lengths[i] == 0)
            continue;
        if (!g_utf8_validate(r->fields[i], (gssize) r->lengths[i], NULL)) {
            reject_row(im, r->line, c->header, "is not valid UTF-8");
            goto fail;
        }
        group = c->kind == COLUMN_IDENTITY ? profile
                : c->kind == COLUMN_CONSENT ? consent : attributes;
        json_object_set_new(group, c->key, c->kind == COLUMN_ATTRIBUTE
                            ? cell_value(c, r->fields[i], r->lengths[i])
                            : json_stringn(r->fields[i], r->lengths[i]));
    }
    if (json_object_size(profile) == 0) {
        reject_row(im, r->line, NULL, "the row has no identity: fill at "
                   "least one identity column");
        goto fail;
    }

    /* NOTE: only the row's own attributes are checked here. A row that
     * would take a stored profile past the limits is applied without its
     * attributes, with a warning in the log (docs/KNOWN_LIMITS.md,
     * "Profiles"). */
    if (profile_attributes_within(NULL, attributes, reason,
                                  sizeof(reason)) != 0) {
        reject_row(im, r->line, NULL, reason);
        goto fail;
    }
    event = json_pack("{s:s,s:o}", "type", IMPORT_EVENT_TYPE, "profile",
                      profile);
    if (json_object_size(attributes) > 0)
        json_object_set(event, "attributes", attributes);
    if (json_object_size(consent) > 0)
        json_object_set(event, "consent", consent);
    json_decref(attributes);
    json_decref(consent);
    return event;
fail:
    json_decref(profile);
    json_decref(attributes);
    json_decref(consent);
    return NULL;
}


static void
on_applied(void *arg, int status, size_t applied)
{
    struct import *im = arg;

    im->in_flight--;
    if (status != 0)
        import_fail(im, status, NULL, "the store could not commit a batch "
                    "of rows: %s", crier_strerror(status));
    im->accepted += applied;
    if (!im->pumping)
        pump(im);
}


/* Moves the batch of valid rows and the request that loads their
 * profiles to `parsed`, for parse_done to queue. */
static void
batch_emit(struct import *im)
{
    if (json_array_size(im->batch) == 0)
        return;
    g_queue_push_tail(&im->parsed, im->batch);
    g_queue_push_tail(&im->parsed, profile_identities_of(im->batch));
    im->batch = json_array();
}


/* Queues the parsed batches for the store, on the loop thread. */
static void
batches_queue(struct import *im)
{
    json_t *rows, *request;
    int rc;

    while ((rows = g_queue_pop_head(&im->parsed)) != NULL) {
        request = g_queue_pop_head(&im->parsed);
        if (im->status != 0) {
            json_decref(rows);
            json_decref(request);
            continue;
        }
        im->in_flight++;
        rc = applier_push(im->applier, rows, request);
        if (rc != 0) {
            im->in_flight--;
            import_fail(im, rc, NULL, "rows could not be applied: %s",
                        crier_strerror(rc));
        }
    }
}


/* Validates one data row as an event and adds it to the batch. */
static int
row_read(struct import *im, const struct csv_record *r)
{
    struct normalized_event norm;
    struct crier_input_error err = { .index = -1 };
    json_t *event;
    char message[64];
    int rc;

    im->rows++;
    if (r->error != NULL) {
        reject_row(im, r->line, r->error_field >= 0 &&
                   (size_t) r->error_field < im->ncolumns
                   ? im->columns[r->error_field].header : NULL, r->error);
        return 0;
    }
    if (r->count != im->ncolumns) {
        snprintf(message, sizeof(message), "the row has %zu fields; the "
                 "header has %zu", r->count, im->ncolumns);
        reject_row(im, r->line, NULL, message);
        return 0;
    }
    if ((event = row_event(im, r)) == NULL)
        return 0;
    rc = event_normalize(event, im->now_ms, &norm, &err);
    json_decref(event);
    if (rc != 0) {
        reject_row(im, r->line, column_of(im, err.field), err.message);
        return 0;
    }
    /* A valid row that an earlier run of this import committed is a
     * duplicate. */
    if (r->line <= im->resume_line) {
        im->duplicates++;
        json_decref(norm.event);
        return 0;
    }
    json_array_append_new(im->batch, import_row_new(norm.event, r->line,
                                                    norm.time_ms));
    if (json_array_size(im->batch) == IMPORT_BATCH)
        batch_emit(im);
    return 0;
}


static int
on_record(void *arg, const struct csv_record *r)
{
    struct import *im = arg;

    if (im->columns == NULL)
        return header_read(im, r);
    return row_read(im, r);
}


static json_t *
summary_new(struct import *im)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:O}", "import", im->id,
                     "rows", (json_int_t) im->rows,
                     "accepted", (json_int_t) im->accepted,
                     "duplicates", (json_int_t) im->duplicates,
                     "rejected_total", (json_int_t) im->rejected_total,
                     "rejected", im->rejected);
}


static void
import_end(struct import *im)
{
    json_t *summary = NULL;

    if (im->status == 0) {
        summary = summary_new(im);
        log_notice("import finished", "import=%s rows=%zu accepted=%zu "
                   "duplicates=%zu rejected=%zu", im->id, im->rows,
                   im->accepted, im->duplicates, im->rejected_total);
    } else if (im->status == CRIER_EINVAL)
        log_notice("import rejected", "import=%s error=\"%s\"", im->id,
                   im->error);
    else
        log_error("import failed", "import=%s rows=%zu accepted=%zu "
                  "error=\"%s\"", im->id, im->rows, im->accepted,
                  im->error);
    im->done(im->done_arg, im->status, summary,
             im->status ? im->error : NULL,
             im->status && im->field[0] ? im->field : NULL);
    json_decref(summary);
    import_free(im);
}


/* Reads and parses one chunk; at the end of the input, emits the last
 * batch. Runs on the pool thread. */
static void
read_chunk(struct import *im)
{
    long n = im->read(im->read_arg, im->chunk, IMPORT_CHUNK);
    int rc;

    if (n < 0) {
        parse_fail(im, (int) n, NULL, "the file could not be read: %s",
                   crier_strerror((int) n));
        return;
    }
    if (n > 0) {
        rc = csv_parser_feed(im->parser, im->chunk, (size_t) n);
    } else {
        im->eof = 1;
        rc = csv_parser_finish(im->parser);
        if (rc == 0 && im->columns == NULL)
            rc = parse_fail(im, CRIER_EINVAL, NULL, "the file is empty: "
                            "its first line must be the header");
    }
    if (rc == CRIER_ENOMEM)
        parse_fail(im, rc, NULL, "out of memory");
    if (rc == 0 && im->eof)
        batch_emit(im);
}


/* Reads chunks until a batch is full, the input ends or parsing fails.
 * Runs on the pool thread. */
static void
parse_work(uv_work_t *work)
{
    struct import *im = work->data;

    while (im->parse_status == 0 && !im->eof &&
           g_queue_is_empty(&im->parsed))
        read_chunk(im);
}


/* Takes over what a parse_work run produced, on the loop thread. */
static void
parse_done(uv_work_t *work, int status)
{
    struct import *im = work->data;

    im->parsing = 0;
    if (im->parse_status != 0)
        import_fail(im, im->parse_status, im->parse_field, "%s",
                    im->parse_error);
    im->pumping = 1;
    batches_queue(im);
    im->pumping = 0;
    pump(im);
}


/* Starts the next parse_work run while few batches are in flight. Ends
 * the import once the input is done or failed and nothing is in flight
 * or being parsed. */
static void
pump(struct import *im)
{
    int rc;

    if (im->parsing)
        return;
    if (im->status == 0 && !im->eof && im->in_flight < IMPORT_MAX_IN_FLIGHT) {
        im->now_ms = clock_now_ms();
        im->work.data = im;
        rc = uv_queue_work(server.loop, &im->work, parse_work, parse_done);
        if (rc == 0) {
            im->parsing = 1;
            return;
        }
        import_fail(im, CRIER_ENOMEM, NULL, "the parser could not start: %s",
                    uv_strerror(rc));
    }
    if (im->in_flight == 0 && (im->eof || im->status != 0))
        import_end(im);
}


/* Starts reading once the stored cursor gives the last line that an
 * earlier run of this import committed. */
static void
on_cursor(void *arg, int status, json_t *result)
{
    struct import *im = arg;
    json_int_t line = json_integer_value(json_object_get(result, "value"));

    if (status != 0)
        import_fail(im, status, NULL, "the store could not read the "
                    "import's progress: %s", crier_strerror(status));
    else
        im->resume_line = line > 0 ? (size_t) line : 0;
    pump(im);
}


int
import_start(const char *id, import_read_fn read, void *read_arg,
             import_done_cb done, void *arg)
{
    struct import *im = g_new0(struct import, 1);
    int rc;

    im->id = g_strdup(id);
    im->cursor = g_strconcat(IMPORT_CURSOR_PREFIX, id, NULL);
    im->applier = applier_new(im->cursor, on_applied, im);
    im->read = read;
    im->read_arg = read_arg;
    im->done = done;
    im->done_arg = arg;
    im->batch = json_array();
    g_queue_init(&im->parsed);
    im->rejected = json_array();
    im->chunk = g_malloc(IMPORT_CHUNK);
    im->parser = csv_parser_new(INGEST_MAX_EVENT_BYTES, on_record, im);
    if (im->parser == NULL) {
        import_free(im);
        return CRIER_ENOMEM;
    }
    log_info("import started", "import=%s", id);
    rc = server.store_ops->cursor_get(server.store->state, im->cursor,
                                      on_cursor, im);
    if (rc != 0) {
        import_free(im);
        return rc;
    }
    return 0;
}
