/*
 * Bulletin routes of the admin API:
 *   POST  /v1/bulletins                      create and start (or schedule)
 *   GET   /v1/bulletins                      every bulletin with progress
 *   GET   /v1/bulletins/{id}                 one bulletin with progress
 *   PATCH /v1/bulletins/{id}                 change the rate
 *   POST  /v1/bulletins/{id}/pause|resume|cancel
 * Progress is counted from the bulletin's jobs (jobs_tally).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "bulletins/bulletins.h"
#include "bulletins/pace.h"
#include "http/http.h"
#include "server/server.h"

#define BULLETINS_PATH "/v1/bulletins"
#define BULLETIN_ID_MAX 64

/* One request waiting for the store. A list reads one tally after the
 * other, starting with ids[next]. */
struct bulletin_call {
    struct crier_http_req *req;
    int status;                 /* the HTTP status of the response */
    GPtrArray *ids;             /* bulletin ids still to present */
    guint next;
    json_t *list;               /* NULL for a single bulletin */
    int scanned;                /* the bulletin's mark when its tally was
                                 * requested */
};


static void
call_free(struct bulletin_call *call)
{
    if (call->ids != NULL)
        g_ptr_array_unref(call->ids);
    json_decref(call->list);
    g_free(call);
}


static int
store_supports_bulletins(struct crier_http_req *req)
{
    char message[160];

    if (STORE_HAS_OP(jobs_tally) && STORE_HAS_OP(object_put) &&
        STORE_HAS_OP(subscriptions_read))
        return 1;
    snprintf(message, sizeof(message), "the store plugin \"%s\" does not "
             "implement the bulletin operations", server.store->desc->name);
    admin_respond_error(req, 501, NULL, message);
    return 0;
}


static json_int_t
tally_count(const json_t *states, const char *state)
{
    return json_integer_value(json_object_get(states, state));
}


/* Returns the number of the bulletin's jobs in `tally` not yet sent. */
static json_int_t
tally_pending(const json_t *tally)
{
    const json_t *states = json_object_get(tally, "states");

    return tally_count(states, "planned") + tally_count(states, "claimed") +
           tally_count(states, "sending");
}


/*
 * Returns the state that the API shows: the stored one, but "scheduled"
 * before send_at, and "complete" once every recipient was considered and
 * no job waits to be sent. `scanned` is the bulletin's mark taken when
 * the tally was requested: a mark set later may follow a commit that the
 * tally did not see, and the bulletin would show "complete" too early.
 */
static const char *
shown_state(const struct bulletin *b, const json_t *tally, int scanned)
{
    if (strcmp(b->state, "sending") == 0 && b->send_at > clock_now_ms())
        return "scheduled";
    if (strcmp(b->state, "sending") == 0 && scanned &&
        tally_pending(tally) == 0)
        return "complete";
    return b->state;
}


/* Adds "progress" and the state that the API shows. */
static json_t *
bulletin_present(const struct bulletin *b, const json_t *tally,
                 int scanned)
{
    json_t *out = bulletin_json(b);
    json_t *states = json_object_get(tally, "states");
    json_int_t pending = tally_pending(tally);
    json_int_t total = 0;
    const char *key;
    json_t *value;

    json_object_foreach(states, key, value)
        total += json_integer_value(value);
    json_object_set_new(out, "progress", json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:O}", "planned", total, "pending", pending,
        "sent", tally_count(states, "sent"), "failed",
        tally_count(states, "failed") + tally_count(states, "dead"),
        "suppressed", tally_count(states, "suppressed"), "suppressed_by",
        json_object_get(tally, "reasons")));
    json_object_set_new(out, "state", json_string(shown_state(b, tally,
                                                               scanned)));
    return out;
}


static void present_next(struct bulletin_call *call);


/* Responds 503 and returns 0 until the stored bulletins are read back after a
 * start, so that no response leaves them out. */
static int
bulletins_loaded(struct crier_http_req *req)
{
    if (bulletins_ready())
        return 1;
    http_resp_header(req, "Retry-After", "1");
    admin_respond_error(req, 503, NULL, "the stored bulletins are still being "
                        "read; retry in a moment");
    return 0;
}


