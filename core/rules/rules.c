#include "rules/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "config/locate.h"
#include "digests/digests.h"
#include "ingest/internal.h"
#include "journeys/journeys.h"
#include "template/template.h"

const char *const default_stages[] = {
    "awareness", "consideration", "adoption", "use", "advocacy", NULL
};


static const char *const program_keys[] = {
    "stages", "back", "moves", NULL
};
static const char *const rule_keys[] = {
    "name", "program", "on", "when", "send", "stage", "class", "priority",
    "variants", "holdout", NULL
};
static const char *const send_keys[] = {
    "channel", "template", "delay", "at", "digest", NULL
};


static void
program_free(gpointer data)
{
    struct program *p = data;

    g_free(p->name);
    g_ptr_array_free(p->stages, TRUE);
    json_decref(p->moves);
    free(p);
}


static void
rule_free(gpointer data)
{
    struct rule *r = data;

    g_free(r->name);
    if (r->on != NULL)
        g_ptr_array_free(r->on, TRUE);
    expr_free(r->when);
    g_free(r->channel);
    g_free(r->template_name);
    g_free(r->stage);
    if (r->variants != NULL) {
        for (guint i = 0; i < r->variants->len; i++)
            g_free(g_array_index(r->variants, struct variant,
                                 i).template_name);
        g_array_free(r->variants, TRUE);
    }
    free(r);
}


void
ruleset_free(struct ruleset *rs)
{
    if (rs == NULL)
        return;
    g_ptr_array_free(rs->rules, TRUE);
    g_ptr_array_free(rs->goals, TRUE);
    g_ptr_array_free(rs->journeys, TRUE);
    g_ptr_array_free(rs->digests, TRUE);
    g_ptr_array_free(rs->programs, TRUE);
    free(rs);
}


