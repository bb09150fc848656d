/*
 * Goals from plugins.conf: what counts as a conversion for a program's
 * messages (docs/reports.md).
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "rules/rules.h"


static const char *const goal_keys[] = {
    "name", "program", "on", "when", "window", NULL
};


void
goal_free(gpointer data)
{
    struct goal *g = data;

    g_free(g->name);
    if (g->on != NULL)
        g_ptr_array_free(g->on, TRUE);
    expr_free(g->when);
    free(g);
}


/*
 * Parses a window: a duration of clock_parse_duration ("30d", "36h"), or
 * a count and a unit in words ("30 days", "2 weeks", "12 hours").
 */
static int
window_parse(const char *text, int64_t *ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        { "hour", 3600000 }, { "hours", 3600000 },
        { "day", 86400000 }, { "days", 86400000 },
        { "week", 604800000 }, { "weeks", 604800000 },
    };
    char *end;
    long long count;

    if (clock_parse_duration(text, ms) == 0)
        return 0;
    count = strtoll(text, &end, 10);
    if (end == text || count < 1 || count > 3650 || *end != ' ')
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0) {
            *ms = count * units[i].ms;
            return 0;
        }
    return -1;
}


static int
goal_load(struct config *cfg, size_t index, json_t *block,
          struct ruleset *rs)
{
    char prefix[32];
    struct goal *g = calloc(1, sizeof(*g));
    const char *name = NULL, *program = NULL, *window = NULL;
    char *key;

    snprintf(prefix, sizeof(prefix), "goals[%zu]", index);
    g_ptr_array_add(rs->goals, g);
    if (!json_is_object(block)) {
        config_fail(cfg, prefix, "must be a group: { name = ...; "
                    "program = ...; on = ...; window = ...; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, block, prefix, goal_keys) ||
        rules_load_on(cfg, prefix, json_object_get(block, "on"), &g->on) ||
        config_get_string(cfg, block, prefix, "name", 1, &name) ||
        config_get_string(cfg, block, prefix, "program", 1, &program) ||
        config_get_string(cfg, block, prefix, "window", 1, &window))
        return CRIER_ECONFIG;
    g->name = g_strdup(name);
    g->program = ruleset_program(rs, program);
    if (g->program == NULL) {
        key = g_strdup_printf("%s.program", prefix);
        config_fail(cfg, key, "program \"%s\" is not configured under "
                    "programs", program);
        g_free(key);
        return CRIER_ECONFIG;
    }
    if (window_parse(window, &g->window_ms) != 0) {
        key = g_strdup_printf("%s.window", prefix);
        config_fail(cfg, key, "must be a duration such as \"30 days\" or "
                    "\"36h\"");
        g_free(key);
        return CRIER_ECONFIG;
    }
    key = g_strdup_printf("%s.when", prefix);
    if (json_object_get(block, "when") != NULL &&
        rules_load_expr(cfg, key, json_object_get(block, "when"),
                        &g->when) != 0) {
        g_free(key);
        return CRIER_ECONFIG;
    }
    g_free(key);
    return 0;
}


/* Goal names key the stored conversions, so each must be unique. */
static int
goals_check_names(struct config *cfg, const struct ruleset *rs)
{
    for (guint i = 0; i < rs->goals->len; i++)
        for (guint j = 0; j < i; j++) {
            const struct goal *a = g_ptr_array_index(rs->goals, i);
            const struct goal *b = g_ptr_array_index(rs->goals, j);
            char key[48];

            if (strcmp(a->name, b->name) != 0)
                continue;
            snprintf(key, sizeof(key), "goals[%u].name", i);
            config_fail(cfg, key, "goal name \"%s\" is used twice; names "
                        "key the stored conversions", a->name);
            return CRIER_ECONFIG;
        }
    return 0;
}


int
goals_load(struct config *cfg, struct ruleset *rs)
{
    json_t *goals = json_object_get(cfg->root, "goals");
    size_t i;
    json_t *block;

    if (goals == NULL)
        return 0;
    if (!json_is_array(goals)) {
        config_fail(cfg, "goals", "must be a list: ( { ... }, { ... } )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(goals, i, block)
        if (goal_load(cfg, i, block, rs) != 0)
            return CRIER_ECONFIG;
    return goals_check_names(cfg, rs);
}
