#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <uv.h>

#include "admin/admin.h"
#include "base/clock.h"
#include "base/log.h"
#include "profile/attributes.h"
#include "server/server.h"
#include "time/civil.h"

static const char *const top_level_keys[] = {
    "listen", "public_url", "plugin_dir", "store", "triggers", "channels",
    "programs", "rules", "goals", "journeys", "digests", "templates", "clock",
    "clock_start",
    "log_level", "log_file", "max_body_bytes", "max_header_bytes", "trusted_proxies",
    "header_timeout_ms", "body_timeout_ms", "max_connections_per_ip",
    "node", "delivery", "admin", "attributes", "retention", "segments",
    "segments_refresh", "time_zone", "default_language", "topics", "pages", NULL
};


static int
load_clock(struct config *cfg, struct settings *s)
{
    const char *mode = "host", *start = NULL;

    if (config_get_string(cfg, cfg->root, "", "clock", 0, &mode) != 0 ||
        config_get_string(cfg, cfg->root, "", "clock_start", 0, &start) != 0)
        return CRIER_ECONFIG;
    if (strcmp(mode, "test") == 0)
        s->test_clock = 1;
    else if (strcmp(mode, "host") != 0) {
        config_fail(cfg, "clock", "must be \"host\" or \"test\", not \"%s\"",
                    mode);
        return CRIER_ECONFIG;
    }
    s->clock_start_ms = CLOCK_TEST_DEFAULT_START_MS;
    if (start != NULL && clock_parse_rfc3339(start, &s->clock_start_ms)) {
        config_fail(cfg, "clock_start", "must be an RFC 3339 timestamp "
                    "such as 2026-01-01T00:00:00Z");
        return CRIER_ECONFIG;
    }
    return 0;
}


/*
 * Reads `time_zone`, the agency's default zone for profiles without a
 * valid zone of their own, and makes it the default of core/time.
 */
static int
load_time_zone(struct config *cfg, struct settings *s)
{
    s->time_zone = "UTC";
    if (config_get_string(cfg, cfg->root, "", "time_zone", 0,
                          &s->time_zone) != 0)
        return CRIER_ECONFIG;
    if (civil_zone_set_default(s->time_zone) != 0) {
        config_fail(cfg, "time_zone", "unknown time zone \"%s\"; use an "
                    "IANA zone name such as \"America/Chicago\" or "
                    "\"UTC\"", s->time_zone);
        return CRIER_ECONFIG;
    }
    return 0;
}


/*
 * Reads `default_language`, the tag whose template variants serve
 * residents whose own language has none (docs/templates.md).
 */
static int
load_default_language(struct config *cfg, struct settings *s)
{
    const char *tag = NULL;

    if (config_get_string(cfg, cfg->root, "", "default_language", 0,
                          &tag) != 0)
        return CRIER_ECONFIG;
    if (tag == NULL)
        return 0;
    s->default_language = attribute_language_normalize(tag);
    if (s->default_language == NULL) {
        config_fail(cfg, "default_language", "\"%s\" is not a BCP 47 "
                    "language tag; use one such as \"en\" or \"es-MX\"",
                    tag);
        return CRIER_ECONFIG;
    }
    return 0;
}


/* Accepts an IPv4 or IPv6 address, with an optional /prefix length. */
static int
is_address_or_block(const char *text)
{
    char addr[64];
    unsigned char bin[16];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t) (slash - text) : strlen(text);
    int family, max_prefix;
    char *end;
    long prefix;

    if (len == 0 || len >= sizeof(addr))
        return 0;
    memcpy(addr, text, len);
    addr[len] = '\0';
    family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    max_prefix = family == AF_INET6 ? 128 : 32;
    if (uv_inet_pton(family, addr, bin) != 0)
        return 0;
    if (slash == NULL)
        return 1;
    prefix = strtol(slash + 1, &end, 10);
    return slash[1] != '\0' && *end == '\0' && prefix >= 0 &&
           prefix <= max_prefix;
}


/* Accepts "a.b.c.d:port" and "[v6]:port" with a port from 1 to 65535;
 * the listener takes IP addresses only, not host names. */
static int
is_listen_address(const char *text)
{
    const char *colon = strrchr(text, ':');
    unsigned char bin[16];
    char host[64];
    size_t len;
    char *end;
    long port;
    int family = AF_INET;

    if (colon == NULL)
        return 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
        return 0;
    len = (size_t) (colon - text);
    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
        family = AF_INET6;
    }
    if (len == 0 || len >= sizeof(host))
        return 0;
    memcpy(host, text, len);
    host[len] = '\0';
    return uv_inet_pton(family, host, bin) == 0;
}


