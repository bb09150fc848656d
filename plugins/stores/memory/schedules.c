/*
 * Schedule plans, the memory form of the schedules table: one row per
 * (source, profile, schedule, record).
 *
 * NOTE: replacing a plan and claiming scan every row, which suits the
 * test sizes this store is for; the sqlite store reads them by index.
 */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


static char *
row_key(const char *source, const char *profile, const char *schedule,
        const char *record)
{
    return g_strdup_printf("%zu:%s%zu:%s%zu:%s%s", strlen(source), source,
                           strlen(profile), profile, strlen(schedule),
                           schedule, record);
}


void
schedule_row_free(void *row)
{
    schedule_row_clear(row);
    g_free(row);
}


/* Deletes the rows of `profile`, of one source or of all when `source`
 * is NULL, except those whose key is in `keep`. */
static void
rows_delete(struct memory_store *store, const char *source,
            const char *profile, GHashTable *keep)
{
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init(&iter, store->schedules);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        struct schedule_row *row = value;

        if (strcmp(row->profile, profile) != 0 ||
            (source != NULL && strcmp(row->source, source) != 0))
            continue;
        if (keep == NULL || !g_hash_table_contains(keep, key))
            g_hash_table_iter_remove(&iter);
    }
}


/*
 * Replaces the plan of (source, profile): a row with the same basis as
 * the stored one is kept as it is, so a row that fired stays fired.
 */
void
schedule_plan_apply(struct memory_store *store,
                    const struct schedule_plan *plan)
{
    GHashTable *keep = g_hash_table_new_full(g_str_hash, g_str_equal,
                                             g_free, NULL);

    for (size_t i = 0; i < plan->row_count; i++) {
        const struct schedule_row *row = &plan->rows[i];
        char *key = row_key(plan->source, plan->profile, row->schedule,
                            row->record);
        struct schedule_row *stored = g_hash_table_lookup(store->schedules,
                                                          key);

        if (stored == NULL || strcmp(stored->basis, row->basis) != 0) {
            stored = g_new0(struct schedule_row, 1);
            if (schedule_row_copy(row, stored) < 0) {
                g_free(stored);
                g_free(key);
                continue;
            }
            g_hash_table_replace(store->schedules, g_strdup(key), stored);
        }
        g_hash_table_add(keep, key);
    }
    rows_delete(store, plan->source, plan->profile, keep);
    g_hash_table_unref(keep);
}


void
schedules_forget(struct memory_store *store, const char *profile)
{
    rows_delete(store, NULL, profile, NULL);
}


static gint
row_order(gconstpointer a, gconstpointer b)
{
    const struct schedule_row *x = *(struct schedule_row *const *) a;
    const struct schedule_row *y = *(struct schedule_row *const *) b;
    int c;

    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    c = strcmp(x->profile, y->profile);
    if (c == 0)
        c = strcmp(x->schedule, y->schedule);
    return c != 0 ? c : strcmp(x->record, y->record);
}


int
memory_schedules_claim(void *state, json_t *request, crier_store_cb done,
                       void *arg)
{
    struct memory_store *store = state;
    struct schedule_claim claim;
    GPtrArray *due = g_ptr_array_new();
    json_t *rows = json_array();
    GHashTableIter iter;
    gpointer value;
    int rc = schedule_claim_parse(request, &claim);

    if (rc == 0 && store->state != MEMORY_RUNNING) {
        schedule_claim_clear(&claim);
        rc = CRIER_ECLOSED;
    }
    if (rc < 0) {
        g_ptr_array_unref(due);
        json_decref(rows);
        return rc;
    }
    g_hash_table_iter_init(&iter, store->schedules);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        struct schedule_row *row = value;

        if (row->has_due && row->due <= claim.now &&
            strcmp(row->source, claim.source) == 0 &&
            (!row->leased || row->lease_until <= claim.now))
            g_ptr_array_add(due, row);
    }
    g_ptr_array_sort(due, row_order);
    for (guint i = 0; i < due->len && i < claim.limit; i++) {
        struct schedule_row *row = g_ptr_array_index(due, i);

        row->leased = 1;
        row->lease_until = claim.now + claim.lease_ms;
        json_array_append_new(rows, schedule_row_json(row));
    }
    g_ptr_array_unref(due);
    schedule_claim_clear(&claim);
    completion_queue(store, done, arg, 0, json_pack("{s:o}", "rows", rows));
    return 0;
}


int
memory_schedules_advance(void *state, json_t *request, crier_store_cb done,
                         void *arg)
{
    struct memory_store *store = state;
    struct schedule_advance advance;
    int64_t advanced = 0;
    int64_t appended = 0;
    int rc = schedule_advance_parse(request, &advance);

    if (rc == 0 && store->state != MEMORY_RUNNING) {
        schedule_advance_clear(&advance);
        rc = CRIER_ECLOSED;
    }
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < advance.step_count; i++) {
        const struct schedule_step *step = &advance.steps[i];
        char *key = row_key(advance.source, step->profile, step->schedule,
                            step->record);
        struct schedule_row *row = g_hash_table_lookup(store->schedules,
                                                       key);

        g_free(key);
        if (row == NULL || !row->has_due ||
            strcmp(row->occurrence, step->occurrence) != 0)
            continue;
        row->leased = 0;
        row->has_due = step->has_due;
        row->due = step->due;
        if (step->next != NULL) {
            free(row->occurrence);
            row->occurrence = strdup(step->next);
        }
        advanced++;
        /* A row's own event records only the firing that moved it. */
        for (size_t e = 0; e < step->event_count; e++)
            batch_event_store(store, &step->events[e]);
        appended += (int64_t) step->event_count;
    }
    for (size_t i = 0; i < advance.event_count; i++)
        batch_event_store(store, &advance.events[i]);
    appended += (int64_t) advance.event_count;
    schedule_advance_clear(&advance);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:I,s:I}", "advanced", (json_int_t) advanced,
                               "appended",
                               (json_int_t) appended));
    return 0;
}
