#include "pipeline/evaluate.h"

#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "digests/digests.h"
#include "ingest/internal.h"
#include "pipeline/history.h"
#include "plugin/plugin.h"
#include "rules/rules.h"
#include "schedule/schedule.h"
#include "segments/segments.h"
#include "server/server.h"


struct evaluation *
evaluation_new(json_t *events)
{
    struct evaluation *ev = calloc(1, sizeof(*ev));
    json_t *last;

    ev->events = json_incref(events);
    ev->count = json_array_size(events);
    last = json_array_get(events, ev->count - 1);
    ev->last_seq = json_integer_value(json_object_get(last, "seq"));
    ev->stages = json_array();
    ev->jobs = json_array();
    ev->segments = json_array();
    ev->links = g_array_new(FALSE, FALSE, sizeof(struct event_link));
    ev->goals = g_array_new(FALSE, FALSE, outcomes_pending_size());
    ev->engagements = json_array();
    ev->confirmations = json_array();
    ev->journeys_due_min = -1;
    return ev;
}


void
evaluation_free(struct evaluation *ev)
{
    if (ev == NULL)
        return;
    json_decref(ev->events);
    if (ev->idx.profiles != NULL)
        profile_index_clear(&ev->idx);
    json_decref(ev->stages);
    json_decref(ev->jobs);
    json_decref(ev->segments);
    g_array_free(ev->links, TRUE);
    g_array_free(ev->goals, TRUE);
    json_decref(ev->engagements);
    json_decref(ev->confirmations);
    json_decref(ev->history);
    json_decref(ev->journeys);
    free(ev);
}


int64_t
evaluation_earliest(const struct evaluation *ev)
{
    int64_t earliest = INT64_MAX;
    size_t i;
    json_t *row;

    json_array_foreach(ev->events, i, row) {
        int64_t time = json_integer_value(json_object_get(row, "time"));

        if (time < earliest)
            earliest = time;
    }
    return earliest;
}


void
evaluation_history_set(struct evaluation *ev, const json_t *history)
{
    json_decref(ev->history);
    ev->history = history != NULL ? json_deep_copy(history) : json_object();
}


/*
 * Adds the event to its profile's history, after moving the history of
 * the profiles this event merged. Returns the profile's history,
 * borrowed, or NULL when nothing uses count().
 */
static json_t *
history_update(struct evaluation *ev, json_t *row, const json_t *profile,
               size_t merges)
{
    const char *id = json_string_value(json_object_get(profile, "id"));

    if (ev->history == NULL || id == NULL)
        return NULL;
    for (size_t i = merges; i < json_array_size(ev->idx.merges); i++) {
        json_t *merge = json_array_get(ev->idx.merges, i);

        history_merge(ev->history,
                      json_string_value(json_object_get(merge, "from")),
                      json_string_value(json_object_get(merge, "into")));
    }
    return history_add(ev->history, id, row);
}


/*
 * Returns whether rules may trust who an event names. Anyone can send a
 * beacon hit, and an identify hit claims an email without proving it,
 * so every event that a beacon trigger stored is untrusted.
 *
 * NOTE: the source is looked up in the running configuration, so an
 * event of a beacon instance that a reload removed or renamed before the
 * pipeline reached it counts as trusted (docs/KNOWN_LIMITS.md, "Triggers").
 */
static int
event_trusted(const char *source)
{
    struct plugin_instance *trigger = server_trigger(source);

    return trigger == NULL || strcmp(trigger->desc->name, "beacon") != 0;
}


/* Builds what the rules' conditions see for one event: the
 * evaluation_context, with the event's "source" and "trusted" added,
 * "now" for now() and age_months(), and the profile's "history" and the
 * event's "time" for count(). */
static json_t *
rules_context(const json_t *event, const json_t *profile, const json_t *row,
              json_t *history, int64_t now_ms)
{
    const char *source = json_string_value(json_object_get(row, "source"));
    json_t *with_source = json_is_object(event)
                              ? json_copy((json_t *) event)
                              : json_object();
    json_t *ctx;

    /* A shallow copy, so that the stored event itself stays as sent. */
    json_object_set_new(with_source, "source",
                        json_string(source ? source : ""));
    json_object_set_new(with_source, "trusted",
                        json_boolean(source != NULL && event_trusted(source)));
    ctx = evaluation_context(with_source, profile);
    json_decref(with_source);
    json_object_set_new(ctx, "now", json_integer(now_ms));
    if (history != NULL) {
        json_object_set(ctx, "history", history);
        json_object_set(ctx, "time", json_object_get(row, "time"));
    }
    return ctx;
}


