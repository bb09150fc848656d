/*
 * Programs and rules from plugins.conf.
 *
 * A program is a named list of lifecycle stages. A rule reacts to events of
 * the types in `on`, tests `when`, and may plan a message (`send`) and move
 * the profile to a stage of its program (`stage`).
 */
#ifndef CRIER_CORE_RULES_H
#define CRIER_CORE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "config/config.h"
#include "rules/expr.h"
#include "time/civil.h"

struct template_set;

struct program {
    char *name;
    GPtrArray *stages;          /* char *, in lifecycle order */
    int back;                   /* rules may move a profile back */
    json_t *moves;              /* from -> [to, ...], or NULL: see below */
};

/* One variant of a rule's experiment: a template and its share. */
struct variant {
    char *template_name;
    int weight;                 /* 1 to 1000, relative to the others */
};

struct rule {
    char *name;
    const struct program *program;  /* NULL when the rule names none */
    GPtrArray *on;              /* char *: "page_view", or "case.*" */
    struct expr *when;          /* NULL: always */
    char *channel;              /* NULL: the rule sends nothing */
    char *template_name;
    char *stage;                /* NULL: the rule moves no stage */
    int64_t delay_ms;           /* from the event's time to the send */
    int service;                /* class "service": statutory or
                                 * transactional, claimed first */
    int priority;               /* wins the last slot of a cap */
    int has_at;                 /* send at a wall time: see below */
    struct civil_time at;       /* with has_at: the wall time, local */
    int64_t delay_days;         /* with has_at: days after the event's
                                   date in the profile's zone */
    GArray *variants;           /* struct variant, or NULL: no experiment */
    int holdout;                /* percent of residents sent nothing */
    const struct digest *digest;    /* send = { digest }: the event goes
                                     * to this digest, or NULL */
};

/* The template a holdout's job carries; no template file has this name,
 * because template names are not allowed to contain parentheses. */
#define HOLDOUT_TEMPLATE "(holdout)"

/*
 * Assigns a resident to a cell of the rule's experiment, the same cell
 * every time: returns the template of its variant, HOLDOUT_TEMPLATE for
 * the holdout, or the rule's template when it has no experiment
 * (experiment.c).
 */
const char *rule_assign(const struct rule *rule, const char *profile_id);

/* Reads `variants` and `holdout` of rule block `block` at `prefix`
 * (experiment.c). Returns 0 or CRIER_ECONFIG. */
int rule_experiment_load(struct config *cfg, const char *prefix,
                         json_t *block, const struct template_set *templates,
                         struct rule *r);

/*
 * A goal: an event of a type in `on` that passes `when` is a conversion
 * when a message of `program` was sent to the profile within `window_ms`
 * before it (docs/reports.md).
 */
struct goal {
    char *name;
    const struct program *program;
    GPtrArray *on;              /* char *, as in a rule */
    struct expr *when;          /* NULL: always */
    int64_t window_ms;
};

struct ruleset {
    GPtrArray *programs;        /* struct program * */
    GPtrArray *rules;           /* struct rule *, in config order */
    GPtrArray *goals;           /* struct goal *, in config order */
    GPtrArray *journeys;        /* struct journey *, in config order */
    GPtrArray *digests;         /* struct digest *, in config order */
};

/* The stages a program has when its config lists none. */
extern const char *const default_stages[];

/*
 * Loads `programs` and `rules` from the config. Channel names are checked
 * against `channel_exists`, templates against `templates` (may be NULL
 * when no rule sends). Returns 0 or CRIER_ECONFIG.
 */
int ruleset_load(struct config *cfg, const struct template_set *templates,
                 int (*channel_exists)(const char *name),
                 struct ruleset **out);

void ruleset_free(struct ruleset *rs);

/*
 * Parses the expression setting `v` at `key` (such as "rules[0].when")
 * into *out. A syntax error is recorded in cfg->error as
 * file:line:col. Returns 0 or CRIER_ECONFIG.
 */
int rules_load_expr(struct config *cfg, const char *key, json_t *v,
                    struct expr **out);

const struct program *ruleset_program(const struct ruleset *rs,
                                      const char *name);

/* Returns nonzero when the rule reacts to events of `type`. */
int rule_reacts_to(const struct rule *rule, const char *type);

/* Returns nonzero when an `on` list matches events of `type`. */
int rules_type_matches(const GPtrArray *on, const char *type);

/* Reads an `on` setting (a type pattern or a list of them) at
 * "<prefix>.on" into a new array. Returns 0 or CRIER_ECONFIG. */
int rules_load_on(struct config *cfg, const char *prefix, json_t *on,
                  GPtrArray **out);

/* Loads `goals` from the config into `rs` (goals.c). Each goal names a
 * program of `rs`. Returns 0 or CRIER_ECONFIG. */
int goals_load(struct config *cfg, struct ruleset *rs);

void goal_free(gpointer goal);

/* Returns nonzero when `stage` is one of the program's stages. */
int program_has_stage(const struct program *p, const char *stage);

/*
 * Returns nonzero when a rule may move a profile from stage `from` (NULL:
 * not in the program yet, always allowed) to `to`. With `moves` in the
 * config, only the listed moves are; without, forward moves are, and
 * backward ones when `back` is true.
 */
int program_move_allowed(const struct program *p, const char *from,
                         const char *to);

#endif
