/*
 * Tests of the case trigger's webhook signatures
 * (plugins/triggers/case/signature.c): HMAC-SHA256 over the timestamp, a
 * '.' and the raw body, a tolerance window in both directions, strict
 * header forms and a comparison that reads every byte. The route handler
 * and the config of case.c are driven through a fake host table that
 * records responses and holds back the store's commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

/* Counts the bytes that signature_equal reads. */
static int compare_reads;
#define SIGNATURE_PROBE() (compare_reads++)

#include "../../plugins/triggers/case/signature.c"

#include "../../plugins/triggers/case/case.c"
#include "../../plugins/triggers/case/case_event.c"
#include "../../plugins/triggers/case/generic.c"
#include "../../plugins/triggers/case/mapping.c"
#include "../../plugins/triggers/case/open311.c"
#include "../../plugins/triggers/case/pointer.c"
#include "../../plugins/triggers/case/poll.c"

#include "ingest/ingest.h"

#define SECRET "change-me-too"
#define NOW_MS 1767225600000LL
#define NOW "1767225600"
#define BODY "{\"service_request_id\":\"14-00684314\"}"
#define TOLERANCE_S 300

static const char *const ONE_SECRET[] = {SECRET};

/* HMAC-SHA256 of NOW "." BODY keyed with SECRET, from `openssl dgst
 * -sha256 -hmac`. */
#define BODY_DIGEST \
    "30b41945e9be6d8cf9c12e1634ca881d3f55edb7c644d102da98a66d2dcdbe6f"


/* Writes "sha256=<hex>" for `timestamp` and BODY signed with `secret`. */
static void
sign(const char *secret, const char *timestamp, char *header, size_t size)
{
    char hex[SIGNATURE_HEX_LEN + 1];

    signature_compute(secret, timestamp, BODY, strlen(BODY), hex);
    snprintf(header, size, "sha256=%s", hex);
}


static int
verify(const char *timestamp, const char *signature,
       struct crier_input_error *err)
{
    struct signed_request request = {
        .timestamp = timestamp,
        .signature = signature,
        .body = BODY,
        .body_len = strlen(BODY),
    };

    const char *secrets[] = {SECRET};

    return signature_verify(secrets, 1, TOLERANCE_S, NOW_MS, &request, err);
}


/* Signs a timestamp `offset_s` seconds from NOW and verifies it. */
static int
verify_at(long offset_s, struct crier_input_error *err)
{
    char timestamp[24], header[80];

    snprintf(timestamp, sizeof(timestamp), "%lld",
             NOW_MS / 1000 + offset_s);
    sign(SECRET, timestamp, header, sizeof(header));
    return verify(timestamp, header, err);
}


static void
test_compute_known_digest(void **state)
{
    char hex[SIGNATURE_HEX_LEN + 1];

    signature_compute(SECRET, NOW, BODY, strlen(BODY), hex);
    assert_string_equal(hex, BODY_DIGEST);
}


static void
test_verify_good(void **state)
{
    struct crier_input_error err;

    assert_int_equal(verify(NOW, "sha256=" BODY_DIGEST, &err), 0);
}


