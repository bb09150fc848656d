/*
 * Sending through the Twilio Messages API: POST {base_url}/2010-04-01/
 * Accounts/{sid}/Messages.json with a form body (To, From or
 * MessagingServiceSid, Body, StatusCallback) and HTTP basic auth. The
 * transfer runs on the core's libcurl multi handle.
 *
 * The response decides the outcome: 2xx is sent, with the message's `sid`
 * as the provider id; 408 and 429 are retried, after Retry-After when
 * given; other 4xx are permanent and carry the provider's `code` and
 * `message`; a connection error, a timeout or a 5xx means the provider is
 * down, and the next provider in the list takes the message, or, after the
 * last one, it is retried (after Retry-After when the last one sent it).
 *
 * crier's message id travels in the StatusCallback URL's query, the one
 * place in this format that the provider keeps with the message and
 * shows back. NOTE: the API has no idempotency key, so a timeout after
 * the provider accepted a message, followed by a retry or a failover,
 * sends it twice (docs/KNOWN_LIMITS.md, "SMS").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sms.h"

#define RESPONSE_MAX (64 * 1024)

struct twilio_send {
    struct sms *sms;
    char *to;
    char *body;
    char *message_id;
    size_t provider;              /* index of the provider being tried */
    CURL *easy;
    GString *response;
    GString *detail;              /* each provider's failure, in order */
    char error[CURL_ERROR_SIZE];
    crier_send_cb done;
    void *arg;
};

static int attempt_start(struct twilio_send *t);


static size_t
on_write(char *data, size_t size, size_t count, void *arg)
{
    struct twilio_send *t = arg;
    size_t n = size * count;

    if (t->response->len + n > RESPONSE_MAX)
        return 0;                     /* ends the transfer with an error */
    g_string_append_len(t->response, data, (gssize) n);
    return n;
}


static void
send_free(struct twilio_send *t)
{
    if (t->easy != NULL)
        curl_easy_cleanup(t->easy);
    if (t->response != NULL)
        g_string_free(t->response, TRUE);
    g_string_free(t->detail, TRUE);
    g_free(t->to);
    g_free(t->body);
    g_free(t->message_id);
    g_free(t);
}


/* Reports the outcome, frees the send and counts the work done. */
static void
send_finish(struct twilio_send *t, const struct crier_send_result *r)
{
    struct sms *sms = t->sms;

    t->done(t->arg, r);
    send_free(t);
    sms_work_done(sms);
}


/* Appends "name=value&" with the value percent-encoded. */
static void
form_add(GString *form, CURL *easy, const char *name, const char *value)
{
    char *escaped = curl_easy_escape(easy, value, 0);

    if (form->len > 0)
        g_string_append_c(form, '&');
    g_string_append_printf(form, "%s=%s", name, escaped ? escaped : "");
    curl_free(escaped);
}


static char *
form_build(struct twilio_send *t, const struct sms_provider *p)
{
    struct sms *sms = t->sms;
    GString *form = g_string_new(NULL);

    form_add(form, t->easy, "To", t->to);
    if (p->from != NULL)
        form_add(form, t->easy, "From", p->from);
    else
        form_add(form, t->easy, "MessagingServiceSid",
                 p->messaging_service_sid);
    form_add(form, t->easy, "Body", t->body);
    if (sms->status_url != NULL) {
        char *id = curl_easy_escape(t->easy, t->message_id, 0);
        char *url = g_strdup_printf("%s?message_id=%s", sms->status_url,
                                    id ? id : "");

        form_add(form, t->easy, "StatusCallback", url);
        g_free(url);
        curl_free(id);
    }
    return g_string_free(form, FALSE);
}


static int
easy_setup(struct twilio_send *t, const struct sms_provider *p)
{
    struct sms *sms = t->sms;
    char *form;
    CURLcode rc = CURLE_OK;

    t->easy = curl_easy_init();
    if (t->easy == NULL)
        return CRIER_ENOMEM;
    form = form_build(t, p);

    /* libcurl copies every string option, COPYPOSTFIELDS the body too. */
#define SET(option, value)                                                  \
    do {                                                                    \
        if (rc == CURLE_OK)                                                 \
            rc = curl_easy_setopt(t->easy, option, value);                  \
    } while (0)
    SET(CURLOPT_URL, p->messages_url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_POSTFIELDSIZE, (long) strlen(form));
    SET(CURLOPT_COPYPOSTFIELDS, form);
    SET(CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
    SET(CURLOPT_USERNAME, p->account_sid);
    SET(CURLOPT_PASSWORD, p->auth_token);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_ERRORBUFFER, t->error);
    SET(CURLOPT_TIMEOUT_MS, sms->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, sms->connect_timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_USERAGENT, "crier-sms/0.1");
#undef SET
    g_free(form);
    return rc == CURLE_OK ? 0 : CRIER_EINVAL;
}


