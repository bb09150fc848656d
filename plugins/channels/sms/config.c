/*
 * Reads the SMS channel's config block; docs/channels/sms.md lists every
 * key. A channel has one provider written in the block itself, or a list
 * `providers` tried in order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sms.h"

#define TIMEOUT_DEFAULT_MS 15000
#define CONNECT_TIMEOUT_DEFAULT_MS 5000
#define TIMEOUT_MAX_MS 600000
#define MAX_SEGMENTS_DEFAULT 10
#define MAX_SEGMENTS_LIMIT 255        /* a concatenation counter is 1 byte */
#define TOLERANCE_DEFAULT_S 300
#define PROVIDERS_MAX 8

#define STOP_TEXT_DEFAULT "You are unsubscribed and will get no more " \
    "messages. Reply START to subscribe again."
#define START_TEXT_DEFAULT "You are subscribed again. Reply STOP to " \
    "unsubscribe."
#define HELP_TEXT_DEFAULT "Reply STOP to unsubscribe."

static const char *const top_keys[] = {
    "plugin", "providers", "base_url", "account_sid", "auth_token", "from",
    "messaging_service_sid", "default_region", "max_segments",
    "timeout_ms", "connect_timeout_ms", "status_path", "inbound", NULL,
};
static const char *const provider_keys[] = {
    "base_url", "account_sid", "auth_token", "from",
    "messaging_service_sid", NULL,
};
static const char *const inbound_keys[] = {
    "path", "url", "signature", "secrets", "tolerance_s", "help_text",
    "stop_text", "start_text", NULL,
};


/* Reports a bad value at `prefix` + `key`, such as "providers[1].from". */
static int CRIER_PRINTF(4, 5)
fail(struct sms *sms, const char *prefix, const char *key, const char *fmt,
     ...)
{
    char path[160], message[320];
    va_list ap;

    snprintf(path, sizeof(path), "%s%s", prefix, key);
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    sms->host->config_error(sms->ctx, path, "%s", message);
    return CRIER_ECONFIG;
}


/* Rejects a key of `object` that is not in the NULL-ended `known`. */
static int
keys_check(struct sms *sms, const json_t *object, const char *prefix,
           const char *const *known)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) object, key, value) {
        char *list;
        size_t i = 0;

        while (known[i] != NULL && strcmp(key, known[i]) != 0)
            i++;
        if (known[i] != NULL)
            continue;
        list = g_strjoinv(", ", (char **) known);
        fail(sms, prefix, key, "unknown setting; valid settings here are "
             "%s", list);
        g_free(list);
        return CRIER_ECONFIG;
    }
    return 0;
}


/* Reads an optional string; *out is NULL when `key` is absent. */
static int
get_string(struct sms *sms, const json_t *object, const char *prefix,
           const char *key, const char **out)
{
    const json_t *value = json_object_get(object, key);

    *out = NULL;
    if (value == NULL)
        return 0;
    if (!json_is_string(value))
        return fail(sms, prefix, key, "must be a string");
    *out = json_string_value(value);
    return 0;
}


static int
get_integer(struct sms *sms, const json_t *object, const char *key,
            long min, long max, long fallback, long *out)
{
    const json_t *value = json_object_get(object, key);

    *out = fallback;
    if (value == NULL)
        return 0;
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max)
        return fail(sms, "", key, "must be a whole number from %ld to %ld",
                    min, max);
    *out = (long) json_integer_value(value);
    return 0;
}


