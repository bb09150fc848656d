/*
 * The sqlite store's internals.
 *
 * Threads: the loop thread parses each operation into a `struct request`
 * and queues it to a worker. The writer owns the only write connection and
 * runs every waiting mutation in one transaction (group commit). The reader
 * owns a read-only connection. Both hand finished requests back through one
 * uv_async_t, and the loop thread runs the callbacks in the order each
 * worker finished them.
 */
#ifndef CRIER_SQLITE_STORE_H
#define CRIER_SQLITE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>
#include <uv.h>

#include <crier/crier.h>

#include "model.h"

enum request_kind {
    REQUEST_APPEND,
    REQUEST_EVENTS_READ,
    REQUEST_CURSOR_GET,
    REQUEST_PROFILES_LOAD,
    REQUEST_COMMIT,
    REQUEST_JOBS_CLAIM,
    REQUEST_JOB_UPDATE,
    REQUEST_JOBS_LIST,
    REQUEST_PROFILE_GET,
    REQUEST_TIMELINE,
    REQUEST_PROFILE_ERASE,
    REQUEST_EVENTS_EXPIRE,
    REQUEST_SEGMENT_COUNT,
    REQUEST_SEGMENT_MEMBERS,
    REQUEST_EVENTS_RECENT,
    REQUEST_PROFILES_SCAN,
    REQUEST_JOBS_SENT_COUNT,
    REQUEST_JOB_RETRY,
    REQUEST_ADDRESS_INVALIDATE,
    REQUEST_SCHEDULES_CLAIM,
    REQUEST_SCHEDULES_ADVANCE,
    REQUEST_REPORT_READ,
    REQUEST_JOURNEYS_READ,
    REQUEST_JOURNEYS_DUE,
    REQUEST_PAUSE_SET,
    REQUEST_PAUSES_READ,
    REQUEST_AUDIT_APPEND,
    REQUEST_AUDIT_LIST,
    REQUEST_SUBSCRIPTION_SET,
    REQUEST_SUBSCRIPTIONS_READ,
    REQUEST_OBJECT_PUT,
    REQUEST_OBJECTS_READ,
    REQUEST_JOBS_TALLY,
    REQUEST_SCHEMA_STATUS,
    REQUEST_JOB_SENDING_CAPPED,
    REQUEST_PACE_ACQUIRE,     /* run on the loop thread (pace.c) */
    REQUEST_PACE_RELEASE
};

/* One queued operation, its input and, once run, its outcome. */
struct request {
    struct request *next;
    enum request_kind kind;

    union {
        struct {
            struct crier_event_rec *events;   /* one allocation */
            size_t count;
        } append;
        struct {
            int64_t after_seq;
            size_t limit;
        } read;
        char *cursor_name;
        struct profile_lookup lookup;
        struct batch batch;
        struct claim_request claim;
        struct job_change change;
        struct capped_sending capped;
        struct job_filter filter;
        char *profile_id;
        struct timeline_request timeline;
        struct erase_request erase;
        struct expire_request expire;
        struct segment_query segment;
        struct recent_request recent;
        struct scan_request scan;
        struct sent_query sent;
        struct retry_request retry;
        struct address_mark mark;
        struct schedule_claim schedule_claim;
        struct schedule_advance schedule_advance;
        struct report_request report;
        struct journeys_read journeys_read;
        struct journeys_due journeys_due;
        struct pause_change pause;
        struct audit_entry audit;
        struct audit_filter audit_filter;
        struct topic_request topic;
        struct pace_request pace;
        struct {
            int found;
            int version;
        } schema;
    } input;

    crier_append_cb append_done;
    crier_store_cb done;
    void *arg;

    int status;
    json_t *result;
    size_t accepted;
    size_t duplicates;

    /* For a claim: the event its last loaded job carried (events.c). */
    struct claim_event claim_event;

    /* For a claim that the writer has committed and the reader is to
     * finish (jobs.c): the event seq of each claimed job, in the order of
     * the result's "jobs", with 0 for none. */
    int64_t *claimed_seqs;

    /* SQLite's message for a failure, which the loop thread logs. */
    char message[160];
};

