/*
 * The connection pool: libpq's asynchronous API driven by the loop.
 *
 * A connection sends one call at a time with PQsendQueryPrepared and
 * waits on its socket with a uv_poll_t: writable while libpq has unsent
 * bytes, readable until the whole reply is in. Then the loop thread parses
 * the reply and calls the callbacks.
 *
 * Group commit: when several mutations wait, connection 0 sends up to
 * GROUP_MAX of them as one call of crier_group (functions_plugin.sql).
 * That function runs each in a subtransaction of one transaction, so they
 * share one round trip and one WAL flush, and a failed one undoes only
 * itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

/* The maximum number of mutations that share one transaction. */
#define GROUP_MAX 64

static void poll_cb(uv_poll_t *handle, int status, int events);
static void poll_closed(uv_handle_t *handle);


static void
queue_push(struct pg_queue *queue, struct pg_request *req)
{
    req->next = NULL;
    if (queue->tail != NULL)
        queue->tail->next = req;
    else
        queue->head = req;
    queue->tail = req;
}


static struct pg_request *
queue_pop(struct pg_queue *queue)
{
    struct pg_request *req = queue->head;

    if (req != NULL) {
        queue->head = req->next;
        if (queue->head == NULL)
            queue->tail = NULL;
        req->next = NULL;
    }
    return req;
}


/* Returns the queue that connection `conn` takes requests from. */
static struct pg_queue *
connection_queue(struct pg_conn *conn)
{
    struct pg_store *store = conn->store;

    return conn == &store->conns[0] ? &store->writes : &store->reads;
}


/*
 * Maps a failed reply to a crier code. The functions in sql/ raise the
 * SQLSTATEs CR404, CR409 and CR503 for the store contract's errors. Any
 * other state is an I/O error, which is logged.
 */
static int
state_error(const char *state)
{
    if (state == NULL)
        return CRIER_EIO;
    if (strcmp(state, "CR404") == 0)
        return CRIER_ENOTFOUND;
    if (strcmp(state, "CR409") == 0)
        return CRIER_ESTALE;
    if (strcmp(state, "CR503") == 0)
        return CRIER_EBUSY;
    return CRIER_EIO;
}


static int
result_error(const PGresult *result)
{
    return state_error(PQresultErrorField(result, PG_DIAG_SQLSTATE));
}


static void
request_free(struct pg_request *req)
{
    free(req->param);
    free(req);
}


/* Calls the request's callback with `status` and `result` (taken over). */
static void
request_finish(struct pg_request *req, int status, json_t *result)
{
    if (req->append_done != NULL) {
        json_int_t accepted = json_integer_value(
            json_object_get(result, "accepted"));
        json_int_t duplicates = json_integer_value(
            json_object_get(result, "duplicates"));

        req->append_done(req->arg, status, status == 0 ? accepted : 0,
                         status == 0 ? duplicates : 0);
    } else {
        req->done(req->arg, status, status == 0 ? result : NULL);
    }
    json_decref(result);
    request_free(req);
}


static void
request_log_failure(struct pg_store *store, const struct pg_request *req,
                    const char *message)
{
    store->host->log(store->ctx, CRIER_LOG_ERROR, "store request failed",
                     "op=%s error=\"%s\"", req->name, message);
}


/*
 * Finishes the requests of a group from its reply, an array with one
 * {"result": ...} or {"error": SQLSTATE, "message": text} per request, in
 * order. A reply that does not parse fails them all.
 */
static void
group_finish(struct pg_store *store, struct pg_request *list,
             json_t *replies)
{
    size_t i = 0;

    while (list != NULL) {
        struct pg_request *req = list;
        json_t *reply = json_array_get(replies, i++);
        json_t *result = json_object_get(reply, "result");
        const char *state = json_string_value(json_object_get(reply,
                                                              "error"));
        int status = CRIER_EIO;

        list = list->next;
        if (result != NULL) {
            status = 0;
        } else if (state != NULL) {
            status = state_error(state);
        }
        if (status == CRIER_EIO)
            request_log_failure(store, req, reply != NULL
                ? json_string_value(json_object_get(reply, "message"))
                : "no reply in the group");
        request_finish(req, status, json_incref(result));
    }
}


