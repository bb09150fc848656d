#include "pipeline/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "ingest/ingest.h"
#include "ingest/internal.h"
#include "metrics/metrics.h"
#include "journeys/journeys.h"
#include "pipeline/evaluate.h"
#include "pipeline/history.h"
#include "server/server.h"

#define PIPELINE_BATCH 256
#define PIPELINE_RETRY_MS 1000
#define PIPELINE_POLL_MS 1000

/*
 * While events are arriving, the pipeline lets them gather: it starts a
 * batch at most every PIPELINE_YIELD_MIN_MS, because many small batches
 * cost a store round trip each. When it has fallen behind (its last read
 * filled a batch), it waits three times as long as the batch took, from
 * PIPELINE_BEHIND_MIN_MS to PIPELINE_YIELD_MAX_MS, so a burst of events
 * gets at least three quarters of the store's writer and of the CPU: a
 * sender waits for its 202, a planned message can wait. Once ingest is
 * idle it runs flat out.
 */
#define PIPELINE_YIELD_MIN_MS 20
#define PIPELINE_BEHIND_MIN_MS 100
#define PIPELINE_YIELD_MAX_MS 500
#define PIPELINE_YIELD_FACTOR 3
#define CURSOR_NAME "pipeline"

static struct {
    const struct ruleset *rules;
    int64_t window_ms;          /* max count() window in ms, 0 for none */
    json_t *loaded;             /* profiles_load's result while the
                                 * batch's history loads */
    void (*on_planned)(void);
    int64_t cursor;
    int busy;                   /* a batch is between read and commit */
    int again;                  /* events arrived while busy */
    int stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    uv_timer_t timer;           /* retry after a store error; poll */
    uv_timer_t yield;           /* a batch put off while ingest is busy */
    uint64_t batch_started;     /* loop time of the last batch, in ms */
    uint64_t commit_started;    /* metrics_now_ns() at the last commit */
    uint64_t batch_took;        /* how long the last batch took, in ms */
    int behind;                 /* the last read filled a whole batch */
    struct evaluation *batch;
    GQueue merges;              /* struct pending_merge *, in order */
    int exclusive;              /* a pipeline_exclusive turn is running */
    void (*idle_done)(void *arg);   /* see pipeline_when_idle */
    void *idle_arg;
    int idle_armed;             /* a read started after pipeline_when_idle */
} pl;

/* An admin merge, or a pipeline_exclusive turn when `run` is set,
 * waiting for the pipeline to be between batches. */
struct pending_merge {
    json_t *commit;
    void (*run)(void *arg);
    void (*done)(void *arg, int status, json_t *result);
    void *arg;
};

static void step(void);


/* Drops the admin merges and exclusive turns that a stop left waiting.
 * A merge's caller gets CRIER_ECLOSED, and a turn is not run. */
static void
drop_pending(void)
{
    struct pending_merge *m;

    while ((m = g_queue_pop_head(&pl.merges)) != NULL) {
        if (m->run == NULL) {
            m->done(m->arg, CRIER_ECLOSED, NULL);
            json_decref(m->commit);
        }
        free(m);
    }
}


static void
finish(void)
{
    pl.busy = 0;
    if (pl.stopping) {
        drop_pending();
        uv_timer_stop(&pl.timer);
        uv_close((uv_handle_t *) &pl.timer, NULL);
        uv_close((uv_handle_t *) &pl.yield, NULL);
        pl.stop_done(pl.stop_arg);
        return;
    }
    if (pl.again) {
        pl.again = 0;
        step();
    }
}


static void
on_timer(uv_timer_t *handle)
{
    if (pl.cursor < 0)
        return;
    step();
}


/* A store error leaves the cursor where it is; the batch is read again. */
static void
retry_later(const char *what, int status)
{
    log_error("pipeline batch failed; retrying", "step=%s error=%s "
              "cursor=%lld", what, crier_errname(status),
              (long long) pl.cursor);
    evaluation_free(pl.batch);
    pl.batch = NULL;
    pl.busy = 0;
    if (!pl.stopping)
        uv_timer_start(&pl.timer, on_timer, PIPELINE_RETRY_MS,
                       PIPELINE_POLL_MS);
    else
        finish();
}


static void
on_cursor_reread(void *arg, int status, json_t *result)
{
    if (status != 0) {
        retry_later("cursor_get", status);
        return;
    }
    pl.cursor = json_integer_value(json_object_get(result, "value"));
    pl.again = 1;
    finish();
}


