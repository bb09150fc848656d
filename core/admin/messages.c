/*
 * Message routes of the admin API:
 *   GET /v1/messages?state=&rule=&limit=&before=   a page, newest first
 *   GET /v1/messages/{id}                          one message
 *   POST /v1/messages/{id}/retry                   retry a failed or dead one
 *   POST /v1/messages/retry?state=dead|failed      retry all of a state
 * A message is a job of the outbox; docs/delivery.md describes its states.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "delivery/outbox.h"
#include "http/http.h"
#include "server/server.h"

#define MESSAGES_PATH "/v1/messages"
#define RETRY_SUFFIX "/retry"
#define MESSAGES_LIMIT_MAX 1000

/* One request waiting for the store. A bulk retry walks `ids`. */
struct message_call {
    struct crier_http_req *req;
    int64_t id;
    json_int_t limit;           /* the page size of a list */
    json_t *ids;
    size_t next;
    size_t retried;
};


static void
message_call_free(struct message_call *call)
{
    json_decref(call->ids);
    g_free(call);
}


/* Responds 501 and returns 0 when the store lacks job_retry. */
static int
store_supports_retry(struct crier_http_req *req)
{
    char message[160];

    if (STORE_HAS_OP(job_retry))
        return 1;
    snprintf(message, sizeof(message), "the store plugin \"%s\" does not "
             "implement job_retry", server.store->desc->name);
    admin_respond_error(req, 501, NULL, message);
    return 0;
}


/* Replaces an integer time member with an RFC 3339 string; null stays. */
static void
present_time(json_t *message, const char *name)
{
    json_t *v = json_object_get(message, name);
    char text[32];

    if (!json_is_integer(v))
        return;
    clock_format_ms(json_integer_value(v), text, sizeof(text));
    json_object_set_new(message, name, json_string(text));
}


/* Turns a listed job into the message form of the API: times as RFC 3339
 * and the lane as a class, without the claim's generation and owner. */
static void
present_message(json_t *m)
{
    json_t *lane = json_object_get(m, "lane");
    json_t *attempt;
    size_t i;

    present_time(m, "due");
    present_time(m, "created");
    present_time(m, "updated");
    present_time(m, "lease_until");
    json_object_set_new(m, "class",
                        json_string(json_integer_value(lane) == 0
                                    ? "service" : "outreach"));
    json_object_del(m, "lane");
    json_object_del(m, "generation");
    json_object_del(m, "owner");
    json_array_foreach(json_object_get(m, "attempt_log"), i, attempt)
        present_time(attempt, "time");
    present_time(json_object_get(m, "delivery"), "time");
}


/* Reads one parameter of the list query into `request`, or responds 400
 * and returns -1. */
static int
list_param(struct crier_http_req *req, const struct admin_param *param,
           json_t *request)
{
    char *end;
    long long n;

    if (strcmp(param->name, "state") == 0) {
        static const char *const states[] = {
            "planned", "claimed", "sending", "sent", "failed", "dead",
            "suppressed", NULL
        };

        for (int i = 0; states[i] != NULL; i++)
            if (strcmp(states[i], param->value) == 0) {
                json_object_set_new(request, "state",
                                    json_string(param->value));
                return 0;
            }
        admin_respond_error(req, 400, "state", "must be planned, claimed, "
                            "sending, sent, failed, dead or suppressed");
        return -1;
    }
    if (strcmp(param->name, "rule") == 0) {
        if (param->value[0] == '\0') {
            admin_respond_error(req, 400, "rule", "must not be empty");
            return -1;
        }
        json_object_set_new(request, "rule", json_string(param->value));
        return 0;
    }
    if (strcmp(param->name, "limit") == 0 ||
        strcmp(param->name, "before") == 0) {
        int limit = strcmp(param->name, "limit") == 0;

        errno = 0;
        n = strtoll(param->value, &end, 10);
        if (param->value[0] < '0' || param->value[0] > '9' || *end != '\0' ||
            errno == ERANGE || n < 1 || (limit && n > MESSAGES_LIMIT_MAX)) {
            admin_respond_error(req, 400, param->name, limit
                                ? "must be an integer from 1 to 1000"
                                : "must be the \"next\" id of an earlier "
                                  "page");
            return -1;
        }
        json_object_set_new(request, param->name, json_integer(n));
        return 0;
    }
    admin_respond_error(req, 400, param->name, "is not a messages "
                        "parameter: use state, rule, limit and before");
    return -1;
}


/* Parses the query of GET /v1/messages into a jobs_list request, or
 * responds 400 and returns NULL. */
