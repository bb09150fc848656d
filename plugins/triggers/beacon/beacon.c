/*
 * The beacon trigger: page views and other events from web pages.
 *
 *   GET /b.gif?v=&t=&u=&r=&ti=   a hit as a query string, a 1x1 GIF back
 *   POST /v1/beacon              a hit as JSON, 202 once stored
 *   OPTIONS /v1/beacon           the CORS preflight
 *   GET /crier.js                the snippet that sends the hits
 *   GET /c/{token}               an email click, a 302 to the signed URL
 *   GET /b.gif?m={token}         an email open
 *   GET /site/...                files of the `pages` folder, when set
 *
 * The hit routes respond only after the store has committed the event,
 * so a 2xx means stored. The client's IP address is not stored. Hits
 * from crawlers, scanners and mail proxies are stored with
 * properties.bot set.
 * docs/triggers/beacon.md has the details.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <crier/crier.h>

#include "bots.h"
#include "hit.h"
#include "json_body.h"
#include "links.h"
#include "pages.h"
#include "ratelimit.h"
#include "snippet.h"

/* The seconds for which a browser may cache a preflight response.
 * Browsers apply lower caps of their own. */
#define PREFLIGHT_MAX_AGE "86400"

/* The value that the example config falls back to without
 * CRIER_LINK_SECRET. */
#define EXAMPLE_LINK_SECRET "change-me"

/* Hits, clicks and opens per client address per minute, unless the
 * config sets max_requests_per_minute. */
#define DEFAULT_REQUESTS_PER_MINUTE 600

/* Rate-limited requests are logged once per this many ms at most. */
#define LIMITED_LOG_INTERVAL_MS 10000

struct beacon {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char **allowed_origins;     /* NULL-terminated, or NULL for any origin */
    char *pages;                /* folder served under /site/, or NULL */
    int consent_required;       /* consent = "required" */
    int honour_dnt;             /* drop hits that signal DNT or GPC */
    char *link_secret;          /* signs click and open links, or NULL */
    char *snippet;              /* crier.js for this instance */
    struct bot_classifier *bots;
    struct rate_limit *limit;   /* per client address, or NULL for none */
    unsigned limited;           /* requests refused, not yet logged */
    int64_t limited_logged_ms;  /* crier clock of that line, or 0 */
};

/* A click waiting for its event's commit before the redirect. */
struct click {
    struct crier_http_req *req;
    char *url;
};

/* There is one host table per process. The emit callbacks, which get
 * only the request, find it here. */
static const struct crier_host *beacon_host;

/* A transparent 1x1 GIF89a: the header, a two-colour table, a graphic
 * control extension that makes colour 0 transparent, and one pixel. */
static const unsigned char gif[] = {
    'G', 'I', 'F', '8', '9', 'a', 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
    0x02, 0x02, 0x44, 0x01, 0x00,
    0x3b
};

static const char *const config_keys[] = {
    "plugin", "allowed_origins", "pages", "consent", "honour_dnt",
    "link_secret", "max_requests_per_minute", NULL
};


/* Sends the GIF whatever happened, because an image tag shows nothing
 * either way. The status reports the outcome to tests and logs. */
static void
gif_send(const struct crier_host *host, struct crier_http_req *req,
         int status)
{
    host->resp_header(req, "Cache-Control", "no-store");
    host->respond(req, status, "image/gif", gif, sizeof(gif));
}


static void
error_send(const struct crier_host *host, struct crier_http_req *req,
           int status, const char *message, const char *field)
{
    json_t *body = json_pack("{s:s}", "error", message);

    json_object_set_new(body, "field", field != NULL && field[0] != '\0'
                                           ? json_string(field)
                                           : json_null());
    host->respond_json(req, status, body);
}


/* Logs why a POSTed hit was rejected, at debug level because any page
 * can cause it, and sends the error. */