/*
 * Drops a batch that the store refused because the cursor had moved on
 * since the batch was read: another crier node on the same store
 * committed those events first. The pipeline continues from the stored
 * cursor.
 */
static void
cursor_reread(void)
{
    int rc;

    log_info("pipeline batch committed by another node; reading the "
             "cursor again", "cursor=%lld", (long long) pl.cursor);
    evaluation_free(pl.batch);
    pl.batch = NULL;
    rc = server.store_ops->cursor_get(server.store->state, CURSOR_NAME,
                                      on_cursor_reread, NULL);
    if (rc != 0)
        retry_later("cursor_get", rc);
}


static void
on_committed(void *arg, int status, json_t *result)
{
    long long planned, merged;
    size_t i;
    json_t *merge;

    metrics_observe("crier_store_seconds", "op", "commit",
                    (double) (metrics_now_ns() - pl.commit_started) / 1e9);
    if (status == CRIER_ESTALE && !pl.stopping) {
        cursor_reread();
        return;
    }
    if (status != 0) {
        metrics_count("crier_plugin_errors_total", "plugin", "store", 1);
        retry_later("commit", status);
        return;
    }
    planned = json_integer_value(json_object_get(result, "planned"));
    /* Merges the store had already applied, as in a batch replayed after
     * a restart, count 0 and are not logged again. Identities stay out of
     * the log. */
    merged = json_integer_value(json_object_get(result, "merged"));
    if (merged > 0)
        json_array_foreach(pl.batch->idx.merges, i, merge)
            log_info("profiles merged", "from=%s into=%s merged=%lld",
                     json_string_value(json_object_get(merge, "from")),
                     json_string_value(json_object_get(merge, "into")),
                     merged);
    log_debug("pipeline batch committed", "events=%zu cursor=%lld "
              "planned=%lld existing=%lld", pl.batch->count,
              (long long) pl.batch->last_seq, planned,
              (long long) json_integer_value(json_object_get(result,
                                                             "existing")));
    /* A wait that a step set for a time the clock has already read past
     * (a test clock that jumped while the batch ran), or a digest window
     * that ends before the clock's next read, wakes the clock then. */
    journeys_wake_due(pl.batch->journeys_due_min);
    pl.cursor = pl.batch->last_seq;
    pl.behind = pl.batch->count == PIPELINE_BATCH;
    pl.batch_took = uv_now(server.loop) - pl.batch_started;
    evaluation_free(pl.batch);
    pl.batch = NULL;
    if (planned > 0 && pl.on_planned)
        pl.on_planned();
    /* A full batch means more may be waiting. */
    pl.again = 1;
    finish();
}


/* Evaluates the batch over its loaded profiles and commits it. */
static void
batch_evaluate(const json_t *loaded)
{
    json_t *commit;
    int rc;

    commit = evaluation_run(pl.batch, loaded, pl.rules, CURSOR_NAME);
    /* The store applies the batch only while the cursor still has the
     * value it was read at, so with several nodes on one store each
     * event is processed once. */
    if (commit != NULL)
        json_object_set_new(json_object_get(commit, "cursor"), "from",
                            json_integer(pl.cursor));
    pl.commit_started = metrics_now_ns();
    rc = server.store_ops->commit(server.store->state, commit, on_committed,
                                  NULL);
    json_decref(commit);
    if (rc != 0)
        retry_later("commit", rc);
}


static void
on_journeys(void *arg, int status, json_t *result)
{
    json_t *loaded = pl.loaded;

    pl.loaded = NULL;
    if (status != 0) {
        json_decref(loaded);
        retry_later("journeys_read", status);
        return;
    }
    evaluation_journeys_set(pl.batch, json_object_get(result, "journeys"));
    batch_evaluate(loaded);
    json_decref(loaded);
}


static json_t *loaded_ids(const json_t *loaded);


/* Loads the journey places of the batch's profiles when journeys are
 * configured, then evaluates and commits the batch. */
static void
batch_commit(const json_t *loaded)
{
    json_t *request;
    int rc;

    if (!journeys_running(pl.rules)) {
        batch_evaluate(loaded);
        return;
    }
    request = json_pack("{s:o}", "profiles", loaded_ids(loaded));
    pl.loaded = json_incref((json_t *) loaded);
    rc = server.store_ops->journeys_read(server.store->state, request,
                                         on_journeys, NULL);
    json_decref(request);
    if (rc != 0) {
        json_decref(pl.loaded);
        pl.loaded = NULL;
        retry_later("journeys_read", rc);
    }
}


