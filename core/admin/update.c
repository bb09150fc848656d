/*
 * PATCH and PUT /v1/profiles/{id}: an admin changes a profile's attributes
 * and consent. The read, the change and the commit run in one
 * pipeline_exclusive turn, so no batch in flight overwrites the change
 * and the next batch loads it. change.c checks and applies the body.
 */
#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "admin/change.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/internal.h"
#include "pipeline/pipeline.h"
#include "profile/limits.h"
#include "server/server.h"

#define PROFILES_PREFIX "/v1/profiles/"
#define PROFILE_ID_MAX 128

struct update_call {
    struct crier_http_req *req;
    char *id;
    int replace;                /* PUT */
    json_t *change;             /* from admin_change_parse */
    char *attribute_names;      /* for the log, once committed */
    char *consent_names;
};


static void
update_call_free(struct update_call *call)
{
    g_free(call->id);
    json_decref(call->change);
    g_free(call->attribute_names);
    g_free(call->consent_names);
    g_free(call);
}


/* Responds to a failed store call and frees `call`. */
static void
respond_failure(struct update_call *call, const char *op, int status)
{
    if (status == CRIER_ECLOSED) {
        admin_respond_error(call->req, 503, NULL, "the server is shutting "
                            "down; try again once it has restarted");
    } else {
        log_error("admin profile change failed", "id=%s op=%s error=%s",
                  call->id, op, crier_errname(status));
        admin_respond_error(call->req, 500, NULL, "the store failed; see "
                            "the server log");
    }
    update_call_free(call);
}


/* Responds 301 with the path of the profile that `id` was merged into. */
static void
respond_merged(struct crier_http_req *req, const char *into)
{
    gchar *escaped = g_uri_escape_string(into, NULL, FALSE);
    gchar *location = g_strconcat(PROFILES_PREFIX, escaped, NULL);

    http_resp_header(req, "Location", location);
    http_respond_json(req, 301, json_pack("{s:n,s:s}", "profile",
                                          "merged_into", into));
    g_free(location);
    g_free(escaped);
}


static void
respond_profile(struct crier_http_req *req, const json_t *profile)
{
    json_t *shown = json_deep_copy(profile);

    admin_profile_present(shown);
    http_respond_json(req, 200, json_pack("{s:o}", "profile", shown));
}


static void
on_reread(void *arg, int status, json_t *result)
{
    struct update_call *call = arg;
    json_t *profile = json_object_get(result, "profile");

    if (status != 0) {
        respond_failure(call, "profile_get", status);
        return;
    }
    if (!json_is_object(profile)) {
        log_error("admin profile change: changed profile not found",
                  "id=%s", call->id);
        admin_respond_error(call->req, 500, NULL, "the changed profile "
                            "could not be read back; see the server log");
    } else {
        respond_profile(call->req, profile);
    }
    update_call_free(call);
}


static void
start_read(struct update_call *call,
           void (*done)(void *arg, int status, json_t *result))
{
    json_t *request = json_pack("{s:s}", "id", call->id);
    int rc = server.store_ops->profile_get(server.store->state, request,
                                           done, call);

    json_decref(request);
    if (rc != 0) {
        pipeline_exclusive_end();
        respond_failure(call, "profile_get", rc);
    }
}


static void
on_committed(void *arg, int status, json_t *result)
{
    struct update_call *call = arg;

    pipeline_exclusive_end();
    if (status != 0) {
        respond_failure(call, "commit", status);
        return;
    }
    log_notice("profile changed by an admin", "id=%s attributes=%s "
               "consent=%s", call->id, call->attribute_names,
               call->consent_names);
    start_read(call, on_reread);
}


/* Records the names of what `changed` changes in `profile`. Returns 0
 * when nothing changes. */
static int
note_changes(struct update_call *call, const json_t *profile,
             const json_t *changed)
{
    call->attribute_names = admin_change_names(
        json_object_get(profile, "attributes"),
        json_object_get(changed, "attributes"));
    call->consent_names = admin_change_names(
        json_object_get(profile, "consent"),
        json_object_get(changed, "consent"));
    return call->attribute_names[0] != '\0' ||
           call->consent_names[0] != '\0';
}


/* Splits a comma-separated list of names into a JSON array. */
static json_t *
name_list(const char *names)
{
    json_t *list = json_array();
    gchar **parts = g_strsplit(names, ",", -1);

    for (gchar **p = parts; *p != NULL; p++)
        if (**p != '\0')
            json_array_append_new(list, json_string(*p));
    g_strfreev(parts);
    return list;
}


/* Builds the profile.updated event that records the change, with the
 * names of what changed but not the values, so that segments are
 * evaluated again and rules can react. */
