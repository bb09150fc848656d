/*
 * Tests of the webhook channel (plugins/channels/webhook): the signature
 * headers, the pacing of starts and requests in flight, the outcome of
 * each kind of response, the request body and the config checks. The
 * plugin sources are included, so the test needs no built plugin.
 */
#include "../../plugins/triggers/case/signature.c"

#include "../../plugins/channels/webhook/config.c"
#include "../../plugins/channels/webhook/pace.c"
#include "../../plugins/channels/webhook/request.c"
#include "../../plugins/channels/webhook/slot.c"
#include "../../plugins/channels/webhook/webhook.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "testhost.h"

#define SECRET "hook-secret"
#define STAMP INT64_C(1767225600)
#define BODY "{\"message_id\":\"<a1@crier.example.gov>\"}"
/* HMAC-SHA256 of "1767225600." BODY keyed with SECRET, from Python's
 * hmac module. */
#define BODY_DIGEST \
    "f3fb296b37575121da42d81c4bd3796fee88de4485dfe1535b83508b116cc902"


/* Returns the value of header `name` in `list`, or NULL. */
static const char *
header_find(const struct curl_slist *list, const char *name)
{
    size_t len = strlen(name);

    for (; list != NULL; list = list->next)
        if (strncmp(list->data, name, len) == 0 && list->data[len] == ':')
            return list->data + len + 2;
    return NULL;
}


static void
test_sign_known_digest(void **state)
{
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");

    list = webhook_headers_sign(list, SECRET, STAMP, BODY, strlen(BODY),
                                "<a1@crier.example.gov>");
    assert_non_null(list);
    assert_string_equal(header_find(list, "X-Crier-Timestamp"),
                        "1767225600");
    assert_string_equal(header_find(list, "X-Crier-Signature"),
                        "sha256=" BODY_DIGEST);
    assert_string_equal(header_find(list, "X-Crier-Message-Id"),
                        "<a1@crier.example.gov>");
    assert_non_null(header_find(list, "Expect"));
    curl_slist_free_all(list);
}


/* What the channel signs, crier's own inbound check accepts, and with
 * another secret it does not. */
static void
test_sign_inbound_check_accepts(void **state)
{
    const char *secrets[] = { SECRET };
    const char *wrong[] = { "other-secret" };
    struct curl_slist *list = webhook_headers_sign(
        curl_slist_append(NULL, "Expect:"), SECRET, STAMP, BODY,
        strlen(BODY), "<a1@crier.example.gov>");
    struct signed_request request = {
        .timestamp = header_find(list, "X-Crier-Timestamp"),
        .signature = header_find(list, "X-Crier-Signature"),
        .body = BODY,
        .body_len = strlen(BODY),
    };
    struct crier_input_error err;

    assert_int_equal(signature_verify(secrets, 1, 300, STAMP * 1000,
                                      &request, &err), 0);
    assert_int_equal(signature_verify(wrong, 1, 300, STAMP * 1000,
                                      &request, &err), CRIER_EINVAL);
    request.body = "{\"message_id\":\"<a2@crier.example.gov>\"}";
    assert_int_equal(signature_verify(secrets, 1, 300, STAMP * 1000,
                                      &request, &err), CRIER_EINVAL);
    curl_slist_free_all(list);
}


static void
test_pace_in_flight_blocks(void **state)
{
    struct pace pace;

    assert_int_equal(pace_init(&pace, 10, 2), 0);
    assert_int_equal(pace_delay(&pace, 0), 0);
    pace_started(&pace, 0);
    assert_int_equal(pace_delay(&pace, 0), 0);
    pace_started(&pace, 0);
    assert_int_equal(pace_delay(&pace, 5), PACE_BLOCKED);
    pace_finished(&pace);
    assert_int_equal(pace_delay(&pace, 5), 0);
    pace_free(&pace);
}


/* The rate counts starts in the last 1000 ms, whether or not they have
 * finished. */
