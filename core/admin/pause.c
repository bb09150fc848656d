/*
 * The emergency stop: POST /v1/admin/pause and /v1/admin/resume with
 * {"channel": name}, {"program": name} or {} for everything, and GET
 * /v1/admin/pause for what is paused. delivery/pauses.c does the work.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/log.h"
#include "delivery/pauses.h"
#include "http/http.h"
#include "server/server.h"

#define PAUSE_PATH "/v1/admin/pause"
#define RESUME_PATH "/v1/admin/resume"

/* A pause or resume waiting for the store. */
struct pause_request {
    struct crier_http_req *req;
    int paused;
    char label[160];            /* "all" or "channel:email" */
};


/* Responds with {"pauses": [...]} and the members of `extra`. */
static void
respond_pauses(struct crier_http_req *req, json_t *extra)
{
    json_t *body = json_pack("{s:o}", "pauses", pauses_json());

    if (extra != NULL) {
        json_object_update(body, extra);
        json_decref(extra);
    }
    http_respond_json(req, 200, body);
}


static void
on_changed(void *arg, int status, int changed)
{
    struct pause_request *p = arg;

    if (status != 0) {
        log_error(p->paused ? "pause not stored" : "resume not stored",
                  "scope=%s error=%s", p->label, crier_errname(status));
        admin_respond_error(p->req, 503, NULL, crier_strerror(status));
    } else {
        log_notice(p->paused ? "sending paused" : "sending resumed",
                   "scope=%s changed=%d", p->label, changed);
        respond_pauses(p->req, json_pack("{s:s,s:b}", p->paused ? "paused"
                                         : "resumed", p->label, "changed",
                                         changed));
    }
    g_free(p);
}


/*
 * Reads the body's scope: {} is "all", {"channel": name} a configured
 * channel, {"program": name} a program. On a bad body responds 400 and
 * returns -1.
 */
static int
scope_read(struct crier_http_req *req, const char **scope,
           const char **name, json_t **body)
{
    static const char *const members[] = { "channel", "program", NULL };
    size_t len;
    const char *unknown;
    json_t *channel, *program;

    http_req_body(req, &len);
    if (len == 0)
        *body = json_object();
    else if (admin_body_load(req, 0, body) != 0)
        return -1;
    if (!json_is_object(*body)) {
        admin_respond_error(req, 400, NULL, "the body must be a JSON object: "
                            "{} for everything, {\"channel\": name} or "
                            "{\"program\": name}");
        return -1;
    }
    channel = json_object_get(*body, "channel");
    program = json_object_get(*body, "program");
    unknown = admin_member_unknown(*body, members);
    if (unknown != NULL || (channel != NULL && program != NULL)) {
        admin_respond_error(req, 400, unknown != NULL ? unknown : "program",
                            "give at most one of \"channel\" and "
                            "\"program\", and nothing else");
        return -1;
    }
    if (channel != NULL)
        *scope = "channel";
    else if (program != NULL)
        *scope = "program";
    else
        *scope = "all";
    *name = NULL;
    if (channel == NULL && program == NULL)
        return 0;
    /* NOTE: a program name is not checked against the configuration
     * (docs/KNOWN_LIMITS.md, "Operations"). */
    *name = json_string_value(channel ? channel : program);
    if (*name == NULL || (*name)[0] == '\0') {
        admin_respond_error(req, 400, *scope, "must be a non-empty string");
        return -1;
    }
    if (channel != NULL && server_channel(*name) == NULL) {
        admin_respond_error(req, 400, "channel", "no channel of that name "
                            "is configured");
        return -1;
    }
    return 0;
}


/* POST /v1/admin/pause and /v1/admin/resume; `arg` is 1 for a pause. */
static void
on_pause_change(void *arg, struct crier_http_req *req)
{
    struct pause_request *p;
    const char *scope, *name;
    json_t *body;
    int rc;

    if (!admin_authorize(req))
        return;
    if (!pauses_supported()) {
        admin_respond_error(req, 501, NULL, "the store plugin has no "
                            "pauses; update it");
        return;
    }
    if (scope_read(req, &scope, &name, &body) != 0) {
        json_decref(body);
        return;
    }
    p = g_new0(struct pause_request, 1);
    p->req = req;
    p->paused = arg != NULL;
    if (name != NULL)
        snprintf(p->label, sizeof(p->label), "%s:%s", scope, name);
    else
        snprintf(p->label, sizeof(p->label), "%s", scope);
    admin_audit_target(req, p->label);
    rc = pauses_change(scope, name, p->paused, admin_audit_token(req),
                       on_changed, p);
    json_decref(body);
    if (rc != 0)
        on_changed(p, rc, 0);
}


/* GET /v1/admin/pause */
static void
on_pause_list(void *arg, struct crier_http_req *req)
{
    if (!admin_authorize(req))
        return;
    respond_pauses(req, NULL);
}


int
admin_pause_routes_add(struct http_server *http)
{
    static int pause = 1;
    int rc = http_route_add(http, "GET", PAUSE_PATH, on_pause_list, NULL);

    if (rc == 0)
        rc = http_route_add(http, "POST", PAUSE_PATH, on_pause_change,
                            &pause);
    if (rc == 0)
        rc = http_route_add(http, "POST", RESUME_PATH, on_pause_change,
                            NULL);
    return rc;
}
