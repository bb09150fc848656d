/*
 * The subscribe page of a topic:
 *   GET  /p/topics/{topic}    the form: an email address and a button
 *   POST /p/topics/{topic}    records a pending subscription and plans
 *                             the confirmation message (double opt-in)
 * The confirmation link of that message is served by confirm.c.
 * The answer to a POST on the subscribe form is the same whether or not
 * the address was known or subscribed, so the form tells nobody who is.
 */
#include "topics/pages.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "delivery/outbox.h"
#include "http/http.h"
#include "ingest/email_address.h"
#include "ingest/identity.h"
#include "pipeline/pipeline.h"
#include "pipeline/profile.h"
#include "server/server.h"
#include "topics/page_html.h"
#include "topics/page_int.h"
#include "topics/topics.h"


/* A subscribe form on its way through the store. */
struct subscribe_page {
    struct crier_http_req *req;
    char *topic;
    char *email;
    char *profile;
};


static void
subscribe_page_free(struct subscribe_page *s)
{
    g_free(s->topic);
    g_free(s->email);
    g_free(s->profile);
    g_free(s);
}


/* Returns the topic named in the path after `prefix`, when it exists and
 * may send email, or NULL after responding 404. */
static const struct topic *
path_topic(struct crier_http_req *req)
{
    const struct topic *t = topic_find(http_req_path(req) +
                                       strlen(TOPIC_PAGE_PREFIX));

    if (t == NULL || !topic_allows(t, "email")) {
        page_respond(req, 404, "Topic not found", "<p>There is no such "
                     "topic. Check the address of this page.</p>");
        return NULL;
    }
    return t;
}


/* Writes the subscribe form; `error` (or NULL) is shown with the field. */
static void
form_respond(struct crier_http_req *req, int status, const struct topic *t,
             const char *error)
{
    GString *out = g_string_new("<p>Get an email when there is news about "
                                "<strong>");

    page_text(out, t->title);
    g_string_append(out, "</strong> (");
    page_text(out, t->category);
    g_string_append(out, ").</p>\n<form method=\"post\" action=\""
                    TOPIC_PAGE_PREFIX);
    page_text(out, t->name);
    g_string_append(out, "\" novalidate>\n<label for=\"email\">Email "
                    "address</label>\n");
    if (error != NULL) {
        g_string_append(out, "<p id=\"email-error\" class=\"error\">");
        page_text(out, error);
        g_string_append(out, "</p>\n");
    }
    g_string_append_printf(out, "<input id=\"email\" name=\"email\" "
                           "type=\"email\" autocomplete=\"email\" "
                           "required%s>\n<button type=\"submit\">"
                           "Subscribe</button>\n</form>\n<p>We send a link "
                           "to confirm the address first.</p>",
                           error != NULL ? " aria-invalid=\"true\" "
                           "aria-describedby=\"email-error\"" : "");
    page_respond(req, status, t->title, out->str);
    g_string_free(out, TRUE);
}


static void
on_topic_page(void *arg, struct crier_http_req *req)
{
    const struct topic *t = path_topic(req);

    if (t != NULL)
        form_respond(req, 200, t, NULL);
}


static void
check_email_respond(struct subscribe_page *s)
{
    page_respond(s->req, 200, "Check your email", "<p role=\"status\">"
                 "If the address can receive email, a message with a "
                 "link to confirm the subscription is on its way. The "
                 "link works for a limited time.</p>");
    subscribe_page_free(s);
}


void
page_fail_respond(struct crier_http_req *req, const char *op, int status)
{
    log_error("page store call failed", "op=%s error=%s", op,
              crier_errname(status));
    page_respond(req, 503, "Try again later", "<p>The request could not be "
                 "saved. Try again in a few minutes.</p>");
}


static void
on_confirm_planned(void *arg, int status, json_t *result)
{
    struct subscribe_page *s = arg;

    if (status < 0) {
        page_fail_respond(s->req, "commit", status);
        subscribe_page_free(s);
        return;
    }
    log_info("subscription confirmation planned", "topic=%s profile=%s",
             s->topic, s->profile);
    outbox_kick();
    check_email_respond(s);
}


/* Plans the confirmation message in the service lane: the resident asked
 * for it, and it must arrive while the link works. */
static void
confirm_plan(struct subscribe_page *s)
{
    int64_t now = clock_now_ms();
    char *key = g_strdup_printf(PAGES_CONFIRM_RULE ":%s/email/%s/%lld",
                                s->topic, s->profile, (long long) now);
    json_t *batch = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i}]}",
                              "jobs", "key", key, "rule", PAGES_CONFIRM_RULE,
                              "profile", s->profile, "channel", "email",
                              "template", pages.confirm_template, "to",
                              s->email, "due", (json_int_t) now, "lane", 0);
    int rc = server.store_ops->commit(server.store->state, batch,
                                      on_confirm_planned, s);

    json_decref(batch);
    g_free(key);
    if (rc < 0)
        on_confirm_planned(s, rc, NULL);
}


static void
on_pending_written(void *arg, int status, json_t *result)
{
    struct subscribe_page *s = arg;

    if (status < 0) {
        page_fail_respond(s->req, "subscription_set", status);
        subscribe_page_free(s);
        return;
    }
    confirm_plan(s);
}


