/*
 * Parsing: http-parser's callbacks accumulate a request's URL, headers and
 * body under the limits, and hand each complete request to the router.
 *
 * The callbacks never write to the socket or close the connection: the
 * parser still runs on the stack, so a response built inside a handler
 * waits for http_conn_flush after the parser returns.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <crier/error.h>

#include "http/http_int.h"

/* Kinds of data for `last_piece`, the previous header callback's data. */
enum {
    PIECE_NONE = 0,
    PIECE_FIELD = 1,
    PIECE_VALUE = 2
};

/* ": " and CRLF around each header, counted as if formatted canonically. */
#define HEADER_LINE_EXTRA 4

/* " " before the URL, " HTTP/1.1\r\n" after it and the final CRLF. */
#define REQUEST_LINE_EXTRA 14

static const char continue_text[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* Reasons for a 400 found by the checks in this file. */
static const char reason_fold[] =
    "header line starts with whitespace (obsolete line folding)";
static const char reason_name_space[] =
    "whitespace before the colon in a header";


static int
error_set(struct http_conn *conn, int status)
{
    conn->error_status = status;
    return -1;
}


/* Fails the request with a 400 that gives `reason`. */
static int
request_reject(struct http_conn *conn, const char *reason)
{
    conn->error_reason = reason;
    return error_set(conn, 400);
}


/* Counts `n` bytes of request line and headers against the limit. */
static int
head_bytes_add(struct http_conn *conn, struct crier_http_req *req, size_t n)
{
    req->head_bytes += n;
    if (req->head_bytes > conn->srv->limits.max_header_bytes)
        return error_set(conn, 431);
    return 0;
}


static int
head_append(struct http_conn *conn, struct crier_http_req *req,
            const char *data, size_t len)
{
    if (http_buf_append(&req->head, data, len) < 0)
        return error_set(conn, 500);
    return 0;
}


static int
on_message_begin(http_parser *parser)
{
    struct http_conn *conn = parser->data;

    /* The fold check starts after the URL, which on_url marks. */
    conn->scan_from = NULL;
    conn->line_break = 0;
    conn->current = http_conn_take_req(conn);
    if (conn->current == NULL)
        return error_set(conn, 500);
    conn->head_started = uv_now(conn->srv->loop);
    return 0;
}


static int
on_url(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;

    if (head_bytes_add(conn, req, len) < 0)
        return -1;
    conn->scan_from = at + len;
    return head_append(conn, req, at, len);
}


/*
 * Checks the header bytes from `scan_from` up to `end` and returns -1 when
 * a line in them starts with SP or HT. `line_break` carries the state from
 * one read to the next.
 */
static int
fold_scan(struct http_conn *conn, const char *end)
{
    const char *p = conn->scan_from != NULL ? conn->scan_from : end;

    for (; p < end; p++) {
        if (*p == '\r' || *p == '\n')
            conn->line_break = 1;
        else if (conn->line_break && (*p == ' ' || *p == '\t'))
            return -1;
        else
            conn->line_break = 0;
    }
    conn->scan_from = end;
    return 0;
}


/*
 * Rejects obsolete line folding (RFC 9112, section 5.2), because a proxy
 * in front may read a folded header differently. http-parser passes a
 * folded line to on_header_value as more of the value, with its leading
 * whitespace, and skips one that follows an empty value. So the bytes
 * between two header pieces and the first byte of each piece are checked.
 */
static int
fold_check(struct http_conn *conn, const char *at, size_t len)
{
    if (fold_scan(conn, at) < 0)
        return request_reject(conn, reason_fold);
    if (len > 0 && conn->line_break && (at[0] == ' ' || at[0] == '\t'))
        return request_reject(conn, reason_fold);
    if (len > 0)
        conn->line_break = 0;
    conn->scan_from = at + len;
    return 0;
}


/* Ends the URL or the previous header value with its NUL. */
static int
piece_terminate(struct http_conn *conn, struct crier_http_req *req)
{
    if (!req->has_url) {
        req->has_url = 1;
        return head_append(conn, req, "", 1);
    }
    if (req->last_piece == PIECE_VALUE)
        return head_append(conn, req, "", 1);
    return 0;
}


static int
header_start(struct http_conn *conn, struct crier_http_req *req)
{
    struct http_header *headers;
    size_t cap;

    if (req->header_count == req->header_cap) {
        cap = req->header_cap > 0 ? req->header_cap * 2 : 16;
        headers = realloc(req->headers, cap * sizeof(*headers));
        if (headers == NULL)
            return error_set(conn, 500);
        req->headers = headers;
        req->header_cap = cap;
    }
    req->headers[req->header_count].name = req->head.len;
    req->headers[req->header_count].value = req->head.len;
    req->header_count++;
    req->last_piece = PIECE_FIELD;
    return head_bytes_add(conn, req, HEADER_LINE_EXTRA);
}


/*
 * A name or value may arrive in several pieces, one per read. http-parser
 * calls on_header_value even for an empty value, so a field piece after a
 * value piece always starts a new header.
 */
static int
on_header_field(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;

    /* Trailers of a chunked body count against the limit, but are dropped. */
    if (req->headers_done)
        return head_bytes_add(conn, req, len + HEADER_LINE_EXTRA);

    if (fold_check(conn, at, len) < 0)
        return -1;

    /*
     * http-parser 2.9 built without HTTP_PARSER_STRICT, as Debian ships
     * it, takes a space as part of the name, so "Content-Length : 5" would
     * set the body length. RFC 9112, section 5.1, requires a 400. A tab
     * fails in http-parser itself, and parser_error_reason names it.
     */
    if (memchr(at, ' ', len) != NULL || memchr(at, '\t', len) != NULL)
        return request_reject(conn, reason_name_space);

    if (req->last_piece != PIECE_FIELD) {
        if (piece_terminate(conn, req) < 0 || header_start(conn, req) < 0)
            return -1;
    }
    if (head_bytes_add(conn, req, len) < 0)
        return -1;
    return head_append(conn, req, at, len);
}


static int
on_header_value(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;
    const char *name;

    if (req->headers_done)
        return head_bytes_add(conn, req, len);

    if (fold_check(conn, at, len) < 0)
        return -1;

    /* The first piece of a value ends the name. */
    if (req->last_piece == PIECE_FIELD) {
        if (head_append(conn, req, "", 1) < 0)
            return -1;
        name = req->head.data + req->headers[req->header_count - 1].name;
        if (strcasecmp(name, "Transfer-Encoding") == 0)
            req->has_transfer_encoding = 1;
        req->headers[req->header_count - 1].value = req->head.len;
        req->last_piece = PIECE_VALUE;
    }
    if (head_bytes_add(conn, req, len) < 0)
        return -1;
    return head_append(conn, req, at, len);
}


/* Splits the URL into the decoded path and the raw query. */
static int
url_split(struct http_conn *conn, struct crier_http_req *req)
{
    struct http_parser_url parts;
    const char *url;
    size_t url_len = strlen(req->head.data);
    size_t path_len;
    const char *query = "";
    size_t query_len = 0;
    const char *end;

    /* No append below may move `head`, because `url` points into it. */
    if (http_buf_reserve(&req->head, url_len + 3) < 0)
        return error_set(conn, 500);
    url = req->head.data;

    if (url[0] == '/') {
        end = url + strcspn(url, "?#");
        path_len = (size_t)(end - url);
        if (*end == '?') {
            query = end + 1;
            query_len = strcspn(query, "#");
        }
    } else {
        http_parser_url_init(&parts);
        if (http_parser_parse_url(url, url_len, 0, &parts) != 0)
            return request_reject(conn, "invalid URL");
        /* "http://host" alone has an empty path, which decodes as "/". */
        path_len = 0;
        if (parts.field_set & (1 << UF_PATH)) {
            path_len = parts.field_data[UF_PATH].len;
            url += parts.field_data[UF_PATH].off;
        }
        if (parts.field_set & (1 << UF_QUERY)) {
            query = req->head.data + parts.field_data[UF_QUERY].off;
            query_len = parts.field_data[UF_QUERY].len;
        }
    }

    if (http_req_decode_path(req, url, path_len) < 0)
        return request_reject(conn, "invalid percent-encoding in the path");
    req->query = req->head.len;
    http_buf_append(&req->head, query, query_len);
    http_buf_append(&req->head, "", 1);
    return 0;
}


static void
on_continue_written(uv_write_t *write_req, int status)
{
    struct http_conn *conn = write_req->handle->data;

    conn->continuing = 0;
}


/*
 * Sends "100 Continue" when nothing else is queued ahead of it, since an
 * interim response must not overtake earlier responses.
 * NOTE: none is sent behind queued responses, so such a client sends its
 * body only when its own wait runs out (1 s by default in curl).
 */
static void
continue_send(struct http_conn *conn, struct crier_http_req *req)
{
    const char *expect = http_req_header(req, "Expect");
    uv_buf_t buf;
    int sent;

    if (expect == NULL || strcasecmp(expect, "100-continue") != 0)
        return;
    if (req->http_minor == 0 || conn->queue_len > 0 || conn->writing ||
        conn->continuing)
        return;

    buf = uv_buf_init((char *)continue_text, sizeof(continue_text) - 1);
    sent = uv_try_write((uv_stream_t *)&conn->tcp, &buf, 1);
    if (sent < 0 || (size_t)sent == buf.len)
        return;
    buf.base += sent;
    buf.len -= (size_t)sent;
    if (uv_write(&conn->continue_req, (uv_stream_t *)&conn->tcp, &buf, 1,
                 on_continue_written) == 0)
        conn->continuing = 1;
}


static int
on_headers_complete(http_parser *parser)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;
    const struct http_limits *limits = &conn->srv->limits;
    size_t line_extra;

    if (piece_terminate(conn, req) < 0)
        return -1;
    req->last_piece = PIECE_NONE;
    req->headers_done = 1;

    req->method = http_method_str(parser->method);
    req->is_head = parser->method == HTTP_HEAD;
    req->http_major = parser->http_major;
    req->http_minor = parser->http_minor;
    req->keep_alive = http_should_keep_alive(parser) && !parser->upgrade;
    conn->head_started = 0;

    /* RFC 9112, section 3.2 requires a 400 response to an HTTP/1.1
     * request without a Host header. */
    if ((req->http_major > 1 || (req->http_major == 1 &&
                                 req->http_minor >= 1)) &&
        http_req_header(req, "Host") == NULL)
        return request_reject(conn, "the Host header is missing");
    line_extra = strlen(req->method) + REQUEST_LINE_EXTRA;
    if (head_bytes_add(conn, req, line_extra) < 0)
        return -1;

    if (url_split(conn, req) < 0)
        return -1;

    /* A declared length is checked before any of the body is read. */
    if (!(parser->flags & F_CHUNKED) && parser->content_length != UINT64_MAX) {
        if (parser->content_length > limits->max_body_bytes)
            return error_set(conn, 413);
        if (http_buf_reserve(&req->body, parser->content_length) < 0)
            return error_set(conn, 500);
    }

    /* The body time-out runs from here however its bytes trickle in. */
    if ((parser->flags & F_CHUNKED) ||
        (parser->content_length > 0 && parser->content_length != UINT64_MAX))
        conn->body_started = uv_now(conn->srv->loop);
    continue_send(conn, req);
    return 0;
}


