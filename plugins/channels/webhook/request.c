#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signature.h"
#include "webhook.h"

/* A Retry-After longer than this is cut to it, so that a wrong header
 * cannot park a job for weeks. */
#define RETRY_AFTER_MAX_MS INT64_C(86400000)

#define USER_AGENT "crier-webhook/0.1"


char *
webhook_body_build(const struct crier_message *msg, const char *channel)
{
    /* `profile` exists only in cores that pass it (struct size). */
    const char *profile =
        msg->size >= offsetof(struct crier_message, profile) +
                     sizeof(msg->profile) ? msg->profile : NULL;
    json_t *body = json_pack("{s:s, s:s, s:I, s:i, s:s?, s:s?, s:s?, s:s?,"
                             " s:s?, s:s?, s:s?}",
                             "message_id", msg->message_id,
                             "key", msg->key,
                             "job_id", (json_int_t) msg->job_id,
                             "attempt", msg->attempt,
                             "channel", channel,
                             "rule", msg->rule,
                             "profile", profile,
                             "to", msg->to,
                             "subject", msg->subject,
                             "text", msg->text,
                             "html", msg->html);
    char *text;

    if (body == NULL)
        return NULL;
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}


struct curl_slist *
webhook_headers_sign(struct curl_slist *headers, const char *secret,
                     int64_t timestamp, const char *body, size_t body_len,
                     const char *message_id)
{
    char stamp[24], hex[SIGNATURE_HEX_LEN + 1];
    char *lines[3];
    struct curl_slist *list = headers;

    snprintf(stamp, sizeof(stamp), "%lld", (long long) timestamp);
    signature_compute(secret, stamp, body, body_len, hex);
    lines[0] = g_strdup_printf("%s: %s", SIGNATURE_TIMESTAMP_HEADER, stamp);
    lines[1] = g_strdup_printf("%s: %s%s", SIGNATURE_HEADER,
                               SIGNATURE_PREFIX, hex);
    lines[2] = g_strdup_printf("X-Crier-Message-Id: %s", message_id);
    for (size_t i = 0; i < G_N_ELEMENTS(lines) && list != NULL; i++) {
        struct curl_slist *next = curl_slist_append(list, lines[i]);

        if (next == NULL) {
            curl_slist_free_all(list);
            list = NULL;
        } else {
            list = next;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++)
        g_free(lines[i]);
    return list;
}


/*
 * Returns the wait a Retry-After value requests, in milliseconds: whole
 * seconds, or an HTTP date after `now_s`. Returns 0 for a missing or
 * unreadable value, so the outbox's own backoff applies.
 */
static int64_t
retry_after_parse(const char *value, int64_t now_s)
{
    int64_t ms;

    if (value == NULL || value[0] == '\0')
        return 0;
    if (strspn(value, "0123456789") == strlen(value)) {
        if (strlen(value) > 9)
            return RETRY_AFTER_MAX_MS;
        ms = (int64_t) strtoll(value, NULL, 10) * 1000;
    } else {
        time_t when = curl_getdate(value, NULL);

        if (when == -1 || (int64_t) when <= now_s)
            return 0;
        ms = ((int64_t) when - now_s) * 1000;
    }
    return ms < RETRY_AFTER_MAX_MS ? ms : RETRY_AFTER_MAX_MS;
}


/* Writes the first bytes of a response body into `out`, with control
 * characters as spaces, so a job's error stays one readable line. */
static void
body_quote(const GString *response, char *out, size_t size)
{
    size_t len = response ? response->len : 0;
    gchar *valid;

    if (len > WEBHOOK_DETAIL_BODY_MAX)
        len = WEBHOOK_DETAIL_BODY_MAX;
    if (len >= size)
        len = size - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) response->str[i];

        out[i] = c < 0x20 || c == 0x7f ? ' ' : (char) c;
    }
    out[len] = '\0';

    /* The cut may split a UTF-8 sequence, and the replacement characters
     * of invalid bytes are longer than the bytes, so the valid text is
     * cut again where a character starts. */
    valid = g_utf8_make_valid(out, (gssize) len);
    len = strlen(valid);
    if (len >= size) {
        len = size - 1;
        while (len > 0 && ((unsigned char) valid[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(out, valid, len);
    out[len] = '\0';
    g_free(valid);
}


void
webhook_response_classify(CURLcode result, long status,
                        const char *retry_after, const char *curl_error,
                        const GString *response, int64_t now_s,
                        struct crier_send_result *r, char *detail,
                        size_t size)
{
    char quote[WEBHOOK_DETAIL_BODY_MAX + 1];

    memset(r, 0, sizeof(*r));
    r->detail = detail;
    if (result != CURLE_OK) {
        r->outcome = CRIER_SEND_RETRY;
        snprintf(detail, size, "request failed: %s",
                 curl_error != NULL && curl_error[0] != '\0'
                     ? curl_error : curl_easy_strerror(result));
        return;
    }
    body_quote(response, quote, sizeof(quote));
    if (status >= 200 && status <= 299) {
        r->outcome = CRIER_SEND_DONE;
        snprintf(detail, size, "HTTP %ld", status);
        return;
    }
    if (status == 408 || status == 429 || (status >= 500 && status <= 599)) {
        r->outcome = CRIER_SEND_RETRY;
        r->retry_after_ms = retry_after_parse(retry_after, now_s);
    } else {
        /* Redirects are not followed, so a 3xx is as final as a 4xx. */
        r->outcome = CRIER_SEND_FAIL;
    }
    if (quote[0] != '\0')
        snprintf(detail, size, "HTTP %ld: %s", status, quote);
    else
        snprintf(detail, size, "HTTP %ld", status);
}


/* Returns a copy of a header's value with the blanks around it trimmed. */
static char *
header_value(const char *line, size_t len, size_t name_len)
{
    const char *start = line + name_len + 1;
    const char *end = line + len;

    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == '\r' || end[-1] == '\n' ||
                           end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return g_strndup(start, (gsize) (end - start));
}


static int
header_is(const char *line, size_t len, const char *name)
{
    size_t name_len = strlen(name);

    return len > name_len && line[name_len] == ':' &&
           g_ascii_strncasecmp(line, name, name_len) == 0;
}


/* Keeps Retry-After and the provider id header. Headers of an earlier
 * response (a 100 Continue) are replaced by the final one's. */
static size_t
on_header(char *line, size_t size, size_t count, void *arg)
{
    struct webhook_delivery *d = arg;
    size_t len = size * count;
    const char *id_header = d->webhook->id_header;

    if (header_is(line, len, "Retry-After")) {
        g_free(d->retry_after);
        d->retry_after = header_value(line, len, strlen("Retry-After"));
    } else if (header_is(line, len, id_header)) {
        g_free(d->provider_id);
        d->provider_id = header_value(line, len, strlen(id_header));
    }
    return len;
}


/* Keeps the first WEBHOOK_RESPONSE_MAX bytes of the body. The rest is
 * read and dropped, so the connection can be reused. */
static size_t
on_body(char *data, size_t size, size_t count, void *arg)
{
    struct webhook_delivery *d = arg;
    size_t len = size * count;
    size_t room = WEBHOOK_RESPONSE_MAX - d->response->len;

    g_string_append_len(d->response, data, (gssize) (len < room ? len
                                                                 : room));
    return len;
}


/* Returns the "id" string of a JSON object body, or NULL. */
static char *
body_id(const GString *response)
{
    json_t *doc = json_loadb(response->str, response->len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "id"));
    char *copy = id != NULL && id[0] != '\0' && strlen(id) <= 200
                     ? g_strdup(id) : NULL;

    json_decref(doc);
    return copy;
}


static void
on_transfer_done(void *arg, CURL *easy, CURLcode result)
{
    struct webhook_delivery *d = arg;
    struct crier_send_result r;
    char detail[320];
    long status = 0;

    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    webhook_response_classify(result, status, d->retry_after, d->error,
                            d->response, (int64_t) time(NULL), &r, detail,
                            sizeof(detail));
    if (r.outcome == CRIER_SEND_DONE) {
        if (d->provider_id == NULL)
            d->provider_id = body_id(d->response);
        r.provider_id = d->provider_id;
    }
    webhook_delivery_finish(d, &r);
}


#define SET(opt, value)                                                    \
    do {                                                                   \
        if (curl_easy_setopt(d->easy, (opt), (value)) != CURLE_OK)         \
            return CRIER_EINVAL;                                           \
    } while (0)

int
webhook_request_start(struct webhook_delivery *d)
{
    struct webhook *webhook = d->webhook;

    d->easy = curl_easy_init();
    if (d->easy == NULL)
        return CRIER_ENOMEM;
    d->headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (d->headers != NULL)
        d->headers = curl_slist_append(d->headers, "Expect:");
    /* Signed when the request starts, not when it was queued, so the
     * timestamp is fresh however long pacing held the message. The
     * receiver compares it with its own clock, so it is real time, not
     * the crier clock. */
    if (d->headers != NULL)
        d->headers = webhook_headers_sign(d->headers, webhook->secret,
                                          (int64_t) time(NULL), d->body,
                                          d->body_len, d->message_id);
    if (d->headers == NULL)
        return CRIER_ENOMEM;

    SET(CURLOPT_URL, d->url);
#if CURL_AT_LEAST_VERSION(7, 85, 0)
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_HTTPHEADER, d->headers);
    SET(CURLOPT_POSTFIELDS, d->body);
    SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) d->body_len);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    SET(CURLOPT_TIMEOUT_MS, webhook->timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, d);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, d);
    SET(CURLOPT_ERRORBUFFER, d->error);
    return webhook->host->transfer_start(webhook->ctx, d->easy,
                                         on_transfer_done, d);
}
