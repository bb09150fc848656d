/*
 * Writing: responses leave in request order. Each write gathers the
 * ready responses at the head of the queue, stops at the first request
 * still waiting for its handler, and tries uv_try_write before queueing
 * the rest with uv_write. A connection has at most one write in flight.
 */
#include "http/http_int.h"

/* Three pieces per response: head, Connection line, body. */
#define HTTP_WRITE_BUFS 48

static const char line_close[] = "Connection: close\r\n\r\n";
static const char line_keep_alive[] = "Connection: keep-alive\r\n\r\n";
static const char line_end[] = "\r\n";
static const char fallback_500[] =
    "HTTP/1.1 500 Internal Server Error\r\n"
    "Server: crier\r\n"
    "Content-Length: 0\r\n"
    "Connection: close\r\n\r\n";


/* Returns nonzero when the connection ends after this response. */
static int
response_closes(const struct http_conn *conn, const struct crier_http_req *req)
{
    if (req->close_after || !req->keep_alive)
        return 1;

    /* Nothing more will be read, so the last request read gets close. */
    return conn->read_done && req->next == NULL;
}


static uv_buf_t
literal_buf(const char *text, size_t size)
{
    return uv_buf_init((char *)text, (unsigned)(size - 1));
}


/*
 * Fills `bufs` with the ready responses at the head of the queue and
 * returns the number of pieces. `*count` receives the number of requests,
 * and `*closes` whether the last of them ends the connection.
 */
static size_t
responses_gather(struct http_conn *conn, uv_buf_t *bufs, unsigned *count,
                 int *closes)
{
    struct crier_http_req *req;
    size_t n = 0;
    int close;

    *count = 0;
    *closes = 0;
    for (req = conn->queue; req != NULL; req = req->next) {
        if (req->state != HTTP_REQ_ANSWERED || n + 3 > HTTP_WRITE_BUFS)
            break;
        (*count)++;
        if (req->failed) {
            bufs[n++] = literal_buf(fallback_500, sizeof(fallback_500));
            *closes = 1;
            break;
        }

        /* The Connection line is chosen now, as drain may have begun. */
        close = response_closes(conn, req);
        bufs[n++] = uv_buf_init(req->out.data, (unsigned)req->out_head);
        if (close)
            bufs[n++] = literal_buf(line_close, sizeof(line_close));
        else if (req->http_major == 1 && req->http_minor == 0)
            bufs[n++] = literal_buf(line_keep_alive, sizeof(line_keep_alive));
        else
            bufs[n++] = literal_buf(line_end, sizeof(line_end));
        if (req->out.len > req->out_head)
            bufs[n++] = uv_buf_init(req->out.data + req->out_head,
                                    (unsigned)(req->out.len - req->out_head));
        if (close) {
            *closes = 1;
            break;
        }
    }
    return n;
}


/* Releases `count` written requests from the head of the queue. */
static void
queue_release(struct http_conn *conn, unsigned count, int closes)
{
    struct crier_http_req *req;

    while (count-- > 0) {
        req = conn->queue;
        conn->queue = req->next;
        conn->queue_len--;
        http_conn_recycle_req(conn, req);
    }
    if (conn->queue == NULL)
        conn->queue_tail = NULL;
    conn->last_active = uv_now(conn->srv->loop);

    if (closes) {
        http_conn_finish(conn);
        return;
    }
    http_conn_unblock(conn);
}


static void
on_write(uv_write_t *write_req, int status)
{
    struct http_conn *conn = write_req->handle->data;

    /* A close cancels the write after freeing its requests. */
    if (conn->closing)
        return;
    conn->writing = 0;
    if (status < 0) {
        http_conn_close(conn);
        return;
    }
    queue_release(conn, conn->write_count, conn->close_after_write);
    http_conn_flush(conn);
}


/* Skips the first `sent` bytes and returns the index of the next piece. */
static size_t
bufs_advance(uv_buf_t *bufs, size_t n, size_t sent)
{
    size_t i = 0;

    while (i < n && sent >= bufs[i].len) {
        sent -= bufs[i].len;
        i++;
    }
    if (i < n) {
        bufs[i].base += sent;
        bufs[i].len -= sent;
    }
    return i;
}


/*
 * Writes what can go out now. Deferred inside the parser, so responses to
 * pipelined requests leave together in one write after it returns.
 */
void
http_conn_flush(struct http_conn *conn)
{
    uv_buf_t bufs[HTTP_WRITE_BUFS];
    unsigned count;
    int closes;
    size_t n;
    size_t i;
    size_t total;
    int sent;

    while (!conn->writing && !conn->closing && !conn->lingering &&
           !conn->in_parser) {
        n = responses_gather(conn, bufs, &count, &closes);
        if (count == 0)
            break;
        for (total = 0, i = 0; i < n; i++)
            total += bufs[i].len;

        sent = uv_try_write((uv_stream_t *)&conn->tcp, bufs, (unsigned)n);
        if (sent == UV_EAGAIN || sent == UV_ENOSYS)
            sent = 0;
        if (sent < 0) {
            http_conn_close(conn);
            return;
        }
        if ((size_t)sent == total) {
            queue_release(conn, count, closes);
            continue;
        }

        i = bufs_advance(bufs, n, (size_t)sent);
        conn->write_count = count;
        conn->close_after_write = closes;
        conn->writing = 1;
        if (uv_write(&conn->write_req, (uv_stream_t *)&conn->tcp, bufs + i,
                     (unsigned)(n - i), on_write) < 0) {
            http_conn_close(conn);
            return;
        }
    }

    /* After drain or an error, the connection ends with an empty queue. */
    if (!conn->closing && !conn->lingering && !conn->writing &&
        !conn->in_parser && conn->read_done && conn->queue_len == 0)
        http_conn_finish(conn);
}
