/*
 * Tests of core/http, the HTTP adapter.
 *
 * The server runs on its own loop in a second thread. The test thread is
 * the client: it talks HTTP over plain blocking sockets to 127.0.0.1 and
 * reaches the server's state only through loop_call, which runs a
 * function on the loop thread and waits for it. Every test ends by
 * draining the server and checking that the loop has no handle left.
 */
#define _GNU_SOURCE     /* memmem */

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include <crier/error.h>

#include "http/http.h"
#include "http/http_int.h"

#define HELD_MAX 8
#define WAIT_STEPS 1000     /* of 2 ms each */

struct fixture {
    uv_loop_t loop;
    struct http_server *srv;
    uv_thread_t thread;
    uv_async_t wake;
    uv_mutex_t lock;
    uv_cond_t cond;
    void (*call)(struct fixture *fx, void *arg);
    void *call_arg;
    int call_done;
    int port;

    /* Loop-thread state, which the test thread reads through loop_call. */
    struct crier_http_req *held[HELD_MAX];
    int held_count;
    int fast_count;
    int drained;
};

/* A copy of the loop-thread state for the test thread. */
struct snapshot {
    int held_count;
    int fast_count;
    size_t conn_count;
    int drained;
};

struct client {
    int fd;
    char buf[128 * 1024];
    size_t len;
};

struct response {
    int status;
    char head[4096];
    char body[64 * 1024];
    size_t body_len;
};

struct held_response {
    int index;
    const char *body;
};


/* Handlers, run on the loop thread. */

static void
on_hello(void *arg, struct crier_http_req *req)
{
    http_resp_header(req, "X-Test", "yes");
    http_respond(req, 200, "text/plain", "hello", 5);
}


static void
on_echo(void *arg, struct crier_http_req *req)
{
    size_t len;
    const char *body = http_req_body(req, &len);

    http_respond(req, 200, "application/octet-stream", body, len);
}


static void
on_slow(void *arg, struct crier_http_req *req)
{
    struct fixture *fx = arg;

    fx->held[fx->held_count++] = req;
}


static void
on_fast(void *arg, struct crier_http_req *req)
{
    struct fixture *fx = arg;

    fx->fast_count++;
    http_respond(req, 200, "text/plain", "fast", 4);
}


static void
on_peer(void *arg, struct crier_http_req *req)
{
    const char *peer = http_req_peer(req);

    http_respond(req, 200, "text/plain", peer, strlen(peer));
}


/* Responds "<prefix><path>|<query>", to show routing and decoding. */
static void
on_files(void *arg, struct crier_http_req *req)
{
    const char *prefix = arg;
    char body[512];
    int len;

    len = snprintf(body, sizeof(body), "%s%s|%s", prefix, http_req_path(req),
                   http_req_query(req));
    http_respond(req, 200, "text/plain", body, (size_t)len);
}


/* Responds "<method> <X-Probe value>", or "<method> (none)". */
static void
on_probe(void *arg, struct crier_http_req *req)
{
    const char *value = http_req_header(req, "x-probe");
    char body[256];
    int len;

    len = snprintf(body, sizeof(body), "%s %s", http_req_method(req),
                   value != NULL ? value : "(none)");
    http_respond(req, 200, "text/plain", body, (size_t)len);
}


static void
on_json(void *arg, struct crier_http_req *req)
{
    http_respond_json(req, 201, json_pack("{s:b}", "ok", 1));
}


/* The loop thread and loop_call. */

static void
on_wake(uv_async_t *async)
{
    struct fixture *fx = async->data;

    uv_mutex_lock(&fx->lock);
    if (fx->call != NULL) {
        fx->call(fx, fx->call_arg);
        fx->call = NULL;
        fx->call_done = 1;
        uv_cond_signal(&fx->cond);
    }
    uv_mutex_unlock(&fx->lock);
}


static void
loop_main(void *arg)
{
    struct fixture *fx = arg;

    uv_run(&fx->loop, UV_RUN_DEFAULT);
}


/* Runs `fn` on the loop thread and returns once it has run. */
static void
loop_call(struct fixture *fx, void (*fn)(struct fixture *, void *),
          void *arg)
{
    uv_mutex_lock(&fx->lock);
    fx->call = fn;
    fx->call_arg = arg;
    fx->call_done = 0;
    uv_async_send(&fx->wake);
    while (!fx->call_done)
        uv_cond_wait(&fx->cond, &fx->lock);
    uv_mutex_unlock(&fx->lock);
}