json_t *
evaluation_context(const json_t *event, const json_t *profile)
{
    json_t *props = json_object_get(event, "properties");
    json_t *kase = json_object_get(props, "case");
    json_t *ctx = json_object();

    /* Set member by member: json_pack would parse a format string for
     * each message that the outbox renders. */
    json_object_set_nocheck(ctx, "event", (json_t *) event);
    json_object_set_new_nocheck(ctx, "profile",
                                profile ? profile_flatten(profile)
                                        : json_object());
    json_object_set_nocheck(ctx, "case", kase ? kase : json_null());
    return ctx;
}


void
evaluation_stage_move(struct evaluation *ev, json_t *profile,
                      const char *program, const char *to, int64_t seq,
                      int64_t when, const char *rule)
{
    const char *from = profile_stage(profile, program);
    json_t *stages = json_object_get(profile, "stages");

    json_array_append_new(ev->stages,
                          json_pack("{s:O,s:s,s:s?,s:s,s:I,s:I,s:s?}",
                                    "profile", json_object_get(profile, "id"),
                                    "program", program, "from", from,
                                    "to", to, "time", (json_int_t) when,
                                    "event_seq", (json_int_t) seq,
                                    "rule", rule));
    json_object_set_new(stages, program,
                        json_pack("{s:s,s:I}", "stage", to,
                                  "since", (json_int_t) when));
}


/* Sets "stage" in the context to the profile's stage in the rule's
 * program; a profile enters a program at its first stage. */
static void
enter_program(struct evaluation *ev, json_t *ctx, json_t *profile,
              const struct rule *rule, int64_t seq, int64_t when)
{
    json_t *flat = json_object_get(ctx, "profile");
    const char *stage;

    if (rule->program == NULL) {
        json_object_del(flat, "stage");
        return;
    }
    stage = profile_stage(profile, rule->program->name);
    if (stage == NULL) {
        stage = g_ptr_array_index(rule->program->stages, 0);
        evaluation_stage_move(ev, profile, rule->program->name, stage, seq,
                              when, NULL);
        json_object_set_new(json_object_get(flat, "stages"),
                            rule->program->name, json_string(stage));
    }
    json_object_set_new(flat, "stage", json_string(stage));
}


/*
 * Returns the send time of a rule with `at`: the event's date in the
 * profile's zone, plus `delay_days`, at the wall time `at`. With no
 * delay a wall time already past on the event's day moves to the next
 * day, so "at 12:00" means the next 12:00.
 */
static int64_t
local_due(const struct rule *rule, const json_t *profile, int64_t event_ms)
{
    const json_t *name = json_object_get(json_object_get(profile,
                                                         "attributes"),
                                         "timezone");
    GTimeZone *zone = civil_zone_or_default(json_string_value(name));
    int64_t due = event_ms;
    GDate date;

    civil_from_instant(event_ms, zone, &date, NULL);
    if (civil_date_add(&date, CIVIL_DAYS, rule->delay_days) == 0 &&
        civil_to_instant(&date, &rule->at, zone, &due) == 0 &&
        due < event_ms)
        civil_next_day_at(event_ms, &rule->at, zone, &due);
    g_time_zone_unref(zone);
    return due;
}


/* A delay counts from when the event happened; a job whose time has
 * passed already (an old event, a pipeline that lagged) is due at `now`,
 * one time for all the jobs of an event, so that their priorities
 * decide between them. */
static int64_t
job_due(const struct rule *rule, const json_t *profile, int64_t event_ms,
        int64_t now)
{
    int64_t due = rule->has_at ? local_due(rule, profile, event_ms)
                               : event_ms + rule->delay_ms;

    return due > now ? due : now;
}


