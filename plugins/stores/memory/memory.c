/*
 * The memory store plugin: the same operations and results as the sqlite
 * store, kept in memory only. Core tests use it to run without a disk, and
 * the store conformance suite runs against it to show that the suite does
 * not depend on one store.
 *
 *     store = { plugin = "memory"; };
 */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


/*
 * Returns a table key for a pair of strings, such as (source, id). The
 * first string's length leads the key, so no two pairs give the same key.
 */
char *
pair_key(const char *first, const char *second)
{
    return g_strdup_printf("%zu:%s%s", strlen(first), first, second);
}


static void
completion_push(struct memory_store *store, struct completion *entry)
{
    if (store->tail != NULL)
        store->tail->next = entry;
    else
        store->head = entry;
    store->tail = entry;
}


static void completions_run(uv_idle_t *idle);


/* Queues a JSON operation's outcome and takes over the reference to
 * `result`. */
void
completion_queue(struct memory_store *store, crier_store_cb done, void *arg,
                 int status, json_t *result)
{
    struct completion *entry = g_new0(struct completion, 1);

    entry->done = done;
    entry->arg = arg;
    entry->status = status;
    entry->result = result;
    if (status == 0 && result == NULL)
        entry->status = CRIER_ENOMEM;
    if (entry->status < 0) {
        json_decref(result);
        entry->result = NULL;
    }
    completion_push(store, entry);
    uv_idle_start(&store->idle, completions_run);
}


void
completion_queue_append(struct memory_store *store, crier_append_cb done,
                        void *arg, int status, size_t accepted,
                        size_t duplicates)
{
    struct completion *entry = g_new0(struct completion, 1);

    entry->append_done = done;
    entry->arg = arg;
    entry->status = status;
    entry->accepted = accepted;
    entry->duplicates = duplicates;
    completion_push(store, entry);
    uv_idle_start(&store->idle, completions_run);
}


static void
idle_closed(uv_handle_t *handle)
{
    struct memory_store *store = handle->data;

    store->state = MEMORY_STOPPED;
    store->stop_done(store->stop_arg);
}


/*
 * Runs the callbacks queued before this turn. Callbacks queued while they
 * run wait for the next turn, so a callback never nests in another.
 */
static void
completions_run(uv_idle_t *idle)
{
    struct memory_store *store = idle->data;
    struct completion *entry = store->head;
    struct completion *next;

    store->head = NULL;
    store->tail = NULL;
    for (; entry != NULL; entry = next) {
        next = entry->next;
        if (entry->append_done != NULL)
            entry->append_done(entry->arg, entry->status, entry->accepted,
                               entry->duplicates);
        else
            entry->done(entry->arg, entry->status, entry->result);
        json_decref(entry->result);
        g_free(entry);
    }
    if (store->head != NULL)
        return;
    uv_idle_stop(idle);
    if (store->state == MEMORY_STOPPING)
        uv_close((uv_handle_t *)idle, idle_closed);
}


static int
memory_init(struct crier_ctx *ctx, const struct crier_host *host,
            const json_t *config, void **state)
{
    struct memory_store *store;
    const char *key;
    json_t *value;
    int failed = 0;

    json_object_foreach((json_t *)config, key, value) {
        if (strcmp(key, "plugin") == 0)
            continue;
        host->config_error(ctx, key, "unknown setting; the memory store "
                           "has no settings");
        failed = 1;
    }
    if (failed)
        return CRIER_ECONFIG;

    store = g_new0(struct memory_store, 1);
    store->ctx = ctx;
    store->host = host;
    store->events = g_ptr_array_new_with_free_func(memory_event_free);
    store->event_ids = g_hash_table_new_full(g_str_hash, g_str_equal,
                                             g_free, NULL);
    store->cursors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           g_free);
    store->profiles = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                            memory_profile_free);
    store->owners = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          g_free);
    store->stages = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)g_hash_table_unref);
    store->history = g_ptr_array_new_with_free_func(stage_move_free);
    store->jobs = g_ptr_array_new_with_free_func(job_free);
    store->job_keys = g_hash_table_new(g_str_hash, g_str_equal);
    store->invalid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           g_free);
    store->merges = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          g_free);
    store->erasures = g_array_new(FALSE, FALSE, sizeof(int64_t));
    store->report_messages = report_tree_new();
    store->report_moves = report_tree_new();
    store->report_durations = report_tree_new();
    store->report_once = g_hash_table_new_full(g_str_hash, g_str_equal,
                                               g_free, NULL);
    store->segments = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify)
                                            g_hash_table_unref);
    store->schedules = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             schedule_row_free);
    store->journeys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                            journey_row_free);
    memory_control_init(store);
    pace_table_init(&store->pace);
    store->subscriptions = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                 g_free,
                                                 memory_subscription_free);
    store->objects = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           g_free);
    *state = store;
    return 0;
}


