#include "import/apply.h"

#include <stdlib.h>

#include <glib.h>

#include "import/import.h"
#include "pipeline/evaluate.h"
#include "pipeline/pipeline.h"
#include "pipeline/profile.h"
#include "server/server.h"

/* One batch from the queue to its commit. */
struct apply {
    char *cursor;
    json_t *rows;
    size_t count;
    struct evaluation *ev;      /* NULL until the turn starts */
    import_applied_cb done;
    void *arg;
};


static void
apply_free(struct apply *a)
{
    evaluation_free(a->ev);
    json_decref(a->rows);
    g_free(a->cursor);
    g_free(a);
}


/* Reports a batch that stored nothing and frees it. */
static void
apply_fail(struct apply *a, int status)
{
    a->done(a->arg, status, 0);
    apply_free(a);
}


json_t *
import_row_new(json_t *event, size_t line, int64_t time_ms)
{
    return json_pack("{s:I,s:s,s:s,s:I,s:o}", "seq", (json_int_t) line,
                     "source", IMPORT_SOURCE, "type", IMPORT_EVENT_TYPE,
                     "time", (json_int_t) time_ms, "event", event);
}


static void
on_committed(void *arg, int status, json_t *result)
{
    struct apply *a = arg;

    a->done(a->arg, status, status == 0 ? a->count : 0);
    apply_free(a);
}


/* Applies the rows to the loaded profiles and queues the commit; ends the
 * turn once the commit is queued, because the store runs later requests
 * after it. */
static void
on_loaded(void *arg, int status, json_t *result)
{
    struct apply *a = arg;
    json_t *commit;
    int rc = status;

    if (rc == 0) {
        commit = evaluation_run(a->ev, result, NULL, a->cursor);
        rc = server.store_ops->commit(server.store->state, commit,
                                      on_committed, a);
        json_decref(commit);
    }
    pipeline_exclusive_end();
    if (rc != 0)
        apply_fail(a, rc);
}


static void
on_turn(void *arg)
{
    struct apply *a = arg;
    json_t *request = profile_identities_of(a->rows);
    int rc;

    /* Rows carry their line as `seq`, which makes the commit's cursor the
     * last line; no stored event has those numbers, so none is linked. */
    a->ev = evaluation_new(a->rows);
    a->ev->unlinked = 1;
    rc = server.store_ops->profiles_load(server.store->state, request,
                                         on_loaded, a);
    json_decref(request);
    if (rc != 0) {
        pipeline_exclusive_end();
        apply_fail(a, rc);
    }
}


int
import_apply(const char *cursor, json_t *rows, import_applied_cb done,
             void *arg)
{
    struct apply *a = g_new0(struct apply, 1);
    int rc;

    a->cursor = g_strdup(cursor);
    a->rows = rows;
    a->count = json_array_size(rows);
    a->done = done;
    a->arg = arg;
    rc = pipeline_exclusive(on_turn, a);
    if (rc != 0)
        apply_free(a);
    return rc;
}
