/*
 * Profile routes of the admin API:
 *   GET /v1/profiles?<kind>=<value>          lookup by identity
 *   GET /v1/profiles/{id}                    one profile
 *   GET /v1/profiles/{id}/timeline           its history, newest first
 *   GET /v1/profiles/{id}/journeys           its journeys (journeys.c)
 *   DELETE /v1/profiles/{id}                 erase (erase.c)
 *   PATCH, PUT /v1/profiles/{id}             change (update.c)
 * Each responds once the store has called back. A request whose client
 * has gone stays valid until it is answered (core/http/http.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/identity.h"
#include "server/server.h"

#define PROFILES_PATH "/v1/profiles"

/* The pipeline makes profile ids as 36-character UUIDs, so a much
 * longer path segment cannot be one. */
#define PROFILE_ID_MAX 128

#define TIMELINE_LIMIT_DEFAULT 50
#define TIMELINE_LIMIT_MAX 500
#define TIMELINE_CURSOR_MAX 256

/* One request waiting for the store. */
struct admin_call {
    struct crier_http_req *req;
    char *kind;                 /* lookup: the identity kind */
    char *value;                /* lookup: its normalized value */
    char *id;                   /* profile routes: the id in the path */
    char *query;                /* timeline: the raw query, for a redirect */
    json_t *timeline;           /* timeline: the request, once checked */
};


static struct admin_call *
call_new(struct crier_http_req *req)
{
    struct admin_call *call = g_new0(struct admin_call, 1);

    call->req = req;
    return call;
}


static void
call_free(struct admin_call *call)
{
    g_free(call->kind);
    g_free(call->value);
    g_free(call->id);
    g_free(call->query);
    json_decref(call->timeline);
    g_free(call);
}


/* Responds 501 and returns 1 when the store plugin lacks `op`. */
static int
respond_if_unsupported(struct crier_http_req *req, int supported,
                       const char *op)
{
    char message[160];

    if (supported)
        return 0;
    snprintf(message, sizeof(message), "the store plugin \"%s\" does not "
             "implement %s", server.store->desc->name, op);
    admin_respond_error(req, 501, NULL, message);
    return 1;
}


/* ---- GET /v1/profiles?<kind>=<value> ---- */

static void
on_lookup_loaded(void *arg, int status, json_t *result)
{
    struct admin_call *call = arg;
    json_t *profile;
    char *message;

    if (status != 0) {
        admin_respond_store_failure(call->req, "profiles_load", status);
        call_free(call);
        return;
    }
    profile = json_array_get(json_object_get(result, "profiles"), 0);
    if (profile == NULL) {
        message = g_strdup_printf("no profile has %s %s", call->kind,
                                  call->value);
        admin_respond_error(call->req, 404, NULL, message);
        g_free(message);
        call_free(call);
        return;
    }
    profile = json_deep_copy(profile);
    /* The pipeline reads `segments`; GET /v1/profiles/{id} has none, and
     * both routes return the same form. */
    json_object_del(profile, "segments");
    admin_profile_present(profile);
    http_respond_json(call->req, 200, json_pack("{s:o}", "profile",
                                                profile));
    call_free(call);
}


/*
 * Returns the stored form of `value` for identity `kind`, as ingest
 * stores it, or NULL after responding 400.
 */
static json_t *
identity_value(struct crier_http_req *req, const char *kind,
               const char *value)
{
    json_t *norm;

    /* Counted in characters, as ingest counts them. */
    if (value[0] == '\0' || !g_utf8_validate(value, -1, NULL) ||
        g_utf8_strlen(value, -1) > IDENTITY_MAX) {
        admin_respond_error(req, 400, kind, "must be 1 to 320 characters "
                            "of UTF-8, such as ?email=ana@example.gov");
        return NULL;
    }
    if (strcmp(kind, "email") == 0)
        norm = identity_normalize_email(value);
    else if (strcmp(kind, "phone") == 0)
        norm = identity_normalize_phone(value);
    else
        norm = json_string(value);
    if (norm == NULL)
        admin_respond_error(req, 400, kind, strcmp(kind, "email") == 0
                            ? "is not a valid email address"
                            : "must be an E.164 number such as "
                              "%2B13125550100");
    return norm;
}


/* Returns the query's one identity parameter, or responds 400 and
 * returns NULL. */
static const struct admin_param *
lookup_param(struct crier_http_req *req, GPtrArray *params)
{
    const struct admin_param *param;

    if (params == NULL) {
        admin_respond_error(req, 400, NULL, "the query has an invalid "
                            "percent-escape");
        return NULL;
    }
    if (params->len != 1) {
        param = params->len > 1 ? g_ptr_array_index(params, 1) : NULL;
        admin_respond_error(req, 400, param ? param->name : NULL,
                            "give exactly one identity as the query, such "
                            "as ?email=ana@example.gov");
        return NULL;
    }
    param = g_ptr_array_index(params, 0);
    if (!identity_kind_valid(param->name)) {
        admin_respond_error(req, 400, param->name, "is not an identity "
                            "kind: use lowercase letters, digits and '_', "
                            "such as email, phone or visitor");
        return NULL;
    }
    return param;
}