/* Turns the reply of the current call into the callbacks of its
 * requests. */
static void
connection_complete(struct pg_conn *conn)
{
    struct pg_store *store = conn->store;
    struct pg_request *req = conn->current;
    PGresult *result = conn->result;
    json_t *json = NULL;
    int status = CRIER_EIO;

    conn->current = NULL;
    conn->result = NULL;
    if (result != NULL && PQresultStatus(result) == PGRES_TUPLES_OK
        && PQntuples(result) == 1) {
        json = json_loads(PQgetvalue(result, 0, 0), 0, NULL);
        status = json != NULL ? 0 : CRIER_EIO;
    } else if (result != NULL) {
        status = result_error(result);
    }
    if (req->next != NULL && status == 0) {
        group_finish(store, req, json);
        json_decref(json);
        PQclear(result);
        return;
    }
    while (req != NULL) {
        struct pg_request *next = req->next;

        if (status == CRIER_EIO)
            request_log_failure(store, req, result != NULL
                                ? PQresultErrorMessage(result)
                                : PQerrorMessage(conn->pg));
        request_finish(req, status, json_incref(json));
        req = next;
    }
    json_decref(json);
    PQclear(result);
}


/* Fails the requests of the failed queue: those submitted while their
 * connection was lost, and those that a lost connection had taken. */
static void
fail_cb(uv_timer_t *timer)
{
    struct pg_store *store = timer->data;
    struct pg_queue failed = store->failed;
    struct pg_request *req;

    store->failed.head = NULL;
    store->failed.tail = NULL;
    while ((req = queue_pop(&failed)) != NULL)
        request_finish(req, CRIER_EIO, NULL);
    if (store->state == PG_STOPPING && pool_idle(store))
        pool_close(store);
}


/* Fails `req` on the next turn of the loop: a store calls no callback
 * before the operation returns. */
static int
fail_later(struct pg_store *store, struct pg_request *req)
{
    queue_push(&store->failed, req);
    uv_timer_start(store->fail_timer, fail_cb, 0, 0);
    return 0;
}


/* Moves every request of `queue` to the failed queue. */
static void
queue_fail_later(struct pg_store *store, struct pg_queue *queue)
{
    struct pg_request *req;

    while ((req = queue_pop(queue)) != NULL)
        fail_later(store, req);
}


/* Returns nonzero when a connection that takes reads is open. */
static int
reads_usable(const struct pg_store *store)
{
    if (store->connection_count == 1)
        return !store->conns[0].broken;
    for (size_t i = 1; i < store->connection_count; i++)
        if (!store->conns[i].broken)
            return 1;
    return 0;
}


/* Copies libpq's last error of `pg` into `out` on one line. libpq
 * reports a server that ended the session in the result it was reading,
 * so the connection's own message may be empty. */
static const char *
connection_error(PGconn *pg, char *out, size_t size)
{
    const char *message = PQerrorMessage(pg);
    size_t n = 0;

    for (const char *p = message; *p != '\0' && n + 1 < size; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r') {
            if (n > 0 && out[n - 1] != ' ')
                out[n++] = ' ';
            continue;
        }
        out[n++] = *p;
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    if (n == 0)
        snprintf(out, size, "the server closed the connection");
    return out;
}


/*
 * Closes a connection that failed, fails its request and, when no other
 * connection can take them, the requests waiting for it, and schedules a
 * reconnect.
 *
 * NOTE: a mutation that was in flight fails with CRIER_EIO although the
 * server may have committed it before the connection went.
 */