/*
 * The two classes of jobs that the indexes on a job's state keep apart
 * (schema.c, migration 19). jobs_state and jobs_rule leave out the jobs
 * in flight, and jobs_lease lists those, because only they have a lease.
 * SQLite reads a partial index only for a query whose WHERE repeats the
 * index's condition, so a read by state adds the condition of its class.
 * The two split the table as long as a job has a lease exactly while it
 * is in flight, which job.c keeps.
 */
#define JOB_SETTLED "state NOT IN ('claimed', 'sending')"
#define JOB_IN_FLIGHT                                                       \
    "state IN ('claimed', 'sending') AND lease_until IS NOT NULL"

/* The columns that job_row_read reads, and the places of those that
 * give the claim order. */
#define JOB_COLUMNS                                                         \
    "id, key, rule, program, profile, event_seq, channel, template,"        \
    " recipient, state, generation, attempts, due, lease_until, owner,"     \
    " message_id, provider_id, error, last_error, created, updated,"        \
    " language, lane, priority, template_version, delivery_status,"        \
    " delivery_code, delivery_text, delivery_time"
#define JOB_COLUMN_ID       0
#define JOB_COLUMN_DUE      12
#define JOB_COLUMN_PRIORITY 23

/* The statements of jobs_list: one per filter mix (jobs.c). */
#define JOBS_LIST_VARIANTS 8

/* Every cached statement. Each connection prepares only those it uses. */
enum statement_id {
    STMT_BEGIN,
    STMT_BEGIN_READ,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_SAVEPOINT,
    STMT_RELEASE,
    STMT_ROLLBACK_TO,
    STMT_SAVEPOINT_RUN,
    STMT_RELEASE_RUN,
    STMT_ROLLBACK_TO_RUN,
    STMT_EVENT_INSERT,
    STMT_EVENTS_SELECT,
    STMT_EVENT_BODY,
    STMT_CURSOR_SELECT,
    STMT_CURSOR_UPSERT,
    STMT_PROFILE_UPSERT,
    STMT_PROFILE_SELECT,
    STMT_IDENTITY_INSERT,
    STMT_IDENTITY_OWNER,
    STMT_IDENTITIES_OF,
    STMT_STAGE_UPSERT,
    STMT_STAGE_HISTORY_INSERT,
    STMT_STAGES_OF,
    STMT_JOB_INSERT,
    STMT_JOB_SELECT,
    STMT_JOB_CHANGE_SELECT,
    STMT_JOB_CLAIM_WRITE,
    STMT_JOB_CHANGE_WRITE,    /* four variants, see job_change_write */
    STMT_JOB_CHANGE_WRITE_LAST = STMT_JOB_CHANGE_WRITE + 3,
    STMT_ATTEMPT_INSERT,
    STMT_ATTEMPTS_SELECT,
    STMT_ERASE_ATTEMPTS,
    STMT_JOBS_LANE_DUE,
    STMT_JOBS_LEASE_ENDED,
    STMT_JOBS_LIST,           /* JOBS_LIST_VARIANTS, see jobs_list_sql */
    STMT_JOBS_LIST_LAST = STMT_JOBS_LIST + JOBS_LIST_VARIANTS - 1,
    STMT_JOB_COUNTS,
    STMT_PROFILE_ATTRIBUTES,
    STMT_PROFILE_ATTRIBUTES_SET,
    STMT_PROFILE_CONSENT,
    STMT_PROFILE_CONSENT_SET,
    STMT_PROFILE_RELATED,
    STMT_PROFILE_RELATED_SET,
    STMT_PROFILE_DELETE,
    STMT_MERGE_IDENTITIES,
    STMT_MERGE_EVENTS,
    STMT_MERGE_HISTORY,
    STMT_MERGE_JOBS,
    STMT_MERGE_STAGES,
    STMT_MERGE_SUBSCRIPTIONS,
    STMT_SUBSCRIPTIONS_DELETE,
    STMT_STAGES_DELETE,
    STMT_MERGE_RECORD,
    STMT_MERGE_TARGET,
    STMT_EVENT_LINK,
    STMT_TIMELINE,
    STMT_ERASE_BEHIND,
    STMT_ERASE_EVENTS,
    STMT_ERASE_JOBS_SUPPRESS,
    STMT_ERASE_JOBS_BLANK,
    STMT_ERASE_HISTORY,
    STMT_ERASE_IDENTITIES,
    STMT_ERASE_MERGES,
    STMT_ERASE_RECORD,
    STMT_EVENTS_EXPIRE,
    STMT_SEGMENT_ENTER,
    STMT_SEGMENT_LEAVE,
    STMT_SEGMENTS_OF,
    STMT_SEGMENTS_DELETE,
    STMT_SEGMENT_COUNT,
    STMT_SEGMENT_PAGE,
    STMT_ERASE_SEGMENTS,
    STMT_EVENTS_RECENT,
    STMT_PROFILES_PAGE,
    STMT_JOBS_SENT_COUNT,
    STMT_ADDRESS_INVALID,
    STMT_ADDRESS_INVALIDATE,
    STMT_SCHEDULE_UPSERT,
    STMT_SCHEDULE_PRUNE,
    STMT_SCHEDULES_FORGET,
    STMT_SCHEDULES_DUE,
    STMT_SCHEDULE_LEASE,
    STMT_SCHEDULE_ADVANCE,
    STMT_REPORT_COUNT_ADD,
    STMT_MOVE_COUNT_ADD,
    STMT_DURATION_COUNT_ADD,
    STMT_STAGE_SINCE,
    STMT_GOAL_JOB,
    STMT_CONVERSION_INSERT,
    STMT_ENGAGEMENT_JOB,
    STMT_ENGAGEMENT_INSERT,
    STMT_DELIVERY_JOB,
    STMT_DELIVERY_SET,
    STMT_DELIVERY_INVALIDATE,
    STMT_ERASE_JOBS_COUNT,
    STMT_JOURNEY_UPSERT,
    STMT_JOURNEY_WAKE,
    STMT_JOURNEYS_FORGET,
    STMT_JOURNEYS_PROFILE,
    STMT_JOURNEYS_DUE,
    STMT_PAUSE_INSERT,
    STMT_PAUSE_DELETE,
    STMT_PAUSES_SELECT,
    STMT_AUDIT_INSERT,
    STMT_AUDIT_SELECT,
    STMT_SUBSCRIPTION_SET,
    STMT_SUBSCRIPTION_GET,
    STMT_SUBSCRIPTIONS_PROFILE,
    STMT_SUBSCRIBERS_PAGE,
    STMT_OBJECT_PUT,
    STMT_OBJECTS_ALL,
    STMT_OBJECT_ONE,
    STMT_JOBS_TALLY,
    STMT_JOBS_LAST_KEY,
    STMT_ERASE_SUBSCRIPTIONS,
    STMT_SUBSCRIPTIONS_CONFIRM,
    STMT_JOURNEYS_NEXT,
    STMT_CAP_COUNT,
    STMT_COUNT
};