static void
start_lookup(struct crier_http_req *req, const struct admin_param *param)
{
    json_t *value = identity_value(req, param->name, param->value);
    struct admin_call *call;
    json_t *request;
    int rc;

    if (value == NULL)
        return;
    call = call_new(req);
    call->kind = g_strdup(param->name);
    call->value = g_strdup(json_string_value(value));
    request = json_pack("{s:[{s:s,s:o}]}", "identities", "kind",
                        param->name, "value", value);
    rc = server.store_ops->profiles_load(server.store->state, request,
                                         on_lookup_loaded, call);
    json_decref(request);
    if (rc != 0) {
        admin_respond_store_failure(req, "profiles_load", rc);
        call_free(call);
    }
}


static void
on_lookup(void *arg, struct crier_http_req *req)
{
    GPtrArray *params;
    const struct admin_param *param;

    if (!admin_authorize(req))
        return;
    params = admin_query_parse(http_req_query(req));
    param = lookup_param(req, params);
    if (param != NULL)
        start_lookup(req, param);
    if (params != NULL)
        g_ptr_array_free(params, TRUE);
}


/* ---- GET /v1/profiles/{id} and /v1/profiles/{id}/timeline ---- */

/* Responds 301 with the path of profile `into` and `tail`, which is ""
 * or "/timeline". */
static void
respond_merged(struct admin_call *call, const char *into, const char *tail)
{
    GString *location = g_string_new(PROFILES_PATH "/");
    gchar *escaped = g_uri_escape_string(into, NULL, FALSE);

    g_string_append_printf(location, "%s%s", escaped, tail);
    if (call->query != NULL && call->query[0] != '\0')
        g_string_append_printf(location, "?%s", call->query);
    http_resp_header(call->req, "Location", location->str);
    http_respond_json(call->req, 301, json_pack("{s:n,s:s}", "profile",
                                                "merged_into", into));
    g_free(escaped);
    g_string_free(location, TRUE);
}


static void
respond_unknown_profile(struct admin_call *call)
{
    char *message = g_strdup_printf("no profile has id %s", call->id);

    admin_respond_error(call->req, 404, NULL, message);
    g_free(message);
}


/* A store rejects a `before` that it did not make with CRIER_EINVAL. */
static void
respond_bad_cursor(struct crier_http_req *req)
{
    admin_respond_error(req, 400, "before", "is not a cursor from an "
                        "earlier page's \"next\"");
}


static void
on_timeline_read(void *arg, int status, json_t *result)
{
    struct admin_call *call = arg;
    json_t *entries, *next;

    if (status == CRIER_EINVAL) {
        respond_bad_cursor(call->req);
        call_free(call);
        return;
    }
    if (status != 0) {
        admin_respond_store_failure(call->req, "timeline", status);
        call_free(call);
        return;
    }
    entries = json_deep_copy(json_object_get(result, "entries"));
    next = json_object_get(result, "next");
    if (!json_is_array(entries)) {
        json_decref(entries);
        entries = json_array();
    }
    admin_entries_present(entries);
    http_respond_json(call->req, 200, json_pack("{s:o,s:O}", "entries",
                                                entries, "next",
                                                next ? next : json_null()));
    call_free(call);
}


static void
start_timeline(struct admin_call *call)
{
    int rc = server.store_ops->timeline(server.store->state, call->timeline,
                                        on_timeline_read, call);

    if (rc == CRIER_EINVAL) {
        respond_bad_cursor(call->req);
        call_free(call);
    } else if (rc != 0) {
        admin_respond_store_failure(call->req, "timeline", rc);
        call_free(call);
    }
}


static void
on_profile_read(void *arg, int status, json_t *result)
{
    struct admin_call *call = arg;
    json_t *profile = json_object_get(result, "profile");
    const char *into = json_string_value(json_object_get(result,
                                                         "merged_into"));

    if (status != 0) {
        admin_respond_store_failure(call->req, "profile_get", status);
    } else if (json_is_object(profile) && call->timeline != NULL) {
        start_timeline(call);
        return;
    } else if (json_is_object(profile)) {
        profile = json_deep_copy(profile);
        admin_profile_present(profile);
        http_respond_json(call->req, 200, json_pack("{s:o}", "profile",
                                                    profile));
    } else if (into != NULL) {
        respond_merged(call, into, call->timeline ? "/timeline" : "");
    } else {
        respond_unknown_profile(call);
    }
    call_free(call);
}


/* Reads the profile first, also for a timeline, so that an unknown or
 * merged id gets a 404 or a 301. */
static void
start_profile_read(struct admin_call *call)
{
    json_t *request = json_pack("{s:s}", "id", call->id);
    int rc = server.store_ops->profile_get(server.store->state, request,
                                           on_profile_read, call);

    json_decref(request);
    if (rc != 0) {
        admin_respond_store_failure(call->req, "profile_get", rc);
        call_free(call);
    }
}


