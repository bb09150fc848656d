/*
 * Journeys in the pipeline: each event of a resident moves its places in
 * the configured journeys on, and the changed rows go into the batch's
 * commit with the jobs and stage moves the steps produced.
 *
 * A row is active or ended. An active row is on one step: a wait with a
 * due time, or a wait for an event with a timeout. The journey clock
 * (core/journeys/wake.c) turns a due row into a journey.due event, and
 * that event runs the steps after the wait here, so every step runs in
 * a pipeline commit. docs/journeys.md states every rule.
 */
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "digests/digests.h"
#include "ingest/internal.h"
#include "journeys/journeys.h"
#include "pipeline/evaluate.h"
#include "plugin/plugin.h"
#include "rules/rules.h"
#include "schedule/schedule.h"
#include "server/server.h"

/* The maximum number of steps one event runs in one journey without a
 * wait, so that branches that loop back end instead of spinning. */
#define JOURNEY_STEPS_MAX 64

/* The context of one event in one journey: the event, its resident, the
 * resident's row and the time. */
struct journey_run {
    struct evaluation *ev;
    const struct journey *journey;
    json_t *row;
    json_t *ctx;
    json_t *profile;
    int64_t seq;
    int64_t when;
    int64_t base;               /* the time waits count from: the crier
                                 * clock when the step runs, so steps
                                 * that ran late stay a wait apart */
};


void
evaluation_journeys_set(struct evaluation *ev, const json_t *rows)
{
    const char *id;
    json_t *list;

    json_decref(ev->journeys);
    ev->journeys = json_object();
    json_object_foreach((json_t *) rows, id, list) {
        json_t *places = json_object();
        size_t i;
        json_t *row;

        json_array_foreach(list, i, row)
            json_object_set_new(places, json_string_value(
                                    json_object_get(row, "journey")),
                                json_deep_copy(row));
        json_object_set_new(ev->journeys, id, places);
    }
}


json_t *
evaluation_places(struct evaluation *ev, const char *id)
{
    json_t *places = json_object_get(ev->journeys, id);

    if (places == NULL) {
        places = json_object();
        json_object_set_new(ev->journeys, id, places);
    }
    return places;
}


static const char *
row_text(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}


static int
row_active(const json_t *row)
{
    return row != NULL && g_strcmp0(row_text(row, "state"), "active") == 0;
}


/* Sets the row's due time, or none for -1, and marks it for the commit. */
static void
row_set(json_t *row, const char *step, int64_t due)
{
    json_object_set_new(row, "step", json_string(step));
    json_object_set_new(row, "due", due >= 0 ? json_integer(due)
                                             : json_null());
    json_object_set_new(row, "updated", json_integer(clock_now_ms()));
    json_object_set_new(row, "_dirty", json_true());
}


static void
row_end(struct journey_run *run, const char *why)
{
    json_object_set_new(run->row, "state", json_string("ended"));
    row_set(run->row, row_text(run->row, "step"), -1);
    log_debug("journey ended", "journey=%s profile=%s step=%s reason=%s",
              run->journey->name, row_text(run->row, "profile"),
              row_text(run->row, "step"), why);
}


/* Plans the job of a send step, keyed by (journey step, profile, entry)
 * so that a replayed batch plans nothing twice. */
static void
send_plan(struct journey_run *run, const struct journey_step *step)
{
    struct plugin_instance *ch = server_channel(step->channel);
    const struct crier_channel_ops *ops = ch ? ch->desc->ops : NULL;
    const char *kind = ops && ops->address_kind ? ops->address_kind
                                                : "email";
    const char *to = profile_identity(run->profile, kind);
    const char *id = row_text(run->row, "profile");
    int64_t entry = json_integer_value(json_object_get(run->row, "entry"));
    const char *program = run->journey->program
                          ? run->journey->program->name : NULL;
    char *key, *rule;

    if (step->digest != NULL) {
        digest_collect(run->ev, step->digest, run->ctx, run->profile,
                       json_object_get(run->ctx, "event"), run->seq,
                       run->when);
        return;
    }
    if (to == NULL) {
        log_debug("journey send step skipped: the profile has no address",
                  "journey=%s step=%s profile=%s kind=%s",
                  run->journey->name, step->name, id, kind);
        return;
    }
    key = g_strdup_printf("journey:%s/%s/%s/%lld", run->journey->name,
                          step->name, id, (long long) entry);
    rule = g_strdup_printf("journey:%s/%s", run->journey->name, step->name);
    json_array_append_new(run->ev->jobs,
                          json_pack("{s:s,s:s,s:s?,s:s,s:I,s:s,s:s,s:s,s:I,"
                                    "s:i,s:i}", "key", key, "rule", rule,
                                    "program", program, "profile", id,
                                    "event_seq",
                                    (json_int_t) run->seq, "channel",
                                    step->channel, "template",
                                    step->template_name, "to", to, "due",
                                    (json_int_t) clock_now_ms(), "lane",
                                    step->service ? 0 : 1, "priority", 0));
    g_free(rule);
    g_free(key);
}


