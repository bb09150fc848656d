/*
 * Date-relative schedules: the definitions that schedule triggers
 * register, the plan rows the pipeline keeps current in the store, and
 * the firing of due rows.
 *
 * A schedule watches one date of each profile: an attribute, the
 * profile's creation, or an attribute of each dependent or case. For each
 * (schedule, profile, record) the store keeps one row with the next due
 * instant and its occurrence (the civil date it falls on). The pipeline
 * replaces a profile's rows in the same commit as the profile change, so
 * a date edited after planning is planned again and a removed record
 * loses its rows. Firing appends the events and moves the rows on in one
 * store transaction. docs/triggers/schedule.md states every rule.
 */
#ifndef CRIER_CORE_SCHEDULE_H
#define CRIER_CORE_SCHEDULE_H

#include <stdint.h>

#include <crier/host.h>
#include <jansson.h>

#include "time/civil.h"

/* The source of a schedule's date. */
enum schedule_field {
    SCHEDULE_PROFILE_ATTRIBUTE,   /* profile.<name> */
    SCHEDULE_PROFILE_CREATED,     /* profile.created, an instant */
    SCHEDULE_DEPENDENTS,          /* dependents.<name>, each dependent */
    SCHEDULE_CASES                /* cases.<name>, each case */
};

struct schedule_def {
    char *source;                 /* the trigger instance */
    char *name;
    enum schedule_field field;
    char *attribute;              /* NULL for profile.created */
    int64_t offset;               /* 0 for none */
    enum civil_unit offset_unit;
    int has_at;
    struct civil_time at;
    int yearly;
    int64_t catch_up_ms;          /* -1: "skip" */
    char *fingerprint;            /* the settings, for a row's basis */
};

/*
 * Checks one schedule of the trigger instance `source` and adds it. On a
 * bad value returns CRIER_EINVAL and fills `err` (its field names the
 * key, such as "offset").
 */
int schedule_define(const char *source, const json_t *config,
                    struct crier_input_error *err);

/*
 * Parses the `date`, `offset` and `at` of `config` into `def` with the
 * rules of a schedule, for a one-shot date that is not registered, such
 * as a journey's wait_date. Returns 0, or CRIER_EINVAL and fills `err`.
 */
int schedule_date_parse(const json_t *config, struct schedule_def *def,
                        struct crier_input_error *err);

/* Returns 1 when any schedule is defined. */
int schedule_any(void);

/* Returns every definition (struct schedule_def *), or NULL for none. */
GPtrArray *schedule_defs(void);

/*
 * Computes the first occurrence of `def` at or after `from_ms` for the
 * watched value `value` (a date "YYYY-MM-DD" or an instant in decimal
 * milliseconds) in `zone`. A one-shot schedule has one occurrence, which
 * may be before `from_ms`; the caller compares. Returns 0, or
 * CRIER_EINVAL for a value that is not a date or an instant, or a result
 * outside the valid years.
 */
int schedule_next_due(const struct schedule_def *def, const char *value,
                      GTimeZone *zone, int64_t from_ms, int64_t *due);

/* Returns the schedule `name` of `source`, or NULL. */
const struct schedule_def *schedule_find(const char *source,
                                         const char *name);

/*
 * Computes the plans of `profile` (in the form of profiles_load) for
 * every source at the crier clock's `now_ms`: the entries of a commit
 * batch's "schedules" member, appended to `out`.
 */
void schedule_plan_profile(const json_t *profile, int64_t now_ms,
                           json_t *out);

/* Reports a firing: status 0 and how many rows fired, or a negative
 * code. */
typedef void (*schedule_fire_cb)(void *arg, int status, size_t fired);

/*
 * Claims up to `limit` due rows of `source` and, in one store
 * transaction, appends an event for each and moves it to its next
 * occurrence. Returns 0 or a negative code (`done` is then not called).
 */
int schedule_fire(const char *source, size_t limit, schedule_fire_cb done,
                  void *arg);

/*
 * Starts the replanning pass when the schedules differ from those the
 * stored plans were made for (replan.c), and stops it: a page under way
 * finishes, and the next start runs the pass again.
 */
void schedule_replan_start(void);
void schedule_replan_stop(void);

/* Frees every definition, at shutdown. */
void schedule_defs_clear(void);

/*
 * For a reload, which runs the new instances' init while the old ones
 * still run. A replaced instance's definitions are detached first, so
 * that the new instance may define the same names, and then either
 * attached again (the reload failed) or retired. Retired definitions
 * stay allocated until schedule_defs_clear, because a replan pass or a
 * firing in flight may still point at them. A failed reload also drops
 * what was defined after the count it took before init.
 */
guint schedule_defs_count(void);
void schedule_defs_truncate(guint count);
void schedule_defs_detach(const char *source, GPtrArray *into);
void schedule_defs_attach(GPtrArray *detached);
void schedule_defs_retire(GPtrArray *detached);

#endif
