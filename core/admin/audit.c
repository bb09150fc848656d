/*
 * The audit log: each admin request that may change something (any
 * method but GET and HEAD) is recorded with the token that made it, the
 * action, its target, the time and the HTTP status of the response.
 * The entry is written when the response is known, through the request's
 * respond hook. GET /v1/admin/audit lists the entries.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "server/server.h"

/* Hex digits of the token's SHA-256 that name it in the log. */
#define AUDIT_TOKEN_HEX 12

/* One admin action waiting for its response. */
struct audit_record {
    char token[sizeof("sha256:") + AUDIT_TOKEN_HEX];
    int64_t time;               /* Unix ms when the request was read */
    char *action;
    char *target;
};


/* Splits `path` into the action, with the collection's id replaced by
 * "{id}", and the target, that id. Admin routes have no id. */
static void
action_split(const char *method, const char *path, char **action,
             char **target)
{
    gchar **parts = g_strsplit(path, "/", 0);
    guint n = g_strv_length(parts);

    *target = NULL;
    /* parts: "", "v1", collection, id, rest... */
    if (n >= 4 && strcmp(parts[1], "v1") == 0 &&
        strcmp(parts[2], "admin") != 0 && strcmp(parts[3], "retry") != 0 &&
        parts[3][0] != '\0') {
        *target = g_uri_unescape_string(parts[3], NULL);
        g_free(parts[3]);
        parts[3] = g_strdup("{id}");
    }
    {
        gchar *route = g_strjoinv("/", parts);

        *action = g_strdup_printf("%s %s", method, route);
        g_free(route);
    }
    g_strfreev(parts);
}


static void
record_free(struct audit_record *r)
{
    g_free(r->action);
    g_free(r->target);
    g_free(r);
}


static void
on_audit_stored(void *arg, int status, json_t *result)
{
    struct audit_record *r = arg;

    if (status != 0)
        log_error("admin action not recorded in the audit log",
                  "token=%s action=\"%s\" error=%s", r->token, r->action,
                  crier_errname(status));
    record_free(r);
}


/*
 * Writes the entry once the request gets its response, of `status`.
 * NOTE: the write follows the response, so a crash in between loses the
 * entry (docs/KNOWN_LIMITS.md, "Operations").
 */
static void
on_answered(void *arg, struct crier_http_req *req, int status)
{
    struct audit_record *r = arg;
    json_t *entry = json_pack("{s:I,s:s,s:s,s:s?,s:i}", "time",
                              (json_int_t) r->time, "token", r->token,
                              "action", r->action, "target", r->target,
                              "result", status);
    int rc;

    log_notice("admin action", "token=%s action=\"%s\" target=\"%s\" "
               "result=%d", r->token, r->action,
               r->target ? r->target : "", status);
    rc = server.store_ops->audit_append(server.store->state, entry,
                                        on_audit_stored, r);
    json_decref(entry);
    if (rc != 0)
        on_audit_stored(r, rc, NULL);
}


void
admin_audit_begin(struct crier_http_req *req, const char *token)
{
    const char *method = http_req_method(req);
    struct audit_record *r;
    gchar *digest;

    /* A handler that authorizes twice still makes one entry. */
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
        !STORE_HAS_OP(audit_append) ||
        http_req_respond_arg(req, on_answered) != NULL)
        return;
    r = g_new0(struct audit_record, 1);
    digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
    snprintf(r->token, sizeof(r->token), "sha256:%.*s", AUDIT_TOKEN_HEX,
             digest);
    g_free(digest);
    r->time = g_get_real_time() / 1000;
    action_split(method, http_req_path(req), &r->action, &r->target);
    http_req_on_respond(req, on_answered, r);
}


void
admin_audit_target(struct crier_http_req *req, const char *target)
{
    struct audit_record *r = http_req_respond_arg(req, on_answered);

    if (r == NULL)
        return;
    g_free(r->target);
    r->target = g_strdup(target);
}


const char *
admin_audit_token(struct crier_http_req *req)
{
    struct audit_record *r = http_req_respond_arg(req, on_answered);

    return r != NULL ? r->token : NULL;
}


/* Reads a time filter: RFC 3339 or Unix milliseconds, not negative and
 * within a 64-bit integer. */
