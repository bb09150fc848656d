/*
 * chat: a channel that posts each message to a chat room's incoming
 * webhook (Slack, Mattermost and Rocket.Chat accept the same form), as
 * the JSON body {"text": "<subject>\n\n<text>"}.
 *
 * It is the example that docs/sdk.md builds step by step, and it is
 * built out of tree against the installed SDK:
 *
 *   cc -std=gnu11 -fPIC -shared -fvisibility=hidden \
 *      $(pkg-config --cflags --libs crier-plugin) -o chat.so chat.c
 *
 * Config:
 *   channels: { staff: { plugin = "chat";
 *                        url = "https://chat.example.org/hooks/abc";
 *                        timeout_ms = 10000; }; };
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/crier.h>

/* The plugin's version, also sent in the User-Agent header. A build may
 * set its own with -DCHAT_VERSION='"1.0.1"'. */
#ifndef CHAT_VERSION
#define CHAT_VERSION "1.0.0"
#endif

/* The maximum of a reply body kept for the job record. */
#define CHAT_REPLY_MAX 200

struct chat {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char *url;
    long timeout_ms;
    int in_flight;              /* posts started and not yet reported */
    crier_stop_cb stop_done;    /* set while stopping */
    void *stop_arg;
};

/* One post in flight. */
struct chat_post {
    struct chat *chat;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char reply[CHAT_REPLY_MAX + 1];
    size_t reply_len;
    crier_send_cb done;
    void *done_arg;
};


/* Reads `url` and `timeout_ms`; reports a bad key with config_error. */
static int
chat_config(struct chat *c, const json_t *config)
{
    const char *key;
    json_t *value;
    json_t *url = json_object_get(config, "url");
    json_t *timeout = json_object_get(config, "timeout_ms");

    json_object_foreach((json_t *) config, key, value) {
        if (strcmp(key, "plugin") != 0 && strcmp(key, "url") != 0 &&
            strcmp(key, "timeout_ms") != 0) {
            c->host->config_error(c->ctx, key, "unknown setting; the chat "
                                  "channel takes url and timeout_ms");
            return CRIER_ECONFIG;
        }
    }
    if (!json_is_string(url) ||
        (strncmp(json_string_value(url), "https://", 8) != 0 &&
         strncmp(json_string_value(url), "http://", 7) != 0)) {
        c->host->config_error(c->ctx, "url", "must be the room's incoming "
                              "webhook URL, starting with https://");
        return CRIER_ECONFIG;
    }
    c->timeout_ms = 10000;
    if (timeout != NULL) {
        if (!json_is_integer(timeout) || json_integer_value(timeout) < 100 ||
            json_integer_value(timeout) > 600000) {
            c->host->config_error(c->ctx, "timeout_ms", "must be a whole "
                                  "number of milliseconds from 100 to "
                                  "600000");
            return CRIER_ECONFIG;
        }
        c->timeout_ms = (long) json_integer_value(timeout);
    }
    c->url = strdup(json_string_value(url));
    return c->url != NULL ? 0 : CRIER_ENOMEM;
}


static int
chat_init(struct crier_ctx *ctx, const struct crier_host *host,
          const json_t *config, void **state)
{
    struct chat *c = calloc(1, sizeof(*c));
    int rc;

    if (c == NULL)
        return CRIER_ENOMEM;
    c->ctx = ctx;
    c->host = host;
    rc = chat_config(c, config);
    if (rc != 0) {
        free(c->url);
        free(c);
        return rc;
    }
    *state = c;
    return 0;
}


static void
chat_post_free(struct chat_post *p)
{
    if (p->easy != NULL)
        curl_easy_cleanup(p->easy);
    curl_slist_free_all(p->headers);
    free(p->body);
    free(p);
}


/* Keeps the first CHAT_REPLY_MAX bytes of the reply and drops the rest. */
static size_t
on_reply(char *data, size_t size, size_t n, void *arg)
{
    struct chat_post *p = arg;
    size_t len = size * n;
    size_t room = CHAT_REPLY_MAX - p->reply_len;
    size_t keep = len < room ? len : room;

    memcpy(p->reply + p->reply_len, data, keep);
    p->reply_len += keep;
    p->reply[p->reply_len] = '\0';
    return len;
}


/*
 * Maps the transfer to an outcome. A 2xx status means delivered. A
 * network error, 408, 429 and 5xx are worth another try. Any other status
 * means the room or the hook is gone, which no retry fixes.
 */
