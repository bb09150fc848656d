/*
 * The preference page that every message links to:
 *   GET  /p/prefs/{token}   the resident's topics and channels, as
 *                           checkboxes grouped by category, and a button
 *                           that unsubscribes from all
 *   POST /p/prefs/{token}   saves the boxes, or with action=all
 *                           unsubscribes from every topic and revokes
 *                           consent on every channel the page lists
 * A box ticked here is confirmed at once: the signed link reached the
 * resident's own inbox, which is what a confirmation proves.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "pipeline/profile.h"
#include "server/server.h"
#include "topics/page_html.h"
#include "topics/page_int.h"
#include "topics/pages.h"
#include "topics/topics.h"

#define PREFS_PAGE_PREFIX "/p/prefs/"

/* The source of the events that the preference page records. */
#define PAGES_EVENT_SOURCE "pages"

/* One preference request on its way through the store. */
struct prefs_call {
    struct crier_http_req *req;
    char *profile;
    char *token;
    char **ticked;              /* "topic:channel" values of a save */
    int all;                    /* action=all */
    int saved;                  /* show the saved notice */
    size_t waiting;
    int failed;
};


static void
prefs_call_free(struct prefs_call *call)
{
    g_free(call->profile);
    g_free(call->token);
    g_strfreev(call->ticked);
    g_free(call);
}


static void
fail_respond(struct crier_http_req *req, const char *op, int status)
{
    log_error("page store call failed", "op=%s error=%s", op,
              crier_errname(status));
    page_respond(req, 503, "Try again later", "<p>The request could not be "
                 "saved. Try again in a few minutes.</p>");
}


/* Returns the stored status of (topic, channel) in `rows`, or NULL. */
static const char *
status_of(const json_t *rows, const char *topic, const char *channel)
{
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row)
        if (g_strcmp0(json_string_value(json_object_get(row, "topic")),
                      topic) == 0 &&
            g_strcmp0(json_string_value(json_object_get(row, "channel")),
                      channel) == 0)
            return json_string_value(json_object_get(row, "status"));
    return NULL;
}


/* Appends one fieldset per category with a box per topic and channel. */
static void
boxes_append(GString *out, const json_t *rows)
{
    json_t *topics = topics_json();
    GPtrArray *categories = g_ptr_array_new();
    size_t i, j;
    json_t *topic, *channel;

    json_array_foreach(topics, i, topic) {
        const char *category = json_string_value(json_object_get(topic,
                                                                 "category"));
        gboolean seen = FALSE;

        for (guint k = 0; k < categories->len && !seen; k++)
            seen = strcmp(g_ptr_array_index(categories, k), category) == 0;
        if (!seen)
            g_ptr_array_add(categories, (gpointer) category);
    }
    for (guint k = 0; k < categories->len; k++) {
        const char *category = g_ptr_array_index(categories, k);

        g_string_append(out, "<fieldset><legend>");
        page_text(out, category);
        g_string_append(out, "</legend>\n");
        json_array_foreach(topics, i, topic) {
            const char *name = json_string_value(json_object_get(topic,
                                                                 "name"));

            if (strcmp(json_string_value(json_object_get(topic, "category")),
                       category) != 0)
                continue;
            json_array_foreach(json_object_get(topic, "channels"), j,
                               channel) {
                const char *ch = json_string_value(channel);
                const char *status = status_of(rows, name, ch);

                g_string_append(out, "<div class=\"check\"><input "
                                "type=\"checkbox\" name=\"sub\" id=\"t-");
                page_text(out, name);
                g_string_append_c(out, '-');
                page_text(out, ch);
                g_string_append(out, "\" value=\"");
                page_text(out, name);
                g_string_append_c(out, ':');
                page_text(out, ch);
                g_string_append_printf(out, "\"%s><label for=\"t-",
                                       g_strcmp0(status, "confirmed") == 0
                                       ? " checked" : "");
                page_text(out, name);
                g_string_append_c(out, '-');
                page_text(out, ch);
                g_string_append(out, "\">");
                page_text(out, json_string_value(json_object_get(topic,
                                                                 "title")));
                g_string_append(out, " (");
                page_text(out, ch);
                g_string_append_printf(out, ")%s</label></div>\n",
                                       g_strcmp0(status, "pending") == 0
                                       ? " &ndash; waiting for your "
                                         "confirmation" : "");
            }
        }
        g_string_append(out, "</fieldset>\n");
    }
    g_ptr_array_unref(categories);
    json_decref(topics);
}