/* The maximum number of distinct counters that report_sums keeps before
 * it writes them out. A run of deliveries touches a few: one per rule,
 * template, channel and outcome. */
#define REPORT_SUMS_MAX 16

/* One report_messages counter and what a run has added to it. */
struct report_sum {
    char *rule;
    char *template_name;
    char *channel;
    char *metric;
    int64_t day;
    int64_t count;
};

/*
 * The report counter additions of a run of delivery requests, which the
 * writer sums in memory and writes once, at the end of the run, inside
 * the run's savepoint (report.c, writer.c). Outside a run, `active` is 0
 * and each addition is written at once.
 */
struct report_sums {
    int active;
    size_t count;
    uint64_t added;           /* additions so far, never reset */
    struct report_sum entries[REPORT_SUMS_MAX];
};

struct connection {
    sqlite3 *db;
    sqlite3_stmt *statements[STMT_COUNT];
    struct report_sums sums;
};

/* Runs a list of requests on a worker's connection. */
struct worker;
typedef void (*worker_run_fn)(struct worker *worker, struct request *list);

struct worker {
    struct sqlite_store *store;
    struct connection conn;
    worker_run_fn run;
    size_t take_max;          /* maximum requests taken at once */
    size_t gather_min;        /* requests to wait for under load, or 0 */
    uv_thread_t thread;
    int thread_started;
    uint64_t run_ended;       /* uv_hrtime() when the last run ended */