static int
load_proxies(struct config *cfg, struct settings *s)
{
    json_t *list = json_object_get(cfg->root, "trusted_proxies");
    size_t i, n = json_is_array(list) ? json_array_size(list) : 0;

    if (list != NULL && !json_is_array(list)) {
        config_fail(cfg, "trusted_proxies", "must be a list of addresses, "
                    "such as [\"127.0.0.1\", \"10.0.0.0/8\"]");
        return CRIER_ECONFIG;
    }
    s->trusted_proxies = calloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        json_t *v = json_array_get(list, i);

        if (!json_is_string(v) || !is_address_or_block(json_string_value(v))) {
            char key[48];

            snprintf(key, sizeof(key), "trusted_proxies[%zu]", i);
            config_fail(cfg, key, "must be an IP address or a CIDR block, "
                        "such as \"10.0.0.0/8\"");
            return CRIER_ECONFIG;
        }
        s->trusted_proxies[i] = json_string_value(v);
    }
    return 0;
}


static int
load_public_url(struct config *cfg, struct settings *s)
{
    static char fallback[300];
    static char trimmed[1024];
    const char *url = NULL;

    if (config_get_string(cfg, cfg->root, "", "public_url", 0, &url) != 0)
        return CRIER_ECONFIG;
    if (url == NULL) {
        snprintf(fallback, sizeof(fallback), "http://%s", s->listen);
        s->public_url = fallback;
        return 0;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        config_fail(cfg, "public_url", "must start with http:// or https://");
        return CRIER_ECONFIG;
    }
    snprintf(trimmed, sizeof(trimmed), "%s", url);
    while (strlen(trimmed) > 8 && trimmed[strlen(trimmed) - 1] == '/')
        trimmed[strlen(trimmed) - 1] = '\0';
    s->public_url = trimmed;
    return 0;
}


int
settings_load(struct config *cfg, struct settings *s)
{
    static char hostname[256];
    const char *dir = "build/plugins", *templates = "templates";
    const char *level = "info", *log_file = NULL;

    memset(s, 0, sizeof(*s));
    s->listen = "127.0.0.1:8080";
    s->max_body_bytes = 10 * 1024 * 1024;
    s->max_header_bytes = 16 * 1024;
    s->header_timeout_ms = 30 * 1000;
    s->body_timeout_ms = 60 * 1000;
    s->max_connections_per_ip = 0;
    if (gethostname(hostname, sizeof(hostname) - 1) != 0)
        strcpy(hostname, "crier");
    s->node = hostname;

    if (!json_is_object(cfg->root) ||
        config_check_keys(cfg, cfg->root, "", top_level_keys) != 0 ||
        config_get_string(cfg, cfg->root, "", "listen", 0, &s->listen) ||
        config_get_string(cfg, cfg->root, "", "plugin_dir", 0, &dir) ||
        config_get_string(cfg, cfg->root, "", "templates", 0, &templates) ||
        config_get_string(cfg, cfg->root, "", "log_level", 0, &level) ||
        config_get_string(cfg, cfg->root, "", "log_file", 0, &log_file) ||
        config_get_string(cfg, cfg->root, "", "node", 0, &s->node) ||
        config_get_int(cfg, cfg->root, "", "max_body_bytes", 1024,
                       1LL << 30, &s->max_body_bytes) ||
        config_get_int(cfg, cfg->root, "", "max_header_bytes", 1024,
                       1 << 20, &s->max_header_bytes) ||
        config_get_int(cfg, cfg->root, "", "header_timeout_ms", 100,
                       3600 * 1000, &s->header_timeout_ms) ||
        config_get_int(cfg, cfg->root, "", "body_timeout_ms", 100,
                       3600 * 1000, &s->body_timeout_ms) ||
        config_get_int(cfg, cfg->root, "", "max_connections_per_ip", 0,
                       1000000, &s->max_connections_per_ip) ||
        load_public_url(cfg, s) || load_clock(cfg, s) ||
        load_time_zone(cfg, s) || load_default_language(cfg, s) ||
        load_proxies(cfg, s) || admin_settings_load(cfg, s) ||
        attribute_types_load(cfg, &s->attribute_types))
        return CRIER_ECONFIG;

    if (!is_listen_address(s->listen)) {
        config_fail(cfg, "listen", "must be an IP address and a port from 1 "
                    "to 65535, such as \"127.0.0.1:8080\" or \"[::1]:8080\"");
        return CRIER_ECONFIG;
    }
    s->log_level = log_level_parse(level);
    if (s->log_level < 0) {
        config_fail(cfg, "log_level", "must be error, warn, notice, info "
                    "or debug");
        return CRIER_ECONFIG;
    }
    s->plugin_dir = config_resolve(cfg, dir);
    s->templates_dir = config_resolve(cfg, templates);
    s->log_file = log_file ? config_resolve(cfg, log_file) : NULL;
    return 0;
}


void
settings_clear(struct settings *s)
{
    free(s->plugin_dir);
    free(s->templates_dir);
    free(s->log_file);
    free(s->trusted_proxies);
    g_free(s->default_language);
    g_strfreev(s->test_recipients);
    g_strfreev(s->admin_tokens);
    g_strfreev(s->report_tokens);
    if (s->attribute_types != NULL)
        g_hash_table_unref(s->attribute_types);
    memset(s, 0, sizeof(*s));
}