static void
hit_reject(const struct beacon *beacon, struct crier_http_req *req,
           int status, const char *message, const char *field)
{
    CRIER_LOG(beacon->host, beacon->ctx, CRIER_LOG_DEBUG, "beacon hit "
              "rejected", "status=%d field=%s error=\"%s\"", status,
              field != NULL ? field : "", message);
    error_send(beacon->host, req, status, message, field);
}


/*
 * Returns nonzero when honour_dnt is set and the request carries "DNT: 1"
 * or "Sec-GPC: 1". Such a hit gets the usual success response, so that a
 * page cannot tell, and nothing is stored.
 */
static int
dnt_signalled(const struct beacon *beacon, struct crier_http_req *req)
{
    const char *dnt = beacon->host->req_header(req, "DNT");
    const char *gpc = beacon->host->req_header(req, "Sec-GPC");

    if (!beacon->honour_dnt)
        return 0;
    return (dnt != NULL && strcmp(dnt, "1") == 0) ||
           (gpc != NULL && strcmp(gpc, "1") == 0);
}


/* Sets properties.bot on `event` when its user agent is a bot's. */
static void
event_flag_bot(const struct beacon *beacon, json_t *event)
{
    json_t *properties = json_object_get(event, "properties");
    const char *class = bot_classify(beacon->bots, json_string_value(
                            json_object_get(properties, "user_agent")));

    if (class != NULL)
        json_object_set_new(properties, "bot", json_string(class));
}


/* Emits a built event after flagging bots. Returns as host->emit does. */
static int
event_emit(struct beacon *beacon, json_t *event,
           struct crier_input_error *err, crier_emit_cb done, void *arg)
{
    int rc;

    event_flag_bot(beacon, event);
    rc = beacon->host->emit(beacon->ctx, event, err, done, arg);
    json_decref(event);
    return rc;
}


static void
on_gif_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    gif_send(beacon_host, arg, status == 0 ? 200 : 503);
}


/*
 * Builds the email.opened event of a GIF hit without a visitor id but
 * with m={token}, the open pixel of an email. Without m it returns
 * CRIER_EINVAL and leaves `err` as it is. It returns CRIER_EINVAL with
 * `err` naming "m" when the token is malformed or tampered with, or when
 * no link_secret is set.
 */
static int
open_event_build(const struct beacon *beacon, struct crier_http_req *req,
                 json_t **event, struct crier_input_error *err)
{
    const struct crier_host *host = beacon->host;
    const char *reason;
    char *token = NULL;
    json_t *payload = NULL;
    int rc;

    /* Without m the hit is a page's hit without v, and `err` already
     * names v. */
    rc = query_param_get(host->req_query(req), "m", &token, &reason);
    if (rc == CRIER_ENOTFOUND)
        return CRIER_EINVAL;
    if (rc == 0 && beacon->link_secret == NULL) {
        reason = "is not accepted: this beacon has no link_secret";
        rc = CRIER_EINVAL;
    }
    if (rc == 0 &&
        link_token_verify(beacon->link_secret, token, &payload, &reason) != 0)
        rc = CRIER_EINVAL;
    g_free(token);
    if (rc != 0) {
        snprintf(err->field, sizeof(err->field), "%s", "m");
        snprintf(err->message, sizeof(err->message), "%s", reason);
        err->index = -1;
        return CRIER_EINVAL;
    }
    *event = links_event_build(payload, "email.opened",
                               host->req_header(req, "User-Agent"));
    json_decref(payload);
    return 0;
}


/*
 * Counts a request against its client's limit. Over the limit, responds
 * 429 with Retry-After (the GIF for an image request, so a page shows
 * nothing) and returns 1. The client address is the TCP peer, or
 * X-Forwarded-For when the peer is one of trusted_proxies.
 */
