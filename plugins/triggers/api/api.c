/*
 * The api trigger: POST /v1/events takes one event or {"events": [...]}
 * and responds 202 {"accepted": N, "duplicates": M} once they are on disk.
 * With `tokens` set, a request must carry a bearer token whose SHA-256
 * is one of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <crier/crier.h>

#include "bearer.h"
#include "json_body.h"

struct api {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char **tokens;              /* lowercase hex digests, or NULL: open */
};

/* The host table is one per process; the emit callback, which gets only
 * the request, finds it here. */
static const struct crier_host *api_host;

/* The Retry-After of a 503, in seconds. */
#define RETRY_AFTER_SECONDS "5"


static void
answer_error(const struct crier_host *host, struct crier_http_req *req,
             int status, const char *message, const char *field, long index)
{
    json_t *body = json_pack("{s:s}", "error", message);

    json_object_set_new(body, "field", field && field[0]
                                           ? json_string(field)
                                           : json_null());
    json_object_set_new(body, "index", index >= 0 ? json_integer(index)
                                                  : json_null());
    host->respond_json(req, status, body);
}


static void
on_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct crier_http_req *req = arg;
    const struct crier_host *host = api_host;
    char body[64];
    int n;

    if (status != 0) {
        /* A full disk or a busy store is usually over within seconds. */
        host->resp_header(req, "Retry-After", RETRY_AFTER_SECONDS);
        answer_error(host, req, 503, "the store could not commit the "
                     "events; nothing was stored, retry later", NULL, -1);
        return;
    }
    /* Formatted by hand, because this response goes out for every batch. */
    n = snprintf(body, sizeof(body), "{\"accepted\":%zu,\"duplicates\":%zu}",
                 accepted, duplicates);
    host->respond(req, 202, "application/json", body, (size_t) n);
}


/*
 * Returns the events of a body: {"events": [...]}, a bare array, or one
 * event. Answers 400 and returns NULL for a batch object with other
 * members or a non-array "events".
 */
static json_t *
batch_events(const struct crier_host *host, struct crier_http_req *req,
             json_t *body)
{
    json_t *events = json_object_get(body, "events");
    const char *key;
    json_t *value;

    if (!json_is_object(body) || json_object_get(body, "type") != NULL ||
        events == NULL)
        return body;
    if (!json_is_array(events)) {
        answer_error(host, req, 400, "events must be an array of events",
                     "events", -1);
        return NULL;
    }
    json_object_foreach(body, key, value) {
        char message[160];

        if (strcmp(key, "events") == 0)
            continue;
        snprintf(message, sizeof(message), "%s is not a field of a batch; "
                 "a batch is {\"events\": [...]}", key);
        answer_error(host, req, 400, message, key, -1);
        return NULL;
    }
    return events;
}


/*
 * Returns 1 when the request may send events: no tokens are configured,
 * or its bearer token matches one. Otherwise responds 401 naming the
 * Authorization field and returns 0. The token itself is never logged.
 */
static int
authorized(struct api *api, struct crier_http_req *req)
{
    const struct crier_host *host = api->host;
    const char *header, *token, *message;

    if (api->tokens == NULL)
        return 1;
    header = host->req_header(req, "Authorization");
    token = bearer_token(header);
    if (token != NULL &&
        bearer_token_matches(token, (const char *const *) api->tokens))
        return 1;
    if (header == NULL)
        message = "missing Authorization header: send Authorization: "
                  "Bearer <token>";
    else if (token == NULL)
        message = "the Authorization header must be Bearer <token>";
    else
        message = "invalid bearer token";
    CRIER_LOG(host, api->ctx, CRIER_LOG_INFO, "events request rejected",
              "peer=%s reason=\"%s\"", host->req_peer(req), message);
    host->resp_header(req, "WWW-Authenticate", "Bearer");
    answer_error(host, req, 401, message, "Authorization", -1);
    return 0;
}