static int
memory_start(void *state)
{
    struct memory_store *store = state;
    uv_loop_t *loop = store->host->loop(store->ctx);

    if (uv_idle_init(loop, &store->idle) != 0)
        return CRIER_EIO;
    store->idle.data = store;
    store->state = MEMORY_RUNNING;
    return 0;
}


/* Runs the callbacks still queued, then closes the handle and reports. */
static void
memory_stop(void *state, crier_stop_cb done, void *arg)
{
    struct memory_store *store = state;

    if (store->state != MEMORY_RUNNING) {
        done(arg);
        return;
    }
    store->state = MEMORY_STOPPING;
    store->stop_done = done;
    store->stop_arg = arg;
    if (store->head == NULL)
        uv_close((uv_handle_t *)&store->idle, idle_closed);
}


static void
memory_destroy(void *state)
{
    struct memory_store *store = state;

    memory_control_destroy(store);
    pace_table_free(&store->pace);
    g_array_unref(store->erasures);
    g_tree_unref(store->report_messages);
    g_tree_unref(store->report_moves);
    g_tree_unref(store->report_durations);
    g_hash_table_unref(store->report_once);
    g_hash_table_unref(store->merges);
    g_hash_table_unref(store->job_keys);
    g_hash_table_unref(store->invalid);
    g_ptr_array_unref(store->jobs);
    g_ptr_array_unref(store->history);
    g_hash_table_unref(store->stages);
    g_hash_table_unref(store->segments);
    g_hash_table_unref(store->schedules);
    g_hash_table_unref(store->journeys);
    g_hash_table_unref(store->subscriptions);
    g_hash_table_unref(store->objects);
    g_hash_table_unref(store->owners);
    g_hash_table_unref(store->profiles);
    g_hash_table_unref(store->cursors);
    g_hash_table_unref(store->event_ids);
    g_ptr_array_unref(store->events);
    g_free(store);
}


/* The memory store keeps no schema, so every version is 0. */
static int
memory_schema_status(void *state, json_t *request, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;

    (void)request;
    if (store->state != MEMORY_RUNNING)
        return CRIER_ECLOSED;
    completion_queue(store, done, arg, 0,
                     json_pack("{s:s, s:i, s:i, s:i}", "store", "memory",
                               "version", 0, "latest", 0, "found", 0));
    return 0;
}


const struct crier_store_ops memory_ops = {
    .size = sizeof(struct crier_store_ops),
    .append = memory_append,
    .events_read = memory_events_read,
    .cursor_get = memory_cursor_get,
    .profiles_load = memory_profiles_load,
    .commit = memory_commit,
    .jobs_claim = memory_jobs_claim,
    .job_update = memory_job_update,
    .jobs_list = memory_jobs_list,
    .profile_get = memory_profile_get,
    .timeline = memory_timeline,
    .profile_erase = memory_profile_erase,
    .events_expire = memory_events_expire,
    .segment_count = memory_segment_count,
    .segment_members = memory_segment_members,
    .events_recent = memory_events_recent,
    .profiles_scan = memory_profiles_scan,
    .jobs_sent_count = memory_jobs_sent_count,
    .job_retry = memory_job_retry,
    .address_invalidate = memory_address_invalidate,
    .schedules_claim = memory_schedules_claim,
    .schedules_advance = memory_schedules_advance,
    .report_read = memory_report_read,
    .journeys_read = memory_journeys_read,
    .journeys_due = memory_journeys_due,
    .pause_set = memory_pause_set,
    .pauses_read = memory_pauses_read,
    .audit_append = memory_audit_append,
    .audit_list = memory_audit_list,
    .backup = memory_backup,
    .subscription_set = memory_subscription_set,
    .subscriptions_read = memory_subscriptions_read,
    .object_put = memory_object_put,
    .objects_read = memory_objects_read,
    .jobs_tally = memory_jobs_tally,
    .schema_status = memory_schema_status,
    .job_sending_capped = memory_job_sending_capped,
    .pace_acquire = memory_pace_acquire,
    .pace_release = memory_pace_release
};


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_STORE,
    .name = "memory",
    .version = "0.1.0",
    .summary = "in-memory store for tests; keeps nothing across restarts",
    .init = memory_init,
    .start = memory_start,
    .stop = memory_stop,
    .destroy = memory_destroy,
    .ops = &memory_ops
};