static json_t *
list_request(struct crier_http_req *req)
{
    GPtrArray *params = admin_query_parse(http_req_query(req));
    json_t *request = json_pack("{s:i}", "limit", 100);
    int rc = 0;

    if (params == NULL) {
        admin_respond_error(req, 400, NULL, "the query has an invalid "
                            "percent-escape");
        json_decref(request);
        return NULL;
    }
    for (guint i = 0; rc == 0 && i < params->len; i++) {
        const struct admin_param *param = g_ptr_array_index(params, i);

        /* A second value would silently replace the first. */
        for (guint j = 0; rc == 0 && j < i; j++) {
            const struct admin_param *earlier = g_ptr_array_index(params, j);

            if (strcmp(earlier->name, param->name) == 0) {
                admin_respond_error(req, 400, param->name, "is repeated; "
                                    "give each parameter once");
                rc = -1;
            }
        }
        if (rc == 0)
            rc = list_param(req, param, request);
    }
    g_ptr_array_free(params, TRUE);
    if (rc != 0) {
        json_decref(request);
        return NULL;
    }
    return request;
}


static void
on_list(void *arg, int status, json_t *result)
{
    struct message_call *call = arg;
    json_t *jobs = json_object_get(result, "jobs");
    json_t *last = json_array_get(jobs, json_array_size(jobs) - 1);
    size_t i;
    json_t *m;

    if (status < 0) {
        admin_respond_store_failure(call->req, "jobs_list", status);
        message_call_free(call);
        return;
    }
    json_array_foreach(jobs, i, m)
        present_message(m);

    /* A full page may have more after it; the last id is the cursor. */
    http_respond_json(call->req, 200, json_pack(
        "{s:O,s:O,s:o}", "messages", jobs, "counts",
        json_object_get(result, "counts"), "next",
        (json_int_t) json_array_size(jobs) == call->limit && last != NULL
            ? json_incref(json_object_get(last, "id")) : json_null()));
    message_call_free(call);
}


static void
on_messages(void *arg, struct crier_http_req *req)
{
    struct message_call *call;
    json_t *request;
    int rc;

    if (!admin_authorize(req) || (request = list_request(req)) == NULL)
        return;
    call = g_new0(struct message_call, 1);
    call->req = req;
    call->limit = json_integer_value(json_object_get(request, "limit"));
    rc = server.store_ops->jobs_list(server.store->state, request, on_list,
                                     call);
    json_decref(request);
    if (rc < 0) {
        admin_respond_store_failure(req, "jobs_list", rc);
        message_call_free(call);
    }
}


static void
on_one(void *arg, int status, json_t *result)
{
    struct message_call *call = arg;
    json_t *m = json_array_get(json_object_get(result, "jobs"), 0);
    char message[96];

    if (status < 0) {
        admin_respond_store_failure(call->req, "jobs_list", status);
    } else if (m == NULL || json_integer_value(json_object_get(m, "id"))
                            != call->id) {
        snprintf(message, sizeof(message), "message not found: %lld",
                 (long long) call->id);
        admin_respond_error(call->req, 404, NULL, message);
    } else {
        m = json_deep_copy(m);
        present_message(m);
        http_respond_json(call->req, 200, m);
    }
    message_call_free(call);
}


/* Reads message `call->id`: the newest job below id + 1 is that job when
 * it exists. */
static void
get_one(struct message_call *call)
{
    json_t *request = json_pack("{s:i,s:I,s:b}", "limit", 1, "before",
                                (json_int_t) call->id + 1, "attempts", 1);
    int rc = server.store_ops->jobs_list(server.store->state, request,
                                         on_one, call);

    json_decref(request);
    if (rc < 0) {
        admin_respond_store_failure(call->req, "jobs_list", rc);
        message_call_free(call);
    }
}


static void
on_retried(void *arg, int status, json_t *result)
{
    struct message_call *call = arg;
    char message[128];

    if (status == CRIER_ENOTFOUND) {
        snprintf(message, sizeof(message), "message not found: %lld",
                 (long long) call->id);
        admin_respond_error(call->req, 404, NULL, message);
    } else if (status == CRIER_ESTALE) {
        admin_respond_error(call->req, 409, NULL, "only a failed or dead "
                            "message can be retried; GET the message to "
                            "see its state");
    } else if (status < 0) {
        admin_respond_store_failure(call->req, "job_retry", status);
    } else {
        log_notice("message retried by hand", "job=%lld",
                   (long long) call->id);
        outbox_kick();
        http_respond_json(call->req, 200, json_pack("{s:I,s:O}", "id",
                          (json_int_t) call->id, "state",
                          json_object_get(result, "state")));
    }
    message_call_free(call);
}


static void
retry_one(struct message_call *call)
{
    json_t *request = json_pack("{s:I,s:I}", "id", (json_int_t) call->id,
                                "now", (json_int_t) clock_now_ms());
    int rc = server.store_ops->job_retry(server.store->state, request,
                                         on_retried, call);

    json_decref(request);
    if (rc < 0)
        on_retried(call, rc, NULL);
}