static void
stage_apply(struct journey_run *run, const struct journey_step *step)
{
    const char *now = profile_stage(run->profile, step->program->name);
    char *rule;

    if (g_strcmp0(now, step->stage) == 0)
        return;
    if (!program_move_allowed(step->program, now, step->stage)) {
        log_debug("journey stage move not allowed by the program",
                  "journey=%s step=%s program=%s from=%s to=%s",
                  run->journey->name, step->name, step->program->name, now,
                  step->stage);
        return;
    }
    rule = g_strdup_printf("journey:%s/%s", run->journey->name, step->name);
    evaluation_stage_move(run->ev, run->profile, step->program->name,
                          step->stage, run->seq, run->when, rule);
    g_free(rule);
}


/* Returns when a wait_date step ends: the profile's date plus the
 * offset, at the wall time in `zone`. Returns -1, so that the journey
 * goes straight on, when that time has passed or the profile has no
 * valid date in the field. */
static int64_t
date_due(struct journey_run *run, const struct journey_step *step,
         GTimeZone *zone)
{
    const json_t *value = step->date->field == SCHEDULE_PROFILE_CREATED
        ? json_object_get(run->profile, "created")
        : json_object_get(json_object_get(run->profile, "attributes"),
                          step->date->attribute);
    char *text = json_is_integer(value)
        ? g_strdup_printf("%lld", (long long) json_integer_value(value))
        : g_strdup(json_string_value(value));
    int64_t due = -1;

    if (text == NULL || schedule_next_due(step->date, text, zone,
                                          run->base, &due) != 0) {
        log_debug("journey wait_date has no valid date; going on",
                  "journey=%s step=%s profile=%s", run->journey->name,
                  step->name, row_text(run->row, "profile"));
        due = -1;
    }
    g_free(text);
    return due > run->base ? due : -1;
}


/* Returns the due time of a wait step, or -1 when a window is open now
 * and the journey goes straight on. */
static int64_t
wait_due(struct journey_run *run, const struct journey_step *step)
{
    const json_t *name = json_object_get(json_object_get(run->profile,
                                                         "attributes"),
                                         "timezone");
    GTimeZone *zone;
    int64_t due = run->base;

    switch (step->kind) {
    case JOURNEY_WAIT:
    case JOURNEY_WAIT_EVENT:
        return run->base + step->wait_ms;
    case JOURNEY_WAIT_UNTIL:
    case JOURNEY_WAIT_WINDOW:
    case JOURNEY_WAIT_DATE:
        zone = civil_zone_or_default(json_string_value(name));
        if (step->kind == JOURNEY_WAIT_DATE)
            due = date_due(run, step, zone);
        else if (step->kind == JOURNEY_WAIT_UNTIL)
            civil_time_next(&step->until, zone, run->base, &due);
        else if (civil_window_next(&step->window, zone, run->base,
                                   &due) == 0 && due == run->base)
            due = -1;
        g_time_zone_unref(zone);
        return due;
    default:
        return -1;
    }
}


