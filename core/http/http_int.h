/*
 * Internals of the HTTP adapter, shared by the files of core/http only.
 *
 * Ownership: the server owns its connections, and a connection owns the
 * requests it has read until their responses are written. A request whose
 * handler has not responded when the connection closes is detached (its
 * `conn` becomes NULL) and is freed by http_respond instead.
 */
#ifndef CRIER_CORE_HTTP_INT_H
#define CRIER_CORE_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <http_parser.h>
#include <sys/socket.h>

#include "http/http.h"

#define HTTP_PEER_TEXT_SIZE 46          /* INET6_ADDRSTRLEN */
#define HTTP_READ_SLAB_SIZE (64 * 1024)
#define HTTP_LINGER_MS 2000

/*
 * How long a connection that is idle when the server drains stays open
 * for one more request, which gets "Connection: close". A keep-alive
 * client may have sent that request before it could see the drain.
 */
#define HTTP_DRAIN_GRACE_MS 250

/* The sweep's interval while draining, so the grace ends on time. */
#define HTTP_DRAIN_SWEEP_MS 25

/* A growable byte buffer. Capacity doubles, so appends cost O(1) each. */
struct http_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* A request header as offsets into the request's `head` buffer. */
struct http_header {
    size_t name;
    size_t value;
};

enum http_req_state {
    HTTP_REQ_PARSING,       /* still being read */
    HTTP_REQ_WAITING,       /* given to a handler, no response yet */
    HTTP_REQ_ANSWERED       /* response built, waiting for its turn */
};

/* An IPv4 address is kept as its IPv4-mapped IPv6 form (::ffff:a.b.c.d). */
struct http_cidr {
    unsigned char addr[16];
    unsigned bits;
};

struct crier_http_req {
    struct http_conn *conn;         /* NULL once the connection is gone */
    struct crier_http_req *next;    /* in the connection's queue or pool */
    enum http_req_state state;
    const char *method;
    unsigned http_major;
    unsigned http_minor;
    unsigned keep_alive : 1;
    unsigned is_head : 1;           /* respond without the body */
    unsigned has_url : 1;           /* the URL is complete in `head` */
    unsigned last_piece : 2;        /* kind of the last header piece */
    unsigned headers_done : 1;
    unsigned close_after : 1;       /* close the connection after this */
    unsigned failed : 1;            /* building the response ran out of
                                       memory; a fixed 500 is sent */
    unsigned has_transfer_encoding : 1; /* the header was read */

    /*
     * The URL, the header names and values, the decoded path and the query,
     * each NUL-terminated, addressed by offset because `head` may move
     * while it grows.
     */
    struct http_buf head;
    size_t head_bytes;              /* request line and headers, counted */
    size_t path;
    size_t query;
    struct http_header *headers;
    size_t header_count;
    size_t header_cap;

    struct http_buf body;
    struct http_buf extra;          /* "Name: value\r\n" from resp_header */
    struct http_buf out;            /* the response: head, then body */
    size_t out_head;                /* head length in `out`, without the
                                       final CRLF */

    char peer[HTTP_PEER_TEXT_SIZE]; /* req_peer's result, or "" */

    http_respond_hook on_respond;   /* http_req_on_respond, or NULL */
    void *on_respond_arg;
};

struct http_conn {
    uv_tcp_t tcp;
    struct http_server *srv;
    struct http_conn *prev;         /* the server's connection list */
    struct http_conn *next;
    struct http_conn *resume_prev;  /* the server's resume list */
    struct http_conn *resume_next;

    http_parser parser;
    struct crier_http_req *current; /* the request being read */
    struct crier_http_req *queue;   /* complete requests, oldest first */
    struct crier_http_req *queue_tail;
    unsigned queue_len;
    unsigned waiting;               /* requests without a response yet */
    struct crier_http_req *pool;    /* reset requests for reuse */
    unsigned pool_len;
    int error_status;               /* set by a parser callback to fail */
    const char *error_reason;       /* why a 400 is sent, in plain words */
    const char *scan_from;          /* header bytes before this pointer in
                                       the current input are checked for
                                       obsolete line folding */
    struct http_buf saved;          /* input read but not parsed yet */

    uv_write_t write_req;
    unsigned write_count;           /* requests in the write in flight */
    uv_write_t continue_req;
    uv_shutdown_t shutdown_req;
    uint64_t last_active;           /* loop time of the last progress */
    uint64_t head_started;          /* loop time of the first byte of the
                                       request whose line and headers are
                                       being read, or 0 */
    uint64_t body_started;          /* loop time the headers of a request
                                       with a body were complete, until
                                       the body is, or 0 */

    unsigned char peer[16];         /* IPv4 peers in IPv4-mapped form */

