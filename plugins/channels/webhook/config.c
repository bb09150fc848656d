#include <string.h>

#include "webhook.h"

#define MAX_PER_SECOND_DEFAULT 5
#define MAX_PER_SECOND_MAX 1000
#define MAX_IN_FLIGHT_DEFAULT 2
#define MAX_IN_FLIGHT_MAX 64
#define MAX_WAITING_DEFAULT 100
#define MAX_WAITING_MAX 10000
#define TIMEOUT_DEFAULT_MS 10000
#define TIMEOUT_MAX_MS 600000
#define ID_HEADER_DEFAULT "X-Request-Id"

static const char *const known_keys[] = {
    "plugin", "url", "secret", "max_per_second", "max_in_flight",
    "max_waiting", "timeout_ms", "id_header",
};


static int
config_keys_check(struct webhook *webhook, const json_t *config)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) config, key, value) {
        size_t i = 0;

        while (i < G_N_ELEMENTS(known_keys) && strcmp(key, known_keys[i]))
            i++;
        if (i == G_N_ELEMENTS(known_keys)) {
            webhook->host->config_error(webhook->ctx, key, "unknown "
                                        "setting; valid settings are url, "
                                        "secret, max_per_second, "
                                        "max_in_flight, max_waiting, "
                                        "timeout_ms and id_header");
            return CRIER_ECONFIG;
        }
    }
    return 0;
}


/* Reads an optional non-empty string. *out is NULL when `key` is absent. */
static int
config_string(struct webhook *webhook, const json_t *config, const char *key,
              const char **out)
{
    const json_t *value = json_object_get(config, key);

    *out = NULL;
    if (value == NULL)
        return 0;
    if (!json_is_string(value) || json_string_length(value) == 0) {
        webhook->host->config_error(webhook->ctx, key, "must be a "
                                    "non-empty string");
        return CRIER_ECONFIG;
    }
    *out = json_string_value(value);
    return 0;
}


static int
config_number(struct webhook *webhook, const json_t *config, const char *key,
              long min, long max, long fallback, long *out)
{
    const json_t *value = json_object_get(config, key);

    *out = fallback;
    if (value == NULL)
        return 0;
    if (!json_is_integer(value) || json_integer_value(value) < min ||
        json_integer_value(value) > max) {
        webhook->host->config_error(webhook->ctx, key, "must be a whole "
                                    "number from %ld to %ld", min, max);
        return CRIER_ECONFIG;
    }
    *out = (long) json_integer_value(value);
    return 0;
}


/*
 * Returns NULL when `text` is an http:// or https:// URL without
 * credentials, or else the reason it is not. Credentials are rejected so
 * that the URL can be logged and stored with a job.
 */
const char *
webhook_url_problem(const char *text)
{
    CURLU *url = curl_url();
    char *scheme = NULL, *user = NULL, *password = NULL;
    const char *problem = NULL;

    if (url == NULL)
        return "could not be parsed: out of memory";
    if (curl_url_set(url, CURLUPART_URL, text, 0) != CURLUE_OK ||
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        problem = "is not a URL; write https://host/path";
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        problem = "must start with http:// or https://";
    else if (curl_url_get(url, CURLUPART_USER, &user, 0) == CURLUE_OK ||
             curl_url_get(url, CURLUPART_PASSWORD, &password, 0) ==
             CURLUE_OK)
        problem = "must not contain credentials; the receiver checks the "
                  "signature instead";
    curl_free(scheme);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(url);
    return problem;
}


static int
config_url(struct webhook *webhook, const json_t *config)
{
    const char *url, *problem;
    int rc = config_string(webhook, config, "url", &url);

    if (rc != 0 || url == NULL)
        return rc;
    problem = webhook_url_problem(url);
    if (problem != NULL) {
        webhook->host->config_error(webhook->ctx, "url", "\"%s\" %s", url,
                                    problem);
        return CRIER_ECONFIG;
    }
    webhook->url = g_strdup(url);
    return 0;
}


static int
config_secret(struct webhook *webhook, const json_t *config)
{
    const char *secret;
    int rc = config_string(webhook, config, "secret", &secret);

    if (rc != 0)
        return rc;
    if (secret == NULL) {
        webhook->host->config_error(webhook->ctx, "secret", "is missing; "
                                    "set the secret shared with the "
                                    "receiver, for instance "
                                    "secret = \"${WEBHOOK_SECRET}\"");
        return CRIER_ECONFIG;
    }
    webhook->secret = g_strdup(secret);
    return 0;
}


/* Reads the pacing limits, the queue bound and the request timeout. */
static int
config_limits(struct webhook *webhook, const json_t *config)
{
    long per_second, in_flight, waiting;
    int rc;

    if ((rc = config_number(webhook, config, "max_per_second", 1,
                            MAX_PER_SECOND_MAX, MAX_PER_SECOND_DEFAULT,
                            &per_second)) != 0 ||
        (rc = config_number(webhook, config, "max_in_flight", 1,
                            MAX_IN_FLIGHT_MAX, MAX_IN_FLIGHT_DEFAULT,
                            &in_flight)) != 0 ||
        (rc = config_number(webhook, config, "max_waiting", 0,
                            MAX_WAITING_MAX, MAX_WAITING_DEFAULT,
                            &waiting)) != 0 ||
        (rc = config_number(webhook, config, "timeout_ms", 1,
                            TIMEOUT_MAX_MS, TIMEOUT_DEFAULT_MS,
                            &webhook->timeout_ms)) != 0)
        return rc;
    webhook->max_waiting = (unsigned) waiting;
    return pace_init(&webhook->pace, (unsigned) per_second,
                     (unsigned) in_flight);
}


int
webhook_config_read(struct webhook *webhook, const json_t *config)
{
    const char *id_header;
    int rc;

    if ((rc = config_keys_check(webhook, config)) != 0 ||
        (rc = config_url(webhook, config)) != 0 ||
        (rc = config_secret(webhook, config)) != 0 ||
        (rc = config_string(webhook, config, "id_header", &id_header)) != 0)
        return rc;
    if (id_header != NULL && strpbrk(id_header, ": \t\r\n") != NULL) {
        webhook->host->config_error(webhook->ctx, "id_header", "\"%s\" is "
                                    "not a header name", id_header);
        return CRIER_ECONFIG;
    }
    webhook->id_header = g_strdup(id_header ? id_header
                                            : ID_HEADER_DEFAULT);
    return config_limits(webhook, config);
}