static void
on_events(void *arg, struct crier_http_req *req)
{
    struct api *api = arg;
    const struct crier_host *host = api->host;
    struct crier_input_error err;
    json_error_t jerr;
    json_t *body, *events;
    const char *text;
    char message[256];
    size_t len;
    int rc;

    if (!authorized(api, req))
        return;
    text = host->req_body(req, &len);
    body = json_body_load(text, len, 0, &jerr);
    if (body == NULL) {
        snprintf(message, sizeof(message), "invalid JSON at line %d, "
                 "column %d: %s", jerr.line, jerr.column, jerr.text);
        answer_error(host, req, 400, message, NULL, -1);
        return;
    }
    events = batch_events(host, req, body);
    if (events == NULL) {
        json_decref(body);
        return;
    }
    rc = host->emit(api->ctx, events, &err, on_emitted, req);
    json_decref(body);
    if (rc == CRIER_EINVAL) {
        CRIER_LOG(host, api->ctx, CRIER_LOG_DEBUG, "events rejected",
                  "peer=%s field=%s index=%ld", host->req_peer(req),
                  err.field, err.index);
        answer_error(host, req, 400, err.message, err.field, err.index);
    }
    else if (rc == CRIER_ECLOSED)
        answer_error(host, req, 503, "crier is shutting down; retry",
                     NULL, -1);
    else if (rc != 0)
        answer_error(host, req, 500, crier_strerror(rc), NULL, -1);
}


/*
 * Reads `tokens`, a non-empty list of "sha256:<64 hex digits>", into
 * api->tokens as lowercase hex. Returns 0 or CRIER_ECONFIG.
 */
static int
tokens_load(struct api *api, const json_t *tokens)
{
    const struct crier_host *host = api->host;
    size_t n = json_array_size(tokens);

    if (!json_is_array(tokens) || n == 0) {
        host->config_error(api->ctx, "tokens", "must be a non-empty list of "
                           "token digests such as [ \"sha256:<64 hex "
                           "digits>\" ]; remove it to accept events "
                           "without a token");
        return CRIER_ECONFIG;
    }
    api->tokens = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(tokens, i);
        char key[32];

        if (!json_is_string(v) || !bearer_digest_valid(json_string_value(v))) {
            snprintf(key, sizeof(key), "tokens[%zu]", i);
            host->config_error(api->ctx, key, "must be \"sha256:\" and the "
                               "64 hex digits of the token's SHA-256, as "
                               "printed by: printf %%s \"$TOKEN\" | "
                               "sha256sum");
            return CRIER_ECONFIG;
        }
        api->tokens[i] = g_ascii_strdown(json_string_value(v) +
                                         strlen(BEARER_DIGEST_PREFIX), -1);
    }
    return 0;
}


static void
api_destroy(void *state)
{
    struct api *api = state;

    g_strfreev(api->tokens);
    free(api);
}


static int
api_init(struct crier_ctx *ctx, const struct crier_host *host,
         const json_t *config, void **state)
{
    struct api *api = calloc(1, sizeof(*api));
    const char *key;
    json_t *value;

    if (api == NULL)
        return CRIER_ENOMEM;
    api->ctx = ctx;
    api->host = host;
    api_host = host;
    json_object_foreach((json_t *) config, key, value) {
        int rc = 0;

        if (strcmp(key, "tokens") == 0)
            rc = tokens_load(api, value);
        else if (strcmp(key, "plugin") != 0) {
            host->config_error(ctx, key, "unknown setting; the api trigger "
                               "has only tokens");
            rc = CRIER_ECONFIG;
        }
        if (rc != 0) {
            api_destroy(api);
            return rc;
        }
    }

    /* NOTE: without tokens the route stays open, so that the shipped
     * config and local senders work unchanged; the warning is the only
     * guard (docs/KNOWN_LIMITS.md, "Triggers"). */
    if (api->tokens == NULL && host->minor >= 4 &&
        !host->listen_is_loopback(api->ctx))
        CRIER_LOG(host, api->ctx, CRIER_LOG_WARN, "event API open "
                  "to anyone", "route=\"POST /v1/events\" hint=\"set tokens "
                  "in this trigger's config so that only holders of a "
                  "token can send events\"");
    *state = api;
    return 0;
}


static int
api_start(void *state)
{
    struct api *api = state;

    return api->host->route_add(api->ctx, "POST", "/v1/events", on_events,
                                api);
}


static void
api_stop(void *state, crier_stop_cb done, void *arg)
{
    done(arg);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_TRIGGER,
    .name = "api",
    .version = "0.1.0",
    .summary = "POST /v1/events: events from other systems",
    .init = api_init,
    .start = api_start,
    .stop = api_stop,
    .destroy = api_destroy,
    .ops = NULL,
};