static int
on_body(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;

    if (len > conn->srv->limits.max_body_bytes - req->body.len)
        return error_set(conn, 413);
    if (http_buf_append(&req->body, at, len) < 0)
        return error_set(conn, 500);
    return 0;
}


static int
on_message_complete(http_parser *parser)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;

    conn->current = NULL;
    conn->body_started = 0;
    http_conn_enqueue(conn, req);
    /* While the server drains, each request read is a connection's last. */
    if (!req->keep_alive || conn->srv->draining)
        conn->read_done = 1;

    http_route_dispatch(conn->srv, req);

    /* Pausing here makes the parser return just after this request. */
    if (conn->read_done) {
        http_parser_pause(parser, 1);
    } else if (conn->queue_len >= conn->srv->limits.max_pending) {
        conn->paused = 1;
        http_parser_pause(parser, 1);
    }
    return 0;
}


const http_parser_settings http_parser_callbacks = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};


/* Returns the message of an error response other than 400. */
static const char *
error_message(int status)
{
    switch (status) {
    case 413:
        return "payload too large";
    case 431:
        return "request header fields too large";
    default:
        return "internal server error";
    }
}


/*
 * Returns the reason for a 400 that http-parser found, in plain words.
 * `data[used]` is the byte it stopped at, when `used < len`.
 */