static int
time_param(const char *value, int64_t *out)
{
    char *end;

    if (clock_parse_rfc3339(value, out) == 0)
        return *out >= 0 ? 0 : CRIER_EINVAL;
    errno = 0;
    *out = g_ascii_strtoll(value, &end, 10);
    if (*end != '\0' || end == value || errno == ERANGE || *out < 0)
        return CRIER_EINVAL;
    return 0;
}


/* Returns 1 for a token filter in the form the log names tokens:
 * "sha256:" and AUDIT_TOKEN_HEX lowercase hex digits. */
static int
token_param_valid(const char *value)
{
    size_t prefix = strlen("sha256:");

    if (strncmp(value, "sha256:", prefix) != 0 ||
        strlen(value) != prefix + AUDIT_TOKEN_HEX)
        return 0;
    for (const char *c = value + prefix; *c != '\0'; c++)
        if (!g_ascii_isdigit(*c) && (*c < 'a' || *c > 'f'))
            return 0;
    return 1;
}


/* Builds the audit_list request from the query; on a bad parameter
 * responds 400 and returns NULL. */
static json_t *
list_request(struct crier_http_req *req)
{
    GPtrArray *params = admin_query_parse(http_req_query(req));
    json_t *request = json_object();
    const char *bad = params == NULL ? "query" : NULL;

    for (guint i = 0; params != NULL && i < params->len && !bad; i++) {
        struct admin_param *p = g_ptr_array_index(params, i);
        char *end;
        int64_t n;

        if (json_object_get(request, p->name) != NULL)
            bad = p->name;
        else if (strcmp(p->name, "token") == 0 &&
                 !token_param_valid(p->value))
            bad = p->name;
        else if (strcmp(p->name, "action") == 0 && p->value[0] == '\0')
            bad = p->name;
        else if (strcmp(p->name, "token") == 0 ||
                 strcmp(p->name, "action") == 0)
            json_object_set_new(request, p->name, json_string(p->value));
        else if (strcmp(p->name, "since") == 0 ||
                 strcmp(p->name, "until") == 0) {
            if (time_param(p->value, &n) != 0)
                bad = p->name;
            else
                json_object_set_new(request, p->name, json_integer(n));
        } else if (strcmp(p->name, "limit") == 0 ||
                   strcmp(p->name, "before") == 0) {
            errno = 0;
            n = g_ascii_strtoll(p->value, &end, 10);
            if (*end != '\0' || end == p->value || errno == ERANGE || n < 1 ||
                (strcmp(p->name, "limit") == 0 && n > 1000))
                bad = p->name;
            else
                json_object_set_new(request, p->name, json_integer(n));
        } else
            bad = p->name;
    }
    /* `bad` may point into `params`, so the error goes out first. */
    if (bad != NULL) {
        json_decref(request);
        request = NULL;
        admin_respond_error(req, 400, bad, "invalid, repeated or unknown "
                            "query parameter: use each of token "
                            "(sha256: and 12 hex digits), action, since "
                            "and until (RFC 3339 or Unix ms), limit (1 to "
                            "1000) and before (an entry id) at most once");
    }
    if (params != NULL)
        g_ptr_array_free(params, TRUE);
    return request;
}


static void
on_audit_listed(void *arg, int status, json_t *result)
{
    struct crier_http_req *req = arg;
    json_t *entries = json_object_get(result, "entries");
    size_t i;
    json_t *entry;
    char when[32];

    if (status != 0) {
        admin_respond_error(req, 503, NULL, crier_strerror(status));
        return;
    }
    json_array_foreach(entries, i, entry) {
        clock_format_ms(json_integer_value(json_object_get(entry, "time")),
                        when, sizeof(when));
        json_object_set_new(entry, "time", json_string(when));
    }
    http_respond_json(req, 200, json_incref(result));
}


/* GET /v1/admin/audit?token=&action=&since=&until=&limit=&before= */
static void
on_audit(void *arg, struct crier_http_req *req)
{
    json_t *request;
    int rc;

    if (!admin_authorize(req))
        return;
    if (!STORE_HAS_OP(audit_list)) {
        admin_respond_error(req, 501, NULL, "the store plugin has no audit "
                            "log; update it");
        return;
    }
    if ((request = list_request(req)) == NULL)
        return;
    rc = server.store_ops->audit_list(server.store->state, request,
                                      on_audit_listed, req);
    json_decref(request);
    if (rc != 0)
        on_audit_listed(req, rc, NULL);
}


int
admin_audit_routes_add(struct http_server *http)
{
    return http_route_add(http, "GET", "/v1/admin/audit", on_audit, NULL);
}
