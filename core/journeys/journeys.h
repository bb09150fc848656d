/*
 * Journeys: lifecycle programs of several named steps from plugins.conf.
 *
 * A journey starts for a resident on an event that passes its entry
 * condition, then runs its steps in order: sends, waits, waits for an
 * event with a timeout, branches, stage moves and exits. Each resident's
 * place in a journey is a row in the store; docs/journeys.md states every
 * rule.
 */
#ifndef CRIER_CORE_JOURNEYS_H
#define CRIER_CORE_JOURNEYS_H

#include <stdint.h>

#include <glib.h>

#include "config/config.h"
#include "rules/expr.h"
#include "time/civil.h"

struct template_set;
struct ruleset;
struct program;
struct digest;
struct goal;
struct schedule_def;

enum journey_step_kind {
    JOURNEY_SEND,
    JOURNEY_WAIT,               /* a duration */
    JOURNEY_WAIT_UNTIL,         /* the next local time of day */
    JOURNEY_WAIT_WINDOW,        /* allowed days and hours */
    JOURNEY_WAIT_EVENT,         /* an event, or a timeout */
    JOURNEY_BRANCH,
    JOURNEY_STAGE,
    JOURNEY_EXIT,
    JOURNEY_WAIT_DATE           /* a date field of the profile +/- an
                                 * offset */
};

/* The re-entry policy: whether a matching event starts a new entry for a
 * resident who is or was in the journey. */
enum journey_reentry {
    JOURNEY_REENTRY_NEVER,      /* one entry per resident, ever */
    JOURNEY_REENTRY_AFTER_EXIT, /* again once the previous entry ended */
    JOURNEY_REENTRY_RESTART     /* a new entry replaces the running one */
};

struct journey_step {
    char *name;
    enum journey_step_kind kind;
    char *channel;              /* send */
    char *template_name;        /* send */
    int service;                /* send: class "service" */
    int64_t wait_ms;            /* wait; wait_event: the timeout */
    struct civil_time until;    /* wait_until */
    struct civil_window window; /* wait_window */
    GPtrArray *on;              /* wait_event: char * type patterns */
    char *timeout_step;         /* wait_event: NULL ends the path */
    struct expr *when;          /* branch */
    char *then_step;            /* branch: NULL goes to the next step */
    char *else_step;            /* branch: NULL goes to the next step */
    const struct program *program;  /* stage */
    char *stage;                /* stage */
    const struct digest *digest;    /* send = { digest }: the event goes
                                     * to this digest instead */
    struct schedule_def *date;  /* wait_date: profile.<attribute> or
                                 * profile.created, offset and at */
};

struct journey {
    char *name;
    const struct program *program;  /* the send steps' jobs carry it, so
                                     * goals of it credit them; or NULL */
    GPtrArray *on;              /* char *: entry event type patterns, or
                                 * NULL for entry on a stage only */
    const struct program *entry_program;  /* entry on a stage move to
                                           * entry_stage, or NULL */
    char *entry_stage;
    struct expr *when;          /* entry condition, NULL: always */
    enum journey_reentry reentry;
    struct expr *exit_when;     /* checked on each of the resident's
                                 * events, NULL: never */
    char *exit_segment;         /* leaving it ends the journey, or NULL */
    const struct goal *exit_goal;   /* an event that meets it ends the
                                     * journey, or NULL */
    GPtrArray *steps;           /* struct journey_step *, in order */
};

/*
 * Loads the `journeys` list of the config into rs->journeys. Programs
 * come from `rs`, so rules and programs load first. Channels are checked
 * with `channel_exists`, templates against `templates`. Returns 0 or
 * CRIER_ECONFIG with the file, line and key in cfg->error.
 */
int journeys_load(struct config *cfg, struct ruleset *rs,
                  const struct template_set *templates,
                  int (*channel_exists)(const char *name));

void journey_free(gpointer journey);

/* Returns the journey `name` of `journeys`, or NULL. */
const struct journey *journey_find(const GPtrArray *journeys,
                                   const char *name);

/* Returns the index of step `name` in `journey`, or -1. */
int journey_step_index(const struct journey *journey, const char *name);

/*
 * Returns nonzero when `rules` has journeys and the store keeps journey
 * places (wake.c). Without the store operations, journeys do not run and
 * journeys_wake_start logs why.
 */
int journeys_running(const struct ruleset *rules);

/*
 * Starts the journey clock: on every JOURNEY_WAKE_MS of the crier clock
 * it reads the due rows and, in one commit, clears their due time and
 * appends a journey.due event for each, which the pipeline then runs.
 * Stop cancels the timer; a read or commit under way still finishes and
 * then starts nothing more.
 */
void journeys_wake_start(const struct ruleset *rules);
void journeys_wake_stop(void);

/*
 * Tells the journey clock that a commit wrote a row due at `due` (-1 for
 * none), so that it reads then when that is sooner than its next read.
 */
void journeys_wake_due(int64_t due);

/* How often the journey clock looks for due rows, in crier clock ms. */
#define JOURNEY_WAKE_MS 1000

/* The maximum number of rows one wake-up reads; the rest wait for the
 * next wake-up. */
#define JOURNEY_WAKE_LIMIT 500

/* How long a shared store keeps the rows that one wake-up read from the
 * wake-ups of other nodes, in ms. A wake-up whose commit fails leaves
 * its rows to be read again after this. */
#define JOURNEY_WAKE_LEASE_MS 30000

#endif
