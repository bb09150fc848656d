/*
 * Tests of the beacon trigger (plugins/triggers/beacon/): query string
 * decoding, the mapping of hits to events, and the route handlers driven
 * through a fake host table that records responses and holds back the
 * store's commit.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "../../plugins/triggers/beacon/beacon.c"
#include "../../plugins/triggers/beacon/bots.c"
#include "../../plugins/triggers/beacon/hit.c"
#include "../../plugins/triggers/beacon/links.c"
#include "../../plugins/triggers/beacon/pages.c"
#include "../../plugins/triggers/beacon/ratelimit.c"
#include "../../plugins/triggers/beacon/snippet.c"

#include "ingest/ingest.h"

#define UA "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


/* A request as the fake host serves it, and the response it got. */
struct crier_http_req {
    const char *method;
    const char *path;
    const char *query;
    const char *body;
    const char *origin;
    const char *content_type;
    const char *user_agent;     /* NULL for UA */
    const char *dnt;            /* the DNT header, or NULL */
    const char *gpc;            /* the Sec-GPC header, or NULL */
    int status;                 /* 0 until the handler responds */
    char type_out[64];
    char body_out[2048];
    size_t body_len;
    char headers_out[512];      /* "Name: value\n" lines */
};

/* What the fake emit saw. The test calls `done` to play the commit. */
static struct {
    int calls;
    json_t *events;
    crier_emit_cb done;
    void *arg;
} emitted;


static const char *
fake_method(struct crier_http_req *req)
{
    return req->method;
}


static const char *
fake_path(struct crier_http_req *req)
{
    return req->path;
}


static const char *
fake_query(struct crier_http_req *req)
{
    return req->query != NULL ? req->query : "";
}


static const char *
fake_header(struct crier_http_req *req, const char *name)
{
    if (strcasecmp(name, "Origin") == 0)
        return req->origin;
    if (strcasecmp(name, "Content-Type") == 0)
        return req->content_type;
    if (strcasecmp(name, "User-Agent") == 0)
        return req->user_agent != NULL ? req->user_agent : UA;
    if (strcasecmp(name, "DNT") == 0)
        return req->dnt;
    if (strcasecmp(name, "Sec-GPC") == 0)
        return req->gpc;
    return NULL;
}


static const char *
fake_body(struct crier_http_req *req, size_t *len)
{
    *len = req->body != NULL ? strlen(req->body) : 0;
    return req->body != NULL ? req->body : "";
}


static void
fake_resp_header(struct crier_http_req *req, const char *name,
                 const char *value)
{
    size_t used = strlen(req->headers_out);

    snprintf(req->headers_out + used, sizeof(req->headers_out) - used,
             "%s: %s\n", name, value);
}


static void
fake_respond(struct crier_http_req *req, int status, const char *type,
             const void *body, size_t len)
{
    assert_int_equal(req->status, 0);
    assert_true(len <= sizeof(req->body_out));
    req->status = status;
    snprintf(req->type_out, sizeof(req->type_out), "%s", type ? type : "");
    if (len > 0)
        memcpy(req->body_out, body, len);
    req->body_len = len;
}


static void
fake_respond_json(struct crier_http_req *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);

    fake_respond(req, status, "application/json", text, strlen(text));
    free(text);
    json_decref(body);
}


/* Validates as the core does, and keeps the batch for the test. */
static int
fake_emit(struct crier_ctx *ctx, json_t *events,
          struct crier_input_error *err, crier_emit_cb done, void *arg)
{
    struct normalized_event normalized;
    int rc = event_normalize(events, 0, &normalized, err);

    if (rc != 0)
        return rc;
    json_decref(normalized.event);
    emitted.calls++;
    json_decref(emitted.events);
    emitted.events = json_incref(events);
    emitted.done = done;
    emitted.arg = arg;
    return 0;
}


static int
fake_log_enabled(struct crier_ctx *ctx, enum crier_log_level level)
{
    return 0;
}


static void
fake_log(struct crier_ctx *ctx, enum crier_log_level level, const char *msg,
         const char *fields_fmt, ...)
{
}


/* The last config_error report, as "key: message". */
static char config_report[256];


static void
fake_config_error(struct crier_ctx *ctx, const char *key, const char *fmt,
                  ...)
{
    size_t used;
    va_list ap;

    snprintf(config_report, sizeof(config_report), "%s: ", key);
    used = strlen(config_report);
    va_start(ap, fmt);
    vsnprintf(config_report + used, sizeof(config_report) - used, fmt, ap);
    va_end(ap);
}


static char *
fake_resolve_path(struct crier_ctx *ctx, const char *path)
{
    return strdup(path);
}


static const struct crier_host fake_host = {
    .size = sizeof(struct crier_host),
    .log_enabled = fake_log_enabled,
    .log = fake_log,
    .config_error = fake_config_error,
    .resolve_path = fake_resolve_path,
    .req_method = fake_method,
    .req_path = fake_path,
    .req_query = fake_query,
    .req_header = fake_header,
    .req_body = fake_body,
    .resp_header = fake_resp_header,
    .respond = fake_respond,
    .respond_json = fake_respond_json,
    .emit = fake_emit,
};


/* A beacon state with `origins` (NULL-terminated, or NULL for any). */
static struct beacon *
beacon_new(const char *const *origins)
{
    struct beacon *beacon = g_new0(struct beacon, 1);

    beacon->host = &fake_host;
    beacon_host = &fake_host;
    beacon->consent_required = 1;
    beacon->snippet = beacon_snippet_render(1, 0);
    beacon->bots = bot_classifier_new(NULL, 0);
    if (origins != NULL)
        beacon->allowed_origins = g_strdupv((char **) origins);
    return beacon;
}


