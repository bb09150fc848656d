/*
 * The api trigger: POST /v1/events takes one event or {"events": [...]}
 * and responds 202 {"accepted": N, "duplicates": M} once they are on disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/crier.h>

struct api {
    struct crier_ctx *ctx;
    const struct crier_host *host;
};

/* The host table is one per process; the emit callback, which gets only
 * the request, finds it here. */
static const struct crier_host *api_host;


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

    text = host->req_body(req, &len);
    body = json_loadb(text, len, 0, &jerr);
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
        if (strcmp(key, "plugin") != 0) {
            host->config_error(ctx, key, "unknown setting; the api trigger "
                               "has no settings");
            free(api);
            return CRIER_ECONFIG;
        }
    }
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


static void
api_destroy(void *state)
{
    free(state);
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
