/*
 * Reads `journeys` from plugins.conf: each journey's entry, exit and
 * re-entry settings and its named steps. Every error names the file,
 * line and key, such as "journeys[0].steps[2].wait".
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "digests/digests.h"
#include "journeys/journeys.h"
#include "rules/rules.h"
#include "schedule/schedule.h"
#include "template/template.h"

static const char *const journey_keys[] = {
    "name", "program", "on", "stage_entered", "when", "reentry", "exit",
    "steps", NULL
};
static const char *const exit_keys[] = {
    "when", "left_segment", "goal", NULL
};
static const char *const step_keys[] = {
    "name", "send", "wait", "wait_until", "wait_window", "wait_event",
    "branch", "stage", "exit", "wait_date", NULL
};
static const char *const send_keys[] = {
    "channel", "template", "class", "digest", NULL
};
static const char *const wait_event_keys[] = {
    "on", "within", "timeout", NULL
};
static const char *const branch_keys[] = { "when", "then", "else", NULL };
static const char *const stage_keys[] = { "program", "stage", NULL };

/* The step kinds in the order of step_keys after "name". */
static const enum journey_step_kind step_kinds[] = {
    JOURNEY_SEND, JOURNEY_WAIT, JOURNEY_WAIT_UNTIL, JOURNEY_WAIT_WINDOW,
    JOURNEY_WAIT_EVENT, JOURNEY_BRANCH, JOURNEY_STAGE, JOURNEY_EXIT,
    JOURNEY_WAIT_DATE
};
static const char *const wait_date_keys[] = {
    "date", "offset", "at", NULL
};


static void
step_free(gpointer data)
{
    struct journey_step *s = data;

    g_free(s->name);
    g_free(s->channel);
    g_free(s->template_name);
    if (s->on != NULL)
        g_ptr_array_free(s->on, TRUE);
    g_free(s->timeout_step);
    expr_free(s->when);
    g_free(s->then_step);
    g_free(s->else_step);
    g_free(s->stage);
    if (s->date != NULL) {
        g_free(s->date->attribute);
        g_free(s->date);
    }
    free(s);
}


void
journey_free(gpointer data)
{
    struct journey *j = data;

    g_free(j->name);
    if (j->on != NULL)
        g_ptr_array_free(j->on, TRUE);
    g_free(j->entry_stage);
    expr_free(j->when);
    expr_free(j->exit_when);
    g_free(j->exit_segment);
    g_ptr_array_free(j->steps, TRUE);
    free(j);
}


const struct journey *
journey_find(const GPtrArray *journeys, const char *name)
{
    for (guint i = 0; journeys != NULL && i < journeys->len; i++) {
        const struct journey *j = g_ptr_array_index(journeys, i);

        if (strcmp(j->name, name) == 0)
            return j;
    }
    return NULL;
}


int
journey_step_index(const struct journey *journey, const char *name)
{
    for (guint i = 0; i < journey->steps->len; i++) {
        const struct journey_step *s = g_ptr_array_index(journey->steps, i);

        if (strcmp(s->name, name) == 0)
            return (int) i;
    }
    return -1;
}


/* Reads a send step: { channel; template; class }, or { digest }. */
static void
load_send(struct config *cfg, const char *key, json_t *v,
          const struct ruleset *rs, const struct template_set *templates,
          int (*channel_exists)(const char *), struct journey_step *s)
{
    const char *channel = NULL, *template_name = NULL, *message_class = NULL;

    if (!json_is_object(v)) {
        config_fail(cfg, key, "must be a group: { channel = \"email\"; "
                    "template = \"...\"; }");
        return;
    }
    if (config_check_keys(cfg, v, key, send_keys) == 0 &&
        json_object_get(v, "digest") != NULL) {
        if (json_object_get(v, "class") != NULL)
            config_fail(cfg, key, "sets digest and class: the digest names "
                        "its own class");
        else
            digest_send_load(cfg, key, v, rs, &s->digest);
        return;
    }
    if (cfg->error[0] != '\0' ||
        config_get_string(cfg, v, key, "channel", 1, &channel) ||
        config_get_string(cfg, v, key, "template", 1, &template_name) ||
        config_get_string(cfg, v, key, "class", 0, &message_class))
        return;
    if (!channel_exists(channel))
        config_fail(cfg, key, "channel \"%s\" is not configured under "
                    "channels", channel);
    else if (templates == NULL || !template_set_has(templates,
                                                    template_name))
        config_fail(cfg, key, "template \"%s\" not found in the templates "
                    "folder", template_name);
    else if (message_class != NULL &&
             strcmp(message_class, "service") != 0 &&
             strcmp(message_class, "outreach") != 0)
        config_fail(cfg, key, "class must be \"service\" or \"outreach\"");
    s->channel = g_strdup(channel);
    s->template_name = g_strdup(template_name);
    s->service = g_strcmp0(message_class, "service") == 0;
}


