/* Profiles, their identities and their stages. */
#include <string.h>

#include "memory.h"


void
identity_free(void *data)
{
    struct identity *identity = data;

    g_free(identity->kind);
    g_free(identity->value);
    g_free(identity);
}


void
memory_profile_free(void *data)
{
    struct memory_profile *profile = data;

    g_free(profile->id);
    g_free(profile->attributes);
    g_free(profile->consent);
    g_free(profile->related);
    g_ptr_array_unref(profile->identities);
    g_free(profile);
}


void
memory_stage_free(void *data)
{
    struct memory_stage *stage = data;

    g_free(stage->stage);
    g_free(stage);
}


void
stage_move_free(void *data)
{
    struct stage_move *move = data;

    g_free(move->profile);
    g_free(move->program);
    g_free(move->from);
    g_free(move->to);
    g_free(move->rule);
    g_free(move);
}


/* Gives `identity` to `profile` unless another profile owns it. */
static void
identity_add(struct memory_store *store, struct memory_profile *profile,
             const struct identity *identity)
{
    char *key = pair_key(identity->kind, identity->value);
    struct identity *copy;

    if (g_hash_table_contains(store->owners, key)) {
        g_free(key);
        return;
    }
    g_hash_table_insert(store->owners, key, g_strdup(profile->id));
    copy = g_new0(struct identity, 1);
    copy->kind = g_strdup(identity->kind);
    copy->value = g_strdup(identity->value);
    g_ptr_array_add(profile->identities, copy);
}


/* Creates or updates a profile, keeping `created` from the first write,
 * and its consent map when the write carries none. */
void
profile_write(struct memory_store *store, const struct profile_write *write)
{
    struct memory_profile *profile;
    size_t i;

    profile = g_hash_table_lookup(store->profiles, write->id);
    if (profile == NULL) {
        profile = g_new0(struct memory_profile, 1);
        profile->id = g_strdup(write->id);
        profile->created = write->created;
        profile->identities = g_ptr_array_new_with_free_func(identity_free);
        g_hash_table_insert(store->profiles, profile->id, profile);
    }
    profile->updated = write->updated;
    g_free(profile->attributes);
    profile->attributes = g_strdup(write->attributes);
    if (write->consent != NULL) {
        g_free(profile->consent);
        profile->consent = g_strdup(write->consent);
    }
    if (write->related != NULL) {
        g_free(profile->related);
        profile->related = g_strdup(write->related);
    }
    for (i = 0; i < write->identities.count; i++)
        identity_add(store, profile, &write->identities.items[i]);
}


void
stage_move(struct memory_store *store, const struct stage_move *move)
{
    GHashTable *programs = g_hash_table_lookup(store->stages, move->profile);
    struct memory_stage *stage = g_new0(struct memory_stage, 1);
    struct stage_move *entry = g_new0(struct stage_move, 1);

    if (programs == NULL) {
        programs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         memory_stage_free);
        g_hash_table_insert(store->stages, g_strdup(move->profile),
                            programs);
    }
    stage->stage = g_strdup(move->to);
    stage->since = move->time;
    g_hash_table_replace(programs, g_strdup(move->program), stage);

    *entry = *move;
    entry->profile = g_strdup(move->profile);
    entry->program = g_strdup(move->program);
    entry->from = g_strdup(move->from);
    entry->to = g_strdup(move->to);
    entry->rule = g_strdup(move->rule);
    g_ptr_array_add(store->history, entry);
}


static int
stages_add_json(struct memory_store *store, const char *id, json_t *profile)
{
    GHashTable *programs = g_hash_table_lookup(store->stages, id);
    GHashTableIter iter;
    gpointer program;
    gpointer value;

    if (programs == NULL)
        return 0;
    g_hash_table_iter_init(&iter, programs);
    while (g_hash_table_iter_next(&iter, &program, &value)) {
        const struct memory_stage *stage = value;

        if (profile_json_add_stage(profile, program, stage->stage,
                                   stage->since) < 0)
            return CRIER_ENOMEM;
    }
    return 0;
}


/*
 * Returns profile `id` with its identities and stages, json null when
 * there is no such profile, or NULL when out of memory.
 */
json_t *
profile_find_json(struct memory_store *store, const char *id, int times)
{
    struct memory_profile *profile;
    json_t *json;
    guint i;
    int rc = 0;

    profile = g_hash_table_lookup(store->profiles, id);
    if (profile == NULL)
        return json_null();
    json = profile_json(id, profile->attributes, profile->consent,
                        profile->related, times, profile->created,
                        profile->updated);
    for (i = 0; json != NULL && rc == 0 && i < profile->identities->len;
         i++) {
        const struct identity *identity =
            g_ptr_array_index(profile->identities, i);

        rc = profile_json_add_identity(json, identity->kind,
                                       identity->value);
    }
    if (json != NULL && rc == 0)
        rc = stages_add_json(store, id, json);
    if (rc < 0) {
        json_decref(json);
        return NULL;
    }
    return json;
}


