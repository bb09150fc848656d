/*
 * The HTML dashboard at /admin/ (docs/reports.md, "Dashboard"): a login
 * form, sessions in cookies, and a page rendered on the server with
 * inline SVG charts and no scripts.
 */
#ifndef CRIER_CORE_DASHBOARD_H
#define CRIER_CORE_DASHBOARD_H

#include <stddef.h>

#include <glib.h>
#include <jansson.h>

struct http_server;

/* The session cookie's name. */
#define DASHBOARD_COOKIE "crier_session"

/* Adds GET /admin/, POST /admin/login and POST /admin/logout. */
int dashboard_routes_add(struct http_server *http);

/* Starts a session and returns its id (64 hex digits, g_free it), or
 * NULL when no random bytes could be read (session.c). */
char *dashboard_session_new(void);

/* Returns nonzero when a Cookie header carries a live session id. */
int dashboard_session_valid(const char *cookie_header);

/* Ends the session of a Cookie header, if any. */
void dashboard_session_end(const char *cookie_header);

/* Ends every session, at exit. */
void dashboard_sessions_clear(void);

/* Fills `buf` from the kernel's random generator. Returns 0 or -1. */
int dashboard_random_bytes(void *buf, size_t len);

/* Appends `text` to `out` with &, <, >, " and ' escaped. */
void dashboard_escape(GString *out, const char *text);

/* Renders the dashboard page from a report_read result (page.c). */
void dashboard_page_render(GString *out, const json_t *report,
                           int64_t today_ms);

/* Renders the login page, with an error line unless `error` is NULL. */
void dashboard_login_render(GString *out, const char *error);

#endif