static const char *
parser_error_reason(struct http_conn *conn, enum http_errno err,
                    const char *data, size_t used, size_t len)
{
    int blank = used < len && (data[used] == ' ' || data[used] == '\t');
    int after_break = used > 0 ? data[used - 1] == '\n' : conn->line_break;

    switch (err) {
    case HPE_INVALID_METHOD:
        return "unknown method";
    case HPE_INVALID_CONSTANT:
        /* No version after the URL, as when the URL contains a space. */
        return "invalid request line";
    case HPE_INVALID_CONTENT_LENGTH:
        return "invalid Content-Length";
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        /* http-parser uses this one code for both cases. */
        if (conn->current != NULL && conn->current->has_transfer_encoding)
            return "Content-Length together with Transfer-Encoding";
        return "more than one Content-Length";
    case HPE_INVALID_TRANSFER_ENCODING:
        return "Transfer-Encoding does not end with chunked";
    case HPE_INVALID_CHUNK_SIZE:
        return "invalid chunk size";
    case HPE_INVALID_HEADER_TOKEN:
        /* A tab in a name, or at the start of the first header line. */
        if (blank)
            return after_break ? reason_fold : reason_name_space;
        return "invalid character in a header";
    default:
        return http_errno_description(err);
    }
}


/*
 * Queues an error response for the failed request and stops parsing. Only
 * a 400 gives `reason`, after "invalid HTTP request: ".
 */
