/*
 * DELETE /v1/profiles/{id}: erases a profile (the right to be forgotten)
 * through the store's profile_erase. docs/admin-api.md describes the
 * responses, and docs/internals/store.md what the store removes.
 */
#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "server/server.h"

#define PROFILES_PREFIX "/v1/profiles/"

/* The pipeline's cursor (CURSOR_NAME in core/pipeline/pipeline.c). The
 * store refuses the erase while it is behind the last stored event,
 * because events it has not processed are not linked to their profile
 * yet and would create the profile again from their identities. */
#define PIPELINE_CURSOR "pipeline"

/* Profile ids are 36-character UUIDs, as in profiles.c. */
#define PROFILE_ID_MAX 128

struct erase_call {
    struct crier_http_req *req;
    char *id;
};


static void
erase_call_free(struct erase_call *call)
{
    g_free(call->id);
    g_free(call);
}


static int
store_has_erase(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL
           && ops->size >= offsetof(struct crier_store_ops, profile_erase)
                           + sizeof(ops->profile_erase)
           && ops->profile_erase != NULL;
}


static void
respond_erase_failure(struct crier_http_req *req, const char *id, int rc)
{
    if (rc == CRIER_EBUSY) {
        http_resp_header(req, "Retry-After", "1");
        admin_respond_error(req, 409, NULL, "the pipeline has not caught "
                            "up; retry in a moment");
        return;
    }
    if (rc == CRIER_ECLOSED) {
        admin_respond_error(req, 503, NULL, "the server is shutting down; "
                            "try again once it has restarted");
        return;
    }
    log_error("admin store call failed", "op=profile_erase profile=%s "
              "error=%s", id, crier_strerror(rc));
    admin_respond_error(req, 500, NULL, "the store failed to erase the "
                        "profile; see the server log");
}


/* Responds to an erase that changed nothing: 409 for a merged-away id,
 * which names the profile to erase instead, and 404 otherwise. */
static void
respond_not_erased(struct erase_call *call, const char *into)
{
    char *message;

    if (into != NULL) {
        message = g_strdup_printf("profile %s was merged into %s; erase "
                                  "%s instead", call->id, into, into);
        http_respond_json(call->req, 409, json_pack("{s:s, s:s}", "error",
                                                    message, "merged_into",
                                                    into));
    } else {
        message = g_strdup_printf("no profile has id %s", call->id);
        admin_respond_error(call->req, 404, NULL, message);
    }
    g_free(message);
}


static void
on_profile_erased(void *arg, int status, json_t *result)
{
    struct erase_call *call = arg;

    if (status != 0) {
        respond_erase_failure(call->req, call->id, status);
    } else if (!json_is_true(json_object_get(result, "erased"))) {
        respond_not_erased(call, json_string_value(
                               json_object_get(result, "merged_into")));
    } else {
        /* Only the id and counts: the log must not keep what the erase
         * removed. */
        log_notice("profile erased", "profile=%s events=%lld jobs=%lld "
                   "suppressed=%lld", call->id,
                   (long long)json_integer_value(
                       json_object_get(result, "events")),
                   (long long)json_integer_value(
                       json_object_get(result, "jobs")),
                   (long long)json_integer_value(
                       json_object_get(result, "suppressed")));
        http_respond_json(call->req, 200, json_deep_copy(result));
    }
    erase_call_free(call);
}


static void
erase_start(struct erase_call *call)
{
    json_t *request = json_pack("{s:s, s:I, s:s}", "id", call->id, "now",
                                (json_int_t)clock_now_ms(), "cursor",
                                PIPELINE_CURSOR);
    int rc = server.store_ops->profile_erase(server.store->state, request,
                                             on_profile_erased, call);

    json_decref(request);
    if (rc != 0) {
        respond_erase_failure(call->req, call->id, rc);
        erase_call_free(call);
    }
}


void
admin_on_profile_delete(void *arg, struct crier_http_req *req)
{
    const char *id = http_req_path(req) + strlen(PROFILES_PREFIX);
    struct erase_call *call;
    char message[160];

    (void)arg;
    if (!admin_authorize(req))
        return;
    if (id[0] == '\0' || strlen(id) > PROFILE_ID_MAX
        || strchr(id, '/') != NULL) {
        admin_respond_error(req, 404, NULL, "not found");
        return;
    }
    if (!store_has_erase()) {
        snprintf(message, sizeof(message), "the store plugin \"%s\" does "
                 "not implement profile_erase", server.store->desc->name);
        admin_respond_error(req, 501, NULL, message);
        return;
    }
    call = g_new0(struct erase_call, 1);
    call->req = req;
    call->id = g_strdup(id);
    erase_start(call);
}