static void
on_posted(void *arg, CURL *easy, CURLcode result)
{
    struct chat_post *p = arg;
    struct chat *c = p->chat;
    struct crier_send_result r = { .outcome = CRIER_SEND_RETRY };
    char detail[CHAT_REPLY_MAX + 64];
    long status = 0;

    if (result != CURLE_OK) {
        snprintf(detail, sizeof(detail), "request failed: %s",
                 curl_easy_strerror(result));
    } else {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status <= 299)
            r.outcome = CRIER_SEND_DONE;
        else if (status != 408 && status != 429 && status < 500)
            r.outcome = CRIER_SEND_FAIL;
        snprintf(detail, sizeof(detail), "HTTP %ld %s", status, p->reply);
    }
    r.detail = detail;
    p->done(p->done_arg, &r);
    chat_post_free(p);

    c->in_flight--;
    if (c->stop_done != NULL && c->in_flight == 0) {
        crier_stop_cb done = c->stop_done;

        c->stop_done = NULL;
        done(c->stop_arg);
    }
}


/* Builds the JSON body: the subject, a blank line, then the text. */
static char *
chat_body(const struct crier_message *msg)
{
    const char *subject = msg->subject != NULL ? msg->subject : "";
    const char *part = msg->text != NULL ? msg->text : "";
    size_t len = strlen(subject) + strlen(part) + 3;
    char *text = malloc(len);
    json_t *doc;
    char *body;

    if (text == NULL)
        return NULL;
    if (subject[0] != '\0')
        snprintf(text, len, "%s\n\n%s", subject, part);
    else
        snprintf(text, len, "%s", part);
    doc = json_pack("{s:s}", "text", text);
    free(text);
    if (doc == NULL)
        return NULL;
    body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return body;
}


/* Adds the headers; the message id lets the room's side spot a repeat. */
static struct curl_slist *
chat_headers(const struct crier_message *msg)
{
    char id_line[320];
    struct curl_slist *list = curl_slist_append(NULL, "Content-Type: "
                                                "application/json");
    struct curl_slist *next;

    if (list == NULL)
        return NULL;
    snprintf(id_line, sizeof(id_line), "X-Crier-Message-Id: %s",
             msg->message_id);
    next = curl_slist_append(list, id_line);
    if (next == NULL)
        curl_slist_free_all(list);
    return next;
}


static int
chat_send(void *state, const struct crier_message *msg, crier_send_cb done,
          void *arg)
{
    struct chat *c = state;
    struct chat_post *p;
    int rc;

    if (c->stop_done != NULL)
        return CRIER_ECLOSED;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return CRIER_ENOMEM;
    p->chat = c;
    p->done = done;
    p->done_arg = arg;
    p->body = chat_body(msg);
    p->headers = chat_headers(msg);
    p->easy = curl_easy_init();
    if (p->body == NULL || p->headers == NULL || p->easy == NULL) {
        chat_post_free(p);
        return CRIER_ENOMEM;
    }
    curl_easy_setopt(p->easy, CURLOPT_URL, c->url);
    curl_easy_setopt(p->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(p->easy, CURLOPT_WRITEFUNCTION, on_reply);
    curl_easy_setopt(p->easy, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(p->easy, CURLOPT_USERAGENT, "crier-chat/" CHAT_VERSION);
    curl_easy_setopt(p->easy, CURLOPT_NOSIGNAL, 1L);

    rc = c->host->transfer_start(c->ctx, p->easy, on_posted, p);
    if (rc != 0) {
        chat_post_free(p);
        return rc;
    }
    c->in_flight++;
    return 0;
}


/* Lets the posts in flight finish (each ends by its timeout at the
 * latest), then reports the stop. */
static void
chat_stop(void *state, crier_stop_cb done, void *arg)
{
    struct chat *c = state;

    if (c->in_flight == 0) {
        done(arg);
        return;
    }
    c->stop_done = done;
    c->stop_arg = arg;
}


static void
chat_destroy(void *state)
{
    struct chat *c = state;

    free(c->url);
    free(c);
}


static const struct crier_channel_ops chat_ops = {
    .size = sizeof(struct crier_channel_ops),
    .address_kind = "email",
    .send = chat_send,
};

CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_CHANNEL,
    .name = "chat",
    .version = CHAT_VERSION,
    .summary = "posts each message to a chat room's incoming webhook",
    .init = chat_init,
    .stop = chat_stop,
    .destroy = chat_destroy,
    .ops = &chat_ops,
};
