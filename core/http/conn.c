/*
 * Connections: accept, read, pause and resume, time-outs, drain and close.
 *
 * Every read lands in the server's one read buffer and is parsed at once.
 * Only input left over while parsing is paused is copied to the
 * connection's own `saved` buffer.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "base/log.h"
#include "http/http_int.h"

/* Reset requests a connection keeps for reuse. */
#define HTTP_POOL_MAX 4


static void
on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *conn = handle->data;

    /* Safe to share: each read is parsed before the next one is made. */
    buf->base = conn->srv->slab;
    buf->len = HTTP_READ_SLAB_SIZE;
}


static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);


/* Starts or stops reading to match the connection's state. */
static void
reading_update(struct http_conn *conn)
{
    int want;

    if (conn->closing || conn->lingering)
        return;

    if (conn->read_done) {
        conn->saved.len = 0;
        if (conn->current != NULL) {
            http_conn_recycle_req(conn, conn->current);
            conn->current = NULL;
        }
    }

    want = !conn->read_done && !conn->paused && conn->saved.len == 0;
    if (want && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) < 0) {
            http_conn_close(conn);
            return;
        }
        conn->reading = 1;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->reading = 0;
    }
}


/*
 * Parses `len` bytes and returns how many were used or discarded. The rest
 * waits until written responses make room in the queue.
 */
static size_t
input_process(struct http_conn *conn, const char *data, size_t len)
{
    size_t total = 0;
    size_t used;

    conn->in_read = 1;
    while (total < len && !conn->closing) {
        http_conn_parse(conn, data + total, len - total, &used);
        total += used;
        if (conn->read_done)
            break;
        if (!conn->paused)
            continue;

        /* The queue is full: written responses may make room. */
        http_conn_flush(conn);
        if (conn->closing || conn->read_done)
            break;
        if (conn->queue_len >= conn->srv->limits.max_pending)
            break;
        conn->paused = 0;
    }
    conn->in_read = 0;
    if (conn->closing || conn->read_done)
        return len;
    return total;
}


/*
 * Handles EOF. The client has shut down its sending side but may still
 * read, so the requests already read still get their responses, and the
 * connection closes after the last one is written. A partial request is
 * dropped.
 */
static void
input_end(struct http_conn *conn)
{
    /* After a graceful close, EOF is what the linger waits for. */
    if (conn->lingering) {
        http_conn_close(conn);
        return;
    }
    conn->eof = 1;
    conn->read_done = 1;
    reading_update(conn);
    http_conn_flush(conn);
}


static void
on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *conn = stream->data;
    size_t used;

    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        input_end(conn);
        return;
    }

    /*
     * A read error (a reset) means the client is gone, so requests waiting
     * for their handler are detached and their responses dropped.
     */
    if (nread < 0) {
        http_conn_close(conn);
        return;
    }
    if (conn->lingering)
        return;

    conn->last_active = uv_now(conn->srv->loop);
    used = input_process(conn, buf->base, (size_t)nread);
    if (conn->closing)
        return;
    if (used < (size_t)nread &&
        http_buf_append(&conn->saved, buf->base + used,
                        (size_t)nread - used) < 0) {
        http_conn_close(conn);
        return;
    }

    http_conn_flush(conn);
    reading_update(conn);
}


/* Parses the input held while paused. The resume queue calls this. */
void
http_conn_resume(struct http_conn *conn)
{
    size_t used;

    if (conn->closing || conn->lingering)
        return;

    conn->paused = 0;
    used = input_process(conn, conn->saved.data, conn->saved.len);
    if (conn->closing)
        return;
    if (used < conn->saved.len)
        memmove(conn->saved.data, conn->saved.data + used,
                conn->saved.len - used);
    conn->saved.len -= used;

    http_conn_flush(conn);
    reading_update(conn);
}


/* Resumes parsing once written responses have made room in the queue. */
void
http_conn_unblock(struct http_conn *conn)
{
    if (!conn->paused || conn->in_read || conn->closing)
        return;
    if (conn->queue_len >= conn->srv->limits.max_pending)
        return;
    if (conn->saved.len > 0) {
        http_server_resume_later(conn->srv, conn);
        return;
    }
    conn->paused = 0;
    reading_update(conn);
}


