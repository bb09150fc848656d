#include "import/apply.h"

#include <glib.h>

#include "crier/error.h"
#include "import/import.h"
#include "pipeline/evaluate.h"
#include "pipeline/pipeline.h"
#include "pipeline/profile.h"
#include "server/server.h"

enum turn { TURN_NONE, TURN_ASKED, TURN_HELD };

/*
 * Batches move from `pending` to a profiles_load (`loading`), to `ready`
 * once evaluated, then to the store's commit. The next load starts while
 * the previous batch commits, so that the loop thread evaluates one batch
 * while the store writes the other. That load may not see the commit
 * still under way, so the profiles that batch changed (`last`) replace
 * what the load returns. A load starts only when no evaluated batch waits
 * to commit, so `last` covers every commit it can miss. Commits run one
 * at a time, so after a failed one no later batch moves the cursor past
 * rows that were not stored.
 */
struct applier {
    char *cursor;
    import_applied_cb done;
    void *arg;
    GQueue pending;             /* struct batch *, not yet loaded */
    json_t *loading;            /* the rows whose load is under way */
    json_t *request;            /* and the identities it asked for */
    json_t *ready;              /* an evaluated batch's commit, waiting */
    size_t ready_rows;
    int committing;             /* a commit is under way */
    size_t committing_rows;
    struct evaluation *last;    /* the latest batch evaluated in this turn */
    enum turn turn;
    int status;                 /* the first failure: later batches fail */
    int reporting;              /* inside `done` */
    int freed;                  /* applier_free was called */
};

/* A pushed batch: its rows and the profiles_load request for them. */
struct batch {
    json_t *rows;
    json_t *request;
};

static void kick(struct applier *ap);


json_t *
import_row_new(json_t *event, size_t line, int64_t time_ms)
{
    return json_pack("{s:I,s:s,s:s,s:I,s:o}", "seq", (json_int_t) line,
                     "source", IMPORT_SOURCE, "type", IMPORT_EVENT_TYPE,
                     "time", (json_int_t) time_ms, "event", event);
}


struct applier *
applier_new(const char *cursor, import_applied_cb done, void *arg)
{
    struct applier *ap = g_new0(struct applier, 1);

    ap->cursor = g_strdup(cursor);
    ap->done = done;
    ap->arg = arg;
    g_queue_init(&ap->pending);
    return ap;
}


static int
applier_idle(struct applier *ap)
{
    return g_queue_is_empty(&ap->pending) && ap->loading == NULL &&
           ap->ready == NULL && !ap->committing;
}


static void
applier_destroy(struct applier *ap)
{
    evaluation_free(ap->last);
    g_free(ap->cursor);
    g_free(ap);
}


void
applier_free(struct applier *ap)
{
    if (ap == NULL)
        return;
    ap->freed = 1;
    if (!ap->reporting && ap->turn == TURN_NONE)
        applier_destroy(ap);
}


/* Calls `done` for one batch. The callback may push batches or free the
 * applier, which then waits until it is idle. */
static void
report(struct applier *ap, int status, size_t applied)
{
    ap->reporting = 1;
    ap->done(ap->arg, status, applied);
    ap->reporting = 0;
}


/* Records the first failure and drops `last`, whose profiles may not be
 * stored. */
static void
applier_fail(struct applier *ap, int status)
{
    if (ap->status == 0)
        ap->status = status;
    evaluation_free(ap->last);
    ap->last = NULL;
}


/* Returns the profile `last` changed under `id` or identity `key`
 * ("kind\nvalue"), or NULL. */
static json_t *
last_changed(struct evaluation *last, const char *id, const char *key)
{
    json_t *p = id ? g_hash_table_lookup(last->idx.by_id, id)
                   : g_hash_table_lookup(last->idx.by_identity, key);

    if (p == NULL || !json_is_true(json_object_get(p, "_dirty")) ||
        json_object_get(p, "_merged_into") != NULL)
        return NULL;
    return p;
}


/* Appends a copy of `p` without its markers to `out`; the copy is
 * shallow because the profile index deep-copies what it keeps. */
static void
append_clean(json_t *out, json_t *listed, json_t *p)
{
    json_t *copy = json_copy(p);

    json_object_del(copy, "_dirty");
    json_object_del(copy, "_new");
    json_object_set(listed, json_string_value(json_object_get(p, "id")),
                    json_true());
    json_array_append_new(out, copy);
}


/*
 * Returns the profiles to evaluate a batch against: those `loaded` read,
 * each one that the previous batch of this turn changed in place of its
 * stored form, and the changed ones that own a requested identity.
 */
static json_t *
profiles_with_last(const json_t *loaded, const json_t *request,
                   struct evaluation *last)
{
    json_t *out = json_array(), *listed = json_object(), *p, *identity;
    size_t i;

    json_array_foreach(json_object_get(loaded, "profiles"), i, p) {
        const char *id = json_string_value(json_object_get(p, "id"));
        json_t *newer = last_changed(last, id, NULL);

        if (newer != NULL) {
            append_clean(out, listed, newer);
        } else {
            json_object_set(listed, id, json_true());
            json_array_append(out, p);
        }
    }
    json_array_foreach(json_object_get(request, "identities"), i,
                       identity) {
        char *key = g_strconcat(
            json_string_value(json_object_get(identity, "kind")), "\n",
            json_string_value(json_object_get(identity, "value")), NULL);

        p = last_changed(last, NULL, key);
        g_free(key);
        if (p != NULL && json_object_get(listed, json_string_value(
                                             json_object_get(p, "id"))) == NULL)
            append_clean(out, listed, p);
    }
    json_decref(listed);
    return json_pack("{s:o}", "profiles", out);
}