static int
reset(void **state)
{
    json_decref(emitted.events);
    memset(&emitted, 0, sizeof(emitted));
    return 0;
}


static const char *
property(const json_t *event, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(event, "properties"), name));
}


static void
test_decode_percent_and_plus(void **state)
{
    const char *reason = NULL;
    char *text = query_decode("a+b%20c%2Bd%2fe", 15, &reason);

    assert_string_equal(text, "a b c+d/e");
    g_free(text);
}


static void
test_decode_utf8(void **state)
{
    const char *reason = NULL;
    char *text = query_decode("caf%C3%A9", 9, &reason);

    assert_string_equal(text, "caf\xc3\xa9");
    g_free(text);
}


/* A '%' must be followed by two hex digits. */
static void
test_decode_bad_escape(void **state)
{
    static const char *const bad[] = {"%zz", "%", "a%4", "100%", "%g0"};
    const char *reason;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        reason = NULL;
        assert_null(query_decode(bad[i], strlen(bad[i]), &reason));
        assert_non_null(strstr(reason, "two hex digits"));
    }
}


/* A NUL byte, and bytes that are not UTF-8 once decoded, are invalid. */
static void
test_decode_invalid_bytes(void **state)
{
    static const struct {
        const char *text;
        const char *reason;
    } cases[] = {
        {"%00", "NUL"},
        {"a%00b", "NUL"},
        {"%FF%FE", "UTF-8"},
        {"caf%C3", "UTF-8"},
        {"\xff", "UTF-8"},
        {"%ED%A0%80", "UTF-8"},
    };
    const char *reason;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        reason = NULL;
        assert_null(query_decode(cases[i].text, strlen(cases[i].text),
                                 &reason));
        assert_non_null(strstr(reason, cases[i].reason));
    }
}


static void
test_param_get(void **state)
{
    const char *query = "v=abc&u=https%3A%2F%2Fexample.gov%2Fa%3Fb%3D1"
                        "&empty=&flag&ti=Crib+recall";
    const char *reason = NULL;
    char *value = NULL;

    assert_int_equal(query_param_get(query, "v", &value, &reason), 0);
    assert_string_equal(value, "abc");
    g_free(value);
    assert_int_equal(query_param_get(query, "u", &value, &reason), 0);
    assert_string_equal(value, "https://example.gov/a?b=1");
    g_free(value);
    assert_int_equal(query_param_get(query, "ti", &value, &reason), 0);
    assert_string_equal(value, "Crib recall");
    g_free(value);
    assert_int_equal(query_param_get(query, "empty", &value, &reason), 0);
    assert_string_equal(value, "");
    g_free(value);
    assert_int_equal(query_param_get(query, "flag", &value, &reason), 0);
    assert_string_equal(value, "");
    g_free(value);
    assert_int_equal(query_param_get(query, "r", &value, &reason),
                     CRIER_ENOTFOUND);
    assert_int_equal(query_param_get("", "v", &value, &reason),
                     CRIER_ENOTFOUND);
}


/* A value that does not decode fails the lookup of its own name only. */
static void
test_param_get_invalid(void **state)
{
    const char *reason = NULL;
    char *value = NULL;

    assert_int_equal(query_param_get("v=%zz&u=x", "v", &value, &reason),
                     CRIER_EINVAL);
    assert_null(value);
    assert_non_null(strstr(reason, "two hex digits"));
    assert_int_equal(query_param_get("v=%zz&u=x", "u", &value, &reason), 0);
    assert_string_equal(value, "x");
    g_free(value);

    /* A name that does not decode matches nothing. */
    assert_int_equal(query_param_get("%FF=1&v=2", "v", &value, &reason), 0);
    assert_string_equal(value, "2");
    g_free(value);
}


/* Names match whole and decoded, and the first of repeated names wins. */
static void
test_param_names(void **state)
{
    const char *reason = NULL;
    char *value = NULL;

    assert_int_equal(query_param_get("vv=1&v=2&v=3", "v", &value, &reason),
                     0);
    assert_string_equal(value, "2");
    g_free(value);
    assert_int_equal(query_param_get("%74i=T&&x=1", "ti", &value, &reason),
                     0);
    assert_string_equal(value, "T");
    g_free(value);
    assert_int_equal(query_param_get("t=1", "ti", &value, &reason),
                     CRIER_ENOTFOUND);
}


static void
test_query_event(void **state)
{
    struct crier_input_error err;
    json_t *event = NULL;

    assert_int_equal(beacon_event_build_query(
                         "v=vid-1&u=https%3A%2F%2Fwww.example.gov%2Frecalls"
                         "%2Fcribs&r=https%3A%2F%2Fsearch.example%2F"
                         "&ti=Crib+recall", UA, &event, &err), 0);
    assert_string_equal(json_string_value(json_object_get(event, "type")),
                        "page_view");
    assert_string_equal(json_string_value(json_object_get(event, "visitor")),
                        "vid-1");
    assert_string_equal(property(event, "url"),
                        "https://www.example.gov/recalls/cribs");
    assert_string_equal(property(event, "referrer"),
                        "https://search.example/");
    assert_string_equal(property(event, "title"), "Crib recall");
    assert_string_equal(property(event, "user_agent"), UA);
    assert_int_equal(json_object_size(event), 3);
    assert_int_equal(json_object_size(json_object_get(event, "properties")),
                     4);
    json_decref(event);
}