static void
page_show(struct prefs_call *call, const json_t *rows)
{
    GString *out = g_string_new(NULL);

    if (call->saved)
        g_string_append(out, call->all
                        ? "<p role=\"status\" class=\"status\">You are "
                          "unsubscribed from everything. You will get no "
                          "more news email from us.</p>\n"
                        : "<p role=\"status\" class=\"status\">Your "
                          "choices are saved.</p>\n");
    g_string_append(out, "<p>Choose what you want to hear about.</p>\n"
                    "<form method=\"post\">\n"
                    "<input type=\"hidden\" name=\"action\" value=\"save\">"
                    "\n");
    boxes_append(out, rows);
    g_string_append(out, "<button type=\"submit\">Save choices</button>\n"
                    "</form>\n<form method=\"post\">\n"
                    "<input type=\"hidden\" name=\"action\" value=\"all\">"
                    "\n<button type=\"submit\" class=\"quiet\">Unsubscribe "
                    "from all</button>\n</form>");
    page_respond(call->req, 200, "Your subscriptions", out->str);
    g_string_free(out, TRUE);
}


static void
on_rows(void *arg, int status, json_t *result)
{
    struct prefs_call *call = arg;

    if (status < 0)
        fail_respond(call->req, "subscriptions_read", status);
    else
        page_show(call, json_object_get(result, "subscriptions"));
    prefs_call_free(call);
}


static void
rows_read(struct prefs_call *call, crier_store_cb done)
{
    json_t *request = json_pack("{s:s}", "profile", call->profile);
    int rc = server.store_ops->subscriptions_read(server.store->state,
                                                  request, done, call);

    json_decref(request);
    if (rc < 0)
        done(call, rc, NULL);
}


/* Reads the token of a /p/prefs/ path; responds 404 and returns NULL
 * when it is not a valid preference link. */
static struct prefs_call *
prefs_call_new(struct crier_http_req *req)
{
    const char *token = http_req_path(req) + strlen(PREFS_PAGE_PREFIX);
    char *message = NULL;
    char *profile = page_token_verify(token, &message);
    struct prefs_call *call;

    if (profile == NULL || g_strcmp0(message, "prefs") != 0) {
        g_free(profile);
        g_free(message);
        page_respond(req, 404, "Link not valid", "<p>This link is not "
                     "valid. Use the link in the newest message you "
                     "received.</p>");
        return NULL;
    }
    g_free(message);
    call = g_new0(struct prefs_call, 1);
    call->req = req;
    call->profile = profile;
    call->token = g_strdup(token);
    return call;
}


static void
on_prefs_page(void *arg, struct crier_http_req *req)
{
    struct prefs_call *call = prefs_call_new(req);

    if (call != NULL)
        rows_read(call, on_rows);
}


/* Shows the page again once every write is stored. */
static void
write_finish(struct prefs_call *call)
{
    if (--call->waiting > 0)
        return;
    if (call->failed != 0) {
        fail_respond(call->req, "subscription_set", call->failed);
        prefs_call_free(call);
        return;
    }
    call->saved = 1;
    rows_read(call, on_rows);
}


static void
on_written(void *arg, int status, json_t *result)
{
    struct prefs_call *call = arg;

    if (status < 0 && call->failed == 0)
        call->failed = status;
    write_finish(call);
}