    unsigned reading : 1;
    unsigned paused : 1;            /* parsing waits for the queue to drain */
    unsigned read_done : 1;         /* no more requests will be parsed */
    unsigned in_read : 1;           /* parsing input: resume needs no queue */
    unsigned in_parser : 1;         /* inside http-parser: flush later */
    unsigned writing : 1;
    unsigned continuing : 1;        /* a "100 Continue" write is in flight */
    unsigned close_after_write : 1;
    unsigned resume_queued : 1;
    unsigned lingering : 1;         /* responses sent, waiting for EOF */
    unsigned drain_grace : 1;       /* idle at drain: closes once
                                       HTTP_DRAIN_GRACE_MS pass */
    unsigned eof : 1;               /* the client has shut down its
                                       sending side */
    unsigned line_break : 1;        /* the checked header bytes end with
                                       CR or LF */
    unsigned closing : 1;
};

struct http_route {
    char *method;
    char *path;                     /* as registered, with any '*' */
    size_t prefix_len;              /* length before the '*', or 0 */
    crier_http_handler handler;
    void *arg;
    const void *owner;              /* the plugin instance, or NULL */
};

struct http_server {
    uv_loop_t *loop;
    struct http_limits limits;
    uv_tcp_t listener;
    uv_timer_t sweep;               /* idle and linger time-outs */
    uv_idle_t resume;               /* parses input held while paused */
    unsigned listener_open : 1;
    unsigned draining : 1;
    unsigned handles_closed : 1;    /* sweep and resume closed */
    unsigned done_called : 1;
    unsigned closing_handles;
    uint64_t drain_started;         /* loop time of http_server_drain */

    struct http_route *routes;
    size_t route_count;
    struct http_cidr *proxies;
    size_t proxy_count;

    struct http_conn *conns;
    size_t conn_count;
    unsigned peer_rejects;          /* over max_conns_per_peer, not yet
                                       logged */
    uint64_t peer_logged;           /* loop time of that log line, or 0 */
    struct http_conn *resume_list;
    char *slab;                     /* shared read buffer, see alloc */

    time_t date_second;
    char date[96];                  /* "Date: ...\r\n" for date_second */

    void (*drain_done)(void *arg);
    void *drain_arg;
};

/* buffer.c */
int http_buf_reserve(struct http_buf *buf, size_t extra);
int http_buf_append(struct http_buf *buf, const void *data, size_t len);
int http_buf_append_str(struct http_buf *buf, const char *text);
void http_buf_free(struct http_buf *buf);

/* server.c */
void http_server_conn_closed(struct http_server *srv, struct http_conn *conn);
void http_server_resume_later(struct http_server *srv,
                              struct http_conn *conn);
void http_server_resume_cancel(struct http_server *srv,
                               struct http_conn *conn);

/* conn.c */
int http_conn_start(struct http_server *srv, uv_stream_t *listener);
void http_conn_resume(struct http_conn *conn);
void http_conn_unblock(struct http_conn *conn);
void http_conn_drain(struct http_conn *conn);
void http_conn_sweep(struct http_conn *conn, uint64_t now);
void http_conn_close(struct http_conn *conn);
void http_conn_finish(struct http_conn *conn);
void http_conn_enqueue(struct http_conn *conn, struct crier_http_req *req);
struct crier_http_req *http_conn_take_req(struct http_conn *conn);
void http_conn_recycle_req(struct http_conn *conn,
                           struct crier_http_req *req);

/* parse.c */
extern const http_parser_settings http_parser_callbacks;
int http_conn_parse(struct http_conn *conn, const char *data, size_t len,
                    size_t *used);

/* write.c */
void http_conn_flush(struct http_conn *conn);

/* router.c */
void http_routes_free(struct http_server *srv);
void http_route_dispatch(struct http_server *srv, struct crier_http_req *req);

/* request.c */
void http_req_reset(struct crier_http_req *req);
void http_req_free(struct crier_http_req *req);

/* Runs the request's respond hook, if any, once (response.c). */
void http_respond_hook_run(struct crier_http_req *req, int status);
void http_req_detach(struct crier_http_req *req);
int http_req_decode_path(struct crier_http_req *req, const char *path,
                         size_t len);

/* response.c */
void http_respond_error(struct crier_http_req *req, int status,
                        const char *message);
void http_respond_allow(struct crier_http_req *req, const char *allow);

/* proxy.c */
int http_cidr_parse(const char *text, struct http_cidr *cidr);
int http_peer_trusted(const struct http_server *srv,
                      const unsigned char peer[16]);
/* Writes `addr` as text, IPv4-mapped addresses as IPv4; `text` has
 * HTTP_PEER_TEXT_SIZE bytes. */
void http_peer_format(const unsigned char addr[16], char *text);
void http_peer_store(unsigned char peer[16],
                     const struct sockaddr_storage *addr);
const char *http_peer_resolve(struct crier_http_req *req,
                              const struct http_server *srv);

#endif