/* Empty and absent parameters leave their properties out. */
static void
test_query_event_sparse(void **state)
{
    struct crier_input_error err;
    json_t *event = NULL;

    assert_int_equal(beacon_event_build_query("v=vid-1&t=download&r=", NULL,
                                              &event, &err), 0);
    assert_string_equal(json_string_value(json_object_get(event, "type")),
                        "download");
    assert_int_equal(json_object_size(json_object_get(event, "properties")),
                     0);
    json_decref(event);
}


static void
test_query_event_errors(void **state)
{
    static const struct {
        const char *query;
        const char *field;
        const char *message;
    } cases[] = {
        {"", "v", "is required"},
        {"v=&u=x", "v", "is empty"},
        {"u=https%3A%2F%2Fexample.gov%2F", "v", "is required"},
        {"v=a&t=case.closed", "t", "letters, digits"},
        {"v=a&t=page+view", "t", "letters, digits"},
    };
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        assert_int_equal(beacon_event_build_query(cases[i].query, UA, &event,
                                                  &err), CRIER_EINVAL);
        assert_string_equal(err.field, cases[i].field);
        assert_non_null(strstr(err.message, cases[i].message));
    }
    assert_null(event);
}


/* The visitor limit counts characters: 128 four-byte emoji pass and 129
 * do not. */
static void
test_query_visitor_counts_characters(void **state)
{
    GString *query = g_string_new("v=");
    struct crier_input_error err;
    json_t *event = NULL;

    for (int i = 0; i < 128; i++)
        g_string_append(query, "%F0%9F%98%80");
    assert_int_equal(beacon_event_build_query(query->str, UA, &event, &err),
                     0);
    json_decref(event);
    event = NULL;

    g_string_append(query, "%F0%9F%98%80");
    assert_int_equal(beacon_event_build_query(query->str, UA, &event, &err),
                     CRIER_EINVAL);
    assert_string_equal(err.field, "v");
    assert_non_null(strstr(err.message, "at most 128 characters"));
    assert_null(event);

    assert_int_equal(beacon_event_build_query("v=%FF%FE", UA, &event, &err),
                     CRIER_EINVAL);
    assert_string_equal(err.field, "v");
    assert_non_null(strstr(err.message, "not valid UTF-8"));
    g_string_free(query, TRUE);
}


/* Every parameter the event uses follows one rule: a value that does not
 * decode makes the whole hit invalid. */
static void
test_query_event_undecodable(void **state)
{
    static const struct {
        const char *query;
        const char *field;
    } cases[] = {
        {"v=%00", "v"},
        {"v=%zz", "v"},
        {"v=%", "v"},
        {"v=%FF%FE", "v"},
        {"v=a&t=%00", "t"},
        {"v=a&t=%zz", "t"},
        {"v=a&u=%FF%FE", "u"},
        {"v=a&u=https%3A%2F%2Fexample.gov%2F%", "u"},
        {"v=a&r=%00", "r"},
        {"v=a&r=%C3", "r"},
        {"v=a&ti=Crib+%zzrecall", "ti"},
        {"v=a&ti=%E2%82", "ti"},
        {"u=%zz", "u"},
    };
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        if (beacon_event_build_query(cases[i].query, UA, &event, &err) !=
            CRIER_EINVAL)
            fail_msg("accepted: %s", cases[i].query);
        assert_string_equal(err.field, cases[i].field);
        assert_int_equal(err.index, -1);
    }
    assert_null(event);

    /* Parameters that the event does not use are not read. */
    assert_int_equal(beacon_event_build_query("v=a&cb=%zz", UA, &event,
                                              &err), 0);
    json_decref(event);
}


static void
test_query_event_long_visitor(void **state)
{
    struct crier_input_error err;
    char query[200] = "v=";
    json_t *event = NULL;

    memset(query + 2, 'a', HIT_VISITOR_MAX);
    assert_int_equal(beacon_event_build_query(query, UA, &event, &err), 0);
    json_decref(event);
    strcat(query, "a");
    assert_int_equal(beacon_event_build_query(query, UA, &event, &err),
                     CRIER_EINVAL);
    assert_string_equal(err.field, "v");
}


/* Top-level url, referrer, title and the User-Agent header take the
 * place of properties of the same name. */
static void
test_json_event(void **state)
{
    struct crier_input_error err;
    json_t *body = json_pack("{s:s,s:s,s:s,s:n,s:{s:s,s:s,s:i}}",
                             "visitor", "vid-1", "type", "signup",
                             "url", "https://www.example.gov/a",
                             "title",
                             "properties", "url", "https://spoofed/",
                             "user_agent", "spoofed", "step", 2);
    json_t *event = NULL;

    assert_int_equal(beacon_event_build_json(body, UA, &event, &err), 0);
    assert_string_equal(json_string_value(json_object_get(event, "type")),
                        "signup");
    assert_string_equal(property(event, "url"), "https://www.example.gov/a");
    assert_string_equal(property(event, "user_agent"), UA);
    assert_null(property(event, "title"));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(event, "properties"), "step")), 2);
    json_decref(event);
    json_decref(body);
}


static void
test_json_event_errors(void **state)
{
    static const struct {
        const char *body;
        const char *field;
        const char *message;
    } cases[] = {
        {"{\"type\": \"page_view\"}", "visitor", "is required"},
        {"{\"visitor\": null}", "visitor", "is required"},
        {"{\"visitor\": 7}", "visitor", "must be a string"},
        {"{\"visitor\": \"\"}", "visitor", "is empty"},
        {"{\"visitor\": \"a\", \"type\": \"case.closed\"}", "type",
         "letters, digits"},
        {"{\"visitor\": \"a\", \"type\": 3}", "type", "must be a string"},
        {"{\"visitor\": \"a\", \"url\": 3}", "url", "must be a string"},
        {"{\"visitor\": \"a\", \"properties\": []}", "properties",
         "must be an object"},
        {"{\"visitor\": \"a\", \"ip\": \"192.0.2.1\"}", "ip",
         "is not a member"},
        {"[]", "", "JSON object"},
    };
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_t *body = json_loads(cases[i].body, 0, NULL);

        assert_non_null(body);
        assert_int_equal(beacon_event_build_json(body, UA, &event, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, cases[i].field);
        assert_non_null(strstr(err.message, cases[i].message));
        json_decref(body);
    }
    assert_null(event);
}


