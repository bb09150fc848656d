/*
 * Segment routes of the admin API:
 *   GET /v1/segments                         every segment with its count
 *   GET /v1/segments/{name}                  one segment with its count
 *   GET /v1/segments/{name}/members          a page of members
 * Members come as JSON, or as CSV with ?format=csv or Accept: text/csv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "segments/segments.h"
#include "server/server.h"

#define SEGMENTS_PATH "/v1/segments"
#define MEMBERS_SUFFIX "/members"
#define MEMBERS_LIMIT_DEFAULT 100
#define MEMBERS_LIMIT_MAX 1000
#define PROFILE_ID_MAX 128

/* One request waiting for the store. For the list, `next` is the index
 * of the segment whose count is read next. */
struct segment_call {
    struct crier_http_req *req;
    const struct segment *segment;
    guint next;
    json_t *list;
    int csv;                    /* members go out as text/csv */
    json_int_t limit;           /* the page size, for the CSV next link */
};


static void
segment_call_free(struct segment_call *call)
{
    json_decref(call->list);
    g_free(call);
}


/* Responds 501 and returns 0 when the store plugin lacks the segment
 * operations. */
static int
store_supports_segments(struct crier_http_req *req)
{
    char message[160];

    if (STORE_HAS_OP(segment_count) && STORE_HAS_OP(segment_members))
        return 1;
    snprintf(message, sizeof(message), "the store plugin \"%s\" does not "
             "implement segment_count and segment_members",
             server.store->desc->name);
    admin_respond_error(req, 501, NULL, message);
    return 0;
}


static json_t *
segment_json(const struct segment *s, const json_t *count)
{
    return json_pack("{s:s,s:s,s:O}", "name", s->name, "when", s->source,
                     "count", count);
}


static int count_next(struct segment_call *call);


static void
on_count(void *arg, int status, json_t *result)
{
    struct segment_call *call = arg;
    json_t *count = json_object_get(result, "count");

    if (status < 0) {
        admin_respond_store_failure(call->req, "segment_count", status);
        segment_call_free(call);
        return;
    }
    if (call->list == NULL) {
        http_respond_json(call->req, 200, segment_json(call->segment, count));
        segment_call_free(call);
        return;
    }
    json_array_append_new(call->list, segment_json(call->segment, count));
    count_next(call);
}


/* Reads the count of the next segment of the list, or responds with the
 * list once every count is read. Returns 0, or the store's error. */
static int
count_next(struct segment_call *call)
{
    const struct segment_set *set = server.segments;
    json_t *request;
    int rc;

    if (call->list != NULL) {
        if (set == NULL || call->next >= set->segments->len) {
            http_respond_json(call->req, 200,
                              json_pack("{s:O}", "segments", call->list));
            segment_call_free(call);
            return 0;
        }
        call->segment = g_ptr_array_index(set->segments, call->next++);
    }
    request = json_pack("{s:s}", "segment", call->segment->name);
    rc = server.store_ops->segment_count(server.store->state, request,
                                         on_count, call);
    json_decref(request);
    if (rc < 0) {
        admin_respond_store_failure(call->req, "segment_count", rc);
        segment_call_free(call);
    }
    return rc;
}


/* Appends `value` as one CSV field, quoted when it contains a comma, a
 * quote or a line break (RFC 4180). */
static void
append_csv_field(GString *out, const char *value)
{
    if (strpbrk(value, ",\"\r\n") == NULL) {
        g_string_append(out, value);
        return;
    }
    g_string_append_c(out, '"');
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '"')
            g_string_append_c(out, '"');
        g_string_append_c(out, *p);
    }
    g_string_append_c(out, '"');
}


/* Sets the Link and X-Next headers that carry the cursor of a CSV page,
 * because the CSV body has no place for it. */
static void
set_next_headers(struct segment_call *call, const char *next)
{
    gchar *name = g_uri_escape_string(call->segment->name, NULL, FALSE);
    gchar *after = g_uri_escape_string(next, NULL, FALSE);
    gchar *link = g_strdup_printf("<" SEGMENTS_PATH "/%s" MEMBERS_SUFFIX
                                  "?format=csv&limit=%" JSON_INTEGER_FORMAT
                                  "&after=%s>; rel=\"next\"", name,
                                  call->limit, after);

    http_resp_header(call->req, "Link", link);
    http_resp_header(call->req, "X-Next", next);
    g_free(link);
    g_free(after);
    g_free(name);
}


/* Responds with the page as text/csv: a `profile,since` header row and
 * one row per member, with CRLF line ends. */
static void
respond_members_csv(struct segment_call *call, json_t *result)
{
    json_t *next = json_object_get(result, "next");
    GString *body = g_string_new("profile,since\r\n");
    size_t i;
    json_t *member;

    json_array_foreach(json_object_get(result, "members"), i, member) {
        append_csv_field(body, json_string_value(json_object_get(member,
                                                                 "profile")));
        g_string_append_printf(body, ",%s\r\n", json_string_value(
            json_object_get(member, "since")));
    }
    if (json_is_string(next))
        set_next_headers(call, json_string_value(next));
    http_respond(call->req, 200, "text/csv; charset=utf-8", body->str,
                 body->len);
    g_string_free(body, TRUE);
}


static void
on_members(void *arg, int status, json_t *result)
{
    struct segment_call *call = arg;
    json_t *members = json_object_get(result, "members");
    size_t i;
    json_t *member;
    char text[32];

    if (status < 0) {
        admin_respond_store_failure(call->req, "segment_members", status);
        segment_call_free(call);
        return;
    }
    json_array_foreach(members, i, member) {
        clock_format_ms(json_integer_value(json_object_get(member, "since")),
                        text, sizeof(text));
        json_object_set_new(member, "since", json_string(text));
    }
    if (call->csv)
        respond_members_csv(call, result);
    else
        http_respond_json(call->req, 200, json_incref(result));
    segment_call_free(call);
}