static void
on_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    on_written(arg, status, NULL);
}


static void
subscription_write(struct prefs_call *call, const char *topic,
                   const char *channel, const char *status)
{
    json_t *request = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile",
                                call->profile, "topic", topic, "channel",
                                channel, "status", status, "origin", "page",
                                "time", (json_int_t) clock_now_ms());
    int rc;

    call->waiting++;
    rc = server.store_ops->subscription_set(server.store->state, request,
                                            on_written, call);
    json_decref(request);
    if (rc < 0)
        on_written(call, rc, NULL);
}


/*
 * Collects what "unsubscribe from all" revokes: into `consent`, each
 * channel kind (the channel plugin's name, as consent is keyed) of the
 * channels the page lists, and into *identity one address of the profile
 * for those channels, with its kind in *kind. The outbox checks consent
 * by the same kind, so no outreach of those channels reaches the
 * resident afterwards, whatever the address.
 */
static void
consent_kinds(const json_t *profile, json_t *consent, const char **kind,
              const char **identity)
{
    json_t *topics = topics_json();
    json_t *topic, *channel;
    size_t i, j;

    json_array_foreach(topics, i, topic)
        json_array_foreach(json_object_get(topic, "channels"), j, channel) {
            struct plugin_instance *ch =
                server_channel(json_string_value(channel));
            const struct crier_channel_ops *ops = ch ? ch->desc->ops : NULL;
            const char *address = ops && ops->address_kind
                                  ? ops->address_kind : "email";

            if (ch == NULL)
                continue;
            json_object_set_new(consent, ch->desc->name,
                                json_string("revoked"));
            if (*identity == NULL &&
                (*identity = profile_identity(profile, address)) != NULL)
                *kind = address;
        }
    json_decref(topics);
}


/* Records the revoke of consent on every channel kind the page lists as
 * one event of the profile, which the pipeline applies like an
 * unsubscribe link. */
static void
consent_revoke(struct prefs_call *call, const json_t *profile)
{
    json_t *consent = json_object();
    const char *kind = NULL, *identity = NULL;
    struct crier_input_error err;
    json_t *events;
    int rc;

    consent_kinds(profile, consent, &kind, &identity);
    if (identity == NULL || json_object_size(consent) == 0) {
        json_decref(consent);
        return;
    }
    events = json_pack("[{s:s,s:{s:s},s:o}]", "type",
                       "preferences.unsubscribed", "profile", kind,
                       identity, "consent", consent);
    call->waiting++;
    rc = ingest_emit(PAGES_EVENT_SOURCE, events, &err, on_emitted, call);
    json_decref(events);
    if (rc < 0)
        on_emitted(call, rc, 0, 0);
}


static void
on_profile(void *arg, int status, json_t *result)
{
    struct prefs_call *call = arg;

    if (status == 0)
        consent_revoke(call, json_object_get(result, "profile"));
    else if (call->failed == 0)
        call->failed = status;
    write_finish(call);
}


