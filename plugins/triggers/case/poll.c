#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include <crier/error.h>

#include "case_event.h"
#include "open311.h"
#include "poll.h"

#define INTERVAL_DEFAULT_S 300
#define INTERVAL_MAX_S 86400
#define WINDOW_DEFAULT_S 86400

/* GeoReport v2 lets a start_date to end_date range span at most 90 days. */
#define WINDOW_MAX_S (90 * 86400)

/* A response larger than this is dropped as a failed fetch. GeoReport v2
 * returns at most 1000 requests by default, well below it. */
#define RESPONSE_MAX_BYTES (16 * 1024 * 1024)

/* A fetch that takes longer fails and is retried next interval. */
#define FETCH_TIMEOUT_S 30

/* The cursor that contains the end of the last committed window, in
 * milliseconds since the Unix epoch. */
#define CURSOR_NAME "poll"

struct case_poll {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    const struct case_mapping *mapping;
    char *url;
    char *updated_param;        /* such as "updated_after", or NULL */
    int64_t interval_ms;
    int64_t window_ms;
    int64_t since_ms;           /* the first window's start, or -1: now */

    int64_t cursor_ms;          /* end of the last committed window */
    int64_t window_end_ms;      /* end of the window being fetched */
    CURL *easy;
    GString *response;
    struct crier_timer *timer;
    int busy;                   /* a fetch, emit or cursor call runs */
    int stopping;
    crier_stop_cb stop_done;
    void *stop_arg;
};

static void poll_next(struct case_poll *poll, int64_t delay_ms);


/* Reads an optional whole number of seconds from 1 to `max_s`. */
static int
seconds_read(struct case_poll *poll, const json_t *config, const char *name,
             int64_t fallback_s, int64_t max_s, int64_t *ms)
{
    const json_t *value = json_object_get(config, name);
    char key[32];

    *ms = fallback_s * 1000;
    if (value == NULL)
        return 0;
    if (!json_is_integer(value) || json_integer_value(value) < 1 ||
        json_integer_value(value) > max_s) {
        snprintf(key, sizeof(key), "poll.%s", name);
        poll->host->config_error(poll->ctx, key, "must be a whole number "
                                 "of seconds from 1 to %lld",
                                 (long long) max_s);
        return CRIER_ECONFIG;
    }
    *ms = json_integer_value(value) * 1000;
    return 0;
}


/* Checks that every key of `poll` is known. */
static int
keys_check(struct case_poll *poll, const json_t *config)
{
    static const char *const keys[] = {
        "url", "interval_s", "window_s", "since", "updated_param", NULL
    };
    const char *key;
    json_t *value;
    char full[96];

    json_object_foreach((json_t *) config, key, value) {
        size_t i = 0;

        while (keys[i] != NULL && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] != NULL)
            continue;
        snprintf(full, sizeof(full), "poll.%s", key);
        poll->host->config_error(poll->ctx, full, "unknown setting; valid "
                                 "settings are url, interval_s, window_s, "
                                 "since and updated_param");
        return CRIER_ECONFIG;
    }
    return 0;
}


/* Reads `url`, an http or https URL, and `updated_param`, a query
 * parameter name. */