static void
connection_break(struct pg_conn *conn)
{
    struct pg_store *store = conn->store;
    struct pg_request *req;
    struct pg_request *lost = conn->current;
    char message[256];

    store->host->log(store->ctx, CRIER_LOG_ERROR,
                     "lost the connection to PostgreSQL",
                     "connection=%td error=\"%s\"", conn - store->conns,
                     connection_error(conn->pg, message, sizeof(message)));
    conn->broken = 1;
    conn->current = NULL;
    conn->events = 0;
    uv_close((uv_handle_t *)conn->poll, poll_closed);
    conn->poll = NULL;
    PQclear(conn->result);
    conn->result = NULL;
    PQfinish(conn->pg);
    conn->pg = NULL;
    reconnect_schedule(store);
    /* The requests fail from the timer, because a break can come from
     * pool_submit, whose caller expects no callback before it returns. */
    while (lost != NULL) {
        req = lost;
        lost = req->next;
        fail_later(store, req);
    }
    if (conn == &store->conns[0])
        queue_fail_later(store, &store->writes);
    if (!reads_usable(store))
        queue_fail_later(store, &store->reads);
}


static void
poll_set(struct pg_conn *conn, int events)
{
    if (conn->events == events)
        return;
    conn->events = events;
    if (events == 0)
        uv_poll_stop(conn->poll);
    else
        uv_poll_start(conn->poll, events, poll_cb);
}


/* Reads what has arrived, and completes the request once its reply is
 * whole. Only the first result counts, because each request is one
 * statement. */
static void
connection_read(struct pg_conn *conn)
{
    PGresult *result;

    if (!PQconsumeInput(conn->pg)) {
        connection_break(conn);
        return;
    }
    while (conn->current != NULL && !PQisBusy(conn->pg)) {
        result = PQgetResult(conn->pg);
        if (result == NULL) {
            connection_complete(conn);
            break;
        }
        if (conn->result == NULL)
            conn->result = result;
        else
            PQclear(result);
    }
    /* An idle connection is watched too, so that one the server ended
     * (a restart, an idle timeout) is noticed before it is used. */
    if (conn->pg != NULL && !conn->broken && conn->current == NULL
        && PQstatus(conn->pg) == CONNECTION_BAD)
        connection_break(conn);
}


static void
poll_cb(uv_poll_t *handle, int status, int events)
{
    struct pg_conn *conn = handle->data;
    int flushed;

    if (status < 0) {
        connection_break(conn);
        return;
    }
    if (events & UV_WRITABLE) {
        flushed = PQflush(conn->pg);
        if (flushed < 0) {
            connection_break(conn);
            return;
        }
        if (flushed == 0)
            poll_set(conn, UV_READABLE);
    }
    if (events & UV_READABLE)
        connection_read(conn);
    /* A callback may have stopped the store, which closed the pool. */
    if (conn->pg != NULL && !conn->broken && conn->current == NULL)
        connection_dispatch(conn);
}


/*
 * Moves the mutations that wait behind `first` (up to GROUP_MAX in all)
 * into its list and returns the parameter of crier_group:
 * [{"op": NAME, "request": REQUEST}, ...]. Returns NULL, and moves
 * nothing, when out of memory; `first` then goes alone.
 */
static char *
group_take(struct pg_request *first, struct pg_queue *queue)
{
    struct pg_request *last = first;
    size_t count = 1;
    size_t size = 3;
    char *text;
    char *end;

    size += strlen(first->name) + strlen(first->param) + 32;
    for (struct pg_request *r = queue->head;
         r != NULL && r->write && count < GROUP_MAX; r = r->next, count++)
        size += strlen(r->name) + strlen(r->param) + 32;
    text = malloc(size);
    if (text == NULL)
        return NULL;
    while (count-- > 1) {
        last->next = queue_pop(queue);
        last = last->next;
    }
    end = text;
    *end++ = '[';
    for (struct pg_request *r = first; r != NULL; r = r->next)
        end += sprintf(end, "%s{\"op\":\"%s\",\"request\":%s}",
                       r == first ? "" : ",", r->name, r->param);
    *end++ = ']';
    *end = '\0';
    return text;
}


/* Sends the next waiting request, or group of mutations, if the
 * connection is free. */
