/*
 * The store operations. Each runs on the loop thread: it checks and copies
 * its input into a request, so that a bad request fails at once, and queues
 * the request to the writer (mutations) or the reader.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"


static const char *const request_names[] = {
    [REQUEST_APPEND] = "append",
    [REQUEST_EVENTS_READ] = "events_read",
    [REQUEST_CURSOR_GET] = "cursor_get",
    [REQUEST_PROFILES_LOAD] = "profiles_load",
    [REQUEST_COMMIT] = "commit",
    [REQUEST_JOBS_CLAIM] = "jobs_claim",
    [REQUEST_JOB_UPDATE] = "job_update",
    [REQUEST_JOBS_LIST] = "jobs_list",
    [REQUEST_PROFILE_GET] = "profile_get",
    [REQUEST_TIMELINE] = "timeline",
    [REQUEST_PROFILE_ERASE] = "profile_erase",
    [REQUEST_EVENTS_EXPIRE] = "events_expire",
    [REQUEST_SEGMENT_COUNT] = "segment_count",
    [REQUEST_SEGMENT_MEMBERS] = "segment_members",
    [REQUEST_EVENTS_RECENT] = "events_recent",
    [REQUEST_PROFILES_SCAN] = "profiles_scan",
    [REQUEST_JOBS_SENT_COUNT] = "jobs_sent_count",
    [REQUEST_JOB_RETRY] = "job_retry",
    [REQUEST_ADDRESS_INVALIDATE] = "address_invalidate",
    [REQUEST_SCHEDULES_CLAIM] = "schedules_claim",
    [REQUEST_SCHEDULES_ADVANCE] = "schedules_advance",
    [REQUEST_REPORT_READ] = "report_read",
    [REQUEST_JOURNEYS_READ] = "journeys_read",
    [REQUEST_JOURNEYS_DUE] = "journeys_due",
    [REQUEST_PAUSE_SET] = "pause_set",
    [REQUEST_PAUSES_READ] = "pauses_read",
    [REQUEST_AUDIT_APPEND] = "audit_append",
    [REQUEST_AUDIT_LIST] = "audit_list",
    [REQUEST_SUBSCRIPTION_SET] = "subscription_set",
    [REQUEST_SUBSCRIPTIONS_READ] = "subscriptions_read",
    [REQUEST_OBJECT_PUT] = "object_put",
    [REQUEST_OBJECTS_READ] = "objects_read",
    [REQUEST_JOBS_TALLY] = "jobs_tally",
    [REQUEST_SCHEMA_STATUS] = "schema_status",
    [REQUEST_JOB_SENDING_CAPPED] = "job_sending_capped",
    [REQUEST_PACE_ACQUIRE] = "pace_acquire",
    [REQUEST_PACE_RELEASE] = "pace_release"
};


struct request *
request_new(enum request_kind kind, crier_store_cb done, void *arg)
{
    struct request *req = calloc(1, sizeof(*req));

    if (req == NULL)
        return NULL;
    req->kind = kind;
    req->done = done;
    req->arg = arg;
    return req;
}


void
request_free(struct request *req)
{
    switch (req->kind) {
    case REQUEST_APPEND:
        free(req->input.append.events);
        break;
    case REQUEST_CURSOR_GET:
        free(req->input.cursor_name);
        break;
    case REQUEST_PROFILES_LOAD:
        profile_lookup_clear(&req->input.lookup);
        break;
    case REQUEST_COMMIT:
        batch_clear(&req->input.batch);
        break;
    case REQUEST_JOBS_CLAIM:
        claim_clear(&req->input.claim);
        claim_event_clear(&req->claim_event);
        free(req->claimed_seqs);
        break;
    case REQUEST_JOB_UPDATE:
        change_clear(&req->input.change);
        break;
    case REQUEST_JOB_SENDING_CAPPED:
        capped_clear(&req->input.capped);
        break;
    case REQUEST_JOBS_LIST:
        filter_clear(&req->input.filter);
        break;
    case REQUEST_PROFILE_GET:
        free(req->input.profile_id);
        break;
    case REQUEST_TIMELINE:
        timeline_clear(&req->input.timeline);
        break;
    case REQUEST_PROFILE_ERASE:
        erase_clear(&req->input.erase);
        break;
    case REQUEST_EVENTS_EXPIRE:
        expire_clear(&req->input.expire);
        break;
    case REQUEST_SEGMENT_COUNT:
    case REQUEST_SEGMENT_MEMBERS:
        segment_query_clear(&req->input.segment);
        break;
    case REQUEST_EVENTS_RECENT:
        recent_clear(&req->input.recent);
        break;
    case REQUEST_PROFILES_SCAN:
        scan_clear(&req->input.scan);
        break;
    case REQUEST_JOBS_SENT_COUNT:
        sent_query_clear(&req->input.sent);
        break;
    case REQUEST_ADDRESS_INVALIDATE:
        address_mark_clear(&req->input.mark);
        break;
    case REQUEST_SCHEDULES_CLAIM:
        schedule_claim_clear(&req->input.schedule_claim);
        break;
    case REQUEST_SCHEDULES_ADVANCE:
        schedule_advance_clear(&req->input.schedule_advance);
        break;
    case REQUEST_REPORT_READ:
        report_request_clear(&req->input.report);
        break;
    case REQUEST_JOURNEYS_READ:
        journeys_read_clear(&req->input.journeys_read);
        break;
    case REQUEST_PAUSE_SET:
        pause_change_clear(&req->input.pause);
        break;
    case REQUEST_AUDIT_APPEND:
        audit_entry_clear(&req->input.audit);
        break;
    case REQUEST_AUDIT_LIST:
        audit_filter_clear(&req->input.audit_filter);
        break;
    case REQUEST_SUBSCRIPTION_SET:
    case REQUEST_SUBSCRIPTIONS_READ:
    case REQUEST_OBJECT_PUT:
    case REQUEST_OBJECTS_READ:
    case REQUEST_JOBS_TALLY:
        topic_request_clear(&req->input.topic);
        break;
    case REQUEST_PACE_ACQUIRE:
    case REQUEST_PACE_RELEASE:
        pace_request_clear(&req->input.pace);
        break;
    case REQUEST_EVENTS_READ:
    case REQUEST_JOB_RETRY:
    case REQUEST_JOURNEYS_DUE:
    case REQUEST_PAUSES_READ:
    case REQUEST_SCHEMA_STATUS:
        break;
    }
    json_decref(req->result);
    free(req);
}


/* Builds the result from the versions that start recorded, which the
 * loop thread copied into the request. */