static void
test_pace_rate_waits(void **state)
{
    struct pace pace;

    assert_int_equal(pace_init(&pace, 3, 10), 0);
    pace_started(&pace, 0);
    pace_started(&pace, 100);
    pace_started(&pace, 200);
    pace_finished(&pace);
    pace_finished(&pace);
    pace_finished(&pace);
    assert_int_equal(pace_delay(&pace, 300), 700);
    assert_int_equal(pace_delay(&pace, 999), 1);
    assert_int_equal(pace_delay(&pace, 1000), 0);
    pace_started(&pace, 1000);
    /* The oldest start is now the one at 100. */
    assert_int_equal(pace_delay(&pace, 1000), 100);
    assert_int_equal(pace_delay(&pace, 1100), 0);
    pace_free(&pace);
}


/*
 * Drives the pacer as the channel does, starting whenever it allows over
 * ten seconds with requests that take 70 ms, and checks every window of
 * 1000 ms after each start.
 */
static void
test_pace_no_window_over_rate(void **state)
{
    enum { RATE = 7, IN_FLIGHT = 3, DURATION_MS = 70, RUN_MS = 10000 };
    static uint64_t starts[RATE * 11];
    uint64_t finish_at[IN_FLIGHT] = { 0 };
    size_t started = 0;
    struct pace pace;

    assert_int_equal(pace_init(&pace, RATE, IN_FLIGHT), 0);
    for (uint64_t now = 0; now < RUN_MS; now++) {
        for (int i = 0; i < IN_FLIGHT; i++) {
            if (finish_at[i] == now && now != 0) {
                pace_finished(&pace);
                finish_at[i] = 0;
            }
        }
        while (pace_delay(&pace, now) == 0) {
            int slot = 0;

            while (finish_at[slot] != 0)
                slot++;
            assert_true(slot < IN_FLIGHT);
            finish_at[slot] = now + DURATION_MS;
            pace_started(&pace, now);
            assert_true(started < G_N_ELEMENTS(starts));
            starts[started++] = now;
        }
    }
    for (size_t i = 0; i < started; i++) {
        size_t in_window = 0;

        for (size_t j = i; j < started && starts[j] < starts[i] + 1000; j++)
            in_window++;
        assert_true(in_window <= RATE);
    }
    /* The rate is used in full: RATE in each of the ten seconds. */
    assert_int_equal(started, RATE * 10);
    pace_free(&pace);
}


static void
classify(CURLcode result, long status, const char *retry_after,
         const char *body, struct crier_send_result *r, char *detail,
         size_t size)
{
    GString *response = g_string_new(body);

    webhook_response_classify(result, status, retry_after, "", response,
                            STAMP, r, detail, size);
    g_string_free(response, TRUE);
}


static void
test_response_success(void **state)
{
    struct crier_send_result r;
    char detail[320];

    classify(CURLE_OK, 200, NULL, "", &r, detail, sizeof(detail));
    assert_int_equal(r.outcome, CRIER_SEND_DONE);
    classify(CURLE_OK, 202, NULL, "{}", &r, detail, sizeof(detail));
    assert_int_equal(r.outcome, CRIER_SEND_DONE);
    assert_string_equal(r.detail, "HTTP 202");
}


static void
test_response_temporary(void **state)
{
    static const long statuses[] = { 408, 429, 500, 502, 503, 504, 599 };
    struct crier_send_result r;
    char detail[320];

    for (size_t i = 0; i < G_N_ELEMENTS(statuses); i++) {
        classify(CURLE_OK, statuses[i], NULL, "busy", &r, detail,
                 sizeof(detail));
        assert_int_equal(r.outcome, CRIER_SEND_RETRY);
        assert_int_equal(r.retry_after_ms, 0);
    }
    assert_string_equal(detail, "HTTP 599: busy");

    classify(CURLE_OPERATION_TIMEDOUT, 0, NULL, "", &r, detail,
             sizeof(detail));
    assert_int_equal(r.outcome, CRIER_SEND_RETRY);
    assert_non_null(strstr(r.detail, "request failed"));
    classify(CURLE_COULDNT_CONNECT, 0, NULL, "", &r, detail, sizeof(detail));
    assert_int_equal(r.outcome, CRIER_SEND_RETRY);
}


