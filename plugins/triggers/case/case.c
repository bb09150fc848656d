/*
 * The case trigger: signed webhooks from an agency's case system. A POST
 * on the configured path carries Open311 GeoReport v2 service requests or
 * a generic case. Each becomes a case.opened, case.updated or case.closed
 * event, and the sender gets 202 {"accepted": N, "duplicates": M} once
 * they are stored. docs/triggers/case.md has the payloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/crier.h>

#include "case_event.h"
#include "json_body.h"
#include "mapping.h"
#include "open311.h"
#include "poll.h"
#include "signature.h"

#define TOLERANCE_DEFAULT_S 300
#define TOLERANCE_MAX_S 86400

/* A rejected webhook is logged at most once per this many milliseconds. */
#define REJECT_LOG_INTERVAL_MS 10000

/* The value that the example config falls back to without CASE_SECRET. */
#define EXAMPLE_SECRET "change-me"

/* The header that carries the sender's id of one delivery, repeated
 * when the sender retries it. */
#define DELIVERY_HEADER "X-Crier-Delivery"

/* A rotation needs two secrets, and a few more cover a slow rollout. */
#define SECRETS_MAX 4

/* The longest X-Crier-Delivery value, enough for a UUID with a prefix. */
#define DELIVERY_MAX 100

struct case_trigger {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char *path;                 /* NULL for a trigger that only polls */
    char *secrets[SECRETS_MAX];
    size_t secret_count;
    int64_t tolerance_s;
    struct case_mapping *mapping;   /* NULL: Open311 and generic bodies */
    struct case_poll *poll;         /* NULL: no polling */

    uint64_t reject_logged_ms;  /* uv_now of the last line, 0 for none */
    unsigned rejects_unlogged;  /* rejections since that line */
};

/* There is one host table per process. The emit callback, which gets
 * only the request, finds it here. */
static const struct crier_host *case_host;

static const char *const config_keys[] = {
    "plugin", "path", "secret", "secrets", "tolerance_s", "mapping", "poll",
    NULL
};


/* Sends {"error", "field"}, and "index" too for a 400. */
static void
error_send(const struct crier_host *host, struct crier_http_req *req,
           int status, const char *message, const char *field, long index)
{
    json_t *body = json_pack("{s:s}", "error", message);

    json_object_set_new(body, "field", field != NULL && field[0] != '\0'
                                           ? json_string(field)
                                           : json_null());
    if (status == 400)
        json_object_set_new(body, "index", index >= 0 ? json_integer(index)
                                                      : json_null());
    host->respond_json(req, status, body);
}


/*
 * Logs a rejected webhook at notice level with the reason and the peer's
 * address, never the body or the signature. Anyone who reaches the route
 * can cause a rejection, so at most one line is written per
 * REJECT_LOG_INTERVAL_MS, and it counts the rejections not logged since
 * the previous line (unlogged=N).
 */
static void
reject_log(struct case_trigger *trigger, struct crier_http_req *req,
           int status, const char *reason, const char *field, long index)
{
    const struct crier_host *host = trigger->host;
    uint64_t now = uv_now(host->loop(trigger->ctx));
    char index_text[24] = "null";

    if (trigger->reject_logged_ms != 0 &&
        now - trigger->reject_logged_ms < REJECT_LOG_INTERVAL_MS) {
        trigger->rejects_unlogged++;
        return;
    }
    if (index >= 0)
        snprintf(index_text, sizeof(index_text), "%ld", index);
    CRIER_LOG(host, trigger->ctx, CRIER_LOG_NOTICE, "case webhook rejected",
              "status=%d field=%s index=%s peer=%s error=\"%s\" "
              "unlogged=%u", status, field != NULL ? field : "", index_text,
              host->req_peer(req), reason, trigger->rejects_unlogged);
    trigger->reject_logged_ms = now != 0 ? now : 1;
    trigger->rejects_unlogged = 0;
}


/* Logs why a webhook was rejected and sends the error. */
static void
webhook_reject(struct case_trigger *trigger, struct crier_http_req *req,
               int status, const char *message, const char *field,
               long index)
{
    reject_log(trigger, req, status, message, field, index);
    error_send(trigger->host, req, status, message, field, index);
}


static void
on_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct crier_http_req *req = arg;

    if (status != 0) {
        error_send(case_host, req, 503, "the store could not commit the "
                   "events; nothing was stored, retry later", NULL, -1);
        return;
    }
    case_host->respond_json(req, 202,
                            json_pack("{s:I,s:I}", "accepted",
                                      (json_int_t) accepted, "duplicates",
                                      (json_int_t) duplicates));
}