/* Writes the difference between the boxes and the stored rows. */
static void
on_rows_to_change(void *arg, int status, json_t *result)
{
    struct prefs_call *call = arg;
    json_t *rows = json_object_get(result, "subscriptions");
    json_t *topics, *topic, *channel, *request;
    size_t i, j;
    int rc;

    if (status < 0) {
        fail_respond(call->req, "subscriptions_read", status);
        prefs_call_free(call);
        return;
    }
    call->waiting = 1;          /* held until every write is queued */
    topics = topics_json();
    json_array_foreach(topics, i, topic) {
        const char *name = json_string_value(json_object_get(topic, "name"));

        json_array_foreach(json_object_get(topic, "channels"), j, channel) {
            const char *ch = json_string_value(channel);
            const char *had = status_of(rows, name, ch);
            char *value = g_strconcat(name, ":", ch, NULL);
            int ticked = !call->all &&
                         g_strv_contains((const char *const *) call->ticked,
                                         value);

            g_free(value);
            /* NOTE: a ticked box does not grant the channel's consent
             * again, as a confirmation link does (docs/KNOWN_LIMITS.md,
             * "Topics and bulletins"). */
            if (ticked && g_strcmp0(had, "confirmed") != 0)
                subscription_write(call, name, ch, "confirmed");
            else if (!ticked && had != NULL &&
                     strcmp(had, "unsubscribed") != 0)
                subscription_write(call, name, ch, "unsubscribed");
        }
    }
    json_decref(topics);
    if (call->all) {
        call->waiting++;
        request = json_pack("{s:s}", "id", call->profile);
        rc = server.store_ops->profile_get(server.store->state, request,
                                           on_profile, call);
        json_decref(request);
        if (rc < 0)
            on_profile(call, rc, NULL);
    }
    write_finish(call);
}


static void
on_prefs_post(void *arg, struct crier_http_req *req)
{
    struct prefs_call *call = prefs_call_new(req);
    char *action;

    if (call == NULL)
        return;
    action = page_form_value(req, "action");
    if (g_strcmp0(action, "save") != 0 && g_strcmp0(action, "all") != 0) {
        log_info("preference form rejected: action is not save or all",
                 "profile=%s", call->profile);
        page_respond(req, 400, "Form not valid", "<p>The form was not "
                     "sent as the page built it. Open the link in your "
                     "message again and choose there.</p>");
        g_free(action);
        prefs_call_free(call);
        return;
    }
    call->all = g_strcmp0(action, "all") == 0;
    call->ticked = page_form_values(req, "sub");
    g_free(action);
    log_info("preferences changed on the page", "profile=%s all=%s",
             call->profile, call->all ? "yes" : "no");
    rows_read(call, on_rows_to_change);
}


/* Splits the form body into decoded (name, value) pairs. */
static GPtrArray *
form_pairs(struct crier_http_req *req)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    char *text = g_strndup(body ? body : "", body ? len : 0);
    char **pieces = g_strsplit(text, "&", -1);
    GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);

    for (char **p = pieces; *p != NULL; p++) {
        char *eq = strchr(*p, '=');

        if (eq == NULL)
            continue;
        *eq = '\0';
        g_strdelimit(*p, "+", ' ');
        g_strdelimit(eq + 1, "+", ' ');
        g_ptr_array_add(pairs, g_uri_unescape_string(*p, NULL));
        g_ptr_array_add(pairs, g_uri_unescape_string(eq + 1, NULL));
    }
    g_strfreev(pieces);
    g_free(text);
    return pairs;
}


char **
page_form_values(struct crier_http_req *req, const char *name)
{
    GPtrArray *pairs = form_pairs(req);
    GPtrArray *values = g_ptr_array_new();

    for (guint i = 0; i + 1 < pairs->len; i += 2)
        if (g_strcmp0(g_ptr_array_index(pairs, i), name) == 0 &&
            g_ptr_array_index(pairs, i + 1) != NULL)
            g_ptr_array_add(values, g_strdup(g_ptr_array_index(pairs,
                                                               i + 1)));
    g_ptr_array_add(values, NULL);
    g_ptr_array_unref(pairs);
    return (char **) g_ptr_array_free(values, FALSE);
}


char *
page_form_value(struct crier_http_req *req, const char *name)
{
    char **values = page_form_values(req, name);
    char *first = g_strdup(values[0]);

    g_strfreev(values);
    return first;
}


int
prefs_routes_add(struct http_server *http)
{
    int rc = http_route_add(http, "GET", PREFS_PAGE_PREFIX "*",
                            on_prefs_page, NULL);

    if (rc == 0)
        rc = http_route_add(http, "POST", PREFS_PAGE_PREFIX "*",
                            on_prefs_post, NULL);
    return rc;
}
