/* Profile merges, event links, profile_get and timeline. */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


/* Returns nonzero when profile `id` exists and no earlier merge of the
 * batch, listed in `merged_away`, has removed it. */
static int
profile_present(struct memory_store *store, GHashTable *merged_away,
                const char *id)
{
    return g_hash_table_contains(store->profiles, id)
           && !g_hash_table_contains(merged_away, id);
}


/*
 * Checks the merges of a batch in order, as merge_apply will run them. A
 * merge whose `from` is missing is skipped, and otherwise its `into` must
 * exist. Returns 0, or CRIER_ENOTFOUND for a missing `into`.
 */
int
merges_check(struct memory_store *store, const struct batch *batch)
{
    GHashTable *merged_away = g_hash_table_new(g_str_hash, g_str_equal);
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < batch->merge_count; i++) {
        const struct profile_merge *merge = &batch->merges[i];

        if (!profile_present(store, merged_away, merge->from))
            continue;
        if (!profile_present(store, merged_away, merge->into))
            rc = CRIER_ENOTFOUND;
        g_hash_table_add(merged_away, merge->from);
    }
    g_hash_table_unref(merged_away);
    return rc;
}


/* Gives every identity of `from` to `into`, after those `into` has. */
static void
identities_move(struct memory_store *store, struct memory_profile *from,
                struct memory_profile *into)
{
    guint i;

    for (i = 0; i < from->identities->len; i++) {
        struct identity *identity = g_ptr_array_index(from->identities, i);

        g_hash_table_replace(store->owners,
                             pair_key(identity->kind, identity->value),
                             g_strdup(into->id));
        g_ptr_array_add(into->identities, identity);
    }

    /* `into` owns the identities now, so freeing `from` must not free
     * them. */
    g_ptr_array_set_free_func(from->identities, NULL);
}


/* Moves the stages of `from` in the programs where `into` has none, and
 * drops the others. */
static void
stages_move(struct memory_store *store, const char *from, const char *into)
{
    GHashTable *source = g_hash_table_lookup(store->stages, from);
    GHashTable *target;
    GHashTableIter iter;
    gpointer program;
    gpointer stage;

    if (source == NULL)
        return;
    target = g_hash_table_lookup(store->stages, into);
    if (target == NULL) {
        target = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       memory_stage_free);
        g_hash_table_insert(store->stages, g_strdup(into), target);
    }
    g_hash_table_iter_init(&iter, source);
    while (g_hash_table_iter_next(&iter, &program, &stage)) {
        if (g_hash_table_contains(target, program))
            continue;
        g_hash_table_iter_steal(&iter);
        g_hash_table_insert(target, program, stage);
    }
    g_hash_table_remove(store->stages, from);
}


/* Adds to `into` the attributes of `from` whose names it lacks. */
static void
attributes_fill(struct memory_profile *into,
                const struct memory_profile *from)
{
    json_t *target = json_loads(into->attributes, 0, NULL);
    json_t *source = json_loads(from->attributes, 0, NULL);
    char *text = NULL;

    if (target != NULL && source != NULL
        && json_object_update_missing(target, source) == 0)
        text = json_dumps(target, JSON_COMPACT);
    if (text != NULL) {
        g_free(into->attributes);
        into->attributes = g_strdup(text);
        free(text);
    }
    json_decref(target);
    json_decref(source);
}


/* Gives `into` the more restrictive consent of the two, per channel
 * kind. Out of memory, `into` keeps its own, as attributes_fill does. */
static void
consent_merge(struct memory_profile *into, const struct memory_profile *from)
{
    char *merged = NULL;

    consent_merge_text(into->consent ? into->consent : "{}",
                       from->consent ? from->consent : "{}", &merged);
    if (merged != NULL) {
        g_free(into->consent);
        into->consent = g_strdup(merged);
        free(merged);
    }
}


/* Gives `into` the related records of `from` under the ids it lacks. Out
 * of memory, `into` keeps its own, as attributes_fill does. */