/* Returns 1 when the Accept header lists text/csv. NOTE: q-values are
 * not weighed, so "text/csv;q=0" also selects CSV. */
static int
accepts_csv(struct crier_http_req *req)
{
    const char *accept = http_req_header(req, "Accept");
    gchar *lower;
    int found;

    if (accept == NULL)
        return 0;
    lower = g_ascii_strdown(accept, -1);
    found = strstr(lower, "text/csv") != NULL;
    g_free(lower);
    return found;
}


/* Reads limit (1 to 1000) and after from the query into `request`, and
 * format into `call->csv`, or responds 400 and returns -1. Without
 * format, CSV is chosen when the Accept header lists text/csv. */
static int
members_query(struct segment_call *call, json_t *request)
{
    struct crier_http_req *req = call->req;
    GPtrArray *params = admin_query_parse(http_req_query(req));
    int rc = params != NULL ? 0 : -1;
    int format = -1;            /* 1 for csv, 0 for json, -1 if not given */

    if (params == NULL)
        admin_respond_error(req, 400, NULL, "the query has an invalid "
                            "percent-escape");
    for (guint i = 0; rc == 0 && i < params->len; i++) {
        const struct admin_param *param = g_ptr_array_index(params, i);
        char *end;
        long limit;

        if (strcmp(param->name, "limit") == 0) {
            limit = strtol(param->value, &end, 10);
            if (param->value[0] < '0' || param->value[0] > '9' ||
                *end != '\0' || limit < 1 || limit > MEMBERS_LIMIT_MAX) {
                admin_respond_error(req, 400, "limit", "must be an integer "
                                    "from 1 to 1000");
                rc = -1;
            } else {
                json_object_set_new(request, "limit", json_integer(limit));
            }
        } else if (strcmp(param->name, "after") == 0) {
            if (param->value[0] == '\0' ||
                strlen(param->value) > PROFILE_ID_MAX) {
                admin_respond_error(req, 400, "after", "must be the "
                                    "\"next\" profile id of an earlier "
                                    "page");
                rc = -1;
            } else {
                json_object_set_new(request, "after",
                                    json_string(param->value));
            }
        } else if (strcmp(param->name, "format") == 0) {
            if (strcmp(param->value, "csv") == 0) {
                format = 1;
            } else if (strcmp(param->value, "json") == 0) {
                format = 0;
            } else {
                admin_respond_error(req, 400, "format", "must be csv or "
                                    "json");
                rc = -1;
            }
        } else {
            admin_respond_error(req, 400, param->name, "is not a members "
                                "parameter: use limit, after and format");
            rc = -1;
        }
    }
    if (params != NULL)
        g_ptr_array_free(params, TRUE);
    call->csv = format >= 0 ? format : accepts_csv(req);
    return rc;
}


static void
start_members(struct segment_call *call)
{
    json_t *request = json_pack("{s:s,s:i}", "segment", call->segment->name,
                                "limit", MEMBERS_LIMIT_DEFAULT);
    int rc;

    if (members_query(call, request) != 0) {
        json_decref(request);
        segment_call_free(call);
        return;
    }
    call->limit = json_integer_value(json_object_get(request, "limit"));
    rc = server.store_ops->segment_members(server.store->state, request,
                                           on_members, call);
    json_decref(request);
    if (rc < 0) {
        admin_respond_store_failure(call->req, "segment_members", rc);
        segment_call_free(call);
    }
}


static void
on_segments(void *arg, struct crier_http_req *req)
{
    struct segment_call *call;

    if (!admin_authorize(req) || !store_supports_segments(req))
        return;
    call = g_new0(struct segment_call, 1);
    call->req = req;
    call->list = json_array();
    count_next(call);
}


/* Finds the segment of "{name}" or "{name}/members", the path after
 * SEGMENTS_PATH "/", and sets `name_len` to the length of the name in
 * `rest` (all of it for another path). Returns NULL for an unknown one. */
static const struct segment *
segment_of_path(const char *rest, int *members, size_t *name_len)
{
    const char *slash = strchr(rest, '/');
    size_t len = slash != NULL ? (size_t) (slash - rest) : strlen(rest);
    const struct segment *s;
    char *name;

    *members = slash != NULL;
    *name_len = strlen(rest);
    if (slash != NULL && strcmp(slash, MEMBERS_SUFFIX) != 0)
        return NULL;
    *name_len = len;
    name = g_strndup(rest, len);
    s = segment_set_find(server.segments, name);
    g_free(name);
    return s;
}


static void
on_segment_path(void *arg, struct crier_http_req *req)
{
    const char *rest = http_req_path(req) + strlen(SEGMENTS_PATH "/");
    const struct segment *s;
    struct segment_call *call;
    int members;
    size_t name_len;
    char message[200];

    if (!admin_authorize(req))
        return;
    s = segment_of_path(rest, &members, &name_len);
    if (s == NULL) {
        snprintf(message, sizeof(message), "segment not found: %.*s; GET "
                 SEGMENTS_PATH " lists the configured segments",
                 (int) (name_len < 120 ? name_len : 120), rest);
        admin_respond_error(req, 404, NULL, message);
        return;
    }
    if (!store_supports_segments(req))
        return;
    call = g_new0(struct segment_call, 1);
    call->req = req;
    call->segment = s;
    if (members)
        start_members(call);
    else
        count_next(call);
}


int
admin_segment_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", SEGMENTS_PATH, on_segments, NULL);

    if (rc == 0)
        rc = http_route_add(http, "GET", SEGMENTS_PATH "/*",
                            on_segment_path, NULL);
    return rc;
}
