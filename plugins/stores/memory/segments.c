/* Segment membership, the memory form of the segment_members table. */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


/* Returns the members of `segment` (profile id -> int64_t since),
 * creating the table when `create` is nonzero, or NULL. */
static GHashTable *
segment_table(struct memory_store *store, const char *segment, int create)
{
    GHashTable *members = g_hash_table_lookup(store->segments, segment);

    if (members == NULL && create) {
        members = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        g_free);
        g_hash_table_insert(store->segments, g_strdup(segment), members);
    }
    return members;
}


/* An entry keeps its first `since`, as in the sqlite store. */
void
segment_apply(struct memory_store *store, const struct segment_change *change)
{
    GHashTable *members = segment_table(store, change->segment,
                                        change->member);
    int64_t *since;

    if (members == NULL)
        return;
    if (!change->member) {
        g_hash_table_remove(members, change->profile);
        return;
    }
    if (g_hash_table_contains(members, change->profile))
        return;
    since = g_new(int64_t, 1);
    *since = change->time;
    g_hash_table_insert(members, g_strdup(change->profile), since);
}


void
segments_forget(struct memory_store *store, const char *profile)
{
    GHashTableIter iter;
    gpointer members;

    g_hash_table_iter_init(&iter, store->segments);
    while (g_hash_table_iter_next(&iter, NULL, &members))
        g_hash_table_remove(members, profile);
}


static gint
name_order(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


int
segments_add_json(struct memory_store *store, const char *id,
                  json_t *profile)
{
    GPtrArray *names = g_ptr_array_new();
    json_t *array = json_array();
    GHashTableIter iter;
    gpointer name, members;

    g_hash_table_iter_init(&iter, store->segments);
    while (g_hash_table_iter_next(&iter, &name, &members))
        if (g_hash_table_contains(members, id))
            g_ptr_array_add(names, name);
    g_ptr_array_sort(names, name_order);
    for (guint i = 0; i < names->len; i++)
        json_array_append_new(array,
                              json_string(g_ptr_array_index(names, i)));
    g_ptr_array_free(names, TRUE);
    return json_object_set_new(profile, "segments", array) < 0
           ? CRIER_ENOMEM : 0;
}


int
memory_segment_count(void *state, json_t *request, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct segment_query query;
    GHashTable *members;
    int rc = segment_query_parse(request, &query);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        segment_query_clear(&query);
        return CRIER_ECLOSED;
    }
    members = segment_table(store, query.segment, 0);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:I}", "count", (json_int_t)
                               (members ? g_hash_table_size(members) : 0)));
    segment_query_clear(&query);
    return 0;
}


/* Builds one page of members: those after `query->after`, in profile id
 * order. */
static json_t *
members_page(GHashTable *members, const struct segment_query *query)
{
    GPtrArray *ids = g_ptr_array_new();
    json_t *page = json_array();
    const char *next = NULL;
    GHashTableIter iter;
    gpointer id;

    if (members != NULL) {
        g_hash_table_iter_init(&iter, members);
        while (g_hash_table_iter_next(&iter, &id, NULL))
            if (query->after == NULL || strcmp(id, query->after) > 0)
                g_ptr_array_add(ids, id);
    }
    g_ptr_array_sort(ids, name_order);
    for (guint i = 0; i < ids->len && i < query->limit; i++) {
        const char *profile = g_ptr_array_index(ids, i);
        const int64_t *since = g_hash_table_lookup(members, profile);

        json_array_append_new(page, segment_member_json(profile, *since));
        next = profile;
    }
    if (ids->len <= query->limit)
        next = NULL;
    page = segment_members_result(page, next);
    g_ptr_array_free(ids, TRUE);
    return page;
}


int
memory_segment_members(void *state, json_t *request, crier_store_cb done,
                       void *arg)
{
    struct memory_store *store = state;
    struct segment_query query;
    int rc = segment_query_parse(request, &query);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        segment_query_clear(&query);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0,
                     members_page(segment_table(store, query.segment, 0),
                                  &query));
    segment_query_clear(&query);
    return 0;
}