static void
snapshot_fill(struct fixture *fx, void *arg)
{
    struct snapshot *snap = arg;

    snap->held_count = fx->held_count;
    snap->fast_count = fx->fast_count;
    snap->conn_count = fx->srv->conn_count;
    snap->drained = fx->drained;
}


static struct snapshot
snapshot_take(struct fixture *fx)
{
    struct snapshot snap;

    loop_call(fx, snapshot_fill, &snap);
    return snap;
}


static void
sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}


/* Waits for `count` held requests and returns the number held. */
static int
held_wait(struct fixture *fx, int count)
{
    struct snapshot snap;
    int i;

    for (i = 0; i < WAIT_STEPS; i++) {
        snap = snapshot_take(fx);
        if (snap.held_count >= count)
            break;
        sleep_ms(2);
    }
    return snap.held_count;
}


static size_t
conns_wait(struct fixture *fx, size_t count)
{
    struct snapshot snap;
    int i;

    for (i = 0; i < WAIT_STEPS; i++) {
        snap = snapshot_take(fx);
        if (snap.conn_count == count)
            break;
        sleep_ms(2);
    }
    return snap.conn_count;
}


static void
held_respond_on_loop(struct fixture *fx, void *arg)
{
    struct held_response *response = arg;

    http_respond(fx->held[response->index], 200, "text/plain",
                 response->body, strlen(response->body));
    fx->held[response->index] = NULL;
}


/* Responds to held request `index` with `body`. */
static void
held_respond(struct fixture *fx, int index, const char *body)
{
    struct held_response response = { index, body };

    loop_call(fx, held_respond_on_loop, &response);
}


static void
on_drained(void *arg)
{
    struct fixture *fx = arg;

    fx->drained = 1;
}


static void
drain_start(struct fixture *fx, void *arg)
{
    http_server_drain(fx->srv, on_drained, fx);
}


static void
wake_close(struct fixture *fx, void *arg)
{
    uv_close((uv_handle_t *)&fx->wake, NULL);
}


static void
trust_set(struct fixture *fx, void *arg)
{
    static const char *const proxies[] = {
        "127.0.0.1", "10.0.0.0/8", "fd00::/8", NULL
    };
    int *result = arg;

    *result = http_server_trust_proxies(fx->srv, proxies);
}


static void
on_drained_flag(void *arg)
{
    int *drained = arg;

    *drained = 1;
}


/* Fixtures. */

static int
fixture_start(void **state, const struct http_limits *limits)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    struct http_server *srv;

    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    uv_mutex_init(&fx->lock);
    uv_cond_init(&fx->cond);
    assert_int_equal(uv_async_init(&fx->loop, &fx->wake, on_wake), 0);
    fx->wake.data = fx;

    srv = http_server_new(&fx->loop, limits);
    assert_non_null(srv);
    fx->srv = srv;
    assert_int_equal(http_route_add(srv, "GET", "/hello", on_hello, fx), 0);
    assert_int_equal(http_route_add(srv, "POST", "/echo", on_echo, fx), 0);
    assert_int_equal(http_route_add(srv, "GET", "/slow", on_slow, fx), 0);
    assert_int_equal(http_route_add(srv, "GET", "/fast", on_fast, fx), 0);
    assert_int_equal(http_route_add(srv, "GET", "/peer", on_peer, fx), 0);
    assert_int_equal(http_route_add(srv, "GET", "/files/*", on_files, ""),
                     0);
    assert_int_equal(http_route_add(srv, "GET", "/files/deep/*", on_files,
                                    "deep:"), 0);
    assert_int_equal(http_route_add(srv, "GET", "/json", on_json, fx), 0);
    assert_int_equal(http_route_add(srv, "GET", "/probe", on_probe, fx), 0);
    assert_int_equal(http_server_listen(srv, "127.0.0.1:0"), 0);
    fx->port = http_server_port(srv);
    assert_true(fx->port > 0);

    assert_int_equal(uv_thread_create(&fx->thread, loop_main, fx), 0);
    *state = fx;
    return 0;
}


static int
setup_default(void **state)
{
    return fixture_start(state, NULL);
}


static int
setup_small(void **state)
{
    struct http_limits limits = {
        .max_header_bytes = 512,
        .max_body_bytes = 64,
        .max_pending = 2,
        .idle_timeout_ms = 60000,
    };

    return fixture_start(state, &limits);
}


static int
setup_idle(void **state)
{
    struct http_limits limits = { .idle_timeout_ms = 50 };

    return fixture_start(state, &limits);
}


