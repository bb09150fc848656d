/*
 * Fuzzes HTTP request handling (core/http): the input is sent over a real
 * loopback TCP connection to an HTTP server on a libuv loop in this
 * process, and the client reads until the server closes.
 *
 * The first byte sets the size of the pieces the rest is sent in (0: all
 * at once), and the loop runs between pieces, so the parser receives a
 * request split across reads at any point. The server has small limits
 * (431, 413 and pausing are reached with small inputs), trusts 127.0.0.1
 * as a proxy so X-Forwarded-For is read, and has routes that respond at
 * once, respond later (pipelined responses wait for them) and read every
 * accessor. After each input the connection must be gone on the server
 * side too, so a connection that never closes is found as a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <jansson.h>
#include <uv.h>

#include "fuzz.h"
#include "http/http.h"
#include "http/http_int.h"

#define FUZZ_DEADLINE_MS 5000
#define FUZZ_LATER_MAX 64

static uv_loop_t loop;
static struct http_server *server;
static int server_port;
static struct crier_http_req *later[FUZZ_LATER_MAX];
static size_t later_count;
static const char *const proxies[] = {"127.0.0.1", "10.0.0.0/8", NULL};


/* Responds with what the accessors return, so each of them runs. */
static void
on_echo(void *arg, struct crier_http_req *req)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    const char *query = http_req_query(req);
    const char *host = http_req_header(req, "Host");
    volatile unsigned char sum = 0;
    json_t *out;

    /* A path or query that is not UTF-8 makes json_pack return NULL. */
    out = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:I}",
                    "method", http_req_method(req),
                    "path", http_req_path(req),
                    "query", query,
                    "host", host,
                    "peer", http_req_peer(req),
                    "length", (json_int_t)len);

    /* The body need not end in NUL, but ASan checks that its `len`
     * bytes are readable. */
    if (body == NULL)
        __builtin_trap();
    for (size_t i = 0; i < len; i++)
        sum ^= (unsigned char)body[i];
    http_resp_header(req, "X-Fuzz", http_req_path(req));
    http_respond_json(req, 200, out);
}


/* Keeps the request and responds after the loop turns, out of order. */
static void
on_later(void *arg, struct crier_http_req *req)
{
    if (later_count == FUZZ_LATER_MAX) {
        http_respond(req, 503, "text/plain", "full", 4);
        return;
    }
    later[later_count++] = req;
}


/* Responds to the kept requests, newest first. */
static void
later_respond(void)
{
    while (later_count > 0) {
        struct crier_http_req *req = later[--later_count];

        http_respond(req, 202, "text/plain", "later", 5);
    }
}


/* Starts the server on first use. */
static void
server_start(void)
{
    struct http_limits limits = {
        .max_header_bytes = 2048,
        .max_body_bytes = 4096,
        .max_pending = 4,
    };

    if (server != NULL)
        return;
    if (uv_loop_init(&loop) != 0)
        abort();
    server = http_server_new(&loop, &limits);
    if (server == NULL || http_server_trust_proxies(server, proxies) != 0 ||
        http_server_listen(server, "127.0.0.1:0") != 0)
        abort();
    server_port = http_server_port(server);
    http_route_add(server, "GET", "/", on_echo, NULL);
    http_route_add(server, "GET", "/e", on_echo, NULL);
    http_route_add(server, "POST", "/e", on_echo, NULL);
    http_route_add(server, "PUT", "/e", on_echo, NULL);
    http_route_add(server, "POST", "/p/*", on_echo, NULL);
    http_route_add(server, "GET", "/later", on_later, NULL);
    http_route_add(server, "POST", "/later", on_later, NULL);
}


/* Connects a non-blocking client socket to the server. */
static int
client_connect(void)
{
    struct sockaddr_in addr = {0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)server_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        abort();
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 &&
        errno != EINPROGRESS)
        abort();
    return fd;
}


/* Runs the loop once, waiting up to 10 ms for the server or client. */
static void
loop_turn(int fd)
{
    struct pollfd fds[2] = {
        {.fd = uv_backend_fd(&loop), .events = POLLIN},
        {.fd = fd, .events = POLLIN},
    };
    int timeout = uv_backend_timeout(&loop);

    /* Pending close callbacks make the timeout 0, so they run at once. */
    if (timeout < 0 || timeout > 10)
        timeout = 10;
    (void)poll(fds, fd >= 0 ? 2 : 1, timeout);
    uv_run(&loop, UV_RUN_NOWAIT);
    later_respond();
}


/* Reads what the server sent, and returns 1 once it has closed. */
static int
client_read(int fd)
{
    char buf[16384];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        ;
    if (n == 0)
        return 1;
    return errno != EAGAIN && errno != EWOULDBLOCK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t deadline;
    size_t piece, sent = 0;
    int fd, closed = 0;

    if (size == 0)
        return 0;
    server_start();
    piece = data[0] == 0 ? size : data[0];
    data++;
    size--;
    fd = client_connect();
    uv_update_time(&loop);
    deadline = uv_now(&loop) + FUZZ_DEADLINE_MS;

    /* Send in pieces, letting the server read each one. */
    while (sent < size && !closed) {
        size_t n = size - sent < piece ? size - sent : piece;
        ssize_t w = send(fd, data + sent, n, MSG_NOSIGNAL);

        if (w > 0)
            sent += (size_t)w;
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            break;                  /* the server closed first */
        loop_turn(fd);
        closed = client_read(fd);
        if (uv_now(&loop) > deadline)
            __builtin_trap();       /* the server stopped reading */
    }
    shutdown(fd, SHUT_WR);

    /* The server responds to every request read, then closes. */
    while (!closed) {
        loop_turn(fd);
        closed = client_read(fd);
        if (uv_now(&loop) > deadline)
            __builtin_trap();       /* the connection never closed */
    }
    close(fd);
    while (server->conn_count > 0) {
        loop_turn(-1);
        if (uv_now(&loop) > deadline)
            __builtin_trap();       /* the server kept the connection */
    }
    return 0;
}
