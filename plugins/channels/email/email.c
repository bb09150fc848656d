/*
 * The email channel: builds each message with mime.c and delivers it into
 * a Maildir outbox (maildir.c) or to an SMTP server (smtp.c). The config
 * reference is docs/channels/email.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "email.h"

#define OUTBOX_DEFAULT "var/outbox"
#define TIMEOUT_DEFAULT_MS 30000
#define CONNECT_TIMEOUT_DEFAULT_MS 10000
#define TIMEOUT_MAX_MS 3600000
#define ERROR_LOG_INTERVAL_MS 60000

/* Keys that only apply with `url` or `urls`. */
static const char *const smtp_keys[] = {
    "username", "password", "tls", "ca_file", "timeout_ms",
    "connect_timeout_ms", "connections",
};

/* SMTP connections at once, each running one transaction (smtp.c). */
#define CONNECTIONS_DEFAULT 2

/* The shortest unsubscribe secret, so that it cannot be guessed. */
#define UNSUBSCRIBE_SECRET_MIN 16


/* Reads an optional string; *out is NULL when `key` is absent. */
static int
config_string(struct email *email, const json_t *config, const char *key,
              const char **out)
{
    const json_t *value = json_object_get(config, key);

    *out = NULL;
    if (value == NULL)
        return 0;
    if (!json_is_string(value)) {
        email->host->config_error(email->ctx, key, "must be a string");
        return CRIER_ECONFIG;
    }
    *out = json_string_value(value);
    return 0;
}


static int
config_timeout(struct email *email, const json_t *config, const char *key,
               long fallback, long *out)
{
    const json_t *value = json_object_get(config, key);

    *out = fallback;
    if (value == NULL)
        return 0;
    if (!json_is_integer(value) || json_integer_value(value) < 1 ||
        json_integer_value(value) > TIMEOUT_MAX_MS) {
        email->host->config_error(email->ctx, key, "must be a number of "
                                  "milliseconds from 1 to %d",
                                  TIMEOUT_MAX_MS);
        return CRIER_ECONFIG;
    }
    *out = (long) json_integer_value(value);
    return 0;
}


static int
config_address(struct email *email, const json_t *config, const char *key,
               struct mime_address *out)
{
    const char *text, *reason;
    int rc = config_string(email, config, key, &text);

    if (rc != 0 || text == NULL)
        return rc;
    if (mime_address_parse(text, out, &reason) != 0) {
        email->host->config_error(email->ctx, key, "\"%s\" %s", text,
                                  reason);
        return CRIER_ECONFIG;
    }
    return 0;
}


static int
config_keys_check(struct email *email, const json_t *config)
{
    static const char *const known[] = {
        "plugin", "from", "reply_to", "outbox", "unsubscribe_secret",
        "url", "urls", "username", "password", "tls", "ca_file",
        "timeout_ms", "connect_timeout_ms", "connections", "bounces",
        "dkim",
    };
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) config, key, value) {
        size_t i = 0;

        while (i < G_N_ELEMENTS(known) && strcmp(key, known[i]) != 0)
            i++;
        if (i == G_N_ELEMENTS(known)) {
            email->host->config_error(email->ctx, key, "unknown setting; "
                                      "valid settings are from, reply_to, "
                                      "outbox, unsubscribe_secret, url, "
                                      "urls, username, password, tls, "
                                      "ca_file, "
                                      "timeout_ms, connect_timeout_ms, "
                                      "connections, bounces and dkim");
            return CRIER_ECONFIG;
        }
    }
    return 0;
}


/* Returns nonzero when `url` has a path other than "/", a query or a
 * fragment, none of which an SMTP server URL uses. */