static int
setup_header_timeout(void **state)
{
    struct http_limits limits = { .header_timeout_ms = 100 };

    return fixture_start(state, &limits);
}


/* Drains the server, stops the loop and checks that nothing is left. */
static int
teardown(void **state)
{
    struct fixture *fx = *state;
    struct snapshot snap;
    int i;

    snap = snapshot_take(fx);
    if (!snap.drained) {
        loop_call(fx, drain_start, NULL);
        for (i = 0; i < WAIT_STEPS && !snap.drained; i++) {
            sleep_ms(2);
            snap = snapshot_take(fx);
        }
    }
    assert_true(snap.drained);
    loop_call(fx, wake_close, NULL);
    uv_thread_join(&fx->thread);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    http_server_free(fx->srv);
    uv_cond_destroy(&fx->cond);
    uv_mutex_destroy(&fx->lock);
    free(fx);
    return 0;
}


/* The client. */

static int
client_open(struct client *c, int port)
{
    struct sockaddr_in addr;
    struct timeval timeout = { 2, 0 };
    int enable = 1;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->len = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &enable, sizeof(enable));
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}


static struct client *
client_new(struct fixture *fx)
{
    struct client *c = malloc(sizeof(*c));

    assert_non_null(c);
    assert_int_equal(client_open(c, fx->port), 0);
    return c;
}


/* Shuts down the sending side, so the server reads EOF. */
static void
client_shutdown(struct client *c)
{
    assert_int_equal(shutdown(c->fd, SHUT_WR), 0);
}


/* Closes with a reset instead of FIN, as a client that crashed would. */
static void
client_reset(struct client *c)
{
    struct linger linger = { 1, 0 };

    assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &linger,
                                sizeof(linger)), 0);
    close(c->fd);
    c->fd = -1;
}


static void
client_free(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}


static void
client_send(struct client *c, const char *text)
{
    size_t len = strlen(text);
    ssize_t n;

    while (len > 0) {
        n = send(c->fd, text, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        text += n;
        len -= (size_t)n;
    }
}


/* Reads more input and returns its size, or 0 at EOF or time-out. */
static ssize_t
client_fill(struct client *c)
{
    ssize_t n;

    if (c->len == sizeof(c->buf))
        return 0;
    n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n <= 0)
        return 0;
    c->len += (size_t)n;
    return n;
}


static void
client_consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}


/* Copies the value of header `name` from `head` into `out`, or "". */
static const char *
header_find(const char *head, const char *name, char *out, size_t size)
{
    size_t len = strlen(name);
    const char *line = strstr(head, "\r\n");
    size_t n;

    out[0] = '\0';
    while (line != NULL && line[2] != '\0') {
        line += 2;
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            line += len + 1;
            while (*line == ' ')
                line++;
            n = strcspn(line, "\r");
            if (n >= size)
                n = size - 1;
            memcpy(out, line, n);
            out[n] = '\0';
            return out;
        }
        line = strstr(line, "\r\n");
    }
    return out;
}


/*
 * Reads one response. With `no_body` (a HEAD request), Content-Length is
 * not followed. Returns 0, or -1 at EOF or time-out.
 */
static int
response_read_as(struct client *c, struct response *r, int no_body)
{
    char value[32];
    char *end;
    size_t head_len;
    size_t body_len;

    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
        if (client_fill(c) == 0)
            return -1;
    }
    head_len = (size_t)(end - c->buf) + 4;
    if (head_len >= sizeof(r->head))
        return -1;
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = '\0';
    r->status = atoi(r->head + 9);

    header_find(r->head, "Content-Length", value, sizeof(value));
    body_len = no_body ? 0 : strtoul(value, NULL, 10);
    if (body_len >= sizeof(r->body))
        return -1;
    while (c->len < head_len + body_len) {
        if (client_fill(c) == 0)
            return -1;
    }
    memcpy(r->body, c->buf + head_len, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;
    client_consume(c, head_len + body_len);
    return 0;
}


static int
response_read(struct client *c, struct response *r)
{
    return response_read_as(c, r, 0);
}


static const char *
header_get(struct response *r, const char *name)
{
    static char value[1024];

    return header_find(r->head, name, value, sizeof(value));
}


/* Returns 1 when the server has closed: EOF with nothing left to read. */
static int
client_eof(struct client *c)
{
    char byte;

    return c->len == 0 && recv(c->fd, &byte, 1, 0) == 0;
}


/* Returns 1 when nothing has arrived within a short wait. */
static int
client_quiet(struct client *c)
{
    char byte;

    sleep_ms(20);
    return recv(c->fd, &byte, 1, MSG_DONTWAIT) < 0 &&
           (errno == EAGAIN || errno == EWOULDBLOCK);
}