const struct program *
ruleset_program(const struct ruleset *rs, const char *name)
{
    for (guint i = 0; i < rs->programs->len; i++) {
        const struct program *p = g_ptr_array_index(rs->programs, i);

        if (strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}


int
program_has_stage(const struct program *p, const char *stage)
{
    for (guint i = 0; i < p->stages->len; i++)
        if (strcmp(g_ptr_array_index(p->stages, i), stage) == 0)
            return 1;
    return 0;
}


/* Accepts an event type, "*", or a prefix pattern such as "case.*". */
static int
is_type_pattern(const char *p)
{
    size_t len = strlen(p);

    if (strcmp(p, "*") == 0)
        return 1;
    if (len >= 2 && strcmp(p + len - 2, ".*") == 0)
        len -= 2;
    if (len == 0 || len > 128)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(p[i]) && strchr("._:-", p[i]) == NULL)
            return 0;
    return 1;
}


static int
stage_index(const struct program *p, const char *stage)
{
    for (guint i = 0; i < p->stages->len; i++)
        if (strcmp(g_ptr_array_index(p->stages, i), stage) == 0)
            return (int) i;
    return -1;
}


int
program_move_allowed(const struct program *p, const char *from,
                     const char *to)
{
    json_t *targets;
    size_t i;
    json_t *v;

    if (from == NULL)
        return 1;
    if (p->moves == NULL)
        return stage_index(p, to) > stage_index(p, from) || p->back;
    targets = json_object_get(p->moves, from);
    json_array_foreach(targets, i, v)
        if (strcmp(json_string_value(v), to) == 0)
            return 1;
    return 0;
}


int
rule_reacts_to(const struct rule *rule, const char *type)
{
    return rules_type_matches(rule->on, type);
}


int
rules_type_matches(const GPtrArray *on, const char *type)
{
    for (guint i = 0; i < on->len; i++) {
        const char *pattern = g_ptr_array_index(on, i);
        size_t len = strlen(pattern);

        if (strcmp(pattern, type) == 0 || strcmp(pattern, "*") == 0)
            return 1;
        /* "case.*" matches "case.opened" and "case.closed". */
        if (len >= 2 && pattern[len - 1] == '*' && pattern[len - 2] == '.' &&
            strncmp(pattern, type, len - 1) == 0)
            return 1;
    }
    return 0;
}


/* Reads `back` and `moves`; every stage `moves` names must exist. */
static int
load_guards(struct config *cfg, const char *prefix, json_t *block,
            struct program *p)
{
    json_t *back = json_object_get(block, "back");
    json_t *moves = json_object_get(block, "moves");
    char *key = g_strdup_printf("%s.moves", prefix);
    const char *from;
    json_t *targets;

    if (back != NULL && !json_is_boolean(back)) {
        char *bkey = g_strdup_printf("%s.back", prefix);

        config_fail(cfg, bkey, "must be true or false");
        g_free(bkey);
    }
    p->back = json_is_true(back);
    if (moves != NULL && !json_is_object(moves))
        config_fail(cfg, key, "must be a group of stage = [ stages it may "
                    "move to ]");
    else if (moves != NULL && json_is_true(back))
        config_fail(cfg, key, "set back or moves, not both: moves lists "
                    "every allowed move");
    else if (moves != NULL && json_object_size(moves) == 0)
        config_fail(cfg, key, "is empty, so no stage could move: list the "
                    "allowed moves, or remove moves to allow every forward "
                    "move");
    json_object_foreach(moves, from, targets) {
        size_t i;
        json_t *v;

        if (!program_has_stage(p, from))
            config_fail(cfg, key, "\"%s\" is not a stage of program \"%s\"",
                        from, p->name);
        if (!json_is_array(targets))
            config_fail(cfg, key, "%s must list the stages it may move to",
                        from);
        json_array_foreach(targets, i, v) {
            if (!json_is_string(v) || !program_has_stage(p,
                                                        json_string_value(v)))
                config_fail(cfg, key, "%s lists \"%s\", which is not a "
                            "stage of program \"%s\"", from,
                            json_is_string(v) ? json_string_value(v) : "?",
                            p->name);
            else if (strcmp(json_string_value(v), from) == 0)
                config_fail(cfg, key, "%s lists itself: a move goes to "
                            "another stage", from);
        }
    }
    if (moves != NULL && cfg->error[0] == '\0')
        p->moves = json_incref(moves);
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


static int
load_program(struct config *cfg, const char *name, json_t *block,
             struct ruleset *rs)
{
    struct program *p = calloc(1, sizeof(*p));
    json_t *stages = json_object_get(block, "stages");
    char *key = g_strdup_printf("programs.%s.stages", name);
    char *key_block = g_strdup_printf("programs.%s", name);
    size_t i;
    json_t *v;

    p->name = g_strdup(name);
    p->stages = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(rs->programs, p);
    if (config_check_keys(cfg, block, key_block, program_keys) != 0) {
        g_free(key_block);
        g_free(key);
        return CRIER_ECONFIG;
    }
    if (stages == NULL) {
        for (i = 0; default_stages[i] != NULL; i++)
            g_ptr_array_add(p->stages, g_strdup(default_stages[i]));
    } else if (!json_is_array(stages) || json_array_size(stages) == 0) {
        config_fail(cfg, key, "must be a non-empty list of stage names");
    } else {
        json_array_foreach(stages, i, v) {
            if (!json_is_string(v) || json_string_length(v) == 0) {
                config_fail(cfg, key, "every stage must be a non-empty "
                            "string");
                break;
            }
            if (program_has_stage(p, json_string_value(v))) {
                config_fail(cfg, key, "stage \"%s\" is listed twice",
                            json_string_value(v));
                break;
            }
            g_ptr_array_add(p->stages, g_strdup(json_string_value(v)));
        }
    }
    g_free(key);
    if (cfg->error[0] == '\0')
        load_guards(cfg, key_block, block, p);
    g_free(key_block);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


static int
load_programs(struct config *cfg, struct ruleset *rs)
{
    json_t *programs = json_object_get(cfg->root, "programs");
    const char *name;
    json_t *block;

    if (programs == NULL)
        return 0;
    if (!json_is_object(programs)) {
        config_fail(cfg, "programs", "must be a group of named programs");
        return CRIER_ECONFIG;
    }
    json_object_foreach(programs, name, block) {
        if (!json_is_object(block)) {
            char *key = g_strdup_printf("programs.%s", name);

            config_fail(cfg, key, "must be a group: { stages = [...]; }");
            g_free(key);
            return CRIER_ECONFIG;
        }
        if (load_program(cfg, name, block, rs) != 0)
            return CRIER_ECONFIG;
    }
    return 0;
}


/* Returns how many characters of `src` come before 1-based (line, col),
 * counting UTF-8 characters as the expression parser does. */
static size_t
char_index(const char *src, int line, int col)
{
    size_t index = 0;
    int l = 1, c = 1;

    for (const char *p = src; *p != '\0'; p++) {
        if (((unsigned char) *p & 0xc0) == 0x80)
            continue;
        if (l == line && c == col)
            break;
        index++;
        if (*p == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    return index;
}


int
rules_load_expr(struct config *cfg, const char *key, json_t *v,
                struct expr **out)
{
    struct expr_error err;
    const char *file;
    int line, col;

    if (!json_is_string(v)) {
        config_fail(cfg, key, "must be an expression in double quotes");
        return CRIER_ECONFIG;
    }
    *out = expr_parse(json_string_value(v), &err);
    if (*out != NULL)
        return 0;
    file = config_file(cfg, key);
    line = config_line(cfg, key);
    col = 0;
    /* Without the file text, the line of `when` is the best there is. */
    if (config_locate_in_value(file, line, "when",
                               char_index(json_string_value(v), err.line,
                                          err.col), &line, &col) != 0)
        col = 0;
    if (cfg->error[0] != '\0')
        return CRIER_ECONFIG;
    if (col > 0)
        snprintf(cfg->error, sizeof(cfg->error), "%s:%d:%d: %s: %s", file,
                 line, col, key, err.message);
    else
        snprintf(cfg->error, sizeof(cfg->error), "%s:%d: %s: %s", file,
                 line, key, err.message);
    return CRIER_ECONFIG;
}


static int
load_on(struct config *cfg, const char *prefix, json_t *on, struct rule *r)
{
    return rules_load_on(cfg, prefix, on, &r->on);
}


/*
 * Returns 1 unless `p` is in a namespace crier reserves for the events it
 * records and names none of them, as "segment.entred" does.
 * NOTE: any "date." name passes, because schedule triggers, which name
 * date events, are read after the rules (docs/KNOWN_LIMITS.md, "Rules
 * and expressions").
 */
static int
is_recorded_type(const char *p)
{
    static const char *const recorded[] = {
        "segment.*", INTERNAL_SEGMENT_ENTERED, INTERNAL_SEGMENT_LEFT,
        INTERNAL_PROFILE_UPDATED, INTERNAL_PROFILE_MERGED, NULL
    };

    if (!internal_event_type(p) ||
        strncmp(p, INTERNAL_DATE_PREFIX, strlen(INTERNAL_DATE_PREFIX)) == 0)
        return 1;
    for (size_t i = 0; recorded[i] != NULL; i++)
        if (strcmp(p, recorded[i]) == 0)
            return 1;
    return 0;
}


/* Fails `key` when a type in `types` is reserved but never recorded. */
static void
check_recorded_types(struct config *cfg, const char *key,
                     const GPtrArray *types)
{
    for (guint i = 0; i < types->len; i++) {
        const char *type = g_ptr_array_index(types, i);

        if (is_recorded_type(type))
            continue;
        config_fail(cfg, key, "names \"%s\", which crier never records: "
                    "use segment.entered, segment.left, profile.updated "
                    "or profile.merged", type);
        return;
    }
}


int
rules_load_on(struct config *cfg, const char *prefix, json_t *on,
              GPtrArray **out)
{
    char *key = g_strdup_printf("%s.on", prefix);
    GPtrArray *types = g_ptr_array_new_with_free_func(g_free);
    size_t i;
    json_t *v;

    *out = types;
    if (json_is_string(on) && is_type_pattern(json_string_value(on)))
        g_ptr_array_add(types, g_strdup(json_string_value(on)));
    else if (json_is_array(on) && json_array_size(on) > 0)
        json_array_foreach(on, i, v) {
            if (!json_is_string(v) || !is_type_pattern(json_string_value(v)))
                break;
            g_ptr_array_add(types, g_strdup(json_string_value(v)));
        }
    if (types->len == 0 || (json_is_array(on) &&
                            types->len != json_array_size(on)))
        config_fail(cfg, key, "must name an event type, such as "
                    "\"page_view\" or \"case.*\", or a list of them; types "
                    "are letters, digits, '.', '_', ':' and '-'");
    else
        check_recorded_types(cfg, key, types);
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


/* Reads a whole number of days for a delay with `at`: "1 day", "2 days"
 * or "1d", 0 to 3660. */
static int
days_parse(const char *text, int64_t *days)
{
    char *end;
    long n = strtol(text, &end, 10);

    if (end == text || !g_ascii_isdigit(text[0]) || n > 3660)
        return CRIER_EINVAL;
    if (strcmp(end, "d") != 0 && strcmp(end, " day") != 0 &&
        strcmp(end, " days") != 0)
        return CRIER_EINVAL;
    *days = n;
    return 0;
}


/* Reads `send = { digest = "name"; }`: the rule adds its events to a
 * digest, which names the channel and template. */
static void
load_send_digest(struct config *cfg, const char *key, json_t *send,
                 const struct ruleset *rs, struct rule *r)
{
    if (json_object_get(send, "delay") != NULL ||
        json_object_get(send, "at") != NULL)
        config_fail(cfg, key, "sets digest and a delay or at: the digest's "
                    "window decides when it is sent");
    else
        digest_send_load(cfg, key, send, rs, &r->digest);
}


/* Reads `send`. Its template may be left out when the rule's variants
 * name the templates (`template_required` 0). */
static int
load_send(struct config *cfg, const char *prefix, json_t *send,
          const struct template_set *templates,
          int (*channel_exists)(const char *), int template_required,
          const struct ruleset *rs, struct rule *r)
{
    char *key = g_strdup_printf("%s.send", prefix);
    const char *channel = NULL, *template_name = NULL, *delay = NULL;
    const char *at = NULL;

    if (!json_is_object(send))
        config_fail(cfg, key, "must be a group: { channel = \"email\"; "
                    "template = \"...\"; }");
    else if (config_check_keys(cfg, send, key, send_keys) != 0)
        ;
    else if (json_object_get(send, "digest") != NULL) {
        load_send_digest(cfg, key, send, rs, r);
        g_free(key);
        return cfg->error[0] ? CRIER_ECONFIG : 0;
    }
    else if (config_get_string(cfg, send, key, "channel", 1, &channel) ||
             config_get_string(cfg, send, key, "template",
                               template_required, &template_name) ||
             config_get_string(cfg, send, key, "delay", 0, &delay) ||
             config_get_string(cfg, send, key, "at", 0, &at))
        ;
    else if (!channel_exists(channel))
        config_fail(cfg, key, "channel \"%s\" is not configured under "
                    "channels", channel);
    else if (template_name != NULL &&
             (templates == NULL ||
              !template_set_has(templates, template_name)))
        config_fail(cfg, key, "template \"%s\" not found in the templates "
                    "folder", template_name);
    else if (at == NULL && delay &&
             clock_parse_duration(delay, &r->delay_ms) != 0)
        config_fail(cfg, key, "delay must be a duration such as \"2h\"");
    else if (at != NULL && civil_time_parse(at, &r->at) != 0)
        config_fail(cfg, key, "at must be a wall time HH:MM such as "
                    "\"12:00\"");
    else if (at != NULL && delay && days_parse(delay, &r->delay_days) != 0)
        config_fail(cfg, key, "delay with at must be whole days, such as "
                    "\"1 day\" or \"2 days\"");
    else {
        r->has_at = at != NULL;
        r->channel = g_strdup(channel);
        r->template_name = g_strdup(template_name);
    }
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


static int
load_rule(struct config *cfg, size_t index, json_t *block,
          const struct template_set *templates,
          int (*channel_exists)(const char *), struct ruleset *rs)
{
    char prefix[32];
    struct rule *r = calloc(1, sizeof(*r));
    const char *name = NULL, *program = NULL, *stage = NULL;
    const char *message_class = NULL;
    long long priority = 0;
    char *key;

    snprintf(prefix, sizeof(prefix), "rules[%zu]", index);
    r->on = NULL;
    g_ptr_array_add(rs->rules, r);
    if (!json_is_object(block)) {
        config_fail(cfg, prefix, "must be a group: { name = ...; on = ...; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, block, prefix, rule_keys) ||
        load_on(cfg, prefix, json_object_get(block, "on"), r) ||
        config_get_string(cfg, block, prefix, "name", 1, &name) ||
        config_get_string(cfg, block, prefix, "program", 0, &program) ||
        config_get_string(cfg, block, prefix, "stage", 0, &stage) ||
        config_get_string(cfg, block, prefix, "class", 0, &message_class) ||
        config_get_int(cfg, block, prefix, "priority", -1000, 1000,
                       &priority))
        return CRIER_ECONFIG;
    r->name = g_strdup(name);
    r->priority = (int) priority;
    if (message_class != NULL && strcmp(message_class, "service") == 0)
        r->service = 1;
    else if (message_class != NULL && strcmp(message_class, "outreach") != 0) {
        key = g_strdup_printf("%s.class", prefix);
        config_fail(cfg, key, "must be \"service\" or \"outreach\"");
        g_free(key);
        return CRIER_ECONFIG;
    }
    key = g_strdup_printf("%s.program", prefix);
    if (program && (r->program = ruleset_program(rs, program)) == NULL)
        config_fail(cfg, key, "program \"%s\" is not configured under "
                    "programs", program);
    g_free(key);
    key = g_strdup_printf("%s.stage", prefix);
    if (stage && r->program == NULL)
        config_fail(cfg, key, "a rule that moves a stage needs a program");
    else if (stage && !program_has_stage(r->program, stage))
        config_fail(cfg, key, "\"%s\" is not a stage of program \"%s\"",
                    stage, r->program->name);
    r->stage = g_strdup(stage);
    g_free(key);
    if (cfg->error[0])
        return CRIER_ECONFIG;

    key = g_strdup_printf("%s.when", prefix);
    if (json_object_get(block, "when") != NULL &&
        rules_load_expr(cfg, key, json_object_get(block, "when"),
                        &r->when) != 0) {
        g_free(key);
        return CRIER_ECONFIG;
    }
    g_free(key);
    if (json_object_get(block, "send") != NULL &&
        load_send(cfg, prefix, json_object_get(block, "send"), templates,
                  channel_exists, json_object_get(block, "variants") == NULL,
                  rs, r) != 0)
        return CRIER_ECONFIG;
    if (r->digest != NULL && json_object_get(block, "variants") != NULL) {
        key = g_strdup_printf("%s.variants", prefix);
        config_fail(cfg, key, "a rule that sends to a digest has no "
                    "variants; the digest names the template");
        g_free(key);
        return CRIER_ECONFIG;
    }
    return rule_experiment_load(cfg, prefix, block, templates, r);
}


static int
check_unique_names(struct config *cfg, struct ruleset *rs)
{
    for (guint i = 0; i < rs->rules->len; i++)
        for (guint j = 0; j < i; j++) {
            struct rule *a = g_ptr_array_index(rs->rules, i);
            struct rule *b = g_ptr_array_index(rs->rules, j);
            char key[48];

            if (strcmp(a->name, b->name) != 0)
                continue;
            snprintf(key, sizeof(key), "rules[%u].name", i);
            config_fail(cfg, key, "rule name \"%s\" is used twice; names "
                        "key the messages a rule planned", a->name);
            return CRIER_ECONFIG;
        }
    return 0;
}


int
ruleset_load(struct config *cfg, const struct template_set *templates,
             int (*channel_exists)(const char *name), struct ruleset **out)
{
    struct ruleset *rs = calloc(1, sizeof(*rs));
    json_t *rules = json_object_get(cfg->root, "rules");
    size_t i;
    json_t *block;

    rs->programs = g_ptr_array_new_with_free_func(program_free);
    rs->rules = g_ptr_array_new_with_free_func(rule_free);
    rs->goals = g_ptr_array_new_with_free_func(goal_free);
    rs->journeys = g_ptr_array_new_with_free_func(journey_free);
    rs->digests = g_ptr_array_new_with_free_func(digest_free);
    *out = rs;
    if (load_programs(cfg, rs) != 0 ||
        digests_load(cfg, rs, templates, channel_exists) != 0)
        return CRIER_ECONFIG;
    if (rules != NULL && !json_is_array(rules)) {
        config_fail(cfg, "rules", "must be a list: ( { ... }, { ... } )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(rules, i, block)
        if (load_rule(cfg, i, block, templates, channel_exists, rs) != 0)
            return CRIER_ECONFIG;
    if (check_unique_names(cfg, rs) != 0 || goals_load(cfg, rs) != 0)
        return CRIER_ECONFIG;
    return journeys_load(cfg, rs, templates, channel_exists);
}
