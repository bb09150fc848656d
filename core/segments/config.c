/* Loading `segments` from plugins.conf. */
#include "segments/segments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "rules/rules.h"

static const char *const segment_keys[] = { "name", "when", NULL };


static void
segment_free(gpointer data)
{
    struct segment *s = data;

    g_free(s->name);
    g_free(s->source);
    expr_free(s->when);
    free(s);
}


void
segment_set_free(struct segment_set *set)
{
    if (set == NULL)
        return;
    g_ptr_array_free(set->segments, TRUE);
    free(set);
}


const struct segment *
segment_set_find(const struct segment_set *set, const char *name)
{
    for (guint i = 0; set != NULL && i < set->segments->len; i++) {
        const struct segment *s = g_ptr_array_index(set->segments, i);

        if (strcmp(s->name, name) == 0)
            return s;
    }
    return NULL;
}


/* Names go into URLs and store keys: lowercase letters, digits, '-' and
 * '_', at most 64 characters. */
static int
is_segment_name(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_islower(name[i]) && !g_ascii_isdigit(name[i]) &&
            name[i] != '-' && name[i] != '_')
            return 0;
    return 1;
}


static int
load_segment(struct config *cfg, size_t index, json_t *block,
             struct segment_set *set)
{
    char prefix[32];
    const char *name = NULL;
    struct segment *s;
    char *key;
    int rc;

    snprintf(prefix, sizeof(prefix), "segments[%zu]", index);
    if (!json_is_object(block)) {
        config_fail(cfg, prefix, "must be a group: { name = ...; when = "
                    "...; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, block, prefix, segment_keys) ||
        config_get_string(cfg, block, prefix, "name", 1, &name))
        return CRIER_ECONFIG;
    key = g_strdup_printf("%s.name", prefix);
    if (!is_segment_name(name))
        config_fail(cfg, key, "\"%s\" is not a valid segment name: use up "
                    "to 64 lowercase letters, digits, '-' and '_'", name);
    else if (segment_set_find(set, name) != NULL)
        config_fail(cfg, key, "segment name \"%s\" is used twice", name);
    g_free(key);
    if (cfg->error[0] != '\0')
        return CRIER_ECONFIG;
    key = g_strdup_printf("%s.when", prefix);
    if (json_object_get(block, "when") == NULL) {
        config_fail(cfg, key, "is missing: a segment needs a condition");
        g_free(key);
        return CRIER_ECONFIG;
    }
    s = calloc(1, sizeof(*s));
    s->name = g_strdup(name);
    g_ptr_array_add(set->segments, s);
    rc = rules_load_expr(cfg, key, json_object_get(block, "when"), &s->when);
    g_free(key);
    if (rc == 0) {
        s->source = g_strdup(json_string_value(json_object_get(block,
                                                               "when")));
        s->reads_clock = expr_reads_clock(s->when);
        s->counts_events = expr_window_max_ms(s->when) > 0;
        set->reads_clock |= s->reads_clock;
    }
    return rc;
}


/* Reads `segments_refresh`, the interval of the clock pass, as a
 * duration such as "1h". */
static int
load_refresh(struct config *cfg, struct segment_set *set)
{
    const char *text = NULL;

    set->refresh_ms = SEGMENTS_REFRESH_DEFAULT_MS;
    if (config_get_string(cfg, cfg->root, "", "segments_refresh", 0,
                          &text) != 0)
        return CRIER_ECONFIG;
    if (text == NULL)
        return 0;
    if (clock_parse_duration(text, &set->refresh_ms) != 0 ||
        set->refresh_ms < SEGMENTS_REFRESH_MIN_MS ||
        set->refresh_ms > SEGMENTS_REFRESH_MAX_MS) {
        config_fail(cfg, "segments_refresh", "\"%s\" is not a duration "
                    "from 1s to 30d, such as \"1h\" or \"15m\"", text);
        return CRIER_ECONFIG;
    }
    return 0;
}


int
segment_set_load(struct config *cfg, struct segment_set **out)
{
    struct segment_set *set = calloc(1, sizeof(*set));
    json_t *list = json_object_get(cfg->root, "segments");
    size_t i;
    json_t *block;

    set->segments = g_ptr_array_new_with_free_func(segment_free);
    *out = set;
    if (load_refresh(cfg, set) != 0)
        return CRIER_ECONFIG;
    if (list == NULL)
        return 0;
    if (!json_is_array(list)) {
        config_fail(cfg, "segments", "must be a list: ( { ... }, { ... } )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(list, i, block)
        if (load_segment(cfg, i, block, set) != 0)
            return CRIER_ECONFIG;
    return 0;
}
