/* events_expire: deletes old events, as the sqlite store does it. */
#include "memory.h"


/*
 * Deletes event `seq`. Its slot stays as NULL, so that seq is still the
 * index + 1 of every other event, and its (source, id) no longer counts
 * for duplicates, as with the sqlite store's deleted row.
 */
static void
event_delete(struct memory_store *store, guint index)
{
    struct memory_event *event = g_ptr_array_index(store->events, index);

    if (event->id != NULL) {
        char *key = pair_key(event->source, event->id);

        g_hash_table_remove(store->event_ids, key);
        g_free(key);
    }
    memory_event_free(event);
    store->events->pdata[index] = NULL;
}


static int64_t
events_expire_apply(struct memory_store *store,
                    const struct expire_request *request)
{
    int64_t *cursor = g_hash_table_lookup(store->cursors, request->cursor);
    int64_t last = cursor != NULL ? *cursor : 0;
    int64_t deleted = 0;
    guint i;

    for (i = 0; i < store->events->len
                && (int64_t)i < last
                && (size_t)deleted < request->limit; i++) {
        struct memory_event *event = g_ptr_array_index(store->events, i);

        if (event == NULL || event->time_ms >= request->before
            || !expire_matches(request, event->type))
            continue;
        event_delete(store, i);
        deleted++;
    }
    return deleted;
}


int
memory_events_expire(void *state, json_t *json, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct expire_request request;
    int rc = expire_parse(json, &request);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        expire_clear(&request);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0,
                     expire_result(events_expire_apply(store, &request)));
    expire_clear(&request);
    return 0;
}