static void
on_tally(void *arg, int status, json_t *result)
{
    struct bulletin_call *call = arg;
    const struct bulletin *b = bulletin_find(g_ptr_array_index(
        call->ids, call->next - 1));

    if (status < 0) {
        admin_respond_store_failure(call->req, "jobs_tally", status);
        call_free(call);
        return;
    }
    if (call->list == NULL) {
        http_respond_json(call->req, call->status,
                          bulletin_present(b, result, call->scanned));
        call_free(call);
        return;
    }
    if (b != NULL)
        json_array_append_new(call->list,
                              bulletin_present(b, result, call->scanned));
    present_next(call);
}


/* Reads the tally of the next bulletin, or responds once all are read. */
static void
present_next(struct bulletin_call *call)
{
    const struct bulletin *b;
    json_t *request;
    int rc;

    if (call->next == call->ids->len) {
        http_respond_json(call->req, 200, json_pack("{s:O}", "bulletins",
                                                    call->list));
        call_free(call);
        return;
    }
    b = bulletin_find(g_ptr_array_index(call->ids, call->next));
    call->scanned = b != NULL && b->scanned;
    request = json_pack("{s:s+}", "rule", BULLETIN_RULE_PREFIX,
                        (const char *) g_ptr_array_index(call->ids,
                                                         call->next++));
    rc = server.store_ops->jobs_tally(server.store->state, request,
                                      on_tally, call);
    json_decref(request);
    if (rc < 0) {
        admin_respond_store_failure(call->req, "jobs_tally", rc);
        call_free(call);
    }
}


/* Responds with one bulletin and its progress. */
static void
respond_bulletin(struct crier_http_req *req, int status,
                 const struct bulletin *b)
{
    struct bulletin_call *call = g_new0(struct bulletin_call, 1);

    call->req = req;
    call->status = status;
    call->ids = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(call->ids, g_strdup(b->id));
    present_next(call);
}


static void
add_id(struct bulletin *b, void *arg)
{
    g_ptr_array_add(arg, g_strdup(b->id));
}


static void
on_list(void *arg, struct crier_http_req *req)
{
    struct bulletin_call *call;

    if (!admin_authorize(req) || !bulletins_loaded(req) ||
        !store_supports_bulletins(req))
        return;
    call = g_new0(struct bulletin_call, 1);
    call->req = req;
    call->ids = g_ptr_array_new_with_free_func(g_free);
    call->list = json_array();
    bulletins_each(add_id, call->ids);
    present_next(call);
}


/* A request whose response waits for the bulletin to be stored. */
struct save_wait {
    struct crier_http_req *req;
    int status;
    char *id;
};


static void
on_saved(void *arg, int status)
{
    struct save_wait *wait = arg;
    const struct bulletin *b = bulletin_find(wait->id);

    if (status < 0)
        admin_respond_store_failure(wait->req, "object_put", status);
    else if (b == NULL)
        admin_respond_error(wait->req, 404, NULL, "no such bulletin");
    else
        respond_bulletin(wait->req, wait->status, b);
    if (status == 0)
        bulletins_kick();
    g_free(wait->id);
    g_free(wait);
}


static void
save_then_respond(struct crier_http_req *req, int status, struct bulletin *b)
{
    struct save_wait *wait = g_new0(struct save_wait, 1);

    wait->req = req;
    wait->status = status;
    wait->id = g_strdup(b->id);
    bulletin_save(b, on_saved, wait);
}


