/*
 * Topic and subscription routes of the admin API:
 *   GET  /v1/topics                    every topic, from config and API
 *   POST /v1/topics                    add or replace a topic of the API
 *   POST /v1/subscriptions             write up to 1000 subscriptions
 *   GET  /v1/subscriptions?profile=ID  a profile's subscriptions
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "server/server.h"
#include "topics/topics.h"

#define SUBSCRIPTIONS_MAX 1000

/* A POST /v1/subscriptions under way: the entries, their profiles once
 * resolved, and the writes still out. */
struct subscribe_call {
    struct crier_http_req *req;
    json_t *entries;
    json_t *missing;            /* indexes of entries without a profile */
    size_t waiting;
    size_t written;
    int failed;                 /* a write's error code, or 0 */
};


static int
store_supports_topics(struct crier_http_req *req)
{
    char message[160];

    if (STORE_HAS_OP(subscription_set) && STORE_HAS_OP(object_put))
        return 1;
    snprintf(message, sizeof(message), "the store plugin \"%s\" does not "
             "implement subscriptions", server.store->desc->name);
    admin_respond_error(req, 501, NULL, message);
    return 0;
}


/* Responds 503 and returns 0 until the stored topics are read back after a
 * start, so that no response leaves them out. */
static int
topics_loaded(struct crier_http_req *req)
{
    if (topics_ready())
        return 1;
    http_resp_header(req, "Retry-After", "1");
    admin_respond_error(req, 503, NULL, "the stored topics are still being "
                        "read; retry in a moment");
    return 0;
}


static void
on_topics(void *arg, struct crier_http_req *req)
{
    if (!admin_authorize(req) || !topics_loaded(req))
        return;
    http_respond_json(req, 200, json_pack("{s:o}", "topics", topics_json()));
}


struct topic_wait {
    struct crier_http_req *req;
    char *name;
};


static void
on_topic_stored(void *arg, int status, json_t *result)
{
    struct topic_wait *wait = arg;
    const struct topic *t = topic_find(wait->name);

    if (status < 0) {
        log_error("topic not stored", "topic=%s error=%s", wait->name,
                  crier_errname(status));
        admin_respond_error(wait->req, 500, NULL, "the store failed; see "
                            "the server log");
    } else {
        http_respond_json(wait->req, 201, topic_json(t));
    }
    g_free(wait->name);
    g_free(wait);
}


/* Checks a POST /v1/topics body and adds the topic. On an error
 * responds 400 with the member at fault and returns 0. */
static int
topic_body_valid(struct crier_http_req *req, const json_t *body)
{
    static const char *const members[] = {
        "name", "title", "category", "channels", NULL
    };
    const char *unknown = admin_member_unknown(body, members);
    const char *field, *error;
    char message[240];

    if (unknown != NULL) {
        snprintf(message, sizeof(message), "%.64s is not a member of a "
                 "topic: use name, title, category and channels", unknown);
        admin_respond_error(req, 400, unknown, message);
        return 0;
    }
    error = topic_add_json(body, 0, &field);
    if (error == NULL)
        return 1;
    if (field != NULL)
        snprintf(message, sizeof(message), "%s: %s", field, error);
    else
        snprintf(message, sizeof(message), "the body %s", error);
    admin_respond_error(req, 400, field, message);
    return 0;
}


/* POST /v1/topics: the topic takes effect at once and is stored, so it
 * stays after a restart. */
static void
on_topic_create(void *arg, struct crier_http_req *req)
{
    json_t *body, *request;
    struct topic_wait *wait;
    int rc;

    if (!admin_authorize(req) || !topics_loaded(req) ||
        !store_supports_topics(req) || admin_body_load(req, 0, &body) != 0)
        return;
    if (!topic_body_valid(req, body)) {
        json_decref(body);
        return;
    }
    wait = g_new0(struct topic_wait, 1);
    wait->req = req;
    wait->name = g_strdup(json_string_value(json_object_get(body, "name")));
    request = json_pack("{s:s,s:s,s:o}", "kind", "topic", "id", wait->name,
                        "body", topic_json(topic_find(wait->name)));
    rc = server.store_ops->object_put(server.store->state, request,
                                      on_topic_stored, wait);
    json_decref(request);
    json_decref(body);
    if (rc < 0)
        on_topic_stored(wait, rc, NULL);
}


static void
subscribe_call_free(struct subscribe_call *call)
{
    json_decref(call->entries);
    json_decref(call->missing);
    g_free(call);
}


/* Responds once no write is out any more. */
static void
subscribe_finish(struct subscribe_call *call)
{
    if (--call->waiting > 0)
        return;
    if (call->failed != 0) {
        log_error("subscriptions not stored", "error=%s",
                  crier_errname(call->failed));
        admin_respond_error(call->req, 500, NULL, "the store failed; see "
                            "the server log");
    } else {
        http_respond_json(call->req, 200, json_pack(
            "{s:I,s:O}", "written", (json_int_t) call->written, "missing",
            call->missing));
    }
    subscribe_call_free(call);
}


