/*
 * Requests: the accessors plugins call, path decoding, and the life of a
 * request object (reset for reuse, detach, free).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* Buffers larger than this are freed, not kept, when a request is reused. */
#define HTTP_KEEP_BYTES (64 * 1024)


const char *
http_req_method(struct crier_http_req *req)
{
    return req->method != NULL ? req->method : "";
}


const char *
http_req_path(struct crier_http_req *req)
{
    return req->head.data != NULL ? req->head.data + req->path : "";
}


const char *
http_req_query(struct crier_http_req *req)
{
    return req->head.data != NULL ? req->head.data + req->query : "";
}


/*
 * Returns the value of the first header of that name.
 * NOTE: repeated headers are not joined with commas, so later ones are
 * not visible here.
 */
const char *
http_req_header(struct crier_http_req *req, const char *name)
{
    size_t i;

    for (i = 0; i < req->header_count; i++) {
        if (strcasecmp(req->head.data + req->headers[i].name, name) == 0)
            return req->head.data + req->headers[i].value;
    }
    return NULL;
}


const char *
http_req_body(struct crier_http_req *req, size_t *len)
{
    if (len != NULL)
        *len = req->body.len;
    return req->body.data != NULL ? req->body.data : "";
}


const char *
http_req_peer(struct crier_http_req *req)
{
    if (req->peer[0] == '\0' && req->conn != NULL)
        return http_peer_resolve(req, req->conn->srv);
    return req->peer;
}


static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}


/*
 * Appends the percent-decoded path and its NUL to `head`, which has room
 * reserved. A '%' not followed by two hex digits, or one that decodes to
 * NUL, makes the request invalid. '+' stays as it is.
 */
int
http_req_decode_path(struct crier_http_req *req, const char *path,
                     size_t len)
{
    char *out = req->head.data + req->head.len;
    size_t i;
    size_t n = 0;
    int high;
    int low;

    for (i = 0; i < len; i++) {
        if (path[i] != '%') {
            out[n++] = path[i];
            continue;
        }
        if (len - i < 3)
            return -1;
        high = hex_value(path[i + 1]);
        low = hex_value(path[i + 2]);
        if (high < 0 || low < 0 || (high == 0 && low == 0))
            return -1;
        out[n++] = (char)(high * 16 + low);
        i += 2;
    }
    if (n == 0)
        out[n++] = '/';
    out[n++] = '\0';
    req->path = req->head.len;
    req->head.len += n;
    return 0;
}


static void
buf_trim(struct http_buf *buf)
{
    if (buf->cap > HTTP_KEEP_BYTES)
        http_buf_free(buf);
    buf->len = 0;
}


/* Empties a request for reuse, keeping its buffers unless they are big. */
void
http_req_reset(struct crier_http_req *req)
{
    struct http_buf head = req->head;
    struct http_buf body = req->body;
    struct http_buf extra = req->extra;
    struct http_buf out = req->out;
    struct http_header *headers = req->headers;
    size_t header_cap = req->header_cap;

    buf_trim(&head);
    buf_trim(&body);
    buf_trim(&extra);
    buf_trim(&out);
    memset(req, 0, sizeof(*req));
    req->head = head;
    req->body = body;
    req->extra = extra;
    req->out = out;
    req->headers = headers;
    req->header_cap = header_cap;
}


void
http_req_free(struct crier_http_req *req)
{
    http_respond_hook_run(req, 0);
    http_buf_free(&req->head);
    http_buf_free(&req->body);
    http_buf_free(&req->extra);
    http_buf_free(&req->out);
    free(req->headers);
    free(req);
}


/*
 * Cuts a waiting request loose from its closing connection. The peer is
 * resolved now, while the server's proxy list can still be read.
 */
void
http_req_detach(struct crier_http_req *req)
{
    if (req->peer[0] == '\0')
        http_peer_resolve(req, req->conn->srv);
    req->conn = NULL;
    req->next = NULL;
}