static int
url_read(struct case_poll *poll, const json_t *config)
{
    const char *url = json_string_value(json_object_get(config, "url"));
    const json_t *param = json_object_get(config, "updated_param");

    if (url == NULL || (strncmp(url, "http://", 7) != 0 &&
                        strncmp(url, "https://", 8) != 0)) {
        poll->host->config_error(poll->ctx, "poll.url", "is required: the "
                                 "http or https URL of the Open311 "
                                 "requests, such as \"https://311.example."
                                 "gov/open311/v2/requests.json\"");
        return CRIER_ECONFIG;
    }
    if (param != NULL &&
        (!json_is_string(param) || json_string_length(param) == 0 ||
         strspn(json_string_value(param), "abcdefghijklmnopqrstuvwxyz"
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
             json_string_length(param))) {
        poll->host->config_error(poll->ctx, "poll.updated_param", "must be "
                                 "a query parameter name such as "
                                 "\"updated_after\"");
        return CRIER_ECONFIG;
    }
    poll->url = strdup(url);
    if (param != NULL)
        poll->updated_param = strdup(json_string_value(param));
    return 0;
}


/* Reads `since`, the RFC 3339 start of the first window. */
static int
since_read(struct case_poll *poll, const json_t *config)
{
    const json_t *since = json_object_get(config, "since");
    struct crier_input_error err;
    GDateTime *when;

    poll->since_ms = -1;
    if (since == NULL)
        return 0;
    if (json_is_null(since) ||
        case_time_parse(since, "since", &when, &err) != 0) {
        poll->host->config_error(poll->ctx, "poll.since", "must be an RFC "
                                 "3339 time with an offset, such as "
                                 "\"2014-05-01T00:00:00Z\"");
        return CRIER_ECONFIG;
    }
    poll->since_ms = g_date_time_to_unix(when) * 1000 +
                     g_date_time_get_microsecond(when) / 1000;
    case_time_free(when);
    return 0;
}


int
poll_read(struct crier_ctx *ctx, const struct crier_host *host,
          const json_t *config, struct case_poll **out)
{
    struct case_poll *poll;
    int rc;

    *out = NULL;
    if (!json_is_object(config)) {
        host->config_error(ctx, "poll", "must be a group such as { url = "
                           "\"https://311.example.gov/requests.json\"; "
                           "interval_s = 300; }");
        return CRIER_ECONFIG;
    }
    poll = calloc(1, sizeof(*poll));
    if (poll == NULL)
        return CRIER_ENOMEM;
    poll->ctx = ctx;
    poll->host = host;
    rc = keys_check(poll, config);
    if (rc == 0)
        rc = url_read(poll, config);
    if (rc == 0)
        rc = seconds_read(poll, config, "interval_s", INTERVAL_DEFAULT_S,
                          INTERVAL_MAX_S, &poll->interval_ms);
    if (rc == 0)
        rc = seconds_read(poll, config, "window_s", WINDOW_DEFAULT_S,
                          WINDOW_MAX_S, &poll->window_ms);
    if (rc == 0)
        rc = since_read(poll, config);
    if (rc == 0 && poll->url == NULL)
        rc = CRIER_ENOMEM;
    if (rc != 0) {
        poll_free(poll);
        return rc;
    }
    *out = poll;
    return 0;
}


void
poll_free(struct case_poll *poll)
{
    if (poll == NULL)
        return;
    if (poll->easy != NULL)
        curl_easy_cleanup(poll->easy);
    if (poll->response != NULL)
        g_string_free(poll->response, TRUE);
    free(poll->url);
    free(poll->updated_param);
    free(poll);
}


/* Writes `ms` as an RFC 3339 UTC time to the second, rounded down. */
static void
time_format(int64_t ms, char *buf, size_t size)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm tm;

    gmtime_r(&seconds, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}


/* Ends the current step. A pending stop completes now, and without one
 * the next fetch is scheduled after `delay_ms`. */
static void
step_end(struct case_poll *poll, int64_t delay_ms)
{
    poll->busy = 0;
    if (poll->stopping) {
        if (poll->stop_done != NULL)
            poll->stop_done(poll->stop_arg);
        poll->stop_done = NULL;
        return;
    }
    poll_next(poll, delay_ms);
}


/* Logs a failed fetch or commit and tries the same window again after
 * one interval. The cursor stays where it was, so nothing is lost. */
static void
step_fail(struct case_poll *poll, const char *what, const char *error)
{
    char start[32], end[32];

    time_format(poll->cursor_ms, start, sizeof(start));
    time_format(poll->window_end_ms, end, sizeof(end));
    poll->host->log(poll->ctx, CRIER_LOG_WARN, "case poll failed; retrying "
                    "next interval", "step=%s url=%s start_date=%s "
                    "end_date=%s error=\"%s\" retry_s=%lld", what,
                    poll->url, start, end, error,
                    (long long) (poll->interval_ms / 1000));
    step_end(poll, poll->interval_ms);
}


static void
on_poll_cursor_written(void *arg, int status, int64_t value)
{
    struct case_poll *poll = arg;

    if (status != 0) {
        step_fail(poll, "cursor", crier_strerror(status));
        return;
    }
    poll->cursor_ms = value;

    /* A cursor behind the clock fetches its next window at once, so a
     * backlog is worked off one window after another. */
    step_end(poll, poll->cursor_ms < poll->host->now_ms(poll->ctx)
                       ? 0 : poll->interval_ms);
}


/* Records the window as done. */
static void
cursor_advance(struct case_poll *poll)
{
    int rc = poll->host->cursor_set(poll->ctx, CURSOR_NAME,
                                     poll->window_end_ms, on_poll_cursor_written,
                                     poll);

    if (rc != 0)
        step_fail(poll, "cursor", crier_strerror(rc));
}


static void
on_poll_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct case_poll *poll = arg;
    char end[32];

    if (status != 0) {
        step_fail(poll, "emit", crier_strerror(status));
        return;
    }
    time_format(poll->window_end_ms, end, sizeof(end));
    poll->host->log(poll->ctx, CRIER_LOG_INFO, "case poll committed",
                    "end_date=%s accepted=%zu duplicates=%zu", end, accepted,
                    duplicates);
    cursor_advance(poll);
}


