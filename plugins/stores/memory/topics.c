/* Topic subscriptions, stored objects and the job tally of a rule. */
#include <stdlib.h>
#include <string.h>

#include "memory.h"


void
memory_subscription_free(void *data)
{
    struct memory_subscription *sub = data;

    g_free(sub->profile);
    g_free(sub->topic);
    g_free(sub->channel);
    g_free(sub->status);
    g_free(sub->origin);
    g_free(sub);
}


/* The table key of (profile, topic, channel). */
static char *
subscription_key(const char *profile, const char *topic,
                 const char *channel)
{
    char *rest = pair_key(topic, channel);
    char *key = pair_key(profile, rest);

    g_free(rest);
    return key;
}


static json_t *
subscription_row(const struct memory_subscription *sub)
{
    return subscription_json(sub->profile, sub->topic, sub->channel,
                             sub->status, sub->origin, sub->created,
                             sub->updated);
}


/* Checks the store is running, and clears a parsed request otherwise. */
static int
running(struct memory_store *store, struct topic_request *in, int rc)
{
    if (rc == 0 && store->state != MEMORY_RUNNING) {
        topic_request_clear(in);
        rc = CRIER_ECLOSED;
    }
    return rc;
}


/* Writes the subscription (profile, topic, channel) with `status`,
 * `origin` and `time`, creating it when missing, and returns it. */
static struct memory_subscription *
subscription_write(struct memory_store *store, const char *profile,
                   const char *topic, const char *channel,
                   const char *status, const char *origin, int64_t time)
{
    char *key = subscription_key(profile, topic, channel);
    struct memory_subscription *sub = g_hash_table_lookup(
        store->subscriptions, key);

    if (sub == NULL) {
        sub = g_new0(struct memory_subscription, 1);
        sub->profile = g_strdup(profile);
        sub->topic = g_strdup(topic);
        sub->channel = g_strdup(channel);
        sub->created = time;
        g_hash_table_insert(store->subscriptions, key, sub);
    } else {
        g_free(key);
        g_free(sub->status);
        g_free(sub->origin);
    }
    sub->status = g_strdup(status);
    sub->origin = g_strdup(origin);
    sub->updated = time;
    return sub;
}


int
memory_subscription_set(void *state, json_t *request, crier_store_cb done,
                        void *arg)
{
    struct memory_store *store = state;
    struct memory_subscription *sub;
    struct topic_request in;
    int rc = running(store, &in, subscription_set_parse(request, &in));

    if (rc < 0)
        return rc;
    sub = subscription_write(store, in.profile, in.topic, in.channel,
                             in.status, in.origin, in.time);
    topic_request_clear(&in);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:o}", "subscription",
                               subscription_row(sub)));
    return 0;
}


/* Orders a profile's subscriptions by topic, then channel. */
static gint
topic_order(gconstpointer a, gconstpointer b)
{
    const struct memory_subscription *x = *(void *const *) a;
    const struct memory_subscription *y = *(void *const *) b;
    int c = strcmp(x->topic, y->topic);

    return c != 0 ? c : strcmp(x->channel, y->channel);
}


static gint
profile_order(gconstpointer a, gconstpointer b)
{
    const struct memory_subscription *x = *(void *const *) a;
    const struct memory_subscription *y = *(void *const *) b;

    return strcmp(x->profile, y->profile);
}


/* Returns nonzero when `sub` belongs in the result of `in`. */
static int
subscription_matches(const struct memory_subscription *sub,
                     const struct topic_request *in)
{
    if (in->profile != NULL)
        return strcmp(sub->profile, in->profile) == 0;
    return strcmp(sub->topic, in->topic) == 0 &&
           strcmp(sub->channel, in->channel) == 0 &&
           (in->after == NULL || strcmp(sub->profile, in->after) > 0);
}


/* NOTE: scans every subscription for each page; the SQLite store reads a
 * page through its index. */
int
memory_subscriptions_read(void *state, json_t *request, crier_store_cb done,
                          void *arg)
{
    struct memory_store *store = state;
    struct topic_request in;
    GHashTableIter iter;
    gpointer value;
    GPtrArray *found;
    json_t *rows;
    const char *next = NULL;
    size_t limit;
    int rc = running(store, &in, subscriptions_read_parse(request, &in));

    if (rc < 0)
        return rc;
    found = g_ptr_array_new();
    g_hash_table_iter_init(&iter, store->subscriptions);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        if (subscription_matches(value, &in))
            g_ptr_array_add(found, value);
    g_ptr_array_sort(found, in.profile != NULL ? topic_order : profile_order);
    limit = in.profile != NULL ? found->len : in.limit;
    rows = json_array();
    for (guint i = 0; i < found->len && i < limit; i++)
        json_array_append_new(rows, subscription_row(g_ptr_array_index(found,
                                                                       i)));
    if (found->len > limit)
        next = ((struct memory_subscription *)
                g_ptr_array_index(found, limit - 1))->profile;
    completion_queue(store, done, arg, 0,
                     json_pack("{s:o,s:s?}", "subscriptions", rows, "next",
                               next));
    g_ptr_array_unref(found);
    topic_request_clear(&in);
    return 0;
}


/* Deletes the subscriptions of an erased profile. */
void
subscriptions_forget(struct memory_store *store, const char *profile)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, store->subscriptions);
    while (g_hash_table_iter_next(&iter, NULL, &value))
        if (strcmp(((struct memory_subscription *) value)->profile,
                   profile) == 0)
            g_hash_table_iter_remove(&iter);
}


