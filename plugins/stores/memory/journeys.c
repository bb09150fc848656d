/*
 * Journey places, the memory form of the journeys table: one row per
 * (journey, profile), written by commit batches.
 */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


void
journey_row_free(void *row)
{
    journey_row_clear(row);
    g_free(row);
}


static char *
row_key(const char *journey, const char *profile)
{
    return g_strdup_printf("%s\x1f%s", journey, profile);
}


/* Writes one row of a batch: a whole row replaces the stored one, and a
 * wake-up clears the stored row's due while it still matches. */
void
journey_row_apply(struct memory_store *store, const struct journey_row *row)
{
    char *key = row_key(row->journey, row->profile);
    struct journey_row *stored = g_hash_table_lookup(store->journeys, key);

    if (row->wake) {
        if (stored != NULL && journey_row_wakes(stored, row))
            stored->has_due = 0;
        g_free(key);
        return;
    }
    stored = g_new0(struct journey_row, 1);
    if (journey_row_copy(row, stored) < 0) {
        g_free(stored);
        g_free(key);
        return;
    }
    stored->wake = 0;
    g_hash_table_replace(store->journeys, key, stored);
}


void
journeys_forget(struct memory_store *store, const char *profile)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, store->journeys);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        if (strcmp(((struct journey_row *) value)->profile, profile) == 0)
            g_hash_table_iter_remove(&iter);
}


static gint
name_order(gconstpointer a, gconstpointer b)
{
    const struct journey_row *x = *(struct journey_row *const *) a;
    const struct journey_row *y = *(struct journey_row *const *) b;

    return strcmp(x->journey, y->journey);
}


static gint
due_order(gconstpointer a, gconstpointer b)
{
    const struct journey_row *x = *(struct journey_row *const *) a;
    const struct journey_row *y = *(struct journey_row *const *) b;
    int c;

    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    c = strcmp(x->journey, y->journey);
    return c != 0 ? c : strcmp(x->profile, y->profile);
}


/* Returns a new array of the rows of `profile`, in journey name order. */
static json_t *
profile_rows(struct memory_store *store, const char *profile)
{
    GPtrArray *found = g_ptr_array_new();
    json_t *rows = json_array();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, store->journeys);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        if (strcmp(((struct journey_row *) value)->profile, profile) == 0)
            g_ptr_array_add(found, value);
    g_ptr_array_sort(found, name_order);
    for (guint i = 0; i < found->len; i++)
        json_array_append_new(rows, journey_row_json(g_ptr_array_index(found,
                                                                       i)));
    g_ptr_array_unref(found);
    return rows;
}


int
memory_journeys_read(void *state, json_t *request, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct journeys_read read;
    json_t *out;
    int rc = journeys_read_parse(request, &read);

    if (rc == 0 && store->state != MEMORY_RUNNING) {
        journeys_read_clear(&read);
        rc = CRIER_ECLOSED;
    }
    if (rc < 0)
        return rc;
    out = json_object();
    for (size_t i = 0; i < read.count; i++)
        json_object_set_new(out, read.ids[i],
                            profile_rows(store, read.ids[i]));
    journeys_read_clear(&read);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:o}", "journeys", out));
    return 0;
}


/* NOTE: scans every row, once a second while journeys run; the SQLite
 * store has an index (docs/KNOWN_LIMITS.md, "Journeys"). */
int
memory_journeys_due(void *state, json_t *request, crier_store_cb done,
                    void *arg)
{
    struct memory_store *store = state;
    struct journeys_due query;
    GPtrArray *due;
    json_t *rows;
    GHashTableIter iter;
    gpointer value;
    int64_t next = 0;
    int has_next = 0;
    int rc = journeys_due_parse(request, &query);

    if (rc == 0 && store->state != MEMORY_RUNNING)
        rc = CRIER_ECLOSED;
    if (rc < 0)
        return rc;
    due = g_ptr_array_new();
    rows = json_array();
    g_hash_table_iter_init(&iter, store->journeys);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        struct journey_row *row = value;

        if (!row->has_due || strcmp(row->state, "active") != 0)
            continue;
        if (row->due <= query.now)
            g_ptr_array_add(due, row);
        else if (!has_next || row->due < next)
            next = row->due, has_next = 1;
    }
    g_ptr_array_sort(due, due_order);
    for (guint i = 0; i < due->len && i < query.limit; i++)
        json_array_append_new(rows, journey_row_json(g_ptr_array_index(due,
                                                                       i)));
    g_ptr_array_unref(due);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:o,s:o}", "rows", rows, "next",
                               has_next ? json_integer(next) : json_null()));
    return 0;
}
