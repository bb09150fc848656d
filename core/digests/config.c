/*
 * Reads `digests` from plugins.conf, computes when a window ends, and
 * reads the `digest` setting of a send group. Every error names the
 * file, line and key, such as "digests[0].until".
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "digests/digests.h"
#include "rules/rules.h"
#include "template/template.h"

static const char *const digest_keys[] = {
    "name", "channel", "template", "class", "window", "until", "key", NULL
};


void
digest_free(gpointer data)
{
    struct digest *d = data;

    g_free(d->name);
    g_free(d->channel);
    g_free(d->template_name);
    expr_free(d->key);
    free(d);
}


const struct digest *
digest_find(const GPtrArray *digests, const char *name)
{
    for (guint i = 0; digests != NULL && i < digests->len; i++) {
        const struct digest *d = g_ptr_array_index(digests, i);

        if (strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}


/* Reads `until`: "17:00" for every day, or days before the time, such as
 * "Fri 17:00" or "Mon,Thu 08:00". The days use the syntax of a journey's
 * wait_window, so they are parsed as a window over the whole day. */
static int
until_parse(const char *text, struct digest *d)
{
    const char *space = strrchr(text, ' ');
    struct civil_window window;
    char *days;
    int rc;

    d->has_until = 1;
    if (space == NULL)
        return civil_time_parse(text, &d->until);
    if (civil_time_parse(space + 1, &d->until) != 0)
        return CRIER_EINVAL;
    days = g_strdup_printf("%.*s 00:00-23:59", (int) (space - text), text);
    rc = civil_window_parse(days, &window);
    g_free(days);
    d->until_days = window.days;
    return rc;
}


/* Reads the window: exactly one of `window` and `until`. */
static void
load_window(struct config *cfg, const char *prefix, json_t *block,
            struct digest *d)
{
    const char *window = NULL, *until = NULL;
    char *key;

    if (config_get_string(cfg, block, prefix, "window", 0, &window) ||
        config_get_string(cfg, block, prefix, "until", 0, &until))
        return;
    if ((window == NULL) == (until == NULL)) {
        config_fail(cfg, prefix, "needs one of window (such as \"5m\") or "
                    "until (such as \"17:00\" or \"Fri 17:00\")");
        return;
    }
    key = g_strdup_printf("%s.%s", prefix, window ? "window" : "until");
    if (window != NULL && (clock_parse_duration(window, &d->window_ms) != 0
                           || d->window_ms <= 0))
        config_fail(cfg, key, "must be a duration such as \"5m\"");
    else if (until != NULL && until_parse(until, d) != 0)
        config_fail(cfg, key, "must be a wall time HH:MM, with days before "
                    "it for a weekly digest, such as \"17:00\" or \"Fri "
                    "17:00\"");
    g_free(key);
}


static int
load_digest(struct config *cfg, size_t index, json_t *block,
            struct ruleset *rs, const struct template_set *templates,
            int (*channel_exists)(const char *))
{
    char prefix[32];
    struct digest *d = calloc(1, sizeof(*d));
    const char *name = NULL, *channel = NULL, *template_name = NULL;
    const char *message_class = NULL;
    char *key;

    snprintf(prefix, sizeof(prefix), "digests[%zu]", index);
    g_ptr_array_add(rs->digests, d);
    if (!json_is_object(block)) {
        config_fail(cfg, prefix, "must be a group: { name = ...; window = "
                    "...; channel = ...; template = ...; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, block, prefix, digest_keys) ||
        config_get_string(cfg, block, prefix, "name", 1, &name) ||
        config_get_string(cfg, block, prefix, "channel", 1, &channel) ||
        config_get_string(cfg, block, prefix, "template", 1,
                          &template_name) ||
        config_get_string(cfg, block, prefix, "class", 0, &message_class))
        return CRIER_ECONFIG;
    d->name = g_strdup(name);
    d->channel = g_strdup(channel);
    d->template_name = g_strdup(template_name);
    d->service = g_strcmp0(message_class, "service") == 0;
    key = g_strdup_printf("%s.name", prefix);
    if (digest_find(rs->digests, name) != d)
        config_fail(cfg, key, "digest name \"%s\" is used twice; names key "
                    "each resident's window", name);
    else if (strchr(name, '/') != NULL)
        config_fail(cfg, key, "must not contain '/', which separates the "
                    "parts of a message key");
    else if (!channel_exists(channel))
        config_fail(cfg, prefix, "channel \"%s\" is not configured under "
                    "channels", channel);
    else if (templates == NULL || !template_set_has(templates,
                                                    template_name))
        config_fail(cfg, prefix, "template \"%s\" not found in the "
                    "templates folder", template_name);
    else if (message_class != NULL && !d->service &&
             strcmp(message_class, "outreach") != 0)
        config_fail(cfg, prefix, "class must be \"service\" or "
                    "\"outreach\"");
    g_free(key);
    if (cfg->error[0] == '\0')
        load_window(cfg, prefix, block, d);
    key = g_strdup_printf("%s.key", prefix);
    if (cfg->error[0] == '\0' && json_object_get(block, "key") != NULL)
        rules_load_expr(cfg, key, json_object_get(block, "key"), &d->key);
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


int
digests_load(struct config *cfg, struct ruleset *rs,
             const struct template_set *templates,
             int (*channel_exists)(const char *name))
{
    json_t *digests = json_object_get(cfg->root, "digests");
    size_t i;
    json_t *block;

    if (digests != NULL && !json_is_array(digests)) {
        config_fail(cfg, "digests", "must be a list: ( { ... }, { ... } )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(digests, i, block)
        if (load_digest(cfg, i, block, rs, templates, channel_exists) != 0)
            return CRIER_ECONFIG;
    return 0;
}


int
digest_send_load(struct config *cfg, const char *key, json_t *send,
                 const struct ruleset *rs, const struct digest **out)
{
    const char *name = NULL;

    *out = NULL;
    if (json_object_get(send, "digest") == NULL)
        return 0;
    if (config_get_string(cfg, send, key, "digest", 1, &name))
        return CRIER_ECONFIG;
    if (json_object_get(send, "channel") != NULL ||
        json_object_get(send, "template") != NULL)
        config_fail(cfg, key, "sets digest and a channel or template: the "
                    "digest \"%s\" names its own", name);
    else if ((*out = digest_find(rs->digests, name)) == NULL)
        config_fail(cfg, key, "digest \"%s\" is not configured under "
                    "digests", name);
    return cfg->error[0] ? CRIER_ECONFIG : 1;
}


/* Returns nonzero when the instant `ms` falls on one of `days` in
 * `zone`. */
static int
on_days(unsigned days, GTimeZone *zone, int64_t ms)
{
    GDate date;

    g_date_clear(&date, 1);
    if (civil_from_instant(ms, zone, &date, NULL) != 0)
        return 0;
    return (days >> (g_date_get_weekday(&date) - 1)) & 1u;
}


int64_t
digest_window_end(const struct digest *digest, GTimeZone *zone,
                  int64_t first_ms)
{
    int64_t end = first_ms + 1;

    if (!digest->has_until)
        return first_ms + digest->window_ms;
    /* The next `until` strictly after the first item, then on to the
     * first of the allowed days, at most a week on. */
    if (civil_time_next(&digest->until, zone, first_ms + 1, &end) != 0)
        return first_ms + 86400000;
    for (int i = 0; i < 7 && digest->until_days != 0 &&
                    !on_days(digest->until_days, zone, end); i++)
        if (civil_time_next(&digest->until, zone, end + 1, &end) != 0)
            break;
    return end;
}
