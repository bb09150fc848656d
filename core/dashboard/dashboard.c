/*
 * The dashboard's routes:
 *   GET  /admin/         the page, or the login form without a session
 *   POST /admin/login    checks the token and starts a session
 *   POST /admin/logout   ends the session
 * A request may also carry the admin token as a bearer token, as the API
 * takes it, which is how scripts and tests read the page.
 */
#include <string.h>
#include <sys/random.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "dashboard/dashboard.h"
#include "http/http.h"
#include "report/report.h"
#include "server/server.h"

#define DAY_MS INT64_C(86400000)
#define SESSION_MAX_AGE_S 28800
#define TOKEN_MAX 512

/* No script runs and nothing loads from elsewhere. Forms post only to
 * this server, and no other page can frame this one. */
#define CONTENT_SECURITY_POLICY                                             \
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "   \
    "frame-ancestors 'none'; base-uri 'none'"


int
dashboard_random_bytes(void *buf, size_t len)
{
    ssize_t got = getrandom(buf, len, 0);

    return got == (ssize_t) len ? 0 : -1;
}


static void
respond_html(struct crier_http_req *req, int status, GString *body)
{
    http_resp_header(req, "Cache-Control", "no-store");
    http_resp_header(req, "Content-Security-Policy",
                     CONTENT_SECURITY_POLICY);
    http_resp_header(req, "X-Content-Type-Options", "nosniff");
    /* "no-referrer" would make Chromium post the login form with
     * "Origin: null", which origin_allowed then rejects. */
    http_resp_header(req, "Referrer-Policy", "same-origin");
    http_respond(req, status, "text/html; charset=utf-8", body->str,
                 body->len);
    g_string_free(body, TRUE);
}


static void
respond_login(struct crier_http_req *req, int status, const char *error)
{
    GString *body = g_string_new(NULL);

    dashboard_login_render(body, error);
    respond_html(req, status, body);
}


static void
redirect(struct crier_http_req *req, const char *cookie)
{
    if (cookie != NULL)
        http_resp_header(req, "Set-Cookie", cookie);
    http_resp_header(req, "Location", "/admin/");
    http_resp_header(req, "Cache-Control", "no-store");
    http_respond(req, 303, "text/plain; charset=utf-8", "", 0);
}


/* Returns nonzero when the admin API is on. */
static int
admin_on(void)
{
    return server.settings.admin_tokens != NULL &&
           server.settings.admin_tokens[0] != NULL;
}


/* NOTE: only tokens of admin.tokens log in; a report token cannot,
 * although the dashboard only shows reports (docs/KNOWN_LIMITS.md,
 * "Security"). */
static int
token_valid(const char *token)
{
    return token != NULL && token[0] != '\0' &&
           strlen(token) <= TOKEN_MAX &&
           admin_token_matches(token, (const char *const *)
                                      server.settings.admin_tokens);
}


/* A session cookie, or the admin token as a bearer token. */
static int
request_authorized(struct crier_http_req *req)
{
    const char *header = http_req_header(req, "Authorization");

    if (dashboard_session_valid(http_req_header(req, "Cookie")))
        return 1;
    return header != NULL && g_ascii_strncasecmp(header, "Bearer ", 7) == 0
           && token_valid(header + 7);
}


struct page_call {
    struct crier_http_req *req;
    int64_t today;
};


static void
on_report(void *arg, int status, json_t *result)
{
    struct page_call *call = arg;
    struct report_options opt = { "rules", NULL, 0, 0, REPORT_JSON };
    struct report_table *rules;
    json_t *report;
    GString *body;

    if (status != 0) {
        log_error("dashboard store call failed", "op=report_read error=%s",
                  crier_strerror(status));
        body = g_string_new("<!doctype html><html lang=\"en\"><title>crier"
                            "</title><p>The store failed to read; see the "
                            "server log.</p></html>");
        respond_html(call->req, 500, body);
        g_free(call);
        return;
    }
    rules = report_table_build(&opt, result);
    report = json_deep_copy(result);
    json_object_set_new(report, "rules", report_table_json(rules));
    report_table_free(rules);
    body = g_string_new(NULL);
    dashboard_page_render(body, report, call->today);
    respond_html(call->req, 200, body);
    json_decref(report);
    g_free(call);
}