/* Sends one request and reads its response. */
static struct response *
exchange(struct client *c, const char *request)
{
    static struct response r;

    client_send(c, request);
    assert_int_equal(response_read(c, &r), 0);
    return &r;
}


/* Tests. */

static void
get_route_responds(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    assert_string_equal(header_get(r, "Content-Length"), "5");
    assert_string_equal(header_get(r, "Content-Type"), "text/plain");
    assert_string_equal(header_get(r, "Server"), "crier");
    assert_string_equal(header_get(r, "X-Test"), "yes");
    assert_string_equal(header_get(r, "Connection"), "");

    /* The connection stays open for the next request. */
    r = exchange(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    client_free(c);
}


static void
header_lookup(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /probe HTTP/1.1\r\nHost: t\r\nX-Other: 1\r\n"
                    "X-PROBE: abc\r\n\r\n");
    assert_string_equal(r->body, "GET abc");
    r = exchange(c, "GET /probe HTTP/1.1\r\nHost: t\r\n"
                    "X-Probe:\r\nX-After: 2\r\n\r\n");
    assert_string_equal(r->body, "GET ");
    r = exchange(c, "GET /probe HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_string_equal(r->body, "GET (none)");
    client_free(c);
}


static void
post_body_in_pieces(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    static const char *const pieces[] = {
        "POST /ec", "ho HTTP/1.1\r\nHo", "st: x\r\nContent-Le",
        "ngth: 11\r\n\r\nhel", "lo wo", "rld"
    };
    struct response r;
    size_t i;

    for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        client_send(c, pieces[i]);
        sleep_ms(5);
    }
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    client_free(c);
}


static void
post_chunked_body(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Transfer-Encoding: chunked\r\n"
                   "\r\n5\r\nhello\r\n");
    sleep_ms(5);
    client_send(c, "6\r\n world\r\n0\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello world");
    client_free(c);
}


static void
expect_continue_sent(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Expect: 100-continue\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 100);
    client_send(c, "hello");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    client_free(c);
}


static void
unknown_path_404(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 404);
    assert_string_equal(r->body, "{\"error\":\"not found\"}");
    assert_string_equal(header_get(r, "Content-Type"), "application/json");

    /* "/files/" and "*" do not match "/files" without its slash. */
    r = exchange(c, "GET /files HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 404);
    client_free(c);
}


static void
wrong_method_405(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "POST /hello HTTP/1.1\r\nHost: t\r\n"
                    "Content-Length: 0\r\n\r\n");
    assert_int_equal(r->status, 405);
    assert_string_equal(header_get(r, "Allow"), "GET, HEAD");
    assert_string_equal(header_get(r, "Content-Type"), "application/json");
    assert_string_equal(r->body, "{\"error\":\"method not allowed\"}");

    /* The connection survives a 405. */
    r = exchange(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 200);
    client_free(c);
}


static void
head_has_no_body(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n"
                   "\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(response_read_as(c, &r, 1), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(header_get(&r, "Content-Length"), "5");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    client_free(c);
}


static void
json_response(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /json HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 201);
    assert_string_equal(r->body, "{\"ok\":true}");
    assert_string_equal(header_get(r, "Content-Type"), "application/json");
    client_free(c);
}


static void
content_length_413(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    /* The response comes before any of the body is sent. */
    client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: 1000\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 413);
    assert_string_equal(header_get(&r, "Connection"), "close");
    assert_string_equal(r.body, "{\"error\":\"payload too large\"}");
    assert_true(client_eof(c));
    client_free(c);
}


static void
chunked_body_413(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"
                   "28\r\n0123456789012345678901234567890123456789\r\n");
    client_send(c, "28\r\n0123456789012345678901234567890123456789\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 413);
    assert_true(client_eof(c));
    client_free(c);
}


static void
body_at_limit_accepted(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;
    char request[256];
    char body[65];

    memset(body, 'a', 64);
    body[64] = '\0';
    snprintf(request, sizeof(request),
             "POST /echo HTTP/1.1\r\nHost: t\r\n"
             "Content-Length: 64\r\n\r\n%s", body);
    r = exchange(c, request);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 64);
    client_free(c);
}


static void
large_header_431(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;
    char request[2048];
    char value[1001];

    memset(value, 'v', 1000);
    value[1000] = '\0';
    snprintf(request, sizeof(request),
             "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", value);
    client_send(c, request);
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 431);
    assert_string_equal(header_get(&r, "Connection"), "close");
    assert_true(client_eof(c));
    client_free(c);
}