/*
 * Returns 1 when `conn`'s peer already has max_conns_per_peer other
 * connections open. Trusted proxies carry many clients, so they are not
 * limited. NOTE: the count walks the connection list, so each accept
 * costs O(connections) (docs/KNOWN_LIMITS.md, "HTTP").
 */
static int
peer_over_limit(struct http_server *srv, const struct http_conn *conn)
{
    unsigned limit = srv->limits.max_conns_per_peer;
    unsigned count = 0;

    if (limit == 0 || http_peer_trusted(srv, conn->peer))
        return 0;
    for (const struct http_conn *c = srv->conns; c != NULL; c = c->next)
        if (c != conn && !c->closing &&
            memcmp(c->peer, conn->peer, sizeof(c->peer)) == 0)
            count++;
    return count >= limit;
}


/* Logs a connection closed by the per-peer limit, at most once in 10 s
 * with the count since the last line. */
static void
peer_reject_log(struct http_server *srv, struct http_conn *conn)
{
    uint64_t now = uv_now(srv->loop);
    char peer[HTTP_PEER_TEXT_SIZE];

    srv->peer_rejects++;
    if (srv->peer_logged != 0 && now - srv->peer_logged < 10000)
        return;
    http_peer_format(conn->peer, peer);
    log_notice("connection closed: too many from one address", "peer=%s "
               "limit=%u closed=%u", peer, srv->limits.max_conns_per_peer,
               srv->peer_rejects);
    srv->peer_rejects = 0;
    srv->peer_logged = now;
}


int
http_conn_start(struct http_server *srv, uv_stream_t *listener)
{
    struct http_conn *conn;
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    int err;

    conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        return CRIER_ENOMEM;
    err = uv_tcp_init(srv->loop, &conn->tcp);
    if (err < 0) {
        free(conn);
        return err;
    }
    conn->tcp.data = conn;
    conn->srv = srv;
    conn->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->conn_count++;
    conn->last_active = uv_now(srv->loop);
    http_parser_init(&conn->parser, HTTP_REQUEST);
    conn->parser.data = conn;

    err = uv_accept(listener, (uv_stream_t *)&conn->tcp);
    if (err == 0)
        err = uv_tcp_getpeername(&conn->tcp, (struct sockaddr *)&addr, &len);
    if (err < 0) {
        http_conn_close(conn);
        return err;
    }
    http_peer_store(conn->peer, &addr);
    if (peer_over_limit(srv, conn)) {
        peer_reject_log(srv, conn);
        http_conn_close(conn);
        return CRIER_EBUSY;
    }

    /* Responses go out whole in one write, so Nagle only adds delay. */
    uv_tcp_nodelay(&conn->tcp, 1);
    reading_update(conn);
    return 0;
}


/*
 * Ends the connection once the requests it sent are answered, the last
 * with "Connection: close". A request still arriving is read whole first
 * (on_message_complete stops reading after it). An idle connection stays
 * open for HTTP_DRAIN_GRACE_MS, because its client may have sent the
 * next request already, and closing would reset that request unanswered.
 * NOTE: a request sent just as the grace ends still gets no response
 * (docs/KNOWN_LIMITS.md, "HTTP").
 */
void
http_conn_drain(struct http_conn *conn)
{
    if (conn->closing || conn->lingering || conn->read_done)
        return;
    if (conn->current != NULL)
        return;
    if (conn->queue_len == 0 && !conn->writing) {
        conn->drain_grace = 1;
        return;
    }
    conn->read_done = 1;

    /* Inside a handler of this connection the read path finishes up. */
    if (conn->in_read)
        return;
    reading_update(conn);
    http_conn_flush(conn);
}


/*
 * Closes a connection idle or lingering for too long, or one whose
 * request line and headers have not all arrived within the header
 * timeout, or whose body has not all arrived within the body timeout
 * after the headers. Both time-outs apply however often bytes trickle in,
 * so a client cannot keep a connection by sending a byte at a time.
 * NOTE: such a connection gets no 408 response (docs/KNOWN_LIMITS.md,
 * "HTTP").
 */
