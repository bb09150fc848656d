/*
 * One-click unsubscribe (RFC 8058). Each message carries
 * List-Unsubscribe with a URL under /u/ whose token is signed like the
 * beacon's link tokens and names the job key and the recipient address.
 *
 * POST /u/{token} records the opt-out as an event that revokes email
 * consent for the address, and responds only once the store has
 * committed it. GET /u/{token} shows a page with a button that sends that POST and
 * changes nothing itself, because mail scanners and link previews follow
 * every GET in a message.
 */
#include <string.h>

#include "email.h"
#include "link_token.h"

#define UNSUBSCRIBE_PREFIX "/u/"

/* The event type recorded for an opt-out. */
#define UNSUBSCRIBE_EVENT "email.unsubscribed"

/* The maximum event id length the core accepts (docs/events.md). */
#define EVENT_ID_MAX 256

struct unsubscribe_request {
    struct email *email;
    struct crier_http_req *req;
    char *address;
};


char *
unsubscribe_key_derive(const char *secret)
{
    /* A purpose prefix keeps a token signed with the same secret for
     * another use, such as a beacon link, from verifying here. */
    return g_strconcat("crier email unsubscribe\n", secret, NULL);
}


char *
unsubscribe_url_build(struct email *email, const char *key,
                      const char *address)
{
    json_t *identity = json_pack("{s:s}", "email", address);
    char *token, *url;

    token = link_token_sign(email->unsubscribe_key, key, identity, NULL);
    json_decref(identity);
    if (token == NULL)
        return NULL;
    url = g_strdup_printf("%s" UNSUBSCRIBE_PREFIX "%s",
                          email->host->public_url(email->ctx), token);
    g_free(token);
    return url;
}


/* Responds with a small HTML page whose body is `content`. The page is
 * never cached, and the token in its URL never leaves as a Referer. */
static void
page_respond(struct email *email, struct crier_http_req *req, int status,
             const char *content)
{
    const struct crier_host *host = email->host;
    char *page = g_strdup_printf(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<meta name=\"robots\" content=\"noindex\">"
        "<title>Unsubscribe</title></head>\n<body>\n%s\n</body></html>\n",
        content);

    host->resp_header(req, "Cache-Control", "no-store");
    host->resp_header(req, "Referrer-Policy", "no-referrer");
    host->respond(req, status, "text/html; charset=utf-8", page,
                  strlen(page));
    g_free(page);
}


/*
 * Checks the token of a request under /u/ and returns the signed address,
 * or NULL after responding 404. *key receives the job key; free both with
 * g_free.
 */
static char *
token_check(struct email *email, struct crier_http_req *req, char **key)
{
    const char *token = email->host->req_path(req) +
                        strlen(UNSUBSCRIBE_PREFIX);
    const char *reason;
    const json_t *address;
    json_t *payload;
    char *copy = NULL;

    if (link_token_verify(email->unsubscribe_key, token, &payload, &reason)
        == 0) {
        address = json_object_get(json_object_get(payload, "p"), "email");
        if (json_is_string(address) && json_object_get(payload, "u") ==
            NULL) {
            copy = g_strdup(json_string_value(address));
            *key = g_strdup(json_string_value(json_object_get(payload,
                                                              "m")));
        } else {
            reason = "the token is not an unsubscribe token";
        }
        json_decref(payload);
    }
    if (copy != NULL)
        return copy;
    email->host->log(email->ctx, CRIER_LOG_INFO, "unsubscribe link "
                     "rejected", "reason=\"%s\" peer=%s", reason,
                     email->host->req_peer(req));
    page_respond(email, req, 404, "<p>This unsubscribe link is not valid. "
                 "Use the link in the newest message you received.</p>");
    return NULL;
}


