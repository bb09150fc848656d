/*
 * VERP (variable envelope return path): each message goes out with the
 * envelope sender "bounces+<id>.<mac>@domain", where <id> is the hex of
 * its Message-ID and <mac> an HMAC-SHA256 of it under the bounce secret.
 * A bounce that the receiving side sends later comes back to that
 * address, so it names its message even when it quotes none of it, and
 * nobody without the secret can make one name a message.
 */
#include <ctype.h>
#include <string.h>

#include "bounces.h"
#include "email.h"

/* The shortest bounce secret or webhook password, so that neither can
 * be guessed. */
#define SECRET_MIN 16


int
secret_equal(const char *a, const char *b)
{
    size_t len_a = strlen(a);
    size_t len_b = strlen(b);
    unsigned char diff = len_a != len_b;

    /* A shorter `b` is read at its first byte again, never past its
     * end. */
    for (size_t i = 0; i < len_a; i++)
        diff |= (unsigned char) a[i] ^ (unsigned char) b[i < len_b ? i : 0];
    return diff == 0;
}


static int
group_string(struct email *email, const json_t *group, const char *prefix,
             const char *name, char **out)
{
    const json_t *value = json_object_get(group, name);
    char key[64];

    *out = NULL;
    if (value == NULL)
        return 0;
    snprintf(key, sizeof(key), "%s.%s", prefix, name);
    if (!json_is_string(value) || json_string_length(value) == 0) {
        email->host->config_error(email->ctx, key, "must be a non-empty "
                                  "string");
        return CRIER_ECONFIG;
    }
    *out = g_strdup(json_string_value(value));
    return 0;
}


/* Checks that a group holds only the `known` keys (NULL-terminated). */
static int
group_keys_check(struct email *email, const json_t *group,
                 const char *prefix, const char *const *known,
                 const char *list)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) group, key, value) {
        size_t i = 0;
        char name[64];

        while (known[i] != NULL && strcmp(known[i], key) != 0)
            i++;
        if (known[i] != NULL)
            continue;
        snprintf(name, sizeof(name), "%s.%s", prefix, key);
        email->host->config_error(email->ctx, name, "unknown setting; "
                                  "valid settings are %s", list);
        return CRIER_ECONFIG;
    }
    return 0;
}


static int
secret_check(struct email *email, const char *key, const char *secret)
{
    if (secret == NULL || strlen(secret) >= SECRET_MIN)
        return 0;
    email->host->config_error(email->ctx, key, "must be at least %d "
                              "characters; generate one with: openssl rand "
                              "-hex 32", SECRET_MIN);
    return CRIER_ECONFIG;
}


/* Returns the host of `url` ("https://crier.example.gov:8080/" gives
 * "crier.example.gov"), the core's default Message-ID domain. */
static char *
url_host(const char *url)
{
    const char *p;
    size_t n;

    if (url == NULL)
        return g_strdup("crier.invalid");
    p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    n = strcspn(p, ":/");
    return n > 0 ? g_strndup(p, n) : g_strdup("crier.invalid");
}


/* Reads bounces.address and bounces.secret, which set up VERP. */
static int
verp_config_read(struct email *email, const json_t *group)
{
    struct bounce_settings *b = &email->bounces;
    char *address = NULL, *secret = NULL;
    const char *at;
    int rc;

    if ((rc = group_string(email, group, "bounces", "address",
                           &address)) != 0 ||
        (rc = group_string(email, group, "bounces", "secret",
                           &secret)) != 0 ||
        (rc = secret_check(email, "bounces.secret", secret)) != 0)
        goto done;
    if ((address == NULL) != (secret == NULL)) {
        email->host->config_error(email->ctx, address ? "bounces.secret"
                                  : "bounces.address", "is missing; VERP "
                                  "needs both address and secret");
        rc = CRIER_ECONFIG;
        goto done;
    }
    if (address == NULL)
        goto done;
    at = strchr(address, '@');
    if (at == NULL || at == address || strchr(at + 1, '@') != NULL ||
        at[1] == '\0' || (size_t) (at - address) + 2 + VERP_ID_LEN +
                         VERP_MAC_LEN > 64) {
        email->host->config_error(email->ctx, "bounces.address", "must be "
                                  "an address such as bounces@mail."
                                  "example.gov, with a local part of at "
                                  "most 18 characters");
        rc = CRIER_ECONFIG;
        goto done;
    }
    /* Lowercase, because mail systems may change the case of a local
     * part and the token is compared in lowercase. */
    b->local = g_ascii_strdown(address, at - address);
    b->domain = g_ascii_strdown(at + 1, -1);
    /* A purpose prefix keeps this key apart from the unsubscribe key,
     * which may come from the same secret. */
    b->key = g_strconcat("crier email verp\n", secret, NULL);
done:
    g_free(address);
    if (secret != NULL) {
        memset(secret, 0, strlen(secret));
        g_free(secret);
    }
    return rc;
}


