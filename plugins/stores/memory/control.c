/* Pauses and the audit log, kept in memory like everything else. */
#include <string.h>

#include "memory.h"


static void
pause_free(void *item)
{
    pause_change_clear(item);
    g_free(item);
}


static void
audit_free(void *item)
{
    audit_entry_clear(item);
    g_free(item);
}


void
memory_control_init(struct memory_store *store)
{
    store->pauses = g_ptr_array_new_with_free_func(pause_free);
    store->audit = g_ptr_array_new_with_free_func(audit_free);
}


void
memory_control_destroy(struct memory_store *store)
{
    g_ptr_array_unref(store->pauses);
    g_ptr_array_unref(store->audit);
}


/* Returns the index of the pause of (scope, name), or -1. */
static int
pause_find(struct memory_store *store, const char *scope, const char *name)
{
    for (guint i = 0; i < store->pauses->len; i++) {
        struct pause_change *p = g_ptr_array_index(store->pauses, i);

        if (strcmp(p->scope, scope) == 0 && strcmp(p->name, name) == 0)
            return (int) i;
    }
    return -1;
}


int
memory_job_paused(struct memory_store *store, const struct job *job)
{
    for (guint i = 0; i < store->pauses->len; i++) {
        struct pause_change *p = g_ptr_array_index(store->pauses, i);

        if (pause_covers(p->scope, p->name, job->channel, job->program))
            return 1;
    }
    return 0;
}


int
memory_pause_set(void *state, json_t *request, crier_store_cb done,
                 void *arg)
{
    struct memory_store *store = state;
    struct pause_change change;
    int rc = pause_change_parse(request, &change);
    int at, changed = 0;

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        pause_change_clear(&change);
        return CRIER_ECLOSED;
    }
    at = pause_find(store, change.scope, change.name);
    if (change.paused && at < 0) {
        g_ptr_array_add(store->pauses, g_memdup2(&change, sizeof(change)));
        changed = 1;
    } else {
        if (!change.paused && at >= 0) {
            g_ptr_array_remove_index(store->pauses, (guint) at);
            changed = 1;
        }
        pause_change_clear(&change);
    }
    completion_queue(store, done, arg, 0,
                     json_pack("{s:b}", "changed", changed));
    return 0;
}


static gint
pause_order(gconstpointer a, gconstpointer b)
{
    const struct pause_change *x = *(struct pause_change *const *) a;
    const struct pause_change *y = *(struct pause_change *const *) b;
    int c = strcmp(x->scope, y->scope);

    return c != 0 ? c : strcmp(x->name, y->name);
}


int
memory_pauses_read(void *state, json_t *request, crier_store_cb done,
                   void *arg)
{
    struct memory_store *store = state;
    json_t *list = json_array();

    if (store->state != MEMORY_RUNNING) {
        json_decref(list);
        return CRIER_ECLOSED;
    }
    g_ptr_array_sort(store->pauses, pause_order);
    for (guint i = 0; i < store->pauses->len; i++) {
        struct pause_change *p = g_ptr_array_index(store->pauses, i);

        json_array_append_new(list, json_pack(
            "{s:s,s:s,s:I,s:s?}", "scope", p->scope, "name", p->name,
            "since", (json_int_t) p->time, "by", p->by));
    }
    completion_queue(store, done, arg, 0, json_pack("{s:o}", "pauses",
                                                    list));
    return 0;
}


int
memory_audit_append(void *state, json_t *request, crier_store_cb done,
                    void *arg)
{
    struct memory_store *store = state;
    struct audit_entry entry;
    int rc = audit_entry_parse(request, &entry);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        audit_entry_clear(&entry);
        return CRIER_ECLOSED;
    }
    entry.id = (int64_t) store->audit->len + 1;
    g_ptr_array_add(store->audit, g_memdup2(&entry, sizeof(entry)));
    completion_queue(store, done, arg, 0,
                     json_pack("{s:I}", "id", (json_int_t) entry.id));
    return 0;
}


int
memory_audit_list(void *state, json_t *request, crier_store_cb done,
                  void *arg)
{
    struct memory_store *store = state;
    struct audit_filter filter;
    json_t *list, *next = json_null();
    int rc = audit_filter_parse(request, &filter);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        audit_filter_clear(&filter);
        return CRIER_ECLOSED;
    }
    list = json_array();
    for (guint i = store->audit->len; i > 0; i--) {
        struct audit_entry *e = g_ptr_array_index(store->audit, i - 1);

        if (!audit_filter_matches(&filter, e))
            continue;
        if (json_array_size(list) == filter.limit) {
            /* A further match means another page follows this one. */
            next = json_integer(json_integer_value(json_object_get(
                json_array_get(list, filter.limit - 1), "id")));
            break;
        }
        json_array_append_new(list, audit_entry_json(e));
    }
    audit_filter_clear(&filter);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:o,s:o}", "entries", list, "next", next));
    return 0;
}


int
memory_backup(void *state, json_t *request, crier_store_cb done, void *arg)
{
    return CRIER_ENOTSUP;
}
