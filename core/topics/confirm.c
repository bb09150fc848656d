/*
 * The confirmation link of a subscription (double opt-in):
 *   GET  /p/confirm/{token}   a button that confirms; changes nothing,
 *                             because mail scanners follow every GET
 *   POST /p/confirm/{token}   confirms the subscription
 * Confirming is the resident's own fresh consent to the channel, so it
 * also grants that channel's consent, which "Unsubscribe from all" may
 * have revoked. Both go to the store in one commit, made between two
 * pipeline batches so that no batch in flight overwrites the consent.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "admin/change.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/internal.h"
#include "pipeline/engine.h"
#include "pipeline/pipeline.h"
#include "server/server.h"
#include "topics/page_html.h"
#include "topics/page_int.h"
#include "topics/pages.h"
#include "topics/topics.h"

#define CONFIRM_PAGE_PREFIX "/p/confirm/"

/* The source of the consent that a confirmation grants. */
#define CONFIRM_CONSENT_SOURCE "pages:" INTERNAL_SUBSCRIPTION_CONFIRMED


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
            ok = link->topic != NULL &&
                 topic_allows(link->topic, link->channel);
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


/* A confirmation on its way through the store. */
struct confirm_write {
    struct crier_http_req *req;
    char *profile;
    char *topic;
    char *channel;
    char *title;
    int followed;               /* the profile's merge was followed */
};


static void
confirm_write_free(struct confirm_write *w)
{
    g_free(w->profile);
    g_free(w->topic);
    g_free(w->channel);
    g_free(w->title);
    g_free(w);
}


/* Responds for a link whose profile is gone, as erasing it makes every
 * link of the resident invalid. */
static void
gone_respond(struct crier_http_req *req)
{
    page_respond(req, 410, "Link no longer valid", "<p>This confirmation "
                 "link is no longer valid. Subscribe again to get a new "
                 "one.</p>");
}


static void
on_confirmed(void *arg, int status, json_t *result)
{
    struct confirm_write *w = arg;
    GString *out;
    char *token;

    pipeline_exclusive_end();
    if (status < 0) {
        page_fail_respond(w->req, "commit", status);
        confirm_write_free(w);
        return;
    }
    engine_notify_events();
    log_info("subscription confirmed", "profile=%s topic=%s channel=%s",
             w->profile, w->topic, w->channel);
    out = g_string_new("<p role=\"status\">You will get email about "
                       "<strong>");
    page_text(out, w->title);
    token = page_token_sign(w->profile, "prefs");
    g_string_append_printf(out, "</strong>.</p>\n<p><a href=\"/p/prefs/"
                           "%s\">Manage your subscriptions</a></p>", token);
    page_respond(w->req, 200, "Subscribed", out->str);
    g_string_free(out, TRUE);
    g_free(token);
    confirm_write_free(w);
}


/*
 * Returns the commit form of `profile` with consent granted on the
 * channel kind of the confirmed channel (the channel plugin's name, as
 * consent is keyed), recorded with the page as its source.
 */
static json_t *
consent_granted(const json_t *profile, const char *channel, int64_t now)
{
    struct plugin_instance *ch = server_channel(channel);
    const char *kind = ch != NULL ? ch->desc->name : channel;
    json_t *change = json_pack("{s:{s:s}}", "consent", kind, "granted");
    json_t *changed = admin_change_apply(profile, change, 0, now);
    json_t *entry = json_object_get(json_object_get(changed, "consent"),
                                    kind);

    json_object_set_new(entry, "source", json_string(CONFIRM_CONSENT_SOURCE));
    json_decref(change);
    return changed;
}


static void profile_read(struct confirm_write *w);


/* Commits the confirmation, the consent and the event that records
 * them, or responds 410 when the profile was erased. */
static void
on_profile(void *arg, int status, json_t *result)
{
    struct confirm_write *w = arg;
    json_t *profile = json_object_get(result, "profile");
    const char *into = json_string_value(json_object_get(result,
                                                         "merged_into"));
    int64_t now = clock_now_ms();
    json_t *batch;
    int rc;

    if (status == 0 && !json_is_object(profile) && into != NULL &&
        !w->followed) {
        w->followed = 1;
        g_free(w->profile);
        w->profile = g_strdup(into);
        profile_read(w);
        return;
    }
    if (status < 0 || !json_is_object(profile)) {
        pipeline_exclusive_end();
        if (status < 0)
            page_fail_respond(w->req, "profile_get", status);
        else
            gone_respond(w->req);
        confirm_write_free(w);
        return;
    }
    batch = json_pack("{s:[o],s:[o],s:[{s:s,s:s,s:s,s:s,s:I}]}",
                      "profiles", consent_granted(profile, w->channel, now),
                      "events", internal_event(
                          INTERNAL_SUBSCRIPTION_CONFIRMED, w->profile, now,
                          json_pack("{s:s,s:s}", "topic", w->topic,
                                    "channel", w->channel)),
                      "confirmations", "profile", w->profile, "topic",
                      w->topic, "channel", w->channel, "origin", "page",
                      "time", (json_int_t) now);
    rc = server.store_ops->commit(server.store->state, batch, on_confirmed,
                                  w);
    json_decref(batch);
    if (rc < 0)
        on_confirmed(w, rc, NULL);
}


static void
profile_read(struct confirm_write *w)
{
    json_t *request = json_pack("{s:s}", "id", w->profile);
    int rc = server.store_ops->profile_get(server.store->state, request,
                                           on_profile, w);

    json_decref(request);
    if (rc < 0)
        on_profile(w, rc, NULL);
}


/* Runs between two pipeline batches (pipeline_exclusive). */
static void
on_turn(void *arg)
{
    profile_read(arg);
}


static void
on_confirm_post(void *arg, struct crier_http_req *req)
{
    struct confirm_link link;
    struct confirm_write *w;
    int rc;

    if (!confirm_link_read(req, &link))
        return;
    w = g_new0(struct confirm_write, 1);
    w->req = req;
    w->profile = g_strdup(link.profile);
    w->topic = g_strdup(link.topic->name);
    w->channel = g_strdup(link.channel);
    w->title = g_strdup(link.topic->title);
    confirm_link_clear(&link);
    rc = pipeline_exclusive(on_turn, w);
    if (rc < 0) {
        page_fail_respond(req, "pipeline_exclusive", rc);
        confirm_write_free(w);
    }
}


int
confirm_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", CONFIRM_PAGE_PREFIX "*",
                            on_confirm_page, NULL);

    if (rc == 0)
        rc = http_route_add(http, "POST", CONFIRM_PAGE_PREFIX "*",
                            on_confirm_post, NULL);
    return rc;
}
