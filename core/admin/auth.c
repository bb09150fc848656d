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
#include "base/json_body.h"
#include "base/log.h"
#include "http/http.h"
#include "server/server.h"

/* Rejected requests are counted and logged once per 10 s at most. */
#define ADMIN_REJECT_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

static const char *const admin_keys[] = {
    "tokens", "report_tokens", "test_recipients", NULL
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


/*
 * Reads the list of token digests at admin.<name> into *out as lowercase
 * hex digests. `others` contains digests read before, which may not repeat.
 */
static int
digests_load(struct config *cfg, const json_t *list, const char *name,
             char *const *others, char ***out)
{
    char key[48];
    size_t i, n;

    snprintf(key, sizeof(key), "admin.%s", name);
    if (list == NULL)
        return 0;
    if (!json_is_array(list)) {
        config_fail(cfg, key, "must be a list of token digests such as "
                    "[ \"sha256:<64 hex digits>\" ]");
        return CRIER_ECONFIG;
    }
    if (json_array_size(list) == 0) {
        config_fail(cfg, key, "is empty: remove %s, or add a token digest",
                    others == NULL ? "the admin group to turn the admin "
                                     "API off" : "it");
        return CRIER_ECONFIG;
    }
    n = json_array_size(list);
    *out = g_new0(char *, n + 1);
    for (i = 0; i < n; i++) {
        json_t *v = json_array_get(list, i);

        snprintf(key, sizeof(key), "admin.%s[%zu]", name, i);
        if (!json_is_string(v) || !bearer_digest_valid(json_string_value(v))) {
            config_fail(cfg, key, "must be \"sha256:\" and the 64 hex digits "
                        "of the token's SHA-256, as printed by: printf %%s "
                        "\"$TOKEN\" | sha256sum");
            return CRIER_ECONFIG;
        }
        (*out)[i] = g_ascii_strdown(json_string_value(v) +
                                    strlen(BEARER_DIGEST_PREFIX), -1);
        if (digest_listed_before(*out, i)) {
            config_fail(cfg, key, "lists the same digest as an earlier "
                        "entry: remove one of them");
            return CRIER_ECONFIG;
        }
        for (size_t j = 0; others != NULL && others[j] != NULL; j++)
            if (strcmp(others[j], (*out)[i]) == 0) {
                config_fail(cfg, key, "is also in admin.tokens: a token "
                            "has one scope, so remove one of them");
                return CRIER_ECONFIG;
            }
    }
    return 0;
}


int
admin_settings_load(struct config *cfg, struct settings *s)
{
    json_t *admin = json_object_get(cfg->root, "admin");

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
    if (digests_load(cfg, json_object_get(admin, "tokens"), "tokens", NULL,
                     &s->admin_tokens) != 0 ||
        digests_load(cfg, json_object_get(admin, "report_tokens"),
                     "report_tokens", s->admin_tokens,
                     &s->report_tokens) != 0)
        return CRIER_ECONFIG;
    if (s->admin_tokens == NULL)
        s->admin_tokens = g_new0(char *, 1);
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


int
admin_body_load(struct crier_http_req *req, size_t flags, json_t **body)
{
    size_t len;
    const char *text = http_req_body(req, &len);
    json_error_t error;

    *body = json_body_load(text, len, flags, &error);
    if (*body == NULL && json_body_duplicate(&error)) {
        admin_respond_error(req, 400, NULL, error.text);
        return -1;
    }
    return 0;
}


void
admin_respond_store_failure(struct crier_http_req *req, const char *op,
                            int rc)
{
    if (rc == CRIER_ECLOSED) {
        admin_respond_error(req, 503, NULL, "the server is shutting down; "
                            "try again once it has restarted");
        return;
    }
    log_error("admin store call failed", "op=%s error=%s", op,
              crier_strerror(rc));
    admin_respond_error(req, 500, NULL, "the store failed; see the server "
                        "log");
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


/* Returns 1 when `list` (NULL-terminated, or NULL) has no digest. */
static int
digests_empty(char *const *list)
{
    return list == NULL || list[0] == NULL;
}


/*
 * Checks the request's bearer token. A token of admin.tokens may use
 * every admin route, and one of admin.report_tokens only those that
 * call this with `reports_ok` set.
 */
static int
authorize(struct crier_http_req *req, int reports_ok)
{
    const struct settings *s = &server.settings;
    const char *header = http_req_header(req, "Authorization");
    const char *token;
    int admin, reports;

    if (digests_empty(s->admin_tokens) && digests_empty(s->report_tokens)) {
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

    /* Both lists are always compared, so the time taken does not tell
     * which list a token is in. */
    admin = admin_token_matches(token, (const char *const *) s->admin_tokens);
    reports = admin_token_matches(token,
                                  (const char *const *) s->report_tokens);

    if (admin || (reports && reports_ok)) {
        admin_audit_begin(req, token);
        return 1;
    }
    if (reports) {
        log_rejection(req, "scope");
        admin_respond_error(req, 403, "Authorization", "this token may only "
                            "read reports (admin.report_tokens); use a token "
                            "of admin.tokens");
        return 0;
    }
    reject_unauthorized(req, "invalid", "invalid bearer token");
    return 0;
}


int
admin_authorize(struct crier_http_req *req)
{
    return authorize(req, 0);
}


int
admin_authorize_reports(struct crier_http_req *req)
{
    return authorize(req, 1);
}