/* Parses limit (1 to 500) into `request`, or responds 400. */
static int
timeline_limit(struct crier_http_req *req, const char *text,
               json_t *request)
{
    char *end;
    long limit = strtol(text, &end, 10);

    if (text[0] < '0' || text[0] > '9' || *end != '\0' || limit < 1 ||
        limit > TIMELINE_LIMIT_MAX) {
        admin_respond_error(req, 400, "limit", "must be an integer from 1 "
                            "to 500");
        return -1;
    }
    json_object_set_new(request, "limit", json_integer(limit));
    return 0;
}


static int
timeline_before(struct crier_http_req *req, const char *text,
                json_t *request)
{
    if (text[0] == '\0' || strlen(text) > TIMELINE_CURSOR_MAX) {
        admin_respond_error(req, 400, "before", "must be the \"next\" "
                            "cursor of an earlier page");
        return -1;
    }
    json_object_set_new(request, "before", json_string(text));
    return 0;
}


/* Builds the store's timeline request from the query, or responds 400
 * and returns NULL. */
static json_t *
timeline_request(struct crier_http_req *req, const char *id)
{
    GPtrArray *params = admin_query_parse(http_req_query(req));
    json_t *request = json_pack("{s:s,s:i}", "profile", id, "limit",
                                TIMELINE_LIMIT_DEFAULT);
    int rc = params != NULL ? 0 : -1;
    int seen_limit = 0, seen_before = 0;

    if (params == NULL)
        admin_respond_error(req, 400, NULL, "the query has an invalid "
                            "percent-escape");
    for (guint i = 0; rc == 0 && i < params->len; i++) {
        const struct admin_param *param = g_ptr_array_index(params, i);
        int is_limit = strcmp(param->name, "limit") == 0;
        int is_before = strcmp(param->name, "before") == 0;

        if ((is_limit && seen_limit++) || (is_before && seen_before++)) {
            admin_respond_error(req, 400, param->name, "is given more than "
                                "once: give it once");
            rc = -1;
        } else if (is_limit)
            rc = timeline_limit(req, param->value, request);
        else if (is_before)
            rc = timeline_before(req, param->value, request);
        else {
            admin_respond_error(req, 400, param->name, "is not a timeline "
                                "parameter: use limit and before");
            rc = -1;
        }
    }
    if (params != NULL)
        g_ptr_array_free(params, TRUE);
    if (rc != 0) {
        json_decref(request);
        return NULL;
    }
    return request;
}


/* Splits "{id}" or "{id}/timeline", the path after PROFILES_PATH "/".
 * Returns 0 for any other path. */
static int
split_profile_path(const char *rest, char **id, int *timeline)
{
    const char *slash = strchr(rest, '/');
    size_t len = slash != NULL ? (size_t) (slash - rest) : strlen(rest);

    if (len == 0 || len > PROFILE_ID_MAX)
        return 0;
    if (slash != NULL && strcmp(slash, "/timeline") != 0)
        return 0;
    *id = g_strndup(rest, len);
    *timeline = slash != NULL;
    return 1;
}


static void
on_profile_path(void *arg, struct crier_http_req *req)
{
    const char *rest = http_req_path(req) + strlen(PROFILES_PATH "/");
    struct admin_call *call;
    char *id;
    int timeline;

    if (!admin_authorize(req))
        return;
    if (g_str_has_suffix(rest, "/journeys")) {
        id = g_strndup(rest, strlen(rest) - strlen("/journeys"));
        if (id[0] != '\0' && strlen(id) <= PROFILE_ID_MAX &&
            strchr(id, '/') == NULL)
            admin_profile_journeys(req, id);
        else
            admin_respond_error(req, 404, NULL, "not found");
        g_free(id);
        return;
    }
    if (!split_profile_path(rest, &id, &timeline)) {
        admin_respond_error(req, 404, NULL, "not found");
        return;
    }
    call = call_new(req);
    call->id = id;
    if (timeline) {
        call->query = g_strdup(http_req_query(req));
        call->timeline = timeline_request(req, id);
        if (call->timeline == NULL) {
            call_free(call);
            return;
        }
    }
    if (respond_if_unsupported(req, STORE_HAS_OP(profile_get),
                               "profile_get") ||
        (timeline && respond_if_unsupported(req, STORE_HAS_OP(timeline),
                                            "timeline"))) {
        call_free(call);
        return;
    }
    start_profile_read(call);
}


int
admin_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", PROFILES_PATH, on_lookup, NULL);

    if (rc == 0)
        rc = http_route_add(http, "GET", PROFILES_PATH "/*",
                            on_profile_path, NULL);
    if (rc == 0)
        rc = http_route_add(http, "DELETE", PROFILES_PATH "/*",
                            admin_on_profile_delete, NULL);
    return rc;
}
