/*
 * Worker threads, their request queues, and the hand-back of finished
 * requests to the loop thread.
 */
#include <stdlib.h>

#include "sqlite.h"


/* Adds a list of finished requests to the loop's queue and wakes it. Any
 * thread may call it. */
void
completions_push(struct sqlite_store *store, struct request *list)
{
    struct request *last = list;

    while (last->next != NULL)
        last = last->next;
    uv_mutex_lock(&store->completion_lock);
    if (store->finished_tail != NULL)
        store->finished_tail->next = list;
    else
        store->finished_head = list;
    store->finished_tail = last;
    uv_mutex_unlock(&store->completion_lock);
    uv_async_send(store->completion);
}


/*
 * Group commit gathering. Each run of the writer costs an fdatasync, and a
 * WAL frame for every page that it changed. Many of those pages (the ends
 * of the jobs indexes, job_attempts, the report counters) change in every
 * run. A writer that takes its queue as soon as a run ends finds only the
 * requests that came during that run, so a quick commit makes the next
 * run small. So when the last run ended less than GATHER_BUSY_NS ago,
 * which happens only while requests keep coming, the writer waits up to
 * GATHER_WAIT_NS for gather_min requests before it takes them. A request
 * that reaches an idle writer is taken at once, because the last run ended
 * long before. Under load a write waits at most GATHER_WAIT_NS longer, on
 * top of a COMMIT that took about 1.3 ms in bench/email on the machine of
 * docs/benchmarks.md.
 */
#define GATHER_BUSY_NS 1000000
#define GATHER_WAIT_NS 200000


/* Returns nonzero when the worker should wait for more requests before it
 * takes the queued ones. The caller holds the worker's lock. */
static int
worker_gather_wanted(const struct worker *worker, uint64_t now)
{
    return worker->queued < worker->gather_min && !worker->stopping
           && now - worker->run_ended < GATHER_BUSY_NS;
}


/*
 * Waits until gather_min requests are queued, the worker stops, or
 * GATHER_WAIT_NS has passed. The caller holds the worker's lock.
 * NOTE: when fewer than gather_min writes can be waiting at once (a low
 * delivery.max_in_flight), each wait lasts the full GATHER_WAIT_NS, so a
 * send with few jobs in flight takes longer (docs/KNOWN_LIMITS.md,
 * "Stores").
 */
static void
worker_gather(struct worker *worker)
{
    uint64_t now = uv_hrtime();
    uint64_t deadline = now + GATHER_WAIT_NS;

    if (!worker_gather_wanted(worker, now))
        return;
    worker->gathering = 1;
    while (worker->queued < worker->gather_min && !worker->stopping
           && now < deadline) {
        uv_cond_timedwait(&worker->wake, &worker->lock, deadline - now);
        now = uv_hrtime();
    }
    worker->gathering = 0;
}


/*
 * Waits for requests and detaches up to `take_max` of them. Returns NULL
 * once the worker is stopping and its queue is empty.
 */
static struct request *
worker_take(struct worker *worker)
{
    struct request *list;
    struct request *last;
    size_t count = 1;

    uv_mutex_lock(&worker->lock);
    while (worker->head == NULL && !worker->stopping)
        uv_cond_wait(&worker->wake, &worker->lock);
    worker_gather(worker);
    list = worker->head;
    if (list != NULL) {
        last = list;
        while (last->next != NULL && count < worker->take_max) {
            last = last->next;
            count++;
        }
        worker->head = last->next;
        if (worker->head == NULL)
            worker->tail = NULL;
        worker->queued -= count;
        last->next = NULL;
    }
    uv_mutex_unlock(&worker->lock);
    return list;
}


/* Appends `req` to the worker's queue, and wakes the worker when it
 * waits for a first request or has gathered enough. The caller holds the
 * worker's lock. */
static void
queue_append(struct worker *worker, struct request *req)
{
    req->next = NULL;
    if (worker->tail != NULL)
        worker->tail->next = req;
    else
        worker->head = req;
    worker->tail = req;
    worker->queued++;
    if (worker->queued == 1
        || (worker->gathering && worker->queued == worker->gather_min))
        uv_cond_signal(&worker->wake);
}


/* Queues `req` on a running worker and returns 1, or returns 0 when the
 * worker is stopping, since it may have exited. */
static int
worker_push_running(struct worker *worker, struct request *req)
{
    int queued = 0;

    uv_mutex_lock(&worker->lock);
    if (!worker->stopping) {
        queue_append(worker, req);
        queued = 1;
    }
    uv_mutex_unlock(&worker->lock);
    return queued;
}


/*
 * Passes each committed claim of the writer's `list` to the reader,
 * which adds the events and profiles, and returns the rest of the list.
 * A claim runs on the writer's connection when the reader is stopping.
 */
static struct request *
claims_pass(struct sqlite_store *store, struct request *list)
{
    struct request *rest = NULL;
    struct request **tail = &rest;
    struct request *next;

    for (struct request *req = list; req != NULL; req = next) {
        next = req->next;
        if (req->claimed_seqs != NULL && req->status == 0) {
            if (worker_push_running(&store->reader, req))
                continue;
            request_execute(&store->writer.conn, req);
        }
        req->next = NULL;
        *tail = req;
        tail = &req->next;
    }
    return rest;
}


static void
worker_main(void *arg)
{
    struct worker *worker = arg;
    struct sqlite_store *store = worker->store;
    struct request *list;

    while ((list = worker_take(worker)) != NULL) {
        worker->run(worker, list);
        worker->run_ended = uv_hrtime();
        if (worker == &store->writer)
            list = claims_pass(store, list);
        if (list != NULL)
            completions_push(store, list);
    }
    uv_mutex_lock(&store->completion_lock);
    store->workers_running--;
    uv_mutex_unlock(&store->completion_lock);
    uv_async_send(store->completion);
}


