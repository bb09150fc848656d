/*
 * The HTTP adapter: one listener, parsed with http-parser, behind an
 * interface that does not show the parser (so llhttp can replace it).
 *
 * Contract:
 * - URL, headers and body arrive in pieces and are accumulated with
 *   limits: 431 when the request line and headers pass max_header_bytes,
 *   413 when the body passes max_body_bytes (Content-Length is checked
 *   before the body is read).
 * - A complete request goes to the route that matches its path: an exact
 *   path, or the longest matching prefix route (a path ending in "/" and
 *   a star). No route: 404; a route
 *   with another method: 405 with Allow. Error responses carry a JSON body
 *   {"error": "..."}. A 400 for a malformed request gives the reason.
 * - EOF from the client stops reading, but every request already read
 *   still gets its response before the connection closes.
 * - Responses to pipelined requests go out in request order, even when a
 *   later one is answered first. Reading pauses while a connection has
 *   max_pending requests without an answer.
 * - Keep-alive follows HTTP/1.1 and HTTP/1.0 rules and "Connection: close".
 */
#ifndef CRIER_CORE_HTTP_H
#define CRIER_CORE_HTTP_H

#include <stddef.h>

#include <crier/host.h>
#include <uv.h>

struct http_server;

struct http_limits {
    size_t max_header_bytes;    /* request line + headers; default 16 KiB */
    size_t max_body_bytes;      /* default 10 MiB */
    unsigned max_pending;       /* unanswered requests per connection; 64 */
    unsigned idle_timeout_ms;   /* close idle keep-alive connections; 60 s */
    unsigned header_timeout_ms; /* close a connection whose request line
                                   and headers take longer; 30 s */
    unsigned body_timeout_ms;   /* close a connection whose request body
                                   takes longer after its headers; 60 s */
    unsigned max_conns_per_peer; /* connections from one address, trusted
                                    proxies exempt; 0 for no limit */
};

/* Creates a server on `loop`; NULL limits take the defaults. */
struct http_server *http_server_new(uv_loop_t *loop,
                                    const struct http_limits *limits);

/*
 * Sets the peers whose X-Forwarded-For is believed: a NULL-terminated list
 * of addresses ("127.0.0.1") or CIDR blocks ("10.0.0.0/8").
 */
int http_server_trust_proxies(struct http_server *srv,
                              const char *const *proxies);

/*
 * Listens on "host:port" ("127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80").
 * Returns 0 or a negative libuv error code.
 */
int http_server_listen(struct http_server *srv, const char *address);

/*
 * Listens on a socket that is already bound and listening, such as one
 * inherited from the process that re-executed crier. Returns 0 or a
 * negative libuv error code.
 */
int http_server_listen_fd(struct http_server *srv, int fd);

/* Returns the listening socket's descriptor, or -1 when not listening. */
int http_server_fileno(struct http_server *srv);

/*
 * Returns the port the listener is bound to (useful after listening on
 * port 0), or a negative libuv error code when it is not listening.
 */
int http_server_port(struct http_server *srv);

/* Adds a route; see crier_host.route_add. */
int http_route_add(struct http_server *srv, const char *method,
                   const char *path, crier_http_handler handler, void *arg);

/* Adds a route that http_routes_remove can take away with its `owner`. */
int http_route_add_owned(struct http_server *srv, const void *owner,
                         const char *method, const char *path,
                         crier_http_handler handler, void *arg);

/*
 * Removes every route of `owner`, so that a reloaded plugin instance can
 * add the same paths. Requests already dispatched keep their handler.
 * Returns how many routes were removed.
 */
size_t http_routes_remove(struct http_server *srv, const void *owner);

/*
 * Stops accepting connections, answers `Connection: close` from now on,
 * and calls `done` once every request already read has been answered and
 * its response written, and every connection is closed.
 */
void http_server_drain(struct http_server *srv, void (*done)(void *arg),
                       void *arg);

/* Frees the server; only after drain has called back. */
void http_server_free(struct http_server *srv);

/* Request accessors and responses; the host table points at these. */
const char *http_req_method(struct crier_http_req *req);
const char *http_req_path(struct crier_http_req *req);
const char *http_req_query(struct crier_http_req *req);
const char *http_req_header(struct crier_http_req *req, const char *name);
const char *http_req_body(struct crier_http_req *req, size_t *len);
const char *http_req_peer(struct crier_http_req *req);
void http_resp_header(struct crier_http_req *req, const char *name,
                      const char *value);
void http_respond(struct crier_http_req *req, int status,
                  const char *content_type, const void *body, size_t len);
void http_respond_json(struct crier_http_req *req, int status, json_t *body);

/* Runs once with the status of a request's response, or with 0 when the
 * request is freed without one. */
typedef void (*http_respond_hook)(void *arg, struct crier_http_req *req,
                                  int status);

/*
 * Sets the hook that http_respond runs, before the response is written
 * and even when the client has gone. The audit log uses it to
 * record each admin action with its result. One hook per request.
 */
void http_req_on_respond(struct crier_http_req *req, http_respond_hook hook,
                         void *arg);

/* Returns the argument of the request's hook when it is `hook`, or NULL. */
void *http_req_respond_arg(struct crier_http_req *req,
                           http_respond_hook hook);

#endif
