/*
 * The subscribe page of a topic and the confirmation of a subscription:
 *   GET  /p/topics/{topic}    the form: an email address and a button
 *   POST /p/topics/{topic}    records a pending subscription and plans
 *                             the confirmation message (double opt-in)
 *   GET  /p/confirm/{token}   a button that confirms; changes nothing,
 *                             because mail scanners follow every GET
 *   POST /p/confirm/{token}   confirms the subscription
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
#include "pipeline/profile.h"
#include "server/server.h"
#include "topics/page_html.h"
#include "topics/page_int.h"
#include "topics/topics.h"

#define TOPIC_PAGE_PREFIX "/p/topics/"
#define CONFIRM_PAGE_PREFIX "/p/confirm/"

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


static void
fail_respond(struct crier_http_req *req, const char *op, int status)
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
        fail_respond(s->req, "commit", status);
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
        fail_respond(s->req, "subscription_set", status);
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
        fail_respond(s->req, "subscriptions_read", status);
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

    if (status < 0) {
        fail_respond(s->req, "commit", status);
        subscribe_page_free(s);
        return;
    }
    current_read(s);
}


/*
 * Uses the profile that owns the address, or stores a new one with only
 * that identity.
 * NOTE: a new profile is written here, not by the pipeline. An event with
 * the same address that the pipeline handles at the same moment may
 * create a second profile, and the identity stays with the first one
 * stored.
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

    if (status < 0) {
        fail_respond(s->req, "profiles_load", status);
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


static void
on_topic_post(void *arg, struct crier_http_req *req)
{
    const struct topic *t = path_topic(req);
    char *text;
    json_t *email, *request;
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
    request = json_pack("{s:[{s:s,s:o}]}", "identities", "kind", "email",
                        "value", email);
    rc = server.store_ops->profiles_load(server.store->state, request,
                                         on_owner, s);
    json_decref(request);
    if (rc < 0)
        on_owner(s, rc, NULL);
}


/* The parts of a confirmation token's purpose. */
struct confirm_link {
    char *profile;
    const struct topic *topic;
    char *channel;
    int64_t expires;
};


static void
confirm_link_clear(struct confirm_link *link)
{
    g_free(link->profile);
    g_free(link->channel);
}


/* Reads the token of a /p/confirm/ path. Responds 404 or 410 and returns
 * 0 when it is not a valid, current confirmation link. */
static int
confirm_link_read(struct crier_http_req *req, struct confirm_link *link)
{
    char *message = NULL;
    char **parts = NULL;
    int ok = 0;

    memset(link, 0, sizeof(*link));
    link->profile = page_token_verify(http_req_path(req) +
                                      strlen(CONFIRM_PAGE_PREFIX), &message);
    if (link->profile != NULL && g_str_has_prefix(message, "confirm/")) {
        parts = g_strsplit(message + strlen("confirm/"), "/", 3);
        if (g_strv_length(parts) == 3) {
            link->topic = topic_find(parts[0]);
            link->channel = g_strdup(parts[1]);
            link->expires = g_ascii_strtoll(parts[2], NULL, 10);
            ok = link->topic != NULL;
        }
    }
    g_strfreev(parts);
    g_free(message);
    if (!ok) {
        page_respond(req, 404, "Link not valid", "<p>This confirmation link "
                     "is not valid. Use the link in the newest message you "
                     "received, or subscribe again.</p>");
    } else if (link->expires < clock_now_ms()) {
        GString *out = g_string_new("<p>This confirmation link has "
                                    "expired. <a href=\""
                                    TOPIC_PAGE_PREFIX);

        page_text(out, link->topic->name);
        g_string_append(out, "\">Subscribe again</a> to get a new "
                        "one.</p>");
        page_respond(req, 410, "Link expired", out->str);
        g_string_free(out, TRUE);
        ok = 0;
    }
    if (!ok)
        confirm_link_clear(link);
    return ok;
}


static void
on_confirm_page(void *arg, struct crier_http_req *req)
{
    struct confirm_link link;
    GString *out;

    if (!confirm_link_read(req, &link))
        return;
    out = g_string_new("<p>Confirm that you want email about <strong>");
    page_text(out, link.topic->title);
    g_string_append(out, "</strong>.</p>\n<form method=\"post\">"
                    "<button type=\"submit\">Confirm subscription</button>"
                    "</form>");
    page_respond(req, 200, "Confirm your subscription", out->str);
    g_string_free(out, TRUE);
    confirm_link_clear(&link);
}


struct confirm_write {
    struct crier_http_req *req;
    char *profile;
    char *title;
};


static void
on_confirmed(void *arg, int status, json_t *result)
{
    struct confirm_write *w = arg;
    GString *out;
    char *token;

    if (status < 0) {
        fail_respond(w->req, "subscription_set", status);
    } else {
        log_info("subscription confirmed", "profile=%s", w->profile);
        out = g_string_new("<p role=\"status\">You will get email about "
                           "<strong>");
        page_text(out, w->title);
        token = page_token_sign(w->profile, "prefs");
        g_string_append_printf(out, "</strong>.</p>\n<p><a href=\"/p/prefs/"
                               "%s\">Manage your subscriptions</a></p>",
                               token);
        page_respond(w->req, 200, "Subscribed", out->str);
        g_string_free(out, TRUE);
        g_free(token);
    }
    g_free(w->profile);
    g_free(w->title);
    g_free(w);
}


static void
on_confirm_post(void *arg, struct crier_http_req *req)
{
    struct confirm_link link;
    struct confirm_write *w;
    json_t *request;
    int rc;

    if (!confirm_link_read(req, &link))
        return;
    w = g_new0(struct confirm_write, 1);
    w->req = req;
    w->profile = g_strdup(link.profile);
    w->title = g_strdup(link.topic->title);
    request = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile",
                        link.profile, "topic", link.topic->name, "channel",
                        link.channel, "status", "confirmed", "origin",
                        "page", "time", (json_int_t) clock_now_ms());
    rc = server.store_ops->subscription_set(server.store->state, request,
                                            on_confirmed, w);
    json_decref(request);
    confirm_link_clear(&link);
    if (rc < 0)
        on_confirmed(w, rc, NULL);
}


int
page_routes_add(struct http_server *http)
{
    int rc = 0;

    if (pages.key == NULL || !STORE_HAS_OP(subscription_set))
        return 0;
    rc = http_route_add(http, "GET", TOPIC_PAGE_PREFIX "*", on_topic_page,
                        NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", TOPIC_PAGE_PREFIX "*",
                            on_topic_post, NULL);
    if (rc == 0)
        rc = http_route_add(http, "GET", CONFIRM_PAGE_PREFIX "*",
                            on_confirm_page, NULL);
    if (rc == 0)
        rc = http_route_add(http, "POST", CONFIRM_PAGE_PREFIX "*",
                            on_confirm_post, NULL);
    if (rc == 0)
        rc = prefs_routes_add(http);
    return rc;
}