static void
plan_job(struct evaluation *ev, const struct rule *rule, json_t *profile,
         int64_t seq, int64_t event_ms)
{
    struct plugin_instance *ch = server_channel(rule->channel);
    const struct crier_channel_ops *ops = ch ? ch->desc->ops : NULL;
    const char *kind = ops && ops->address_kind ? ops->address_kind
                                                : "email";
    const char *to = profile_identity(profile, kind);
    const char *id = json_string_value(json_object_get(profile, "id"));
    const char *template_name;
    json_t *job;
    char *key;

    if (to == NULL) {
        log_debug("rule matched, but the profile has no address",
                  "rule=%s profile=%s kind=%s seq=%lld", rule->name, id,
                  kind, (long long) seq);
        return;
    }
    key = g_strdup_printf("rule:%s/%s/%lld", rule->name, id,
                          (long long) seq);
    /* An experiment's holdout gets a job that the store keeps suppressed,
     * so that its conversions are measured like those of a variant. */
    template_name = rule_assign(rule, id);
    job = json_pack("{s:s,s:s,s:s?,s:s,s:I,s:s,s:s,s:s,s:I,s:i,s:i}",
                    "key", key,
                    "rule", rule->name,
                    "program", rule->program ? rule->program->name : NULL,
                    "profile", id, "event_seq", (json_int_t) seq,
                    "channel", rule->channel,
                    "template", template_name, "to", to,
                    "due", (json_int_t) job_due(rule, profile, event_ms,
                                                ev->event_now_ms),
                    "lane", rule->service ? 0 : 1,
                    "priority", rule->priority);
    if (strcmp(template_name, HOLDOUT_TEMPLATE) == 0)
        json_object_set_new(job, "holdout", json_true());
    json_array_append_new(ev->jobs, job);
    g_free(key);
}


static int
json_array_has_string(const json_t *array, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(array, i, v)
        if (g_strcmp0(json_string_value(v), s) == 0)
            return 1;
    return 0;
}


/*
 * Rewrites this batch's stage moves of a profile that was just merged
 * away. A move in a program whose stage went over with the merge now
 * belongs to the surviving profile. A move in a program where the
 * surviving profile had its own stage is dropped, because that stage wins.
 */
static void
follow_merge(struct evaluation *ev, const json_t *merge)
{
    const char *from = json_string_value(json_object_get(merge, "from"));
    json_t *programs = json_object_get(merge, "programs");
    size_t i = 0;

    while (i < json_array_size(ev->stages)) {
        json_t *move = json_array_get(ev->stages, i);
        const char *program = json_string_value(json_object_get(move,
                                                                "program"));

        if (g_strcmp0(json_string_value(json_object_get(move, "profile")),
                      from) != 0) {
            i++;
        } else if (json_array_has_string(programs, program)) {
            json_object_set(move, "profile", json_object_get(merge, "into"));
            i++;
        } else {
            json_array_remove(ev->stages, i);
        }
    }
}


/* Runs every rule over one event. Rules see the stages as they were when
 * the event arrived, so one event never chains through several moves. */
/*
 * Confirms the profile's pending subscriptions on an SMS channel when the
 * resident replied YES or START to it: the channel instance that received
 * the reply is the event's source.
 */
static void
subscriptions_confirm_on(struct evaluation *ev, const json_t *profile,
                         const char *source, const char *type,
                         int64_t now_ms)
{
    if (g_strcmp0(type, "sms.start") != 0 || source == NULL)
        return;
    json_array_append_new(ev->confirmations, json_pack(
        "{s:O,s:s,s:s,s:I}", "profile", json_object_get(profile, "id"),
        "channel", source, "origin", "sms", "time", (json_int_t) now_ms));
}