static void
long_url_431(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;
    char request[2048];
    char path[1001];

    memset(path, 'p', 1000);
    path[0] = '/';
    path[1000] = '\0';
    snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n",
             path);
    client_send(c, request);
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 431);
    client_free(c);
}


static void
bad_request_400(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "NOT-HTTP\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "{\"error\":"
                        "\"invalid HTTP request: unknown method\"}");
    assert_true(client_eof(c));
    client_free(c);
}


/*
 * Sends `request` on a new connection and checks for a 400 whose body
 * gives `reason`, followed by a close.
 */
static void
expect_400(struct fixture *fx, const char *request, const char *reason)
{
    struct client *c = client_new(fx);
    struct response r;
    char body[256];

    snprintf(body, sizeof(body),
             "{\"error\":\"invalid HTTP request: %s\"}", reason);
    client_send(c, request);
    assert_int_equal(response_read(c, &r), 0);

    /* The request is named, because several calls share these lines. */
    if (r.status != 400)
        fail_msg("status %d, not 400, for %s", r.status, request);
    assert_string_equal(header_get(&r, "Connection"), "close");
    assert_string_equal(header_get(&r, "Content-Type"), "application/json");
    assert_string_equal(r.body, body);
    assert_true(client_eof(c));
    client_free(c);
}


static void
space_before_colon_400(void **state)
{
    struct fixture *fx = *state;

    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length : 5\r\n\r\n"
                   "hello", "whitespace before the colon in a header");
    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length\t: 5\r\n\r\n"
                   "hello", "whitespace before the colon in a header");
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\nX-A b: 1\r\n\r\n",
               "whitespace before the colon in a header");
}


static void
obs_fold_400(void **state)
{
    static const char fold[] =
        "header line starts with whitespace (obsolete line folding)";
    struct fixture *fx = *state;
    struct client *c;
    struct response r;
    char body[256];

    snprintf(body, sizeof(body), "{\"error\":\"invalid HTTP request: %s\"}",
             fold);
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                   "X-A: 1\r\n 2\r\n\r\n", fold);
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                   "X-A: 1\r\n\t2\r\n\r\n", fold);
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                   "X-A: 1\r\n \r\n\r\n", fold);

    /* http-parser itself skips a folded line after an empty value. */
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                   "X-A:\r\n 2\r\n\r\n", fold);
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\nX-A:\r\n \r\nX-B: 1\r\n"
                   "\r\n", fold);

    /* The first header line. */
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\n X-A: 1\r\n\r\n", fold);
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\n\tX-A: 1\r\n\r\n", fold);

    /* A fold that starts in a later read. */
    c = client_new(fx);
    client_send(c, "GET /hello HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n");
    sleep_ms(5);
    client_send(c, " 2\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, body);
    assert_true(client_eof(c));
    client_free(c);

    c = client_new(fx);
    client_send(c, "GET /hello HTTP/1.1\r\nHost: t\r\nX-A:\r\n");
    sleep_ms(5);
    client_send(c, " ");
    sleep_ms(5);
    client_send(c, "2\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, body);
    assert_true(client_eof(c));
    client_free(c);
}


static void
split_header_value_accepted(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    /* A value split between reads is not a fold, even at a space. */
    client_send(c, "GET /probe HTTP/1.1\r\nHost: t\r\nX-Probe: a");
    sleep_ms(5);
    client_send(c, " b\r");
    sleep_ms(5);
    client_send(c, "\nX-Other: 1\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET a b");

    /* Whitespace after the colon is allowed, in any read. */
    client_send(c, "GET /probe HTTP/1.1\r\nHost: t\r\nX-Probe:");
    sleep_ms(5);
    client_send(c, " \t");
    sleep_ms(5);
    client_send(c, "c\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET c");
    client_free(c);
}


static void
error_reasons_400(void **state)
{
    struct fixture *fx = *state;

    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: 5x\r\n\r\n",
               "invalid Content-Length");
    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Content-Length: 6\r\n\r\nhello!",
               "more than one Content-Length");
    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               "Content-Length together with Transfer-Encoding");
    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Transfer-Encoding: chunked\r\n"
                   "Content-Length: 5\r\n\r\n0\r\n\r\n",
               "Content-Length together with Transfer-Encoding");
    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Transfer-Encoding: gzip\r\n"
                   "\r\n", "Transfer-Encoding does not end with chunked");
    expect_400(fx, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Transfer-Encoding: chunked\r\n"
                   "\r\nzz\r\n", "invalid chunk size");
    expect_400(fx, "BREW /hello HTTP/1.1\r\nHost: t\r\n\r\n",
               "unknown method");
    expect_400(fx, "GET /hello HTTP/1.1\r\nHost: t\r\nX-A\x01: 1\r\n\r\n",
               "invalid character in a header");
    expect_400(fx, "GET /hello HTTP/1.x\r\n\r\n", "invalid HTTP version");
    expect_400(fx, "GET /a b HTTP/1.1\r\nHost: t\r\n\r\n",
               "invalid request line");
    expect_400(fx, "GET /files/a%zz HTTP/1.1\r\nHost: t\r\n\r\n",
               "invalid percent-encoding in the path");
}