static int
rate_limited(struct beacon *beacon, struct crier_http_req *req, int gif_body)
{
    const struct crier_host *host = beacon->host;
    const char *client;
    int64_t now;
    unsigned retry;
    char seconds[16];

    if (beacon->limit == NULL)
        return 0;
    client = host->req_peer(req);
    now = host->now_ms(beacon->ctx);
    retry = rate_limit_hit(beacon->limit, client, now);
    if (retry == 0)
        return 0;
    beacon->limited++;
    if (beacon->limited_logged_ms == 0 ||
        now - beacon->limited_logged_ms >= LIMITED_LOG_INTERVAL_MS) {
        host->log(beacon->ctx, CRIER_LOG_NOTICE, "beacon requests rate "
                  "limited", "peer=%s limited=%u", client, beacon->limited);
        beacon->limited = 0;
        beacon->limited_logged_ms = now;
    }
    snprintf(seconds, sizeof(seconds), "%u", retry);
    host->resp_header(req, "Retry-After", seconds);
    if (gif_body)
        gif_send(host, req, 429);
    else
        error_send(host, req, 429, "too many requests from this address; "
                   "retry after the seconds in Retry-After", NULL);
    return 1;
}


static void
on_gif(void *arg, struct crier_http_req *req)
{
    struct beacon *beacon = arg;
    const struct crier_host *host = beacon->host;
    struct crier_input_error err;
    json_t *event;
    int rc;

    /* HEAD requests reach this route too, and a link checker's HEAD is
     * not a visit. */
    if (strcmp(host->req_method(req), "HEAD") == 0) {
        gif_send(host, req, 200);
        return;
    }
    if (rate_limited(beacon, req, 1))
        return;
    if (dnt_signalled(beacon, req)) {
        gif_send(host, req, 200);
        return;
    }
    rc = beacon_event_build_query(host->req_query(req),
                                  host->req_header(req, "User-Agent"),
                                  &event, &err);
    if (rc == CRIER_EINVAL && strcmp(err.field, "v") == 0)
        rc = open_event_build(beacon, req, &event, &err);
    if (rc == 0) {
        rc = event_emit(beacon, event, &err, on_gif_emitted, req);
        if (rc == 0)
            return;
    }
    if (rc == CRIER_EINVAL) {
        CRIER_LOG(host, beacon->ctx, CRIER_LOG_DEBUG, "beacon hit rejected",
                  "status=400 field=%s error=\"%s\"", err.field,
                  err.message);
        gif_send(host, req, 400);
        return;
    }
    if (rc != CRIER_ECLOSED)
        host->log(beacon->ctx, CRIER_LOG_ERROR, "beacon hit not emitted",
                  "error=%s", crier_errname(rc));
    gif_send(host, req, 503);
}


static int
origin_allowed(const struct beacon *beacon, const char *origin)
{
    for (size_t i = 0; beacon->allowed_origins[i] != NULL; i++)
        if (strcmp(beacon->allowed_origins[i], "*") == 0 ||
            strcmp(beacon->allowed_origins[i], origin) == 0)
            return 1;
    return 0;
}


/*
 * Adds the CORS headers for /v1/beacon. Returns CRIER_EINVAL when
 * allowed_origins is set and the request's Origin is not in it, because
 * a text/plain POST reaches the server without a preflight, so CORS alone
 * would not stop it. Browsers send Origin with every POST, so a request
 * without one comes from another client (curl) and passes. Without
 * allowed_origins any origin may send, and credentials are never allowed.
 */
static int
cors_apply(const struct beacon *beacon, struct crier_http_req *req)
{
    const struct crier_host *host = beacon->host;
    const char *origin = host->req_header(req, "Origin");

    if (beacon->allowed_origins == NULL) {
        host->resp_header(req, "Access-Control-Allow-Origin", "*");
        return 0;
    }
    host->resp_header(req, "Vary", "Origin");
    if (origin == NULL)
        return 0;
    if (!origin_allowed(beacon, origin))
        return CRIER_EINVAL;
    host->resp_header(req, "Access-Control-Allow-Origin", origin);
    return 0;
}