static void
on_committed(void *arg, int status, json_t *result)
{
    struct applier *ap = arg;

    ap->committing = 0;
    if (status != 0)
        applier_fail(ap, status);
    report(ap, status, status == 0 ? ap->committing_rows : 0);
    kick(ap);
}


/*
 * Applies the loaded batch and keeps its commit `ready`.
 *
 * NOTE: the rows are parsed and validated on the thread pool (import.c).
 * Evaluating, parsing the commit and freeing each batch's JSON stay on
 * the loop thread, which limits the import to about the 50,000 rows a
 * second it aims for (docs/KNOWN_LIMITS.md, "Profiles").
 */
static void
on_loaded(void *arg, int status, json_t *result)
{
    struct applier *ap = arg;
    json_t *rows = ap->loading, *profiles;
    struct evaluation *ev;

    ap->loading = NULL;
    if (status != 0)
        applier_fail(ap, status);
    if (ap->status != 0) {
        report(ap, ap->status, 0);
    } else {
        profiles = ap->last ? profiles_with_last(result, ap->request,
                                                 ap->last)
                            : json_incref(result);
        /* Rows carry their line as `seq`, which makes the commit's cursor
         * the last line; no stored event has those numbers, so none is
         * linked. */
        ev = evaluation_new(rows);
        ev->unlinked = 1;
        ap->ready = evaluation_run(ev, profiles, NULL, ap->cursor);
        ap->ready_rows = json_array_size(rows);
        json_decref(profiles);
        evaluation_free(ap->last);
        ap->last = ev;
    }
    json_decref(rows);
    json_decref(ap->request);
    ap->request = NULL;
    kick(ap);
}


/* Queues the ready commit. */
static void
commit_ready(struct applier *ap)
{
    json_t *commit = ap->ready;
    int rc;

    ap->ready = NULL;
    ap->committing_rows = ap->ready_rows;
    rc = server.store_ops->commit(server.store->state, commit, on_committed,
                                  ap);
    json_decref(commit);
    if (rc == 0) {
        ap->committing = 1;
        return;
    }
    applier_fail(ap, rc);
    report(ap, rc, 0);
}


static void
batch_free(struct batch *b)
{
    json_decref(b->rows);
    json_decref(b->request);
    g_free(b);
}


/* Starts the load of the next pending batch. */
static void
load_next(struct applier *ap)
{
    struct batch *b = g_queue_pop_head(&ap->pending);
    int rc;

    ap->loading = b->rows;
    ap->request = b->request;
    g_free(b);
    rc = server.store_ops->profiles_load(server.store->state, ap->request,
                                         on_loaded, ap);
    if (rc == 0)
        return;
    json_decref(ap->loading);
    json_decref(ap->request);
    ap->loading = NULL;
    ap->request = NULL;
    applier_fail(ap, rc);
    report(ap, rc, 0);
}


/* Reports the ready batch and, once no load is under way, every pending
 * one as failed, so batches are reported in order. */
static void
fail_waiting(struct applier *ap)
{
    struct batch *b;

    if (ap->ready != NULL) {
        json_decref(ap->ready);
        ap->ready = NULL;
        report(ap, ap->status, 0);
    }
    while (ap->loading == NULL &&
           (b = g_queue_pop_head(&ap->pending)) != NULL) {
        batch_free(b);
        report(ap, ap->status, 0);
    }
}


static void
on_turn(void *arg)
{
    struct applier *ap = arg;

    ap->turn = TURN_HELD;
    kick(ap);
}


/*
 * Moves the applier on during its turn. It commits the ready batch once
 * the store is free and loads the next batch when none waits to commit.
 * After a failure it fails what waits. When nothing is left, it gives the
 * turn back and forgets `last`.
 */
static void
kick(struct applier *ap)
{
    if (ap->turn != TURN_HELD)
        return;
    if (ap->status == 0 && ap->ready != NULL && !ap->committing)
        commit_ready(ap);
    if (ap->status == 0 && ap->loading == NULL && ap->ready == NULL &&
        !g_queue_is_empty(&ap->pending))
        load_next(ap);
    if (ap->status != 0 && !ap->committing)
        fail_waiting(ap);
    if (!applier_idle(ap) || ap->reporting)
        return;
    ap->turn = TURN_NONE;
    evaluation_free(ap->last);
    ap->last = NULL;
    pipeline_exclusive_end();
    if (ap->freed)
        applier_destroy(ap);
}


int
applier_push(struct applier *ap, json_t *rows, json_t *request)
{
    struct batch *b = g_new(struct batch, 1);
    int rc;

    b->rows = rows;
    b->request = request;
    g_queue_push_tail(&ap->pending, b);
    if (ap->turn != TURN_NONE)
        return 0;
    ap->turn = TURN_ASKED;
    rc = pipeline_exclusive(on_turn, ap);
    if (rc != 0) {
        g_queue_pop_tail(&ap->pending);
        batch_free(b);
        ap->turn = TURN_NONE;
    }
    return rc;
}