    uv_mutex_t lock;          /* guards the fields below */
    uv_cond_t wake;
    struct request *head;
    struct request *tail;
    size_t queued;            /* requests from head to tail */
    int gathering;            /* waiting for gather_min requests */
    int stopping;
};

enum store_state {
    STORE_IDLE,               /* after init, or after a failed start */
    STORE_RUNNING,
    STORE_STOPPING,
    STORE_STOPPED
};

struct sqlite_store {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char *path;
    int lock_fd;              /* "<path>.lock", flocked; -1 when not held */
    int busy_timeout_ms;
    size_t max_batch;
    int cache_mb;             /* page cache of each connection, in MiB */
    enum store_state state;

    struct worker writer;
    struct worker reader;

    /* Finished requests on their way to the loop thread. The handle is
     * allocated apart so that it can outlive a store whose start failed. */
    uv_async_t *completion;
    uv_mutex_t completion_lock;
    struct request *finished_head;
    struct request *finished_tail;
    int workers_running;

    crier_stop_cb stop_done;
    void *stop_arg;

    /* The schema version that start found, and the one it left. */
    int schema_found;
    int schema_version;

    /* Pacing slots, used on the loop thread only. One process owns the
     * database, so they need not be shared or durable. */
    struct pace_table pace;
};

/* lock.c */
int store_lock_take(struct sqlite_store *store);
void store_lock_release(struct sqlite_store *store);

/* connection.c */
int connection_cache_set(struct connection *conn, int cache_mb,
                         char *message, size_t size);
int connection_open(struct connection *conn, const char *path, int writable,
                    int busy_timeout_ms, char *message, size_t size);
void connection_close(struct connection *conn);
sqlite3_stmt *connection_statement(struct connection *conn,
                                   enum statement_id id, const char *sql);
int connection_fail(struct connection *conn, struct request *req, int rc);
int connection_run(struct connection *conn, struct request *req,
                   enum statement_id id, const char *sql);
int statement_bind_text(sqlite3_stmt *stmt, int index, const char *text);
char *column_text_copy(sqlite3_stmt *stmt, int column, int *rc);
int store_error(int rc);

/* control.c: pauses and the audit log. */
int pause_set_run(struct connection *conn, struct request *req);
int pauses_read_run(struct connection *conn, struct request *req);
int audit_append_run(struct connection *conn, struct request *req);
int audit_list_run(struct connection *conn, struct request *req);

/* backup.c */
int store_backup(void *state, json_t *request, crier_store_cb done,
                 void *arg);

/* schema.c */
int schema_migrate(struct connection *conn, int *found, int *version,
                   char *message, size_t size);
int schema_latest(void);
const char *schema_title(int version);
int schema_peek(const char *path, int busy_timeout_ms, int *version,
                char *message, size_t size);

/* schema_status.c */
int schema_status_offline(struct sqlite_store *store, crier_store_cb done,
                          void *arg);

/* worker.c */
int worker_start(struct worker *worker);
void worker_push(struct worker *worker, struct request *req);
void worker_stop(struct worker *worker);
void worker_join(struct worker *worker);
void reader_run(struct worker *worker, struct request *list);
int completions_start(struct sqlite_store *store);
void completions_push(struct sqlite_store *store, struct request *list);
void completions_abandon(struct sqlite_store *store);

/* writer.c */
void writer_run(struct worker *worker, struct request *list);

/* pace.c */
int store_pace_acquire(void *state, json_t *json, crier_store_cb done,
                       void *arg);
int store_pace_release(void *state, json_t *json, crier_store_cb done,
                       void *arg);

/* ops.c */
extern const struct crier_store_ops sqlite_store_ops;
struct request *request_new(enum request_kind kind, crier_store_cb done,
                            void *arg);
void request_free(struct request *req);
void request_discard(struct request *req, int status);
void request_complete(struct sqlite_store *store, struct request *req);
int request_faulted(const struct request *req);
void request_log_faults(struct sqlite_store *store, const struct request *first,
                        size_t count);

/* Runs one request on `conn` and records its outcome in `req`. */
int request_execute(struct connection *conn, struct request *req);

/* events.c */
int events_append(struct connection *conn, struct request *req);
int events_read(struct connection *conn, struct request *req);
int events_recent(struct connection *conn, struct request *req);
int batch_events_append(struct connection *conn, struct request *req,
                        const struct batch_event *events, size_t count);