/* The GIF goes out only once the store has committed the event. */
static void
test_gif_after_commit(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {
        .method = "GET", .query = "v=vid-1&u=https%3A%2F%2Fexample.gov%2F",
    };

    on_gif(beacon, &req);
    assert_int_equal(emitted.calls, 1);
    assert_int_equal(req.status, 0);
    emitted.done(emitted.arg, 0, 1, 0);
    assert_int_equal(req.status, 200);
    assert_string_equal(req.type_out, "image/gif");
    assert_int_equal(req.body_len, 43);
    assert_memory_equal(req.body_out, "GIF89a", 6);
    assert_non_null(strstr(req.headers_out, "Cache-Control: no-store\n"));
    assert_string_equal(property(emitted.events, "url"),
                        "https://example.gov/");
    beacon_destroy(beacon);
}


static void
test_gif_store_failure(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {.method = "GET", .query = "v=vid-1"};

    on_gif(beacon, &req);
    emitted.done(emitted.arg, CRIER_EIO, 0, 0);
    assert_int_equal(req.status, 503);
    assert_int_equal(req.body_len, 43);
    beacon_destroy(beacon);
}


/* Without a visitor id the GIF still goes out, but nothing is stored. */
static void
test_gif_without_visitor(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {.method = "GET", .query = "u=x"};

    on_gif(beacon, &req);
    assert_int_equal(emitted.calls, 0);
    assert_int_equal(req.status, 400);
    assert_string_equal(req.type_out, "image/gif");
    assert_int_equal(req.body_len, 43);
    beacon_destroy(beacon);
}


/* A parameter that does not decode gets the GIF with 400, and nothing is
 * stored. */
static void
test_gif_undecodable(void **state)
{
    static const char *const queries[] = {
        "v=%00", "v=%zz", "v=%", "v=a&u=%FF%FE", "v=a&ti=%E2%82",
    };
    struct beacon *beacon = beacon_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(queries); i++) {
        struct crier_http_req req = {.method = "GET", .query = queries[i]};

        on_gif(beacon, &req);
        assert_int_equal(req.status, 400);
        assert_string_equal(req.type_out, "image/gif");
        assert_int_equal(req.body_len, 43);
    }
    assert_int_equal(emitted.calls, 0);
    beacon_destroy(beacon);
}


static void
test_gif_head(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {.method = "HEAD", .query = "v=vid-1"};

    on_gif(beacon, &req);
    assert_int_equal(emitted.calls, 0);
    assert_int_equal(req.status, 200);
    beacon_destroy(beacon);
}


static void
test_post_after_commit(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {
        .method = "POST", .content_type = "text/plain;charset=UTF-8",
        .origin = "https://www.example.gov",
        .body = "{\"visitor\":\"vid-1\","
                "\"url\":\"https://www.example.gov/\"}",
    };

    on_post(beacon, &req);
    assert_int_equal(emitted.calls, 1);
    assert_int_equal(req.status, 0);
    emitted.done(emitted.arg, 0, 1, 0);
    assert_int_equal(req.status, 202);
    req.body_out[req.body_len] = '\0';
    assert_string_equal(req.body_out, "{\"accepted\":1,\"duplicates\":0}");
    assert_non_null(strstr(req.headers_out,
                           "Access-Control-Allow-Origin: *\n"));
    assert_null(strstr(req.headers_out, "Credentials"));
    beacon_destroy(beacon);
}


static void
test_post_bad_input(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req not_json = {.method = "POST", .body = "{"};
    struct crier_http_req no_visitor = {.method = "POST", .body = "{}"};
    struct crier_http_req form = {
        .method = "POST", .body = "v=1",
        .content_type = "application/x-www-form-urlencoded",
    };

    on_post(beacon, &not_json);
    on_post(beacon, &no_visitor);
    on_post(beacon, &form);
    assert_int_equal(emitted.calls, 0);
    assert_int_equal(not_json.status, 400);
    assert_int_equal(no_visitor.status, 400);
    no_visitor.body_out[no_visitor.body_len] = '\0';
    assert_non_null(strstr(no_visitor.body_out, "\"field\":\"visitor\""));
    assert_int_equal(form.status, 415);
    beacon_destroy(beacon);
}


/* application/json, text/plain, with or without parameters, and no
 * Content-Type at all are accepted; other media types get 415. */
static void
test_post_content_types(void **state)
{
    static const struct {
        const char *type;
        int status;
    } cases[] = {
        {NULL, 0},
        {"application/json", 0},
        {"application/json; charset=utf-8", 0},
        {"APPLICATION/JSON", 0},
        {"text/plain", 0},
        {"text/plain;charset=UTF-8", 0},
        {"application/jsonp", 415},
        {"text/plainx", 415},
        {"text/html", 415},
        {"application/x-www-form-urlencoded", 415},
        {"", 415},
    };
    struct beacon *beacon = beacon_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct crier_http_req req = {
            .method = "POST", .content_type = cases[i].type,
            .body = "{\"visitor\":\"vid-1\"}",
        };

        on_post(beacon, &req);
        if (req.status != cases[i].status)
            fail_msg("Content-Type %s: status %d, expected %d",
                     cases[i].type ? cases[i].type : "(none)", req.status,
                     cases[i].status);
        if (req.status == 0)
            emitted.done(emitted.arg, 0, 1, 0);
    }
    assert_int_equal(emitted.calls, 6);
    beacon_destroy(beacon);
}