static void
test_response_retry_after(void **state)
{
    struct crier_send_result r;
    char detail[320];

    classify(CURLE_OK, 429, "7", "", &r, detail, sizeof(detail));
    assert_int_equal(r.retry_after_ms, 7000);
    /* STAMP is Thu, 01 Jan 2026 00:00:00 GMT. */
    classify(CURLE_OK, 503, "Thu, 01 Jan 2026 00:02:00 GMT", "", &r, detail,
             sizeof(detail));
    assert_int_equal(r.retry_after_ms, 120000);
    classify(CURLE_OK, 503, "Wed, 31 Dec 2025 23:00:00 GMT", "", &r, detail,
             sizeof(detail));
    assert_int_equal(r.retry_after_ms, 0);
    classify(CURLE_OK, 503, "9999999999", "", &r, detail, sizeof(detail));
    assert_int_equal(r.retry_after_ms, RETRY_AFTER_MAX_MS);
    classify(CURLE_OK, 503, "soon", "", &r, detail, sizeof(detail));
    assert_int_equal(r.retry_after_ms, 0);
    /* A Retry-After on a permanent response does not make it a retry. */
    classify(CURLE_OK, 400, "5", "", &r, detail, sizeof(detail));
    assert_int_equal(r.outcome, CRIER_SEND_FAIL);
}


static void
test_response_permanent(void **state)
{
    static const long statuses[] = { 301, 400, 401, 403, 404, 410, 422 };
    struct crier_send_result r;
    char detail[320];

    for (size_t i = 0; i < G_N_ELEMENTS(statuses); i++) {
        classify(CURLE_OK, statuses[i], NULL, "", &r, detail,
                 sizeof(detail));
        assert_int_equal(r.outcome, CRIER_SEND_FAIL);
    }
    classify(CURLE_OK, 400, NULL, "{\"error\":\n\"bad subject\"}", &r,
             detail, sizeof(detail));
    assert_string_equal(r.detail, "HTTP 400: {\"error\": \"bad subject\"}");
}


/* Only the first bytes of a long body are quoted, and a UTF-8 sequence
 * cut at the end does not make the detail invalid. */
static void
test_response_body_cut(void **state)
{
    GString *body = g_string_new(NULL);
    struct crier_send_result r;
    char detail[320];

    for (int i = 0; i < WEBHOOK_DETAIL_BODY_MAX - 1; i++)
        g_string_append_c(body, 'x');
    g_string_append(body, "\xc3\xa9 and more text");
    classify(CURLE_OK, 422, NULL, body->str, &r, detail, sizeof(detail));
    assert_true(g_utf8_validate(detail, -1, NULL));
    assert_null(strstr(detail, "more text"));
    assert_int_equal(strncmp(detail, "HTTP 422: xxx", 13), 0);

    /* Invalid bytes become replacement characters, three bytes each. */
    g_string_assign(body, "");
    for (int i = 0; i < WEBHOOK_DETAIL_BODY_MAX; i++)
        g_string_append_c(body, '\xff');
    classify(CURLE_OK, 422, NULL, body->str, &r, detail, sizeof(detail));
    assert_true(g_utf8_validate(detail, -1, NULL));
    assert_non_null(strstr(detail, "\xef\xbf\xbd"));
    g_string_free(body, TRUE);
}