static int
schema_status(struct request *req)
{
    req->result = json_pack("{s:s, s:i, s:i, s:i}", "store", "sqlite",
                            "version", req->input.schema.version,
                            "latest", schema_latest(),
                            "found", req->input.schema.found);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


int
request_execute(struct connection *conn, struct request *req)
{
    int rc = CRIER_EINVAL;

    switch (req->kind) {
    case REQUEST_APPEND:
        rc = events_append(conn, req);
        break;
    case REQUEST_EVENTS_READ:
        rc = events_read(conn, req);
        break;
    case REQUEST_CURSOR_GET:
        rc = cursor_get(conn, req);
        break;
    case REQUEST_PROFILES_LOAD:
        rc = profiles_load(conn, req);
        break;
    case REQUEST_COMMIT:
        rc = batch_commit(conn, req);
        break;
    case REQUEST_JOBS_CLAIM:
        rc = req->claimed_seqs != NULL ? jobs_claim_finish(conn, req)
                                       : jobs_claim(conn, req);
        break;
    case REQUEST_JOB_UPDATE:
        rc = job_update(conn, req);
        break;
    case REQUEST_JOB_SENDING_CAPPED:
        rc = job_sending_capped(conn, req);
        break;
    case REQUEST_JOBS_LIST:
        rc = jobs_list(conn, req);
        break;
    case REQUEST_PROFILE_GET:
        rc = profile_get(conn, req);
        break;
    case REQUEST_TIMELINE:
        rc = timeline_read(conn, req);
        break;
    case REQUEST_PROFILE_ERASE:
        rc = profile_erase(conn, req);
        break;
    case REQUEST_EVENTS_EXPIRE:
        rc = events_expire(conn, req);
        break;
    case REQUEST_SEGMENT_COUNT:
        rc = segment_count(conn, req);
        break;
    case REQUEST_SEGMENT_MEMBERS:
        rc = segment_members(conn, req);
        break;
    case REQUEST_EVENTS_RECENT:
        rc = events_recent(conn, req);
        break;
    case REQUEST_PROFILES_SCAN:
        rc = profiles_scan(conn, req);
        break;
    case REQUEST_JOBS_SENT_COUNT:
        rc = jobs_sent_count(conn, req);
        break;
    case REQUEST_JOB_RETRY:
        rc = job_retry_run(conn, req);
        break;
    case REQUEST_ADDRESS_INVALIDATE:
        rc = address_invalidate(conn, req);
        break;
    case REQUEST_SCHEDULES_CLAIM:
        rc = schedules_claim(conn, req);
        break;
    case REQUEST_SCHEDULES_ADVANCE:
        rc = schedules_advance(conn, req);
        break;
    case REQUEST_REPORT_READ:
        rc = report_read(conn, req);
        break;
    case REQUEST_JOURNEYS_READ:
        rc = journeys_read(conn, req);
        break;
    case REQUEST_JOURNEYS_DUE:
        rc = journeys_due(conn, req);
        break;
    case REQUEST_PAUSE_SET:
        rc = pause_set_run(conn, req);
        break;
    case REQUEST_PAUSES_READ:
        rc = pauses_read_run(conn, req);
        break;
    case REQUEST_AUDIT_APPEND:
        rc = audit_append_run(conn, req);
        break;
    case REQUEST_AUDIT_LIST:
        rc = audit_list_run(conn, req);
        break;
    case REQUEST_SUBSCRIPTION_SET:
        rc = subscription_set(conn, req);
        break;
    case REQUEST_SUBSCRIPTIONS_READ:
        rc = subscriptions_read(conn, req);
        break;
    case REQUEST_OBJECT_PUT:
        rc = object_put(conn, req);
        break;
    case REQUEST_OBJECTS_READ:
        rc = objects_read(conn, req);
        break;
    case REQUEST_JOBS_TALLY:
        rc = jobs_tally(conn, req);
        break;
    case REQUEST_SCHEMA_STATUS:
        rc = schema_status(req);
        break;
    case REQUEST_PACE_ACQUIRE:
    case REQUEST_PACE_RELEASE:
        /* The loop thread runs these, so they never reach a worker. */
        break;
    }
    if (rc < 0)
        request_discard(req, rc);
    req->status = rc;
    return rc;
}


/* Drops what a request produced, for a request that failed or whose
 * transaction did not commit. */
void
request_discard(struct request *req, int status)
{
    json_decref(req->result);
    req->result = NULL;
    if (req->kind == REQUEST_JOBS_CLAIM) {
        free(req->claimed_seqs);
        req->claimed_seqs = NULL;
        claim_event_clear(&req->claim_event);
    }
    req->accepted = 0;
    req->duplicates = 0;
    req->status = status;
}


/* Runs a finished request's callback on the loop thread. */
void
request_complete(struct sqlite_store *store, struct request *req)
{
    if (req->kind == REQUEST_APPEND)
        req->append_done(req->arg, req->status, req->accepted,
                         req->duplicates);
    else
        req->done(req->arg, req->status, req->result);
}


/* Returns nonzero when `req` failed inside SQLite, which the log reports.
 * ESTALE, ENOTFOUND and the like are expected results, not faults. */
int
request_faulted(const struct request *req)
{
    return req->status < 0 && req->message[0] != '\0';
}


/*
 * Logs one line for the `count` faulted requests of a delivery, naming
 * the first, so that a failing disk does not log once per request.
 */
void
request_log_faults(struct sqlite_store *store, const struct request *first,
                   size_t count)
{
    store->host->log(store->ctx, CRIER_LOG_ERROR, "store requests failed",
                     "count=%zu request=%s error=%s detail=\"%s\"", count,
                     request_names[first->kind], crier_errname(first->status),
                     first->message);
}


/* Queues a request, or frees it and fails when the store is not running. */
static int
request_queue(struct sqlite_store *store, struct request *req, int mutation)
{
    if (store->state != STORE_RUNNING) {
        request_free(req);
        return CRIER_ECLOSED;
    }
    worker_push(mutation ? &store->writer : &store->reader, req);
    return 0;
}


/* Copies events and their strings into one allocation. */
static struct crier_event_rec *
events_copy(const struct crier_event_rec *events, size_t n)
{
    struct crier_event_rec *copy;
    size_t size = n * sizeof(*copy);
    char *text;
    size_t i;

    for (i = 0; i < n; i++) {
        size += strlen(events[i].source) + 1 + strlen(events[i].type) + 1;
        size += events[i].json_len + 1;
        if (events[i].id != NULL)
            size += strlen(events[i].id) + 1;
    }
    copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return NULL;
    text = (char *)(copy + n);
    for (i = 0; i < n; i++) {
        copy[i] = events[i];
        copy[i].source = strcpy(text, events[i].source);
        text += strlen(text) + 1;
        copy[i].type = strcpy(text, events[i].type);
        text += strlen(text) + 1;
        memcpy(text, events[i].json, events[i].json_len);
        text[events[i].json_len] = '\0';
        copy[i].json = text;
        text += events[i].json_len + 1;
        if (events[i].id != NULL) {
            copy[i].id = strcpy(text, events[i].id);
            text += strlen(text) + 1;
        }
    }
    return copy;
}


static int
store_append(void *state, const struct crier_event_rec *events, size_t n,
             crier_append_cb done, void *arg)
{
    struct request *req;
    int rc = events_check(events, n);

    if (rc < 0)
        return rc;
    req = request_new(REQUEST_APPEND, NULL, arg);
    if (req == NULL)
        return CRIER_ENOMEM;
    req->append_done = done;
    req->input.append.count = n;
    req->input.append.events = events_copy(events, n);
    if (req->input.append.events == NULL) {
        request_free(req);
        return CRIER_ENOMEM;
    }
    return request_queue(state, req, 1);
}


static int
store_events_read(void *state, int64_t after_seq, size_t limit,
                  crier_store_cb done, void *arg)
{
    struct request *req = request_new(REQUEST_EVENTS_READ, done, arg);

    if (req == NULL)
        return CRIER_ENOMEM;
    req->input.read.after_seq = after_seq;
    req->input.read.limit = limit > INT64_MAX ? INT64_MAX : limit;
    return request_queue(state, req, 0);
}


static int
store_cursor_get(void *state, const char *name, crier_store_cb done,
                 void *arg)
{
    struct request *req;

    if (name == NULL || name[0] == '\0')
        return CRIER_EINVAL;
    req = request_new(REQUEST_CURSOR_GET, done, arg);
    if (req == NULL)
        return CRIER_ENOMEM;
    req->input.cursor_name = strdup(name);
    if (req->input.cursor_name == NULL) {
        request_free(req);
        return CRIER_ENOMEM;
    }
    return request_queue(state, req, 0);
}


/*
 * Queues a request whose input is a JSON object, parsed by `parse` into
 * the request's input union.
 */
#define JSON_OPERATION(name, kind, parse, field, mutation)                  \
    static int                                                              \
    name(void *state, json_t *json, crier_store_cb done, void *arg)         \
    {                                                                       \
        struct request *req = request_new((kind), done, arg);               \
        int rc;                                                             \
                                                                            \
        if (req == NULL)                                                    \
            return CRIER_ENOMEM;                                            \
        rc = parse(json, &req->input.field);                                \
        if (rc < 0) {                                                       \
            free(req);                                                      \
            return rc;                                                      \
        }                                                                   \
        return request_queue(state, req, (mutation));                       \
    }

JSON_OPERATION(store_profiles_load, REQUEST_PROFILES_LOAD,
               profile_lookup_parse, lookup, 0)
JSON_OPERATION(store_commit, REQUEST_COMMIT, batch_parse, batch, 1)
JSON_OPERATION(store_jobs_claim, REQUEST_JOBS_CLAIM, claim_parse, claim, 1)
JSON_OPERATION(store_job_update, REQUEST_JOB_UPDATE, change_parse, change, 1)
JSON_OPERATION(store_jobs_list, REQUEST_JOBS_LIST, filter_parse, filter, 0)
JSON_OPERATION(store_profile_get, REQUEST_PROFILE_GET, profile_id_parse,
               profile_id, 0)
JSON_OPERATION(store_timeline, REQUEST_TIMELINE, timeline_parse, timeline, 0)
JSON_OPERATION(store_profile_erase, REQUEST_PROFILE_ERASE, erase_parse, erase,
               1)
JSON_OPERATION(store_events_expire, REQUEST_EVENTS_EXPIRE, expire_parse,
               expire, 1)
JSON_OPERATION(store_segment_count, REQUEST_SEGMENT_COUNT,
               segment_query_parse, segment, 0)
JSON_OPERATION(store_segment_members, REQUEST_SEGMENT_MEMBERS,
               segment_query_parse, segment, 0)
JSON_OPERATION(store_events_recent, REQUEST_EVENTS_RECENT, recent_parse,
               recent, 0)
JSON_OPERATION(store_profiles_scan, REQUEST_PROFILES_SCAN, scan_parse, scan,
               0)
JSON_OPERATION(store_jobs_sent_count, REQUEST_JOBS_SENT_COUNT,
               sent_query_parse, sent, 0)
JSON_OPERATION(store_job_retry, REQUEST_JOB_RETRY, retry_parse, retry, 1)
JSON_OPERATION(store_address_invalidate, REQUEST_ADDRESS_INVALIDATE,
               address_mark_parse, mark, 1)
JSON_OPERATION(store_schedules_claim, REQUEST_SCHEDULES_CLAIM,
               schedule_claim_parse, schedule_claim, 1)
JSON_OPERATION(store_schedules_advance, REQUEST_SCHEDULES_ADVANCE,
               schedule_advance_parse, schedule_advance, 1)
JSON_OPERATION(store_report_read, REQUEST_REPORT_READ, report_request_parse,
               report, 0)
JSON_OPERATION(store_journeys_read, REQUEST_JOURNEYS_READ,
               journeys_read_parse, journeys_read, 0)
JSON_OPERATION(store_journeys_due, REQUEST_JOURNEYS_DUE, journeys_due_parse,
               journeys_due, 0)
JSON_OPERATION(store_pause_set, REQUEST_PAUSE_SET, pause_change_parse, pause,
               1)
JSON_OPERATION(store_audit_append, REQUEST_AUDIT_APPEND, audit_entry_parse,
               audit, 1)
JSON_OPERATION(store_audit_list, REQUEST_AUDIT_LIST, audit_filter_parse,
               audit_filter, 0)


/* Queues a pauses_read, whose request carries nothing to parse. */
static int
store_pauses_read(void *state, json_t *json, crier_store_cb done, void *arg)
{
    struct request *req = request_new(REQUEST_PAUSES_READ, done, arg);

    if (req == NULL)
        return CRIER_ENOMEM;
    return request_queue(state, req, 0);
}
JSON_OPERATION(store_subscription_set, REQUEST_SUBSCRIPTION_SET,
               subscription_set_parse, topic, 1)
JSON_OPERATION(store_subscriptions_read, REQUEST_SUBSCRIPTIONS_READ,
               subscriptions_read_parse, topic, 0)
JSON_OPERATION(store_object_put, REQUEST_OBJECT_PUT, object_put_parse, topic,
               1)
JSON_OPERATION(store_objects_read, REQUEST_OBJECTS_READ, objects_read_parse,
               topic, 0)
JSON_OPERATION(store_jobs_tally, REQUEST_JOBS_TALLY, jobs_tally_parse, topic,
               0)
JSON_OPERATION(store_job_sending_capped, REQUEST_JOB_SENDING_CAPPED,
               capped_parse, capped, 1)


static int
store_schema_status(void *state, json_t *json, crier_store_cb done,
                    void *arg)
{
    struct sqlite_store *store = state;
    struct request *req;

    (void)json;
    if (store->state == STORE_IDLE)
        return schema_status_offline(store, done, arg);
    req = request_new(REQUEST_SCHEMA_STATUS, done, arg);
    if (req == NULL)
        return CRIER_ENOMEM;
    req->input.schema.found = store->schema_found;
    req->input.schema.version = store->schema_version;
    return request_queue(store, req, 0);
}


const struct crier_store_ops sqlite_store_ops = {
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
