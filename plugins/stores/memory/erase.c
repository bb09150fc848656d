/* profile_erase: the right to be forgotten, as the sqlite store does it. */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


static int
names_profile(const char *field, const char *id)
{
    return field != NULL && strcmp(field, id) == 0;
}


/* Returns nonzero when `cursor` is behind the last stored event. */
static int
cursor_behind(struct memory_store *store, const char *cursor)
{
    int64_t *value = g_hash_table_lookup(store->cursors, cursor);

    return (int64_t)store->events->len > (value != NULL ? *value : 0);
}


/* Replaces the body of each event of profile `id` and drops its sender's
 * id, which then no longer counts for duplicates. */
static int64_t
events_scrub(struct memory_store *store, const char *id)
{
    int64_t count = 0;
    guint i;

    for (i = 0; i < store->events->len; i++) {
        struct memory_event *event = g_ptr_array_index(store->events, i);
        char *body;

        if (event == NULL || !names_profile(event->profile, id))
            continue;
        body = erased_body(event->type, event->time_ms);
        if (body == NULL)
            return CRIER_ENOMEM;
        g_free(event->body);
        event->body = g_strdup(body);
        event->body_len = strlen(body);
        free(body);
        if (event->id != NULL) {
            char *key = pair_key(event->source, event->id);

            g_hash_table_remove(store->event_ids, key);
            g_free(key);
            g_free(event->id);
            event->id = NULL;
        }
        g_clear_pointer(&event->profile, g_free);
        count++;
    }
    return count;
}


/* Replaces a malloc'd error text, which may quote the recipient. */
static void
error_blank(char **error)
{
    if (*error == NULL)
        return;
    free(*error);
    *error = strdup(ERASED_ERROR);
}


/* Suppresses the open jobs of profile `id` and blanks the recipient,
 * profile, errors and attempt replies of all of them. */
static void
jobs_blank(struct memory_store *store, const char *id, int64_t now,
           struct erase_counts *counts)
{
    guint i;

    for (i = 0; i < store->jobs->len; i++) {
        struct job *job = g_ptr_array_index(store->jobs, i);

        if (!names_profile(job->profile, id))
            continue;
        if (job->state == JOB_PLANNED || job->state == JOB_CLAIMED
            || job->state == JOB_SENDING) {
            job->state = JOB_SUPPRESSED;
            job->leased = 0;
            free(job->error);
            job->error = strdup(ERASED_ERROR);
            free(job->last_error);
            job->last_error = strdup(ERASED_ERROR);
            counts->suppressed++;
            report_message_count(store, job, "suppressed:" ERASED_ERROR,
                                 now);
        }
        error_blank(&job->error);
        error_blank(&job->last_error);
        for (size_t k = 0; k < job->attempt_count; k++)
            error_blank(&job->attempt_log[k].reply);
        free(job->to);
        job->to = NULL;
        free(job->profile);
        job->profile = NULL;
        job->updated = now;
        counts->jobs++;
    }
}


static void
history_unlink(struct memory_store *store, const char *id)
{
    guint i;

    for (i = 0; i < store->history->len; i++) {
        struct stage_move *move = g_ptr_array_index(store->history, i);

        if (names_profile(move->profile, id))
            g_clear_pointer(&move->profile, g_free);
    }
}


/* Removes every merge that ends in `id`: its own, and those of every
 * profile merged into it at any depth. */
static void
merges_forget(struct memory_store *store, const char *id)
{
    GHashTable *chain = g_hash_table_new_full(g_str_hash, g_str_equal,
                                              g_free, NULL);
    GHashTableIter iter;
    gpointer from;
    gpointer into;
    int grown = 1;

    g_hash_table_add(chain, g_strdup(id));
    while (grown) {
        grown = 0;
        g_hash_table_iter_init(&iter, store->merges);
        while (g_hash_table_iter_next(&iter, &from, &into)) {
            if (g_hash_table_contains(chain, into)
                && !g_hash_table_contains(chain, from)) {
                g_hash_table_add(chain, g_strdup(from));
                grown = 1;
            }
        }
    }
    g_hash_table_iter_init(&iter, chain);
    while (g_hash_table_iter_next(&iter, &from, NULL))
        g_hash_table_remove(store->merges, from);
    g_hash_table_unref(chain);
}


/* Deletes the profile with its identities and stages. */
static void
profile_delete(struct memory_store *store, struct memory_profile *profile)
{
    guint i;

    for (i = 0; i < profile->identities->len; i++) {
        struct identity *identity = g_ptr_array_index(profile->identities, i);
        char *key = pair_key(identity->kind, identity->value);

        g_hash_table_remove(store->owners, key);
        g_free(key);
    }
    g_hash_table_remove(store->stages, profile->id);
    segments_forget(store, profile->id);
    schedules_forget(store, profile->id);
    journeys_forget(store, profile->id);
    subscriptions_forget(store, profile->id);
    g_hash_table_remove(store->profiles, profile->id);
}


static json_t *
profile_erase_apply(struct memory_store *store,
                    const struct erase_request *request)
{
    struct erase_counts counts = { 0, 0, 0 };
    struct memory_profile *profile;
    const char *into = NULL;

    profile = g_hash_table_lookup(store->profiles, request->id);
    if (profile == NULL) {
        if (g_hash_table_contains(store->merges, request->id))
            into = merge_chain_end(store, request->id);
        return erase_result(NULL, into);
    }

    /* Scrubbing is the only step that can fail (out of memory), so it
     * comes first: a failure leaves the profile and its links in place,
     * and a repeated erase finishes the work. */
    counts.events = events_scrub(store, request->id);
    if (counts.events < 0)
        return NULL;
    jobs_blank(store, request->id, request->now, &counts);
    history_unlink(store, request->id);
    merges_forget(store, request->id);
    profile_delete(store, profile);
    g_array_append_val(store->erasures, request->now);
    return erase_result(&counts, NULL);
}


int
memory_profile_erase(void *state, json_t *json, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct erase_request request;
    int rc = erase_parse(json, &request);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        erase_clear(&request);
        return CRIER_ECLOSED;
    }
    if (request.cursor != NULL && cursor_behind(store, request.cursor))
        completion_queue(store, done, arg, CRIER_EBUSY, NULL);
    else
        completion_queue(store, done, arg, 0,
                         profile_erase_apply(store, &request));
    erase_clear(&request);
    return 0;
}