static void
test_body_fields(void **state)
{
    struct crier_message msg = {
        .size = sizeof(struct crier_message),
        .job_id = 42,
        .attempt = 2,
        .key = "rule:case-note/p_1/7",
        .message_id = "<a1@crier.example.gov>",
        .rule = "case-note",
        .to = "https://cases.example.gov/r/1",
        .subject = "Your request",
        .text = "Closed.",
        .profile = "p_1",
    };
    char *text = webhook_body_build(&msg, "cases");
    json_t *body = json_loads(text, 0, NULL);

    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body,
                        "message_id")), "<a1@crier.example.gov>");
    assert_string_equal(json_string_value(json_object_get(body, "key")),
                        "rule:case-note/p_1/7");
    assert_int_equal(json_integer_value(json_object_get(body, "job_id")),
                     42);
    assert_int_equal(json_integer_value(json_object_get(body, "attempt")),
                     2);
    assert_string_equal(json_string_value(json_object_get(body,
                        "channel")), "cases");
    assert_string_equal(json_string_value(json_object_get(body, "profile")),
                        "p_1");
    assert_string_equal(json_string_value(json_object_get(body, "text")),
                        "Closed.");
    assert_true(json_is_null(json_object_get(body, "html")));
    json_decref(body);
    free(text);

    /* A core older than the profile member passes a smaller struct. */
    msg.size = offsetof(struct crier_message, profile);
    text = webhook_body_build(&msg, "cases");
    body = json_loads(text, 0, NULL);
    assert_true(json_is_null(json_object_get(body, "profile")));
    json_decref(body);
    free(text);
}


/* Runs init on `json` and returns its code; *out is the state or NULL. */
static int
webhook_open(struct testhost *th, const char *json, struct webhook **out)
{
    json_t *config = json_loads(json, 0, NULL);
    void *state = NULL;
    int rc;

    assert_non_null(config);
    th->config_errors[0] = '\0';
    rc = webhook_init(testhost_ctx(th), &th->host, config, &state);
    json_decref(config);
    *out = state;
    return rc;
}


static void
test_config_defaults(void **state)
{
    struct testhost th;
    struct webhook *webhook;

    assert_int_equal(testhost_init(&th, "cases", "/tmp"), 0);
    assert_int_equal(webhook_open(&th, "{\"plugin\": \"webhook\", "
                                  "\"secret\": \"s\"}", &webhook), 0);
    assert_null(webhook->url);
    assert_string_equal(webhook->id_header, "X-Request-Id");
    assert_int_equal(webhook->pace.max_per_second, 5);
    assert_int_equal(webhook->pace.max_in_flight, 2);
    assert_int_equal(webhook->max_waiting, 100);
    assert_int_equal(webhook->timeout_ms, 10000);
    webhook_destroy(webhook);

    assert_int_equal(webhook_open(&th, "{\"url\": \"https://cases.example."
                                  "gov/hooks\", \"secret\": \"s\", "
                                  "\"max_per_second\": 2, "
                                  "\"max_in_flight\": 1, "
                                  "\"max_waiting\": 0, "
                                  "\"timeout_ms\": 500, "
                                  "\"id_header\": \"X-Case-Id\"}",
                                  &webhook), 0);
    assert_string_equal(webhook->url, "https://cases.example.gov/hooks");
    assert_string_equal(webhook->id_header, "X-Case-Id");
    assert_int_equal(webhook->pace.max_per_second, 2);
    assert_int_equal(webhook->pace.max_in_flight, 1);
    assert_int_equal(webhook->max_waiting, 0);
    assert_int_equal(webhook->timeout_ms, 500);
    webhook_destroy(webhook);
    assert_int_equal(testhost_close(&th), 0);
}


static void
test_config_errors(void **state)
{
    static const struct {
        const char *json, *error;
    } cases[] = {
        { "{}", "secret: is missing" },
        { "{\"secret\": \"\"}", "secret: must be a non-empty string" },
        { "{\"secret\": \"s\", \"url\": \"ftp://example.gov\"}",
          "url: \"ftp://example.gov\" must start with http:// or https://" },
        { "{\"secret\": \"s\", \"url\": \"https://u:p@example.gov\"}",
          "url: \"https://u:p@example.gov\" must not contain credentials" },
        { "{\"secret\": \"s\", \"url\": \"not a url\"}",
          "url: \"not a url\" is not a URL" },
        { "{\"secret\": \"s\", \"max_per_second\": 0}",
          "max_per_second: must be a whole number from 1 to 1000" },
        { "{\"secret\": \"s\", \"max_in_flight\": 65}",
          "max_in_flight: must be a whole number from 1 to 64" },
        { "{\"secret\": \"s\", \"max_waiting\": -1}",
          "max_waiting: must be a whole number from 0 to 10000" },
        { "{\"secret\": \"s\", \"timeout_ms\": \"5s\"}",
          "timeout_ms: must be a whole number from 1 to 600000" },
        { "{\"secret\": \"s\", \"id_header\": \"X-Id: 1\"}",
          "id_header: \"X-Id: 1\" is not a header name" },
        { "{\"secret\": \"s\", \"urll\": \"https://example.gov\"}",
          "urll: unknown setting; valid settings are url, secret" },
    };
    struct testhost th;

    assert_int_equal(testhost_init(&th, "cases", "/tmp"), 0);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct webhook *webhook = NULL;

        if (webhook_open(&th, cases[i].json, &webhook) != CRIER_ECONFIG)
            fail_msg("case %zu accepted: %s", i, cases[i].json);
        assert_null(webhook);
        if (strncmp(th.config_errors, cases[i].error,
                    strlen(cases[i].error)) != 0)
            fail_msg("case %zu: got \"%s\"", i, th.config_errors);
    }
    assert_int_equal(testhost_close(&th), 0);
}


