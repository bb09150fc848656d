/*
 * One pipeline batch: the events read from the store, their profiles, and
 * what the rules decide for them, built into the commit of
 * docs/internals/store.md.
 */
#ifndef CRIER_CORE_EVALUATE_H
#define CRIER_CORE_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pipeline/profile.h"

struct ruleset;

struct evaluation {
    json_t *events;             /* rows of events_read, referenced */
    size_t count;
    int64_t last_seq;
    struct profile_index idx;
    json_t *stages;             /* stage moves to commit */
    json_t *jobs;               /* jobs to plan */
    json_t *segments;           /* segment entries and exits to commit */
    GArray *links;              /* struct event_link, one per event */
    json_t *history;            /* for count(): profile id -> rows, newest
                                 * first; NULL when nothing uses count() */
    int unlinked;               /* set for an import, whose rows are
                                 * not stored events: no links */
    GArray *goals;              /* goal hits (outcomes.c) */
    json_t *engagements;        /* opens, clicks and unsubscribes */
    json_t *journeys;           /* profile id -> journey -> row, or NULL
                                 * when no journey is configured */
    json_t *confirmations;      /* pending subscriptions an SMS YES
                                 * confirms */
    int64_t journeys_due_min;   /* the earliest due of the rows the
                                 * batch writes, or -1 */
    int64_t event_now_ms;       /* the clock when the current event's
                                 * rules ran, the earliest due of its
                                 * jobs */
};

/* The profile an event was resolved to, before later merges. */
struct event_link {
    int64_t seq;
    json_t *profile;            /* borrowed from the profile index */
};

struct evaluation *evaluation_new(json_t *events);

/* Returns the earliest time of the batch's events, in ms. */
int64_t evaluation_earliest(const struct evaluation *ev);

/*
 * Copies the stored history of the batch's profiles ({id: [row, ...]}
 * from history_load) into the batch, for count() to read. Without this
 * call count() reads no history at all. Call it before evaluation_run.
 */
void evaluation_history_set(struct evaluation *ev, const json_t *history);

/*
 * Resolves profiles against `loaded` (the result of profiles_load), runs
 * the rules over every event in order and returns the commit batch, with
 * the cursor set to the last event's seq. With `rules` NULL it only
 * applies identities, attributes, consent and segments. New reference.
 */
json_t *evaluation_run(struct evaluation *ev, const json_t *loaded,
                       const struct ruleset *rules, const char *cursor);

void evaluation_free(struct evaluation *ev);

/* Builds what expressions and templates see for an event and a profile:
 * {"event": ..., "profile": ..., "case": ...}. New reference. */
json_t *evaluation_context(const json_t *event, const json_t *profile);

/* Records a stage move and sets it on `profile`. `rule` names what moved
 * it, or is NULL for a profile entering a program. */
void evaluation_stage_move(struct evaluation *ev, json_t *profile,
                           const char *program, const char *to, int64_t seq,
                           int64_t when, const char *rule);

/* journey.c */

/*
 * Copies the stored journey places of the batch's profiles ({id: [row,
 * ...]} from journeys_read) into the batch. Call it before
 * evaluation_run when journeys are configured.
 */
void evaluation_journeys_set(struct evaluation *ev, const json_t *rows);

/* Moves the profile's journeys on for one event: wake-ups, exits, waits
 * for an event and entries, with `ctx` as the rules saw it. */
void journeys_collect(struct evaluation *ev, const struct ruleset *rules,
                      const char *type, json_t *ctx, json_t *profile,
                      int64_t seq, int64_t when);

/* Returns the rows the batch changed, as the commit takes them. New
 * reference. */
json_t *journeys_for_commit(struct evaluation *ev);

/* Returns the journey rows of profile `id` (journey name -> row),
 * borrowed; digest windows are rows too. */
json_t *evaluation_places(struct evaluation *ev, const char *id);

/* outcomes.c */

/* Returns 1 when a goal of `rules` reacts to events of `type`, so that
 * the event needs the rules' context. */
int outcomes_goal_reacts(const struct ruleset *rules, const char *type);

/* Records the message engagement of `event` and its goal hits, with
 * `ctx` as the rules saw it (NULL when no goal reacts to the type). */
void outcomes_collect(struct evaluation *ev, const struct ruleset *rules,
                      const char *type, const json_t *event, json_t *ctx,
                      json_t *profile, int64_t seq, int64_t time);

/* Returns the batch's goal hits as the commit takes them, each with its
 * profile after the batch's merges. New reference. */
json_t *outcomes_goals_for_commit(struct evaluation *ev);

/* Returns the size of one entry of `goals`. */
size_t outcomes_pending_size(void);

#endif
