/* The pipeline batch and jobs. */
#include <string.h>

#include "memory.h"


void
job_free(void *data)
{
    job_clear(data);
    g_free(data);
}


/* Adds a planned job unless its key exists, and returns 1 if it did. */
static int
job_insert(struct memory_store *store, struct job *planned)
{
    char metric[128];
    struct job *job;

    if (g_hash_table_contains(store->job_keys, planned->key))
        return 0;
    job = g_new(struct job, 1);
    *job = *planned;
    job->id = (int64_t)store->jobs->len + 1;
    g_ptr_array_add(store->jobs, job);
    g_hash_table_insert(store->job_keys, job->key, job);
    report_message_count(store, job,
                         job_plan_metric(job, metric, sizeof(metric)),
                         job->created);

    /* The stored job took over the planned job's strings. */
    memset(planned, 0, sizeof(*planned));
    return 1;
}


/*
 * Applies merges, profiles, schedule plans, journey places, stages,
 * segment changes,
 * appended events, jobs, goal hits, engagements, links and then the
 * cursor, with their report counters, as the sqlite store does.
 * merges_check has accepted the merges.
 */
static json_t *
batch_apply(struct memory_store *store, struct batch *batch)
{
    size_t planned = 0;
    size_t merged = 0;
    size_t i;

    for (i = 0; i < batch->merge_count; i++)
        merged += merge_apply(store, &batch->merges[i]);
    for (i = 0; i < batch->profile_count; i++)
        profile_write(store, &batch->profiles[i]);
    for (i = 0; i < batch->schedule_count; i++)
        schedule_plan_apply(store, &batch->schedules[i]);
    for (i = 0; i < batch->journey_count; i++)
        journey_row_apply(store, &batch->journeys[i]);
    for (i = 0; i < batch->stage_count; i++) {
        report_stage_move(store, &batch->stages[i]);
        stage_move(store, &batch->stages[i]);
    }
    for (i = 0; i < batch->segment_count; i++)
        segment_apply(store, &batch->segments[i]);
    for (i = 0; i < batch->confirmation_count; i++)
        subscriptions_confirm(store, &batch->confirmations[i]);
    for (i = 0; i < batch->event_count; i++)
        batch_event_store(store, &batch->events[i]);
    for (i = 0; i < batch->job_count; i++)
        planned += job_insert(store, &batch->jobs[i]);
    for (i = 0; i < batch->goal_count; i++)
        report_goal_hit(store, &batch->goals[i]);
    for (i = 0; i < batch->engagement_count; i++)
        report_engagement(store, &batch->engagements[i]);
    for (i = 0; i < batch->link_count; i++)
        link_apply(store, &batch->links[i]);
    if (batch->cursor_name != NULL)
        cursor_set(store, batch->cursor_name, batch->cursor_value);
    return json_pack("{s:I, s:I, s:I, s:I}", "planned", (json_int_t)planned,
                     "existing", (json_int_t)(batch->job_count - planned),
                     "merged", (json_int_t)merged, "appended",
                     (json_int_t)batch->event_count);
}


int
memory_commit(void *state, json_t *json, crier_store_cb done, void *arg)
{
    struct memory_store *store = state;
    struct batch batch;
    int rc = batch_parse(json, &batch);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        batch_clear(&batch);
        return CRIER_ECLOSED;
    }

    /* A batch read at another cursor value, or a merge into a missing
     * profile, fails the whole batch, which then stores nothing, as the
     * sqlite store's rollback does. */
    rc = batch_cursor_check(&batch, cursor_value(store, batch.cursor_name));
    if (rc == 0)
        rc = merges_check(store, &batch);
    if (rc < 0)
        completion_queue(store, done, arg, rc, NULL);
    else
        completion_queue(store, done, arg, 0, batch_apply(store, &batch));
    batch_clear(&batch);
    return 0;
}


static gint
job_order(gconstpointer a, gconstpointer b)
{
    return job_compare_due(*(struct job *const *)a,
                           *(struct job *const *)b);
}


/* Claims one job and returns its claim, or NULL when out of memory.
 * `kept` is the event of the claim's last job, which this job shares
 * when it has the same. */