/* GET /u/{token}: shows the address and a button; changes nothing. */
static void
on_unsubscribe_get(void *arg, struct crier_http_req *req)
{
    struct email *email = arg;
    char *key = NULL;
    char *address = token_check(email, req, &key);
    char *escaped, *content;

    if (address == NULL)
        return;
    escaped = g_markup_escape_text(address, -1);
    content = g_strdup_printf(
        "<h1>Unsubscribe</h1>\n<p>Stop email to <strong>%s</strong>?</p>\n"
        "<form method=\"post\">"
        "<input type=\"hidden\" name=\"List-Unsubscribe\" "
        "value=\"One-Click\">"
        "<button type=\"submit\">Unsubscribe</button></form>", escaped);
    page_respond(email, req, 200, content);
    g_free(content);
    g_free(escaped);
    g_free(address);
    g_free(key);
}


static void
on_unsubscribe_emitted(void *arg, int status, size_t accepted,
                       size_t duplicates)
{
    struct unsubscribe_request *u = arg;
    struct email *email = u->email;

    if (status == 0) {
        email->host->log(email->ctx, CRIER_LOG_INFO, "email unsubscribed",
                         "to=%s repeat=%s", u->address,
                         duplicates > 0 ? "yes" : "no");
        page_respond(email, u->req, 200, "<h1>Unsubscribed</h1>\n"
                     "<p>You will get no more of these emails.</p>");
    } else {
        email->host->log(email->ctx, CRIER_LOG_ERROR, "unsubscribe not "
                         "stored", "to=%s error=%s", u->address,
                         crier_errname(status));
        page_respond(email, u->req, 503, "<p>The request could not be "
                     "saved. Try again in a few minutes.</p>");
    }
    g_free(u->address);
    g_free(u);
}


/* Builds the opt-out event. A repeated POST for the same message has the
 * same id, so the store keeps one event. */
static json_t *
event_build(const char *address, const char *key)
{
    json_t *event = json_pack("{s:s,s:{s:s},s:{s:s},s:{s:s}}",
                              "type", UNSUBSCRIBE_EVENT,
                              "profile", "email", address,
                              "consent", "email", "revoked",
                              "properties", "message", key);
    char *id = g_strconcat("unsubscribe/", key, NULL);

    if (strlen(id) <= EVENT_ID_MAX)
        json_object_set_new(event, "id", json_string(id));
    g_free(id);
    return event;
}


/* POST /u/{token}: records the opt-out, then responds. The body is not
 * read: RFC 8058 clients send "List-Unsubscribe=One-Click", and the
 * signed token alone authorises the request. */
static void
on_unsubscribe_post(void *arg, struct crier_http_req *req)
{
    struct email *email = arg;
    struct crier_input_error err;
    struct unsubscribe_request *u;
    char *key = NULL;
    char *address = token_check(email, req, &key);
    json_t *event;
    int rc;

    if (address == NULL)
        return;
    u = g_new0(struct unsubscribe_request, 1);
    u->email = email;
    u->req = req;
    u->address = address;
    event = event_build(address, key);
    g_free(key);
    rc = email->host->emit(email->ctx, event, &err, on_unsubscribe_emitted,
                           u);
    json_decref(event);
    if (rc == 0)
        return;
    if (rc != CRIER_ECLOSED)
        email->host->log(email->ctx, CRIER_LOG_ERROR, "unsubscribe not "
                         "emitted", "to=%s error=%s field=%s", address,
                         crier_errname(rc),
                         rc == CRIER_EINVAL ? err.field : "");
    page_respond(email, req, 503, "<p>The request could not be saved. Try "
                 "again in a few minutes.</p>");
    g_free(u->address);
    g_free(u);
}


int
unsubscribe_routes_add(struct email *email)
{
    const struct crier_host *host = email->host;
    int rc;

    rc = host->route_add(email->ctx, "GET", UNSUBSCRIBE_PREFIX "*",
                         on_unsubscribe_get, email);
    if (rc == 0)
        rc = host->route_add(email->ctx, "POST", UNSUBSCRIBE_PREFIX "*",
                             on_unsubscribe_post, email);
    if (rc != 0)
        host->log(email->ctx, CRIER_LOG_ERROR, "unsubscribe routes not "
                  "added; only one email channel may set "
                  "unsubscribe_secret", "path=" UNSUBSCRIBE_PREFIX " error=%s",
                  crier_errname(rc));
    return rc;
}