static void
on_written(void *arg, int status, json_t *result)
{
    struct subscribe_call *call = arg;

    if (status < 0 && call->failed == 0)
        call->failed = status;
    call->written += status == 0;
    subscribe_finish(call);
}


/* Returns the profile id that owns the entry's identity in `loaded`. */
static const char *
entry_profile(const json_t *entry, const json_t *loaded)
{
    const char *id = json_string_value(json_object_get(entry, "profile"));
    const char *kinds[] = { "email", "phone" };
    size_t i, j;
    json_t *profile, *identity;

    if (id != NULL)
        return id;
    for (size_t k = 0; k < 2; k++) {
        const char *value = json_string_value(json_object_get(entry,
                                                              kinds[k]));

        if (value == NULL)
            continue;
        json_array_foreach(json_object_get(loaded, "profiles"), i, profile)
            json_array_foreach(json_object_get(profile, "identities"), j,
                               identity)
                if (g_strcmp0(json_string_value(json_object_get(identity,
                                                                "kind")),
                              kinds[k]) == 0 &&
                    g_strcmp0(json_string_value(json_object_get(identity,
                                                                "value")),
                              value) == 0)
                    return json_string_value(json_object_get(profile, "id"));
    }
    return NULL;
}


/* Writes each entry whose profile is known, all queued at once: the
 * store applies them in order. */
static void
on_loaded(void *arg, int status, json_t *result)
{
    struct subscribe_call *call = arg;
    size_t i;
    json_t *entry;

    if (status < 0) {
        admin_respond_error(call->req, 500, NULL, "the store failed to "
                            "read profiles; see the server log");
        subscribe_call_free(call);
        return;
    }
    call->waiting = 1;          /* held until every write is queued */
    json_array_foreach(call->entries, i, entry) {
        const char *profile = entry_profile(entry, result);
        json_t *request;
        int rc;

        if (profile == NULL) {
            json_array_append_new(call->missing, json_integer((json_int_t) i));
            continue;
        }
        request = json_pack("{s:s,s:O,s:O,s:O,s:O,s:I}", "profile", profile,
                            "topic", json_object_get(entry, "topic"),
                            "channel", json_object_get(entry, "channel"),
                            "status", json_object_get(entry, "status"),
                            "origin", json_object_get(entry, "origin"),
                            "time", (json_int_t) clock_now_ms());
        call->waiting++;
        rc = server.store_ops->subscription_set(server.store->state, request,
                                                on_written, call);
        json_decref(request);
        if (rc < 0)
            on_written(call, rc, NULL);
    }
    subscribe_finish(call);
}


/* Checks that an entry names the resident once: by profile, email or
 * phone. Returns NULL or the error, with the member in `field`. */
static const char *
entry_resident_check(const json_t *entry, const char **field)
{
    static const char *const kinds[] = { "profile", "email", "phone" };
    const char *first = NULL;

    for (size_t k = 0; k < 3; k++) {
        json_t *value = json_object_get(entry, kinds[k]);

        if (value == NULL)
            continue;
        *field = kinds[k];
        if (!json_is_string(value) || json_string_length(value) == 0)
            return "must be a non-empty string";
        if (first != NULL)
            return first[0] == 'p'
                   ? "give profile, email or phone, not two of them"
                   : "give email or phone, not both";
        first = kinds[k];
    }
    *field = "profile";
    return first == NULL ? "each entry names a profile, an email or a "
                           "phone" : NULL;
}


/* Checks one entry and fills in its origin. Returns NULL or the error,
 * with the member in `field`. */
static const char *
entry_check(json_t *entry, const char **field)
{
    static const char *const members[] = {
        "profile", "email", "phone", "topic", "channel", "status", "origin",
        NULL
    };
    const char *topic = json_string_value(json_object_get(entry, "topic"));
    const char *channel = json_string_value(json_object_get(entry,
                                                            "channel"));
    const char *status = json_string_value(json_object_get(entry, "status"));
    const char *origin = json_string_value(json_object_get(entry, "origin"));
    const struct topic *t = topic_find(topic);

    *field = admin_member_unknown(entry, members);
    if (*field != NULL)
        return "is not a member of a subscription: use profile, email or "
               "phone, topic, channel, status and origin";
    *field = "topic";
    if (t == NULL)
        return "no such topic; GET /v1/topics lists them";
    *field = "channel";
    if (channel == NULL || !topic_allows(t, channel))
        return "the topic does not allow this channel";
    *field = "status";
    if (g_strcmp0(status, "pending") != 0 &&
        g_strcmp0(status, "confirmed") != 0 &&
        g_strcmp0(status, "unsubscribed") != 0)
        return "must be pending, confirmed or unsubscribed";
    *field = "origin";
    if (origin == NULL)
        json_object_set_new(entry, "origin", json_string("api"));
    else if (strcmp(origin, "api") != 0 && strcmp(origin, "import") != 0)
        return "must be api or import";
    return entry_resident_check(entry, field);
}