/* Responds 401 unless the request carries a valid signature. */
static int
request_authenticate(struct case_trigger *trigger,
                     struct crier_http_req *req)
{
    const struct crier_host *host = trigger->host;
    struct crier_input_error err;
    struct signed_request signed_request;
    int rc;

    signed_request.body = host->req_body(req, &signed_request.body_len);
    signed_request.timestamp = host->req_header(req,
                                                SIGNATURE_TIMESTAMP_HEADER);
    signed_request.signature = host->req_header(req, SIGNATURE_HEADER);
    rc = signature_verify((const char *const *) trigger->secrets,
                          trigger->secret_count, trigger->tolerance_s,
                          host->now_ms(trigger->ctx), &signed_request, &err);
    if (rc != 0)
        webhook_reject(trigger, req, 401, err.message, err.field, -1);
    return rc;
}


/* Returns nonzero when `delivery` is a usable delivery id: 1 to
 * DELIVERY_MAX printable ASCII characters other than space. */
static int
delivery_valid(const char *delivery)
{
    size_t len = strlen(delivery);

    if (len == 0 || len > DELIVERY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (delivery[i] <= ' ' || delivery[i] > '~')
            return 0;
    return 1;
}


/*
 * Gives each event that has no dedupe id the id
 * "delivery/<delivery>/<index in the body>", so that a retried delivery of
 * an update without a time is stored once. An event with a time keeps its
 * content id, which also catches the same change sent under a new
 * delivery id. Without the header, nothing changes.
 */
static int
delivery_ids_apply(const char *delivery, json_t *events,
                   struct crier_input_error *err)
{
    size_t i;
    json_t *event;

    if (delivery == NULL)
        return 0;
    if (!delivery_valid(delivery)) {
        err->index = -1;
        return case_reject(err, DELIVERY_HEADER, "must be 1 to 100 "
                           "printable characters without spaces, such as "
                           "a UUID");
    }
    json_array_foreach(events, i, event) {
        char *id;

        if (json_object_get(event, "id") != NULL)
            continue;
        id = g_strdup_printf("delivery/%s/%zu", delivery, i);
        json_object_set_new(event, "id", json_string(id));
        g_free(id);
    }
    return 0;
}


static void
on_case(void *arg, struct crier_http_req *req)
{
    struct case_trigger *trigger = arg;
    const struct crier_host *host = trigger->host;
    struct crier_input_error err;
    json_error_t json_err;
    json_t *body, *events;
    const char *text;
    char message[256];
    size_t len;
    int is_array;
    int rc;

    /* The signature covers the raw bytes, so it is checked before the
     * body is parsed. */
    if (request_authenticate(trigger, req) != 0)
        return;

    text = host->req_body(req, &len);
    body = json_body_load(text, len, 0, &json_err);
    if (body == NULL) {
        /* jansson's message can quote the body, so it goes into the
         * response but not into the log. */
        snprintf(message, sizeof(message), "invalid JSON at line %d, "
                 "column %d", json_err.line, json_err.column);
        reject_log(trigger, req, 400, message, "", -1);
        snprintf(message, sizeof(message), "invalid JSON at line %d, "
                 "column %d: %s", json_err.line, json_err.column,
                 json_err.text);
        error_send(host, req, 400, message, "", -1);
        return;
    }
    is_array = json_is_array(body);
    if (trigger->mapping != NULL)
        rc = mapping_events_build(trigger->mapping, body, &events, &err);
    else
        rc = case_events_build(body, &events, &err);
    json_decref(body);
    if (rc == 0) {
        rc = delivery_ids_apply(host->req_header(req, DELIVERY_HEADER),
                                events, &err);
        if (rc != 0)
            json_decref(events);
    }
    if (rc != 0) {
        webhook_reject(trigger, req, 400, err.message, err.field,
                       err.index);
        return;
    }

    /* The core numbers the events it checks, but a single case was not
     * sent as an array, so its errors carry no index. */
    rc = host->emit(trigger->ctx, events, &err, on_emitted, req);
    json_decref(events);
    if (rc == CRIER_EINVAL)
        webhook_reject(trigger, req, 400, err.message, err.field,
                       is_array ? err.index : -1);
    else if (rc == CRIER_ECLOSED)
        error_send(host, req, 503, "crier is shutting down; retry later",
                   NULL, -1);
    else if (rc != 0) {
        host->log(trigger->ctx, CRIER_LOG_ERROR, "case events not emitted",
                  "error=%s", crier_errname(rc));
        error_send(host, req, 500, crier_strerror(rc), NULL, -1);
    }
}


static int
config_check_keys(struct case_trigger *trigger, const json_t *config)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) config, key, value) {
        size_t i = 0;

        while (config_keys[i] != NULL && strcmp(config_keys[i], key) != 0)
            i++;
        if (config_keys[i] == NULL) {
            trigger->host->config_error(trigger->ctx, key, "unknown "
                                        "setting; valid settings are path, "
                                        "secret, secrets, tolerance_s, "
                                        "mapping and poll");
            return CRIER_ECONFIG;
        }
    }
    return 0;
}


