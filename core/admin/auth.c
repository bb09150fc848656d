/*
 * Bearer tokens for the admin API. A request's token is hashed with
 * SHA-256 and compared with every configured digest. Rejected requests
 * are counted and logged in at most one line per 10 s.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/bearer.h"
#include "base/log.h"
#include "http/http.h"
#include "server/server.h"

/* Rejected requests are counted and logged once per 10 s at most. */
#define ADMIN_REJECT_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

static const char *const admin_keys[] = {
    "tokens", "test_recipients", NULL
};

static struct {
    unsigned count;             /* rejections not yet logged */
    gint64 logged_us;           /* monotonic time of the last line */
    int logged_once;
} rejects;


/* Returns 1 when digests[index] equals one of the digests before it. */
static int
digest_listed_before(char *const *digests, size_t index)
{
    for (size_t i = 0; i < index; i++)
        if (strcmp(digests[i], digests[index]) == 0)
            return 1;
    return 0;
}


int
admin_settings_load(struct config *cfg, struct settings *s)
{
    json_t *admin = json_object_get(cfg->root, "admin");
    json_t *tokens = json_object_get(admin, "tokens");
    size_t i, n;

    if (admin == NULL)
        return 0;
    if (!json_is_object(admin)) {
        config_fail(cfg, "admin", "must be a group such as admin: { tokens "
                    "= [ \"sha256:<64 hex digits>\" ]; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, admin, "admin", admin_keys) != 0 ||
        admin_test_recipients_load(cfg, json_object_get(admin,
                                                        "test_recipients"),
                                   s) != 0)
        return CRIER_ECONFIG;
    if (tokens != NULL && !json_is_array(tokens)) {
        config_fail(cfg, "admin.tokens", "must be a list of token digests "
                    "such as [ \"sha256:<64 hex digits>\" ]");
        return CRIER_ECONFIG;
    }
    if (tokens != NULL && json_array_size(tokens) == 0) {
        config_fail(cfg, "admin.tokens", "is empty: remove the admin group "
                    "to turn the admin API off, or add a token digest");
        return CRIER_ECONFIG;
    }
    n = json_array_size(tokens);
    s->admin_tokens = g_new0(char *, n + 1);
    for (i = 0; i < n; i++) {
        json_t *v = json_array_get(tokens, i);
        char key[48];

        if (!json_is_string(v) || !bearer_digest_valid(json_string_value(v))) {
            snprintf(key, sizeof(key), "admin.tokens[%zu]", i);
            config_fail(cfg, key, "must be \"sha256:\" and the 64 hex digits "
                        "of the token's SHA-256, as printed by: printf %%s "
                        "\"$TOKEN\" | sha256sum");
            return CRIER_ECONFIG;
        }
        s->admin_tokens[i] =
            g_ascii_strdown(json_string_value(v) +
                            strlen(BEARER_DIGEST_PREFIX), -1);
        if (digest_listed_before(s->admin_tokens, i)) {
            snprintf(key, sizeof(key), "admin.tokens[%zu]", i);
            config_fail(cfg, key, "lists the same digest as an earlier "
                        "entry: remove one of them");
            return CRIER_ECONFIG;
        }
    }
    return 0;
}


int
admin_token_matches(const char *token, const char *const *digests)
{
    return bearer_token_matches(token, digests);
}


void
admin_respond_error(struct crier_http_req *req, int status,
                    const char *field, const char *message)
{
    json_t *body = json_pack("{s:s}", "error", message);

    if (field != NULL)
        json_object_set_new(body, "field", json_string(field));
    http_respond_json(req, status, body);
}


/* Logs a rejection, or counts it when a line went out in the last 10 s.
 * The token itself is never logged. */
static void
log_rejection(struct crier_http_req *req, const char *reason)
{
    gint64 now = g_get_monotonic_time();

    rejects.count++;
    if (rejects.logged_once &&
        now - rejects.logged_us < ADMIN_REJECT_LOG_INTERVAL_US)
        return;
    log_notice("admin request rejected", "reason=%s peer=%s path=%s "
               "rejected=%u", reason, http_req_peer(req), http_req_path(req),
               rejects.count);
    rejects.count = 0;
    rejects.logged_us = now;
    rejects.logged_once = 1;
}


static void
reject_unauthorized(struct crier_http_req *req, const char *reason,
                    const char *message)
{
    log_rejection(req, reason);
    http_resp_header(req, "WWW-Authenticate", "Bearer");
    admin_respond_error(req, 401, "Authorization", message);
}


int
admin_authorize(struct crier_http_req *req)
{
    const char *const *digests =
        (const char *const *) server.settings.admin_tokens;
    const char *header = http_req_header(req, "Authorization");
    const char *token;

    if (digests == NULL || digests[0] == NULL) {
        admin_respond_error(req, 403, NULL, "the admin API is off: set "
                            "admin.tokens in plugins.conf");
        return 0;
    }
    if (header == NULL) {
        reject_unauthorized(req, "missing", "missing Authorization header: "
                            "send Authorization: Bearer <token>");
        return 0;
    }
    token = bearer_token(header);
    if (token == NULL) {
        reject_unauthorized(req, "malformed", "the Authorization header "
                            "must be Bearer <token>");
        return 0;
    }
    if (!admin_token_matches(token, digests)) {
        reject_unauthorized(req, "invalid", "invalid bearer token");
        return 0;
    }
    admin_audit_begin(req, token);
    return 1;
}