static void
bad_escape_400(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "GET /files/a%zz HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    client_free(c);

    c = client_new(fx);
    client_send(c, "GET /files/a%00 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 400);
    client_free(c);
}


static void
pipeline_keeps_order(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct snapshot snap;
    struct response r;
    int i;

    client_send(c, "GET /slow HTTP/1.1\r\nHost: t\r\n"
                   "\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(held_wait(fx, 1), 1);
    for (i = 0; i < WAIT_STEPS; i++) {
        snap = snapshot_take(fx);
        if (snap.fast_count == 1)
            break;
        sleep_ms(2);
    }
    assert_int_equal(snap.fast_count, 1);

    /* The fast response exists but must wait for the slow one. */
    assert_true(client_quiet(c));
    held_respond(fx, 0, "slow");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "slow");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "fast");
    client_free(c);
}


static void
pending_limit_pauses(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "GET /slow HTTP/1.1\r\nHost: t\r\n"
                   "\r\nGET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
                   "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(held_wait(fx, 2), 2);
    sleep_ms(20);
    assert_int_equal(snapshot_take(fx).held_count, 2);

    /* One response makes room, so the third request is parsed. */
    held_respond(fx, 0, "one");
    assert_int_equal(held_wait(fx, 3), 3);
    held_respond(fx, 2, "three");
    held_respond(fx, 1, "two");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "one");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "two");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "three");
    client_free(c);
}


static void
connection_close_honoured(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /hello HTTP/1.1\r\nHost: t\r\n"
                    "Connection: close\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(header_get(r, "Connection"), "close");
    assert_true(client_eof(c));
    client_free(c);
}


static void
http10_keep_alive_rules(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /hello HTTP/1.0\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(header_get(r, "Connection"), "close");
    assert_true(client_eof(c));
    client_free(c);

    c = client_new(fx);
    r = exchange(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_string_equal(header_get(r, "Connection"), "keep-alive");
    r = exchange(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_int_equal(r->status, 200);
    client_free(c);
}


static void
client_gone_before_response(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);

    client_send(c, "GET /slow HTTP/1.1\r\nHost: t\r\n"
                   "\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(held_wait(fx, 1), 1);
    client_reset(c);
    client_free(c);
    assert_int_equal(conns_wait(fx, 0), 0);

    /* The request outlived its connection, and responding frees it. */
    held_respond(fx, 0, "late");
    assert_int_equal(snapshot_take(fx).conn_count, 0);
}


static void
half_close_gets_response(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: 5\r\n\r\nhello");
    client_shutdown(c);
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_true(client_eof(c));
    client_free(c);
}


static void
half_close_waits_for_handler(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    client_shutdown(c);
    assert_int_equal(held_wait(fx, 1), 1);

    /* The EOF has arrived, and the connection waits for the response. */
    sleep_ms(20);
    assert_int_equal(snapshot_take(fx).conn_count, 1);
    assert_true(client_quiet(c));
    held_respond(fx, 0, "late");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "late");
    assert_string_equal(header_get(&r, "Connection"), "close");
    assert_true(client_eof(c));
    client_free(c);
    assert_int_equal(conns_wait(fx, 0), 0);
}


static void
half_close_pipelined(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    client_send(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                   "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: 3\r\n\r\nabc");
    client_shutdown(c);
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "abc");
    assert_true(client_eof(c));
    client_free(c);

    /* A slow first request still comes before the fast second one. */
    c = client_new(fx);
    client_send(c, "GET /slow HTTP/1.1\r\nHost: t\r\n"
                   "\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    client_shutdown(c);
    assert_int_equal(held_wait(fx, 1), 1);
    held_respond(fx, 0, "slow");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "slow");
    assert_int_equal(response_read(c, &r), 0);
    assert_string_equal(r.body, "fast");
    assert_string_equal(header_get(&r, "Connection"), "close");
    assert_true(client_eof(c));
    client_free(c);
}


