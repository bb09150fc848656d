/*
 * POST /v1/profiles/{id}/merge {"from": "<id>"}: merges two profiles, for
 * a resident known under two profiles. The profile in the path survives
 * with its id, stages and attribute values; the other one's identities,
 * events, stage history and jobs move to it, and per channel the more
 * restrictive consent wins. The merge runs between two pipeline batches.
 */
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "pipeline/pipeline.h"
#include "server/server.h"

#define PROFILES_PREFIX "/v1/profiles/"
#define MERGE_SUFFIX "/merge"
#define PROFILE_ID_MAX 128

struct merge_call {
    struct crier_http_req *req;
    char *from;
    char *into;
};


static void
merge_call_free(struct merge_call *call)
{
    g_free(call->from);
    g_free(call->into);
    g_free(call);
}


static void
on_merged(void *arg, int status, json_t *result)
{
    struct merge_call *call = arg;
    char message[300];

    if (status == 0 &&
        json_integer_value(json_object_get(result, "merged")) > 0) {
        log_notice("profiles merged by an admin", "from=%s into=%s",
                   call->from, call->into);
        http_respond_json(call->req, 200,
                          json_pack("{s:b,s:s,s:s}", "merged", 1, "from",
                                    call->from, "into", call->into));
    } else if (status == 0) {
        snprintf(message, sizeof(message), "profile %s not found",
                 call->from);
        admin_respond_error(call->req, 404, "from", message);
    } else if (status == CRIER_ENOTFOUND) {
        snprintf(message, sizeof(message), "profile %s not found",
                 call->into);
        admin_respond_error(call->req, 404, NULL, message);
    } else {
        log_error("admin merge failed", "from=%s into=%s error=%s",
                  call->from, call->into, crier_errname(status));
        admin_respond_error(call->req, 503, NULL, "the store could not "
                            "merge the profiles; retry later");
    }
    merge_call_free(call);
}


/* Returns the id in "{id}/merge", or NULL. */
static char *
merge_target(const char *path)
{
    const char *rest = path + strlen(PROFILES_PREFIX);
    size_t len = strlen(rest);
    size_t suffix = strlen(MERGE_SUFFIX);

    if (len <= suffix || strcmp(rest + len - suffix, MERGE_SUFFIX) != 0)
        return NULL;
    len -= suffix;
    if (len > PROFILE_ID_MAX || memchr(rest, '/', len) != NULL)
        return NULL;
    return g_strndup(rest, len);
}


/* Reads {"from": "<id>"}; responds 400 and returns NULL when it is bad. */
static char *
merge_source(struct crier_http_req *req, const char *into)
{
    json_t *body, *from;
    char *id = NULL;

    if (admin_body_load(req, 0, &body) != 0)
        return NULL;
    from = json_object_get(body, "from");
    if (!json_is_string(from) || json_string_length(from) == 0 ||
        json_string_length(from) > PROFILE_ID_MAX)
        admin_respond_error(req, 400, "from", "the body must be {\"from\": "
                            "\"<profile id>\"}, the profile to merge into "
                            "this one");
    else if (strcmp(json_string_value(from), into) == 0)
        admin_respond_error(req, 400, "from", "a profile cannot be merged "
                            "into itself");
    else
        id = g_strdup(json_string_value(from));
    json_decref(body);
    return id;
}


static void
on_profile_post(void *arg, struct crier_http_req *req)
{
    struct merge_call *call;
    char *into;
    int rc;

    if (!admin_authorize(req))
        return;
    into = merge_target(http_req_path(req));
    if (into == NULL) {
        admin_respond_error(req, 404, NULL, "not found");
        return;
    }
    call = g_new0(struct merge_call, 1);
    call->req = req;
    call->into = into;
    call->from = merge_source(req, into);
    if (call->from == NULL) {
        merge_call_free(call);
        return;
    }
    rc = pipeline_merge(call->from, call->into, clock_now_ms(), on_merged,
                        call);
    if (rc != 0) {
        admin_respond_error(req, 503, NULL, "crier is shutting down; retry");
        merge_call_free(call);
    }
}


int
admin_merge_routes_add(struct http_server *http)
{
    return http_route_add(http, "POST", PROFILES_PREFIX "*", on_profile_post,
                          NULL);
}