void
http_conn_sweep(struct http_conn *conn, uint64_t now)
{
    uint64_t idle;

    if (conn->closing)
        return;
    if (conn->head_started != 0 && !conn->lingering &&
        now - conn->head_started >= conn->srv->limits.header_timeout_ms) {
        http_conn_close(conn);
        return;
    }
    if (conn->body_started != 0 && !conn->lingering &&
        now - conn->body_started >= conn->srv->limits.body_timeout_ms) {
        http_conn_close(conn);
        return;
    }
    /* No request came within the grace: nothing is unread, so close. */
    if (conn->drain_grace && !conn->read_done && conn->current == NULL &&
        now - conn->srv->drain_started >= HTTP_DRAIN_GRACE_MS) {
        http_conn_close(conn);
        return;
    }
    idle = now - conn->last_active;
    if (conn->lingering) {
        if (idle >= HTTP_LINGER_MS)
            http_conn_close(conn);
        return;
    }

    /* A handler that has not responded yet keeps the connection open. */
    if (conn->waiting == 0 && idle >= conn->srv->limits.idle_timeout_ms)
        http_conn_close(conn);
}


static void
on_close(uv_handle_t *handle)
{
    struct http_conn *conn = handle->data;

    http_server_conn_closed(conn->srv, conn);
    free(conn);
}


/* Frees a request, or detaches it when its handler has not responded. */
static void
req_release(struct crier_http_req *req)
{
    if (req->state == HTTP_REQ_WAITING)
        http_req_detach(req);
    else
        http_req_free(req);
}


/*
 * Closes at once. Unwritten responses are dropped and requests still
 * waiting for their handler are detached, so respond frees them later.
 */
void
http_conn_close(struct http_conn *conn)
{
    struct crier_http_req *req;

    if (conn->closing)
        return;
    conn->closing = 1;
    http_server_resume_cancel(conn->srv, conn);

    /* Closing first cancels every write, so no buffer below is in use. */
    uv_close((uv_handle_t *)&conn->tcp, on_close);

    if (conn->current != NULL)
        http_req_free(conn->current);
    conn->current = NULL;
    while ((req = conn->queue) != NULL) {
        conn->queue = req->next;
        req_release(req);
    }
    conn->queue_tail = NULL;
    conn->queue_len = 0;
    while ((req = conn->pool) != NULL) {
        conn->pool = req->next;
        http_req_free(req);
    }
    http_buf_free(&conn->saved);
}


static void
on_shutdown(uv_shutdown_t *shutdown_req, int status)
{
    struct http_conn *conn = shutdown_req->handle->data;

    if (status < 0)
        http_conn_close(conn);
}


/*
 * Ends the connection after its last response: sends FIN, then reads and
 * discards until the client closes or HTTP_LINGER_MS pass. Closing at
 * once could make the kernel reply to unread input with a reset that
 * destroys the response before the client reads it.
 */
void
http_conn_finish(struct http_conn *conn)
{
    if (conn->closing || conn->lingering)
        return;

    /*
     * After EOF from the client no input is left unread, so closing sends
     * the written responses and then FIN, with no reset.
     */
    if (conn->eof) {
        http_conn_close(conn);
        return;
    }
    conn->read_done = 1;
    reading_update(conn);
    conn->lingering = 1;
    conn->last_active = uv_now(conn->srv->loop);

    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp,
                    on_shutdown) < 0) {
        http_conn_close(conn);
        return;
    }
    if (!conn->reading &&
        uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) < 0) {
        http_conn_close(conn);
        return;
    }
    conn->reading = 1;
}


/* Appends a complete request to the queue to wait for its response. */
void
http_conn_enqueue(struct http_conn *conn, struct crier_http_req *req)
{
    if (conn->queue_tail != NULL)
        conn->queue_tail->next = req;
    else
        conn->queue = req;
    conn->queue_tail = req;
    conn->queue_len++;
    req->state = HTTP_REQ_WAITING;
    conn->waiting++;
}


struct crier_http_req *
http_conn_take_req(struct http_conn *conn)
{
    struct crier_http_req *req = conn->pool;

    if (req != NULL) {
        conn->pool = req->next;
        conn->pool_len--;
    } else {
        req = calloc(1, sizeof(*req));
        if (req == NULL)
            return NULL;
    }
    req->conn = conn;
    req->next = NULL;
    req->state = HTTP_REQ_PARSING;
    return req;
}


void
http_conn_recycle_req(struct http_conn *conn, struct crier_http_req *req)
{
    if (conn->pool_len >= HTTP_POOL_MAX) {
        http_req_free(req);
        return;
    }
    http_req_reset(req);
    req->next = conn->pool;
    conn->pool = req;
    conn->pool_len++;
}
