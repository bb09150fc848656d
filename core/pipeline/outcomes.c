/*
 * Report outcomes taken from events: goal hits, which the store credits
 * to the last message of the goal's program, and opens, clicks and
 * unsubscribes of a message named by its job key (docs/reports.md).
 */
#include <string.h>

#include "pipeline/evaluate.h"
#include "pipeline/profile.h"
#include "rules/rules.h"


/* A goal hit waiting for the batch's merges to settle its profile. */
struct goal_pending {
    const struct goal *goal;
    json_t *profile;            /* borrowed from the profile index */
    int64_t seq;
    int64_t time;
};


/* Returns "opened", "clicked" or "unsubscribed" for an event type that
 * reports an engagement with a message, else NULL. */
static const char *
engagement_kind(const char *type)
{
    size_t len = strlen(type);
    static const char suffix[] = ".unsubscribed";

    if (strcmp(type, "email.opened") == 0)
        return "opened";
    if (strcmp(type, "email.clicked") == 0)
        return "clicked";
    if (len > sizeof(suffix) - 1 &&
        strcmp(type + len - (sizeof(suffix) - 1), suffix) == 0)
        return "unsubscribed";
    return NULL;
}


/* Records an engagement when the event names a message by its job key
 * in properties.message. A bot or privacy proxy (properties.bot set)
 * counts apart. */
static void
engagement_collect(struct evaluation *ev, const char *type,
                   const json_t *event, int64_t time)
{
    json_t *props = json_object_get(event, "properties");
    const char *key = json_string_value(json_object_get(props, "message"));
    const char *kind = engagement_kind(type);
    json_t *bot = json_object_get(props, "bot");

    if (kind == NULL || key == NULL || key[0] == '\0')
        return;
    json_array_append_new(ev->engagements,
                          json_pack("{s:s,s:s,s:b,s:I}", "key", key, "kind",
                                    kind, "bot",
                                    bot != NULL && !json_is_null(bot) &&
                                    !json_is_false(bot),
                                    "time", (json_int_t) time));
}


int
outcomes_goal_reacts(const struct ruleset *rules, const char *type)
{
    for (guint i = 0; rules && i < rules->goals->len; i++) {
        const struct goal *goal = g_ptr_array_index(rules->goals, i);

        if (rules_type_matches(goal->on, type))
            return 1;
    }
    return 0;
}


void
outcomes_collect(struct evaluation *ev, const struct ruleset *rules,
                 const char *type, const json_t *event, json_t *ctx,
                 json_t *profile, int64_t seq, int64_t time)
{
    json_t *flat = json_object_get(ctx, "profile");

    engagement_collect(ev, type, event, time);
    if (ctx == NULL)
        return;
    for (guint i = 0; rules && i < rules->goals->len; i++) {
        const struct goal *goal = g_ptr_array_index(rules->goals, i);
        const char *stage = profile_stage(profile, goal->program->name);
        struct goal_pending hit = { goal, profile, seq, time };

        if (!rules_type_matches(goal->on, type))
            continue;
        /* profile.stage in a goal's `when` is the stage in its program. */
        if (stage != NULL)
            json_object_set_new(flat, "stage", json_string(stage));
        else
            json_object_del(flat, "stage");
        if (goal->when != NULL && !expr_test(goal->when, ctx))
            continue;
        g_array_append_val(ev->goals, hit);
    }
}


json_t *
outcomes_goals_for_commit(struct evaluation *ev)
{
    json_t *out = json_array();

    for (guint i = 0; i < ev->goals->len; i++) {
        struct goal_pending *hit = &g_array_index(ev->goals,
                                                  struct goal_pending, i);
        json_t *p = profile_final(&ev->idx, hit->profile);

        if (p == NULL)
            continue;
        json_array_append_new(out,
            json_pack("{s:s,s:O,s:s,s:I,s:I,s:I}", "goal", hit->goal->name,
                      "profile", json_object_get(p, "id"), "program",
                      hit->goal->program->name, "event_seq",
                      (json_int_t) hit->seq, "time", (json_int_t) hit->time,
                      "window_ms", (json_int_t) hit->goal->window_ms));
    }
    return out;
}


size_t
outcomes_pending_size(void)
{
    return sizeof(struct goal_pending);
}
