/*
 * The server: the listener, the connection list, the idle sweep, the
 * queue of paused connections to resume, and drain.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "http/http_int.h"

#define HTTP_BACKLOG 511

/* http-parser rejects more header bytes than this unless it is raised. */
#define HTTP_PARSER_HEADER_DEFAULT (80 * 1024)


static void
limits_set(struct http_limits *out, const struct http_limits *in)
{
    static const struct http_limits defaults = {
        .max_header_bytes = 16 * 1024,
        .max_body_bytes = 10 * 1024 * 1024,
        .max_pending = 64,
        .idle_timeout_ms = 60 * 1000,
        .header_timeout_ms = 30 * 1000,
        .body_timeout_ms = 60 * 1000,
    };

    /* A zero field takes its default, like a NULL `in`. */
    *out = defaults;
    if (in == NULL)
        return;
    if (in->max_header_bytes > 0)
        out->max_header_bytes = in->max_header_bytes;
    if (in->max_body_bytes > 0)
        out->max_body_bytes = in->max_body_bytes;
    if (in->max_pending > 0)
        out->max_pending = in->max_pending;
    if (in->idle_timeout_ms > 0)
        out->idle_timeout_ms = in->idle_timeout_ms;
    if (in->header_timeout_ms > 0)
        out->header_timeout_ms = in->header_timeout_ms;
    if (in->body_timeout_ms > 0)
        out->body_timeout_ms = in->body_timeout_ms;
    out->max_conns_per_peer = in->max_conns_per_peer;
}


static void
on_resume(uv_idle_t *idle)
{
    struct http_server *srv = idle->data;
    struct http_conn *conn;

    while ((conn = srv->resume_list) != NULL) {
        http_server_resume_cancel(srv, conn);
        http_conn_resume(conn);
    }
    uv_idle_stop(idle);
}


struct http_server *
http_server_new(uv_loop_t *loop, const struct http_limits *limits)
{
    struct http_server *srv;

    srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    srv->slab = malloc(HTTP_READ_SLAB_SIZE);
    if (srv->slab == NULL) {
        free(srv);
        return NULL;
    }
    srv->loop = loop;
    limits_set(&srv->limits, limits);

    /*
     * The parser's own header limit is process-wide. It is raised only
     * when a server needs more, and it stays behind ours otherwise, so
     * our count decides between 431 and success.
     */
    if (srv->limits.max_header_bytes >= HTTP_PARSER_HEADER_DEFAULT)
        http_parser_set_max_header_size(
            (uint32_t)srv->limits.max_header_bytes + 1024);

    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    uv_unref((uv_handle_t *)&srv->sweep);
    uv_idle_init(loop, &srv->resume);
    srv->resume.data = srv;
    uv_unref((uv_handle_t *)&srv->resume);
    return srv;
}


/* Splits "host:port" or "[v6]:port" into a socket address. */
static int
address_parse(const char *address, struct sockaddr_storage *addr)
{
    char host[64];
    const char *colon;
    const char *start = address;
    size_t len;
    char *end;
    long port;

    colon = strrchr(address, ':');
    if (colon == NULL)
        return UV_EINVAL;
    len = (size_t)(colon - address);
    if (address[0] == '[') {
        if (len < 2 || address[len - 1] != ']')
            return UV_EINVAL;
        start = address + 1;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(host))
        return UV_EINVAL;
    memcpy(host, start, len);
    host[len] = '\0';

    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
        return UV_EINVAL;

    if (address[0] == '[')
        return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)addr);
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)addr);
}


static void
on_connection(uv_stream_t *listener, int status)
{
    struct http_server *srv = listener->data;

    /* A failed accept concerns one client, so the listener goes on. */
    if (status < 0)
        return;
    http_conn_start(srv, listener);
}


static void
on_sweep(uv_timer_t *timer)
{
    struct http_server *srv = timer->data;
    uint64_t now = uv_now(srv->loop);
    struct http_conn *conn;

    for (conn = srv->conns; conn != NULL; conn = conn->next)
        http_conn_sweep(conn, now);
}


/* Starts the sweep that closes idle connections at most one interval
 * late. */
static void
sweep_start(struct http_server *srv)
{
    uint64_t interval = srv->limits.idle_timeout_ms / 2;

    if (interval > srv->limits.header_timeout_ms / 2)
        interval = srv->limits.header_timeout_ms / 2;
    if (interval > srv->limits.body_timeout_ms / 2)
        interval = srv->limits.body_timeout_ms / 2;
    if (interval > 1000)
        interval = 1000;
    if (interval < 10)
        interval = 10;
    uv_timer_start(&srv->sweep, on_sweep, interval, interval);
}


/* A server listens once: after a failure, it can only drain and be freed. */
int
http_server_listen(struct http_server *srv, const char *address)
{
    struct sockaddr_storage addr;
    int err;

    if (srv->listener_open || srv->draining)
        return UV_EBUSY;
    err = address_parse(address, &addr);
    if (err < 0)
        return err;

    err = uv_tcp_init(srv->loop, &srv->listener);
    if (err < 0)
        return err;
    srv->listener_open = 1;
    srv->listener.data = srv;
    err = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&addr, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&srv->listener, HTTP_BACKLOG,
                        on_connection);
    if (err < 0)
        return err;
    sweep_start(srv);
    return 0;
}