/* Checks `path`: a string that starts with '/' and has no space, '?' or
 * '#'. Reports the first rule it breaks. */
static int
config_check_path(struct case_trigger *trigger, const json_t *path)
{
    const char *problem = NULL;

    if (path == NULL)
        problem = "is required: the path the case system posts to, such "
                  "as \"/hooks/case\"";
    else if (!json_is_string(path))
        problem = "must be a string such as \"/hooks/case\"";
    else if (json_string_value(path)[0] != '/')
        problem = "must start with '/', such as \"/hooks/case\"";
    else if (strpbrk(json_string_value(path), " ?#") != NULL)
        problem = "must not contain a space, '?' or '#'";
    if (problem == NULL)
        return 0;
    trigger->host->config_error(trigger->ctx, "path", "%s", problem);
    return CRIER_ECONFIG;
}


/* Checks one secret: a non-empty string. `key` names it in errors. */
static int
config_check_secret(struct case_trigger *trigger, const char *key,
                    const json_t *secret)
{
    const char *problem = NULL;

    if (!json_is_string(secret))
        problem = "must be a string such as \"${CASE_SECRET}\"";
    else if (json_string_length(secret) == 0)
        problem = "must not be empty; set the secret shared with the case "
                  "system (an unset variable in \"${CASE_SECRET:-}\" "
                  "gives \"\")";
    if (problem == NULL)
        return 0;
    trigger->host->config_error(trigger->ctx, key, "%s", problem);
    return CRIER_ECONFIG;
}


/*
 * Reads `secret`, or `secrets`, a list of one to SECRETS_MAX secrets of
 * which any may sign a request, so a case system can move to a new secret
 * without a window of 401s. Exactly one of the two is required when the
 * trigger takes webhooks.
 */
static int
config_read_secrets(struct case_trigger *trigger, const json_t *config)
{
    const struct crier_host *host = trigger->host;
    const json_t *secret = json_object_get(config, "secret");
    const json_t *secrets = json_object_get(config, "secrets");
    char key[32];

    if (secret != NULL && secrets != NULL) {
        host->config_error(trigger->ctx, "secrets", "must not be set "
                           "together with secret; list every valid secret "
                           "in secrets");
        return CRIER_ECONFIG;
    }
    if (secret != NULL) {
        if (config_check_secret(trigger, "secret", secret) != 0)
            return CRIER_ECONFIG;
        trigger->secrets[trigger->secret_count++] =
            strdup(json_string_value(secret));
        return 0;
    }
    if (secrets == NULL) {
        host->config_error(trigger->ctx, "secret", "is required: the secret "
                           "shared with the case system, such as "
                           "\"${CASE_SECRET}\" (or secrets, a list of them "
                           "during a rotation)");
        return CRIER_ECONFIG;
    }
    if (!json_is_array(secrets) || json_array_size(secrets) == 0 ||
        json_array_size(secrets) > SECRETS_MAX) {
        host->config_error(trigger->ctx, "secrets", "must be a list of 1 "
                           "to %d secrets, such as [ \"${CASE_SECRET}\", "
                           "\"${CASE_SECRET_OLD}\" ]", SECRETS_MAX);
        return CRIER_ECONFIG;
    }
    for (size_t i = 0; i < json_array_size(secrets); i++) {
        snprintf(key, sizeof(key), "secrets.%zu", i + 1);
        if (config_check_secret(trigger, key,
                                json_array_get(secrets, i)) != 0)
            return CRIER_ECONFIG;
        trigger->secrets[trigger->secret_count++] =
            strdup(json_string_value(json_array_get(secrets, i)));
    }
    return 0;
}


static int
config_read_tolerance(struct case_trigger *trigger, const json_t *tolerance)
{
    trigger->tolerance_s = TOLERANCE_DEFAULT_S;
    if (tolerance == NULL)
        return 0;
    if (!json_is_integer(tolerance) || json_integer_value(tolerance) < 1 ||
        json_integer_value(tolerance) > TOLERANCE_MAX_S) {
        trigger->host->config_error(trigger->ctx, "tolerance_s", "must be a "
                                    "whole number of seconds from 1 to %d",
                                    TOLERANCE_MAX_S);
        return CRIER_ECONFIG;
    }
    trigger->tolerance_s = json_integer_value(tolerance);
    return 0;
}


/* Rejects the webhook settings in a polling trigger without `path`,
 * which takes no webhooks, so that a forgotten path does not pass
 * unnoticed. */