static void
test_verify_wrong_secret(void **state)
{
    struct crier_input_error err;
    char header[80];

    sign("another-secret", NOW, header, sizeof(header));
    assert_int_equal(verify(NOW, header, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Signature");
    assert_non_null(strstr(err.message, "does not match"));
}


/* Any secret of a rotation verifies, and each one is compared in full. */
static void
test_verify_rotation(void **state)
{
    static const char *const secrets[] = {"new-secret", SECRET};
    struct crier_input_error err;
    struct signed_request request = {
        .timestamp = NOW, .body = BODY, .body_len = strlen(BODY),
    };
    char header[80];

    sign("new-secret", NOW, header, sizeof(header));
    request.signature = header;
    compare_reads = 0;
    assert_int_equal(signature_verify(secrets, 2, TOLERANCE_S, NOW_MS,
                                      &request, &err), 0);
    assert_int_equal(compare_reads, 2 * SIGNATURE_HEX_LEN);

    request.signature = "sha256=" BODY_DIGEST;
    compare_reads = 0;
    assert_int_equal(signature_verify(secrets, 2, TOLERANCE_S, NOW_MS,
                                      &request, &err), 0);
    assert_int_equal(compare_reads, 2 * SIGNATURE_HEX_LEN);

    sign("retired-secret", NOW, header, sizeof(header));
    request.signature = header;
    assert_int_equal(signature_verify(secrets, 2, TOLERANCE_S, NOW_MS,
                                      &request, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Signature");
}


static void
test_verify_tampered_body(void **state)
{
    struct crier_input_error err;
    const char *body = "{\"service_request_id\":\"14-00684315\"}";
    struct signed_request request = {
        .timestamp = NOW,
        .signature = "sha256=" BODY_DIGEST,
        .body = body,
        .body_len = strlen(body),
    };

    assert_int_equal(signature_verify(ONE_SECRET, 1, TOLERANCE_S, NOW_MS, &request,
                                      &err), CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Signature");
}


/* A signature made for one timestamp does not cover another. */
static void
test_verify_other_timestamp(void **state)
{
    struct crier_input_error err;

    assert_int_equal(verify("1767225601", "sha256=" BODY_DIGEST, &err),
                     CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Signature");
}


static void
test_verify_missing_signature(void **state)
{
    struct crier_input_error err;

    assert_int_equal(verify(NOW, NULL, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Signature");
    assert_non_null(strstr(err.message, "missing"));
}


static void
test_verify_missing_timestamp(void **state)
{
    struct crier_input_error err;

    assert_int_equal(verify(NULL, "sha256=" BODY_DIGEST, &err),
                     CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Timestamp");
    assert_non_null(strstr(err.message, "missing"));
}


static void
test_verify_stale(void **state)
{
    struct crier_input_error err;

    assert_int_equal(verify_at(-TOLERANCE_S - 1, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Timestamp");
    assert_non_null(strstr(err.message, "301 s old"));
    assert_int_equal(verify_at(-TOLERANCE_S, &err), 0);
}


static void
test_verify_future(void **state)
{
    struct crier_input_error err;

    assert_int_equal(verify_at(TOLERANCE_S + 1, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "X-Crier-Timestamp");
    assert_non_null(strstr(err.message, "301 s in the future"));
    assert_int_equal(verify_at(TOLERANCE_S, &err), 0);
}


/* crier's clock has milliseconds and the timestamp whole seconds, so the
 * reported difference keeps its fraction instead of rounding into the
 * tolerance. */
static void
test_verify_skew_exact(void **state)
{
    struct crier_input_error err;
    struct signed_request request = {.body = BODY, .body_len = strlen(BODY)};
    char timestamp[24], header[80];

    snprintf(timestamp, sizeof(timestamp), "%lld",
             NOW_MS / 1000 + TOLERANCE_S + 1);
    sign(SECRET, timestamp, header, sizeof(header));
    request.timestamp = timestamp;
    request.signature = header;
    assert_int_equal(signature_verify(ONE_SECRET, 1, TOLERANCE_S, NOW_MS + 500,
                                      &request, &err), CRIER_EINVAL);
    assert_string_equal(err.message, "is 300.5 s in the future, more than "
                        "the 300 s allowed; check the sender's clock");
    assert_int_equal(signature_verify(ONE_SECRET, 1, TOLERANCE_S, NOW_MS + 999,
                                      &request, &err), CRIER_EINVAL);
    assert_non_null(strstr(err.message, "is 300.001 s in the future"));

    snprintf(timestamp, sizeof(timestamp), "%lld",
             NOW_MS / 1000 - TOLERANCE_S);
    sign(SECRET, timestamp, header, sizeof(header));
    assert_int_equal(signature_verify(ONE_SECRET, 1, TOLERANCE_S, NOW_MS + 250,
                                      &request, &err), CRIER_EINVAL);
    assert_string_equal(err.message, "is 300.25 s old, more than the 300 s "
                        "allowed; sign each request when it is sent");
}


static void
test_verify_malformed_timestamp(void **state)
{
    static const char *const bad[] = {
        "", "-1", "+1767225600", " 1767225600", "1767225600.5", "17e8",
        "1767225600000000",
    };
    struct crier_input_error err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify(bad[i], "sha256=" BODY_DIGEST, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, "X-Crier-Timestamp");
    }
}


static void
test_verify_malformed_hex(void **state)
{
    static const char *const bad[] = {
        /* uppercase */
        "sha256=30B41945E9BE6D8CF9C12E1634CA881D3F55EDB7C644D102DA98A66D2"
        "DCDBE6F",
        /* 63 digits */
        "sha256=30b41945e9be6d8cf9c12e1634ca881d3f55edb7c644d102da98a66d2"
        "dcdbe6",
        /* 65 digits */
        "sha256=" BODY_DIGEST "0",
        /* a 'g' */
        "sha256=g0b41945e9be6d8cf9c12e1634ca881d3f55edb7c644d102da98a66d2"
        "dcdbe6f",
        "sha256=",
    };
    struct crier_input_error err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify(NOW, bad[i], &err), CRIER_EINVAL);
        assert_string_equal(err.field, "X-Crier-Signature");
        assert_non_null(strstr(err.message, "64 lowercase hex digits"));
    }
}


static void
test_verify_wrong_prefix(void **state)
{
    static const char *const bad[] = {
        BODY_DIGEST, "sha1=" BODY_DIGEST, "SHA256=" BODY_DIGEST,
        "sha256:" BODY_DIGEST, " sha256=" BODY_DIGEST,
    };
    struct crier_input_error err;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify(NOW, bad[i], &err), CRIER_EINVAL);
        assert_string_equal(err.field, "X-Crier-Signature");
        assert_non_null(strstr(err.message, "sha256="));
    }
}


static void
test_equal_results(void **state)
{
    char other[] = BODY_DIGEST;

    assert_true(signature_equal(BODY_DIGEST, other, SIGNATURE_HEX_LEN));
    other[0] = '0';
    assert_false(signature_equal(BODY_DIGEST, other, SIGNATURE_HEX_LEN));
    other[0] = BODY_DIGEST[0];
    other[SIGNATURE_HEX_LEN - 1] = '0';
    assert_false(signature_equal(BODY_DIGEST, other, SIGNATURE_HEX_LEN));
}


/* The comparison reads all 64 digits even when the first one differs. */
static void
test_equal_reads_every_byte(void **state)
{
    char other[] = BODY_DIGEST;

    other[0] = '0';
    compare_reads = 0;
    assert_false(signature_equal(BODY_DIGEST, other, SIGNATURE_HEX_LEN));
    assert_int_equal(compare_reads, SIGNATURE_HEX_LEN);
}


/* A wrong signature is rejected through the byte-reading comparison. */
static void
test_verify_uses_equal(void **state)
{
    struct crier_input_error err;
    char header[80];

    sign("another-secret", NOW, header, sizeof(header));
    compare_reads = 0;
    assert_int_equal(verify(NOW, header, &err), CRIER_EINVAL);
    assert_int_equal(compare_reads, SIGNATURE_HEX_LEN);
    compare_reads = 0;
    assert_int_equal(verify(NOW, "sha256=" BODY_DIGEST, &err), 0);
    assert_int_equal(compare_reads, SIGNATURE_HEX_LEN);
}


/* A request as the fake host serves it, and the response it got. */
struct crier_http_req {
    const char *timestamp;
    const char *signature;
    const char *delivery;       /* X-Crier-Delivery, or NULL */
    const char *body;
    int status;                 /* 0 until the handler responds */
    json_t *response;
};

/* What the fake host saw. The test calls `done` to play the commit. */
static struct {
    int emits;
    json_t *events;
    crier_emit_cb done;
    void *arg;
    char config_key[64];
    char config_message[256];
    int notices;                /* log lines at notice level */
    char log_line[512];         /* the last one, "msg fields" */
} seen;


static const char *
fake_header(struct crier_http_req *req, const char *name)
{
    if (strcasecmp(name, SIGNATURE_TIMESTAMP_HEADER) == 0)
        return req->timestamp;
    if (strcasecmp(name, SIGNATURE_HEADER) == 0)
        return req->signature;
    if (strcasecmp(name, DELIVERY_HEADER) == 0)
        return req->delivery;
    return NULL;
}


static const char *
fake_body(struct crier_http_req *req, size_t *len)
{
    *len = strlen(req->body);
    return req->body;
}


static const char *
fake_peer(struct crier_http_req *req)
{
    return "127.0.0.1";
}


static void
fake_respond_json(struct crier_http_req *req, int status, json_t *body)
{
    assert_int_equal(req->status, 0);
    req->status = status;
    req->response = body;
}


/* Validates as the core does, and keeps the batch for the test. */
static int
fake_emit(struct crier_ctx *ctx, json_t *events,
          struct crier_input_error *err, crier_emit_cb done, void *arg)
{
    size_t count = json_array_size(events);

    for (size_t i = 0; i < count; i++) {
        struct normalized_event normalized;
        int rc = event_normalize(json_array_get(events, i), NOW_MS,
                                 &normalized, err);

        if (rc != 0) {
            err->index = (long) i;
            return rc;
        }
        json_decref(normalized.event);
    }
    seen.emits++;
    json_decref(seen.events);
    seen.events = json_incref(events);
    seen.done = done;
    seen.arg = arg;
    return 0;
}


static int64_t
fake_now_ms(struct crier_ctx *ctx)
{
    return NOW_MS;
}


static int
fake_log_enabled(struct crier_ctx *ctx, enum crier_log_level level)
{
    return 1;
}


/* Keeps the last notice line; the other levels are not checked. */
static void
fake_log(struct crier_ctx *ctx, enum crier_log_level level, const char *msg,
         const char *fields_fmt, ...)
{
    size_t used;
    va_list ap;

    if (level != CRIER_LOG_NOTICE)
        return;
    seen.notices++;
    snprintf(seen.log_line, sizeof(seen.log_line), "%s ", msg);
    used = strlen(seen.log_line);
    va_start(ap, fields_fmt);
    vsnprintf(seen.log_line + used, sizeof(seen.log_line) - used,
              fields_fmt, ap);
    va_end(ap);
}


static void
fake_config_error(struct crier_ctx *ctx, const char *key, const char *fmt,
                  ...)
{
    va_list ap;

    snprintf(seen.config_key, sizeof(seen.config_key), "%s", key);
    va_start(ap, fmt);
    vsnprintf(seen.config_message, sizeof(seen.config_message), fmt, ap);
    va_end(ap);
}


static uv_loop_t *
fake_loop(struct crier_ctx *ctx)
{
    return uv_default_loop();
}


static const struct crier_host fake_host = {
    .size = sizeof(struct crier_host),
    .log_enabled = fake_log_enabled,
    .log = fake_log,
    .config_error = fake_config_error,
    .loop = fake_loop,
    .now_ms = fake_now_ms,
    .req_header = fake_header,
    .req_body = fake_body,
    .req_peer = fake_peer,
    .respond_json = fake_respond_json,
    .emit = fake_emit,
};


static int
reset(void **state)
{
    json_decref(seen.events);
    memset(&seen, 0, sizeof(seen));
    return 0;
}


/* Starts a trigger from a config given as JSON text. */
static int
trigger_init(const char *config_text, struct case_trigger **trigger)
{
    json_t *config = json_loads(config_text, 0, NULL);
    void *state = NULL;
    int rc;

    assert_non_null(config);
    rc = case_init(NULL, &fake_host, config, &state);
    json_decref(config);
    *trigger = state;
    return rc;
}


/* Posts `body` signed with SECRET at NOW to a fresh trigger. */
static void
post_signed(const char *body, struct crier_http_req *req)
{
    struct case_trigger *trigger;
    char hex[SIGNATURE_HEX_LEN + 1];
    static char header[80];

    assert_int_equal(trigger_init("{\"path\": \"/hooks/case\", "
                                  "\"secret\": \"" SECRET "\"}", &trigger),
                     0);
    signature_compute(SECRET, NOW, body, strlen(body), hex);
    snprintf(header, sizeof(header), "sha256=%s", hex);
    req->timestamp = NOW;
    req->signature = header;
    req->body = body;
    on_case(trigger, req);
    case_destroy(trigger);
}


static const char *
response_string(const struct crier_http_req *req, const char *key)
{
    return json_string_value(json_object_get(req->response, key));
}


/* Returns the dedupe id of event `i` of the last emitted batch. */
static const char *
emitted_id(size_t i)
{
    return json_string_value(json_object_get(json_array_get(seen.events, i),
                                             "id"));
}


/* An update without a time gets its id from the delivery header, and an
 * event with a time keeps its content id. */
static void
test_route_delivery_ids(void **state)
{
    const char *body = "[{\"case\": {\"id\": \"C-1\"}, \"event\": "
                       "\"case.updated\"}, {\"service_request_id\": "
                       "\"14-1\", \"requested_datetime\": "
                       "\"2014-05-09T19:02:21-05:00\"}]";
    struct crier_http_req req = {.delivery = "d-8f14e45f"};

    post_signed(body, &req);
    assert_int_equal(seen.emits, 1);
    assert_string_equal(emitted_id(0), "delivery/d-8f14e45f/0");
    assert_non_null(emitted_id(1));
    assert_int_equal(strncmp(emitted_id(1), "14-1/case.opened/", 17), 0);
    reset(NULL);

    req = (struct crier_http_req) {.delivery = NULL};
    post_signed(body, &req);
    assert_int_equal(seen.emits, 1);
    assert_null(emitted_id(0));
}


static void
test_route_delivery_invalid(void **state)
{
    struct crier_http_req req = {.delivery = "has space"};

    post_signed(BODY, &req);
    assert_int_equal(req.status, 400);
    assert_string_equal(response_string(&req, "field"), "X-Crier-Delivery");
    assert_int_equal(seen.emits, 0);
    json_decref(req.response);
}


static void
test_route_unsigned(void **state)
{
    struct case_trigger *trigger;
    struct crier_http_req req = {.timestamp = NOW, .body = BODY};

    assert_int_equal(trigger_init("{\"path\": \"/hooks/case\", "
                                  "\"secret\": \"" SECRET "\"}", &trigger),
                     0);
    on_case(trigger, &req);
    assert_int_equal(req.status, 401);
    assert_string_equal(response_string(&req, "field"), "X-Crier-Signature");
    assert_int_equal(seen.emits, 0);
    json_decref(req.response);
    case_destroy(trigger);
}


/* A stale request is rejected even though its signature is right. */
static void
test_route_stale(void **state)
{
    struct case_trigger *trigger;
    char header[80];
    struct crier_http_req req = {
        .timestamp = "1767225000", .signature = header, .body = BODY,
    };

    sign(SECRET, req.timestamp, header, sizeof(header));
    assert_int_equal(trigger_init("{\"path\": \"/hooks/case\", "
                                  "\"secret\": \"" SECRET "\", "
                                  "\"tolerance_s\": 600}", &trigger), 0);
    on_case(trigger, &req);
    assert_int_equal(req.status, 0);
    assert_int_equal(seen.emits, 1);
    case_destroy(trigger);
    reset(NULL);

    assert_int_equal(trigger_init("{\"path\": \"/hooks/case\", "
                                  "\"secret\": \"" SECRET "\"}", &trigger),
                     0);
    on_case(trigger, &req);
    assert_int_equal(req.status, 401);
    assert_string_equal(response_string(&req, "field"), "X-Crier-Timestamp");
    assert_int_equal(seen.emits, 0);
    json_decref(req.response);
    case_destroy(trigger);
}


/* The 202 goes out only once the store has committed the events. */
static void
test_route_after_commit(void **state)
{
    struct crier_http_req req = {0};

    post_signed("{\"service_request_id\": \"14-00684314\", "
                "\"status\": \"closed\", "
                "\"updated_datetime\": \"2015-10-10T10:15:40-05:00\"}",
                &req);
    assert_int_equal(seen.emits, 1);
    assert_int_equal(req.status, 0);
    seen.done(seen.arg, 0, 0, 1);
    assert_int_equal(req.status, 202);
    assert_int_equal(json_integer_value(json_object_get(req.response,
                                                        "accepted")), 0);
    assert_int_equal(json_integer_value(json_object_get(req.response,
                                                        "duplicates")), 1);
    json_decref(req.response);
}


static void
test_route_store_failure(void **state)
{
    struct crier_http_req req = {0};

    post_signed("{\"case\": {\"id\": \"C-1\"}}", &req);
    seen.done(seen.arg, CRIER_EIO, 0, 0);
    assert_int_equal(req.status, 503);
    json_decref(req.response);
}


static void
test_route_bad_body(void **state)
{
    struct crier_http_req not_json = {0}, unknown = {0}, invalid = {0};

    post_signed("{\"service_request_id\": ", &not_json);
    post_signed("{\"id\": \"14-00684314\"}", &unknown);
    post_signed("[{\"service_request_id\": \"1\"}, "
                "{\"service_request_id\": \"2\", \"email\": \"x\"}]",
                &invalid);
    assert_int_equal(seen.emits, 0);
    assert_int_equal(not_json.status, 400);
    assert_non_null(strstr(response_string(&not_json, "error"),
                           "invalid JSON"));
    assert_int_equal(unknown.status, 400);
    assert_string_equal(response_string(&unknown, "field"),
                        "service_request_id");
    assert_int_equal(invalid.status, 400);
    assert_string_equal(response_string(&invalid, "field"), "profile.email");
    assert_int_equal(json_integer_value(json_object_get(invalid.response,
                                                        "index")), 1);
    json_decref(not_json.response);
    json_decref(unknown.response);
    json_decref(invalid.response);
}


/* The core numbers the events it checks, but a single case was not sent
 * as an array, so its error has a null index. */
static void
test_route_single_body_index(void **state)
{
    struct crier_http_req single = {0}, generic = {0};

    post_signed("{\"service_request_id\": \"2\", \"email\": \"x\"}",
                &single);
    post_signed("{\"case\": {\"id\": \"C-1\"}, "
                "\"person\": {\"email\": \"x\"}}", &generic);
    assert_int_equal(seen.emits, 0);
    assert_int_equal(single.status, 400);
    assert_string_equal(response_string(&single, "field"), "profile.email");
    assert_true(json_is_null(json_object_get(single.response, "index")));
    assert_int_equal(generic.status, 400);
    assert_string_equal(response_string(&generic, "field"), "profile.email");
    assert_true(json_is_null(json_object_get(generic.response, "index")));
    json_decref(single.response);
    json_decref(generic.response);
}


/* Rejections are logged at notice level, one line per 10 s at most, with
 * the count of those not logged, and never the body or the signature. */
static void
test_route_reject_log_limited(void **state)
{
    struct case_trigger *trigger;
    struct crier_http_req req[3] = {
        {.timestamp = NOW, .signature = "sha256=" BODY_DIGEST,
         .body = "{\"service_request_id\": \"SECRET-BODY\"}"},
        {.timestamp = NOW, .body = BODY},
        {.timestamp = NOW, .body = BODY},
    };

    assert_int_equal(trigger_init("{\"path\": \"/hooks/case\", "
                                  "\"secret\": \"" SECRET "\"}", &trigger),
                     0);
    on_case(trigger, &req[0]);
    assert_int_equal(req[0].status, 401);
    assert_int_equal(seen.notices, 1);
    assert_non_null(strstr(seen.log_line, "case webhook rejected "));
    assert_non_null(strstr(seen.log_line, "status=401"));
    assert_non_null(strstr(seen.log_line, "peer=127.0.0.1"));
    assert_non_null(strstr(seen.log_line, "does not match"));
    assert_non_null(strstr(seen.log_line, "unlogged=0"));
    assert_null(strstr(seen.log_line, "SECRET-BODY"));
    assert_null(strstr(seen.log_line, BODY_DIGEST));

    on_case(trigger, &req[1]);
    assert_int_equal(req[1].status, 401);
    assert_int_equal(seen.notices, 1);

    /* Move the last line back by one interval, as if it had passed. */
    trigger->reject_logged_ms -= REJECT_LOG_INTERVAL_MS;
    on_case(trigger, &req[2]);
    assert_int_equal(seen.notices, 2);
    assert_non_null(strstr(seen.log_line, "unlogged=1"));
    assert_non_null(strstr(seen.log_line, "field=X-Crier-Signature"));
    for (size_t i = 0; i < 3; i++)
        json_decref(req[i].response);
    case_destroy(trigger);
}


/* jansson's message can quote the body: the sender gets it, the log does
 * not. */
static void
test_route_invalid_json_log(void **state)
{
    struct crier_http_req req = {0};

    post_signed("{\"service_request_id\": SECRET-BODY}", &req);
    assert_int_equal(req.status, 400);
    assert_non_null(strstr(response_string(&req, "error"), "invalid JSON"));
    assert_int_equal(seen.notices, 1);
    assert_non_null(strstr(seen.log_line, "invalid JSON at line 1"));
    assert_null(strstr(seen.log_line, "SECRET"));
    json_decref(req.response);
}


static void
test_config_defaults(void **state)
{
    struct case_trigger *trigger;

    assert_int_equal(trigger_init("{\"plugin\": \"case\", "
                                  "\"path\": \"/hooks/case\", "
                                  "\"secret\": \"s\"}", &trigger), 0);
    assert_string_equal(trigger->path, "/hooks/case");
    assert_int_equal(trigger->secret_count, 1);
    assert_string_equal(trigger->secrets[0], "s");
    assert_int_equal(trigger->tolerance_s, 300);
    assert_null(trigger->poll);
    case_destroy(trigger);

    /* A trigger that only polls has no route and no secret. */
    assert_int_equal(trigger_init("{\"poll\": {\"url\": "
                                  "\"http://127.0.0.1:9/requests.json\"}}",
                                  &trigger), 0);
    assert_null(trigger->path);
    assert_int_equal(trigger->secret_count, 0);
    assert_non_null(trigger->poll);
    assert_int_equal(trigger->poll->interval_ms, 300000);
    assert_int_equal(trigger->poll->window_ms, 86400000);
    assert_int_equal(trigger->poll->since_ms, -1);
    case_destroy(trigger);
}


static void
test_config_errors(void **state)
{
    static const struct {
        const char *config;
        const char *key;
        const char *message;
    } cases[] = {
        {"{\"secret\": \"s\"}", "path", "is required"},
        {"{\"path\": \"hooks/case\", \"secret\": \"s\"}", "path",
         "must start with '/'"},
        {"{\"path\": 5, \"secret\": \"s\"}", "path", "must be a string"},
        {"{\"path\": \"/hooks case\", \"secret\": \"s\"}", "path",
         "must not contain a space, '?' or '#'"},
        {"{\"path\": \"/hooks?x\", \"secret\": \"s\"}", "path",
         "must not contain a space, '?' or '#'"},
        {"{\"path\": \"/h\"}", "secret", "is required"},
        {"{\"path\": \"/h\", \"secret\": \"\"}", "secret",
         "must not be empty"},
        {"{\"path\": \"/h\", \"secret\": true}", "secret",
         "must be a string"},
        {"{\"path\": \"/h\", \"secret\": \"s\", \"tolerance_s\": 0}",
         "tolerance_s", "from 1 to 86400"},
        {"{\"path\": \"/h\", \"secret\": \"s\", \"tolerance_s\": \"5m\"}",
         "tolerance_s", "from 1 to 86400"},
        {"{\"path\": \"/h\", \"secret\": \"s\", \"tolerance\": 60}",
         "tolerance", "unknown setting; valid settings are path, secret, "
         "secrets, tolerance_s, mapping and poll"},
        {"{\"path\": \"/h\", \"secret\": \"s\", \"secrets\": [\"t\"]}",
         "secrets", "must not be set together with secret"},
        {"{\"path\": \"/h\", \"secrets\": []}", "secrets",
         "must be a list of 1 to 4 secrets"},
        {"{\"path\": \"/h\", \"secrets\": [\"a\", \"b\", \"c\", \"d\", "
         "\"e\"]}", "secrets", "must be a list of 1 to 4 secrets"},
        {"{\"path\": \"/h\", \"secrets\": [\"new\", \"\"]}", "secrets.2",
         "must not be empty"},
        {"{\"path\": \"/h\", \"secrets\": \"new\"}", "secrets",
         "must be a list"},
        {"{\"poll\": {\"interval_s\": 60}}", "poll.url", "is required"},
        {"{\"poll\": {\"url\": \"ftp://x/requests.json\"}}", "poll.url",
         "http or https URL"},
        {"{\"poll\": {\"url\": \"http://x/r.json\", \"interval_s\": 0}}",
         "poll.interval_s", "from 1 to 86400"},
        {"{\"poll\": {\"url\": \"http://x/r.json\", \"window_s\": -5}}",
         "poll.window_s", "from 1 to 7776000"},
        {"{\"poll\": {\"url\": \"http://x/r.json\", \"window_s\": "
         "7776001}}", "poll.window_s", "from 1 to 7776000"},
        {"{\"poll\": {\"url\": \"http://x/r.json\", \"since\": "
         "\"2014-05-01\"}}", "poll.since", "RFC 3339"},
        {"{\"poll\": {\"url\": \"http://x/r.json\", \"updated_param\": "
         "\"a b\"}}", "poll.updated_param", "query parameter name"},
        {"{\"poll\": {\"url\": \"http://x/r.json\", \"every\": 5}}",
         "poll.every", "unknown setting"},
        {"{\"poll\": 5}", "poll", "must be a group"},
        {"{\"poll\": {\"url\": \"http://x/r.json\"}, \"secret\": \"s\"}",
         "secret", "applies to webhooks only"},
        {"{\"poll\": {\"url\": \"http://x/r.json\"}, \"tolerance_s\": 9}",
         "tolerance_s", "applies to webhooks only"},
        {"{\"poll\": {\"url\": \"http://x/r.json\"}, \"path\": \"/h\"}",
         "secret", "is required"},
    };
    struct case_trigger *trigger;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        seen.config_key[0] = '\0';
        seen.config_message[0] = '\0';
        assert_int_equal(trigger_init(cases[i].config, &trigger),
                         CRIER_ECONFIG);
        assert_string_equal(seen.config_key, cases[i].key);
        if (strstr(seen.config_message, cases[i].message) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].config,
                     seen.config_message, cases[i].message);
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compute_known_digest),
        cmocka_unit_test(test_verify_good),
        cmocka_unit_test(test_verify_wrong_secret),
        cmocka_unit_test(test_verify_rotation),
        cmocka_unit_test(test_verify_tampered_body),
        cmocka_unit_test(test_verify_other_timestamp),
        cmocka_unit_test(test_verify_missing_signature),
        cmocka_unit_test(test_verify_missing_timestamp),
        cmocka_unit_test(test_verify_stale),
        cmocka_unit_test(test_verify_future),
        cmocka_unit_test(test_verify_skew_exact),
        cmocka_unit_test(test_verify_malformed_timestamp),
        cmocka_unit_test(test_verify_malformed_hex),
        cmocka_unit_test(test_verify_wrong_prefix),
        cmocka_unit_test(test_equal_results),
        cmocka_unit_test(test_equal_reads_every_byte),
        cmocka_unit_test(test_verify_uses_equal),
        cmocka_unit_test_setup(test_route_unsigned, reset),
        cmocka_unit_test_setup(test_route_stale, reset),
        cmocka_unit_test_setup(test_route_after_commit, reset),
        cmocka_unit_test_setup(test_route_store_failure, reset),
        cmocka_unit_test_setup(test_route_bad_body, reset),
        cmocka_unit_test_setup(test_route_single_body_index, reset),
        cmocka_unit_test_setup(test_route_reject_log_limited, reset),
        cmocka_unit_test_setup(test_route_invalid_json_log, reset),
        cmocka_unit_test_setup(test_route_delivery_ids, reset),
        cmocka_unit_test_setup(test_route_delivery_invalid, reset),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_errors),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    reset(NULL);
    return failed;
}