/* Builds the event of one record, through the mapping when there is
 * one. Returns 0, or CRIER_EINVAL with `err` filled. */
static int
record_build(struct case_poll *poll, const json_t *record, json_t **event,
             struct crier_input_error *err)
{
    json_t *events;
    int rc;

    err->index = -1;
    if (poll->mapping == NULL)
        return open311_event_build(record, event, err);
    rc = mapping_events_build(poll->mapping, record, &events, err);
    if (rc == 0) {
        *event = json_incref(json_array_get(events, 0));
        json_decref(events);
    }
    return rc;
}


/* Logs a record that is skipped because it is invalid, with its
 * position in the response and the field at fault. */
static void
record_skip_log(struct case_poll *poll, size_t index,
                const struct crier_input_error *err)
{
    poll->host->log(poll->ctx, CRIER_LOG_WARN, "case poll record skipped",
                    "url=%s index=%zu field=%s error=\"%s\"", poll->url,
                    index, err->field, err->message);
}


/*
 * Emits the events of a response. Invalid records are logged and
 * skipped, because fetching the window again would return them again and
 * hold back every later change.
 */
static void
records_emit(struct case_poll *poll, const json_t *records)
{
    json_t *events = json_array();
    struct crier_input_error err;
    json_t *record, *event;
    size_t i;
    int rc;

    json_array_foreach(records, i, record) {
        if (record_build(poll, record, &event, &err) != 0)
            record_skip_log(poll, i, &err);
        else
            json_array_append_new(events, event);
    }

    /* The core may reject an event that the trigger built; that one is
     * dropped and the rest is sent again. */
    while (json_array_size(events) > 0) {
        rc = poll->host->emit(poll->ctx, events, &err, on_poll_emitted, poll);
        if (rc != CRIER_EINVAL || err.index < 0)
            break;
        record_skip_log(poll, (size_t) err.index, &err);
        json_array_remove(events, (size_t) err.index);
    }
    if (json_array_size(events) == 0)
        cursor_advance(poll);
    else if (rc != 0)
        step_fail(poll, "emit", crier_strerror(rc));
    json_decref(events);
}


/*
 * Parses the body of a finished fetch and emits its records.
 * NOTE: one response is read per window and pages are not followed, so a
 * server that caps its response loses the rest of a busy window (see
 * docs/KNOWN_LIMITS.md, Triggers).
 */
static void
response_handle(struct case_poll *poll, long http_status)
{
    json_error_t json_err;
    json_t *records;
    char error[160];

    if (http_status != 200) {
        snprintf(error, sizeof(error), "HTTP status %ld, expected 200",
                 http_status);
        step_fail(poll, "fetch", error);
        return;
    }
    records = json_loadb(poll->response->str, poll->response->len, 0,
                         &json_err);
    if (!json_is_array(records)) {
        /* The message gives only the position, because jansson's text
         * can quote the body. */
        if (records == NULL)
            snprintf(error, sizeof(error), "invalid JSON at line %d, column "
                     "%d", json_err.line, json_err.column);
        else
            snprintf(error, sizeof(error), "the body is not a JSON array of "
                     "service requests");
        json_decref(records);
        step_fail(poll, "parse", error);
        return;
    }
    records_emit(poll, records);
    json_decref(records);
}