static void
run_rules(struct evaluation *ev, const struct ruleset *rules, json_t *row)
{
    json_t *event = json_object_get(row, "event");
    const char *type = json_string_value(json_object_get(row, "type"));
    int64_t seq = json_integer_value(json_object_get(row, "seq"));
    int64_t when = json_integer_value(json_object_get(row, "time"));
    const char *source = json_string_value(json_object_get(row, "source"));
    size_t merges = json_array_size(ev->idx.merges);
    int64_t now_ms = clock_now_ms();
    json_t *profile = profile_resolve(&ev->idx, event, seq, now_ms);
    struct event_link link = { seq, profile };
    json_t *ctx = NULL;
    json_t *history;
    GPtrArray *moves;

    ev->event_now_ms = now_ms;
    if (profile == NULL) {
        log_debug("event addressed to a profile that no longer exists",
                  "seq=%lld type=%s profile=%s", (long long) seq, type,
                  json_string_value(json_object_get(event, "profile_id")));
        return;
    }
    profile_consent_apply(profile, event, source, type, when, now_ms);
    profile_related_apply(profile, event, type, now_ms);
    subscriptions_confirm_on(ev, profile, source, type, now_ms);
    if (!ev->unlinked)
        g_array_append_val(ev->links, link);
    for (size_t i = merges; i < json_array_size(ev->idx.merges); i++)
        follow_merge(ev, json_array_get(ev->idx.merges, i));
    if (rules == NULL) {
        segments_evaluate(server.segments, profile, NULL, now_ms, 0,
                          ev->segments);
        return;
    }
    moves = g_ptr_array_new();
    history = history_update(ev, row, profile, merges);

    for (guint i = 0; i < rules->rules->len; i++) {
        const struct rule *rule = g_ptr_array_index(rules->rules, i);

        if (type == NULL || !rule_reacts_to(rule, type))
            continue;
        /* Built for the first rule that reacts, so that events no rule
         * reacts to, such as the segment.entered events of an import,
         * cost no profile_flatten. */
        if (ctx == NULL)
            ctx = rules_context(event, profile, row, history, now_ms);
        enter_program(ev, ctx, profile, rule, seq, when);
        if (rule->when != NULL && !expr_test(rule->when, ctx))
            continue;
        if (rule->channel != NULL)
            plan_job(ev, rule, profile, seq, when);
        else if (rule->digest != NULL)
            digest_collect(ev, rule->digest, ctx, profile, event, seq,
                           when);
        if (rule->stage != NULL)
            g_ptr_array_add(moves, (gpointer) rule);
    }
    for (guint i = 0; i < moves->len; i++) {
        const struct rule *rule = g_ptr_array_index(moves, i);
        const char *now = profile_stage(profile, rule->program->name);

        if (g_strcmp0(now, rule->stage) == 0)
            continue;
        if (!program_move_allowed(rule->program, now, rule->stage)) {
            log_debug("stage move not allowed by the program",
                      "rule=%s program=%s from=%s to=%s seq=%lld", rule->name,
                      rule->program->name, now, rule->stage, (long long) seq);
            continue;
        }
        evaluation_stage_move(ev, profile, rule->program->name, rule->stage,
                              seq, when, rule->name);
    }
    g_ptr_array_free(moves, TRUE);
    /* Goals and journeys read the context too, also for an event that no
     * rule reacts to, such as the page view of a confirmation page. */
    if (type != NULL) {
        if (ctx == NULL && (outcomes_goal_reacts(rules, type) ||
                            rules->journeys->len > 0))
            ctx = rules_context(event, profile, row, history, now_ms);
        outcomes_collect(ev, rules, type, event, ctx, profile, seq, when);
        if (ctx != NULL)
            journeys_collect(ev, rules, type, ctx, profile, seq, when);
        if (strcmp(type, INTERNAL_DIGEST_DUE) == 0)
            digest_fire(ev, rules, json_object_get(event, "properties"),
                        profile, seq);
    }
    json_decref(ctx);
    /* Segments see the stages that this event's rules moved. */
    segments_evaluate(server.segments, profile, history, now_ms, 0,
                      ev->segments);
}


/* Returns the members of profile `p` that a commit writes. It is built
 * key by key because json_pack, which parses its format on each call,
 * showed in perf profiles of an import, which writes every row's
 * profile. */
static json_t *
profile_for_commit(const json_t *p)
{
    static const char *const keys[] = {
        "id", "created", "updated", "attributes", "identities"
    };
    json_t *copy = json_object(), *consent = json_object_get(p, "consent");

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_set_nocheck(copy, keys[i], json_object_get(p, keys[i]));
    json_object_set_nocheck(copy, "consent",
                            consent != NULL ? consent : json_null());
    /* Without related records the store keeps what it has. */
    if (json_object_get(p, "related") != NULL)
        json_object_set_nocheck(copy, "related",
                                json_object_get(p, "related"));
    return copy;
}


