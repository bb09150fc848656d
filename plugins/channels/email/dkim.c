/*
 * DKIM signing (RFC 6376) with libopendkim: each message built by
 * mime.c gets a DKIM-Signature header for `dkim.domain` and
 * `dkim.selector`, made with the private key in `dkim.key_file`
 * (rsa-sha256, relaxed/relaxed canonicalization). The key is read once
 * at init, so a missing or unreadable file stops the start with a config
 * error. Where a relay signs instead, leave `dkim` out
 * (docs/deliverability.md).
 *
 * NOTE: signing runs on the loop thread, about 0.25 ms of RSA per
 * message (docs/KNOWN_LIMITS.md, "Email").
 */
#include <errno.h>
#include <string.h>

#include <opendkim/dkim.h>

#include "dkim.h"
#include "email.h"

/* The header fields signed when `dkim.headers` is not set: those a
 * resident reads or a filter keys on. */
static const char *const headers_default[] = {
    "From", "To", "Subject", "Date", "Message-ID", "Reply-To",
    "MIME-Version", "Content-Type", "List-Unsubscribe",
    "List-Unsubscribe-Post", NULL
};

struct dkim_signer {
    DKIM_LIB *lib;
    char *domain;
    char *selector;
    char *key;                /* the PEM text of the private key */
    char **headers;           /* NULL-terminated */
};


void
dkim_signer_free(struct dkim_signer *signer)
{
    if (signer == NULL)
        return;
    if (signer->lib != NULL)
        dkim_close(signer->lib);
    g_free(signer->domain);
    g_free(signer->selector);
    if (signer->key != NULL) {
        memset(signer->key, 0, strlen(signer->key));
        g_free(signer->key);
    }
    g_strfreev(signer->headers);
    g_free(signer);
}


static int
dkim_string(struct email *email, const json_t *group, const char *name,
            char **out)
{
    const json_t *value = json_object_get(group, name);
    char key[32];

    snprintf(key, sizeof(key), "dkim.%s", name);
    if (!json_is_string(value) || json_string_length(value) == 0) {
        email->host->config_error(email->ctx, key, "is required: a "
                                  "non-empty string");
        return CRIER_ECONFIG;
    }
    *out = g_strdup(json_string_value(value));
    return 0;
}


/* Reads dkim.headers, a list of header field names, or the default. */
static int
dkim_headers_read(struct email *email, const json_t *group,
                  struct dkim_signer *signer)
{
    const json_t *list = json_object_get(group, "headers");
    GPtrArray *names = g_ptr_array_new();
    size_t i;
    json_t *name;

    if (list == NULL) {
        for (i = 0; headers_default[i] != NULL; i++)
            g_ptr_array_add(names, g_strdup(headers_default[i]));
    } else if (!json_is_array(list) || json_array_size(list) == 0) {
        g_ptr_array_free(names, TRUE);
        email->host->config_error(email->ctx, "dkim.headers", "must be a "
                                  "non-empty list of header names such as "
                                  "[\"From\", \"Subject\"]");
        return CRIER_ECONFIG;
    }
    json_array_foreach(list, i, name) {
        if (!json_is_string(name) || json_string_length(name) == 0) {
            g_ptr_array_free(names, TRUE);
            email->host->config_error(email->ctx, "dkim.headers", "item "
                                      "%zu must be a header name", i + 1);
            return CRIER_ECONFIG;
        }
        g_ptr_array_add(names, g_strdup(json_string_value(name)));
    }
    /* RFC 6376 section 5.4 requires From among the signed fields. */
    for (i = 0; i < names->len; i++)
        if (g_ascii_strcasecmp(g_ptr_array_index(names, i), "From") == 0)
            break;
    if (i == names->len) {
        g_ptr_array_free(names, TRUE);
        email->host->config_error(email->ctx, "dkim.headers", "must "
                                  "include From, which DKIM always signs");
        return CRIER_ECONFIG;
    }
    g_ptr_array_add(names, NULL);
    signer->headers = (char **) g_ptr_array_free(names, FALSE);
    return 0;
}


static int
dkim_key_read(struct email *email, const json_t *group,
              struct dkim_signer *signer)
{
    char *file = NULL, *path;
    GError *error = NULL;
    int rc = dkim_string(email, group, "key_file", &file);