static void
related_merge(struct memory_profile *into, const struct memory_profile *from)
{
    char *merged = NULL;

    related_merge_text(into->related, from->related, &merged);
    if (merged != NULL) {
        g_free(into->related);
        into->related = g_strdup(merged);
        free(merged);
    }
}


/* Replaces the malloc'd `*field` with a copy of `into` when it names
 * `from`. */
static void
profile_rename(char **field, const char *from, const char *into)
{
    if (*field == NULL || strcmp(*field, from) != 0)
        return;
    free(*field);
    *field = strdup(into);
}


/* Moves the event links, stage history and jobs of `from` to `into`. */
static void
rows_move(struct memory_store *store, const char *from, const char *into)
{
    guint i;

    for (i = 0; i < store->events->len; i++) {
        struct memory_event *event = g_ptr_array_index(store->events, i);

        if (event != NULL && event->profile != NULL
            && strcmp(event->profile, from) == 0) {
            g_free(event->profile);
            event->profile = g_strdup(into);
        }
    }
    for (i = 0; i < store->history->len; i++) {
        struct stage_move *move = g_ptr_array_index(store->history, i);

        if (move->profile != NULL && strcmp(move->profile, from) == 0) {
            g_free(move->profile);
            move->profile = g_strdup(into);
        }
    }

    /* Jobs hold malloc'd strings, because they come from the parser. */
    for (i = 0; i < store->jobs->len; i++) {
        struct job *job = g_ptr_array_index(store->jobs, i);

        profile_rename(&job->profile, from, into);
    }
}


/*
 * Merges `from` into `into` and records where `from` went. Returns 1, or
 * 0 when `from` does not exist. merges_check has made sure that `into`
 * exists.
 */
int
merge_apply(struct memory_store *store, const struct profile_merge *merge)
{
    struct memory_profile *from;
    struct memory_profile *into;

    from = g_hash_table_lookup(store->profiles, merge->from);
    into = g_hash_table_lookup(store->profiles, merge->into);
    if (from == NULL || into == NULL)
        return 0;
    identities_move(store, from, into);
    rows_move(store, merge->from, merge->into);
    stages_move(store, merge->from, merge->into);
    subscriptions_move(store, merge->from, merge->into);
    /* `into` keeps its own memberships, and the pipeline evaluates the
     * merged profile again. */
    segments_forget(store, merge->from);
    schedules_forget(store, merge->from);
    journeys_forget(store, merge->from);
    attributes_fill(into, from);
    consent_merge(into, from);
    related_merge(into, from);
    g_hash_table_replace(store->merges, g_strdup(merge->from),
                         g_strdup(merge->into));
    g_hash_table_remove(store->profiles, merge->from);
    return 1;
}


/* Links a stored event to a profile. A seq not stored is ignored. */
void
link_apply(struct memory_store *store, const struct event_link *link)
{
    struct memory_event *event;

    if ((uint64_t)link->seq > store->events->len)
        return;
    event = g_ptr_array_index(store->events, link->seq - 1);
    if (event == NULL)
        return;
    g_free(event->profile);
    event->profile = g_strdup(link->profile);
}


/* Returns the end of the chain of merges that starts at `id`. */
const char *
merge_chain_end(struct memory_store *store, const char *id)
{
    const char *next;
    int steps;

    for (steps = 0; steps < MERGE_CHAIN_MAX; steps++) {
        if (g_hash_table_contains(store->profiles, id))
            break;
        next = g_hash_table_lookup(store->merges, id);
        if (next == NULL)
            break;
        id = next;
    }
    return id;
}


static json_t *
profile_get_json(struct memory_store *store, const char *id)
{
    json_t *profile = profile_find_json(store, id, 1);

    if (profile == NULL)
        return NULL;
    if (!json_is_null(profile) || !g_hash_table_contains(store->merges, id))
        return json_pack("{s:o}", "profile", profile);
    json_decref(profile);
    return json_pack("{s:n, s:s}", "profile", "merged_into",
                     merge_chain_end(store, id));
}