/* Runs steps from `index` until one waits, an exit, or the last step. */
static void
steps_run(struct journey_run *run, int index)
{
    const GPtrArray *steps = run->journey->steps;

    for (int n = 0; n < JOURNEY_STEPS_MAX; n++) {
        const struct journey_step *step;
        const char *target = NULL;
        int64_t due;

        if (index < 0 || (guint) index >= steps->len) {
            row_end(run, "last step");
            return;
        }
        step = g_ptr_array_index(steps, index);
        row_set(run->row, step->name, -1);
        switch (step->kind) {
        case JOURNEY_SEND:
            send_plan(run, step);
            break;
        case JOURNEY_STAGE:
            stage_apply(run, step);
            break;
        case JOURNEY_BRANCH:
            target = expr_test(step->when, run->ctx) ? step->then_step
                                                     : step->else_step;
            if (target != NULL) {
                index = journey_step_index(run->journey, target);
                continue;
            }
            break;
        case JOURNEY_EXIT:
            row_end(run, "exit step");
            return;
        default:
            due = wait_due(run, step);
            if (due >= 0) {
                row_set(run->row, step->name, due);
                return;
            }
            break;
        }
        index++;
    }
    log_error("journey ran too many steps without a wait; ended it",
              "journey=%s profile=%s max=%d", run->journey->name,
              row_text(run->row, "profile"), JOURNEY_STEPS_MAX);
    row_end(run, "too many steps");
}


/* Starts a new entry: a restart replaces the old row, pending steps and
 * all. */
static void
entry_start(struct journey_run *run, json_t *places)
{
    int64_t now = clock_now_ms();

    run->row = json_pack("{s:s,s:O,s:I,s:s,s:s,s:I}", "journey",
                         run->journey->name, "profile",
                         json_object_get(run->profile, "id"), "entry",
                         (json_int_t) run->seq, "step", "", "state",
                         "active", "since", (json_int_t) now);
    json_object_set_new(places, run->journey->name, run->row);
    log_debug("journey entered", "journey=%s profile=%s entry=%lld",
              run->journey->name, row_text(run->row, "profile"),
              (long long) run->seq);
    steps_run(run, 0);
}


/* Handles a journey.due event: the wait it names ends, when the row is
 * still on that entry and step. A step that an edit removed ends the
 * path. */
static void
wake_handle(struct journey_run *run, const json_t *props)
{
    const char *step_name = json_string_value(json_object_get(props,
                                                              "step"));
    int index = journey_step_index(run->journey, step_name);
    const struct journey_step *step;

    if (json_integer_value(json_object_get(props, "entry")) !=
        json_integer_value(json_object_get(run->row, "entry")) ||
        g_strcmp0(step_name, row_text(run->row, "step")) != 0)
        return;
    if (index < 0) {
        row_end(run, "step removed");
        return;
    }
    step = g_ptr_array_index(run->journey->steps, index);
    if (step->kind != JOURNEY_WAIT_EVENT) {
        steps_run(run, index + 1);
    } else if (step->timeout_step != NULL) {
        steps_run(run, journey_step_index(run->journey, step->timeout_step));
    } else {
        row_end(run, "timeout");
    }
}


/* Applies the exit settings and a wait for this event to an active row.
 * Returns 1 when the event ended or moved the row. */
static int
active_handle(struct journey_run *run, const char *type)
{
    const struct journey *j = run->journey;
    const json_t *props = json_object_get(json_object_get(run->ctx, "event"),
                                          "properties");
    int index = journey_step_index(j, row_text(run->row, "step"));
    const struct journey_step *step;

    if (j->exit_when != NULL && expr_test(j->exit_when, run->ctx)) {
        row_end(run, "exit condition");
        return 1;
    }
    if (j->exit_goal != NULL && rules_type_matches(j->exit_goal->on, type) &&
        (j->exit_goal->when == NULL ||
         expr_test(j->exit_goal->when, run->ctx))) {
        row_end(run, "goal met");
        return 1;
    }
    if (j->exit_segment != NULL &&
        strcmp(type, INTERNAL_SEGMENT_LEFT) == 0 &&
        g_strcmp0(json_string_value(json_object_get(props, "segment")),
                  j->exit_segment) == 0) {
        row_end(run, "left segment");
        return 1;
    }
    if (index < 0)
        return 0;
    step = g_ptr_array_index(j->steps, index);
    if (step->kind == JOURNEY_WAIT_EVENT &&
        json_integer_value(json_object_get(run->row, "entry")) != run->seq &&
        rules_type_matches(step->on, type)) {
        steps_run(run, index + 1);
        return 1;
    }
    return 0;
}