static int
url_has_more(CURLU *url, char **path)
{
    char *part = NULL;
    int more = 0;

    if (curl_url_get(url, CURLUPART_PATH, path, 0) == CURLUE_OK &&
        strcmp(*path, "/") != 0 && (*path)[0] != '\0')
        more = 1;
    if (curl_url_get(url, CURLUPART_QUERY, &part, 0) == CURLUE_OK)
        more = 1;
    curl_free(part);
    part = NULL;
    if (curl_url_get(url, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
        more = 1;
    curl_free(part);
    return more;
}


/*
 * Checks `text`, the value of `key`, as an SMTP URL and appends it to the
 * servers. Credentials in the URL are rejected, so the URL can be logged and the password stays in one key.
 */
static int
server_add(struct email *email, const char *key, const char *text)
{
    CURLU *url = curl_url();
    char *scheme = NULL, *user = NULL, *password = NULL;
    char *host = NULL, *port = NULL, *path = NULL;
    const char *problem = NULL;
    struct smtp_server *server;
    CURLUcode parsed;

    if (url == NULL)
        return CRIER_ENOMEM;
    parsed = curl_url_set(url, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME);
    if (parsed == CURLUE_BAD_PORT_NUMBER)
        problem = "has an invalid port; write a port from 1 to 65535";
    else if (parsed != CURLUE_OK ||
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        problem = "is not a URL; write smtp://host:port or "
                  "smtps://host:port";
    else if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
        problem = "must start with smtp:// or smtps://";
    else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK ||
             curl_url_get(url, CURLUPART_PASSWORD, &password, 0) ==
             CURLUE_OK)
        problem = "must not contain credentials; set username and "
                  "password instead";
    else if (url_has_more(url, &path))
        problem = "must not have a path, query or fragment; write "
                  "smtp://host:port or smtps://host:port";

    if (problem == NULL) {
        server = &email->smtp.servers[email->smtp.server_count++];
        server->url = g_strdup(text);
        server->implicit_tls = strcmp(scheme, "smtps") == 0;
        server->port = server->implicit_tls ? 465 : 25;
        if (curl_url_get(url, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            server->port = (unsigned) strtoul(port, NULL, 10);
        /* An IPv6 address comes in brackets, which getaddrinfo and the
         * certificate check do not take. */
        if (host[0] == '[')
            server->host = g_strndup(host + 1, strlen(host) - 2);
        else
            server->host = g_strdup(host);
    }
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(url);

    if (problem != NULL) {
        email->host->config_error(email->ctx, key, "\"%s\" %s", text,
                                  problem);
        return CRIER_ECONFIG;
    }
    return 0;
}


/*
 * Reads the SMTP servers: `url` names one, `urls` a list in the order of
 * failover. Returns 0 with server_count 0 when neither is set.
 */
static int
config_servers(struct email *email, const json_t *config)
{
    const json_t *urls = json_object_get(config, "urls");
    const char *url;
    size_t i;
    json_t *v;
    int rc = config_string(email, config, "url", &url);

    if (rc != 0)
        return rc;
    if (url != NULL && urls != NULL) {
        email->host->config_error(email->ctx, "urls", "set either url or "
                                  "urls, not both");
        return CRIER_ECONFIG;
    }
    if (url != NULL)
        return server_add(email, "url", url);
    if (urls == NULL)
        return 0;
    if (!json_is_array(urls) || json_array_size(urls) == 0 ||
        json_array_size(urls) > SMTP_SERVERS_MAX) {
        email->host->config_error(email->ctx, "urls", "must be a list of "
                                  "1 to %d SMTP URLs, such as [ "
                                  "\"smtp://a.example.gov\", "
                                  "\"smtp://b.example.gov\" ]",
                                  SMTP_SERVERS_MAX);
        return CRIER_ECONFIG;
    }
    json_array_foreach(urls, i, v) {
        if (!json_is_string(v)) {
            email->host->config_error(email->ctx, "urls", "entry %zu must "
                                      "be a string", i + 1);
            return CRIER_ECONFIG;
        }
        rc = server_add(email, "urls", json_string_value(v));
        if (rc != 0)
            return rc;
    }
    return 0;
}


static int
config_connections(struct email *email, const json_t *config)
{
    const json_t *v = json_object_get(config, "connections");

    email->smtp.connections = CONNECTIONS_DEFAULT;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > SMTP_CONNECTIONS_MAX) {
        email->host->config_error(email->ctx, "connections", "must be a "
                                  "whole number from 1 to %d",
                                  SMTP_CONNECTIONS_MAX);
        return CRIER_ECONFIG;
    }
    email->smtp.connections = (unsigned) json_integer_value(v);
    return 0;
}


/* Returns nonzero when the URL's host is a loopback name or address. */
static int
url_host_is_loopback(const char *text)
{
    CURLU *url = curl_url();
    char *host = NULL;
    int loopback = 0;

    if (url != NULL && curl_url_set(url, CURLUPART_URL, text, 0) ==
        CURLUE_OK && curl_url_get(url, CURLUPART_HOST, &host, 0) ==
        CURLUE_OK)
        loopback = g_ascii_strcasecmp(host, "localhost") == 0 ||
                   strncmp(host, "127.", 4) == 0 ||
                   strcmp(host, "[::1]") == 0;
    curl_free(host);
    curl_url_cleanup(url);
    return loopback;
}


/* Returns nonzero when `url` starts with smtps://. */
static int
url_is_smtps(const char *url)
{
    return g_ascii_strncasecmp(url, "smtps:", 6) == 0;
}


/*
 * Reads `tls`: "starttls" requires STARTTLS on smtp://, "none" sends in
 * the clear. An smtp:// URL defaults to "starttls" unless its host is a
 * loopback address, where a local relay seldom offers TLS and the traffic
 * never leaves the machine. smtps:// is TLS from the first byte, so `tls`
 * is rejected when any server is smtps://.
 */
static int
config_tls(struct email *email, const json_t *config)
{
    const json_t *tls = json_object_get(config, "tls");
    struct smtp_settings *s = &email->smtp;
    const char *value = json_string_value(tls);
    size_t i;

    if (tls != NULL && (value == NULL || (strcmp(value, "starttls") != 0 &&
                                          strcmp(value, "none") != 0))) {
        email->host->config_error(email->ctx, "tls", "must be \"starttls\" "
                                  "or \"none\"");
        return CRIER_ECONFIG;
    }
    for (i = 0; i < s->server_count; i++) {
        struct smtp_server *server = &s->servers[i];

        if (tls == NULL) {
            server->starttls = !url_is_smtps(server->url) &&
                               !url_host_is_loopback(server->url);
            continue;
        }
        if (url_is_smtps(server->url)) {
            email->host->config_error(email->ctx, "tls", "does not apply "
                                      "to smtps://, which always uses TLS; "
                                      "remove it, or use smtp:// for "
                                      "STARTTLS");
            return CRIER_ECONFIG;
        }
        server->starttls = strcmp(value, "starttls") == 0;
    }
    return 0;
}


/* Reads `ca_file`, a PEM file of the certificates to trust in place of
 * the system's, for a relay with a private certificate authority. */
static int
config_ca_file(struct email *email, const json_t *config)
{
    const char *path;
    int rc = config_string(email, config, "ca_file", &path);

    if (rc != 0 || path == NULL)
        return rc;
    if (path[0] == '\0') {
        email->host->config_error(email->ctx, "ca_file", "must not be "
                                  "empty; remove it to trust the system's "
                                  "certificates");
        return CRIER_ECONFIG;
    }
    email->smtp.ca_file = email->host->resolve_path(email->ctx, path);
    return email->smtp.ca_file != NULL ? 0 : CRIER_ENOMEM;
}


static int
config_smtp(struct email *email, const json_t *config)
{
    struct smtp_settings *s = &email->smtp;
    const char *username, *password;
    int rc;

    if ((rc = config_string(email, config, "username", &username)) != 0 ||
        (rc = config_string(email, config, "password", &password)) != 0)
        return rc;

    /* "${SMTP_PASSWORD:-}" expands to "" when the variable is unset. */
    if (username != NULL && username[0] != '\0') {
        s->username = g_strdup(username);
        s->password = g_strdup(password ? password : "");
    } else if (password != NULL && password[0] != '\0') {
        email->host->config_error(email->ctx, "password", "is set but "
                                  "username is not");
        return CRIER_ECONFIG;
    }

    if ((rc = config_tls(email, config)) != 0 ||
        (rc = config_ca_file(email, config)) != 0)
        return rc;
    if ((rc = config_timeout(email, config, "timeout_ms",
                             TIMEOUT_DEFAULT_MS, &s->timeout_ms)) != 0 ||
        (rc = config_timeout(email, config, "connect_timeout_ms",
                             CONNECT_TIMEOUT_DEFAULT_MS,
                             &s->connect_timeout_ms)) != 0)
        return rc;
    return config_connections(email, config);
}


/* Reads `unsubscribe_secret`, the key that signs one-click unsubscribe
 * links. An empty value, as from an unset "${VAR:-}", leaves them off. */
static int
config_unsubscribe(struct email *email, const json_t *config)
{
    const char *secret;
    int rc = config_string(email, config, "unsubscribe_secret", &secret);

    if (rc != 0 || secret == NULL || secret[0] == '\0')
        return rc;
    if (strlen(secret) < UNSUBSCRIBE_SECRET_MIN) {
        email->host->config_error(email->ctx, "unsubscribe_secret", "must "
                                  "be at least %d characters; generate "
                                  "one with: openssl rand -hex 32",
                                  UNSUBSCRIBE_SECRET_MIN);
        return CRIER_ECONFIG;
    }
    email->unsubscribe_key = unsubscribe_key_derive(secret);
    return 0;
}


static int
config_read(struct email *email, const json_t *config)
{
    const char *outbox;
    int rc;

    if ((rc = config_keys_check(email, config)) != 0 ||
        (rc = config_string(email, config, "outbox", &outbox)) != 0 ||
        (rc = config_servers(email, config)) != 0 ||
        (rc = config_address(email, config, "from", &email->from)) != 0 ||
        (rc = config_address(email, config, "reply_to",
                             &email->reply_to)) != 0)
        return rc;
    if ((rc = config_unsubscribe(email, config)) != 0 ||
        (rc = bounces_config_read(email, config)) != 0 ||
        (rc = dkim_config_read(email, config, &email->dkim)) != 0)
        return rc;
    if (email->bounces.imap_url != NULL)
        dsn_library_open();
    if (email->from.address == NULL) {
        email->host->config_error(email->ctx, "from", "is missing; write "
                                  "from = \"Agency <alerts@example.gov>\"");
        return CRIER_ECONFIG;
    }
    if (outbox != NULL && email->smtp.server_count > 0) {
        email->host->config_error(email->ctx, json_object_get(config, "url")
                                  ? "url" : "urls", "set either outbox or "
                                  "SMTP servers, not both");
        return CRIER_ECONFIG;
    }

    if (email->smtp.server_count > 0) {
        return config_smtp(email, config);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(smtp_keys); i++) {
        if (json_object_get(config, smtp_keys[i]) != NULL) {
            email->host->config_error(email->ctx, smtp_keys[i], "applies "
                                      "only with url or urls");
            return CRIER_ECONFIG;
        }
    }
    if (outbox != NULL && outbox[0] == '\0') {
        email->host->config_error(email->ctx, "outbox", "must not be empty");
        return CRIER_ECONFIG;
    }
    email->outbox = email->host->resolve_path(email->ctx,
                                              outbox ? outbox
                                                     : OUTBOX_DEFAULT);
    return email->outbox != NULL ? 0 : CRIER_ENOMEM;
}


static void
email_destroy(void *state)
{
    struct email *email = state;

    if (email == NULL)
        return;
    smtp_pool_free(email);
    mime_address_clear(&email->from);
    mime_address_clear(&email->reply_to);
    imap_poll_free(email->imap);
    if (email->bounces.imap_url != NULL)
        dsn_library_close();
    bounces_clear(&email->bounces);
    dkim_signer_free(email->dkim);
    free(email->outbox);
    if (email->unsubscribe_key != NULL) {
        memset(email->unsubscribe_key, 0, strlen(email->unsubscribe_key));
        g_free(email->unsubscribe_key);
    }
    for (size_t i = 0; i < email->smtp.server_count; i++) {
        g_free(email->smtp.servers[i].url);
        g_free(email->smtp.servers[i].host);
    }
    g_free(email->smtp.username);
    free(email->smtp.ca_file);
    if (email->smtp.password != NULL) {
        memset(email->smtp.password, 0, strlen(email->smtp.password));
        g_free(email->smtp.password);
    }
    g_free(email);
}


static int
email_init(struct crier_ctx *ctx, const struct crier_host *host,
           const json_t *config, void **state)
{
    struct email *email = g_new0(struct email, 1);
    int rc;

    email->ctx = ctx;
    email->host = host;
    rc = config_read(email, config);
    if (rc != 0) {
        email_destroy(email);
        return rc;
    }
    *state = email;
    return 0;
}


static int
email_start(void *state)
{
    struct email *email = state;
    const struct smtp_settings *s = &email->smtp;
    int rc;

    if (email->unsubscribe_key == NULL)
        email->host->log(email->ctx, CRIER_LOG_WARN, "messages carry no "
                         "List-Unsubscribe header; set unsubscribe_secret "
                         "so that readers can unsubscribe in one click",
                         NULL);
    else if ((rc = unsubscribe_routes_add(email)) != 0)
        return rc;

    if ((rc = bounce_webhook_route_add(email)) != 0 ||
        (rc = imap_poll_start(email)) != 0)
        return rc;

    if (email->outbox != NULL) {
        if (maildir_prepare(email->outbox) != 0) {
            email->host->log(email->ctx, CRIER_LOG_ERROR, "outbox could not "
                             "be created", "path=\"%s\" error=\"%s\"",
                             email->outbox, g_strerror(errno));
            return CRIER_EIO;
        }
        email->host->log(email->ctx, CRIER_LOG_INFO, "writing email to a "
                         "Maildir outbox", "path=\"%s\"", email->outbox);
        return 0;
    }

    for (size_t i = 0; i < s->server_count; i++) {
        const struct smtp_server *server = &s->servers[i];
        int smtps = url_is_smtps(server->url);

        email->host->log(email->ctx, CRIER_LOG_INFO, "sending email by "
                         "SMTP", "url=%s order=%zu tls=%s login=%s "
                         "connections=%u", server->url, i + 1, smtps
                         ? "implicit" : server->starttls ? "starttls"
                         : "none", s->username ? "yes" : "no",
                         s->connections);
        if (s->username != NULL && !server->starttls && !smtps)
            email->host->log(email->ctx, CRIER_LOG_WARN, "the SMTP "
                             "password may be sent unencrypted; use "
                             "smtps:// or set tls = \"starttls\"",
                             "url=%s", server->url);
    }
    return smtp_pool_start(email);
}


/* Reports the stop once nothing is in flight: at once for the outbox,
 * after the SMTP connections have closed. */
static void
email_stopped(struct email *email)
{
    crier_stop_cb done = email->stop_done;

    email->stop_done = NULL;
    if (email->outbox == NULL)
        smtp_pool_stop(email, done, email->stop_arg);
    else
        done(email->stop_arg);
}


static void
email_stop(void *state, crier_stop_cb done, void *arg)
{
    struct email *email = state;

    email->stopping = 1;
    email->stop_done = done;
    email->stop_arg = arg;
    imap_poll_stop(email->imap);
    /* Messages not yet handed to a server go back to the outbox now;
     * transactions already under way are let finish. */
    if (email->outbox == NULL)
        smtp_abandon_waiting(email);
    if (email->in_flight == 0 && email->stop_done != NULL)
        email_stopped(email);
}


static void
delivery_free(struct email_delivery *d)
{
    if (d->message != NULL)
        g_string_free(d->message, TRUE);
    g_free(d->unsubscribe_url);
    g_free(d);
}


int
email_delivery_build(struct email_delivery *d)
{
    struct email *email = d->email;
    struct mime_envelope envelope = {
        .from = &email->from,
        .reply_to = email->reply_to.address ? &email->reply_to : NULL,
        .date_ms = d->date_ms,
        .unsubscribe_url = d->unsubscribe_url,
    };
    size_t guess = 1024 + (d->msg.text ? 2 * strlen(d->msg.text) : 0) +
                   (d->msg.html ? 2 * strlen(d->msg.html) : 0);

    d->message = g_string_sized_new(guess);
    if (mime_message_build(d->message, &d->msg, &envelope,
                           &d->build_error) != 0)
        return CRIER_EINVAL;
    /* The signer is read only and libopendkim keeps each signature's
     * state in its own handle, so worker threads sign side by side. */
    if (email->dkim != NULL) {
        int rc = dkim_message_sign(email->dkim, d->msg.key, d->message,
                                   &d->build_error);

        /* OpenSSL frees a thread's error queue and random generators
         * when the thread ends, unless OPENSSL_cleanup ran first, as it
         * does at exit while libuv's worker threads still live. */
        OPENSSL_thread_stop();
        if (rc != 0)
            return CRIER_EINVAL;
    }
    return 0;
}


void
email_delivery_finish(struct email_delivery *d,
                      const struct crier_send_result *result)
{
    struct email *email = d->email;

    d->done(d->arg, result);
    delivery_free(d);
    email_work_done(email);
}


void
email_work_done(struct email *email)
{
    email->in_flight--;
    if (email->in_flight == 0 && email->stop_done != NULL)
        email_stopped(email);
}


void
email_error_log(struct email *email, const char *msg, const char *fields_fmt,
                ...)
{
    uint64_t now = uv_now(email->host->loop(email->ctx));
    char fields[512];
    va_list ap;

    if (email->error_logged_ms != 0 &&
        now - email->error_logged_ms < ERROR_LOG_INTERVAL_MS) {
        email->errors_unlogged++;
        return;
    }
    va_start(ap, fields_fmt);
    vsnprintf(fields, sizeof(fields), fields_fmt, ap);
    va_end(ap);
    email->host->log(email->ctx, CRIER_LOG_ERROR, msg, "%s unlogged=%u",
                     fields, email->errors_unlogged);
    email->error_logged_ms = now != 0 ? now : 1;
    email->errors_unlogged = 0;
}


/* Returns 1 when the core marks `msg` as a service message. */
static int
message_is_service(const struct crier_message *msg)
{
    return msg->size >= offsetof(struct crier_message, message_class) +
                        sizeof(msg->message_class) &&
           msg->message_class != NULL &&
           strcmp(msg->message_class, "service") == 0;
}


/* Copies `text`, or NULL, to *next and moves *next past the copy. */
static const char *
string_place(char **next, const char *text)
{
    char *copy = *next;
    size_t size;

    if (text == NULL)
        return NULL;
    size = strlen(text) + 1;
    memcpy(copy, text, size);
    *next += size;
    return copy;
}


/*
 * Returns a delivery with copies of what the MIME builder reads out of
 * `msg`, which is valid only until `done` runs, so that the message can
 * be built off the loop. The strings share the delivery's allocation,
 * which one g_free releases.
 */
static struct email_delivery *
delivery_new(const struct crier_message *msg)
{
    const char *const texts[] = {
        msg->key, msg->to, msg->message_id, msg->rule, msg->subject,
        msg->text, msg->html,
    };
    size_t size = sizeof(struct email_delivery);
    struct email_delivery *d;
    char *next;

    for (size_t i = 0; i < G_N_ELEMENTS(texts); i++)
        size += texts[i] != NULL ? strlen(texts[i]) + 1 : 0;
    d = g_malloc(size);
    memset(d, 0, sizeof(*d));
    next = (char *) (d + 1);
    d->msg.size = sizeof(d->msg);
    d->msg.job_id = msg->job_id;
    d->msg.attempt = msg->attempt;
    d->msg.key = string_place(&next, msg->key);
    d->msg.to = string_place(&next, msg->to);
    d->msg.message_id = string_place(&next, msg->message_id);
    d->msg.rule = string_place(&next, msg->rule);
    d->msg.subject = string_place(&next, msg->subject);
    d->msg.text = string_place(&next, msg->text);
    d->msg.html = string_place(&next, msg->html);
    if (msg->size >= offsetof(struct crier_message, hand_over_by_ms) +
                     sizeof(msg->hand_over_by_ms))
        d->msg.hand_over_by_ms = msg->hand_over_by_ms;
    return d;
}


/*
 * Queues the message for a libuv worker thread, which builds the MIME
 * text before the outbox or an SMTP connection takes it. A header value
 * that cannot be encoded thus fails the job on a later loop turn. Only the unsubscribe link is
 * signed here, because it needs the job key.
 */
static int
email_send(void *state, const struct crier_message *msg, crier_send_cb done,
           void *arg)
{
    struct email *email = state;
    struct email_delivery *d;
    int rc;

    if (email->stopping)
        return CRIER_ECLOSED;

    d = delivery_new(msg);
    d->email = email;
    d->done = done;
    d->arg = arg;
    d->date_ms = email->host->now_ms(email->ctx);
    email->in_flight++;
    /* Outreach carries the one-click unsubscribe link; a service message
     * (a statutory notice) does not, since the resident cannot opt out
     * of it. A core that predates the member sends outreach only. */
    if (email->unsubscribe_key != NULL && !message_is_service(msg)) {
        d->unsubscribe_url = unsubscribe_url_build(email, msg->key,
                                                   msg->to);
        if (d->unsubscribe_url == NULL) {
            struct crier_send_result r = {
                .outcome = CRIER_SEND_FAIL,
                .detail = "unsubscribe link not signed: the job key or "
                          "the address is too long",
            };

            email_delivery_finish(d, &r);
            return 0;
        }
    }
    rc = email->outbox ? maildir_deliver(d) : smtp_deliver(d);
    if (rc != 0) {
        delivery_free(d);
        email->in_flight--;
    }
    return rc;
}


static const struct crier_channel_ops email_ops = {
    .size = sizeof(struct crier_channel_ops),
    .address_kind = "email",
    .send = email_send,
};


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_CHANNEL,
    .name = "email",
    .version = "0.1.0",
    .summary = "email into a Maildir outbox or over SMTP",
    .init = email_init,
    .start = email_start,
    .stop = email_stop,
    .destroy = email_destroy,
    .ops = &email_ops,
};
