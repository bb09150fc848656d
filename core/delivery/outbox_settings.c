#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "delivery/outbox.h"
#include "server/server.h"


static const char *const delivery_keys[] = {
    "max_attempts", "max_in_flight", "lease", "backoff", "max_backoff",
    "poll", "message_id_domain", "link_secret", "caps", "quiet_hours",
    "bulletin_rates", NULL
};

static const char *const cap_keys[] = {
    "channel", "class", "max", "per", NULL
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


/* Returns nonzero when `name` is a channel of the config's `channels`
 * group. */
static int
channel_configured(const struct config *cfg, const char *name)
{
    return json_object_get(json_object_get(cfg->root, "channels"),
                           name) != NULL;
}


/* Reads `delivery.quiet_hours`: { <channel> = "21:00-08:00"; ... }. */
static int
load_quiet_hours(struct config *cfg, const json_t *group,
                 struct outbox_settings *s)
{
    json_t *quiet = json_object_get(group, "quiet_hours");
    const char *channel;
    json_t *v;
    char key[128];

    if (quiet == NULL)
        return 0;
    if (!json_is_object(quiet)) {
        config_fail(cfg, "delivery.quiet_hours", "must be a group of "
                    "channel to window: { sms = \"21:00-08:00\"; }");
        return CRIER_ECONFIG;
    }
    json_object_foreach(quiet, channel, v) {
        struct outbox_quiet *q = &s->quiet[s->quiet_count];

        snprintf(key, sizeof(key), "delivery.quiet_hours.%s", channel);
        if (s->quiet_count == OUTBOX_QUIET_MAX ||
            strlen(channel) >= sizeof(q->channel)) {
            config_fail(cfg, key, "too many channels or too long a name");
            return CRIER_ECONFIG;
        }
        if (!channel_configured(cfg, channel)) {
            config_fail(cfg, key, "channel \"%s\" is not configured under "
                        "channels", channel);
            return CRIER_ECONFIG;
        }
        if (quiet_window_parse(json_string_value(v), &q->window) != 0) {
            config_fail(cfg, key, "must be a window of local wall times "
                        "such as \"21:00-08:00\", with different ends");
            return CRIER_ECONFIG;
        }
        snprintf(q->channel, sizeof(q->channel), "%s", channel);
        s->quiet_count++;
    }
    return 0;
}


/* Records an error at `prefix`.`member`, such as delivery.caps[0].per. */
static void
member_fail(struct config *cfg, const char *prefix, const char *member,
            const char *fmt, ...) CRIER_PRINTF(4, 5);


static void
member_fail(struct config *cfg, const char *prefix, const char *member,
            const char *fmt, ...)
{
    char key[128];
    va_list ap;

    snprintf(key, sizeof(key), "%s.%s", prefix, member);
    va_start(ap, fmt);
    config_vfail(cfg, key, fmt, ap);
    va_end(ap);
}


/* Reads one entry of `delivery.caps`. */
static int
load_cap(struct config *cfg, const json_t *entry, const char *key,
         struct outbox_cap *cap)
{
    const char *channel = NULL, *message_class = NULL, *per = NULL;
    long long max = 0;

    if (!json_is_object(entry)) {
        config_fail(cfg, key, "must be a group: { channel = \"email\"; "
                    "max = 2; per = \"7d\"; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, entry, key, cap_keys) ||
        config_get_string(cfg, entry, key, "channel", 1, &channel) ||
        config_get_string(cfg, entry, key, "class", 0, &message_class) ||
        config_get_int(cfg, entry, key, "max", 1, 1000000, &max) ||
        config_get_string(cfg, entry, key, "per", 1, &per))
        return CRIER_ECONFIG;
    if (strlen(channel) >= sizeof(cap->channel)) {
        member_fail(cfg, key, "channel", "is too long");
        return CRIER_ECONFIG;
    }
    if (!channel_configured(cfg, channel)) {
        member_fail(cfg, key, "channel", "\"%s\" is not configured "
                        "under channels", channel);
        return CRIER_ECONFIG;
    }
    if (clock_parse_duration(per, &cap->per_ms) != 0 || cap->per_ms <= 0) {
        member_fail(cfg, key, "per", "must be a duration such as "
                        "\"7d\"");
        return CRIER_ECONFIG;
    }
    cap->lane = -1;
    if (g_strcmp0(message_class, "service") == 0)
        cap->lane = 0;
    else if (g_strcmp0(message_class, "outreach") == 0)
        cap->lane = 1;
    else if (message_class != NULL) {
        member_fail(cfg, key, "class", "must be \"service\" or "
                        "\"outreach\", or absent for both");
        return CRIER_ECONFIG;
    }
    if (json_object_get(entry, "max") == NULL) {
        config_fail(cfg, key, "max is missing");
        return CRIER_ECONFIG;
    }
    snprintf(cap->channel, sizeof(cap->channel), "%s", channel);
    cap->max = (int) max;
    return 0;
}


/* Reads `delivery.caps`, a list of caps. */
static int
load_caps(struct config *cfg, const json_t *group, struct outbox_settings *s)
{
    json_t *caps = json_object_get(group, "caps");
    size_t i;
    json_t *entry;
    char key[64];

    if (caps == NULL)
        return 0;
    if (!json_is_array(caps) || json_array_size(caps) > OUTBOX_CAPS_MAX) {
        config_fail(cfg, "delivery.caps", "must be a list of at most %d "
                    "caps: ( { channel = \"email\"; max = 2; per = \"7d\"; "
                    "} )", OUTBOX_CAPS_MAX);
        return CRIER_ECONFIG;
    }
    json_array_foreach(caps, i, entry) {
        snprintf(key, sizeof(key), "delivery.caps[%zu]", i);
        if (load_cap(cfg, entry, key, &s->caps[i]) != 0)
            return CRIER_ECONFIG;
        s->cap_count++;
    }
    return 0;
}


/*
 * Reads `delivery.bulletin_rates`, a group of channel instance names to
 * messages per hour: the pace that every bulletin on that channel shares.
 * A name must be a channel of the config's `channels` group.
 */
static int
load_bulletin_rates(struct config *cfg, const json_t *group,
                    struct outbox_settings *s)
{
    const char *prefix = "delivery.bulletin_rates";
    json_t *rates = json_object_get(group, "bulletin_rates");
    const char *name;
    json_t *value;
    char key[128];
    long long rate;

    if (rates == NULL)
        return 0;
    if (!json_is_object(rates) ||
        json_object_size(rates) > OUTBOX_CAPS_MAX) {
        config_fail(cfg, prefix, "must be a group of at most %d channels "
                    "and messages per hour: { email = 3600; }",
                    OUTBOX_CAPS_MAX);
        return CRIER_ECONFIG;
    }
    json_object_foreach(rates, name, value) {
        struct outbox_bulletin_rate *r =
            &s->bulletin_rates[s->bulletin_rate_count];

        snprintf(key, sizeof(key), "%s.%s", prefix, name);
        if (!channel_configured(cfg, name) ||
            strlen(name) >= sizeof(r->channel)) {
            config_fail(cfg, key, "channel \"%s\" is not configured "
                        "under channels", name);
            return CRIER_ECONFIG;
        }
        if (config_get_int(cfg, rates, prefix, name, 1, 100000000, &rate))
            return CRIER_ECONFIG;
        snprintf(r->channel, sizeof(r->channel), "%s", name);
        r->per_hour = rate;
        s->bulletin_rate_count++;
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


/* Returns nonzero for a domain name that a Message-ID may end with:
 * labels of letters, digits and '-', joined by single dots. */
static int
message_id_domain_valid(const char *domain)
{
    size_t len = strlen(domain);

    if (len == 0 || len > MESSAGE_ID_DOMAIN_MAX || domain[0] == '.' ||
        domain[len - 1] == '.' || strstr(domain, "..") != NULL)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(domain[i]) && domain[i] != '-' &&
            domain[i] != '.')
            return 0;
    return 1;
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
    s->link_secret = NULL;
    s->cap_count = 0;
    s->quiet_count = 0;
    s->bulletin_rate_count = 0;
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
                          &s->link_secret) ||
        load_quiet_hours(cfg, group, s) || load_caps(cfg, group, s) ||
        load_bulletin_rates(cfg, group, s))
        return CRIER_ECONFIG;
    if (json_object_get(group, "message_id_domain") != NULL &&
        !message_id_domain_valid(s->message_id_domain)) {
        config_fail(cfg, "delivery.message_id_domain", "\"%s\" is not a "
                    "domain name: use letters, digits, '-' and '.', at "
                    "most %d characters, such as \"mail.example.gov\"",
                    s->message_id_domain, MESSAGE_ID_DOMAIN_MAX);
        return CRIER_ECONFIG;
    }
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
outbox_backoff_ms(const struct outbox_settings *s, int attempt,
                  double jitter)
{
    int64_t wait = s->backoff_ms;

    for (int i = 1; i < attempt && wait < s->max_backoff_ms; i++)
        wait *= 2;
    if (wait > s->max_backoff_ms)
        wait = s->max_backoff_ms;
    if (jitter > 0 && jitter <= 1)
        wait -= (int64_t) ((double) (wait / 4) * jitter);
    return wait;
}


void
outbox_message_id(const char *key, int64_t job_id, const char *domain,
                  char *buf, size_t size)
{
    char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);

    if (job_id > 0)
        snprintf(buf, size, "<%012llx%.20s@%s>",
                 (unsigned long long) job_id & 0xffffffffffffULL, digest,
                 domain);
    else
        snprintf(buf, size, "<%.32s@%s>", digest, domain);
    g_free(digest);
}