static void
parse_fail(struct http_conn *conn, int status, const char *reason)
{
    struct crier_http_req *req = conn->current;
    char message[160];

    conn->current = NULL;
    conn->read_done = 1;
    if (req == NULL)
        req = http_conn_take_req(conn);
    if (req == NULL) {
        http_conn_close(conn);
        return;
    }

    http_conn_enqueue(conn, req);
    req->close_after = 1;
    req->is_head = 0;
    if (status != 400) {
        http_respond_error(req, status, error_message(status));
        return;
    }
    snprintf(message, sizeof(message), "invalid HTTP request: %s",
             reason != NULL ? reason : "malformed request");
    http_respond_error(req, status, message);
}


/*
 * Parses input, and `*used` receives the bytes consumed. On an error the
 * error response is queued, the rest of the input counts as used, and the
 * result is CRIER_EINVAL.
 */
int
http_conn_parse(struct http_conn *conn, const char *data, size_t len,
                size_t *used)
{
    struct crier_http_req *req;
    enum http_errno err;
    const char *reason;
    int status;

    if (HTTP_PARSER_ERRNO(&conn->parser) == HPE_PAUSED)
        http_parser_pause(&conn->parser, 0);

    /* A request in progress is checked for folding from the first byte. */
    conn->scan_from = conn->current != NULL ? data : NULL;
    conn->error_status = 0;
    conn->error_reason = NULL;
    conn->in_parser = 1;
    *used = http_parser_execute(&conn->parser, &http_parser_callbacks,
                                data, len);
    conn->in_parser = 0;

    err = HTTP_PARSER_ERRNO(&conn->parser);
    if (err == HPE_OK || err == HPE_PAUSED) {
        /* Header bytes after the last piece may start a folded line. */
        req = conn->current;
        if (req == NULL || req->headers_done ||
            fold_scan(conn, data + *used) == 0)
            return 0;
        status = 400;
        reason = reason_fold;
    } else if (conn->error_status != 0) {
        status = conn->error_status;
        reason = conn->error_reason;
    } else if (err == HPE_HEADER_OVERFLOW) {
        status = 431;
        reason = NULL;
    } else {
        status = 400;
        reason = parser_error_reason(conn, err, data, *used, len);
    }
    *used = len;
    parse_fail(conn, status, reason);
    return CRIER_EINVAL;
}
