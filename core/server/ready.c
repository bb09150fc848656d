/*
 * GET /readyz: 200 when every plugin has started, the stored topics and
 * bulletins are read back, and the store completes a cheap read (the
 * pipeline's cursor) within READY_STORE_TIMEOUT_MS.
 * Otherwise 503 with {"status": "not ready", "reasons": [...]}, one
 * reason for each part that is not ready. /healthz reports only that the
 * process is up.
 */
#include <stdlib.h>

#include <glib.h>

#include "base/log.h"
#include "bulletins/bulletins.h"
#include "http/http.h"
#include "server/routes.h"
#include "server/server.h"
#include "topics/topics.h"

/* The time the store may take for the readiness read, in ms. */
#define READY_STORE_TIMEOUT_MS 2000

/* One /readyz check, freed when both the store and the timer are done. */
struct ready_check {
    struct crier_http_req *req;
    json_t *reasons;
    uv_timer_t timer;
    int answered;               /* the response went out */
    int pending;                /* store read and timer still to finish */
};


static void
check_release(struct ready_check *c)
{
    if (--c->pending > 0)
        return;
    json_decref(c->reasons);
    free(c);
}


static void
check_answer(struct ready_check *c)
{
    int ready = json_array_size(c->reasons) == 0;

    if (c->answered)
        return;
    c->answered = 1;
    if (ready)
        http_respond_json(c->req, 200, json_pack("{s:s}", "status",
                                                 "ready"));
    else
        http_respond_json(c->req, 503, json_pack("{s:s,s:O}", "status",
                                                 "not ready", "reasons",
                                                 c->reasons));
}


static void
on_timer_closed(uv_handle_t *handle)
{
    check_release(handle->data);
}


static void
on_store_timeout(uv_timer_t *timer)
{
    struct ready_check *c = timer->data;

    if (!c->answered)
        json_array_append_new(c->reasons, json_string(
            "store: no answer within 2 s"));
    check_answer(c);
    uv_close((uv_handle_t *) timer, on_timer_closed);
}


static void
on_cursor(void *arg, int status, json_t *result)
{
    struct ready_check *c = arg;

    if (status != 0 && !c->answered)
        json_array_append_new(c->reasons, json_sprintf(
            "store: %s", crier_strerror(status)));
    check_answer(c);
    if (!uv_is_closing((uv_handle_t *) &c->timer)) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *) &c->timer, on_timer_closed);
    }
    check_release(c);
}


/* Adds "kind NAME: not started" for each instance of `list` that is not
 * running. */
static void
reasons_add_unstarted(json_t *reasons, GPtrArray *list, const char *kind)
{
    for (guint i = 0; list != NULL && i < list->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(list, i);

        if (!p->started)
            json_array_append_new(reasons, json_sprintf(
                "%s %s: not started", kind, p->name));
    }
}


void
ready_respond(struct crier_http_req *req)
{
    struct ready_check *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL) {
        http_respond_json(req, 503, NULL);
        return;
    }
    c->req = req;
    c->reasons = json_array();
    if (server.stopping)
        json_array_append_new(c->reasons, json_string("stopping"));
    if (server.store == NULL || !server.store->started) {
        json_array_append_new(c->reasons,
                              json_string("store: not started"));
        check_answer(c);
        json_decref(c->reasons);
        free(c);
        return;
    }
    reasons_add_unstarted(c->reasons, server.channels, "channel");
    reasons_add_unstarted(c->reasons, server.triggers, "trigger");
    if (!topics_ready())
        json_array_append_new(c->reasons, json_string(
            "topics: the stored topics are not read yet"));
    if (!bulletins_ready())
        json_array_append_new(c->reasons, json_string(
            "bulletins: the stored bulletins are not read yet"));

    c->pending = 2;
    uv_timer_init(server.loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, on_store_timeout, READY_STORE_TIMEOUT_MS, 0);
    rc = server.store_ops->cursor_get(server.store->state, "pipeline",
                                      on_cursor, c);
    if (rc != 0)
        on_cursor(c, rc, NULL);
}