/* Replaces the status, origin and update time of `into` with those of
 * `from`. */
static void
subscription_take(struct memory_subscription *into,
                  const struct memory_subscription *from)
{
    g_free(into->status);
    g_free(into->origin);
    into->status = g_strdup(from->status);
    into->origin = g_strdup(from->origin);
    into->updated = from->updated;
}


/*
 * Moves the subscriptions of merged-away `from` to `into`. Where `into`
 * has a row for the same (topic, channel), that row stays and takes the
 * status of `from` only when it ranks higher (subscription_status_rank).
 */
void
subscriptions_move(struct memory_store *store, const char *from,
                   const char *into)
{
    GPtrArray *moved = g_ptr_array_new();
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init(&iter, store->subscriptions);
    while (g_hash_table_iter_next(&iter, &key, &value))
        if (strcmp(((struct memory_subscription *) value)->profile,
                   from) == 0) {
            g_ptr_array_add(moved, value);
            g_hash_table_iter_steal(&iter);
            g_free(key);
        }
    for (guint i = 0; i < moved->len; i++) {
        struct memory_subscription *sub = g_ptr_array_index(moved, i);
        char *k = subscription_key(into, sub->topic, sub->channel);
        struct memory_subscription *kept =
            g_hash_table_lookup(store->subscriptions, k);

        if (kept == NULL) {
            g_free(sub->profile);
            sub->profile = g_strdup(into);
            g_hash_table_insert(store->subscriptions, k, sub);
            continue;
        }
        if (subscription_status_rank(sub->status) >
            subscription_status_rank(kept->status))
            subscription_take(kept, sub);
        memory_subscription_free(sub);
        g_free(k);
    }
    g_ptr_array_free(moved, TRUE);
}


static gint
id_order(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}


/* Confirms every pending subscription of a profile on a channel, or
 * the one subscription of `topic` whatever its status, for a commit
 * batch's "confirmations". */
void
subscriptions_confirm(struct memory_store *store,
                      const struct topic_request *confirm)
{
    GHashTableIter iter;
    gpointer value;

    if (confirm->topic != NULL) {
        subscription_write(store, confirm->profile, confirm->topic,
                           confirm->channel, "confirmed", confirm->origin,
                           confirm->time);
        return;
    }
    g_hash_table_iter_init(&iter, store->subscriptions);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        struct memory_subscription *sub = value;

        if (strcmp(sub->profile, confirm->profile) != 0 ||
            strcmp(sub->channel, confirm->channel) != 0 ||
            strcmp(sub->status, "pending") != 0)
            continue;
        g_free(sub->status);
        g_free(sub->origin);
        sub->status = g_strdup("confirmed");
        sub->origin = g_strdup(confirm->origin);
        sub->updated = confirm->time;
    }
}


int
memory_object_put(void *state, json_t *request, crier_store_cb done,
                  void *arg)
{
    struct memory_store *store = state;
    struct topic_request in;
    int rc = running(store, &in, object_put_parse(request, &in));

    if (rc < 0)
        return rc;
    g_hash_table_replace(store->objects, pair_key(in.kind, in.id),
                         g_strdup(in.body));
    topic_request_clear(&in);
    completion_queue(store, done, arg, 0, json_object());
    return 0;
}


int
memory_objects_read(void *state, json_t *request, crier_store_cb done,
                    void *arg)
{
    struct memory_store *store = state;
    struct topic_request in;
    GHashTableIter iter;
    gpointer key, value;
    GPtrArray *ids;
    json_t *objects;
    char *prefix;
    int rc = running(store, &in, objects_read_parse(request, &in));

    if (rc < 0)
        return rc;
    /* pair_key(kind, id) is the kind's prefix followed by the id. */
    prefix = pair_key(in.kind, "");
    ids = g_ptr_array_new();
    g_hash_table_iter_init(&iter, store->objects);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        const char *id = (const char *) key + strlen(prefix);

        if (strncmp(key, prefix, strlen(prefix)) == 0 &&
            (in.id == NULL || strcmp(id, in.id) == 0))
            g_ptr_array_add(ids, (gpointer) id);
    }
    g_ptr_array_sort(ids, id_order);
    objects = json_array();
    for (guint i = 0; i < ids->len; i++) {
        const char *id = g_ptr_array_index(ids, i);
        char *full = pair_key(in.kind, id);
        json_t *object = stored_object_json(
            id, g_hash_table_lookup(store->objects, full));

        g_free(full);
        if (object != NULL)
            json_array_append_new(objects, object);
    }
    g_ptr_array_unref(ids);
    g_free(prefix);
    topic_request_clear(&in);
    completion_queue(store, done, arg, 0,
                     json_pack("{s:o}", "objects", objects));
    return 0;
}


int
memory_jobs_tally(void *state, json_t *request, crier_store_cb done,
                  void *arg)
{
    struct memory_store *store = state;
    struct topic_request in;
    json_t *tally;
    int rc = running(store, &in, jobs_tally_parse(request, &in));

    if (rc < 0)
        return rc;
    tally = jobs_tally_new();
    for (guint i = 0; i < store->jobs->len; i++) {
        const struct job *job = g_ptr_array_index(store->jobs, i);

        if (job->rule == NULL || strcmp(job->rule, in.rule) != 0)
            continue;
        jobs_tally_add(tally, job_state_name(job->state), job->error, 1);
        jobs_tally_last(tally, in.rule, job->key);
    }
    topic_request_clear(&in);
    completion_queue(store, done, arg, 0, tally);
    return 0;
}