static void
test_cors_allowed_origins(void **state)
{
    static const char *const origins[] = {"https://www.example.gov", NULL};
    struct beacon *beacon = beacon_new(origins);
    struct crier_http_req listed = {
        .method = "OPTIONS", .origin = "https://www.example.gov",
    };
    struct crier_http_req other = {
        .method = "OPTIONS", .origin = "https://evil.example",
    };
    struct crier_http_req post = {
        .method = "POST", .origin = "https://evil.example",
        .body = "{\"visitor\":\"vid-1\"}",
    };

    on_preflight(beacon, &listed);
    on_preflight(beacon, &other);
    on_post(beacon, &post);
    assert_int_equal(listed.status, 204);
    assert_non_null(strstr(listed.headers_out, "Access-Control-Allow-Origin: "
                                               "https://www.example.gov\n"));
    assert_non_null(strstr(listed.headers_out,
                           "Access-Control-Allow-Methods: POST\n"));
    assert_non_null(strstr(listed.headers_out, "Vary: Origin\n"));
    assert_int_equal(other.status, 403);
    assert_int_equal(post.status, 403);
    assert_int_equal(emitted.calls, 0);
    beacon_destroy(beacon);
}


static void
test_snippet(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {.method = "GET"};

    on_snippet(beacon, &req);
    assert_int_equal(req.status, 200);
    assert_string_equal(req.type_out, "application/javascript");
    assert_non_null(strstr(req.headers_out, "Cache-Control: max-age=300\n"));
    assert_int_equal(req.body_len, strlen(beacon->snippet));
    assert_true(req.body_len <= 2048);
    assert_non_null(strstr(beacon->snippet, "\"crier_vid\""));
    assert_non_null(strstr(beacon->snippet, "\"/v1/beacon\""));
    assert_non_null(strstr(beacon->snippet, "\"/b.gif?v=\""));
    assert_non_null(strstr(beacon->snippet, "})(window,document,1,0);"));
    beacon_destroy(beacon);
}


static void
test_origin_valid(void **state)
{
    assert_true(origin_valid("*"));
    assert_true(origin_valid("https://www.example.gov"));
    assert_true(origin_valid("http://localhost:8080"));
    assert_false(origin_valid("https://www.example.gov/"));
    assert_false(origin_valid("www.example.gov"));
    assert_false(origin_valid("https://"));
}


static int
config_init(const char *text, struct beacon **beacon)
{
    json_t *config = json_loads(text, 0, NULL);
    void *state = NULL;
    int rc;

    assert_non_null(config);
    config_report[0] = '\0';
    rc = beacon_init(NULL, &fake_host, config, &state);
    json_decref(config);
    *beacon = state;
    return rc;
}


static void
test_config_unknown_setting(void **state)
{
    struct beacon *beacon = NULL;

    assert_int_equal(config_init("{\"plugin\": \"beacon\", "
                                 "\"allowed_origin\": [\"*\"]}", &beacon),
                     CRIER_ECONFIG);
    assert_null(beacon);
    assert_string_equal(config_report, "allowed_origin: unknown setting; "
                        "valid settings are allowed_origins, pages, "
                        "consent, honour_dnt, link_secret and "
                        "max_requests_per_minute");
}


/* max_requests_per_minute is 600 by default, and 0 turns it off. */
static void
test_config_rate_limit(void **state)
{
    struct beacon *beacon = NULL;

    assert_int_equal(config_init("{\"plugin\": \"beacon\"}", &beacon), 0);
    assert_non_null(beacon->limit);
    assert_int_equal(beacon->limit->per_minute, 600);
    beacon_destroy(beacon);

    beacon = NULL;
    assert_int_equal(config_init("{\"max_requests_per_minute\": 0}",
                                 &beacon), 0);
    assert_null(beacon->limit);
    beacon_destroy(beacon);

    beacon = NULL;
    assert_int_equal(config_init("{\"max_requests_per_minute\": -1}",
                                 &beacon), CRIER_ECONFIG);
    assert_null(beacon);
    assert_string_equal(config_report, "max_requests_per_minute: must be a "
                        "whole number from 0 (no limit) to 1000000");
}


static void
test_config_privacy(void **state)
{
    struct beacon *beacon = NULL;

    assert_int_equal(config_init("{\"plugin\": \"beacon\"}", &beacon), 0);
    assert_true(beacon->consent_required);
    assert_false(beacon->honour_dnt);
    assert_null(beacon->link_secret);
    assert_non_null(strstr(beacon->snippet, "})(window,document,1,0);"));
    beacon_destroy(beacon);

    assert_int_equal(config_init("{\"consent\": \"assumed\", "
                                 "\"honour_dnt\": true, "
                                 "\"link_secret\": \"s3\"}", &beacon), 0);
    assert_false(beacon->consent_required);
    assert_true(beacon->honour_dnt);
    assert_string_equal(beacon->link_secret, "s3");
    assert_non_null(strstr(beacon->snippet, "})(window,document,0,1);"));
    beacon_destroy(beacon);

    assert_int_equal(config_init("{\"consent\": \"maybe\"}", &beacon),
                     CRIER_ECONFIG);
    assert_non_null(strstr(config_report, "consent: must be \"required\""));
    assert_int_equal(config_init("{\"honour_dnt\": \"yes\"}", &beacon),
                     CRIER_ECONFIG);
    assert_string_equal(config_report, "honour_dnt: must be true or false");
    assert_int_equal(config_init("{\"link_secret\": \"\"}", &beacon),
                     CRIER_ECONFIG);
    assert_non_null(strstr(config_report, "link_secret: must be a "
                                          "non-empty string"));
}