void
connection_dispatch(struct pg_conn *conn)
{
    struct pg_store *store = conn->store;
    struct pg_queue *queue = connection_queue(conn);
    const char *values[1];
    char *group = NULL;
    int sent;
    int flushed;

    if (conn->pg == NULL || conn->broken || conn->current != NULL)
        return;
    if (PQstatus(conn->pg) != CONNECTION_OK) {
        connection_break(conn);
        return;
    }
    conn->current = queue_pop(queue);
    if (conn->current == NULL) {
        poll_set(conn, UV_READABLE);
        if (store->state == PG_STOPPING && pool_idle(store))
            pool_close(store);
        return;
    }
    if (conn->current->write && queue->head != NULL
        && queue->head->write)
        group = group_take(conn->current, queue);
    values[0] = group != NULL ? group : conn->current->param;
    sent = PQsendQueryPrepared(conn->pg, group != NULL
                               ? "group" : conn->current->name, 1, values,
                               NULL, NULL, 0);
    free(group);
    if (!sent) {
        connection_break(conn);
        return;
    }
    flushed = PQflush(conn->pg);
    if (flushed < 0) {
        connection_break(conn);
        return;
    }
    poll_set(conn, flushed == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}


/* Queues `req` for its connection. While that connection is lost, the
 * request fails with CRIER_EIO, so a caller learns at once that the
 * store is unavailable. */
int
pool_submit(struct pg_store *store, struct pg_request *req)
{
    size_t i;

    if (req->write || store->connection_count == 1) {
        if (store->conns[0].broken)
            return fail_later(store, req);
        queue_push(&store->writes, req);
        connection_dispatch(&store->conns[0]);
        return 0;
    }
    if (!reads_usable(store))
        return fail_later(store, req);
    queue_push(&store->reads, req);
    for (i = 1; i < store->connection_count; i++) {
        if (!store->conns[i].broken && store->conns[i].current == NULL) {
            connection_dispatch(&store->conns[i]);
            break;
        }
    }
    return 0;
}


int
pool_idle(const struct pg_store *store)
{
    size_t i;

    if (store->writes.head != NULL || store->reads.head != NULL
        || store->failed.head != NULL)
        return 0;
    for (i = 0; i < store->connection_count; i++)
        if (store->conns[i].current != NULL)
            return 0;
    return 1;
}


/*
 * Opens a blocking connection to the configured server and selects the
 * configured schema, which it creates first when `create_schema` is set.
 * Returns NULL with a message when that fails.
 */
PGconn *
connection_open_schema(const struct pg_store *store, int create_schema,
                       char *message, size_t size)
{
    PGconn *pg = PQconnectdb(store->url);
    PGresult *result;
    char *quoted;
    char sql[512];

    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        snprintf(message, size, "%s",
                 pg != NULL ? PQerrorMessage(pg) : "out of memory");
        PQfinish(pg);
        return NULL;
    }
    /* The schema's IF NOT EXISTS statements report what they skip as
     * notices, which libpq would print on stderr. */
    result = PQexec(pg, "SET client_min_messages TO warning");
    PQclear(result);
    if (store->schema == NULL)
        return pg;
    quoted = PQescapeIdentifier(pg, store->schema, strlen(store->schema));
    if (quoted == NULL) {
        snprintf(message, size, "%s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    if (create_schema)
        snprintf(sql, sizeof(sql), "CREATE SCHEMA IF NOT EXISTS %s;"
                 " SET search_path TO %s", quoted, quoted);
    else
        snprintf(sql, sizeof(sql), "SET search_path TO %s", quoted);
    PQfreemem(quoted);
    result = PQexec(pg, sql);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        snprintf(message, size, "%s", PQerrorMessage(pg));
        PQclear(result);
        PQfinish(pg);
        return NULL;
    }
    PQclear(result);
    return pg;
}


PGconn *
connection_open(const struct pg_store *store, char *message, size_t size)
{
    return connection_open_schema(store, 1, message, size);
}


/* Switches an open connection to nonblocking mode and watches its
 * socket, readable while idle. */
int
connection_watch(struct pg_conn *conn, char *message, size_t size)
{
    struct pg_store *store = conn->store;
    uv_loop_t *loop = store->host->loop(store->ctx);

    if (PQsetnonblocking(conn->pg, 1) != 0) {
        snprintf(message, size, "%s", PQerrorMessage(conn->pg));
        return CRIER_EIO;
    }
    conn->poll = malloc(sizeof(*conn->poll));
    if (conn->poll == NULL)
        return CRIER_ENOMEM;
    if (uv_poll_init_socket(loop, conn->poll, PQsocket(conn->pg)) != 0) {
        free(conn->poll);
        conn->poll = NULL;
        snprintf(message, size, "cannot watch the connection's socket");
        return CRIER_EIO;
    }
    conn->poll->data = conn;
    store->open_handles++;
    conn->events = 0;
    poll_set(conn, UV_READABLE);
    return 0;
}


/* Connects pooled connection `i`; the first one also migrates. */
static int
pool_connect(struct pg_store *store, size_t i, char *message, size_t size)
{
    struct pg_conn *conn = &store->conns[i];

    conn->store = store;
    conn->pg = connection_open(store, message, size);
    if (conn->pg == NULL)
        return CRIER_EIO;
    if (i == 0 && schema_migrate(conn->pg, &store->schema_found, message,
                                 size) < 0)
        return CRIER_EIO;
    if (schema_prepare(conn->pg, message, size) < 0)
        return CRIER_EIO;
    return connection_watch(conn, message, size);
}


/* Counts one closed handle; the last one of a stop ends the stop. */
void
handle_released(struct pg_store *store)
{
    if (store != NULL && --store->open_handles == 0
        && store->state == PG_STOPPING) {
        store->state = PG_STOPPED;
        if (store->stop_done != NULL)
            store->stop_done(store->stop_arg);
    }
}


static void
poll_closed(uv_handle_t *handle)
{
    struct pg_conn *conn = handle->data;

    free(handle);
    handle_released(conn != NULL ? conn->store : NULL);
}


static void
timer_closed(uv_handle_t *handle)
{
    struct pg_store *store = handle->data;

    free(handle);
    handle_released(store);
}


/* Closes every handle and connection. With no handle open, a stop
 * finishes here. */
void
pool_close(struct pg_store *store)
{
    size_t i;
    size_t open = store->open_handles;

    /* A failed start hands the store back before the handles close, so
     * their close callbacks must not reach it. */
    if (store->state != PG_STOPPING) {
        store->open_handles = 0;
        open = 0;
    }
    for (i = 0; i < store->connection_count; i++) {
        struct pg_conn *conn = &store->conns[i];

        if (conn->poll != NULL && store->state != PG_STOPPING)
            conn->poll->data = NULL;
        if (conn->poll != NULL)
            uv_close((uv_handle_t *)conn->poll, poll_closed);
        conn->poll = NULL;
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
    if (store->fail_timer != NULL && store->state != PG_STOPPING) {
        store->fail_timer->data = NULL;
        store->reconnect_timer->data = NULL;
    }
    if (store->fail_timer != NULL)
        uv_close((uv_handle_t *)store->fail_timer, timer_closed);
    if (store->reconnect_timer != NULL)
        uv_close((uv_handle_t *)store->reconnect_timer, timer_closed);
    store->fail_timer = NULL;
    store->reconnect_timer = NULL;
    if (open == 0 && store->state == PG_STOPPING) {
        store->state = PG_STOPPED;
        if (store->stop_done != NULL)
            store->stop_done(store->stop_arg);
    }
}


int
pool_open(struct pg_store *store)
{
    char message[512] = "";
    size_t i;
    int rc = 0;

    store->conns = calloc(store->connection_count, sizeof(*store->conns));
    if (store->conns == NULL)
        return CRIER_ENOMEM;
    for (i = 0; rc == 0 && i < store->connection_count; i++)
        rc = pool_connect(store, i, message, sizeof(message));
    if (rc == 0)
        rc = reconnect_init(store);
    if (rc < 0) {
        store->host->log(store->ctx, CRIER_LOG_ERROR,
                         "cannot open the PostgreSQL store",
                         "error=\"%s\"", message);
        pool_close(store);
    }
    return rc;
}
