/*
 * GET /v1/profiles/{id}/journeys: where a resident is in each journey and
 * what comes next, with the time. The rows come from the store; the step
 * kinds and the next steps come from the journeys in plugins.conf.
 */
#include <stddef.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "digests/digests.h"
#include "http/http.h"
#include "journeys/journeys.h"
#include "rules/rules.h"
#include "server/server.h"

static const char *const step_kind_names[] = {
    [JOURNEY_SEND] = "send",
    [JOURNEY_WAIT] = "wait",
    [JOURNEY_WAIT_UNTIL] = "wait_until",
    [JOURNEY_WAIT_WINDOW] = "wait_window",
    [JOURNEY_WAIT_EVENT] = "wait_event",
    [JOURNEY_BRANCH] = "branch",
    [JOURNEY_STAGE] = "stage",
    [JOURNEY_EXIT] = "exit",
    [JOURNEY_WAIT_DATE] = "wait_date"
};


/* Returns the time `ms` as RFC 3339, or null for a missing one. */
static json_t *
time_json(const json_t *ms)
{
    char text[32];

    if (!json_is_integer(ms))
        return json_null();
    clock_format_ms(json_integer_value(ms), text, sizeof(text));
    return json_string(text);
}


/* Returns the name of the step after `index`, or null at the end. */
static json_t *
step_after(const struct journey *j, int index)
{
    const struct journey_step *next;

    if ((guint) index + 1 >= j->steps->len)
        return json_null();
    next = g_ptr_array_index(j->steps, index + 1);
    return json_string(next->name);
}


/* Adds what the resident waits for and what runs next to `out`. */
static void
next_describe(const json_t *row, json_t *out)
{
    const struct journey *j = server.rules == NULL ? NULL
        : journey_find(server.rules->journeys,
                       json_string_value(json_object_get(row, "journey")));
    int index = j == NULL ? -1
        : journey_step_index(j, json_string_value(json_object_get(row,
                                                                  "step")));
    const struct journey_step *step;
    json_t *on;

    if (index < 0) {
        /* The step was removed by an edit: the next wake-up ends it. */
        json_object_set_new(out, "step_removed", json_true());
        return;
    }
    step = g_ptr_array_index(j->steps, index);
    json_object_set_new(out, "waiting", json_string(
                            step_kind_names[step->kind]));
    if (step->kind != JOURNEY_WAIT_EVENT) {
        json_object_set_new(out, "next", step_after(j, index));
        json_object_set_new(out, "next_at",
                            time_json(json_object_get(row, "due")));
        return;
    }
    on = json_array();
    for (guint i = 0; i < step->on->len; i++)
        json_array_append_new(on, json_string(g_ptr_array_index(step->on,
                                                                i)));
    json_object_set_new(out, "waiting_for", on);
    json_object_set_new(out, "next", step_after(j, index));
    json_object_set_new(out, "timeout_next",
                        step->timeout_step ? json_string(step->timeout_step)
                                           : json_null());
    json_object_set_new(out, "timeout_at",
                        time_json(json_object_get(row, "due")));
}


/* Describes a digest window: its item count and when it is sent, or
 * when it was sent. */
static void
digest_describe(const json_t *row, json_t *out)
{
    const char *name = json_string_value(json_object_get(row, "journey"));

    json_object_set_new(out, "digest",
                        json_string(name + strlen(DIGEST_ROW_PREFIX)));
    if (g_strcmp0(json_string_value(json_object_get(row, "state")),
                  "active") != 0) {
        json_object_set_new(out, "ended_at",
                            time_json(json_object_get(row, "updated")));
        return;
    }
    json_object_set_new(out, "items", json_integer((json_int_t)
                            json_array_size(json_object_get(row, "items"))));
    json_object_set_new(out, "next_at",
                        time_json(json_object_get(row, "due")));
}


static json_t *
row_present(const json_t *row)
{
    const char *state = json_string_value(json_object_get(row, "state"));
    json_t *out = json_pack("{s:O,s:O,s:O,s:s?,s:o}", "journey",
                            json_object_get(row, "journey"), "entry",
                            json_object_get(row, "entry"), "step",
                            json_object_get(row, "step"), "state", state,
                            "since", time_json(json_object_get(row,
                                                               "since")));

    if (g_str_has_prefix(json_string_value(json_object_get(row,
                                                           "journey")),
                         DIGEST_ROW_PREFIX))
        digest_describe(row, out);
    else if (g_strcmp0(state, "active") == 0)
        next_describe(row, out);
    else
        json_object_set_new(out, "ended_at",
                            time_json(json_object_get(row, "updated")));
    return out;
}


static void
on_read(void *arg, int status, json_t *result)
{
    struct crier_http_req *req = arg;
    const char *id = http_req_path(req) + strlen("/v1/profiles/");
    char *profile = g_strndup(id, strcspn(id, "/"));
    json_t *rows = json_object_get(json_object_get(result, "journeys"),
                                   profile);
    json_t *out = json_array();
    size_t i;
    json_t *row;

    if (status != 0) {
        log_error("admin store call failed", "op=journeys_read error=%s",
                  crier_strerror(status));
        admin_respond_error(req, 500, NULL, "the store failed to read; see "
                            "the server log");
        json_decref(out);
        g_free(profile);
        return;
    }
    json_array_foreach(rows, i, row)
        json_array_append_new(out, row_present(row));
    http_respond_json(req, 200, json_pack("{s:s,s:o}", "profile", profile,
                                          "journeys", out));
    g_free(profile);
}


void
admin_profile_journeys(struct crier_http_req *req, const char *id)
{
    json_t *request;
    int rc;

    if (!STORE_HAS_OP(journeys_read)) {
        admin_respond_error(req, 501, NULL, "the store plugin does not "
                            "implement journeys_read");
        return;
    }
    request = json_pack("{s:[s]}", "profiles", id);
    rc = server.store_ops->journeys_read(server.store->state, request,
                                         on_read, req);
    json_decref(request);
    if (rc == CRIER_ECLOSED)
        admin_respond_error(req, 503, NULL, "the server is shutting down; "
                            "try again once it has restarted");
    else if (rc != 0)
        on_read(req, rc, NULL);
}