/* Returns nonzero when this event moved the resident to the journey's
 * entry stage: a rule's move, or a stage step of a journey run before
 * this one for the same event. */
static int
stage_entered(const struct journey_run *run)
{
    const char *id = row_text(run->profile, "id");
    size_t i;
    json_t *move;

    if (run->journey->entry_program == NULL)
        return 0;
    json_array_foreach(run->ev->stages, i, move)
        if (json_integer_value(json_object_get(move, "event_seq")) ==
                run->seq &&
            g_strcmp0(row_text(move, "profile"), id) == 0 &&
            g_strcmp0(row_text(move, "program"),
                      run->journey->entry_program->name) == 0 &&
            g_strcmp0(row_text(move, "to"), run->journey->entry_stage) == 0)
            return 1;
    return 0;
}


/* Returns nonzero when the re-entry policy lets the event start a new
 * entry over `row` (NULL: never in the journey). */
static int
entry_allowed(const struct journey *j, const json_t *row)
{
    if (row == NULL)
        return 1;
    if (row_active(row))
        return j->reentry == JOURNEY_REENTRY_RESTART;
    return j->reentry != JOURNEY_REENTRY_NEVER;
}


void
journeys_collect(struct evaluation *ev, const struct ruleset *rules,
                 const char *type, json_t *ctx, json_t *profile,
                 int64_t seq, int64_t when)
{
    const char *id = json_string_value(json_object_get(profile, "id"));
    const json_t *props = json_object_get(json_object_get(ctx, "event"),
                                          "properties");
    int due_event = strcmp(type, INTERNAL_JOURNEY_DUE) == 0;
    json_t *places;

    /* A digest's wake-up is bookkeeping of digest.c: no journey enters,
     * exits or waits on it. */
    if (ev->journeys == NULL || rules->journeys->len == 0 || id == NULL ||
        strcmp(type, INTERNAL_DIGEST_DUE) == 0)
        return;
    places = evaluation_places(ev, id);
    for (guint i = 0; i < rules->journeys->len; i++) {
        struct journey_run run = {
            ev, g_ptr_array_index(rules->journeys, i), NULL, ctx, profile,
            seq, when, clock_now_ms()
        };

        run.row = json_object_get(places, run.journey->name);
        if (due_event) {
            if (row_active(run.row) &&
                g_strcmp0(json_string_value(json_object_get(props,
                                                            "journey")),
                          run.journey->name) == 0)
                wake_handle(&run, props);
            continue;
        }
        if (row_active(run.row) && active_handle(&run, type))
            continue;
        if (!((run.journey->on != NULL &&
               rules_type_matches(run.journey->on, type)) ||
              stage_entered(&run)) ||
            (run.journey->when != NULL &&
             !expr_test(run.journey->when, ctx)) ||
            !entry_allowed(run.journey, run.row))
            continue;
        entry_start(&run, places);
    }
}


/* Keeps the earliest due of the rows the batch writes, for the journey
 * clock (journeys_wake_due). */
static void
due_note(struct evaluation *ev, const json_t *due)
{
    if (json_is_integer(due) &&
        (ev->journeys_due_min < 0 ||
         json_integer_value(due) < ev->journeys_due_min))
        ev->journeys_due_min = json_integer_value(due);
}


json_t *
journeys_for_commit(struct evaluation *ev)
{
    json_t *out = json_array();
    const char *id;
    json_t *places;

    json_object_foreach(ev->journeys, id, places) {
        const char *name;
        json_t *row;
        json_t *p = g_hash_table_lookup(ev->idx.by_id, id);

        /* NOTE: a profile merged away in the batch loses its rows, and
         * the store deletes those it had, so its pending steps stop
         * (docs/KNOWN_LIMITS.md, "Journeys"). */
        if (p != NULL && json_object_get(p, "_merged_into") != NULL)
            continue;
        json_object_foreach(places, name, row) {
            json_t *copy;

            if (!json_is_true(json_object_get(row, "_dirty")))
                continue;
            copy = json_deep_copy(row);
            json_object_del(copy, "_dirty");
            json_array_append_new(out, copy);
            due_note(ev, json_object_get(copy, "due"));
        }
    }
    return out;
}