static void
on_history(void *arg, int status, json_t *history)
{
    json_t *loaded = pl.loaded;

    pl.loaded = NULL;
    if (status != 0) {
        json_decref(loaded);
        retry_later("events_recent", status);
        return;
    }
    evaluation_history_set(pl.batch, history);
    batch_commit(loaded);
    json_decref(loaded);
}


/* Returns the ids of the profiles that profiles_load found. */
static json_t *
loaded_ids(const json_t *loaded)
{
    json_t *ids = json_array();
    size_t i;
    json_t *profile;

    json_array_foreach(json_object_get(loaded, "profiles"), i, profile)
        json_array_append(ids, json_object_get(profile, "id"));
    return ids;
}


/*
 * Loads the stored history of the batch's profiles when a rule or
 * segment uses count(): their events since the batch's earliest event
 * minus the longest window. Returns 0 when the load was started, 1 when
 * none is needed, or a negative code.
 */
static int
history_start(json_t *loaded)
{
    json_t *ids;
    int64_t since;
    int rc;

    if (pl.window_ms == 0)
        return 1;
    evaluation_history_set(pl.batch, NULL);
    ids = loaded_ids(loaded);
    if (json_array_size(ids) == 0) {
        json_decref(ids);
        return 1;
    }
    since = evaluation_earliest(pl.batch) - pl.window_ms;
    pl.loaded = json_incref(loaded);
    rc = history_load(ids, since, on_history, NULL);
    json_decref(ids);
    if (rc != 0) {
        json_decref(pl.loaded);
        pl.loaded = NULL;
    }
    return rc;
}


static void
on_profiles(void *arg, int status, json_t *result)
{
    int rc;

    if (status != 0) {
        retry_later("profiles_load", status);
        return;
    }
    rc = history_start(result);
    if (rc == 1)
        batch_commit(result);
    else if (rc != 0)
        retry_later("events_recent", rc);
}


/* Calls the pipeline_when_idle waiter after an empty read it waited for. */
static void
idle_report(void)
{
    void (*done)(void *arg) = pl.idle_done;

    if (done == NULL || !pl.idle_armed)
        return;
    pl.idle_done = NULL;
    pl.idle_armed = 0;
    done(pl.idle_arg);
}


static void
on_events(void *arg, int status, json_t *result)
{
    json_t *events = json_object_get(result, "events");
    json_t *request;
    int rc;

    if (status != 0) {
        retry_later("events_read", status);
        return;
    }
    if (json_array_size(events) == 0) {
        pl.behind = 0;
        finish();
        idle_report();
        return;
    }
    pl.batch = evaluation_new(events);
    request = profile_identities_of(events);
    rc = server.store_ops->profiles_load(server.store->state, request,
                                         on_profiles, NULL);
    json_decref(request);
    if (rc != 0)
        retry_later("profiles_load", rc);
}


static void
on_yield_over(uv_timer_t *handle)
{
    step();
}


/* Returns nonzero when the next batch must wait for ingest, which counts
 * as busy when it took events in the last 10 ms; see PIPELINE_YIELD_*. */
static int
yield_to_ingest(void)
{
    uint64_t now = uv_now(server.loop);
    uint64_t wait = pl.batch_took * PIPELINE_YIELD_FACTOR;
    uint64_t since;

    if (ingest_idle_ms() > 10)
        return 0;
    if (!pl.behind)
        wait = PIPELINE_YIELD_MIN_MS;
    else if (wait < PIPELINE_BEHIND_MIN_MS)
        wait = PIPELINE_BEHIND_MIN_MS;
    if (wait > PIPELINE_YIELD_MAX_MS)
        wait = PIPELINE_YIELD_MAX_MS;
    since = now - pl.batch_started - pl.batch_took;
    if (since >= wait)
        return 0;
    if (!uv_is_active((uv_handle_t *) &pl.yield))
        uv_timer_start(&pl.yield, on_yield_over, wait - since, 0);
    return 1;
}


static void
on_merged(void *arg, int status, json_t *result)
{
    struct pending_merge *m = arg;

    pl.busy = 0;
    m->done(m->arg, status, result);
    json_decref(m->commit);
    free(m);
    finish();
    step();
}


