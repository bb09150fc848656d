/*
 * The HTML frame of the hosted pages: one small page with its own styles,
 * no scripts, fonts or images from elsewhere, readable at 320 px, with a
 * visible focus ring and text contrast of at least 4.5:1 (WCAG 2.1 AA).
 */
#include "topics/page_html.h"

#include <string.h>

#include "http/http.h"

/* Colours: text #1b1b1b on white (about 17:1), white on the #005ea2
 * buttons (about 6.7:1), and #565c65 borders of form controls (about
 * 6.9:1, where WCAG asks 3:1). */
static const char page_style[] =
    "body{font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "color:#1b1b1b;background:#fff;margin:0}"
    "main{max-width:38rem;margin:0 auto;padding:1rem}"
    "h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}"
    "label{font-weight:600}"
    "input[type=email]{display:block;width:100%;box-sizing:border-box;"
    "font:inherit;padding:.5rem;margin:.25rem 0;border:2px solid #565c65;"
    "border-radius:4px}"
    "button{font:inherit;font-weight:600;padding:.5rem 1.25rem;"
    "margin:.75rem .5rem .25rem 0;border:2px solid #005ea2;"
    "border-radius:4px;background:#005ea2;color:#fff;cursor:pointer}"
    "button.quiet{background:#fff;color:#1b1b1b;border-color:#565c65}"
    ":focus-visible{outline:3px solid #1b1b1b;outline-offset:3px}"
    "fieldset{border:1px solid #565c65;border-radius:4px;margin:1rem 0;"
    "padding:.5rem 1rem}"
    "legend{font-weight:700;padding:0 .25rem}"
    ".check{display:flex;gap:.5rem;align-items:flex-start;margin:.5rem 0}"
    ".check input{width:1.25rem;height:1.25rem;margin:.2rem 0 0;"
    "flex:none}"
    ".check label{font-weight:400}"
    ".error{color:#b50909;font-weight:600}"
    ".status{border-left:4px solid #00a91c;padding:.25rem .75rem}"
    "a{color:#005ea2}";

/* Scripts are off by policy: the pages need none. */
#define PAGE_POLICY                                                         \
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "  \
    "base-uri 'none'; frame-ancestors 'none'"


void
page_respond(struct crier_http_req *req, int status, const char *title,
             const char *content)
{
    gchar *escaped = g_markup_escape_text(title, -1);
    GString *page = g_string_new(NULL);

    g_string_append_printf(
        page, "<!doctype html>\n<html lang=\"en\"><head>"
        "<meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        "<title>%s</title><style>%s</style></head>\n"
        "<body><main>\n<h1>%s</h1>\n%s\n</main></body></html>\n",
        escaped, page_style, escaped, content);
    http_resp_header(req, "Cache-Control", "no-store");
    http_resp_header(req, "Referrer-Policy", "no-referrer");
    http_resp_header(req, "Content-Security-Policy", PAGE_POLICY);
    http_resp_header(req, "X-Frame-Options", "DENY");
    http_respond(req, status, "text/html; charset=utf-8", page->str,
                 page->len);
    g_string_free(page, TRUE);
    g_free(escaped);
}


void
page_text(GString *out, const char *text)
{
    gchar *escaped = g_markup_escape_text(text, -1);

    g_string_append(out, escaped);
    g_free(escaped);
}
