/* The HTML frame of the hosted pages (page_html.c). */
#ifndef CRIER_CORE_TOPIC_PAGE_HTML_H
#define CRIER_CORE_TOPIC_PAGE_HTML_H

#include <glib.h>

#include <crier/host.h>

/* Responds with a page titled `title` (escaped here) around `content`,
 * which is HTML. The page is never cached and sends no Referer. */
void page_respond(struct crier_http_req *req, int status, const char *title,
                  const char *content);

/* Appends `text` HTML-escaped. */
void page_text(GString *out, const char *text);

#endif