int
http_server_listen_fd(struct http_server *srv, int fd)
{
    int err;

    if (srv->listener_open || srv->draining)
        return UV_EBUSY;
    err = uv_tcp_init(srv->loop, &srv->listener);
    if (err < 0)
        return err;
    srv->listener_open = 1;
    srv->listener.data = srv;
    err = uv_tcp_open(&srv->listener, fd);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&srv->listener, HTTP_BACKLOG,
                        on_connection);
    if (err < 0)
        return err;
    sweep_start(srv);
    return 0;
}


int
http_server_fileno(struct http_server *srv)
{
    uv_os_fd_t fd;

    if (!srv->listener_open || srv->draining ||
        uv_fileno((uv_handle_t *)&srv->listener, &fd) != 0)
        return -1;
    return fd;
}


int
http_server_port(struct http_server *srv)
{
    struct sockaddr_storage addr;
    int len = sizeof(addr);
    int err;

    if (!srv->listener_open)
        return UV_EINVAL;
    err = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&addr, &len);
    if (err < 0)
        return err;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}


int
http_server_trust_proxies(struct http_server *srv,
                          const char *const *proxies)
{
    struct http_cidr *list;
    size_t count = 0;
    size_t i;

    while (proxies != NULL && proxies[count] != NULL)
        count++;
    list = calloc(count > 0 ? count : 1, sizeof(*list));
    if (list == NULL)
        return CRIER_ENOMEM;
    for (i = 0; i < count; i++) {
        if (http_cidr_parse(proxies[i], &list[i]) < 0) {
            free(list);
            return CRIER_EINVAL;
        }
    }

    free(srv->proxies);
    srv->proxies = list;
    srv->proxy_count = count;
    return 0;
}


/* Calls the drain callback once every connection and handle is closed. */
static void
drain_check(struct http_server *srv)
{
    if (!srv->draining || srv->done_called)
        return;
    if (srv->conn_count > 0 || !srv->handles_closed)
        return;
    if (srv->closing_handles > 0)
        return;
    srv->done_called = 1;
    if (srv->drain_done != NULL)
        srv->drain_done(srv->drain_arg);
}


static void
on_handle_closed(uv_handle_t *handle)
{
    struct http_server *srv = handle->data;

    srv->closing_handles--;
    drain_check(srv);
}


/* Closes the sweep timer and the resume handle, the last two handles. */
static void
handles_close(struct http_server *srv)
{
    srv->handles_closed = 1;
    srv->closing_handles += 2;
    uv_close((uv_handle_t *)&srv->sweep, on_handle_closed);
    uv_close((uv_handle_t *)&srv->resume, on_handle_closed);
}


void
http_server_conn_closed(struct http_server *srv, struct http_conn *conn)
{
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    srv->conn_count--;

    if (srv->draining && srv->conn_count == 0 && !srv->handles_closed)
        handles_close(srv);
}


void
http_server_drain(struct http_server *srv, void (*done)(void *arg),
                  void *arg)
{
    struct http_conn *conn;
    struct http_conn *next;

    if (srv->draining)
        return;
    srv->draining = 1;
    srv->drain_done = done;
    srv->drain_arg = arg;
    srv->drain_started = uv_now(srv->loop);

    if (srv->listener_open) {
        srv->closing_handles++;
        uv_close((uv_handle_t *)&srv->listener, on_handle_closed);
    }
    for (conn = srv->conns; conn != NULL; conn = next) {
        next = conn->next;
        http_conn_drain(conn);
    }
    if (srv->conn_count == 0)
        handles_close(srv);
    else
        uv_timer_start(&srv->sweep, on_sweep, HTTP_DRAIN_SWEEP_MS,
                       HTTP_DRAIN_SWEEP_MS);
}


void
http_server_resume_later(struct http_server *srv, struct http_conn *conn)
{
    if (conn->resume_queued || conn->in_read)
        return;
    conn->resume_queued = 1;
    conn->resume_prev = NULL;
    conn->resume_next = srv->resume_list;
    if (srv->resume_list != NULL)
        srv->resume_list->resume_prev = conn;
    srv->resume_list = conn;
    uv_idle_start(&srv->resume, on_resume);
}


void
http_server_resume_cancel(struct http_server *srv, struct http_conn *conn)
{
    if (!conn->resume_queued)
        return;
    conn->resume_queued = 0;
    if (conn->resume_prev != NULL)
        conn->resume_prev->resume_next = conn->resume_next;
    else
        srv->resume_list = conn->resume_next;
    if (conn->resume_next != NULL)
        conn->resume_next->resume_prev = conn->resume_prev;
}


void
http_server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    http_routes_free(srv);
    free(srv->proxies);
    free(srv->slab);
    free(srv);
}