static void
half_close_partial_dropped(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response r;

    /* The second request is cut off, so only the first gets a response. */
    client_send(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                   "POST /echo HTTP/1.1\r\nHost: t\r\n"
                   "Content-Length: 10\r\n\r\nabc");
    client_shutdown(c);
    assert_int_equal(response_read(c, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello");
    assert_true(client_eof(c));
    client_free(c);

    /* Only part of a request line: the connection just closes. */
    c = client_new(fx);
    client_send(c, "GET /hel");
    client_shutdown(c);
    assert_true(client_eof(c));
    client_free(c);
    assert_int_equal(conns_wait(fx, 0), 0);
}


static void
untrusted_peer_ignored(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n"
                    "X-Forwarded-For: 1.2.3.4\r\n\r\n");
    assert_string_equal(r->body, "127.0.0.1");
    client_free(c);
}


static void
trusted_proxy_forwarded(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;
    int result = -1;

    loop_call(fx, trust_set, &result);
    assert_int_equal(result, 0);
    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_string_equal(r->body, "127.0.0.1");
    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n"
                    "X-Forwarded-For: 1.2.3.4, 10.1.1.1\r\n\r\n");
    assert_string_equal(r->body, "1.2.3.4");
    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n"
                    "X-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n\r\n");
    assert_string_equal(r->body, "5.6.7.8");
    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n"
                    "X-Forwarded-For: 2001:db8::1, fd00::5\r\n\r\n");
    assert_string_equal(r->body, "2001:db8::1");
    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n"
                    "X-Forwarded-For: 1.2.3.4\r\n"
                    "X-Forwarded-For: 10.0.0.2\r\n\r\n");
    assert_string_equal(r->body, "1.2.3.4");
    r = exchange(c, "GET /peer HTTP/1.1\r\nHost: t\r\n"
                    "X-Forwarded-For: junk, 10.0.0.3\r\n\r\n");
    assert_string_equal(r->body, "10.0.0.3");
    client_free(c);
}