static int
webhook_config_read(struct email *email, const json_t *group)
{
    static const char *const known[] = { "path", "password", NULL };
    struct bounce_settings *b = &email->bounces;
    const json_t *webhook = json_object_get(group, "webhook");
    int rc;

    if (webhook == NULL)
        return 0;
    if (!json_is_object(webhook)) {
        email->host->config_error(email->ctx, "bounces.webhook", "must be "
                                  "a group: { path = \"...\"; password = "
                                  "\"...\"; }");
        return CRIER_ECONFIG;
    }
    if ((rc = group_keys_check(email, webhook, "bounces.webhook", known,
                               "path and password")) != 0 ||
        (rc = group_string(email, webhook, "bounces.webhook", "path",
                           &b->webhook_path)) != 0 ||
        (rc = group_string(email, webhook, "bounces.webhook", "password",
                           &b->webhook_password)) != 0 ||
        (rc = secret_check(email, "bounces.webhook.password",
                           b->webhook_password)) != 0)
        return rc;
    if (b->webhook_path == NULL || b->webhook_path[0] != '/' ||
        b->webhook_password == NULL) {
        email->host->config_error(email->ctx, b->webhook_path == NULL ||
                                  b->webhook_path[0] != '/'
                                  ? "bounces.webhook.path"
                                  : "bounces.webhook.password",
                                  "is required; the path starts with /");
        return CRIER_ECONFIG;
    }
    return 0;
}


/* The default time between two reads of the bounce mailbox. */
#define IMAP_POLL_DEFAULT_MS 60000

static int
imap_config_read(struct email *email, const json_t *group)
{
    static const char *const known[] = {
        "url", "username", "password", "poll_ms", NULL
    };
    struct bounce_settings *b = &email->bounces;
    const json_t *imap = json_object_get(group, "imap");
    const json_t *poll;
    int rc;

    if (imap == NULL)
        return 0;
    if (!json_is_object(imap)) {
        email->host->config_error(email->ctx, "bounces.imap", "must be a "
                                  "group: { url = \"imaps://...\"; "
                                  "username = \"...\"; password = "
                                  "\"...\"; }");
        return CRIER_ECONFIG;
    }
    if ((rc = group_keys_check(email, imap, "bounces.imap", known,
                               "url, username, password and poll_ms")) != 0 ||
        (rc = group_string(email, imap, "bounces.imap", "url",
                           &b->imap_url)) != 0 ||
        (rc = group_string(email, imap, "bounces.imap", "username",
                           &b->imap_username)) != 0 ||
        (rc = group_string(email, imap, "bounces.imap", "password",
                           &b->imap_password)) != 0)
        return rc;
    if (b->imap_url == NULL ||
        (g_ascii_strncasecmp(b->imap_url, "imap://", 7) != 0 &&
         g_ascii_strncasecmp(b->imap_url, "imaps://", 8) != 0)) {
        email->host->config_error(email->ctx, "bounces.imap.url", "must be "
                                  "an imap:// or imaps:// URL that names "
                                  "the mailbox, such as imaps://mail."
                                  "example.gov/INBOX");
        return CRIER_ECONFIG;
    }
    poll = json_object_get(imap, "poll_ms");
    b->imap_poll_ms = IMAP_POLL_DEFAULT_MS;
    if (poll != NULL && (!json_is_integer(poll) ||
                         json_integer_value(poll) < 100 ||
                         json_integer_value(poll) > 86400000)) {
        email->host->config_error(email->ctx, "bounces.imap.poll_ms", "must "
                                  "be milliseconds from 100 to 86400000");
        return CRIER_ECONFIG;
    }
    if (poll != NULL)
        b->imap_poll_ms = (long) json_integer_value(poll);
    return 0;
}


int
bounces_config_read(struct email *email, const json_t *config)
{
    static const char *const known[] = {
        "address", "secret", "message_id_domain", "webhook", "imap", NULL
    };
    const json_t *group = json_object_get(config, "bounces");
    int rc;

    if (group == NULL)
        return 0;
    if (!json_is_object(group)) {
        email->host->config_error(email->ctx, "bounces", "must be a group: "
                                  "bounces = { address = \"...\"; secret = "
                                  "\"...\"; }");
        return CRIER_ECONFIG;
    }
    if ((rc = group_keys_check(email, group, "bounces", known,
                               "address, secret, message_id_domain, "
                               "webhook and imap")) != 0 ||
        (rc = verp_config_read(email, group)) != 0 ||
        (rc = webhook_config_read(email, group)) != 0 ||
        (rc = imap_config_read(email, group)) != 0 ||
        (rc = group_string(email, group, "bounces", "message_id_domain",
                           &email->bounces.message_id_domain)) != 0)
        return rc;
    /* NOTE: this must equal delivery.message_id_domain when that is set,
     * because a plugin cannot read the core's delivery settings
     * (docs/KNOWN_LIMITS.md, "Email"). */
    if (email->bounces.message_id_domain == NULL)
        email->bounces.message_id_domain =
            url_host(email->host->public_url(email->ctx));
    return 0;
}