static void
on_create(void *arg, struct crier_http_req *req)
{
    static const char *const members[] = {
        "template", "topic", "segment", "channel", "send_at", "rate", NULL
    };
    json_t *body;
    const char *field = NULL;
    char error[200];
    struct bulletin *b;

    if (!admin_authorize(req) || !bulletins_loaded(req) ||
        !store_supports_bulletins(req) || admin_body_load(req, 0, &body) != 0)
        return;
    if (!json_is_object(body)) {
        json_decref(body);
        admin_respond_error(req, 400, NULL, "the body must be a JSON object: "
                            "{\"template\", \"topic\", \"segment\", "
                            "\"channel\", \"send_at\", \"rate\"}");
        return;
    }
    field = admin_member_unknown(body, members);
    if (field != NULL) {
        snprintf(error, sizeof(error), "%.64s is not a member of a "
                 "bulletin: use template, topic, segment, channel, send_at "
                 "and rate", field);
        admin_respond_error(req, 400, field, error);
        json_decref(body);
        return;
    }
    b = bulletin_create(body, &field, error, sizeof(error));
    json_decref(body);
    if (b == NULL) {
        admin_respond_error(req, 400, field, error);
        return;
    }
    log_notice("bulletin created", "bulletin=%s template=%s topic=%s "
               "segment=%s rate=%lld", b->id, b->template_name,
               b->topic ? b->topic : "", b->segment ? b->segment : "",
               (long long) b->rate);
    save_then_respond(req, 201, b);
}


/* Splits /v1/bulletins/{id}[/action] into a new id and *action (NULL for
 * none). Returns NULL for a path of another form. */
static char *
path_split(const char *path, const char **action)
{
    const char *rest = path + strlen(BULLETINS_PATH "/");
    const char *slash = strchr(rest, '/');
    size_t len = slash ? (size_t) (slash - rest) : strlen(rest);

    *action = slash ? slash + 1 : NULL;
    if (len == 0 || len > BULLETIN_ID_MAX ||
        (*action != NULL && strchr(*action, '/') != NULL))
        return NULL;
    return g_strndup(rest, len);
}


/* A pause, resume, cancel or rate change waiting for the bulletin's
 * tally, from which its completeness is worked out. */
struct change_call {
    struct crier_http_req *req;
    char *id;
    const char *to;             /* the new state, or NULL for a rate */
    int64_t rate;
    int scanned;                /* the bulletin's mark when its tally was
                                 * requested */
};


/* Returns the state that `action` moves a bulletin to, or NULL. */
static const char *
action_state(const char *action)
{
    if (strcmp(action, "pause") == 0)
        return "paused";
    if (strcmp(action, "resume") == 0)
        return "sending";
    if (strcmp(action, "cancel") == 0)
        return "cancelled";
    return NULL;
}


/* Applies the change. A new rate, and the rate after a resume, count
 * from now and from the jobs in `tally`, so paused time allows none. */
static void
change_apply(struct change_call *call, struct bulletin *b,
             const json_t *tally)
{
    if (call->to == NULL) {
        log_notice("bulletin rate changed", "bulletin=%s from=%lld to=%lld",
                   b->id, (long long) b->rate, (long long) call->rate);
        b->rate = call->rate;
        bulletin_pace_restart(b, tally, clock_now_ms());
        return;
    }
    if (strcmp(call->to, "sending") == 0) {
        /* The planner finds its place again from the jobs. */
        bulletin_pace_restart(b, tally, clock_now_ms());
        b->positioned = 0;
    }
    log_notice("bulletin state changed", "bulletin=%s from=%s to=%s",
               b->id, b->state, call->to);
    g_free(b->state);
    b->state = g_strdup(call->to);
}


/* Applies the change unless the bulletin is complete or cancelled, which
 * no change may leave: then responds 409. */
static void
on_change_tally(void *arg, int status, json_t *result)
{
    struct change_call *call = arg;
    struct bulletin *b = bulletin_find(call->id);
    const char *state;
    char message[120];

    if (status < 0) {
        admin_respond_store_failure(call->req, "jobs_tally", status);
    } else if (b == NULL) {
        admin_respond_error(call->req, 404, NULL, "no such bulletin");
    } else {
        state = shown_state(b, result, call->scanned);
        if (strcmp(state, "cancelled") == 0 ||
            strcmp(state, "complete") == 0) {
            snprintf(message, sizeof(message), "the bulletin is %s and "
                     "cannot change", state);
            admin_respond_error(call->req, 409, "state", message);
        } else {
            change_apply(call, b, result);
            save_then_respond(call->req, 200, b);
        }
    }
    g_free(call->id);
    g_free(call);
}