/*
 * Appends profile `id` with its segments to `list` unless `listed`, the
 * set of ids in the list, has it already; `id` must outlive the set.
 * Returns 1 when the profile is in the list, 0 when it does not
 * exist, or CRIER_ENOMEM.
 */
static int
profile_add(struct memory_store *store, const char *id, json_t *list,
            GHashTable *listed)
{
    json_t *profile;

    if (g_hash_table_contains(listed, id))
        return 1;
    g_hash_table_add(listed, (gpointer) id);
    profile = profile_find_json(store, id, 1);
    if (profile != NULL && json_is_null(profile)) {
        json_decref(profile);
        return 0;
    }
    if (profile != NULL && segments_add_json(store, id, profile) < 0) {
        json_decref(profile);
        profile = NULL;
    }
    return json_array_append_new(list, profile) < 0 ? CRIER_ENOMEM : 1;
}


/* Collects the owners of the identities, each once, in request order,
 * then the profiles named by id, following merges. */
static json_t *
profiles_find(struct memory_store *store,
              const struct profile_lookup *lookup)
{
    json_t *result = json_pack("{s:[], s:{}}", "profiles", "moved");
    json_t *list = json_object_get(result, "profiles");
    json_t *moved = json_object_get(result, "moved");
    /* Ids already listed; an import batch names thousands. */
    GHashTable *listed = g_hash_table_new(g_str_hash, g_str_equal);
    int rc = result == NULL ? CRIER_ENOMEM : 0;
    size_t i;

    for (i = 0; rc >= 0 && i < lookup->identities.count; i++) {
        const struct identity *identity = &lookup->identities.items[i];
        char *key = pair_key(identity->kind, identity->value);
        const char *owner = g_hash_table_lookup(store->owners, key);

        g_free(key);
        if (owner != NULL)
            rc = profile_add(store, owner, list, listed);
    }
    for (i = 0; rc >= 0 && i < lookup->id_count; i++) {
        const char *id = lookup->ids[i];
        const char *end = merge_chain_end(store, id);

        rc = profile_add(store, end, list, listed);
        if (rc == 1 && strcmp(end, id) != 0)
            rc = json_object_set_new(moved, id, json_string(end));
    }
    g_hash_table_destroy(listed);
    if (rc < 0) {
        json_decref(result);
        return NULL;
    }
    return result;
}


int
memory_profiles_load(void *state, json_t *request, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct profile_lookup lookup;
    int rc = profile_lookup_parse(request, &lookup);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        profile_lookup_clear(&lookup);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, profiles_find(store, &lookup));
    profile_lookup_clear(&lookup);
    return 0;
}


static gint
id_order(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}


/* Reads a page of profiles in id order. Sorting every id per page is
 * fine for a store that contains test data. */
static json_t *
profiles_page(struct memory_store *store, const struct scan_request *scan)
{
    GPtrArray *ids = g_ptr_array_new();
    GHashTable *listed = g_hash_table_new(g_str_hash, g_str_equal);
    json_t *result = json_pack("{s:[], s:n}", "profiles", "next");
    json_t *list = json_object_get(result, "profiles");
    GHashTableIter iter;
    gpointer id;
    int rc = result == NULL ? CRIER_ENOMEM : 0;

    g_hash_table_iter_init(&iter, store->profiles);
    while (g_hash_table_iter_next(&iter, &id, NULL))
        if (scan->after == NULL || strcmp(id, scan->after) > 0)
            g_ptr_array_add(ids, id);
    g_ptr_array_sort(ids, id_order);
    for (guint i = 0; rc >= 0 && i < ids->len && i < scan->limit; i++)
        rc = profile_add(store, g_ptr_array_index(ids, i), list, listed);
    if (rc >= 0 && ids->len > scan->limit)
        rc = json_object_set_new(result, "next", json_string(
                                     g_ptr_array_index(ids,
                                                       scan->limit - 1)));
    g_ptr_array_free(ids, TRUE);
    g_hash_table_destroy(listed);
    if (rc < 0) {
        json_decref(result);
        return NULL;
    }
    return result;
}


int
memory_profiles_scan(void *state, json_t *request, crier_store_cb done,
                     void *arg)
{
    struct memory_store *store = state;
    struct scan_request scan;
    int rc = scan_parse(request, &scan);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        scan_clear(&scan);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0, profiles_page(store, &scan));
    scan_clear(&scan);
    return 0;
}