/* Records the pending subscription, unless it is confirmed already: then
 * nothing changes and no message goes. */
static void
on_current(void *arg, int status, json_t *result)
{
    struct subscribe_page *s = arg;
    size_t i;
    json_t *row, *request;
    int rc;

    if (status < 0) {
        page_fail_respond(s->req, "subscriptions_read", status);
        subscribe_page_free(s);
        return;
    }
    json_array_foreach(json_object_get(result, "subscriptions"), i, row)
        if (g_strcmp0(json_string_value(json_object_get(row, "topic")),
                      s->topic) == 0 &&
            g_strcmp0(json_string_value(json_object_get(row, "channel")),
                      "email") == 0 &&
            g_strcmp0(json_string_value(json_object_get(row, "status")),
                      "confirmed") == 0) {
            check_email_respond(s);
            return;
        }
    request = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile", s->profile,
                        "topic", s->topic, "channel", "email", "status",
                        "pending", "origin", "page", "time",
                        (json_int_t) clock_now_ms());
    rc = server.store_ops->subscription_set(server.store->state, request,
                                            on_pending_written, s);
    json_decref(request);
    if (rc < 0)
        on_pending_written(s, rc, NULL);
}


static void
current_read(struct subscribe_page *s)
{
    json_t *request = json_pack("{s:s}", "profile", s->profile);
    int rc = server.store_ops->subscriptions_read(server.store->state,
                                                  request, on_current, s);

    json_decref(request);
    if (rc < 0)
        on_current(s, rc, NULL);
}


static void
on_profile_created(void *arg, int status, json_t *result)
{
    struct subscribe_page *s = arg;

    pipeline_exclusive_end();
    if (status < 0) {
        page_fail_respond(s->req, "commit", status);
        subscribe_page_free(s);
        return;
    }
    current_read(s);
}


/*
 * Uses the profile that owns the address, or stores a new one with only
 * that identity. The lookup and the write run in one turn between two
 * pipeline batches (pipeline_exclusive), and such turns run one at a
 * time. So two forms for one new address, or a form and an event with
 * it, never store a second profile without the identity.
 */
static void
on_owner(void *arg, int status, json_t *result)
{
    struct subscribe_page *s = arg;
    json_t *found = json_array_get(json_object_get(result, "profiles"), 0);
    json_t *batch;
    int64_t now = clock_now_ms();
    char id[37];
    int rc;

    if (status < 0 || found != NULL)
        pipeline_exclusive_end();
    if (status < 0) {
        page_fail_respond(s->req, "profiles_load", status);
        subscribe_page_free(s);
        return;
    }
    if (found != NULL) {
        s->profile = g_strdup(json_string_value(json_object_get(found,
                                                                "id")));
        current_read(s);
        return;
    }
    profile_id_new(now, id);
    s->profile = g_strdup(id);
    batch = json_pack("{s:[{s:s,s:I,s:I,s:{},s:[{s:s,s:s}]}]}", "profiles",
                      "id", id, "created", (json_int_t) now, "updated",
                      (json_int_t) now, "attributes", "identities", "kind",
                      "email", "value", s->email);
    rc = server.store_ops->commit(server.store->state, batch,
                                  on_profile_created, s);
    json_decref(batch);
    if (rc < 0)
        on_profile_created(s, rc, NULL);
}


/* Looks up the address's owner; runs between two pipeline batches. */
static void
on_owner_turn(void *arg)
{
    struct subscribe_page *s = arg;
    json_t *request = json_pack("{s:[{s:s,s:s}]}", "identities", "kind",
                                "email", "value", s->email);
    int rc = server.store_ops->profiles_load(server.store->state, request,
                                             on_owner, s);

    json_decref(request);
    if (rc < 0)
        on_owner(s, rc, NULL);
}


static void
on_topic_post(void *arg, struct crier_http_req *req)
{
    const struct topic *t = path_topic(req);
    char *text;
    json_t *email;
    struct subscribe_page *s;
    int rc;

    if (t == NULL)
        return;
    text = page_form_value(req, "email");
    email = text != NULL ? identity_normalize_email(g_strstrip(text)) : NULL;
    g_free(text);
    if (email == NULL ||
        !email_address_valid(json_string_value(email))) {
        json_decref(email);
        form_respond(req, 400, t, "Enter an email address, such as "
                     "name@example.com.");
        return;
    }
    s = g_new0(struct subscribe_page, 1);
    s->req = req;
    s->topic = g_strdup(t->name);
    s->email = g_strdup(json_string_value(email));
    json_decref(email);
    rc = pipeline_exclusive(on_owner_turn, s);
    if (rc < 0) {
        page_fail_respond(req, "pipeline_exclusive", rc);
        subscribe_page_free(s);
    }
}


int
page_routes_add(struct http_server *http)
{
    int rc = 0;

    if (pages.key == NULL || !STORE_HAS_OP(subscription_set) ||
        !STORE_HAS_OP(profile_get))
        return 0;
    rc = http_route_add(http, "GET", TOPIC_PAGE_PREFIX "*", on_topic_page,
                        NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", TOPIC_PAGE_PREFIX "*",
                            on_topic_post, NULL);
    if (rc == 0)
        rc = confirm_routes_add(http);
    if (rc == 0)
        rc = prefs_routes_add(http);
    return rc;
}
