/*
 * Bulletins: one template sent to the subscribers of a topic, the members
 * of a segment, or both intersected, now or at a set time, at a set pace
 * (docs/topics.md).
 *
 * A bulletin is stored as an object of kind "bulletin" with what the
 * admin set (template, audience, send_at, rate, state). Its recipients are
 * planned a batch at a time from a keyset scan, one job per (bulletin,
 * profile) under the key "bulletin:<id>/<profile>", so a rerun after a
 * crash or a resume never plans a second message. Progress is counted
 * from those jobs, never from a saved position: the planner starts after
 * the highest profile id that has a job.
 */
#ifndef CRIER_CORE_BULLETINS_H
#define CRIER_CORE_BULLETINS_H

#include <stdint.h>

#include <jansson.h>

#include "http/http.h"

/* The rule name of a bulletin's jobs is this prefix and its id. */
#define BULLETIN_RULE_PREFIX "bulletin:"

/* The claim lane of bulletin jobs, after service and outreach. */
#define BULLETIN_LANE 2

/* Recipients read and planned in one turn of the planner. */
#define BULLETIN_BATCH 500

struct bulletin {
    char *id;
    char *template_name;
    char *topic;                /* or NULL */
    char *segment;              /* or NULL */
    char *channel;              /* a channel instance */
    int64_t send_at;
    int64_t rate;               /* messages per hour, 0 for no limit */
    char *state;                /* "sending", "paused" or "cancelled" */
    int scanned;                /* every recipient was considered */
    int stored;                 /* the store has it, so it may plan */
    int64_t created;
    int64_t updated;
    /* The pace's origin as last read from the store (pace.c): by crier
     * time `paced_from` the bulletin had `paced_count` jobs that count
     * toward its rate, and from then on the rate allows one more
     * message and `rate` an hour. */
    int64_t paced_from;
    int64_t paced_count;

    /* The planner's state, in memory only. */
    char *after;                /* the last profile considered */
    int positioned;             /* `after` was read from the jobs */
    int64_t counted_seen;       /* bulletin_counted at this node's last
                                 * tally plus the new jobs of its turns
                                 * since, used to skip turns that could
                                 * plan nothing */
    int busy;                   /* a turn is under way */
};

/* Reads the stored bulletins and starts the planner. */
void bulletins_start(void);

/*
 * Reads every stored bulletin into memory, then wakes the planner
 * (registry.c). A bulletin already in memory keeps its planner state and
 * takes the state, pace and send time of a newer stored copy, which
 * another node on a shared store wrote. A read already under way makes
 * this call do nothing.
 */
void bulletins_restore(void);

/* How often the planner reads the stored bulletins again, in crier clock
 * ms, so that a node sends and plans the bulletins that another node on a
 * shared store created or changed. */
#define BULLETIN_REFRESH_MS 5000

/* Returns 1 once bulletins_restore has read the stored bulletins. */
int bulletins_ready(void);

/* Stops the planner; a turn under way finishes in the store. */
void bulletins_stop(void);

/* Frees every bulletin. */
void bulletins_release(void);

/* Returns the bulletin `id`, or NULL. */
struct bulletin *bulletin_find(const char *id);

/*
 * Checks a POST /v1/bulletins body and creates the bulletin in memory.
 * Returns it, or NULL with a message naming the invalid member in
 * `error` and that member in `field`.
 */
struct bulletin *bulletin_create(const json_t *body, const char **field,
                                 char *error, size_t size);

/* Writes the bulletin to the store; `done` gets the store's status. */
void bulletin_save(struct bulletin *b, void (*done)(void *arg, int status),
                   void *arg);

/* Returns what the admin API shows of the bulletin, without progress (a
 * new reference). */
json_t *bulletin_json(const struct bulletin *b);

/* Appends every bulletin in id order to `list`. */
void bulletins_each(void (*fn)(struct bulletin *b, void *arg), void *arg);

/* Wakes the planner, after a bulletin was created, resumed or re-paced. */
void bulletins_kick(void);

/* Adds /v1/bulletins and /v1/bulletins/{id}[/pause|/resume|/cancel]. */
int bulletin_routes_add(struct http_server *http);

/*
 * The claim-time check of a bulletin's job, beside the channel consent:
 * the bulletin must be sending, and for a topic the recipient's
 * subscription on the job's channel must be confirmed. `done` gets NULL
 * to go on, or a reason to suppress. A `hold_ms` above 0 plans the job
 * again at that instant (a paused bulletin).
 */
typedef void (*bulletin_check_cb)(void *arg, const char *reason,
                                  int64_t hold_ms);
void bulletin_job_check(const json_t *job, bulletin_check_cb done,
                        void *arg);

/* Returns nonzero when the job's rule names a bulletin. */
int bulletin_job(const json_t *job);

#endif
