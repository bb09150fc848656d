/* Events and cursors. */
#include <string.h>

#include "memory.h"


void
memory_event_free(void *data)
{
    struct memory_event *event = data;

    if (event == NULL)
        return;
    g_free(event->source);
    g_free(event->id);
    g_free(event->type);
    g_free(event->body);
    g_free(event->profile);
    g_free(event);
}


static void
event_store(struct memory_store *store, const struct crier_event_rec *rec)
{
    struct memory_event *event = g_new0(struct memory_event, 1);

    event->seq = (int64_t)store->events->len + 1;
    event->source = g_strdup(rec->source);
    event->id = g_strdup(rec->id);
    event->type = g_strdup(rec->type);
    event->time_ms = rec->time_ms;
    event->received_ms = rec->received_ms;
    event->body = g_strndup(rec->json, rec->json_len);
    event->body_len = rec->json_len;
    g_ptr_array_add(store->events, event);
}


/* Stores an event of a commit batch, which is never a duplicate. */
void
batch_event_store(struct memory_store *store, const struct batch_event *event)
{
    struct crier_event_rec rec = {
        .source = event->source,
        .type = event->type,
        .time_ms = event->time,
        .received_ms = event->time,
        .json = event->body,
        .json_len = strlen(event->body)
    };

    event_store(store, &rec);
}


/* Stores the new events of a batch. An event without an id is always
 * new. */
int
memory_append(void *state, const struct crier_event_rec *events, size_t n,
              crier_append_cb done, void *arg)
{
    struct memory_store *store = state;
    size_t accepted = 0;
    size_t i;
    int rc = events_check(events, n);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING)
        return CRIER_ECLOSED;
    for (i = 0; i < n; i++) {
        if (events[i].id != NULL) {
            char *key = pair_key(events[i].source, events[i].id);

            if (!g_hash_table_add(store->event_ids, key))
                continue;
        }
        event_store(store, &events[i]);
        accepted++;
    }
    completion_queue_append(store, done, arg, 0, accepted, n - accepted);
    return 0;
}


static json_t *
memory_event_json(const struct memory_event *event)
{
    return event_json(event->seq, event->source, event->id, event->type,
                      event->time_ms, event->body, event->body_len);
}


int
memory_events_read(void *state, int64_t after_seq, size_t limit,
                   crier_store_cb done, void *arg)
{
    struct memory_store *store = state;
    json_t *result;
    json_t *list;
    size_t i;

    if (store->state != MEMORY_RUNNING)
        return CRIER_ECLOSED;
    result = json_pack("{s:[]}", "events");
    list = json_object_get(result, "events");
    i = after_seq > 0 ? (size_t)after_seq : 0;
    for (; result != NULL && i < store->events->len && limit > 0; i++) {
        struct memory_event *event = g_ptr_array_index(store->events, i);

        if (event == NULL)
            continue;
        if (json_array_append_new(list, memory_event_json(event)) < 0) {
            json_decref(result);
            result = NULL;
        }
        limit--;
    }
    completion_queue(store, done, arg, 0, result);
    return 0;
}


/* Returns the stored JSON of event `seq`, or json null when there is
 * none. */
json_t *
event_find_json(struct memory_store *store, int64_t seq)
{
    struct memory_event *event;

    if (seq < 1 || (uint64_t)seq > store->events->len)
        return json_null();
    event = g_ptr_array_index(store->events, seq - 1);
    if (event == NULL)
        return json_null();
    return event_body_json(event->body, event->body_len);
}


int
memory_cursor_get(void *state, const char *name, crier_store_cb done,
                  void *arg)
{
    struct memory_store *store = state;
    int64_t *value;

    if (name == NULL || name[0] == '\0')
        return CRIER_EINVAL;
    if (store->state != MEMORY_RUNNING)
        return CRIER_ECLOSED;
    value = g_hash_table_lookup(store->cursors, name);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:I}", "value",
                               (json_int_t)(value != NULL ? *value : 0)));
    return 0;
}


int64_t
cursor_value(struct memory_store *store, const char *name)
{
    int64_t *value = name != NULL
                     ? g_hash_table_lookup(store->cursors, name) : NULL;

    return value != NULL ? *value : 0;
}


void
cursor_set(struct memory_store *store, const char *name, int64_t value)
{
    int64_t *copy = g_new(int64_t, 1);

    *copy = value;
    g_hash_table_replace(store->cursors, g_strdup(name), copy);
}


/* Orders events newest first: by time, then by seq, both descending. */
static gint
event_newest_first(gconstpointer a, gconstpointer b)
{
    const struct memory_event *x = *(const struct memory_event *const *) a;
    const struct memory_event *y = *(const struct memory_event *const *) b;

    if (x->time_ms != y->time_ms)
        return x->time_ms > y->time_ms ? -1 : 1;
    return (x->seq < y->seq) - (x->seq > y->seq);
}


/* Fills the result's lists: each requested profile's events from `since`
 * on, newest first, at most `limit`. */
static json_t *
recent_build(struct memory_store *store, const struct recent_request *query)
{
    json_t *result = recent_result_new(query);
    json_t *profiles = json_object_get(result, "profiles");
    GHashTable *found = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                              (GDestroyNotify)
                                              g_ptr_array_unref);
    GHashTableIter iter;
    gpointer id;
    gpointer events;

    /* NOTE: with no index this scans every stored event; see "Rules and
     * expressions" in docs/KNOWN_LIMITS.md. */
    for (guint i = 0; result != NULL && i < store->events->len; i++) {
        struct memory_event *event = g_ptr_array_index(store->events, i);
        GPtrArray *list;

        if (event == NULL || event->profile == NULL ||
            event->time_ms < query->since ||
            json_object_get(profiles, event->profile) == NULL)
            continue;
        list = g_hash_table_lookup(found, event->profile);
        if (list == NULL) {
            list = g_ptr_array_new();
            g_hash_table_insert(found, event->profile, list);
        }
        g_ptr_array_add(list, event);
    }

    g_hash_table_iter_init(&iter, found);
    while (result != NULL && g_hash_table_iter_next(&iter, &id, &events)) {
        GPtrArray *list = events;
        json_t *out = json_object_get(profiles, id);

        g_ptr_array_sort(list, event_newest_first);
        for (guint i = 0; i < list->len && i < query->limit; i++) {
            if (json_array_append_new(out, memory_event_json(
                    g_ptr_array_index(list, i))) < 0) {
                json_decref(result);
                result = NULL;
                break;
            }
        }
    }
    g_hash_table_unref(found);
    return result;
}


int
memory_events_recent(void *state, json_t *request, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct recent_request query;
    int rc = recent_parse(request, &query);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        recent_clear(&query);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, recent_build(store, &query));
    recent_clear(&query);
    return 0;
}
