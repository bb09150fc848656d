/*
 * Signed link tokens for email click and open tracking.
 *
 * A token is two base64url parts (RFC 4648, section 5, no padding) joined
 * by a '.':
 *
 *   base64url(payload) "." base64url(HMAC-SHA256(secret, first part))
 *
 * The payload is compact JSON {"m": message, "p": {kind: value}, "u": url}:
 * the message reference (the job key), the identity of the recipient
 * (such as {"email": "ana@example.gov"}) and, for a click, the URL to
 * redirect to. An open pixel's token has no "u". The beacon trigger
 * verifies tokens at GET /c/{token} and GET /b.gif?m={token}. The outbox
 * signs them through link_html_rewrite (link_rewrite.h) when
 * delivery.link_secret is set.
 *
 * The source is compiled into the core and into the beacon plugin. A
 * plugin cannot link against core symbols, so the file depends only on
 * GLib and jansson.
 */
#ifndef CRIER_CORE_LINK_TOKEN_H
#define CRIER_CORE_LINK_TOKEN_H

#include <stddef.h>

#include <jansson.h>

/* Maximum length of a token, so that a link stays far below the 8 KiB
 * URL limit of common servers and mail clients. */
#define LINK_TOKEN_MAX 2048

/* Maximum length of a URL that a token may carry. */
#define LINK_URL_MAX 1500

/*
 * Signs a link for `message` and the recipient `identity` (an object of
 * identity kind to value, such as {"email": "ana@example.gov"}). `url` is
 * the target of a click, or NULL for an open pixel, and must start with
 * "https://" or "http://". Returns a new token to free with g_free, or
 * NULL when an argument is missing or invalid, or the token would exceed
 * LINK_TOKEN_MAX.
 */
char *link_token_sign(const char *secret, const char *message,
                      const json_t *identity, const char *url);

/*
 * Checks `token` against `secret` and, when the signature matches and the
 * payload has the form link_token_sign writes, stores the payload object
 * in *payload (json_decref it). Returns 0, or -1 with *reason set when the
 * token is malformed or tampered with; *payload is then NULL.
 */
int link_token_verify(const char *secret, const char *token,
                      json_t **payload, const char **reason);

/* Returns nonzero when `url` is an absolute http or https URL with a host
 * and no control characters or spaces. */
int link_url_valid(const char *url);

#endif