/* Each class of the pattern table, and browsers that must stay clear. */
static void
test_bot_classify(void **state)
{
    static const struct {
        const char *user_agent;
        const char *class;
    } cases[] = {
        {"Mozilla/5.0 (compatible; Googlebot/2.1; "
         "+http://www.google.com/bot.html)", "crawler"},
        {"Mozilla/5.0 (compatible; bingbot/2.0; "
         "+http://www.bing.com/bingbot.htm)", "crawler"},
        {"facebookexternalhit/1.1", "crawler"},
        {"Mozilla/5.0 (compatible; SomeNewBot/0.1)", "crawler"},
        {"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
         "(via ggpht.com GoogleImageProxy)", "mail_proxy"},
        {"Mozilla/5.0", "mail_proxy"},
        {"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy",
         "mail_proxy"},
        {"Mozilla/5.0 zgrab/0.x", "scanner"},
        {"Barracuda Sentinel (EE)", "scanner"},
        {"curl/7.88.1", "script"},
        {"python-requests/2.31.0", "script"},
        {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
         "Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", "script"},
        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36", NULL},
        {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
         "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 "
         "Mobile/15E148 Safari/604.1", NULL},
        {"Mozilla/5.0 (Linux; Android 10; CUBOT X19) AppleWebKit/537.36 "
         "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", NULL},
        {UA, NULL},
        /* Browser versions years old: the form spam of web server logs. */
        {"Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like "
         "Gecko) Chrome/39.0.2171.95 Safari/537.36", "outdated"},
        {"Mozilla/5.0 (Windows NT 5.1; rv:35.0) Gecko/20100101 "
         "Firefox/35.0", "outdated"},
        {"Mozilla/5.0 (Windows NT 6.3; WOW64; Trident/7.0; rv:11.0) like "
         "Gecko", "outdated"},
        {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/600.2.5"
         " (KHTML, like Gecko) Version/8.0.2 Safari/600.2.5", "outdated"},
        {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
         "Firefox/128.0", NULL},
        {"Mozilla/5.0 (X11; Linux x86_64) Chrome/", NULL},
    };
    char error[256];
    struct bot_classifier *bots = bot_classifier_new(error, sizeof(error));

    assert_non_null(bots);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *class = bot_classify(bots, cases[i].user_agent);

        if (cases[i].class == NULL)
            assert_null(class);
        else
            assert_string_equal(class, cases[i].class);
    }
    assert_null(bot_classify(bots, NULL));
    bot_classifier_free(bots);
}


/* A crawler's hit is stored, flagged. */
static void
test_gif_bot_flagged(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req req = {
        .method = "GET", .query = "v=vid-1",
        .user_agent = "Mozilla/5.0 (compatible; Googlebot/2.1)",
    };

    on_gif(beacon, &req);
    assert_int_equal(emitted.calls, 1);
    assert_string_equal(property(emitted.events, "bot"), "crawler");
    emitted.done(emitted.arg, 0, 1, 0);
    assert_int_equal(req.status, 200);
    beacon_destroy(beacon);
}


/* With honour_dnt, DNT: 1 and Sec-GPC: 1 hits get the usual success
 * response and store nothing; without it they are stored. */
static void
test_dnt_honoured(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    struct crier_http_req pixel = {.method = "GET", .query = "v=vid-1",
                                   .dnt = "1"};
    struct crier_http_req post = {
        .method = "POST", .gpc = "1",
        .body = "{\"visitor\": \"vid-1\"}",
    };
    struct crier_http_req stored = {.method = "GET", .query = "v=vid-1",
                                    .dnt = "1"};

    beacon->honour_dnt = 1;
    on_gif(beacon, &pixel);
    assert_int_equal(pixel.status, 200);
    assert_string_equal(pixel.type_out, "image/gif");
    on_post(beacon, &post);
    assert_int_equal(post.status, 202);
    assert_non_null(strstr(post.body_out, "\"accepted\":0"));
    assert_int_equal(emitted.calls, 0);

    beacon->honour_dnt = 0;
    on_gif(beacon, &stored);
    assert_int_equal(emitted.calls, 1);
    beacon_destroy(beacon);
}


/* An identify hit carries the visitor and the email; profile is taken
 * only on type identify and only as {"email": ...}. */
static void
test_json_identify(void **state)
{
    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{\"visitor\": \"v\", \"type\": \"identify\"}", "profile"},
        {"{\"visitor\": \"v\", \"profile\": {\"email\": \"a@b.gov\"}}",
         "profile"},
        {"{\"visitor\": \"v\", \"type\": \"identify\", "
         "\"profile\": {\"email\": \"a@b.gov\", \"phone\": \"+13125550100\"}}",
         "profile"},
        {"{\"visitor\": \"v\", \"type\": \"identify\", "
         "\"profile\": {\"case_id\": \"14-1\"}}", "profile"},
        {"{\"visitor\": \"v\", \"type\": \"identify\", "
         "\"profile\": {\"email\": 7}}", "profile"},
    };
    struct crier_input_error err;
    json_t *body, *event = NULL;

    body = json_loads("{\"visitor\": \"v-1\", \"type\": \"identify\", "
                      "\"profile\": {\"email\": \"Ana@Example.gov\"}}", 0,
                      NULL);
    assert_int_equal(beacon_event_build_json(body, UA, &event, &err), 0);
    assert_string_equal(json_string_value(json_object_get(event, "visitor")),
                        "v-1");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(event, "profile"), "email")),
                        "Ana@Example.gov");
    json_decref(event);
    json_decref(body);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        event = NULL;
        body = json_loads(bad[i].body, 0, NULL);
        assert_non_null(body);
        assert_int_equal(beacon_event_build_json(body, UA, &event, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, bad[i].field);
        assert_null(event);
        json_decref(body);
    }
}