int
memory_profile_get(void *state, json_t *request, crier_store_cb done,
                   void *arg)
{
    struct memory_store *store = state;
    char *id;
    int rc = profile_id_parse(request, &id);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        free(id);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, profile_get_json(store, id));
    free(id);
    return 0;
}


/* One candidate entry of a timeline: its key and the row it shows. */
struct timeline_item {
    struct timeline_key key;
    const void *row;
};


static gint
timeline_item_order(gconstpointer a, gconstpointer b)
{
    return timeline_key_compare(&((const struct timeline_item *)a)->key,
                                &((const struct timeline_item *)b)->key);
}


/* Adds an item when it comes after the request's `before` cursor. */
static void
timeline_item_add(GArray *items, const struct timeline_request *request,
                  int64_t time, int kind, int64_t id, const void *row)
{
    struct timeline_item item = { { time, kind, id }, row };

    if (request->has_before
        && timeline_key_compare(&item.key, &request->before) <= 0)
        return;
    g_array_append_val(items, item);
}


/* Collects every row of the requested profile after `before`. */
static GArray *
timeline_items(struct memory_store *store,
               const struct timeline_request *request)
{
    GArray *items = g_array_new(FALSE, FALSE, sizeof(struct timeline_item));
    const char *id = request->profile;
    guint i;

    for (i = 0; i < store->events->len; i++) {
        const struct memory_event *event =
            g_ptr_array_index(store->events, i);

        if (event != NULL && event->profile != NULL
            && strcmp(event->profile, id) == 0)
            timeline_item_add(items, request, event->time_ms,
                              TIMELINE_EVENT, event->seq, event);
    }
    for (i = 0; i < store->history->len; i++) {
        const struct stage_move *move = g_ptr_array_index(store->history, i);

        if (move->profile != NULL && strcmp(move->profile, id) == 0)
            timeline_item_add(items, request, move->time, TIMELINE_STAGE,
                              (int64_t)i + 1, move);
    }
    for (i = 0; i < store->jobs->len; i++) {
        const struct job *job = g_ptr_array_index(store->jobs, i);

        if (job->profile != NULL && strcmp(job->profile, id) == 0)
            timeline_item_add(items, request, job->created,
                              TIMELINE_MESSAGE, job->id, job);
    }
    g_array_sort(items, timeline_item_order);
    return items;
}


static json_t *
timeline_item_json(const struct timeline_item *item)
{
    const struct memory_event *event = item->row;
    const struct stage_move *move = item->row;
    const struct job *job = item->row;

    switch (item->key.kind) {
    case TIMELINE_EVENT:
        return timeline_event_json(event->seq, event->time_ms, event->type,
                                   event->body, event->body_len);
    case TIMELINE_STAGE:
        return timeline_stage_json(move->time, move->program, move->from,
                                   move->to, move->rule, move->event_seq);
    default:
        return timeline_message_json(job->id, job->created, job->rule,
                                     job->channel,
                                     job_state_name(job->state),
                                     job->message_id, job->error);
    }
}


static json_t *
timeline_build(struct memory_store *store,
               const struct timeline_request *request)
{
    GArray *items = timeline_items(store, request);
    json_t *entries = json_array();
    size_t count = items->len < request->limit ? items->len
                                               : request->limit;
    const struct timeline_key *next = NULL;
    json_t *result;
    size_t i;

    for (i = 0; entries != NULL && i < count; i++) {
        if (json_array_append_new(entries, timeline_item_json(
                &g_array_index(items, struct timeline_item, i))) < 0) {
            json_decref(entries);
            entries = NULL;
        }
    }
    if (items->len > request->limit)
        next = &g_array_index(items, struct timeline_item, count - 1).key;
    result = timeline_result(entries, next);
    g_array_unref(items);
    return result;
}


int
memory_timeline(void *state, json_t *json, crier_store_cb done, void *arg)
{
    struct memory_store *store = state;
    struct timeline_request request;
    int rc = timeline_parse(json, &request);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        timeline_clear(&request);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, timeline_build(store, &request));
    timeline_clear(&request);
    return 0;
}
