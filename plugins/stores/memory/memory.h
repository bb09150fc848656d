/*
 * The memory store's internals.
 *
 * Everything lives in GLib tables on the loop thread and nothing is
 * persisted. Each operation takes effect at once, but its callback is
 * queued and runs on a later loop turn, as with a real store, so a caller
 * never sees a callback run inside its own call.
 */
#ifndef CRIER_MEMORY_STORE_H
#define CRIER_MEMORY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <uv.h>

#include <crier/crier.h>

#include "model.h"

struct memory_event {
    int64_t seq;
    char *source;
    char *id;
    char *type;
    int64_t time_ms;
    int64_t received_ms;
    char *body;
    size_t body_len;
    char *profile;            /* the linked profile, or NULL */
};

struct memory_profile {
    char *id;
    int64_t created;
    int64_t updated;
    char *attributes;         /* compact JSON text */
    char *consent;            /* compact JSON text, or NULL for {} */
    char *related;            /* compact JSON text, or NULL for none */
    GPtrArray *identities;    /* struct identity *, in the order added */
};

struct memory_stage {
    char *stage;
    int64_t since;
};

/* A finished operation waiting for its callback. */
struct completion {
    struct completion *next;
    crier_append_cb append_done;
    crier_store_cb done;
    void *arg;
    int status;
    json_t *result;
    size_t accepted;
    size_t duplicates;
};

enum memory_state {
    MEMORY_IDLE,
    MEMORY_RUNNING,
    MEMORY_STOPPING,
    MEMORY_STOPPED
};

struct memory_store {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    enum memory_state state;

    GPtrArray *events;        /* struct memory_event *, seq = index + 1,
                               * NULL where events_expire deleted one */
    GHashTable *event_ids;    /* (source, id) key -> NULL */
    GHashTable *cursors;      /* name -> int64_t * */
    GHashTable *profiles;     /* id -> struct memory_profile * */
    GHashTable *owners;       /* (kind, value) key -> profile id */
    GHashTable *stages;       /* profile id -> (program -> stage) */
    GPtrArray *history;       /* struct stage_move *, oldest first */
    GPtrArray *jobs;          /* struct job *, id = index + 1 */
    GHashTable *job_keys;     /* key -> struct job * */
    GHashTable *invalid;      /* address value -> reason */
    GHashTable *merges;       /* merged-away profile id -> id merged into */
    GArray *erasures;         /* int64_t: the time of each erase */
    GHashTable *segments;     /* segment -> (profile id -> int64_t since) */
    GHashTable *schedules;    /* row key -> struct schedule_row * */
    GHashTable *journeys;     /* journey, profile -> struct journey_row * */
    GHashTable *subscriptions; /* profile, topic, channel ->
                                * struct memory_subscription * */
    GHashTable *objects;      /* kind, id -> compact JSON text */
    GTree *report_messages;   /* report counters (report.c) */
    GTree *report_moves;
    GTree *report_durations;
    GHashTable *report_once;  /* conversions and engagements counted */
    GPtrArray *pauses;        /* struct pause_change *, unordered */
    GPtrArray *audit;         /* struct audit_entry *, id = index + 1 */
    struct pace_table pace;   /* pacing slots (pace.c) */

    uv_idle_t idle;           /* runs queued callbacks on the next turn */
    struct completion *head;
    struct completion *tail;

    crier_stop_cb stop_done;
    void *stop_arg;
};

/* memory.c */
void completion_queue(struct memory_store *store, crier_store_cb done,
                      void *arg, int status, json_t *result);
void completion_queue_append(struct memory_store *store,
                            crier_append_cb done, void *arg, int status,
                            size_t accepted, size_t duplicates);
char *pair_key(const char *first, const char *second);

/* control.c: pauses and the audit log. */
void memory_control_init(struct memory_store *store);
void memory_control_destroy(struct memory_store *store);
/* Returns 1 when a paused scope covers `job`. */
int memory_job_paused(struct memory_store *store, const struct job *job);
int memory_pause_set(void *state, json_t *request, crier_store_cb done,
                     void *arg);
int memory_pauses_read(void *state, json_t *request, crier_store_cb done,
                       void *arg);
int memory_audit_append(void *state, json_t *request, crier_store_cb done,
                        void *arg);
int memory_audit_list(void *state, json_t *request, crier_store_cb done,
                      void *arg);
int memory_backup(void *state, json_t *request, crier_store_cb done,
                  void *arg);

/* pace.c */
int memory_pace_acquire(void *state, json_t *request, crier_store_cb done,
                        void *arg);
int memory_pace_release(void *state, json_t *request, crier_store_cb done,
                        void *arg);

/* events.c */
int memory_append(void *state, const struct crier_event_rec *events,
                  size_t n, crier_append_cb done, void *arg);
int memory_events_read(void *state, int64_t after_seq, size_t limit,
                       crier_store_cb done, void *arg);
int memory_cursor_get(void *state, const char *name, crier_store_cb done,
                      void *arg);
void cursor_set(struct memory_store *store, const char *name,
                int64_t value);
/* Returns the value of cursor `name`, 0 when never written or NULL. */
int64_t cursor_value(struct memory_store *store, const char *name);
void batch_event_store(struct memory_store *store,
                       const struct batch_event *event);
