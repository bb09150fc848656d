/*
 * Tests of the beacon trigger (plugins/triggers/beacon/): query string
 * decoding, the mapping of hits to events, and the route handlers driven
 * through a fake host table that records responses and holds back the
 * store's commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "../../plugins/triggers/beacon/beacon.c"
#include "../../plugins/triggers/beacon/hit.c"
#include "../../plugins/triggers/beacon/pages.c"
#include "../../plugins/triggers/beacon/snippet.c"

#include "ingest/ingest.h"

#define UA "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


/* A request as the fake host serves it, and the response it got. */
struct crier_http_req {
    const char *method;
    const char *query;
    const char *body;
    const char *origin;
    const char *content_type;
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
        return UA;
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


static const struct crier_host fake_host = {
    .size = sizeof(struct crier_host),
    .log_enabled = fake_log_enabled,
    .log = fake_log,
    .req_method = fake_method,
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
    char *text = query_decode("a+b%20c%2Bd%2fe", 15);

    assert_string_equal(text, "a b c+d/e");
    g_free(text);
}


static void
test_decode_utf8(void **state)
{
    char *text = query_decode("caf%C3%A9", 9);

    assert_string_equal(text, "caf\xc3\xa9");
    g_free(text);
}


/* A '%' without two hex digits is kept as it is. */
static void
test_decode_bad_escape(void **state)
{
    char *text = query_decode("100%25+%zz%4", 12);

    assert_string_equal(text, "100% %zz%4");
    g_free(text);
}


/* Bytes that are not UTF-8, and NUL, become U+FFFD. */
static void
test_decode_invalid_bytes(void **state)
{
    char *text = query_decode("a%FFb%00c", 9);

    assert_string_equal(text, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
    g_free(text);
}


static void
test_param_get(void **state)
{
    const char *query = "v=abc&u=https%3A%2F%2Fexample.gov%2Fa%3Fb%3D1"
                        "&empty=&flag&ti=Crib+recall";
    char *value = NULL;

    assert_int_equal(query_param_get(query, "v", &value), 0);
    assert_string_equal(value, "abc");
    g_free(value);
    assert_int_equal(query_param_get(query, "u", &value), 0);
    assert_string_equal(value, "https://example.gov/a?b=1");
    g_free(value);
    assert_int_equal(query_param_get(query, "ti", &value), 0);
    assert_string_equal(value, "Crib recall");
    g_free(value);
    assert_int_equal(query_param_get(query, "empty", &value), 0);
    assert_string_equal(value, "");
    g_free(value);
    assert_int_equal(query_param_get(query, "flag", &value), 0);
    assert_string_equal(value, "");
    g_free(value);
    assert_int_equal(query_param_get(query, "r", &value), CRIER_ENOTFOUND);
    assert_int_equal(query_param_get("", "v", &value), CRIER_ENOTFOUND);
}


/* Names match whole and decoded, and the first of repeated names wins. */
static void
test_param_names(void **state)
{
    char *value = NULL;

    assert_int_equal(query_param_get("vv=1&v=2&v=3", "v", &value), 0);
    assert_string_equal(value, "2");
    g_free(value);
    assert_int_equal(query_param_get("%74i=T&&x=1", "ti", &value), 0);
    assert_string_equal(value, "T");
    g_free(value);
    assert_int_equal(query_param_get("t=1", "ti", &value), CRIER_ENOTFOUND);
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
    } cases[] = {
        {"", "v"},
        {"v=&u=x", "v"},
        {"u=https%3A%2F%2Fexample.gov%2F", "v"},
        {"v=a&t=case.closed", "t"},
        {"v=a&t=page+view", "t"},
    };
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        assert_int_equal(beacon_event_build_query(cases[i].query, UA, &event,
                                                  &err), CRIER_EINVAL);
        assert_string_equal(err.field, cases[i].field);
    }
    assert_null(event);
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
    } cases[] = {
        {"{\"type\": \"page_view\"}", "visitor"},
        {"{\"visitor\": 7}", "visitor"},
        {"{\"visitor\": \"\"}", "visitor"},
        {"{\"visitor\": \"a\", \"type\": \"case.closed\"}", "type"},
        {"{\"visitor\": \"a\", \"type\": 3}", "type"},
        {"{\"visitor\": \"a\", \"url\": 3}", "url"},
        {"{\"visitor\": \"a\", \"properties\": []}", "properties"},
        {"{\"visitor\": \"a\", \"ip\": \"192.0.2.1\"}", "ip"},
        {"[]", ""},
    };
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_t *body = json_loads(cases[i].body, 0, NULL);

        assert_non_null(body);
        assert_int_equal(beacon_event_build_json(body, UA, &event, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, cases[i].field);
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
    assert_int_equal(req.body_len, beacon_snippet_len);
    assert_true(beacon_snippet_len < 1024);
    assert_non_null(strstr(beacon_snippet, "\"crier_vid\""));
    assert_non_null(strstr(beacon_snippet, "\"/v1/beacon\""));
    assert_non_null(strstr(beacon_snippet, "\"/b.gif?v=\""));
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


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_percent_and_plus),
        cmocka_unit_test(test_decode_utf8),
        cmocka_unit_test(test_decode_bad_escape),
        cmocka_unit_test(test_decode_invalid_bytes),
        cmocka_unit_test(test_param_get),
        cmocka_unit_test(test_param_names),
        cmocka_unit_test(test_query_event),
        cmocka_unit_test(test_query_event_sparse),
        cmocka_unit_test(test_query_event_errors),
        cmocka_unit_test(test_query_event_long_visitor),
        cmocka_unit_test(test_json_event),
        cmocka_unit_test(test_json_event_errors),
        cmocka_unit_test_setup(test_gif_after_commit, reset),
        cmocka_unit_test_setup(test_gif_store_failure, reset),
        cmocka_unit_test_setup(test_gif_without_visitor, reset),
        cmocka_unit_test_setup(test_gif_head, reset),
        cmocka_unit_test_setup(test_post_after_commit, reset),
        cmocka_unit_test_setup(test_post_bad_input, reset),
        cmocka_unit_test_setup(test_cors_allowed_origins, reset),
        cmocka_unit_test(test_snippet),
        cmocka_unit_test(test_origin_valid),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    reset(NULL);
    return failed;
}