static void
on_preflight(void *arg, struct crier_http_req *req)
{
    struct beacon *beacon = arg;
    const struct crier_host *host = beacon->host;

    if (cors_apply(beacon, req) != 0) {
        hit_reject(beacon, req, 403, "this origin may not send beacons; "
                   "add it to allowed_origins", "Origin");
        return;
    }
    if (rate_limited(beacon, req, 0))
        return;
    host->resp_header(req, "Access-Control-Allow-Methods", "POST");
    host->resp_header(req, "Access-Control-Allow-Headers", "Content-Type");
    host->resp_header(req, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    host->respond(req, 204, NULL, NULL, 0);
}


static void
on_post_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct crier_http_req *req = arg;

    if (status != 0) {
        error_send(beacon_host, req, 503, "the store could not commit the "
                   "event; nothing was stored, retry later", NULL);
        return;
    }
    beacon_host->respond_json(req, 202,
                              json_pack("{s:I,s:I}", "accepted",
                                        (json_int_t) accepted, "duplicates",
                                        (json_int_t) duplicates));
}


/* Returns nonzero when `content_type` is the media type `type`, in any
 * case, alone or followed by parameters (";charset=UTF-8"). */
static int
media_type_is(const char *content_type, const char *type)
{
    size_t len = strlen(type);
    char next;

    if (g_ascii_strncasecmp(content_type, type, len) != 0)
        return 0;
    next = content_type[len];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}


/*
 * Accepts application/json, text/plain and no Content-Type at all.
 * navigator.sendBeacon sends a string as text/plain;charset=UTF-8, and an
 * ArrayBuffer or a Blob without a type with no Content-Type.
 */
static int
content_type_accepted(const char *content_type)
{
    return content_type == NULL ||
           media_type_is(content_type, "application/json") ||
           media_type_is(content_type, "text/plain");
}


static void
on_post(void *arg, struct crier_http_req *req)
{
    struct beacon *beacon = arg;
    const struct crier_host *host = beacon->host;
    struct crier_input_error err;
    json_t *body, *event;
    json_error_t json_err;
    const char *text;
    size_t len;
    int rc;

    if (cors_apply(beacon, req) != 0) {
        hit_reject(beacon, req, 403, "this origin may not send beacons; "
                   "add it to allowed_origins", "Origin");
        return;
    }
    if (rate_limited(beacon, req, 0))
        return;
    if (!content_type_accepted(host->req_header(req, "Content-Type"))) {
        hit_reject(beacon, req, 415, "send the hit as application/json or "
                   "text/plain", "Content-Type");
        return;
    }
    if (dnt_signalled(beacon, req)) {
        on_post_emitted(req, 0, 0, 0);
        return;
    }
    text = host->req_body(req, &len);
    body = json_body_load(text, len, 0, &json_err);
    if (body == NULL) {
        hit_reject(beacon, req, 400, json_body_duplicate(&json_err)
                   ? json_err.text : "the body is not valid JSON", NULL);
        return;
    }
    rc = beacon_event_build_json(body, host->req_header(req, "User-Agent"),
                                 &event, &err);
    json_decref(body);
    if (rc != 0) {
        hit_reject(beacon, req, 400, err.message, err.field);
        return;
    }

    rc = event_emit(beacon, event, &err, on_post_emitted, req);
    if (rc == CRIER_EINVAL)
        hit_reject(beacon, req, 400, err.message, err.field);
    else if (rc == CRIER_ECLOSED)
        error_send(host, req, 503, "crier is shutting down; retry later",
                   NULL);
    else if (rc != 0) {
        host->log(beacon->ctx, CRIER_LOG_ERROR, "beacon hit not emitted",
                  "error=%s", crier_errname(rc));
        error_send(host, req, 503, crier_strerror(rc), NULL);
    }
}


