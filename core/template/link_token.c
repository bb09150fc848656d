#include "link_token.h"

#include <string.h>

#include <glib.h>

/* The length of a base64url SHA-256 digest without padding. */
#define SIGNATURE_B64_LEN 43


/* Returns a new base64url string of `data`, without '=' padding. */
static char *
b64url_encode(const guchar *data, size_t len)
{
    char *text = g_base64_encode(data, len);
    char *p;

    for (p = text; *p != '\0'; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
        else if (*p == '=')
            break;
    }
    *p = '\0';
    return text;
}


/*
 * Decodes `len` bytes of base64url into a new NUL-terminated buffer.
 * Returns NULL on any character outside the alphabet, because GLib's
 * decoder skips such characters and would accept a mangled token.
 */
static char *
b64url_decode(const char *text, size_t len, size_t *out_len)
{
    GString *std;
    guchar *data;
    gsize data_len;
    char *out;

    if (len % 4 == 1)
        return NULL;
    std = g_string_sized_new(len + 3);
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!g_ascii_isalnum(c))
            break;
        g_string_append_c(std, c);
    }
    if (std->len != len) {
        g_string_free(std, TRUE);
        return NULL;
    }
    while (std->len % 4 != 0)
        g_string_append_c(std, '=');
    data = g_base64_decode(std->str, &data_len);
    g_string_free(std, TRUE);
    out = g_malloc(data_len + 1);
    memcpy(out, data, data_len);
    out[data_len] = '\0';
    g_free(data);
    *out_len = data_len;
    return out;
}


/* Returns the base64url HMAC-SHA256 of `len` bytes of `text`. */
static char *
signature_of(const char *secret, const char *text, size_t len)
{
    guint8 digest[32];
    gsize digest_len = sizeof(digest);
    GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *) secret,
                             strlen(secret));

    g_hmac_update(hmac, (const guchar *) text, (gssize) len);
    g_hmac_get_digest(hmac, digest, &digest_len);
    g_hmac_unref(hmac);
    return b64url_encode(digest, digest_len);
}


/* Compares two strings of `len` bytes in a time that does not depend on
 * where they differ. */
static int
equal_const_time(const char *a, const char *b, size_t len)
{
    volatile unsigned char diff = 0;

    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char) (a[i] ^ b[i]);
    return diff == 0;
}


int
link_url_valid(const char *url)
{
    const char *host;

    if (url == NULL || strlen(url) > LINK_URL_MAX)
        return 0;
    if (g_str_has_prefix(url, "https://"))
        host = url + 8;
    else if (g_str_has_prefix(url, "http://"))
        host = url + 7;
    else
        return 0;
    if (host[0] == '\0' || strchr("/?#", host[0]) != NULL)
        return 0;
    for (const char *p = url; *p != '\0'; p++)
        if ((unsigned char) *p <= 0x20 || *p == 0x7f || *p == '\\')
            return 0;

    /* The payload is JSON, which holds only UTF-8: a URL in another
     * encoding would be dropped from it, and the click link would sign
     * as an open pixel. */
    return g_utf8_validate(url, -1, NULL);
}


/* Returns nonzero when `identity` is a non-empty object of strings. */
static int
identity_valid(const json_t *identity)
{
    const char *kind;
    json_t *value;

    if (!json_is_object(identity) || json_object_size(identity) == 0)
        return 0;
    json_object_foreach((json_t *) identity, kind, value)
        if (!json_is_string(value) || json_string_length(value) == 0)
            return 0;
    return 1;
}


char *
link_token_sign(const char *secret, const char *message,
                const json_t *identity, const char *url)
{
    json_t *payload;
    char *json, *body, *signature, *token;

    if (secret == NULL || secret[0] == '\0' || message == NULL ||
        message[0] == '\0' || !identity_valid(identity) ||
        (url != NULL && !link_url_valid(url)))
        return NULL;

    payload = json_pack("{s:s,s:O}", "m", message, "p", identity);
    if (payload == NULL || (url != NULL &&
                            json_object_set_new(payload, "u",
                                                json_string(url)) != 0)) {
        json_decref(payload);
        return NULL;
    }
    json = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(payload);
    if (json == NULL)
        return NULL;
    body = b64url_encode((const guchar *) json, strlen(json));
    free(json);

    signature = signature_of(secret, body, strlen(body));
    token = g_strconcat(body, ".", signature, NULL);
    g_free(body);
    g_free(signature);
    if (strlen(token) > LINK_TOKEN_MAX) {
        g_free(token);
        return NULL;
    }
    return token;
}


/* Checks that a decoded payload has the members link_token_sign writes. */
static const char *
payload_check(const json_t *payload)
{
    const json_t *message = json_object_get(payload, "m");
    const json_t *url = json_object_get(payload, "u");

    if (!json_is_object(payload) || json_object_size(payload) !=
                                        (url != NULL ? 3u : 2u))
        return "the payload is not a link token payload";
    if (!json_is_string(message) || json_string_length(message) == 0)
        return "the payload has no message reference";
    if (!identity_valid(json_object_get(payload, "p")))
        return "the payload has no recipient identity";
    if (url != NULL && !link_url_valid(json_string_value(url)))
        return "the payload URL is not an http or https URL";
    return NULL;
}


int
link_token_verify(const char *secret, const char *token, json_t **payload,
                  const char **reason)
{
    const char *dot;
    char *expected, *json;
    size_t body_len, json_len;
    int match;

    *payload = NULL;
    if (token == NULL || strlen(token) > LINK_TOKEN_MAX ||
        (dot = strchr(token, '.')) == NULL) {
        *reason = "the token is not two parts joined by '.'";
        return -1;
    }
    body_len = (size_t) (dot - token);
    expected = signature_of(secret, token, body_len);
    match = strlen(dot + 1) == SIGNATURE_B64_LEN &&
            equal_const_time(expected, dot + 1, SIGNATURE_B64_LEN);
    g_free(expected);
    if (!match) {
        *reason = "the signature does not match";
        return -1;
    }

    /* The signature matches, so the payload is one this secret signed;
     * the checks below guard against a signer that wrote a bad one. */
    json = b64url_decode(token, body_len, &json_len);
    if (json == NULL) {
        *reason = "the payload is not base64url";
        return -1;
    }
    *payload = json_loadb(json, json_len, JSON_REJECT_DUPLICATES, NULL);
    g_free(json);
    if (*payload == NULL) {
        *reason = "the payload is not JSON";
        return -1;
    }
    if ((*reason = payload_check(*payload)) != NULL) {
        json_decref(*payload);
        *payload = NULL;
        return -1;
    }
    return 0;
}
