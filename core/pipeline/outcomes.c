/*
 * Report outcomes taken from events: goal hits, which the store credits
 * to the last message of the goal's program, and opens, clicks and
 * unsubscribes of a message named by its job key (docs/reports.md).
 */
#include <string.h>

#include "ingest/internal.h"
#include "metrics/metrics.h"
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


/* Adds a property of the event to an engagement when it is a string. */
static void
property_copy(json_t *item, const json_t *props, const char *name)
{
    json_t *value = json_object_get(props, name);

    if (json_is_string(value) && json_string_length(value) > 0)
        json_object_set(item, name, value);
}


/*
 * Records a delivery status that a channel reported (only a channel may
 * emit these types): the store keeps it on the job that
 * properties.message (its key) or properties.message_id names, with the
 * provider's properties.code and properties.text, and counts it.
 */
static void
delivery_collect(struct evaluation *ev, const char *type, const char *status,
                 const json_t *event, int64_t time)
{
    json_t *props = json_object_get(event, "properties");
    json_t *item;

    if (!json_is_string(json_object_get(props, "message")) &&
        !json_is_string(json_object_get(props, "message_id")))
        return;
    item = json_pack("{s:s,s:I}", "kind", status, "time", (json_int_t) time);
    json_object_set_new(item, "key", json_null());
    property_copy(item, props, "message_id");
    if (json_is_string(json_object_get(props, "message")))
        json_object_set(item, "key", json_object_get(props, "message"));
    property_copy(item, props, "code");
    property_copy(item, props, "text");
    /* A permanent failure (a hard bounce, an unknown number) marks the
     * job's recipient invalid in the same commit. */
    if (json_is_true(json_object_get(props, "permanent")))
        json_object_set_new(item, "invalidate",
                            json_string(strncmp(type, "sms.", 4) == 0
                                        ? "phone" : "email"));
    json_array_append_new(ev->engagements, item);
    metrics_count("crier_delivery_statuses_total", "status", status, 1);
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
    const char *status = delivery_event_status(type);
    json_t *bot = json_object_get(props, "bot");

    if (status != NULL) {
        delivery_collect(ev, type, status, event, time);
        return;
    }
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