static void
on_snippet(void *arg, struct crier_http_req *req)
{
    const struct beacon *beacon = arg;

    beacon->host->resp_header(req, "Cache-Control", "max-age=300");
    beacon->host->respond(req, 200, "application/javascript",
                          beacon->snippet, strlen(beacon->snippet));
}


/* Sends the redirect of a click, whether or not its event was stored:
 * the token was valid, so the reader gets to the page either way. */
static void
click_redirect(struct click *click)
{
    beacon_host->resp_header(click->req, "Location", click->url);
    beacon_host->resp_header(click->req, "Cache-Control", "no-store");
    beacon_host->respond(click->req, 302, NULL, NULL, 0);
    g_free(click->url);
    g_free(click);
}


static void
on_click_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    click_redirect(arg);
}


/*
 * GET /c/{token}: verifies the token and redirects with 302 to the URL
 * signed into it, after storing email.clicked. A token that does not
 * verify, or that has no URL (an open pixel's), gets 400 and no Location,
 * so the route never redirects anywhere that was not signed.
 */
static void
on_click(void *arg, struct crier_http_req *req)
{
    struct beacon *beacon = arg;
    const struct crier_host *host = beacon->host;
    const char *token = host->req_path(req) + strlen(LINKS_CLICK_PREFIX);
    const char *reason;
    struct crier_input_error err;
    struct click *click;
    json_t *payload, *url;
    int rc;

    if (rate_limited(beacon, req, 0))
        return;
    if (link_token_verify(beacon->link_secret, token, &payload, &reason)
        != 0 || (url = json_object_get(payload, "u")) == NULL) {
        if (payload != NULL)
            reason = "the token is an open pixel's and has no URL";
        json_decref(payload);
        hit_reject(beacon, req, 400, reason, "token");
        return;
    }
    click = g_new0(struct click, 1);
    click->req = req;
    click->url = g_strdup(json_string_value(url));

    /* A HEAD is a link checker's, not a reader's click. */
    if (strcmp(host->req_method(req), "HEAD") == 0 ||
        dnt_signalled(beacon, req)) {
        json_decref(payload);
        click_redirect(click);
        return;
    }
    rc = event_emit(beacon, links_event_build(payload, "email.clicked",
                                              host->req_header(req,
                                                               "User-Agent")),
                    &err, on_click_emitted, click);
    json_decref(payload);
    if (rc == 0)
        return;
    if (rc != CRIER_ECLOSED)
        host->log(beacon->ctx, CRIER_LOG_ERROR, "click not emitted",
                  "error=%s field=%s", crier_errname(rc),
                  rc == CRIER_EINVAL ? err.field : "");
    click_redirect(click);
}


/* Accepts "*" or an origin as browsers send it: scheme and host, an
 * optional port, no path and no trailing '/'. */
static int
origin_valid(const char *origin)
{
    const char *host;

    if (strcmp(origin, "*") == 0)
        return 1;
    if (strncmp(origin, "https://", 8) == 0)
        host = origin + 8;
    else if (strncmp(origin, "http://", 7) == 0)
        host = origin + 7;
    else
        return 0;
    return host[0] != '\0' && strpbrk(host, "/?# ") == NULL;
}


static int
config_read_pages(struct beacon *beacon, const json_t *pages)
{
    char *dir;

    if (pages == NULL)
        return 0;
    if (!json_is_string(pages) || json_string_length(pages) == 0) {
        beacon->host->config_error(beacon->ctx, "pages", "must be the path "
                                   "of a folder of pages");
        return CRIER_ECONFIG;
    }
    dir = beacon->host->resolve_path(beacon->ctx, json_string_value(pages));
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        beacon->host->config_error(beacon->ctx, "pages", "folder %s not "
                                   "found", dir);
        free(dir);
        return CRIER_ECONFIG;
    }
    beacon->pages = g_strdup(dir);
    free(dir);
    return 0;
}


