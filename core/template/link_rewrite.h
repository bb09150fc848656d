/*
 * Click and open tracking for rendered HTML email: every http and https
 * link becomes a signed GET /c/{token} link on the beacon, and an open
 * pixel GET /b.gif?m={token} goes before </body>. See link_token.h for
 * the token.
 */
#ifndef CRIER_CORE_LINK_REWRITE_H
#define CRIER_CORE_LINK_REWRITE_H

#include <jansson.h>

/*
 * Returns a copy of `html` with its links tracked. A quoted href value
 * that is an http or https URL (link_url_valid) once its character
 * references are decoded becomes `base_url` "/c/" and a token signed with
 * `secret` for `message` and `identity`. Other links (mailto:, #top,
 * relative ones, unquoted values, and values with a character reference
 * outside a small table) stay as they are. The open pixel goes before the
 * last </body>, or at the end without one. Free the result with g_free.
 * Returns NULL when a token cannot be signed (an empty secret, message or
 * identity).
 */
char *link_html_rewrite(const char *html, const char *secret,
                        const char *base_url, const char *message,
                        const json_t *identity);

#endif