static json_t *
job_claim_json(struct memory_store *store, struct job *job,
               const struct claim_request *claim, struct claim_event *kept)
{
    enum job_state was = job->state;
    json_t *event = NULL;
    json_t *profile = NULL;
    json_t *claimed;
    const char *reason;

    if (job_claim(job, claim) < 0)
        return NULL;
    if (job->event_seq > 0)
        event = claim_event_get(kept, job->event_seq);
    if (job->event_seq > 0 && event == NULL) {
        event = event_find_json(store, job->event_seq);
        claim_event_keep(kept, job->event_seq, event);
    }
    if (job->profile != NULL)
        profile = profile_find_json(store, job->profile, 0);
    claimed = job_claimed_json(job, was, event, profile);
    reason = job->to != NULL ? g_hash_table_lookup(store->invalid, job->to)
                             : NULL;
    if (claimed != NULL && reason != NULL
        && json_object_set_new(claimed, "address_invalid",
                               json_string(reason)) < 0) {
        json_decref(claimed);
        return NULL;
    }
    return claimed;
}


/* Claims the claimable jobs, earliest due first, up to the limit. */
static json_t *
jobs_claim_apply(struct memory_store *store,
                 const struct claim_request *claim)
{
    GPtrArray *claimable = g_ptr_array_new();
    json_t *result = json_pack("{s:[]}", "jobs");
    json_t *list = json_object_get(result, "jobs");
    struct claim_event kept = { 0 };
    guint i;

    for (i = 0; i < store->jobs->len; i++) {
        struct job *job = g_ptr_array_index(store->jobs, i);

        if (job_claimable(job, claim->now) && !memory_job_paused(store, job))
            g_ptr_array_add(claimable, job);
    }
    g_ptr_array_sort(claimable, job_order);
    for (i = 0; result != NULL && i < claimable->len && i < claim->limit;
         i++) {
        json_t *claimed = job_claim_json(store,
                                         g_ptr_array_index(claimable, i),
                                         claim, &kept);

        if (json_array_append_new(list, claimed) < 0) {
            json_decref(result);
            result = NULL;
        }
    }
    g_ptr_array_unref(claimable);
    claim_event_clear(&kept);
    return result;
}


int
memory_jobs_claim(void *state, json_t *request, crier_store_cb done,
                  void *arg)
{
    struct memory_store *store = state;
    struct claim_request claim;
    int rc = claim_parse(request, &claim);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        claim_clear(&claim);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, jobs_claim_apply(store, &claim));
    claim_clear(&claim);
    return 0;
}


/* Returns the job with `id`, or NULL when there is none. */
static struct job *
job_find(struct memory_store *store, int64_t id)
{
    if (id < 1 || (uint64_t)id > store->jobs->len)
        return NULL;
    return g_ptr_array_index(store->jobs, id - 1);
}


/* Applies `change` to `job` (NULL: no such job), counts it in the report
 * and queues the callback with the job's new state. */
static void
job_change_complete(struct memory_store *store, struct job *job,
                    const struct job_change *change, crier_store_cb done,
                    void *arg)
{
    json_t *result = NULL;
    int rc = job == NULL ? CRIER_ENOTFOUND : job_change_apply(job, change);

    if (rc == 0) {
        char buf[256];
        const char *metric = report_state_metric(job, buf, sizeof(buf));

        if (metric != NULL)
            report_message_count(store, job, metric, change->now);
        result = json_pack("{s:s}", "state", job_state_name(job->state));
    }
    completion_queue(store, done, arg, rc, result);
}


int
memory_job_update(void *state, json_t *update, crier_store_cb done,
                  void *arg)
{
    struct memory_store *store = state;
    struct job_change change;
    int rc = change_parse(update, &change);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        change_clear(&change);
        return CRIER_ECLOSED;
    }
    job_change_complete(store, job_find(store, change.id), &change, done,
                        arg);
    change_clear(&change);
    return 0;
}


/* Returns nonzero when `cap` has no room left for `job`. The store runs
 * one operation at a time, so the count cannot change before the mark. */
static int
cap_full(struct memory_store *store, const struct cap_limit *cap,
         const struct job *job)
{
    struct sent_query query = cap_sent_query(cap, job);
    int64_t count = 0;

    for (guint i = 0; i < store->jobs->len; i++) {
        const struct job *other = g_ptr_array_index(store->jobs, i);

        if (other != job && job_counts_as_sent(other, &query))
            count++;
    }
    return count >= cap->max;
}


int
memory_job_sending_capped(void *state, json_t *request, crier_store_cb done,
                          void *arg)
{
    struct memory_store *store = state;
    struct capped_sending capped;
    struct job_change suppression;
    struct job *job;
    int full = 0;
    int rc = capped_parse(request, &capped);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        capped_clear(&capped);
        return CRIER_ECLOSED;
    }
    job = job_find(store, capped.change.id);
    for (size_t i = 0; job != NULL && job->profile != NULL && !full
         && i < capped.cap_count; i++)
        full = cap_full(store, &capped.caps[i], job);
    suppression = capped_suppression(&capped);
    job_change_complete(store, job, full ? &suppression : &capped.change,
                        done, arg);
    capped_clear(&capped);
    return 0;
}