json_t *event_find_json(struct memory_store *store, int64_t seq);
int memory_events_recent(void *state, json_t *request, crier_store_cb done,
                         void *arg);
void memory_event_free(void *event);

/* profiles.c */
int memory_profiles_load(void *state, json_t *request, crier_store_cb done,
                         void *arg);
int memory_profiles_scan(void *state, json_t *request, crier_store_cb done,
                         void *arg);
void profile_write(struct memory_store *store,
                   const struct profile_write *write);
void stage_move(struct memory_store *store, const struct stage_move *move);
json_t *profile_find_json(struct memory_store *store, const char *id,
                          int times);
void memory_profile_free(void *profile);
void stage_move_free(void *move);
void identity_free(void *identity);
void memory_stage_free(void *stage);

/* history.c: merges, event links, profile_get and timeline */
/* segments.c */
void segment_apply(struct memory_store *store,
                   const struct segment_change *change);
void segments_forget(struct memory_store *store, const char *profile);
int segments_add_json(struct memory_store *store, const char *id,
                      json_t *profile);
int memory_segment_count(void *state, json_t *request, crier_store_cb done,
                         void *arg);
int memory_segment_members(void *state, json_t *request,
                           crier_store_cb done, void *arg);

int merges_check(struct memory_store *store, const struct batch *batch);
int merge_apply(struct memory_store *store,
                const struct profile_merge *merge);
void link_apply(struct memory_store *store, const struct event_link *link);
int memory_profile_get(void *state, json_t *request, crier_store_cb done,
                       void *arg);
int memory_timeline(void *state, json_t *request, crier_store_cb done,
                    void *arg);
const char *merge_chain_end(struct memory_store *store, const char *id);

/* journeys.c */
void journey_row_apply(struct memory_store *store,
                       const struct journey_row *row);
void journeys_forget(struct memory_store *store, const char *profile);
void journey_row_free(void *row);
int memory_journeys_read(void *state, json_t *request, crier_store_cb done,
                         void *arg);
int memory_journeys_due(void *state, json_t *request, crier_store_cb done,
                        void *arg);

/* topics.c */
struct memory_subscription {
    char *profile;
    char *topic;
    char *channel;
    char *status;
    char *origin;
    int64_t created;
    int64_t updated;
};

void memory_subscription_free(void *subscription);
void subscriptions_forget(struct memory_store *store, const char *profile);
void subscriptions_move(struct memory_store *store, const char *from,
                        const char *into);
void subscriptions_confirm(struct memory_store *store,
                           const struct topic_request *confirm);
int memory_subscription_set(void *state, json_t *request,
                            crier_store_cb done, void *arg);
int memory_subscriptions_read(void *state, json_t *request,
                              crier_store_cb done, void *arg);
int memory_object_put(void *state, json_t *request, crier_store_cb done,
                      void *arg);
int memory_objects_read(void *state, json_t *request, crier_store_cb done,
                        void *arg);
int memory_jobs_tally(void *state, json_t *request, crier_store_cb done,
                      void *arg);

/* schedules.c */
void schedule_plan_apply(struct memory_store *store,
                         const struct schedule_plan *plan);
void schedules_forget(struct memory_store *store, const char *profile);
void schedule_row_free(void *row);
int memory_schedules_claim(void *state, json_t *request, crier_store_cb done,
                           void *arg);
int memory_schedules_advance(void *state, json_t *request,
                             crier_store_cb done, void *arg);

/* erase.c */
int memory_profile_erase(void *state, json_t *request, crier_store_cb done,
                         void *arg);

/* expire.c */
int memory_events_expire(void *state, json_t *request, crier_store_cb done,
                         void *arg);

/* jobs.c: the pipeline batch and jobs */
int memory_commit(void *state, json_t *batch, crier_store_cb done,
                  void *arg);
int memory_jobs_claim(void *state, json_t *request, crier_store_cb done,
                      void *arg);
int memory_job_update(void *state, json_t *update, crier_store_cb done,
                      void *arg);
int memory_jobs_sent_count(void *state, json_t *request, crier_store_cb done,
                           void *arg);
int memory_job_sending_capped(void *state, json_t *request,
                              crier_store_cb done, void *arg);
int memory_address_invalidate(void *state, json_t *request,
                              crier_store_cb done, void *arg);
int memory_job_retry(void *state, json_t *request, crier_store_cb done,
                     void *arg);
int memory_jobs_list(void *state, json_t *request, crier_store_cb done,
                     void *arg);
void job_free(void *job);

/* report.c */
GTree *report_tree_new(void);
/* Adds one to the job's message counter `metric` on the day of `time`. */
void report_message_count(struct memory_store *store, const struct job *job,
                          const char *metric, int64_t time);
/* Counts a stage move; call it before the move is stored. */
void report_stage_move(struct memory_store *store,
                       const struct stage_move *move);
void report_goal_hit(struct memory_store *store, const struct goal_hit *hit);
void report_engagement(struct memory_store *store,
                       const struct engagement *item);
int memory_report_read(void *state, json_t *request, crier_store_cb done,
                       void *arg);
#endif