/* Parses "{id}" or "{id}/retry", the path after MESSAGES_PATH "/".
 * Returns the id, or 0 for another path. */
static int64_t
id_of_path(const char *rest, int *retry)
{
    char *end;
    long long id = strtoll(rest, &end, 10);

    *retry = strcmp(end, RETRY_SUFFIX) == 0;
    if (rest[0] < '1' || rest[0] > '9' || id < 1 || id == LLONG_MAX ||
        (*end != '\0' && !*retry))
        return 0;
    return id;
}


static void
on_message_path(void *arg, struct crier_http_req *req)
{
    const char *rest = http_req_path(req) + strlen(MESSAGES_PATH "/");
    int post = strcmp(http_req_method(req), "POST") == 0;
    struct message_call *call;
    int retry;
    int64_t id;

    if (!admin_authorize(req))
        return;
    id = id_of_path(rest, &retry);
    if (id == 0 || retry != post) {
        admin_respond_error(req, 404, NULL, "not found: use GET "
                            MESSAGES_PATH "/{id} or POST " MESSAGES_PATH
                            "/{id}/retry");
        return;
    }
    if (post && !store_supports_retry(req))
        return;
    call = g_new0(struct message_call, 1);
    call->req = req;
    call->id = id;
    if (post)
        retry_one(call);
    else
        get_one(call);
}


static void retry_next(struct message_call *call);


static void
on_bulk_retried(void *arg, int status, json_t *result)
{
    struct message_call *call = arg;

    /* A job that moved on since it was listed (ESTALE) is skipped. */
    if (status < 0 && status != CRIER_ESTALE && status != CRIER_ENOTFOUND) {
        admin_respond_store_failure(call->req, "job_retry", status);
        message_call_free(call);
        return;
    }
    if (status == 0)
        call->retried++;
    retry_next(call);
}


static void
retry_next(struct message_call *call)
{
    json_t *request;
    int rc;

    if (call->next == json_array_size(call->ids)) {
        log_notice("messages retried by hand", "count=%zu", call->retried);
        if (call->retried > 0)
            outbox_kick();
        http_respond_json(call->req, 200, json_pack("{s:I}", "retried",
                          (json_int_t) call->retried));
        message_call_free(call);
        return;
    }
    request = json_pack("{s:O,s:I}", "id",
                        json_array_get(call->ids, call->next++), "now",
                        (json_int_t) clock_now_ms());
    rc = server.store_ops->job_retry(server.store->state, request,
                                     on_bulk_retried, call);
    json_decref(request);
    if (rc < 0)
        on_bulk_retried(call, rc, NULL);
}


static void
on_bulk_list(void *arg, int status, json_t *result)
{
    struct message_call *call = arg;
    size_t i;
    json_t *job;

    if (status < 0) {
        admin_respond_store_failure(call->req, "jobs_list", status);
        message_call_free(call);
        return;
    }
    call->ids = json_array();
    json_array_foreach(json_object_get(result, "jobs"), i, job)
        json_array_append(call->ids, json_object_get(job, "id"));
    retry_next(call);
}


/*
 * POST /v1/messages/retry?state=dead or failed. Retries up to 1000 of the
 * newest messages of that state; a caller repeats it while "retried" is
 * 1000.
 */
static void
on_bulk_retry(void *arg, struct crier_http_req *req)
{
    const char *query = http_req_query(req);
    struct message_call *call;
    json_t *request;
    int rc;

    if (!admin_authorize(req) || !store_supports_retry(req))
        return;
    if (g_strcmp0(query, "state=dead") != 0 &&
        g_strcmp0(query, "state=failed") != 0) {
        admin_respond_error(req, 400, "state", "must be dead or failed, as "
                            "in " MESSAGES_PATH RETRY_SUFFIX "?state=dead");
        return;
    }
    call = g_new0(struct message_call, 1);
    call->req = req;
    request = json_pack("{s:s,s:i}", "state", query + strlen("state="),
                        "limit", MESSAGES_LIMIT_MAX);
    rc = server.store_ops->jobs_list(server.store->state, request,
                                     on_bulk_list, call);
    json_decref(request);
    if (rc < 0) {
        admin_respond_store_failure(req, "jobs_list", rc);
        message_call_free(call);
    }
}


int
admin_message_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", MESSAGES_PATH, on_messages, NULL);

    if (rc == 0)
        rc = http_route_add(http, "POST", MESSAGES_PATH RETRY_SUFFIX,
                            on_bulk_retry, NULL);
    if (rc == 0)
        rc = http_route_add(http, "GET", MESSAGES_PATH "/*",
                            on_message_path, NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", MESSAGES_PATH "/*",
                            on_message_path, NULL);
    return rc;
}