/* Reads consent and honour_dnt; consent is "required" by default. */
static int
config_read_privacy(struct beacon *beacon, const json_t *config)
{
    const struct crier_host *host = beacon->host;
    const json_t *consent = json_object_get(config, "consent");
    const json_t *dnt = json_object_get(config, "honour_dnt");
    const char *mode = json_string_value(consent);

    beacon->consent_required = 1;
    if (consent != NULL && (mode == NULL ||
                            (strcmp(mode, "required") != 0 &&
                             strcmp(mode, "assumed") != 0))) {
        host->config_error(beacon->ctx, "consent", "must be \"required\" "
                           "(send nothing until the page calls "
                           "crier.consent(true)) or \"assumed\"");
        return CRIER_ECONFIG;
    }
    if (mode != NULL && strcmp(mode, "assumed") == 0)
        beacon->consent_required = 0;
    if (dnt != NULL && !json_is_boolean(dnt)) {
        host->config_error(beacon->ctx, "honour_dnt", "must be true or "
                           "false");
        return CRIER_ECONFIG;
    }
    beacon->honour_dnt = dnt != NULL && json_is_true(dnt);
    return 0;
}


/* Reads link_secret, which turns on click and open tracking. */
static int
config_read_link_secret(struct beacon *beacon, const json_t *secret)
{
    if (secret == NULL)
        return 0;
    if (!json_is_string(secret) || json_string_length(secret) == 0) {
        beacon->host->config_error(beacon->ctx, "link_secret", "must be a "
                                   "non-empty string, such as "
                                   "\"${CRIER_LINK_SECRET}\"");
        return CRIER_ECONFIG;
    }
    beacon->link_secret = g_strdup(json_string_value(secret));
    return 0;
}


/* Reads max_requests_per_minute: 0 turns the limit off. */
static int
config_read_limit(struct beacon *beacon, const json_t *value)
{
    json_int_t per_minute = DEFAULT_REQUESTS_PER_MINUTE;

    if (value != NULL) {
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) > 1000000) {
            beacon->host->config_error(beacon->ctx, "max_requests_per_minute",
                                       "must be a whole number from 0 "
                                       "(no limit) to 1000000");
            return CRIER_ECONFIG;
        }
        per_minute = json_integer_value(value);
    }
    if (per_minute > 0)
        beacon->limit = rate_limit_new((unsigned) per_minute);
    return 0;
}


static int
config_read(struct beacon *beacon, const json_t *config)
{
    const struct crier_host *host = beacon->host;
    const json_t *origins = json_object_get(config, "allowed_origins");
    const json_t *origin;
    const char *key;
    json_t *value;
    char field[48];
    size_t i;

    json_object_foreach((json_t *) config, key, value) {
        for (i = 0; config_keys[i] != NULL; i++)
            if (strcmp(config_keys[i], key) == 0)
                break;
        if (config_keys[i] == NULL) {
            host->config_error(beacon->ctx, key, "unknown setting; valid "
                               "settings are allowed_origins, pages, "
                               "consent, honour_dnt, link_secret and "
                               "max_requests_per_minute");
            return CRIER_ECONFIG;
        }
    }
    if (config_read_pages(beacon, json_object_get(config, "pages")) != 0 ||
        config_read_privacy(beacon, config) != 0 ||
        config_read_link_secret(beacon,
                                json_object_get(config, "link_secret")) != 0 ||
        config_read_limit(beacon,
                          json_object_get(config, "max_requests_per_minute"))
            != 0)
        return CRIER_ECONFIG;
    if (origins == NULL)
        return 0;
    if (!json_is_array(origins) || json_array_size(origins) == 0) {
        host->config_error(beacon->ctx, "allowed_origins", "must be a "
                           "non-empty list such as "
                           "[\"https://www.example.gov\"]");
        return CRIER_ECONFIG;
    }

    beacon->allowed_origins = g_new0(char *, json_array_size(origins) + 1);
    json_array_foreach(origins, i, origin) {
        if (!json_is_string(origin) ||
            !origin_valid(json_string_value(origin))) {
            snprintf(field, sizeof(field), "allowed_origins[%zu]", i);
            host->config_error(beacon->ctx, field, "must be \"*\" or an "
                               "origin such as \"https://www.example.gov\", "
                               "with no path or trailing '/'");
            return CRIER_ECONFIG;
        }
        beacon->allowed_origins[i] = g_strdup(json_string_value(origin));
    }
    return 0;
}