    if (rc != 0)
        return rc;
    path = email->host->resolve_path(email->ctx, file);
    g_free(file);
    if (path == NULL)
        return CRIER_ENOMEM;
    if (!g_file_get_contents(path, &signer->key, NULL, &error)) {
        email->host->config_error(email->ctx, "dkim.key_file", "cannot be "
                                  "read: %s", error->message);
        g_error_free(error);
        free(path);
        return CRIER_ECONFIG;
    }
    free(path);
    if (strstr(signer->key, "PRIVATE KEY-----") == NULL) {
        email->host->config_error(email->ctx, "dkim.key_file", "is not a "
                                  "PEM private key; make one with: openssl "
                                  "genrsa -out dkim.key 2048");
        return CRIER_ECONFIG;
    }
    return 0;
}


int
dkim_config_read(struct email *email, const json_t *config,
                 struct dkim_signer **out)
{
    static const char *const known[] = {
        "domain", "selector", "key_file", "headers", NULL
    };
    const json_t *group = json_object_get(config, "dkim");
    struct dkim_signer *signer;
    const char *key;
    json_t *value;
    int rc;

    *out = NULL;
    if (group == NULL)
        return 0;
    if (!json_is_object(group)) {
        email->host->config_error(email->ctx, "dkim", "must be a group: "
                                  "dkim = { domain = \"...\"; selector = "
                                  "\"...\"; key_file = \"...\"; }");
        return CRIER_ECONFIG;
    }
    json_object_foreach((json_t *) group, key, value) {
        size_t i = 0;
        char name[64];

        while (known[i] != NULL && strcmp(known[i], key) != 0)
            i++;
        if (known[i] != NULL)
            continue;
        snprintf(name, sizeof(name), "dkim.%s", key);
        email->host->config_error(email->ctx, name, "unknown setting; "
                                  "valid settings are domain, selector, "
                                  "key_file and headers");
        return CRIER_ECONFIG;
    }
    signer = g_new0(struct dkim_signer, 1);
    if ((rc = dkim_string(email, group, "domain", &signer->domain)) != 0 ||
        (rc = dkim_string(email, group, "selector",
                          &signer->selector)) != 0 ||
        (rc = dkim_key_read(email, group, signer)) != 0 ||
        (rc = dkim_headers_read(email, group, signer)) != 0) {
        dkim_signer_free(signer);
        return rc;
    }
    signer->lib = dkim_init(NULL, NULL);
    if (signer->lib == NULL ||
        dkim_options(signer->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
                     signer->headers, sizeof(char **)) != DKIM_STAT_OK) {
        dkim_signer_free(signer);
        email->host->config_error(email->ctx, "dkim", "libopendkim could "
                                  "not be set up");
        return CRIER_ECONFIG;
    }
    *out = signer;
    return 0;
}


/* Replaces each line end of `text` with CRLF, whichever form the
 * library folded with. */
static void
crlf_append(GString *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            g_string_append_c(out, '\r');
        g_string_append_c(out, *p);
    }
}


int
dkim_message_sign(struct dkim_signer *signer, const char *job,
                  GString *message, const char **reason)
{
    static const char field[] = "DKIM-Signature: ";
    DKIM_STAT status;
    DKIM *dkim;
    u_char *header = NULL;
    size_t header_len = 0;
    GString *signature;

    dkim = dkim_sign(signer->lib, (const u_char *) job, NULL,
                     (dkim_sigkey_t) signer->key,
                     (const u_char *) signer->selector,
                     (const u_char *) signer->domain, DKIM_CANON_RELAXED,
                     DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &status);
    if (dkim == NULL) {
        *reason = "DKIM signing could not start; check dkim.key_file";
        return CRIER_EINVAL;
    }
    status = dkim_chunk(dkim, (u_char *) message->str, message->len);
    if (status == DKIM_STAT_OK)
        status = dkim_chunk(dkim, NULL, 0);
    if (status == DKIM_STAT_OK)
        status = dkim_eom(dkim, NULL);
    if (status == DKIM_STAT_OK)
        status = dkim_getsighdr_d(dkim, sizeof(field) - 1, &header,
                                  &header_len);
    if (status != DKIM_STAT_OK) {
        *reason = "DKIM signing failed; check dkim.key_file";
        dkim_free(dkim);
        return CRIER_EINVAL;
    }
    signature = g_string_new(field);
    crlf_append(signature, (const char *) header);
    g_string_append(signature, "\r\n");
    g_string_prepend(message, signature->str);
    g_string_free(signature, TRUE);
    dkim_free(dkim);
    return 0;
}