/* Reads a wait for an event: { on; within; timeout }. */
static void
load_wait_event(struct config *cfg, const char *key, json_t *v,
                struct journey_step *s)
{
    const char *within = NULL, *timeout = NULL;

    if (!json_is_object(v)) {
        config_fail(cfg, key, "must be a group: { on = \"type\"; within = "
                    "\"14d\"; timeout = \"step\"; }");
        return;
    }
    if (config_check_keys(cfg, v, key, wait_event_keys) ||
        rules_load_on(cfg, key, json_object_get(v, "on"), &s->on) ||
        config_get_string(cfg, v, key, "within", 1, &within) ||
        config_get_string(cfg, v, key, "timeout", 0, &timeout))
        return;
    if (clock_parse_duration(within, &s->wait_ms) != 0 || s->wait_ms <= 0)
        config_fail(cfg, key, "within must be a duration such as \"14d\"");
    s->timeout_step = g_strdup(timeout);
}


/* Reads a wait for a date: { date; offset; at }, with the rules of a
 * date schedule (docs/time.md) on a field of the resident's own
 * profile. */
static void
load_wait_date(struct config *cfg, const char *key, json_t *v,
               struct journey_step *s)
{
    struct crier_input_error err = { 0 };
    char *field_key;

    if (!json_is_object(v)) {
        config_fail(cfg, key, "must be a group: { date = "
                    "\"profile.birth_date\"; offset = \"6 months\"; at = "
                    "\"09:00\"; }");
        return;
    }
    if (config_check_keys(cfg, v, key, wait_date_keys))
        return;
    s->date = g_new0(struct schedule_def, 1);
    if (schedule_date_parse(v, s->date, &err) != 0) {
        field_key = g_strdup_printf("%s.%s", key, err.field);
        config_fail(cfg, field_key, "%s", err.message);
        g_free(field_key);
    } else if (s->date->field != SCHEDULE_PROFILE_ATTRIBUTE &&
               s->date->field != SCHEDULE_PROFILE_CREATED) {
        field_key = g_strdup_printf("%s.date", key);
        config_fail(cfg, field_key, "must be profile.<attribute> or "
                    "profile.created: a journey waits for a date of the "
                    "resident; a date schedule covers dependents and cases");
        g_free(field_key);
    }
}


/* Reads a branch: { when; then; else }. */
static void
load_branch(struct config *cfg, const char *key, json_t *v,
            struct journey_step *s)
{
    const char *then_step = NULL, *else_step = NULL;
    char *when_key = g_strdup_printf("%s.when", key);

    if (!json_is_object(v))
        config_fail(cfg, key, "must be a group: { when = \"...\"; then = "
                    "\"step\"; else = \"step\"; }");
    else if (config_check_keys(cfg, v, key, branch_keys) == 0 &&
             config_get_string(cfg, v, key, "then", 0, &then_step) == 0 &&
             config_get_string(cfg, v, key, "else", 0, &else_step) == 0 &&
             json_object_get(v, "when") == NULL)
        config_fail(cfg, when_key, "is missing: a branch tests a condition");
    else if (cfg->error[0] == '\0')
        rules_load_expr(cfg, when_key, json_object_get(v, "when"), &s->when);
    s->then_step = g_strdup(then_step);
    s->else_step = g_strdup(else_step);
    g_free(when_key);
}