static void
path_percent_decoded(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    r = exchange(c, "GET /files/a%20b%2Fc+d?x=%20&y=1 HTTP/1.1\r\n"
                    "Host: t\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "/files/a b/c+d|x=%20&y=1");
    r = exchange(c, "GET /files/deep/x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_string_equal(r->body, "deep:/files/deep/x|");
    r = exchange(c, "GET http://example.org/files/q%41?z HTTP/1.1\r\n"
                    "Host: t\r\n\r\n");
    assert_string_equal(r->body, "/files/qA|z");
    client_free(c);
}


static void
drain_waits_for_response(void **state)
{
    struct fixture *fx = *state;
    struct client *busy = client_new(fx);
    struct client *idle = client_new(fx);
    struct client late;
    struct response r;
    struct snapshot snap;
    int i;

    client_send(busy, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(held_wait(fx, 1), 1);
    assert_int_equal(conns_wait(fx, 2), 2);
    loop_call(fx, drain_start, NULL);

    /* Idle connections close and new ones are refused at once. */
    assert_true(client_eof(idle));
    assert_int_equal(client_open(&late, fx->port), -1);
    assert_int_equal(snapshot_take(fx).drained, 0);

    held_respond(fx, 0, "done");
    assert_int_equal(response_read(busy, &r), 0);
    assert_string_equal(r.body, "done");
    assert_string_equal(header_get(&r, "Connection"), "close");
    assert_true(client_eof(busy));
    client_free(busy);
    client_free(idle);

    for (i = 0; i < WAIT_STEPS; i++) {
        snap = snapshot_take(fx);
        if (snap.drained)
            break;
        sleep_ms(2);
    }
    assert_int_equal(snap.drained, 1);
}


static void
idle_connection_closed(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;
    uint64_t start;
    uint64_t elapsed;

    r = exchange(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 200);
    start = uv_hrtime();
    assert_true(client_eof(c));
    elapsed = (uv_hrtime() - start) / 1000000;
    assert_true(elapsed >= 40);
    assert_true(elapsed < 1000);
    client_free(c);
}


/* RFC 9112 requires Host in HTTP/1.1; HTTP/1.0 has no such rule. */
static void
missing_host_400(void **state)
{
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct response *r;

    expect_400(fx, "GET /hello HTTP/1.1\r\n\r\n",
               "the Host header is missing");
    expect_400(fx, "GET /hello HTTP/1.1\r\nX-Host: t\r\n\r\n",
               "the Host header is missing");
    r = exchange(c, "GET /hello HTTP/1.0\r\n\r\n");
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "hello");
    client_free(c);
}


/* A client that sends its headers a byte at a time is closed at the
 * header timeout, although each byte counts as activity. */
static void
slow_headers_closed(void **state)
{
    static const char head[] = "GET /hello HTTP/1.1\r\nX-Slow: aaaaaaaaaa";
    struct fixture *fx = *state;
    struct client *c = client_new(fx);
    struct client *quick = client_new(fx);
    struct response *r;
    uint64_t start = uv_hrtime();
    char byte[2] = "";
    int closed = 0;

    for (size_t i = 0; i < sizeof(head) - 1 && !closed; i++) {
        byte[0] = head[i];
        if (send(c->fd, byte, 1, MSG_NOSIGNAL) != 1)
            closed = 1;
        sleep_ms(20);
    }
    assert_true(client_eof(c));
    assert_true((uv_hrtime() - start) / 1000000 >= 100);

    /* A request that arrives in time gets its response from the same
     * server. */
    r = exchange(quick, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_int_equal(r->status, 200);
    client_free(quick);
    client_free(c);
}


static void
server_setup_checks(void **state)
{
    static const char *const bad_mask[] = { "10.0.0.0/33", NULL };
    static const char *const bad_addr[] = { "10.0.0", NULL };
    static const char *const good[] = { "::1/128", "0.0.0.0/0", NULL };
    uv_loop_t loop;
    struct http_server *srv;
    int drained = 0;

    assert_int_equal(uv_loop_init(&loop), 0);
    srv = http_server_new(&loop, NULL);
    assert_non_null(srv);
    assert_int_equal(http_route_add(srv, "GET", "/a", on_hello, NULL), 0);
    assert_int_equal(http_route_add(srv, "GET", "/a", on_hello, NULL),
                     CRIER_EEXIST);
    assert_int_equal(http_route_add(srv, "POST", "/a", on_hello, NULL), 0);
    assert_int_equal(http_route_add(srv, "GET", "/b/*", on_hello, NULL), 0);
    assert_int_equal(http_route_add(srv, "GET", "b", on_hello, NULL),
                     CRIER_EINVAL);
    assert_int_equal(http_route_add(srv, "GET", "/b*", on_hello, NULL),
                     CRIER_EINVAL);
    assert_int_equal(http_route_add(srv, "get", "/c", on_hello, NULL),
                     CRIER_EINVAL);
    assert_true(http_server_port(srv) < 0);
    assert_true(http_server_listen(srv, "127.0.0.1") < 0);
    assert_true(http_server_listen(srv, "[::1:80") < 0);
    assert_int_equal(http_server_trust_proxies(srv, bad_mask), CRIER_EINVAL);
    assert_int_equal(http_server_trust_proxies(srv, bad_addr), CRIER_EINVAL);
    assert_int_equal(http_server_trust_proxies(srv, good), 0);

    /* Drain works on a server that never listened. */
    http_server_drain(srv, on_drained_flag, &drained);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(drained, 1);
    http_server_free(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(get_route_responds, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(header_lookup, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(post_body_in_pieces, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(post_chunked_body, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(expect_continue_sent, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(unknown_path_404, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(wrong_method_405, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(head_has_no_body, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(json_response, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(content_length_413, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(chunked_body_413, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(body_at_limit_accepted, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(large_header_431, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(long_url_431, setup_small, teardown),
        cmocka_unit_test_setup_teardown(bad_request_400, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(bad_escape_400, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(space_before_colon_400, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(obs_fold_400, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(split_header_value_accepted,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(error_reasons_400, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(pipeline_keeps_order, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(pending_limit_pauses, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(connection_close_honoured,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(http10_keep_alive_rules,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(client_gone_before_response,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(half_close_gets_response,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(half_close_waits_for_handler,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(half_close_pipelined, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(half_close_partial_dropped,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(untrusted_peer_ignored,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(trusted_proxy_forwarded,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(path_percent_decoded, setup_default,
                                        teardown),
        cmocka_unit_test_setup_teardown(drain_waits_for_response,
                                        setup_default, teardown),
        cmocka_unit_test_setup_teardown(idle_connection_closed, setup_idle,
                                        teardown),
        cmocka_unit_test_setup_teardown(slow_headers_closed,
                                        setup_header_timeout, teardown),
        cmocka_unit_test_setup_teardown(missing_host_400, setup_default,
                                        teardown),
        cmocka_unit_test(server_setup_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