/* Reads the bulletin's tally, then changes it (on_change_tally). */
static void
change_start(struct crier_http_req *req, const struct bulletin *b,
             const char *to, int64_t rate)
{
    struct change_call *call = g_new0(struct change_call, 1);
    json_t *request;
    int rc;

    call->req = req;
    call->id = g_strdup(b->id);
    call->to = to;
    call->rate = rate;
    call->scanned = b->scanned;
    request = json_pack("{s:s+}", "rule", BULLETIN_RULE_PREFIX, b->id);
    rc = server.store_ops->jobs_tally(server.store->state, request,
                                      on_change_tally, call);
    json_decref(request);
    if (rc < 0)
        on_change_tally(call, rc, NULL);
}


static void
on_action(void *arg, struct crier_http_req *req)
{
    const char *action;
    const char *to;
    char *id;
    struct bulletin *b;

    if (!admin_authorize(req) || !bulletins_loaded(req) ||
        !store_supports_bulletins(req))
        return;
    id = path_split(http_req_path(req), &action);
    b = bulletin_find(id);
    g_free(id);
    if (b == NULL || action == NULL) {
        admin_respond_error(req, 404, NULL, "no such bulletin");
        return;
    }
    to = action_state(action);
    if (to == NULL) {
        admin_respond_error(req, 404, NULL, "not found: use pause, resume "
                            "or cancel");
        return;
    }
    change_start(req, b, to, 0);
}


static void
on_get(void *arg, struct crier_http_req *req)
{
    const char *action;
    char *id;
    struct bulletin *b;

    if (!admin_authorize(req) || !bulletins_loaded(req) ||
        !store_supports_bulletins(req))
        return;
    id = path_split(http_req_path(req), &action);
    b = bulletin_find(id);
    g_free(id);
    if (b == NULL || action != NULL) {
        admin_respond_error(req, 404, NULL, "no such bulletin");
        return;
    }
    respond_bulletin(req, 200, b);
}


/* PATCH {"rate": N}: a new pace, counted from now. */
static void
on_patch(void *arg, struct crier_http_req *req)
{
    static const char *const members[] = { "rate", NULL };
    const char *action, *unknown;
    json_t *body, *rate;
    char *id;
    struct bulletin *b;

    if (!admin_authorize(req) || !bulletins_loaded(req) ||
        !store_supports_bulletins(req))
        return;
    id = path_split(http_req_path(req), &action);
    b = bulletin_find(id);
    g_free(id);
    if (b == NULL || action != NULL) {
        admin_respond_error(req, 404, NULL, "no such bulletin");
        return;
    }
    if (admin_body_load(req, 0, &body) != 0)
        return;
    rate = json_object_get(body, "rate");
    unknown = admin_member_unknown(body, members);
    if (unknown != NULL) {
        admin_respond_error(req, 400, unknown, "the body must be "
                            "{\"rate\": N} and nothing else");
        json_decref(body);
        return;
    }
    if (!json_is_integer(rate) || json_integer_value(rate) < 0 ||
        json_integer_value(rate) > 1000000) {
        json_decref(body);
        admin_respond_error(req, 400, "rate", "the body must be {\"rate\": "
                            "N}, messages per hour from 0 (no limit) to "
                            "1000000");
        return;
    }
    change_start(req, b, NULL, json_integer_value(rate));
    json_decref(body);
}


int
bulletin_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "POST", BULLETINS_PATH, on_create, NULL);

    if (rc == 0)
        rc = http_route_add(http, "GET", BULLETINS_PATH, on_list, NULL);
    if (rc == 0)
        rc = http_route_add(http, "GET", BULLETINS_PATH "/*", on_get, NULL);
    if (rc == 0)
        rc = http_route_add(http, "PATCH", BULLETINS_PATH "/*", on_patch,
                            NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", BULLETINS_PATH "/*", on_action,
                            NULL);
    return rc;
}