/* Reads a stage move: { program; stage }. */
static void
load_stage(struct config *cfg, const char *key, json_t *v,
           const struct ruleset *rs, struct journey_step *s)
{
    const char *program = NULL, *stage = NULL;

    if (!json_is_object(v)) {
        config_fail(cfg, key, "must be a group: { program = \"...\"; "
                    "stage = \"...\"; }");
        return;
    }
    if (config_check_keys(cfg, v, key, stage_keys) ||
        config_get_string(cfg, v, key, "program", 1, &program) ||
        config_get_string(cfg, v, key, "stage", 1, &stage))
        return;
    s->program = ruleset_program(rs, program);
    if (s->program == NULL)
        config_fail(cfg, key, "program \"%s\" is not configured under "
                    "programs", program);
    else if (!program_has_stage(s->program, stage))
        config_fail(cfg, key, "\"%s\" is not a stage of program \"%s\"",
                    stage, program);
    s->stage = g_strdup(stage);
}


/* Reads the one setting that gives the step its kind. */
static void
load_step_kind(struct config *cfg, const char *prefix, json_t *block,
               const struct ruleset *rs,
               const struct template_set *templates,
               int (*channel_exists)(const char *), struct journey_step *s)
{
    const char *found = NULL;
    json_t *v = NULL;
    char *key;

    for (size_t i = 1; step_keys[i] != NULL; i++) {
        json_t *member = json_object_get(block, step_keys[i]);

        if (member == NULL)
            continue;
        if (found != NULL) {
            config_fail(cfg, prefix, "sets both %s and %s: a step does one "
                        "thing", found, step_keys[i]);
            return;
        }
        found = step_keys[i];
        s->kind = step_kinds[i - 1];
        v = member;
    }
    if (found == NULL) {
        config_fail(cfg, prefix, "needs one of send, wait, wait_until, "
                    "wait_window, wait_date, wait_event, branch, stage or "
                    "exit");
        return;
    }
    key = g_strdup_printf("%s.%s", prefix, found);
    switch (s->kind) {
    case JOURNEY_SEND:
        load_send(cfg, key, v, rs, templates, channel_exists, s);
        break;
    case JOURNEY_WAIT:
        if (!json_is_string(v) ||
            clock_parse_duration(json_string_value(v), &s->wait_ms) != 0 ||
            s->wait_ms <= 0)
            config_fail(cfg, key, "must be a duration such as \"3d\"");
        break;
    case JOURNEY_WAIT_UNTIL:
        if (!json_is_string(v) ||
            civil_time_parse(json_string_value(v), &s->until) != 0)
            config_fail(cfg, key, "must be a wall time HH:MM such as "
                        "\"09:00\"");
        break;
    case JOURNEY_WAIT_WINDOW:
        if (!json_is_string(v) ||
            civil_window_parse(json_string_value(v), &s->window) != 0)
            config_fail(cfg, key, "must be days and hours such as \"Sun-Thu "
                        "09:00-17:00\", the end later than the start");
        break;
    case JOURNEY_WAIT_EVENT:
        load_wait_event(cfg, key, v, s);
        break;
    case JOURNEY_BRANCH:
        load_branch(cfg, key, v, s);
        break;
    case JOURNEY_STAGE:
        load_stage(cfg, key, v, rs, s);
        break;
    case JOURNEY_EXIT:
        if (!json_is_true(v))
            config_fail(cfg, key, "must be true");
        break;
    case JOURNEY_WAIT_DATE:
        load_wait_date(cfg, key, v, s);
        break;
    }
    g_free(key);
}


/* Checks that a step a branch or a timeout names exists. */
static void
check_target(struct config *cfg, const struct journey *j,
             const char *prefix, const char *setting, const char *target)
{
    char *key;

    if (target == NULL || journey_step_index(j, target) >= 0)
        return;
    key = g_strdup_printf("%s.%s", prefix, setting);
    config_fail(cfg, key, "step \"%s\" is not a step of journey \"%s\"",
                target, j->name);
    g_free(key);
}