static void
on_poll_fetched(void *arg, CURL *easy, CURLcode result)
{
    struct case_poll *poll = arg;
    long http_status = 0;

    if (result != CURLE_OK) {
        step_fail(poll, "fetch", curl_easy_strerror(result));
        return;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
    response_handle(poll, http_status);
}


/* Keeps the response body, up to RESPONSE_MAX_BYTES. */
static size_t
on_poll_body(char *data, size_t size, size_t count, void *arg)
{
    struct case_poll *poll = arg;
    size_t len = size * count;

    if (poll->response->len + len > RESPONSE_MAX_BYTES)
        return 0;
    g_string_append_len(poll->response, data, (gssize) len);
    return len;
}


/* Returns the URL of the window from the cursor to window_end_ms. */
static char *
window_url(struct case_poll *poll)
{
    char start[32], end[32];
    const char *join = strchr(poll->url, '?') != NULL ? "&" : "?";

    time_format(poll->cursor_ms, start, sizeof(start));
    time_format(poll->window_end_ms, end, sizeof(end));
    if (poll->updated_param != NULL)
        return g_strdup_printf("%s%sstart_date=%s&end_date=%s&%s=%s",
                               poll->url, join, start, end,
                               poll->updated_param, start);
    return g_strdup_printf("%s%sstart_date=%s&end_date=%s", poll->url, join,
                           start, end);
}


/* Prepares the easy handle for one window's fetch. */
static int
fetch_prepare(struct case_poll *poll)
{
    char *url = window_url(poll);

    if (poll->easy == NULL)
        poll->easy = curl_easy_init();
    else
        curl_easy_reset(poll->easy);
    if (poll->response == NULL)
        poll->response = g_string_new(NULL);
    g_string_truncate(poll->response, 0);
    if (poll->easy == NULL) {
        g_free(url);
        return CRIER_ENOMEM;
    }
    curl_easy_setopt(poll->easy, CURLOPT_URL, url);
    curl_easy_setopt(poll->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(poll->easy, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(poll->easy, CURLOPT_TIMEOUT, (long) FETCH_TIMEOUT_S);
    curl_easy_setopt(poll->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(poll->easy, CURLOPT_WRITEFUNCTION, on_poll_body);
    curl_easy_setopt(poll->easy, CURLOPT_WRITEDATA, poll);
    curl_easy_setopt(poll->easy, CURLOPT_USERAGENT, "crier-case-poll");
    g_free(url);
    return 0;
}


/* Fetches the window from the cursor to now, at most window_ms long. */
static void
on_poll_timer(void *arg)
{
    struct case_poll *poll = arg;
    int64_t now = poll->host->now_ms(poll->ctx);
    int rc;

    poll->timer = NULL;
    if (poll->stopping)
        return;
    if (now <= poll->cursor_ms) {
        poll_next(poll, poll->interval_ms);
        return;
    }
    poll->busy = 1;
    poll->window_end_ms = now - poll->cursor_ms > poll->window_ms
                              ? poll->cursor_ms + poll->window_ms : now;
    rc = fetch_prepare(poll);
    if (rc == 0)
        rc = poll->host->transfer_start(poll->ctx, poll->easy, on_poll_fetched,
                                        poll);
    if (rc != 0)
        step_fail(poll, "fetch", crier_strerror(rc));
}


static void
poll_next(struct case_poll *poll, int64_t delay_ms)
{
    poll->timer = poll->host->timer_start(poll->ctx, delay_ms, on_poll_timer,
                                          poll);
    if (poll->timer == NULL)
        poll->host->log(poll->ctx, CRIER_LOG_ERROR, "case poll stopped",
                        "error=%s", crier_strerror(CRIER_ENOMEM));
}


static void
on_poll_cursor_read(void *arg, int status, int64_t value)
{
    struct case_poll *poll = arg;
    char start[32];

    poll->busy = 0;
    if (status != 0) {
        poll->host->log(poll->ctx, CRIER_LOG_WARN, "case poll cursor "
                        "unreadable; retrying next interval", "error=%s",
                        crier_strerror(status));
        step_end(poll, poll->interval_ms);
        return;
    }
    if (value > 0)
        poll->cursor_ms = value;
    else if (poll->since_ms >= 0)
        poll->cursor_ms = poll->since_ms;
    else
        poll->cursor_ms = poll->host->now_ms(poll->ctx);
    time_format(poll->cursor_ms, start, sizeof(start));
    poll->host->log(poll->ctx, CRIER_LOG_INFO, "case poll started",
                    "url=%s start_date=%s interval_s=%lld", poll->url, start,
                    (long long) (poll->interval_ms / 1000));
    step_end(poll, 0);
}


int
poll_start(struct case_poll *poll, const struct case_mapping *mapping)
{
    int rc;

    poll->mapping = mapping;
    if (poll->host->size < offsetof(struct crier_host, cursor_set) +
                               sizeof(poll->host->cursor_set))
        return CRIER_ENOTSUP;
    poll->busy = 1;
    rc = poll->host->cursor_get(poll->ctx, CURSOR_NAME, on_poll_cursor_read, poll);
    if (rc != 0)
        poll->busy = 0;
    return rc;
}


void
poll_stop(struct case_poll *poll, crier_stop_cb done, void *arg)
{
    poll->stopping = 1;
    if (poll->timer != NULL) {
        poll->host->timer_stop(poll->ctx, poll->timer);
        poll->timer = NULL;
    }
    if (!poll->busy) {
        done(arg);
        return;
    }
    poll->stop_done = done;
    poll->stop_arg = arg;
}