static void
on_subscribe(void *arg, struct crier_http_req *req)
{
    static const char *const body_members[] = { "subscriptions", NULL };
    size_t i;
    const char *unknown;
    json_t *body, *entries, *entry, *identities, *request;
    struct subscribe_call *call;
    int rc;

    if (!admin_authorize(req) || !topics_loaded(req) ||
        !store_supports_topics(req) || admin_body_load(req, 0, &body) != 0)
        return;
    unknown = admin_member_unknown(body, body_members);
    if (unknown != NULL) {
        admin_respond_error(req, 400, unknown, "the body has only the "
                            "member \"subscriptions\"");
        json_decref(body);
        return;
    }
    entries = json_object_get(body, "subscriptions");
    if (!json_is_array(entries) || json_array_size(entries) == 0 ||
        json_array_size(entries) > SUBSCRIPTIONS_MAX) {
        json_decref(body);
        admin_respond_error(req, 400, "subscriptions", "the body must be "
                            "{\"subscriptions\": [...]} with 1 to 1000 "
                            "entries");
        return;
    }
    identities = json_array();
    json_array_foreach(entries, i, entry) {
        const char *member = NULL;
        const char *error = "each entry must be an object";
        char field[128], message[240];

        if (json_is_object(entry))
            error = entry_check(entry, &member);

        if (error != NULL) {
            snprintf(field, sizeof(field), "subscriptions[%zu]", i);
            snprintf(message, sizeof(message), "entry %zu: %s", i, error);
            if (member != NULL) {
                snprintf(field, sizeof(field), "subscriptions[%zu].%.64s", i,
                         member);
                snprintf(message, sizeof(message), "entry %zu: %.64s: %s", i,
                         member, error);
            }
            admin_respond_error(req, 400, field, message);
            json_decref(identities);
            json_decref(body);
            return;
        }
        if (json_is_string(json_object_get(entry, "email")))
            json_array_append_new(identities, json_pack(
                "{s:s,s:O}", "kind", "email", "value",
                json_object_get(entry, "email")));
        if (json_is_string(json_object_get(entry, "phone")))
            json_array_append_new(identities, json_pack(
                "{s:s,s:O}", "kind", "phone", "value",
                json_object_get(entry, "phone")));
    }
    call = g_new0(struct subscribe_call, 1);
    call->req = req;
    call->entries = json_incref(entries);
    call->missing = json_array();
    json_decref(body);
    request = json_pack("{s:o}", "identities", identities);
    rc = server.store_ops->profiles_load(server.store->state, request,
                                         on_loaded, call);
    json_decref(request);
    if (rc < 0)
        on_loaded(call, rc, NULL);
}


static void
on_subscriptions_read(void *arg, int status, json_t *result)
{
    struct crier_http_req *req = arg;

    if (status < 0) {
        admin_respond_error(req, 500, NULL, "the store failed to read; see "
                            "the server log");
        return;
    }
    http_respond_json(req, 200, json_pack("{s:O}", "subscriptions",
                                          json_object_get(result,
                                                          "subscriptions")));
}


static void
on_subscriptions_get(void *arg, struct crier_http_req *req)
{
    GPtrArray *params;
    const char *profile = NULL;
    json_t *request;
    int rc;

    if (!admin_authorize(req) || !topics_loaded(req) ||
        !store_supports_topics(req))
        return;
    params = admin_query_parse(http_req_query(req) ? http_req_query(req)
                                                   : "");
    for (guint i = 0; params != NULL && i < params->len; i++) {
        const struct admin_param *p = g_ptr_array_index(params, i);

        if (strcmp(p->name, "profile") == 0 && p->value[0] != '\0')
            profile = p->value;
    }
    if (profile == NULL) {
        if (params != NULL)
            g_ptr_array_unref(params);
        admin_respond_error(req, 400, "profile", "name the profile: "
                            "/v1/subscriptions?profile=<id>");
        return;
    }
    request = json_pack("{s:s}", "profile", profile);
    g_ptr_array_unref(params);
    rc = server.store_ops->subscriptions_read(server.store->state, request,
                                              on_subscriptions_read, req);
    json_decref(request);
    if (rc < 0)
        on_subscriptions_read(req, rc, NULL);
}


int
topic_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", "/v1/topics", on_topics, NULL);

    if (rc == 0)
        rc = http_route_add(http, "POST", "/v1/topics", on_topic_create,
                            NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", "/v1/subscriptions", on_subscribe,
                            NULL);
    if (rc == 0)
        rc = http_route_add(http, "GET", "/v1/subscriptions",
                            on_subscriptions_get, NULL);
    return rc;
}