/* Adds "provider N: <what>" to the detail kept for the job. */
static void CRIER_PRINTF(2, 3)
detail_add(struct twilio_send *t, const char *fmt, ...)
{
    va_list ap;

    if (t->detail->len > 0)
        g_string_append(t->detail, "; ");
    if (t->sms->provider_count > 1)
        g_string_append_printf(t->detail, "provider %zu: ", t->provider + 1);
    va_start(ap, fmt);
    g_string_append_vprintf(t->detail, fmt, ap);
    va_end(ap);
}


/* Describes an error response from its JSON `code` and `message`. */
static void
error_describe(struct twilio_send *t, long status)
{
    json_t *response = json_loadb(t->response->str, t->response->len, 0,
                                  NULL);
    json_t *code = json_object_get(response, "code");
    const char *message = json_string_value(json_object_get(response,
                                                            "message"));

    if (json_is_integer(code))
        detail_add(t, "HTTP %ld, error %lld: %s", status,
                   (long long) json_integer_value(code),
                   message ? message : "(no message)");
    else
        detail_add(t, "HTTP %ld: %.200s", status, message ? message
                   : t->response->str);
    json_decref(response);
}


/* Reports a sent message with the provider's `sid`. */
static void
sent_report(struct twilio_send *t, long status)
{
    json_t *response = json_loadb(t->response->str, t->response->len, 0,
                                  NULL);
    const char *sid = json_string_value(json_object_get(response, "sid"));
    const char *state = json_string_value(json_object_get(response,
                                                         "status"));
    struct crier_send_result r = { .outcome = CRIER_SEND_DONE };

    detail_add(t, "HTTP %ld, status %s", status, state ? state : "unknown");
    if (sid == NULL)
        g_string_append(t->detail, ", but the response had no sid");
    r.provider_id = sid;
    r.detail = t->detail->str;
    send_finish(t, &r);
    json_decref(response);
}


/* Moves to the next provider; returns nonzero when there was one. */
static int
failover(struct twilio_send *t)
{
    struct sms *sms = t->sms;

    if (t->provider + 1 >= sms->provider_count)
        return 0;
    sms_error_log(sms, "SMS provider down; trying the next one",
                  "provider=%s detail=\"%s\"",
                  sms->providers[t->provider].base_url, t->detail->str);
    curl_easy_cleanup(t->easy);
    t->easy = NULL;
    g_string_truncate(t->response, 0);
    t->error[0] = '\0';
    t->provider++;
    if (attempt_start(t) != 0) {
        struct crier_send_result r = {
            .outcome = CRIER_SEND_RETRY,
            .detail = "the next SMS provider could not be tried",
        };

        send_finish(t, &r);
    }
    return 1;
}


static void
on_transfer(void *arg, CURL *easy, CURLcode result)
{
    struct twilio_send *t = arg;
    struct crier_send_result r = { .outcome = CRIER_SEND_RETRY };
    long status = 0;
    curl_off_t retry_after = 0;

    if (result != CURLE_OK) {
        detail_add(t, "%s%s%s", curl_easy_strerror(result),
                   t->error[0] ? ": " : "", t->error);
        if (failover(t))
            return;
        sms_error_log(t->sms, "SMS delivery failed; it will be retried",
                      "detail=\"%s\"", t->detail->str);
        r.detail = t->detail->str;
        send_finish(t, &r);
        return;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);

    if (status >= 200 && status < 300) {
        sent_report(t, status);
        return;
    }
    error_describe(t, status);
    if (status >= 500 && failover(t))
        return;
    if (status >= 400 && status < 500 && status != 408 && status != 429)
        r.outcome = CRIER_SEND_FAIL;
    else
        r.retry_after_ms = (int64_t) retry_after * 1000;
    if (r.outcome == CRIER_SEND_RETRY && status >= 500)
        sms_error_log(t->sms, "SMS delivery failed; it will be retried",
                      "detail=\"%s\"", t->detail->str);
    r.detail = t->detail->str;
    send_finish(t, &r);
}


/* Starts the transfer to the current provider. */
static int
attempt_start(struct twilio_send *t)
{
    struct sms *sms = t->sms;
    int rc = easy_setup(t, &sms->providers[t->provider]);

    if (rc != 0)
        return rc;
    return sms->host->transfer_start(sms->ctx, t->easy, on_transfer, t);
}


int
twilio_send(struct sms *sms, const char *to, const char *body,
            const char *message_id, crier_send_cb done, void *arg)
{
    struct twilio_send *t = g_new0(struct twilio_send, 1);
    int rc;

    t->sms = sms;
    t->to = g_strdup(to);
    t->body = g_strdup(body);
    t->message_id = g_strdup(message_id);
    t->response = g_string_new(NULL);
    t->detail = g_string_new(NULL);
    t->done = done;
    t->arg = arg;
    rc = attempt_start(t);
    if (rc != 0) {
        send_free(t);
        return rc;
    }
    sms->in_flight++;
    return 0;
}