static int
config_check_webhook_keys(struct case_trigger *trigger, const json_t *config)
{
    static const char *const keys[] = {"secret", "secrets", "tolerance_s"};

    if (json_object_get(config, "path") != NULL ||
        json_object_get(config, "poll") == NULL)
        return 0;
    for (size_t i = 0; i < 3; i++) {
        if (json_object_get(config, keys[i]) == NULL)
            continue;
        trigger->host->config_error(trigger->ctx, keys[i], "applies to "
                                    "webhooks only; set path as well, or "
                                    "remove %s from a trigger that only "
                                    "polls", keys[i]);
        return CRIER_ECONFIG;
    }
    return 0;
}


/*
 * Reads the config. A trigger takes webhooks when it has `path` (and
 * then needs a secret), polls when it has `poll`, and may do both.
 */
static int
config_read(struct case_trigger *trigger, const json_t *config)
{
    const struct crier_host *host = trigger->host;
    const json_t *path = json_object_get(config, "path");
    const json_t *mapping = json_object_get(config, "mapping");
    const json_t *poll = json_object_get(config, "poll");
    int rc;

    if (config_check_keys(trigger, config) != 0 ||
        config_check_webhook_keys(trigger, config) != 0)
        return CRIER_ECONFIG;
    if (path != NULL || poll == NULL) {
        if (config_check_path(trigger, path) != 0 ||
            config_read_secrets(trigger, config) != 0 ||
            config_read_tolerance(trigger,
                                  json_object_get(config, "tolerance_s"))
                != 0)
            return CRIER_ECONFIG;
        trigger->path = strdup(json_string_value(path));
        if (trigger->path == NULL)
            return CRIER_ENOMEM;
        for (size_t i = 0; i < trigger->secret_count; i++)
            if (trigger->secrets[i] == NULL)
                return CRIER_ENOMEM;
    }
    if (mapping != NULL &&
        (rc = mapping_read(trigger->ctx, host, mapping,
                           &trigger->mapping)) != 0)
        return rc;
    if (poll != NULL &&
        (rc = poll_read(trigger->ctx, host, poll, &trigger->poll)) != 0)
        return rc;
    return 0;
}


static void
case_destroy(void *state)
{
    struct case_trigger *trigger = state;

    free(trigger->path);
    for (size_t i = 0; i < trigger->secret_count; i++)
        free(trigger->secrets[i]);
    mapping_free(trigger->mapping);
    poll_free(trigger->poll);
    free(trigger);
}


static int
case_init(struct crier_ctx *ctx, const struct crier_host *host,
          const json_t *config, void **state)
{
    struct case_trigger *trigger = calloc(1, sizeof(*trigger));
    int rc;

    if (trigger == NULL)
        return CRIER_ENOMEM;
    trigger->ctx = ctx;
    trigger->host = host;
    case_host = host;
    rc = config_read(trigger, config);
    if (rc != 0) {
        case_destroy(trigger);
        return rc;
    }
    for (size_t i = 0; i < trigger->secret_count; i++)
        if (strcmp(trigger->secrets[i], EXAMPLE_SECRET) == 0)
            host->log(ctx, CRIER_LOG_WARN, "the secret is the example "
                      "value; anyone who reads the docs can sign requests",
                      "key=%s", trigger->secret_count == 1 ? "secret"
                                                           : "secrets");
    *state = trigger;
    return 0;
}


/* Adds the webhook route and starts polling, for whichever of the two
 * the config sets up. */
static int
case_start(void *state)
{
    struct case_trigger *trigger = state;
    const struct crier_host *host = trigger->host;
    int rc = 0;

    if (trigger->path != NULL) {
        rc = host->route_add(trigger->ctx, "POST", trigger->path, on_case,
                             trigger);
        if (rc != 0) {
            host->log(trigger->ctx, CRIER_LOG_ERROR, "route not added",
                      "method=POST path=%s error=%s", trigger->path,
                      crier_errname(rc));
            return rc;
        }
    }
    if (trigger->poll != NULL) {
        rc = poll_start(trigger->poll, trigger->mapping);
        if (rc != 0)
            host->log(trigger->ctx, CRIER_LOG_ERROR, "case poll not "
                      "started", "error=%s", crier_errname(rc));
    }
    return rc;
}


static void
case_stop(void *state, crier_stop_cb done, void *arg)
{
    struct case_trigger *trigger = state;

    if (trigger->poll != NULL)
        poll_stop(trigger->poll, done, arg);
    else
        done(arg);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_TRIGGER,
    .name = "case",
    .version = "0.1.0",
    .summary = "case system updates: signed webhooks or Open311 polling",
    .init = case_init,
    .start = case_start,
    .stop = case_stop,
    .destroy = case_destroy,
    .ops = NULL,
};