/* A signed click redirects to exactly its URL after the commit; a
 * tampered one gets 400 with no Location and stores nothing. */
static void
test_click_redirect(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    json_t *identity = json_pack("{s:s}", "email", "ana@example.gov");
    char *token, *path, *bad_path;
    struct crier_http_req click = {.method = "GET"};
    struct crier_http_req tampered = {.method = "GET"};
    struct crier_http_req open = {.method = "GET"};
    const json_t *event;

    beacon->link_secret = g_strdup("s3");
    token = link_token_sign("s3", "rule:r/p/1", identity,
                            "https://www.example.gov/recalls?id=7");
    path = g_strconcat("/c/", token, NULL);
    click.path = path;
    on_click(beacon, &click);
    assert_int_equal(emitted.calls, 1);
    assert_int_equal(click.status, 0);
    event = emitted.events;
    assert_string_equal(json_string_value(json_object_get(event, "type")),
                        "email.clicked");
    assert_string_equal(property(event, "message"), "rule:r/p/1");
    assert_string_equal(property(event, "url"),
                        "https://www.example.gov/recalls?id=7");
    emitted.done(emitted.arg, 0, 1, 0);
    assert_int_equal(click.status, 302);
    assert_non_null(strstr(click.headers_out, "Location: "
                           "https://www.example.gov/recalls?id=7\n"));

    /* Flip one character of the signature. */
    bad_path = g_strdup(path);
    bad_path[strlen(bad_path) - 1] =
        bad_path[strlen(bad_path) - 1] == 'A' ? 'B' : 'A';
    tampered.path = bad_path;
    on_click(beacon, &tampered);
    assert_int_equal(tampered.status, 400);
    assert_null(strstr(tampered.headers_out, "Location"));
    assert_int_equal(emitted.calls, 1);

    /* An open pixel's token has no URL to go to. */
    g_free(token);
    g_free(path);
    token = link_token_sign("s3", "rule:r/p/1", identity, NULL);
    path = g_strconcat("/c/", token, NULL);
    open.path = path;
    on_click(beacon, &open);
    assert_int_equal(open.status, 400);
    assert_null(strstr(open.headers_out, "Location"));
    assert_int_equal(emitted.calls, 1);

    g_free(bad_path);
    g_free(path);
    g_free(token);
    json_decref(identity);
    beacon_destroy(beacon);
}


/* GET /b.gif?m={token} stores email.opened for the token's recipient. */
static void
test_gif_open_pixel(void **state)
{
    struct beacon *beacon = beacon_new(NULL);
    json_t *identity = json_pack("{s:s}", "email", "ana@example.gov");
    char *token = link_token_sign("s3", "rule:r/p/1", identity, NULL);
    char *query = g_strconcat("m=", token, NULL);
    struct crier_http_req open = {.method = "GET", .query = query};
    struct crier_http_req forged = {.method = "GET",
                                    .query = "m=e30.AAAA"};
    const json_t *event;

    beacon->link_secret = g_strdup("s3");
    on_gif(beacon, &open);
    assert_int_equal(emitted.calls, 1);
    event = emitted.events;
    assert_string_equal(json_string_value(json_object_get(event, "type")),
                        "email.opened");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(event, "profile"), "email")),
                        "ana@example.gov");
    assert_string_equal(property(event, "message"), "rule:r/p/1");
    emitted.done(emitted.arg, 0, 1, 0);
    assert_int_equal(open.status, 200);

    on_gif(beacon, &forged);
    assert_int_equal(forged.status, 400);
    assert_int_equal(emitted.calls, 1);

    g_free(query);
    g_free(token);
    json_decref(identity);
    beacon_destroy(beacon);
}


/* A folder of pages with a link to a file inside it and links that lead
 * out of it, in a fresh temporary folder. */
struct pages_tree {
    char root[64];
    char pages[96];
};


static void
file_write(const char *folder, const char *name, const char *text)
{
    char *path = g_build_filename(folder, name, NULL);

    assert_true(g_file_set_contents(path, text, -1, NULL));
    g_free(path);
}


static void
link_make(const char *folder, const char *name, const char *target)
{
    char *path = g_build_filename(folder, name, NULL);

    assert_int_equal(symlink(target, path), 0);
    g_free(path);
}


static void
pages_tree_make(struct pages_tree *tree)
{
    char outside[128];

    snprintf(tree->root, sizeof(tree->root), "%s/crier-pages-XXXXXX",
             g_get_tmp_dir());
    assert_non_null(g_mkdtemp(tree->root));
    snprintf(tree->pages, sizeof(tree->pages), "%s/pages", tree->root);
    snprintf(outside, sizeof(outside), "%s/outside", tree->root);
    assert_int_equal(g_mkdir(tree->pages, 0755), 0);
    assert_int_equal(g_mkdir(outside, 0755), 0);
    file_write(outside, "secret.txt", "secret");
    file_write(tree->pages, "index.html", "<p>index</p>");
    file_write(tree->pages, "about.html", "<p>about</p>");
    link_make(tree->pages, "alias.html", "about.html");
    link_make(tree->pages, "leak.txt", "../outside/secret.txt");
    link_make(tree->pages, "docs", "../outside");
}