static void
on_page(void *arg, struct crier_http_req *req)
{
    struct page_call *call;
    int64_t now = clock_now_ms();
    json_t *request;
    int rc;

    if (!admin_on()) {
        respond_login(req, 403, "The admin API is off: set admin.tokens "
                      "in plugins.conf.");
        return;
    }
    if (!request_authorized(req)) {
        respond_login(req, 200, NULL);
        return;
    }
    if (!STORE_HAS_OP(report_read)) {
        respond_login(req, 501, "The store plugin does not implement "
                      "report_read, which the dashboard reads.");
        return;
    }
    call = g_new0(struct page_call, 1);
    call->req = req;
    call->today = now - now % DAY_MS;
    /* The 12 weeks the page shows, today included. */
    request = json_pack("{s:I,s:I}", "since",
                        (json_int_t) (call->today - 83 * DAY_MS), "until",
                        (json_int_t) (call->today + DAY_MS));
    rc = server.store_ops->report_read(server.store->state, request,
                                       on_report, call);
    json_decref(request);
    if (rc != 0)
        on_report(call, rc, NULL);
}


/* Returns the value of `name` in a form body, decoded, or NULL. */
static char *
form_value(const char *body, size_t len, const char *name)
{
    char *text = g_strndup(body, len);
    char **pairs = g_strsplit(text, "&", -1);
    char *value = NULL;
    size_t name_len = strlen(name);

    for (char **p = pairs; *p != NULL && value == NULL; p++) {
        if (strncmp(*p, name, name_len) != 0 || (*p)[name_len] != '=')
            continue;
        g_strdelimit(*p, "+", ' ');
        value = g_uri_unescape_string(*p + name_len + 1, NULL);
    }
    g_strfreev(pairs);
    g_free(text);
    return value;
}


/* A form posted from another site is rejected: a browser names the
 * page's origin in Origin, which must then be public_url's or the
 * request's own Host. */
static int
origin_allowed(struct crier_http_req *req)
{
    const char *origin = http_req_header(req, "Origin");
    const char *host = http_req_header(req, "Host");
    const char *rest;

    if (origin == NULL)
        return 1;
    if (server.settings.public_url != NULL &&
        g_str_has_prefix(server.settings.public_url, origin) &&
        (server.settings.public_url[strlen(origin)] == '\0' ||
         server.settings.public_url[strlen(origin)] == '/'))
        return 1;
    rest = strstr(origin, "://");
    return host != NULL && rest != NULL && strcmp(rest + 3, host) == 0;
}


static void
on_login(void *arg, struct crier_http_req *req)
{
    size_t len = 0;
    const char *body = http_req_body(req, &len);
    char *token;
    char *id;
    char *cookie;

    if (!admin_on()) {
        respond_login(req, 403, "The admin API is off: set admin.tokens "
                      "in plugins.conf.");
        return;
    }
    if (!origin_allowed(req)) {
        respond_login(req, 403, "The form was posted from another site.");
        return;
    }
    token = form_value(body != NULL ? body : "", len, "token");
    if (!token_valid(token)) {
        g_free(token);
        log_notice("dashboard login rejected", "peer=%s",
                   http_req_peer(req));
        respond_login(req, 401, "Invalid token.");
        return;
    }
    g_free(token);
    id = dashboard_session_new();
    if (id == NULL) {
        respond_login(req, 500, "No session could be started; see the "
                      "server log.");
        log_error("dashboard session not started", "error=\"no random "
                  "bytes\"");
        return;
    }
    cookie = g_strdup_printf(DASHBOARD_COOKIE "=%s; Path=/admin/; Max-Age="
                             "%d; HttpOnly; SameSite=Strict%s", id,
                             SESSION_MAX_AGE_S,
                             g_str_has_prefix(server.settings.public_url
                                              ? server.settings.public_url
                                              : "", "https://")
                             ? "; Secure" : "");
    log_info("dashboard login", "peer=%s", http_req_peer(req));
    redirect(req, cookie);
    g_free(cookie);
    g_free(id);
}


static void
on_logout(void *arg, struct crier_http_req *req)
{
    dashboard_session_end(http_req_header(req, "Cookie"));
    redirect(req, DASHBOARD_COOKIE "=; Path=/admin/; Max-Age=0; HttpOnly; "
             "SameSite=Strict");
}


int
dashboard_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", "/admin/", on_page, NULL);

    if (rc == 0)
        rc = http_route_add(http, "POST", "/admin/login", on_login, NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", "/admin/logout", on_logout, NULL);
    return rc;
}
