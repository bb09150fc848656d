#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "delivery/outbox.h"
#include "server/server.h"


static const char *const delivery_keys[] = {
    "max_attempts", "max_in_flight", "lease", "backoff", "max_backoff",
    "poll", "message_id_domain", "link_secret", NULL
};


static int
get_duration(struct config *cfg, const json_t *group, const char *name,
             int64_t *out)
{
    const char *text = NULL;
    char key[64];

    snprintf(key, sizeof(key), "delivery.%s", name);
    if (config_get_string(cfg, group, "delivery", name, 0, &text) != 0)
        return CRIER_ECONFIG;
    if (text != NULL && (clock_parse_duration(text, out) != 0 || *out <= 0)) {
        config_fail(cfg, key, "must be a duration such as \"30s\", \"5m\" "
                    "or \"1h\"");
        return CRIER_ECONFIG;
    }
    return 0;
}


/* The host of public_url, without a port, for Message-IDs. */
static const char *
domain_of(const char *url)
{
    static char host[256];
    const char *p = strstr(url, "://");
    size_t n;

    p = p ? p + 3 : url;
    n = strcspn(p, ":/");
    if (n == 0 || n >= sizeof(host))
        return "crier.invalid";
    memcpy(host, p, n);
    host[n] = '\0';
    return host;
}


int
outbox_settings_load(struct config *cfg, struct outbox_settings *s)
{
    json_t *group = json_object_get(cfg->root, "delivery");
    long long attempts = 8, in_flight = 64;

    s->lease_ms = 5 * 60 * 1000;
    s->backoff_ms = 30 * 1000;
    s->max_backoff_ms = 60 * 60 * 1000;
    s->poll_ms = 1000;
    s->message_id_domain = domain_of(server.settings.public_url);
    if (group == NULL)
        goto done;
    if (!json_is_object(group)) {
        config_fail(cfg, "delivery", "must be a group: { max_attempts = 8; "
                    "}");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, group, "delivery", delivery_keys) ||
        config_get_int(cfg, group, "delivery", "max_attempts", 1, 100,
                       &attempts) ||
        config_get_int(cfg, group, "delivery", "max_in_flight", 1, 10000,
                       &in_flight) ||
        get_duration(cfg, group, "lease", &s->lease_ms) ||
        get_duration(cfg, group, "backoff", &s->backoff_ms) ||
        get_duration(cfg, group, "max_backoff", &s->max_backoff_ms) ||
        get_duration(cfg, group, "poll", &s->poll_ms) ||
        config_get_string(cfg, group, "delivery", "message_id_domain", 0,
                          &s->message_id_domain) ||
        config_get_string(cfg, group, "delivery", "link_secret", 0,
                          &s->link_secret))
        return CRIER_ECONFIG;
    if (s->link_secret != NULL && s->link_secret[0] == '\0') {
        config_fail(cfg, "delivery.link_secret", "must not be empty; set "
                    "the beacon's link_secret, or remove the key to send "
                    "links untracked");
        return CRIER_ECONFIG;
    }
done:
    s->max_attempts = (int) attempts;
    s->max_in_flight = (int) in_flight;
    return 0;
}


int64_t
outbox_backoff_ms(const struct outbox_settings *s, int attempt)
{
    int64_t wait = s->backoff_ms;

    for (int i = 1; i < attempt && wait < s->max_backoff_ms; i++)
        wait *= 2;
    return wait < s->max_backoff_ms ? wait : s->max_backoff_ms;
}


void
outbox_message_id(const char *key, const char *domain, char *buf,
                  size_t size)
{
    char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);

    snprintf(buf, size, "<%.32s@%s>", digest, domain);
    g_free(digest);
}
