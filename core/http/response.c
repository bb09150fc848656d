/*
 * Responses: a handler's respond call becomes the bytes of one response
 * in the request's `out` buffer. The Connection line is left out here,
 * because write.c picks it when the response is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crier/error.h>

#include "http/http_int.h"

static const char json_content_type[] = "application/json";


/* Returns the "Date: ...\r\n" line, formatted again each new second. */
static const char *
date_line(struct http_server *srv)
{
    static const char days[7][4] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
    };
    static const char months[12][4] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
    };
    time_t now = time(NULL);
    struct tm tm;

    if (now == srv->date_second)
        return srv->date;
    gmtime_r(&now, &tm);
    snprintf(srv->date, sizeof(srv->date),
             "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    srv->date_second = now;
    return srv->date;
}


/* Appends a decimal number into room the caller has reserved. */
static void
number_append(struct http_buf *buf, size_t value)
{
    char digits[24];
    size_t n = 0;

    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0)
        buf->data[buf->len++] = digits[--n];
}


static int
response_build(struct http_server *srv, struct crier_http_req *req,
               int status, const char *content_type, const void *body,
               size_t len)
{
    struct http_buf *out = &req->out;
    const char *reason = http_status_str((enum http_status)status);
    const char *date = date_line(srv);
    int has_body = status >= 200 && status != 204 && status != 304;
    int sends_body = has_body && !req->is_head;
    size_t need;

    if (content_type == NULL)
        content_type = "";
    need = 96 + strlen(reason) + strlen(date) + strlen(content_type) +
           req->extra.len;
    if (sends_body)
        need += len;
    out->len = 0;
    if (http_buf_reserve(out, need) < 0)
        return CRIER_ENOMEM;

    http_buf_append(out, "HTTP/1.1 ", 9);
    number_append(out, (size_t)status);
    http_buf_append(out, " ", 1);
    http_buf_append_str(out, reason);
    http_buf_append_str(out, "\r\nServer: crier\r\n");
    http_buf_append_str(out, date);
    if (content_type[0] != '\0') {
        http_buf_append_str(out, "Content-Type: ");
        http_buf_append_str(out, content_type);
        http_buf_append(out, "\r\n", 2);
    }
    if (has_body) {
        http_buf_append_str(out, "Content-Length: ");
        number_append(out, len);
        http_buf_append(out, "\r\n", 2);
    }
    http_buf_append(out, req->extra.data, req->extra.len);
    req->out_head = out->len;
    if (sends_body)
        http_buf_append(out, body, len);
    return 0;
}


/* Returns nonzero when `text` would break the header block. */
static int
header_text_invalid(const char *text, int is_name)
{
    const char *forbidden = is_name ? "\r\n: \t" : "\r\n";

    return text == NULL || (is_name && text[0] == '\0') ||
           strpbrk(text, forbidden) != NULL;
}


/* Invalid names and values are dropped, so no header can be injected. */
void
http_resp_header(struct crier_http_req *req, const char *name,
                 const char *value)
{
    struct http_buf *extra = &req->extra;

    if (req->state != HTTP_REQ_WAITING || req->conn == NULL)
        return;
    if (header_text_invalid(name, 1) || header_text_invalid(value, 0))
        return;
    if (http_buf_reserve(extra, strlen(name) + strlen(value) + 4) < 0) {
        req->failed = 1;
        return;
    }
    http_buf_append_str(extra, name);
    http_buf_append(extra, ": ", 2);
    http_buf_append_str(extra, value);
    http_buf_append(extra, "\r\n", 2);
}


void
http_req_on_respond(struct crier_http_req *req, http_respond_hook hook,
                    void *arg)
{
    req->on_respond = hook;
    req->on_respond_arg = arg;
}


void *
http_req_respond_arg(struct crier_http_req *req, http_respond_hook hook)
{
    return req->on_respond == hook ? req->on_respond_arg : NULL;
}


/* Runs the request's hook once, with the status of its response. */
void
http_respond_hook_run(struct crier_http_req *req, int status)
{
    http_respond_hook hook = req->on_respond;

    if (hook == NULL)
        return;
    req->on_respond = NULL;
    hook(req->on_respond_arg, req, status);
}


void
http_respond(struct crier_http_req *req, int status,
             const char *content_type, const void *body, size_t len)
{
    struct http_conn *conn = req->conn;

    if (req->state == HTTP_REQ_WAITING)
        http_respond_hook_run(req, status < 100 || status > 999 ? 500
                                                                : status);

    /* The client has gone, so the response is dropped. */
    if (conn == NULL) {
        http_req_free(req);
        return;
    }

    /* A second respond call for a request still queued is ignored. */
    if (req->state != HTTP_REQ_WAITING)
        return;
    if (status < 100 || status > 999)
        status = 500;
    if (!req->failed &&
        response_build(conn->srv, req, status, content_type, body, len) < 0)
        req->failed = 1;
    req->state = HTTP_REQ_ANSWERED;
    conn->waiting--;
    http_conn_flush(conn);
}


void
http_respond_json(struct crier_http_req *req, int status, json_t *body)
{
    static const char failed[] = "{\"error\":\"internal server error\"}";
    char *text = NULL;

    if (body != NULL)
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (text == NULL) {
        http_respond(req, 500, json_content_type, failed, sizeof(failed) - 1);
        return;
    }
    http_respond(req, status, json_content_type, text, strlen(text));
    free(text);
}


/* Responds with {"error": message}. `message` must need no JSON escaping. */
void
http_respond_error(struct crier_http_req *req, int status,
                   const char *message)
{
    char body[128];
    int len;

    len = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", message);
    if (len < 0 || (size_t)len >= sizeof(body))
        len = 0;
    http_respond(req, status, json_content_type, body, (size_t)len);
}


void
http_respond_allow(struct crier_http_req *req, const char *allow)
{
    http_resp_header(req, "Allow", allow);
    http_respond_error(req, 405, "method not allowed");
}