/* Starts the worker's thread. Its connection must already be open. */
int
worker_start(struct worker *worker)
{
    struct sqlite_store *store = worker->store;

    if (uv_mutex_init(&worker->lock) != 0)
        return CRIER_ENOMEM;
    if (uv_cond_init(&worker->wake) != 0) {
        uv_mutex_destroy(&worker->lock);
        return CRIER_ENOMEM;
    }
    uv_mutex_lock(&store->completion_lock);
    store->workers_running++;
    uv_mutex_unlock(&store->completion_lock);
    if (uv_thread_create(&worker->thread, worker_main, worker) != 0) {
        uv_mutex_lock(&store->completion_lock);
        store->workers_running--;
        uv_mutex_unlock(&store->completion_lock);
        uv_cond_destroy(&worker->wake);
        uv_mutex_destroy(&worker->lock);
        return CRIER_ENOMEM;
    }
    worker->thread_started = 1;
    return 0;
}


void
worker_push(struct worker *worker, struct request *req)
{
    uv_mutex_lock(&worker->lock);
    queue_append(worker, req);
    uv_mutex_unlock(&worker->lock);
}


/* Asks the thread to finish its queue and exit. worker_join waits for it. */
void
worker_stop(struct worker *worker)
{
    if (!worker->thread_started)
        return;
    uv_mutex_lock(&worker->lock);
    worker->stopping = 1;
    uv_cond_signal(&worker->wake);
    uv_mutex_unlock(&worker->lock);
}


/* Joins the thread and closes the worker's connection. */
void
worker_join(struct worker *worker)
{
    if (worker->thread_started) {
        uv_thread_join(&worker->thread);
        uv_cond_destroy(&worker->wake);
        uv_mutex_destroy(&worker->lock);
        worker->thread_started = 0;
    }
    connection_close(&worker->conn);
}


/* Runs reads one by one, each in its own snapshot. */
void
reader_run(struct worker *worker, struct request *list)
{
    struct request *req;

    for (req = list; req != NULL; req = req->next)
        request_execute(&worker->conn, req);
}


static void
completion_closed(uv_handle_t *handle)
{
    struct sqlite_store *store = handle->data;

    free(handle);
    if (store == NULL)
        return;
    store->completion = NULL;
    uv_mutex_destroy(&store->completion_lock);
    store_lock_release(store);
    store->state = STORE_STOPPED;
    CRIER_LOG(store->host, store->ctx, CRIER_LOG_INFO, "store closed",
              "path=%s", store->path);
    store->stop_done(store->stop_arg);
}


/*
 * Folds the WAL into the database and truncates it, so a clean stop leaves
 * no -wal file of several MB behind. The writer thread has exited, so the
 * loop thread may use its connection. A failure only leaves the WAL for
 * the next start to replay, so it is logged, not returned.
 */
static void
writer_checkpoint(struct sqlite_store *store)
{
    sqlite3 *db = store->writer.conn.db;
    int rc;

    if (db == NULL)
        return;
    rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                   NULL, NULL);
    if (rc != SQLITE_OK)
        CRIER_LOG(store->host, store->ctx, CRIER_LOG_WARN,
                  "WAL checkpoint at stop failed", "path=%s error=\"%s\"",
                  store->path, sqlite3_errmsg(db));
}


/*
 * Runs the callbacks of finished requests, in the order each worker
 * finished them. Once stopping and both workers have exited, joins them
 * and closes the handle. The close callback reports the stop.
 */
static void
completions_deliver(uv_async_t *handle)
{
    struct sqlite_store *store = handle->data;
    struct request *first_fault = NULL;
    struct request *list;
    struct request *next;
    size_t faults = 0;
    int running;

    uv_mutex_lock(&store->completion_lock);
    list = store->finished_head;
    store->finished_head = NULL;
    store->finished_tail = NULL;
    running = store->workers_running;
    uv_mutex_unlock(&store->completion_lock);

    for (; list != NULL; list = next) {
        next = list->next;
        request_complete(store, list);
        if (request_faulted(list) && faults++ == 0) {
            first_fault = list;
            continue;
        }
        request_free(list);
    }
    if (first_fault != NULL) {
        request_log_faults(store, first_fault, faults);
        request_free(first_fault);
    }

    if (store->state == STORE_STOPPING && running == 0) {
        worker_join(&store->reader);
        writer_checkpoint(store);
        worker_join(&store->writer);
        uv_close((uv_handle_t *)handle, completion_closed);
    }
}


int
completions_start(struct sqlite_store *store)
{
    uv_loop_t *loop = store->host->loop(store->ctx);

    store->completion = malloc(sizeof(*store->completion));
    if (store->completion == NULL)
        return CRIER_ENOMEM;
    if (uv_mutex_init(&store->completion_lock) != 0) {
        free(store->completion);
        store->completion = NULL;
        return CRIER_ENOMEM;
    }
    if (uv_async_init(loop, store->completion, completions_deliver) != 0) {
        uv_mutex_destroy(&store->completion_lock);
        free(store->completion);
        store->completion = NULL;
        return CRIER_EIO;
    }
    store->completion->data = store;
    return 0;
}


/*
 * Closes the handle of a store whose start failed. The workers must have
 * been joined. Nothing is reported, because no request was accepted.
 */
void
completions_abandon(struct sqlite_store *store)
{
    store->completion->data = NULL;
    uv_close((uv_handle_t *)store->completion, completion_closed);
    store->completion = NULL;
    uv_mutex_destroy(&store->completion_lock);
}