static int
tree_entry_remove(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    return remove(path);
}


static int
page_get(struct beacon *beacon, const char *path)
{
    struct crier_http_req req = {.method = "GET", .path = path};

    on_page(beacon, &req);
    return req.status;
}


static void
test_pages_symlinks(void **state)
{
    struct pages_tree tree;
    struct beacon *beacon = beacon_new(NULL);

    pages_tree_make(&tree);
    beacon->pages = g_strdup(tree.pages);
    assert_int_equal(page_get(beacon, "/site/"), 200);
    assert_int_equal(page_get(beacon, "/site/about.html"), 200);
    assert_int_equal(page_get(beacon, "/site/alias.html"), 200);
    assert_int_equal(page_get(beacon, "/site/leak.txt"), 404);
    assert_int_equal(page_get(beacon, "/site/docs/secret.txt"), 404);
    assert_int_equal(page_get(beacon, "/site/missing.html"), 404);
    beacon_destroy(beacon);
    assert_int_equal(nftw(tree.root, tree_entry_remove, 8,
                          FTW_DEPTH | FTW_PHYS), 0);
}


/* A folder that is itself reached through a link serves its own files. */
static void
test_pages_folder_link(void **state)
{
    struct pages_tree tree;
    struct beacon *beacon = beacon_new(NULL);
    char *link = NULL;

    pages_tree_make(&tree);
    link = g_build_filename(tree.root, "current", NULL);
    assert_int_equal(symlink("pages", link), 0);
    beacon->pages = link;
    assert_int_equal(page_get(beacon, "/site/about.html"), 200);
    assert_int_equal(page_get(beacon, "/site/leak.txt"), 404);
    beacon_destroy(beacon);
    assert_int_equal(nftw(tree.root, tree_entry_remove, 8,
                          FTW_DEPTH | FTW_PHYS), 0);
}


/* The limit counts per address within one minute of the crier clock. */
static void
test_rate_limit_window(void **state)
{
    struct rate_limit *limit = rate_limit_new(2);
    int64_t minute = 60000 * 1000LL;

    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute), 0);
    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute + 10), 0);
    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute + 1500), 59);
    assert_int_equal(rate_limit_hit(limit, "192.0.2.2", minute + 1500), 0);
    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute + 59999), 1);

    /* The next minute starts a new count. */
    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute + 60000), 0);

    /* A clock that moves back starts a new count too. */
    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute + 60001), 0);
    assert_int_not_equal(rate_limit_hit(limit, "192.0.2.1", minute + 60002),
                         0);
    assert_int_equal(rate_limit_hit(limit, "192.0.2.1", minute - 60000), 0);
    rate_limit_free(limit);
}


/* IPv6 addresses of one /64 share a count. */
static void
test_rate_limit_ipv6_prefix(void **state)
{
    struct rate_limit *limit = rate_limit_new(1);

    assert_int_equal(rate_limit_hit(limit, "2001:db8:1:2::1", 0), 0);
    assert_int_not_equal(rate_limit_hit(limit, "2001:db8:1:2:ffff::9", 0),
                         0);
    assert_int_equal(rate_limit_hit(limit, "2001:db8:1:3::1", 0), 0);
    assert_int_equal(rate_limit_hit(limit, "not an address", 0), 0);
    rate_limit_free(limit);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_percent_and_plus),
        cmocka_unit_test(test_decode_utf8),
        cmocka_unit_test(test_query_visitor_counts_characters),
        cmocka_unit_test(test_decode_bad_escape),
        cmocka_unit_test(test_decode_invalid_bytes),
        cmocka_unit_test(test_param_get),
        cmocka_unit_test(test_param_get_invalid),
        cmocka_unit_test(test_param_names),
        cmocka_unit_test(test_query_event),
        cmocka_unit_test(test_query_event_sparse),
        cmocka_unit_test(test_query_event_errors),
        cmocka_unit_test(test_query_event_undecodable),
        cmocka_unit_test(test_query_event_long_visitor),
        cmocka_unit_test(test_json_event),
        cmocka_unit_test(test_json_event_errors),
        cmocka_unit_test_setup(test_gif_after_commit, reset),
        cmocka_unit_test_setup(test_gif_store_failure, reset),
        cmocka_unit_test_setup(test_gif_without_visitor, reset),
        cmocka_unit_test_setup(test_gif_undecodable, reset),
        cmocka_unit_test_setup(test_gif_head, reset),
        cmocka_unit_test_setup(test_post_after_commit, reset),
        cmocka_unit_test_setup(test_post_bad_input, reset),
        cmocka_unit_test_setup(test_post_content_types, reset),
        cmocka_unit_test_setup(test_cors_allowed_origins, reset),
        cmocka_unit_test(test_snippet),
        cmocka_unit_test(test_origin_valid),
        cmocka_unit_test(test_config_unknown_setting),
        cmocka_unit_test(test_config_privacy),
        cmocka_unit_test(test_bot_classify),
        cmocka_unit_test_setup(test_gif_bot_flagged, reset),
        cmocka_unit_test_setup(test_dnt_honoured, reset),
        cmocka_unit_test(test_json_identify),
        cmocka_unit_test_setup(test_click_redirect, reset),
        cmocka_unit_test_setup(test_gif_open_pixel, reset),
        cmocka_unit_test(test_pages_symlinks),
        cmocka_unit_test(test_pages_folder_link),
        cmocka_unit_test(test_rate_limit_window),
        cmocka_unit_test(test_config_rate_limit),
        cmocka_unit_test(test_rate_limit_ipv6_prefix),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    reset(NULL);
    return failed;
}
