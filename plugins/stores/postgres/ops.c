/*
 * The store operations. Each runs on the loop thread and checks its input
 * with the parsers that the other stores use, so a bad request fails at
 * once with the same code. Then it queues the request as JSON text for
 * the SQL function of the same name (the files in sql/).
 */
#include <stdlib.h>
#include <string.h>

#include "postgres.h"


/* Queues operation `name` with `param` (taken over, NULL when out of
 * memory). */
static int
request_queue(struct pg_store *store, const char *name, char *param,
              int write, crier_store_cb done, crier_append_cb append_done,
              void *arg)
{
    struct pg_request *req;
    int rc;

    if (param == NULL)
        return CRIER_ENOMEM;
    if (store->state != PG_RUNNING) {
        free(param);
        return CRIER_ECLOSED;
    }
    req = calloc(1, sizeof(*req));
    if (req == NULL) {
        free(param);
        return CRIER_ENOMEM;
    }
    req->name = name;
    req->param = param;
    req->write = write;
    req->done = done;
    req->append_done = append_done;
    req->arg = arg;
    rc = pool_submit(store, req);
    if (rc < 0) {
        free(req->param);
        free(req);
    }
    return rc;
}


/* Builds [{source, id, type, time, received, body}, ...] for append. */
static char *
events_param(const struct crier_event_rec *events, size_t n)
{
    json_t *list = json_array();
    char *text;

    for (size_t i = 0; list != NULL && i < n; i++) {
        json_t *item = json_pack("{s:s, s:s?, s:s, s:I, s:I, s:s%}",
                                 "source", events[i].source,
                                 "id", events[i].id,
                                 "type", events[i].type,
                                 "time", (json_int_t)events[i].time_ms,
                                 "received",
                                 (json_int_t)events[i].received_ms,
                                 "body", events[i].json,
                                 events[i].json_len);

        if (json_array_append_new(list, item) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    text = list != NULL ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return text;
}


static int
store_append(void *state, const struct crier_event_rec *events, size_t n,
             crier_append_cb done, void *arg)
{
    int rc = events_check(events, n);

    if (rc < 0)
        return rc;
    return request_queue(state, "append", events_param(events, n), 1, NULL,
                         done, arg);
}


static int
store_events_read(void *state, int64_t after_seq, size_t limit,
                  crier_store_cb done, void *arg)
{
    json_t *request = json_pack("{s:I, s:I}", "after", (json_int_t)after_seq,
                                "limit", (json_int_t)(limit > INT64_MAX
                                                      ? INT64_MAX : limit));
    char *param = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;

    json_decref(request);
    return request_queue(state, "events_read", param, 0, done, NULL, arg);
}


static int
store_cursor_get(void *state, const char *name, crier_store_cb done,
                 void *arg)
{
    json_t *request;
    char *param;

    if (name == NULL || name[0] == '\0')
        return CRIER_EINVAL;
    request = json_pack("{s:s}", "name", name);
    param = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    return request_queue(state, "cursor_get", param, 0, done, NULL, arg);
}


/*
 * Defines an operation that checks its JSON request with `parse` (whose
 * output `clear` frees) and queues it for the function crier_OP.
 */
#define JSON_OPERATION(op, type, parse, clear, write)                       \
    static int                                                              \
    store_##op(void *state, json_t *json, crier_store_cb done, void *arg)   \
    {                                                                       \
        type parsed;                                                        \
        int rc = parse(json, &parsed);                                      \
                                                                            \
        if (rc < 0)                                                         \
            return rc;                                                      \
        clear(&parsed);                                                     \
        return request_queue(state, #op, request_text(json), (write),       \
                             done, NULL, arg);                              \
    }

/* Returns `json` as compact text, "{}" for no request. */
static char *
request_text(const json_t *json)
{
    return json != NULL ? json_dumps(json, JSON_COMPACT) : strdup("{}");
}


static void
id_clear(char **id)
{
    free(*id);
}

/* The parsed forms of these requests own no memory. */
static void
retry_clear(struct retry_request *request)
{
    (void)request;
}


static void
journeys_due_clear(struct journeys_due *request)
{
    (void)request;
}


/* The requests of pauses_read and backup have no members to check. */
static int
empty_parse(const json_t *json, int *out)
{
    *out = 0;
    return json == NULL || json_is_object(json) ? 0 : CRIER_EINVAL;
}


static void
empty_clear(int *parsed)
{
    (void)parsed;
}

JSON_OPERATION(profiles_load, struct profile_lookup, profile_lookup_parse,
               profile_lookup_clear, 0)
JSON_OPERATION(commit, struct batch, batch_parse, batch_clear, 1)
JSON_OPERATION(jobs_claim, struct claim_request, claim_parse, claim_clear, 1)
JSON_OPERATION(job_update, struct job_change, change_parse, change_clear, 1)
JSON_OPERATION(jobs_list, struct job_filter, filter_parse, filter_clear, 0)
JSON_OPERATION(profile_get, char *, profile_id_parse, id_clear, 0)
JSON_OPERATION(timeline, struct timeline_request, timeline_parse,
               timeline_clear, 0)
JSON_OPERATION(profile_erase, struct erase_request, erase_parse, erase_clear,
               1)
JSON_OPERATION(events_expire, struct expire_request, expire_parse,
               expire_clear, 1)
JSON_OPERATION(segment_count, struct segment_query, segment_query_parse,
               segment_query_clear, 0)
JSON_OPERATION(segment_members, struct segment_query, segment_query_parse,
               segment_query_clear, 0)
JSON_OPERATION(events_recent, struct recent_request, recent_parse,
               recent_clear, 0)
JSON_OPERATION(profiles_scan, struct scan_request, scan_parse, scan_clear, 0)
JSON_OPERATION(jobs_sent_count, struct sent_query, sent_query_parse,
               sent_query_clear, 0)
JSON_OPERATION(job_retry, struct retry_request, retry_parse, retry_clear, 1)
JSON_OPERATION(address_invalidate, struct address_mark, address_mark_parse,
               address_mark_clear, 1)
JSON_OPERATION(schedules_claim, struct schedule_claim, schedule_claim_parse,
               schedule_claim_clear, 1)
JSON_OPERATION(schedules_advance, struct schedule_advance,
               schedule_advance_parse, schedule_advance_clear, 1)
JSON_OPERATION(report_read, struct report_request, report_request_parse,
               report_request_clear, 0)
JSON_OPERATION(journeys_read, struct journeys_read, journeys_read_parse,
               journeys_read_clear, 0)
JSON_OPERATION(journeys_due, struct journeys_due, journeys_due_parse,
               journeys_due_clear, 0)
JSON_OPERATION(pause_set, struct pause_change, pause_change_parse,
               pause_change_clear, 1)
JSON_OPERATION(pauses_read, int, empty_parse, empty_clear, 0)
JSON_OPERATION(audit_append, struct audit_entry, audit_entry_parse,
               audit_entry_clear, 1)
JSON_OPERATION(audit_list, struct audit_filter, audit_filter_parse,
               audit_filter_clear, 0)
JSON_OPERATION(subscription_set, struct topic_request,
               subscription_set_parse, topic_request_clear, 1)
JSON_OPERATION(subscriptions_read, struct topic_request,
               subscriptions_read_parse, topic_request_clear, 0)
JSON_OPERATION(object_put, struct topic_request, object_put_parse,
               topic_request_clear, 1)
JSON_OPERATION(objects_read, struct topic_request, objects_read_parse,
               topic_request_clear, 0)
JSON_OPERATION(jobs_tally, struct topic_request, jobs_tally_parse,
               topic_request_clear, 0)
JSON_OPERATION(job_sending_capped, struct capped_sending, capped_parse,
               capped_clear, 1)

/* The pacing operations write, but they go with the reads: a slot is
 * wanted before a request can start, so it must not wait behind a
 * pipeline commit on connection 0, and no other mutation depends on its
 * order. Their row lock keeps the nodes' acquires on one key in turn. */
JSON_OPERATION(pace_acquire, struct pace_request, pace_acquire_parse,
               pace_request_clear, 0)
JSON_OPERATION(pace_release, struct pace_request, pace_release_parse,
               pace_request_clear, 0)


/* A PostgreSQL database has no file to copy: pg_dump, or the server's
 * own backups, copy it. */
static int
store_backup(void *state, json_t *json, crier_store_cb done, void *arg)
{
    (void)state;
    (void)json;
    (void)done;
    (void)arg;
    return CRIER_ENOTSUP;
}


/* The read-only schema_status of a store that was not started. */
struct status_job {
    uv_work_t work;
    struct pg_store *store;
    crier_store_cb done;
    void *arg;
    int status;
    int version;
    char message[256];
};


/* Connects on a worker thread, because libpq's blocking calls would
 * hold the loop. The connection creates no schema. */
static void
status_read(uv_work_t *work)
{
    struct status_job *job = work->data;
    PGconn *pg;

    pg = connection_open_schema(job->store, 0, job->message,
                                sizeof(job->message));
    if (pg == NULL) {
        job->status = CRIER_EIO;
        return;
    }
    job->status = schema_peek(pg, &job->version, job->message,
                              sizeof(job->message));
    PQfinish(pg);
}


static void
status_after(uv_work_t *work, int status)
{
    struct status_job *job = work->data;
    json_t *result = NULL;

    (void)status;
    if (job->status == 0) {
        result = schema_status_result("postgres", job->version,
                                      schema_latest(), schema_title);
        if (result == NULL)
            job->status = CRIER_ENOMEM;
    } else {
        CRIER_LOG(job->store->host, job->store->ctx, CRIER_LOG_ERROR,
                  "cannot read the schema version", "error=\"%s\"",
                  job->message);
        result = json_pack("{s:s}", "error", job->message);
    }
    job->done(job->arg, job->status, result);
    json_decref(result);
    free(job);
}


/*
 * Reports the schema without changing it when the store was only
 * initialized, as `crier migrate --status` calls it: the stored version
 * and each migration that start would apply.
 */
static int
schema_status_offline(struct pg_store *store, crier_store_cb done,
                      void *arg)
{
    struct status_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return CRIER_ENOMEM;
    job->work.data = job;
    job->store = store;
    job->done = done;
    job->arg = arg;
    if (uv_queue_work(store->host->loop(store->ctx), &job->work,
                      status_read, status_after) != 0) {
        free(job);
        return CRIER_EIO;
    }
    return 0;
}


/* On a started store, the server reads the version, and the plugin adds
 * the version that start found and the latest one it has. */
static int
store_schema_status(void *state, json_t *json, crier_store_cb done,
                    void *arg)
{
    struct pg_store *store = state;
    json_t *request;
    char *param;

    (void)json;
    if (store->state == PG_IDLE)
        return schema_status_offline(store, done, arg);
    request = json_pack("{s:i, s:i}", "found", store->schema_found,
                                "latest", schema_latest());
    param = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    return request_queue(store, "schema_status", param, 0, done, NULL, arg);
}


const struct crier_store_ops postgres_store_ops = {
    .size = sizeof(struct crier_store_ops),
    .append = store_append,
    .events_read = store_events_read,
    .cursor_get = store_cursor_get,
    .profiles_load = store_profiles_load,
    .commit = store_commit,
    .jobs_claim = store_jobs_claim,
    .job_update = store_job_update,
    .jobs_list = store_jobs_list,
    .profile_get = store_profile_get,
    .timeline = store_timeline,
    .profile_erase = store_profile_erase,
    .events_expire = store_events_expire,
    .segment_count = store_segment_count,
    .segment_members = store_segment_members,
    .events_recent = store_events_recent,
    .profiles_scan = store_profiles_scan,
    .jobs_sent_count = store_jobs_sent_count,
    .job_retry = store_job_retry,
    .address_invalidate = store_address_invalidate,
    .schedules_claim = store_schedules_claim,
    .schedules_advance = store_schedules_advance,
    .report_read = store_report_read,
    .journeys_read = store_journeys_read,
    .journeys_due = store_journeys_due,
    .pause_set = store_pause_set,
    .pauses_read = store_pauses_read,
    .audit_append = store_audit_append,
    .audit_list = store_audit_list,
    .backup = store_backup,
    .subscription_set = store_subscription_set,
    .subscriptions_read = store_subscriptions_read,
    .object_put = store_object_put,
    .objects_read = store_objects_read,
    .jobs_tally = store_jobs_tally,
    .schema_status = store_schema_status,
    .job_sending_capped = store_job_sending_capped,
    .pace_acquire = store_pace_acquire,
    .pace_release = store_pace_release
};