/* Without a configured url, a recipient that is not an http(s) URL fails
 * at once, and a stopped channel takes no more messages. */
static int report_count;
static struct crier_send_result report_last;
static char report_detail[256];


static void
on_report(void *arg, const struct crier_send_result *r)
{
    report_count++;
    report_last = *r;
    snprintf(report_detail, sizeof(report_detail), "%s",
             r->detail ? r->detail : "");
}


static void
on_stopped(void *arg)
{
    *(int *) arg = 1;
}


static void
test_send_bad_recipient_fails(void **state)
{
    struct testhost th;
    struct webhook *webhook;
    struct crier_message msg = {
        .size = sizeof(struct crier_message),
        .key = "k", .message_id = "<m@x>", .rule = "r",
        .to = "mailto:ana@example.gov", .subject = "", .text = "t",
    };
    int stopped = 0;

    assert_int_equal(testhost_init(&th, "cases", "/tmp"), 0);
    assert_int_equal(webhook_open(&th, "{\"secret\": \"s\"}", &webhook), 0);
    assert_int_equal(webhook_start(webhook), 0);

    report_count = 0;
    assert_int_equal(webhook_send(webhook, &msg, on_report, NULL), 0);
    assert_int_equal(report_count, 1);
    assert_int_equal(report_last.outcome, CRIER_SEND_FAIL);
    assert_non_null(strstr(report_detail, "mailto:ana@example.gov"));

    webhook_stop(webhook, on_stopped, &stopped);
    assert_int_equal(testhost_run_until(&th, &stopped, 5000), 0);
    msg.to = "https://cases.example.gov/r/1";
    assert_int_equal(webhook_send(webhook, &msg, on_report, NULL),
                     CRIER_ECLOSED);
    webhook_destroy(webhook);
    assert_int_equal(testhost_close(&th), 0);
}


/* A store's pacing slots, faked: each call is recorded, and the test
 * runs its callback later, as the host would on a later loop turn. */
static struct {
    int acquires;
    int releases;
    char name[64];
    unsigned max_per_second;
    unsigned max_in_flight;
    int64_t lease_ms;
    int64_t released_slot;
    crier_pace_cb acquire_done;
    void *acquire_arg;
    crier_pace_cb release_done;
    void *release_arg;
} fake_pace;


static int
fake_pace_acquire(struct crier_ctx *ctx, const char *name,
                  unsigned max_per_second, unsigned max_in_flight,
                  int64_t lease_ms, crier_pace_cb done, void *arg)
{
    fake_pace.acquires++;
    snprintf(fake_pace.name, sizeof(fake_pace.name), "%s", name);
    fake_pace.max_per_second = max_per_second;
    fake_pace.max_in_flight = max_in_flight;
    fake_pace.lease_ms = lease_ms;
    fake_pace.acquire_done = done;
    fake_pace.acquire_arg = arg;
    return 0;
}


static int
fake_pace_release(struct crier_ctx *ctx, const char *name, int64_t slot,
                  crier_pace_cb done, void *arg)
{
    fake_pace.releases++;
    fake_pace.released_slot = slot;
    fake_pace.release_done = done;
    fake_pace.release_arg = arg;
    return 0;
}