/* Runs the next admin merge; returns nonzero when one was started. */
static int
merge_next(void)
{
    struct pending_merge *m = g_queue_pop_head(&pl.merges);
    int rc;

    if (m == NULL)
        return 0;
    pl.busy = 1;
    if (m->run != NULL) {
        pl.exclusive = 1;
        m->run(m->arg);
        free(m);
        return 1;
    }
    rc = server.store_ops->commit(server.store->state, m->commit, on_merged,
                                  m);
    if (rc != 0) {
        pl.busy = 0;
        m->done(m->arg, rc, NULL);
        json_decref(m->commit);
        free(m);
        return 0;
    }
    return 1;
}


static void
step(void)
{
    int rc;

    if (pl.busy) {
        pl.again = 1;
        return;
    }
    if (pl.stopping || merge_next() || yield_to_ingest())
        return;
    pl.busy = 1;
    pl.batch_started = uv_now(server.loop);
    pl.idle_armed = pl.idle_done != NULL;
    rc = server.store_ops->events_read(server.store->state, pl.cursor,
                                       PIPELINE_BATCH, on_events, NULL);
    if (rc != 0)
        retry_later("events_read", rc);
}


static void
on_cursor(void *arg, int status, json_t *result)
{
    /* A stop that came while the cursor was read waits for this. */
    if (pl.stopping) {
        finish();
        return;
    }
    pl.busy = 0;
    if (status != 0) {
        log_error("pipeline cursor unreadable; retrying", "error=%s",
                  crier_errname(status));
        uv_timer_start(&pl.timer, on_timer, PIPELINE_RETRY_MS,
                       PIPELINE_POLL_MS);
        return;
    }
    pl.cursor = json_integer_value(json_object_get(result, "value"));
    log_info("pipeline started", "cursor=%lld", (long long) pl.cursor);
    /* Polling finds events that another writer committed. */
    uv_timer_start(&pl.timer, on_timer, 0, PIPELINE_POLL_MS);
}


int
pipeline_start(const struct ruleset *rules, void (*on_planned)(void))
{
    memset(&pl, 0, sizeof(pl));
    pl.rules = rules;
    pl.window_ms = history_window_ms(rules, server.segments);
    if (pl.window_ms > 0 && !history_supported()) {
        log_error("rules or segments use count(), but the store lacks "
                  "events_recent; use a store plugin that implements it",
                  "store=%s", server.store->desc->name);
        return CRIER_ENOTSUP;
    }
    pl.on_planned = on_planned;
    uv_timer_init(server.loop, &pl.timer);
    uv_timer_init(server.loop, &pl.yield);
    pl.busy = 1;
    return server.store_ops->cursor_get(server.store->state, CURSOR_NAME,
                                        on_cursor, NULL);
}


void
pipeline_notify(void)
{
    if (server.store_ops != NULL && !pl.stopping)
        step();
}


int
pipeline_merge(const char *from, const char *into, int64_t now_ms,
               void (*done)(void *arg, int status, json_t *result),
               void *arg)
{
    struct pending_merge *m;

    if (pl.stopping || server.store_ops == NULL)
        return CRIER_ECLOSED;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return CRIER_ENOMEM;
    /* The profile.merged event goes to the survivor, so its segments
     * are evaluated with what it took over. */
    m->commit = json_pack("{s:[{s:s,s:s,s:I}],s:[o]}", "merges", "from",
                          from, "into", into, "time", (json_int_t) now_ms,
                          "events",
                          internal_event(INTERNAL_PROFILE_MERGED, into,
                                         now_ms, json_pack("{s:s}", "from",
                                                           from)));
    m->done = done;
    m->arg = arg;
    g_queue_push_tail(&pl.merges, m);
    step();
    return 0;
}


int
pipeline_exclusive(void (*run)(void *arg), void *arg)
{
    struct pending_merge *m;

    if (pl.stopping || server.store_ops == NULL)
        return CRIER_ECLOSED;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return CRIER_ENOMEM;
    m->run = run;
    m->arg = arg;
    g_queue_push_tail(&pl.merges, m);
    step();
    return 0;
}


void
pipeline_exclusive_end(void)
{
    if (!pl.exclusive)
        return;
    pl.exclusive = 0;
    pl.busy = 0;
    finish();
    step();
}


void
pipeline_when_idle(void (*done)(void *arg), void *arg)
{
    pl.idle_done = done;
    pl.idle_arg = arg;
    pl.idle_armed = 0;
    if (server.store_ops != NULL && !pl.stopping)
        step();
}


void
pipeline_stop(void (*done)(void *arg), void *arg)
{
    pl.stopping = 1;
    pl.stop_done = done;
    pl.stop_arg = arg;
    if (!pl.busy)
        finish();
}