static json_t *
dirty_profiles(struct evaluation *ev)
{
    json_t *out = json_array();
    size_t i;
    json_t *p;

    json_array_foreach(ev->idx.profiles, i, p) {
        if (!json_is_true(json_object_get(p, "_dirty")) ||
            json_object_get(p, "_merged_into") != NULL)
            continue;
        json_array_append_new(out, profile_for_commit(p));
    }
    return out;
}


/* Each event's profile after every merge of the batch. */
static json_t *
final_links(struct evaluation *ev)
{
    json_t *out = json_array();

    for (guint i = 0; i < ev->links->len; i++) {
        struct event_link *l = &g_array_index(ev->links, struct event_link, i);
        json_t *p = profile_final(&ev->idx, l->profile);

        if (p != NULL)
            json_array_append_new(out, json_pack("{s:I,s:O}", "seq",
                                                 (json_int_t) l->seq,
                                                 "profile",
                                                 json_object_get(p, "id")));
    }
    return out;
}


/* The batch's segment changes, without those of profiles that a later
 * merge of the batch removed: the store drops their memberships. */
static json_t *
segments_for_commit(struct evaluation *ev)
{
    json_t *out = json_array();
    size_t i;
    json_t *change;

    json_array_foreach(ev->segments, i, change) {
        const char *id = json_string_value(json_object_get(change,
                                                           "profile"));
        json_t *p = g_hash_table_lookup(ev->idx.by_id, id);

        if (p == NULL || json_object_get(p, "_merged_into") == NULL)
            json_array_append(out, change);
    }
    return out;
}


/* The batch's merges as the store takes them. */
static json_t *
merges_for_commit(struct evaluation *ev)
{
    json_t *out = json_array();
    size_t i;
    json_t *m;

    json_array_foreach(ev->idx.merges, i, m)
        json_array_append_new(out, json_pack("{s:O,s:O,s:O}", "from",
                                             json_object_get(m, "from"),
                                             "into", json_object_get(m, "into"),
                                             "time",
                                             json_object_get(m, "time")));
    return out;
}


/* The schedule plans of the profiles the batch writes, so that a date
 * that appears, changes or goes is planned in the same commit. */
static json_t *
schedules_for_commit(const json_t *profiles)
{
    json_t *out = json_array();
    int64_t now = clock_now_ms();
    size_t i;
    json_t *profile;

    json_array_foreach(profiles, i, profile)
        schedule_plan_profile(profile, now, out);
    return out;
}


json_t *
evaluation_run(struct evaluation *ev, const json_t *loaded,
               const struct ruleset *rules, const char *cursor)
{
    size_t i;
    json_t *row;
    json_t *segments;
    json_t *profiles;
    json_t *batch;

    profile_index_init(&ev->idx, loaded);
    json_array_foreach(ev->events, i, row)
        run_rules(ev, rules, row);
    segments = segments_for_commit(ev);
    profiles = dirty_profiles(ev);

    /* Each entry and exit is stored with its event in one transaction.
     * The arguments are built before json_pack takes `segments` over. */
    batch = json_pack("{s:{s:s,s:I},s:o,s:o,s:o,s:O,s:O,s:o,s:o,s:o,s:o,"
                      "s:O}",
                      "cursor", "name", cursor, "value",
                      (json_int_t) ev->last_seq, "merges",
                      merges_for_commit(ev), "schedules",
                      schedules_for_commit(profiles), "profiles", profiles,
                      "stages", ev->stages, "jobs", ev->jobs, "links",
                      final_links(ev), "segments", segments, "events",
                      segments_events(segments), "goals",
                      outcomes_goals_for_commit(ev), "engagements",
                      ev->engagements);
    /* Journey places change in the same transaction as their jobs. */
    if (batch != NULL && ev->journeys != NULL)
        json_object_set_new(batch, "journeys", journeys_for_commit(ev));
    /* SMS keyword replies confirm pending subscriptions in the same
     * transaction as the event's consent change. */
    if (batch != NULL && json_array_size(ev->confirmations) > 0)
        json_object_set(batch, "confirmations", ev->confirmations);
    return batch;
}