static void
beacon_destroy(void *state)
{
    struct beacon *beacon = state;

    g_strfreev(beacon->allowed_origins);
    g_free(beacon->pages);
    g_free(beacon->link_secret);
    g_free(beacon->snippet);
    bot_classifier_free(beacon->bots);
    rate_limit_free(beacon->limit);
    g_free(beacon);
}


static int
beacon_init(struct crier_ctx *ctx, const struct crier_host *host,
            const json_t *config, void **state)
{
    struct beacon *beacon = g_new0(struct beacon, 1);
    char error[256];
    int rc;

    beacon->ctx = ctx;
    beacon->host = host;
    beacon_host = host;
    rc = config_read(beacon, config);
    if (rc != 0) {
        beacon_destroy(beacon);
        return rc;
    }
    beacon->bots = bot_classifier_new(error, sizeof(error));
    if (beacon->bots == NULL) {
        host->log(ctx, CRIER_LOG_ERROR, "bot patterns not compiled",
                  "error=\"%s\"", error);
        beacon_destroy(beacon);
        return CRIER_EINVAL;
    }
    beacon->snippet = beacon_snippet_render(beacon->consent_required,
                                            beacon->honour_dnt);
    if (beacon->link_secret != NULL &&
        strcmp(beacon->link_secret, EXAMPLE_LINK_SECRET) == 0)
        host->log(ctx, CRIER_LOG_WARN, "the link secret is the example "
                  "value; anyone who reads the docs can sign redirects "
                  "and fake clicks", "key=link_secret");
    *state = beacon;
    return 0;
}


static void
on_page(void *arg, struct crier_http_req *req)
{
    struct beacon *beacon = arg;

    pages_serve(beacon->host, req, beacon->pages);
}


static int
beacon_start(void *state)
{
    static const struct {
        const char *method;
        const char *path;
        crier_http_handler handler;
    } routes[] = {
        {"GET", "/b.gif", on_gif},
        {"POST", "/v1/beacon", on_post},
        {"OPTIONS", "/v1/beacon", on_preflight},
        {"GET", "/crier.js", on_snippet},
    };
    struct beacon *beacon = state;

    for (size_t i = 0; i < G_N_ELEMENTS(routes); i++) {
        int rc = beacon->host->route_add(beacon->ctx, routes[i].method,
                                         routes[i].path, routes[i].handler,
                                         beacon);

        if (rc != 0) {
            beacon->host->log(beacon->ctx, CRIER_LOG_ERROR,
                              "route not added", "method=%s path=%s "
                              "error=%s", routes[i].method, routes[i].path,
                              crier_errname(rc));
            return rc;
        }
    }
    if (beacon->link_secret != NULL) {
        int rc = beacon->host->route_add(beacon->ctx, "GET",
                                         LINKS_CLICK_PREFIX "*", on_click,
                                         beacon);

        if (rc != 0)
            return rc;
    }
    if (beacon->pages == NULL)
        return 0;
    return beacon->host->route_add(beacon->ctx, "GET", PAGES_PREFIX "*",
                                   on_page, beacon);
}


static void
beacon_stop(void *state, crier_stop_cb done, void *arg)
{
    done(arg);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_TRIGGER,
    .name = "beacon",
    .version = "0.1.0",
    .summary = "page views from web pages and email clicks and opens",
    .init = beacon_init,
    .start = beacon_start,
    .stop = beacon_stop,
    .destroy = beacon_destroy,
    .ops = NULL,
};
