/*
 * Parsing: http-parser's callbacks accumulate a request's URL, headers and
 * body under the limits, and hand each complete request to the router.
 *
 * The callbacks never write to the socket or close the connection: the
 * parser still runs on the stack, so a response built inside a handler
 * waits for http_conn_flush after the parser returns.
 */
#include <stdint.h>
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


static int
error_set(struct http_conn *conn, int status)
{
    conn->error_status = status;
    return -1;
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

    conn->current = http_conn_take_req(conn);
    if (conn->current == NULL)
        return error_set(conn, 500);
    return 0;
}


static int
on_url(http_parser *parser, const char *at, size_t len)
{
    struct http_conn *conn = parser->data;
    struct crier_http_req *req = conn->current;

    if (head_bytes_add(conn, req, len) < 0)
        return -1;
    return head_append(conn, req, at, len);
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

    if (req->headers_done)
        return head_bytes_add(conn, req, len);

    if (req->last_piece == PIECE_FIELD) {
        if (head_append(conn, req, "", 1) < 0)
            return -1;
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
            return error_set(conn, 400);
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
        return error_set(conn, 400);
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
    http_conn_enqueue(conn, req);
    if (!req->keep_alive)
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


static const char *
error_message(int status)
{
    switch (status) {
    case 413:
        return "payload too large";
    case 431:
        return "request header fields too large";
    case 500:
        return "internal server error";
    default:
        return "bad request";
    }
}


/* Queues an error response for the failed request and stops parsing. */
static void
parse_fail(struct http_conn *conn, int status)
{
    struct crier_http_req *req = conn->current;

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
    http_respond_error(req, status, error_message(status));
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
    enum http_errno err;
    int status;

    if (HTTP_PARSER_ERRNO(&conn->parser) == HPE_PAUSED)
        http_parser_pause(&conn->parser, 0);

    conn->error_status = 0;
    conn->in_parser = 1;
    *used = http_parser_execute(&conn->parser, &http_parser_callbacks,
                                data, len);
    conn->in_parser = 0;

    err = HTTP_PARSER_ERRNO(&conn->parser);
    if (err == HPE_OK || err == HPE_PAUSED)
        return 0;

    status = conn->error_status;
    if (status == 0)
        status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
    *used = len;
    parse_fail(conn, status);
    return CRIER_EINVAL;
}