static int
job_matches(const struct job *job, const struct job_filter *filter)
{
    if (filter->state >= 0 && job->state != (enum job_state)filter->state)
        return 0;
    if (job->id >= filter->before)
        return 0;
    return filter->rule == NULL || strcmp(job->rule, filter->rule) == 0;
}


/* Returns the listed form of `job`, with its attempt_log when the filter
 * requests it. */
static json_t *
job_listed_build(const struct job *job, const struct job_filter *filter)
{
    json_t *listed = job_listed_json(job);

    if (listed != NULL && filter->attempts
        && json_object_set_new(listed, "attempt_log",
                               job_attempts_json(job)) < 0) {
        json_decref(listed);
        return NULL;
    }
    return listed;
}


/* Lists matching jobs, newest first, and counts every job by state. */
static json_t *
jobs_list_build(struct memory_store *store, const struct job_filter *filter)
{
    size_t counts[JOB_STATE_COUNT] = { 0 };
    json_t *result = json_pack("{s:[], s:{}}", "jobs", "counts");
    json_t *list = json_object_get(result, "jobs");
    json_t *count_map = json_object_get(result, "counts");
    guint i;
    int rc = result == NULL ? CRIER_ENOMEM : 0;

    for (i = store->jobs->len; rc == 0 && i > 0; i--) {
        const struct job *job = g_ptr_array_index(store->jobs, i - 1);

        counts[job->state]++;
        if (json_array_size(list) < filter->limit && job_matches(job, filter)
            && json_array_append_new(list, job_listed_build(job, filter))
               < 0)
            rc = CRIER_ENOMEM;
    }
    for (i = 0; rc == 0 && i < JOB_STATE_COUNT; i++) {
        if (counts[i] > 0
            && json_object_set_new(count_map, job_state_name(i),
                                   json_integer((json_int_t)counts[i])) < 0)
            rc = CRIER_ENOMEM;
    }
    if (rc < 0) {
        json_decref(result);
        return NULL;
    }
    return result;
}


int
memory_jobs_list(void *state, json_t *request, crier_store_cb done,
                 void *arg)
{
    struct memory_store *store = state;
    struct job_filter filter;
    int rc = filter_parse(request, &filter);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        filter_clear(&filter);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, jobs_list_build(store, &filter));
    filter_clear(&filter);
    return 0;
}


int
memory_jobs_sent_count(void *state, json_t *request, crier_store_cb done,
                       void *arg)
{
    struct memory_store *store = state;
    struct sent_query query;
    int64_t count = 0;
    guint i;
    int rc = sent_query_parse(request, &query);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        sent_query_clear(&query);
        return CRIER_ECLOSED;
    }
    for (i = 0; i < store->jobs->len; i++)
        count += job_counts_as_sent(g_ptr_array_index(store->jobs, i),
                                    &query);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:I}", "count", (json_int_t)count));
    sent_query_clear(&query);
    return 0;
}


int
memory_job_retry(void *state, json_t *request, crier_store_cb done,
                 void *arg)
{
    struct memory_store *store = state;
    struct retry_request retry;
    struct job *job = NULL;
    json_t *result = NULL;
    int rc = retry_parse(request, &retry);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING)
        return CRIER_ECLOSED;
    if (retry.id >= 1 && (uint64_t)retry.id <= store->jobs->len)
        job = g_ptr_array_index(store->jobs, retry.id - 1);
    rc = job == NULL ? CRIER_ENOTFOUND : job_retry(job, retry.now);
    if (rc == 0)
        result = json_pack("{s:s}", "state", job_state_name(job->state));
    completion_queue(store, done, arg, rc, result);
    return 0;
}


int
memory_address_invalidate(void *state, json_t *request, crier_store_cb done,
                          void *arg)
{
    struct memory_store *store = state;
    struct address_mark mark;
    int rc = address_mark_parse(request, &mark);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        address_mark_clear(&mark);
        return CRIER_ECLOSED;
    }
    g_hash_table_replace(store->invalid, g_strdup(mark.value),
                         g_strdup(mark.reason));
    completion_queue(store, done, arg, 0, json_object());
    address_mark_clear(&mark);
    return 0;
}