int cursor_get(struct connection *conn, struct request *req);
/* Reads cursor `name` into *value, 0 when never written. */
int cursor_value(struct connection *conn, struct request *req,
                 const char *name, int64_t *value);
int cursor_set(struct connection *conn, struct request *req,
               const char *name, int64_t value);
json_t *event_load(struct connection *conn, struct request *req,
                   int64_t seq, int *rc);

/* profiles.c */
int profiles_load(struct connection *conn, struct request *req);
int profiles_scan(struct connection *conn, struct request *req);
int profile_write(struct connection *conn, struct request *req,
                  const struct profile_write *profile);
int stage_move(struct connection *conn, struct request *req,
               const struct stage_move *stage);
json_t *profile_load(struct connection *conn, struct request *req,
                     const char *id, int times, int *rc);

/* jobs.c */
int job_insert(struct connection *conn, struct request *req,
               const struct job *job, int *inserted);
int jobs_claim(struct connection *conn, struct request *req);
int jobs_claim_finish(struct connection *conn, struct request *req);
int job_update(struct connection *conn, struct request *req);
int job_sending_capped(struct connection *conn, struct request *req);
int jobs_list(struct connection *conn, struct request *req);
int job_row_read(sqlite3_stmt *stmt, struct job *job);

/* claimable.c */
int jobs_claimable_read(struct connection *conn, struct request *req,
                        struct job **jobs, size_t *count);

/* history.c */
int merge_apply(struct connection *conn, struct request *req,
                const struct profile_merge *merge, int *applied);
int link_apply(struct connection *conn, struct request *req,
               const struct event_link *link);
int profile_get(struct connection *conn, struct request *req);
int timeline_read(struct connection *conn, struct request *req);
int merge_chain_end(struct connection *conn, struct request *req,
                    const char *id, char **end);

/* erase.c */
int profile_erase(struct connection *conn, struct request *req);

/* expire.c */
int events_expire(struct connection *conn, struct request *req);

/* segments.c */
int segment_apply(struct connection *conn, struct request *req,
                  const struct segment_change *change);
int segments_add_json(struct connection *conn, struct request *req,
                      const char *id, json_t *profile);
int segment_count(struct connection *conn, struct request *req);
int jobs_sent_count(struct connection *conn, struct request *req);
int job_retry_run(struct connection *conn, struct request *req);
int address_invalidate(struct connection *conn, struct request *req);
int segment_members(struct connection *conn, struct request *req);

/* journeys.c */
int journey_row_apply(struct connection *conn, struct request *req,
                      const struct journey_row *row);
int journeys_forget(struct connection *conn, struct request *req,
                    const char *profile);
int journeys_read(struct connection *conn, struct request *req);
int journeys_due(struct connection *conn, struct request *req);

/* topics.c */
int subscription_set(struct connection *conn, struct request *req);
int subscriptions_read(struct connection *conn, struct request *req);
int object_put(struct connection *conn, struct request *req);
int objects_read(struct connection *conn, struct request *req);
int jobs_tally(struct connection *conn, struct request *req);
int subscriptions_confirm(struct connection *conn, struct request *req,
                          const struct topic_request *confirm);

/* schedules.c */
int schedule_plan_apply(struct connection *conn, struct request *req,
                        const struct schedule_plan *plan);
int schedules_forget(struct connection *conn, struct request *req,
                     const char *profile);
int schedules_claim(struct connection *conn, struct request *req);
int schedules_advance(struct connection *conn, struct request *req);


/* report.c */
int report_count_add(struct connection *conn, struct request *req,
                     const char *rule, const char *template_name,
                     const char *channel, const char *metric, int64_t time);
int report_stage_move(struct connection *conn, struct request *req,
                      const struct stage_move *stage);
int goal_hit_apply(struct connection *conn, struct request *req,
                   const struct goal_hit *hit);
int engagement_apply(struct connection *conn, struct request *req,
                     const struct engagement *item);
int report_read(struct connection *conn, struct request *req);
void report_sums_begin(struct connection *conn);
int report_sums_write(struct connection *conn, struct request *req);
void report_sums_end(struct connection *conn);
/* commit.c */
int batch_commit(struct connection *conn, struct request *req);

#endif