static json_t *
changed_event(const struct update_call *call)
{
    return internal_event(INTERNAL_PROFILE_UPDATED, call->id,
                          clock_now_ms(),
                          json_pack("{s:o,s:o}", "attributes",
                                    name_list(call->attribute_names),
                                    "consent",
                                    name_list(call->consent_names)));
}


/* Applies the change to the profile just read and commits it. A change
 * that changes nothing is not committed, and the profile is returned
 * as it is. */
static void
on_read(void *arg, int status, json_t *result)
{
    struct update_call *call = arg;
    json_t *profile = json_object_get(result, "profile");
    const char *into = json_string_value(json_object_get(result,
                                                         "merged_into"));
    json_t *changed, *commit;
    char message[200];
    int rc;

    if (status != 0 || !json_is_object(profile)) {
        pipeline_exclusive_end();
        if (status != 0) {
            respond_failure(call, "profile_get", status);
            return;
        }
        if (into != NULL) {
            respond_merged(call->req, into);
        } else {
            g_snprintf(message, sizeof(message), "no profile has id %s",
                       call->id);
            admin_respond_error(call->req, 404, NULL, message);
        }
        update_call_free(call);
        return;
    }
    changed = admin_change_apply(profile, call->change, call->replace,
                                 clock_now_ms());
    if (profile_attributes_within(json_object_get(profile, "attributes"),
                                  json_object_get(changed, "attributes"),
                                  message, sizeof(message)) != 0) {
        pipeline_exclusive_end();
        json_decref(changed);
        admin_respond_error(call->req, 413, "attributes", message);
        update_call_free(call);
        return;
    }
    if (!note_changes(call, profile, changed)) {
        pipeline_exclusive_end();
        json_decref(changed);
        respond_profile(call->req, profile);
        update_call_free(call);
        return;
    }
    commit = json_pack("{s:[o],s:[o]}", "profiles", changed, "events",
                       changed_event(call));
    rc = server.store_ops->commit(server.store->state, commit, on_committed,
                                  call);
    json_decref(commit);
    if (rc != 0) {
        pipeline_exclusive_end();
        respond_failure(call, "commit", rc);
    }
}


/* Runs between two pipeline batches (pipeline_exclusive). */
static void
on_turn(void *arg)
{
    start_read(arg, on_read);
}


/* Returns the id of "/v1/profiles/{id}", or NULL for another path. */
static char *
profile_id(const char *path)
{
    const char *rest = path + strlen(PROFILES_PREFIX);
    size_t len = strlen(rest);

    if (len == 0 || len > PROFILE_ID_MAX || strchr(rest, '/') != NULL)
        return NULL;
    return g_strdup(rest);
}


/* Returns the checked change in the body, or responds 400 and returns
 * NULL. */
static json_t *
body_change(struct crier_http_req *req, int replace)
{
    struct admin_change_error err;
    json_t *body, *change;
    char *message;

    if (admin_body_load(req, JSON_DECODE_ANY, &body) != 0)
        return NULL;
    if (body == NULL) {
        admin_respond_error(req, 400, NULL, "the body is not valid JSON: "
                            "send a JSON object");
        return NULL;
    }
    change = admin_change_parse(body, replace,
                                server.settings.attribute_types, &err);
    json_decref(body);
    if (change == NULL && err.field[0] != '\0') {
        message = g_strdup_printf("%s %s", err.field, err.message);
        admin_respond_error(req, 400, err.field, message);
        g_free(message);
    } else if (change == NULL) {
        admin_respond_error(req, 400, NULL, err.message);
    }
    return change;
}


static void
on_change(struct crier_http_req *req, int replace)
{
    struct update_call *call;
    char *id;

    if (!admin_authorize(req))
        return;
    id = profile_id(http_req_path(req));
    if (id == NULL) {
        admin_respond_error(req, 404, NULL, "not found");
        return;
    }
    call = g_new0(struct update_call, 1);
    call->req = req;
    call->id = id;
    call->replace = replace;
    if (!STORE_HAS_OP(profile_get)) {
        admin_respond_error(req, 501, NULL, "the store plugin does not "
                            "implement profile_get");
        update_call_free(call);
        return;
    }
    call->change = body_change(req, replace);
    if (call->change == NULL) {
        update_call_free(call);
        return;
    }
    if (pipeline_exclusive(on_turn, call) != 0) {
        admin_respond_error(req, 503, NULL, "the server is shutting down; "
                            "try again once it has restarted");
        update_call_free(call);
    }
}


static void
on_patch(void *arg, struct crier_http_req *req)
{
    on_change(req, 0);
}


static void
on_put(void *arg, struct crier_http_req *req)
{
    on_change(req, 1);
}


int
admin_update_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "PATCH", PROFILES_PREFIX "*", on_patch,
                            NULL);

    if (rc == 0)
        rc = http_route_add(http, "PUT", PROFILES_PREFIX "*", on_put, NULL);
    return rc;
}
