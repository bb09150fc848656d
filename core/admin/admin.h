/*
 * The admin API: routes that read profiles and their history, change
 * attributes and consent, and erase a profile, behind
 * bearer tokens. plugins.conf holds only the SHA-256 digest of each
 * accepted token (admin.tokens), so the config file never contains a
 * secret. docs/admin-api.md describes the routes.
 */
#ifndef CRIER_CORE_ADMIN_H
#define CRIER_CORE_ADMIN_H

#include <stddef.h>

#include <crier/host.h>

#include "admin/bearer.h"
#include "config/config.h"

struct http_server;
struct settings;

/* Hex digits in a SHA-256 digest. */
#define ADMIN_DIGEST_HEX BEARER_DIGEST_HEX

/*
 * Reads admin.tokens into s->admin_tokens and admin.report_tokens into
 * s->report_tokens as lowercase hex digests. Each entry must be
 * "sha256:" and 64 hex digits, and no digest may be in both lists.
 * Returns 0, or CRIER_ECONFIG with the error recorded at the entry's key
 * path.
 */
int admin_settings_load(struct config *cfg, struct settings *s);

/*
 * Returns 1 when the SHA-256 of `token` equals one of `digests` (lowercase
 * hex, NULL-terminated), else 0. Every digest is compared in full, so
 * the time taken does not depend on where or whether a digest matches.
 */
int admin_token_matches(const char *token, const char *const *digests);

/*
 * Checks the request's bearer token against server.settings. Returns 1
 * when the request is authorized. Otherwise it responds 403 (no tokens
 * are configured) or 401 and returns 0.
 */
int admin_authorize(struct crier_http_req *req);

/*
 * Starts the audit entry of an authorized request that may change
 * something (not GET or HEAD); the entry is written with the status of
 * its response. `token` is named by the first 12 hex digits
 * of its SHA-256, never by the token itself (audit.c).
 */
void admin_audit_begin(struct crier_http_req *req, const char *token);

/* Sets the target of the request's audit entry, for routes whose target
 * is in the body rather than the path. */
void admin_audit_target(struct crier_http_req *req, const char *target);

/* Returns the audit name of the request's token ("sha256:" and 12 hex
 * digits), or NULL when the request is not audited. */
const char *admin_audit_token(struct crier_http_req *req);

/* Adds GET /v1/admin/audit (audit.c). */
int admin_audit_routes_add(struct http_server *http);

/* Adds GET and POST /v1/admin/pause and POST /v1/admin/resume
 * (pause.c). */
int admin_pause_routes_add(struct http_server *http);

/* Checks like admin_authorize, but a token of admin.report_tokens is
 * accepted too; for routes that only read reports. */
int admin_authorize_reports(struct crier_http_req *req);

/* Responds with {"error": message} and, unless NULL, "field". */
void admin_respond_error(struct crier_http_req *req, int status,
                         const char *field, const char *message);

/*
 * Parses the request's body as JSON with jansson's `flags` into *body,
 * which is NULL when the body is not JSON, and returns 0. Returns -1 after
 * responding 400 when an object in the body gives a key twice.
 */
int admin_body_load(struct crier_http_req *req, size_t flags,
                    json_t **body);

/* Responds to a failed store call `op`: 503 while the server shuts down
 * (CRIER_ECLOSED), else 500 after logging the error. */
void admin_respond_store_failure(struct crier_http_req *req, const char *op,
                                 int rc);

/* Adds the admin routes: GET /v1/profiles, GET /v1/profiles/... and
 * DELETE /v1/profiles/{id}. */
int admin_routes_add(struct http_server *http);

/* Adds POST /v1/profiles/{id}/merge (merge.c). */
int admin_merge_routes_add(struct http_server *http);

/* Adds PATCH and PUT /v1/profiles/{id}, which change a profile's
 * attributes and consent (update.c). */
int admin_update_routes_add(struct http_server *http);

/* Adds GET /v1/segments, /v1/segments/{name} and
 * /v1/segments/{name}/members (segments.c). */
int admin_segment_routes_add(struct http_server *http);

/* Adds GET /v1/reports/{kind} (reports.c). */
int admin_report_routes_add(struct http_server *http);

/* Adds POST /v1/imports, the CSV profile import (imports.c). */
int admin_import_routes_add(struct http_server *http);

/* Adds POST /v1/templates/{name}/preview and /test (templates.c). */
int admin_template_routes_add(struct http_server *http);

/*
 * Reads admin.test_recipients (`list`, NULL when absent) into
 * s->test_recipients, lowercased. Returns 0 or CRIER_ECONFIG with the
 * entry's key path (test_recipients.c).
 */
int admin_test_recipients_load(struct config *cfg, const json_t *list,
                               struct settings *s);

/*
 * Returns 1 when address `to` is listed in `allowed` (NULL-terminated),
 * whole or by an "@domain" entry, else 0.
 */
int admin_test_recipient_allowed(const char *to, char *const *allowed);

/* Adds the message routes: list, read and retry outbox jobs. */
int admin_message_routes_add(struct http_server *http);

#endif