static void
check_steps(struct config *cfg, const char *prefix, const struct journey *j)
{
    for (guint i = 0; i < j->steps->len; i++) {
        const struct journey_step *s = g_ptr_array_index(j->steps, i);
        char *key = g_strdup_printf("%s.steps[%u]", prefix, i);
        char *branch_key = g_strdup_printf("%s.branch", key);
        char *event_key = g_strdup_printf("%s.wait_event", key);

        if (journey_step_index(j, s->name) != (int) i)
            config_fail(cfg, key, "step name \"%s\" is used twice; names "
                        "keep a resident's place across restarts", s->name);
        check_target(cfg, j, branch_key, "then", s->then_step);
        check_target(cfg, j, branch_key, "else", s->else_step);
        check_target(cfg, j, event_key, "timeout", s->timeout_step);
        g_free(event_key);
        g_free(branch_key);
        g_free(key);
    }
}


static int
load_steps(struct config *cfg, const char *prefix, json_t *steps,
           const struct ruleset *rs, const struct template_set *templates,
           int (*channel_exists)(const char *), struct journey *j)
{
    char *key = g_strdup_printf("%s.steps", prefix);
    size_t i;
    json_t *block;

    if (!json_is_array(steps) || json_array_size(steps) == 0)
        config_fail(cfg, key, "must be a non-empty list: ( { name = ...; "
                    "send = ...; }, ... )");
    g_free(key);
    json_array_foreach(steps, i, block) {
        struct journey_step *s = calloc(1, sizeof(*s));
        const char *name = NULL;
        char *step_prefix = g_strdup_printf("%s.steps[%zu]", prefix, i);

        g_ptr_array_add(j->steps, s);
        if (!json_is_object(block))
            config_fail(cfg, step_prefix, "must be a group: { name = ...; "
                        "wait = ...; }");
        else if (config_check_keys(cfg, block, step_prefix, step_keys) == 0 &&
                 config_get_string(cfg, block, step_prefix, "name", 1,
                                   &name) == 0)
            load_step_kind(cfg, step_prefix, block, rs, templates,
                           channel_exists, s);
        s->name = g_strdup(name != NULL ? name : "");
        g_free(step_prefix);
        if (cfg->error[0] != '\0')
            return CRIER_ECONFIG;
    }
    if (cfg->error[0] == '\0')
        check_steps(cfg, prefix, j);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


/* Reads the entry: `on`, `stage_entered = { program; stage; }` or both. */
static int
load_entry(struct config *cfg, const char *prefix, json_t *block,
           const struct ruleset *rs, struct journey *j)
{
    json_t *stage = json_object_get(block, "stage_entered");
    char *key = g_strdup_printf("%s.stage_entered", prefix);
    struct journey_step move = { 0 };

    if (json_object_get(block, "on") == NULL && stage == NULL)
        config_fail(cfg, prefix, "needs on, stage_entered or both: the "
                    "events or the stage move that start the journey");
    else if (json_object_get(block, "on") != NULL)
        rules_load_on(cfg, prefix, json_object_get(block, "on"), &j->on);
    if (cfg->error[0] == '\0' && stage != NULL) {
        load_stage(cfg, key, stage, rs, &move);
        j->entry_program = move.program;
        j->entry_stage = move.stage;
    }
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


/* Returns the goal `name` of `rs`, or NULL. */
static const struct goal *
goal_find(const struct ruleset *rs, const char *name)
{
    for (guint i = 0; i < rs->goals->len; i++) {
        const struct goal *g = g_ptr_array_index(rs->goals, i);

        if (strcmp(g->name, name) == 0)
            return g;
    }
    return NULL;
}


/* Reads `exit`: { when; left_segment; goal }. */
static int
load_exit(struct config *cfg, const char *prefix, json_t *v,
          const struct ruleset *rs, struct journey *j)
{
    char *key = g_strdup_printf("%s.exit", prefix);
    char *when_key = g_strdup_printf("%s.exit.when", prefix);
    const char *segment = NULL, *goal = NULL;

    if (!json_is_object(v))
        config_fail(cfg, key, "must be a group: { when = \"...\"; "
                    "left_segment = \"...\"; goal = \"...\"; }");
    else if (config_check_keys(cfg, v, key, exit_keys) == 0 &&
             config_get_string(cfg, v, key, "left_segment", 0,
                               &segment) == 0 &&
             config_get_string(cfg, v, key, "goal", 0, &goal) == 0 &&
             json_object_get(v, "when") != NULL)
        rules_load_expr(cfg, when_key, json_object_get(v, "when"),
                        &j->exit_when);
    if (cfg->error[0] == '\0' && goal != NULL &&
        (j->exit_goal = goal_find(rs, goal)) == NULL)
        config_fail(cfg, key, "goal \"%s\" is not configured under goals",
                    goal);
    j->exit_segment = g_strdup(segment);
    g_free(when_key);
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


static int
load_reentry(struct config *cfg, const char *prefix, json_t *block,
             struct journey *j)
{
    const char *reentry = "never";
    char *key = g_strdup_printf("%s.reentry", prefix);

    if (config_get_string(cfg, block, prefix, "reentry", 0, &reentry) == 0) {
        if (strcmp(reentry, "never") == 0)
            j->reentry = JOURNEY_REENTRY_NEVER;
        else if (strcmp(reentry, "after_exit") == 0)
            j->reentry = JOURNEY_REENTRY_AFTER_EXIT;
        else if (strcmp(reentry, "restart") == 0)
            j->reentry = JOURNEY_REENTRY_RESTART;
        else
            config_fail(cfg, key, "must be \"never\", \"after_exit\" or "
                        "\"restart\"");
    }
    g_free(key);
    return cfg->error[0] ? CRIER_ECONFIG : 0;
}


static int
load_journey(struct config *cfg, size_t index, json_t *block,
             struct ruleset *rs, const struct template_set *templates,
             int (*channel_exists)(const char *))
{
    char prefix[32];
    struct journey *j = calloc(1, sizeof(*j));
    const char *name = NULL, *program = NULL;
    char *key;

    snprintf(prefix, sizeof(prefix), "journeys[%zu]", index);
    j->steps = g_ptr_array_new_with_free_func(step_free);
    g_ptr_array_add(rs->journeys, j);
    if (!json_is_object(block)) {
        config_fail(cfg, prefix, "must be a group: { name = ...; on = ...; "
                    "steps = (...); }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, block, prefix, journey_keys) ||
        config_get_string(cfg, block, prefix, "name", 1, &name) ||
        config_get_string(cfg, block, prefix, "program", 0, &program) ||
        load_entry(cfg, prefix, block, rs, j) ||
        load_reentry(cfg, prefix, block, j))
        return CRIER_ECONFIG;
    j->name = g_strdup(name);
    key = g_strdup_printf("%s.name", prefix);
    if (journey_find(rs->journeys, name) != j)
        config_fail(cfg, key, "journey name \"%s\" is used twice; names "
                    "key each resident's place", name);
    else if (g_str_has_prefix(name, DIGEST_ROW_PREFIX))
        config_fail(cfg, key, "must not start with \"%s\", which names "
                    "the rows of digest windows", DIGEST_ROW_PREFIX);
    g_free(key);
    /* The program lets goals of that program credit the send steps'
     * messages (docs/journeys.md, "Goals"). */
    key = g_strdup_printf("%s.program", prefix);
    if (cfg->error[0] == '\0' && program != NULL &&
        (j->program = ruleset_program(rs, program)) == NULL)
        config_fail(cfg, key, "program \"%s\" is not configured under "
                    "programs", program);
    g_free(key);
    key = g_strdup_printf("%s.when", prefix);
    if (cfg->error[0] == '\0' && json_object_get(block, "when") != NULL)
        rules_load_expr(cfg, key, json_object_get(block, "when"), &j->when);
    g_free(key);
    if (cfg->error[0] == '\0' && json_object_get(block, "exit") != NULL)
        load_exit(cfg, prefix, json_object_get(block, "exit"), rs, j);
    if (cfg->error[0] != '\0')
        return CRIER_ECONFIG;
    return load_steps(cfg, prefix, json_object_get(block, "steps"), rs,
                      templates, channel_exists, j);
}


int
journeys_load(struct config *cfg, struct ruleset *rs,
              const struct template_set *templates,
              int (*channel_exists)(const char *name))
{
    json_t *journeys = json_object_get(cfg->root, "journeys");
    size_t i;
    json_t *block;

    if (journeys != NULL && !json_is_array(journeys)) {
        config_fail(cfg, "journeys", "must be a list: ( { ... }, { ... } )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(journeys, i, block)
        if (load_journey(cfg, i, block, rs, templates, channel_exists) != 0)
            return CRIER_ECONFIG;
    return 0;
}