/*
 * With shared pacing, a message waits for the store's slot, one request
 * at a time, and max_waiting counts the messages behind it. Stop waits for
 * the acquire under way and gives back the slot it brings.
 */
static void
test_send_waits_for_shared_slot(void **state)
{
    struct testhost th;
    struct webhook *webhook;
    struct crier_message msg = {
        .size = sizeof(struct crier_message),
        .key = "k", .message_id = "<m@x>", .rule = "r",
        .to = "https://cases.example.gov/r/1", .subject = "", .text = "t",
    };
    int stopped = 0;

    memset(&fake_pace, 0, sizeof(fake_pace));
    assert_int_equal(testhost_init(&th, "cases", "/tmp"), 0);
    th.host.pace_acquire = fake_pace_acquire;
    th.host.pace_release = fake_pace_release;
    assert_int_equal(webhook_open(&th, "{\"secret\": \"s\", "
                                  "\"max_per_second\": 7, "
                                  "\"max_in_flight\": 3, "
                                  "\"max_waiting\": 1, "
                                  "\"timeout_ms\": 2000}", &webhook), 0);
    assert_int_equal(webhook_start(webhook), 0);

    report_count = 0;
    assert_int_equal(webhook_send(webhook, &msg, on_report, NULL), 0);
    assert_int_equal(fake_pace.acquires, 1);
    assert_string_equal(fake_pace.name, WEBHOOK_PACE_NAME);
    assert_int_equal(fake_pace.max_per_second, 7);
    assert_int_equal(fake_pace.max_in_flight, 3);
    assert_int_equal(fake_pace.lease_ms, 2000 + WEBHOOK_LEASE_MARGIN_MS);

    /* One message may wait behind the one whose slot is requested, and
     * the next is handed back. No second acquire starts meanwhile. */
    assert_int_equal(webhook_send(webhook, &msg, on_report, NULL), 0);
    assert_int_equal(report_count, 0);
    assert_int_equal(webhook_send(webhook, &msg, on_report, NULL), 0);
    assert_int_equal(report_count, 1);
    assert_int_equal(report_last.outcome, CRIER_SEND_RETRY);
    assert_non_null(strstr(report_detail, "max_waiting"));
    assert_int_equal(fake_pace.acquires, 1);

    /* Stop hands back both queued messages but waits for the acquire. */
    webhook_stop(webhook, on_stopped, &stopped);
    assert_int_equal(report_count, 3);
    assert_int_equal(testhost_run_until(&th, &stopped, 100),
                     CRIER_ETIMEDOUT);

    /* The slot that arrives after stop goes back at once, and stop ends
     * when the store has it. */
    fake_pace.acquire_done(fake_pace.acquire_arg, 0, 42, 0);
    assert_int_equal(fake_pace.releases, 1);
    assert_int_equal(fake_pace.released_slot, 42);
    assert_int_equal(stopped, 0);
    fake_pace.release_done(fake_pace.release_arg, 0, 42, 0);
    assert_int_equal(testhost_run_until(&th, &stopped, 5000), 0);
    assert_int_equal(fake_pace.acquires, 1);
    webhook_destroy(webhook);
    assert_int_equal(testhost_close(&th), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_known_digest),
        cmocka_unit_test(test_sign_inbound_check_accepts),
        cmocka_unit_test(test_pace_in_flight_blocks),
        cmocka_unit_test(test_pace_rate_waits),
        cmocka_unit_test(test_pace_no_window_over_rate),
        cmocka_unit_test(test_response_success),
        cmocka_unit_test(test_response_temporary),
        cmocka_unit_test(test_response_retry_after),
        cmocka_unit_test(test_response_permanent),
        cmocka_unit_test(test_response_body_cut),
        cmocka_unit_test(test_body_fields),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_send_bad_recipient_fails),
        cmocka_unit_test(test_send_waits_for_shared_slot),
    };

    return cmocka_run_group_tests_name("webhook_channel", tests, NULL, NULL);
}
