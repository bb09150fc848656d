/* Helpers shared by the page files of core/topics/. */
#ifndef CRIER_CORE_TOPIC_PAGE_INT_H
#define CRIER_CORE_TOPIC_PAGE_INT_H

#include <glib.h>

#include <crier/host.h>

struct http_server;

#define TOPIC_PAGE_PREFIX "/p/topics/"

/* Logs the failed store call `op` and responds 503 with a page that
 * tells the resident to try again later (pages.c). */
void page_fail_respond(struct crier_http_req *req, const char *op,
                       int status);

/* Returns the form body's first value of `name`, percent-decoded with '+'
 * read as a space (application/x-www-form-urlencoded), or NULL. */
char *page_form_value(struct crier_http_req *req, const char *name);

/* Returns every value of `name` in the form body, as a new
 * NULL-terminated array to g_strfreev. */
char **page_form_values(struct crier_http_req *req, const char *name);

/* Adds GET and POST /p/confirm/{token} (confirm.c). */
int confirm_routes_add(struct http_server *http);

/* Adds GET and POST /p/prefs/{token} (prefs.c). */
int prefs_routes_add(struct http_server *http);

#endif