/* Checks a base URL: http or https, no credentials, no query. */
static int
base_url_check(struct sms *sms, const char *prefix, const char *text)
{
    CURLU *url = curl_url();
    char *scheme = NULL, *user = NULL, *query = NULL;
    const char *problem = NULL;

    if (url == NULL)
        return CRIER_ENOMEM;
    if (curl_url_set(url, CURLUPART_URL, text, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        problem = "is not a URL; write https://api.twilio.com";
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        problem = "must start with http:// or https://";
    else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK)
        problem = "must not contain credentials; set account_sid and "
                  "auth_token instead";
    else if (curl_url_get(url, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
        problem = "must not contain a query";
    curl_free(scheme);
    curl_free(user);
    curl_free(query);
    curl_url_cleanup(url);
    if (problem != NULL)
        return fail(sms, prefix, "base_url", "\"%s\" %s", text, problem);
    return 0;
}


/* Reads one provider from `object`; `prefix` locates it for errors. */
static int
provider_read(struct sms *sms, const json_t *object, const char *prefix,
              struct sms_provider *p)
{
    const char *base, *sid, *token, *from, *service;
    char e164[PHONE_E164_MAX + 1];
    enum phone_error perr;
    int rc;

    if ((rc = get_string(sms, object, prefix, "base_url", &base)) != 0 ||
        (rc = get_string(sms, object, prefix, "account_sid", &sid)) != 0 ||
        (rc = get_string(sms, object, prefix, "auth_token", &token)) != 0 ||
        (rc = get_string(sms, object, prefix, "from", &from)) != 0 ||
        (rc = get_string(sms, object, prefix, "messaging_service_sid",
                         &service)) != 0)
        return rc;
    if (sid == NULL || sid[0] == '\0')
        return fail(sms, prefix, "account_sid", "is missing; write the "
                    "account's SID, such as \"${TWILIO_ACCOUNT_SID}\"");
    if (strpbrk(sid, "/?#%") != NULL)
        return fail(sms, prefix, "account_sid", "must not contain /, ?, # "
                    "or %%");
    if (token == NULL || token[0] == '\0')
        return fail(sms, prefix, "auth_token", "is missing or empty; write "
                    "\"${TWILIO_AUTH_TOKEN}\" and set the variable");
    if ((from == NULL || from[0] == '\0') &&
        (service == NULL || service[0] == '\0'))
        return fail(sms, prefix, "from", "is missing; set from (an E.164 "
                    "number) or messaging_service_sid");
    if (base == NULL)
        base = "https://api.twilio.com";
    if ((rc = base_url_check(sms, prefix, base)) != 0)
        return rc;
    if (from != NULL && from[0] != '\0') {
        perr = phone_to_e164(from, NULL, e164);
        if (perr != PHONE_OK)
            return fail(sms, prefix, "from", "\"%s\" %s", from,
                        phone_error_text(perr));
        p->from = g_strdup(e164);
    }

    p->base_url = g_strdup(base);
    while (g_str_has_suffix(p->base_url, "/"))
        p->base_url[strlen(p->base_url) - 1] = '\0';
    p->account_sid = g_strdup(sid);
    p->auth_token = g_strdup(token);
    if (service != NULL && service[0] != '\0')
        p->messaging_service_sid = g_strdup(service);
    p->messages_url = g_strdup_printf("%s/2010-04-01/Accounts/%s/"
                                      "Messages.json", p->base_url, sid);
    return 0;
}


static int
providers_read(struct sms *sms, const json_t *config)
{
    const json_t *list = json_object_get(config, "providers");
    size_t i;

    if (list == NULL) {
        sms->providers = g_new0(struct sms_provider, 1);
        sms->provider_count = 1;
        return provider_read(sms, config, "", &sms->providers[0]);
    }
    for (i = 0; i < G_N_ELEMENTS(provider_keys) - 1; i++) {
        if (json_object_get(config, provider_keys[i]) != NULL)
            return fail(sms, "", provider_keys[i], "set it inside each "
                        "entry of providers, not beside the list");
    }
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > PROVIDERS_MAX)
        return fail(sms, "", "providers", "must be a list of 1 to %d "
                    "groups, such as ( { base_url = ...; }, { ... } )",
                    PROVIDERS_MAX);
    sms->providers = g_new0(struct sms_provider, json_array_size(list));
    for (i = 0; i < json_array_size(list); i++) {
        const json_t *entry = json_array_get(list, i);
        char prefix[48];
        int rc;

        snprintf(prefix, sizeof(prefix), "providers[%zu].", i);
        if (!json_is_object(entry))
            return fail(sms, prefix, "", "must be a group { ... }");
        sms->provider_count = i + 1;
        if ((rc = keys_check(sms, entry, prefix, provider_keys)) != 0 ||
            (rc = provider_read(sms, entry, prefix,
                                &sms->providers[i])) != 0)
            return rc;
    }
    return 0;
}


/* Reads `secrets`: one string or a list, for a rotation. */
static int
secrets_read(struct sms *sms, const json_t *inbound)
{
    const json_t *v = json_object_get(inbound, "secrets");
    struct sms_inbound *in = &sms->inbound;
    size_t i;

    if (v == NULL)
        return fail(sms, "inbound.", "secrets", "is missing; signature = "
                    "\"crier\" needs the shared secret");
    if (json_is_string(v)) {
        in->secrets = g_new0(char *, 2);
        in->secrets[0] = g_strdup(json_string_value(v));
        in->secret_count = 1;
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        in->secrets = g_new0(char *, json_array_size(v) + 1);
        for (i = 0; i < json_array_size(v); i++) {
            if (!json_is_string(json_array_get(v, i)))
                return fail(sms, "inbound.", "secrets", "must be a string "
                            "or a list of strings");
            in->secrets[i] = g_strdup(json_string_value(
                json_array_get(v, i)));
            in->secret_count = i + 1;
        }
    } else {
        return fail(sms, "inbound.", "secrets", "must be a string or a "
                    "list of strings");
    }
    for (i = 0; i < in->secret_count; i++) {
        if (in->secrets[i][0] == '\0')
            return fail(sms, "inbound.", "secrets", "must not be empty");
    }
    return 0;
}


/* Copies an optional reply text, or the default. */
static int
text_read(struct sms *sms, const json_t *inbound, const char *key,
          const char *fallback, char **out)
{
    const char *text;
    int rc = get_string(sms, inbound, "inbound.", key, &text);

    if (rc == 0)
        *out = g_strdup(text != NULL ? text : fallback);
    return rc;
}


static int
inbound_read(struct sms *sms, const json_t *config)
{
    const json_t *inbound = json_object_get(config, "inbound");
    struct sms_inbound *in = &sms->inbound;
    const char *path, *url, *signature;
    const json_t *tolerance;
    int rc;

    if (inbound == NULL)
        return 0;
    if (!json_is_object(inbound))
        return fail(sms, "", "inbound", "must be a group { path = ...; }");
    if ((rc = keys_check(sms, inbound, "inbound.", inbound_keys)) != 0 ||
        (rc = get_string(sms, inbound, "inbound.", "path", &path)) != 0 ||
        (rc = get_string(sms, inbound, "inbound.", "url", &url)) != 0 ||
        (rc = get_string(sms, inbound, "inbound.", "signature",
                         &signature)) != 0)
        return rc;
    if (path == NULL || path[0] != '/')
        return fail(sms, "inbound.", "path", "must be a path starting with "
                    "/, such as \"/hooks/sms\"");
    in->path = g_strdup(path);
    in->url = url != NULL
        ? g_strdup(url)
        : g_strdup_printf("%s%s", sms->host->public_url(sms->ctx), path);

    if (signature == NULL || strcmp(signature, "twilio") == 0) {
        in->signature = SMS_SIGNATURE_TWILIO;
        if (json_object_get(inbound, "secrets") != NULL)
            return fail(sms, "inbound.", "secrets", "applies only with "
                        "signature = \"crier\"; Twilio signs with the "
                        "auth_token");
    } else if (strcmp(signature, "crier") == 0) {
        in->signature = SMS_SIGNATURE_CRIER;
        if ((rc = secrets_read(sms, inbound)) != 0)
            return rc;
    } else {
        return fail(sms, "inbound.", "signature", "must be \"twilio\" or "
                    "\"crier\"");
    }

    tolerance = json_object_get(inbound, "tolerance_s");
    in->tolerance_s = TOLERANCE_DEFAULT_S;
    if (tolerance != NULL) {
        if (!json_is_integer(tolerance) || json_integer_value(tolerance) < 1
            || json_integer_value(tolerance) > 86400)
            return fail(sms, "inbound.", "tolerance_s", "must be a whole "
                        "number of seconds from 1 to 86400");
        in->tolerance_s = json_integer_value(tolerance);
    }
    if ((rc = text_read(sms, inbound, "help_text", HELP_TEXT_DEFAULT,
                        &in->help_text)) != 0 ||
        (rc = text_read(sms, inbound, "stop_text", STOP_TEXT_DEFAULT,
                        &in->stop_text)) != 0 ||
        (rc = text_read(sms, inbound, "start_text", START_TEXT_DEFAULT,
                        &in->start_text)) != 0)
        return rc;
    return 0;
}


static int
region_read(struct sms *sms, const json_t *config)
{
    const char *code;
    int rc = get_string(sms, config, "", "default_region", &code);

    if (rc != 0 || code == NULL)
        return rc;
    sms->region = phone_region_find(code);
    if (sms->region == NULL)
        return fail(sms, "", "default_region", "\"%s\" is not a known "
                    "region; use US, CA, GB, IE, FR or AU, or leave it "
                    "out and store numbers in E.164", code);
    return 0;
}


static int
status_read(struct sms *sms, const json_t *config)
{
    const char *path;
    int rc = get_string(sms, config, "", "status_path", &path);

    if (rc != 0)
        return rc;
    if (path == NULL) {
        sms->status_path = g_strdup_printf("/hooks/%s/status",
                                           sms->host->instance_name(
                                               sms->ctx));
    } else if (path[0] == '\0') {
        return 0;                     /* no StatusCallback at all */
    } else if (path[0] != '/') {
        return fail(sms, "", "status_path", "must start with / or be \"\"");
    } else {
        sms->status_path = g_strdup(path);
    }
    sms->status_url = g_strdup_printf("%s%s", sms->host->public_url(
                                          sms->ctx), sms->status_path);
    return 0;
}


int
sms_config_read(struct sms *sms, const json_t *config)
{
    long max_segments;
    int rc;

    if ((rc = keys_check(sms, config, "", top_keys)) != 0 ||
        (rc = providers_read(sms, config)) != 0 ||
        (rc = region_read(sms, config)) != 0 ||
        (rc = get_integer(sms, config, "max_segments", 1,
                          MAX_SEGMENTS_LIMIT, MAX_SEGMENTS_DEFAULT,
                          &max_segments)) != 0 ||
        (rc = get_integer(sms, config, "timeout_ms", 1, TIMEOUT_MAX_MS,
                          TIMEOUT_DEFAULT_MS, &sms->timeout_ms)) != 0 ||
        (rc = get_integer(sms, config, "connect_timeout_ms", 1,
                          TIMEOUT_MAX_MS, CONNECT_TIMEOUT_DEFAULT_MS,
                          &sms->connect_timeout_ms)) != 0 ||
        (rc = status_read(sms, config)) != 0 ||
        (rc = inbound_read(sms, config)) != 0)
        return rc;
    sms->max_segments = (int) max_segments;
    return 0;
}


/* Overwrites a secret before freeing it. */
static void
secret_free(char *secret)
{
    if (secret == NULL)
        return;
    memset(secret, 0, strlen(secret));
    g_free(secret);
}


void
sms_config_free(struct sms *sms)
{
    struct sms_inbound *in = &sms->inbound;

    for (size_t i = 0; i < sms->provider_count; i++) {
        struct sms_provider *p = &sms->providers[i];

        g_free(p->base_url);
        g_free(p->account_sid);
        secret_free(p->auth_token);
        g_free(p->from);
        g_free(p->messaging_service_sid);
        g_free(p->messages_url);
    }
    g_free(sms->providers);
    g_free(sms->status_url);
    g_free(sms->status_path);
    g_free(in->path);
    g_free(in->url);
    for (size_t i = 0; i < in->secret_count; i++)
        secret_free(in->secrets[i]);
    g_free(in->secrets);
    g_free(in->help_text);
    g_free(in->stop_text);
    g_free(in->start_text);
}