static void
secret_free(char *secret)
{
    if (secret == NULL)
        return;
    memset(secret, 0, strlen(secret));
    g_free(secret);
}


void
bounces_clear(struct bounce_settings *b)
{
    g_free(b->local);
    g_free(b->domain);
    secret_free(b->key);
    g_free(b->message_id_domain);
    g_free(b->webhook_path);
    secret_free(b->webhook_password);
    g_free(b->imap_url);
    g_free(b->imap_username);
    secret_free(b->imap_password);
    memset(b, 0, sizeof(*b));
}


/* Returns the token's MAC of the hex id `id`: VERP_MAC_LEN lowercase hex
 * digits. Free with g_free. */
static char *
verp_mac(const struct email *email, const char *id)
{
    char *hmac = g_compute_hmac_for_string(G_CHECKSUM_SHA256,
                                           (const guchar *) email->bounces.key,
                                           strlen(email->bounces.key), id,
                                           VERP_ID_LEN);

    hmac[VERP_MAC_LEN] = '\0';
    return hmac;
}


/* Returns nonzero when `s` starts with `n` lowercase hex digits. */
static int
hex_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char) s[i]) ||
            isupper((unsigned char) s[i]))
            return 0;
    return 1;
}


char *
verp_address(const struct email *email, const char *message_id)
{
    char id[VERP_ID_LEN + 1];
    char *mac, *address;

    if (email->bounces.key == NULL || message_id == NULL ||
        message_id[0] != '<' || strlen(message_id) < VERP_ID_LEN + 2 ||
        message_id[VERP_ID_LEN + 1] != '@' ||
        !hex_valid(message_id + 1, VERP_ID_LEN))
        return NULL;
    memcpy(id, message_id + 1, VERP_ID_LEN);
    id[VERP_ID_LEN] = '\0';
    mac = verp_mac(email, id);
    address = g_strdup_printf("%s+%s.%s@%s", email->bounces.local, id, mac,
                              email->bounces.domain);
    g_free(mac);
    return address;
}


char *
verp_message_id(const struct email *email, const char *address)
{
    const struct bounce_settings *b = &email->bounces;
    size_t local_len = b->local != NULL ? strlen(b->local) : 0;
    char *lower, *p, *mac, *found = NULL;

    if (b->key == NULL || address == NULL)
        return NULL;
    lower = g_ascii_strdown(address + (address[0] == '<'), -1);
    p = lower;
    if (strncmp(p, b->local, local_len) != 0 || p[local_len] != '+')
        goto done;
    p += local_len + 1;
    if (!hex_valid(p, VERP_ID_LEN) || p[VERP_ID_LEN] != '.' ||
        !hex_valid(p + VERP_ID_LEN + 1, VERP_MAC_LEN) ||
        p[VERP_ID_LEN + 1 + VERP_MAC_LEN] != '@')
        goto done;
    p[VERP_ID_LEN] = '\0';
    p[VERP_ID_LEN + 1 + VERP_MAC_LEN] = '\0';
    mac = verp_mac(email, p);
    if (secret_equal(mac, p + VERP_ID_LEN + 1))
        found = g_strdup_printf("<%s@%s>", p, b->message_id_domain);
    g_free(mac);
done:
    g_free(lower);
    return found;
}


json_t *
bounce_event_build(const char *type, const char *message_id,
                   const char *recipient, const char *code,
                   const char *text, int permanent, const char *id)
{
    json_t *event = json_pack("{s:s,s:{s:s}}", "type", type, "properties",
                              "message_id", message_id);
    json_t *properties = json_object_get(event, "properties");

    if (recipient != NULL)
        json_object_set_new(event, "profile",
                            json_pack("{s:s}", "email", recipient));
    if (id != NULL)
        json_object_set_new(event, "id", json_string(id));
    if (code != NULL && code[0] != '\0')
        json_object_set_new(properties, "code", json_string(code));
    if (text != NULL && text[0] != '\0') {
        /* A report's text comes from a remote server: made valid UTF-8
         * and cut to 500 characters. */
        char *valid = g_utf8_make_valid(text, -1);
        char *cut = g_utf8_substring(valid, 0, MIN(g_utf8_strlen(valid, -1),
                                                   500));

        json_object_set_new(properties, "text", json_string(cut));
        g_free(cut);
        g_free(valid);
    }
    if (permanent)
        json_object_set_new(properties, "permanent", json_true());
    /* A complaint stops outreach as an unsubscribe does. */
    if (strcmp(type, "email.complained") == 0)
        json_object_set_new(event, "consent",
                            json_pack("{s:s}", "email", "revoked"));
    return event;
}
