/*
 * Report counters, kept as the sqlite store keeps them. Each counter
 * lives in a GTree under a key that sorts like the sqlite store's ORDER
 * BY: the text members joined by 0x1f, which sorts below every printable
 * character, and integers as fixed-width digits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "memory.h"

/* Makes any int64_t a non-negative number, so that its fixed-width digits
 * sort in numeric order. */
#define KEY_OFFSET ((uint64_t) 1 << 63)


/* One counter: up to four text members, two integers and the count. */
struct counter {
    char *text[4];
    int64_t day;
    int64_t number;
    int64_t count;
};


static void
counter_free(void *data)
{
    struct counter *counter = data;

    for (int i = 0; i < 4; i++)
        g_free(counter->text[i]);
    g_free(counter);
}


static int
key_compare(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void) unused;
    return strcmp(a, b);
}


GTree *
report_tree_new(void)
{
    return g_tree_new_full(key_compare, NULL, g_free, counter_free);
}


/* Appends a fixed-width, order-keeping form of `value` to `key`. */
static void
key_add_integer(GString *key, int64_t value)
{
    g_string_append_printf(key, "%020" PRIu64 "\x1f",
                           (uint64_t) value + KEY_OFFSET);
}


/*
 * Adds `amount` to the counter of `tree` named by `text` (`n` members,
 * NULL read as "") and the integers, creating it at zero.
 */
static void
counter_add(GTree *tree, const char *const *text, int n, int64_t day,
            int64_t number, int64_t amount)
{
    GString *key = g_string_new(NULL);
    struct counter *counter;

    for (int i = 0; i < n; i++) {
        g_string_append(key, text[i] != NULL ? text[i] : "");
        g_string_append_c(key, '\x1f');
        /* Moves sort by program, day, then stages. */
        if (i == 0)
            key_add_integer(key, day);
    }
    key_add_integer(key, number);
    counter = g_tree_lookup(tree, key->str);
    if (counter == NULL) {
        counter = g_new0(struct counter, 1);
        for (int i = 0; i < n; i++)
            counter->text[i] = g_strdup(text[i] != NULL ? text[i] : "");
        counter->day = day;
        counter->number = number;
        g_tree_insert(tree, g_string_free(key, FALSE), counter);
    } else {
        g_string_free(key, TRUE);
    }
    counter->count += amount;
}


void
report_message_count(struct memory_store *store, const struct job *job,
                     const char *metric, int64_t time)
{
    const char *text[4] = { job->rule, job->template_name, job->channel,
                            metric };

    /* Messages sum over days, so the day goes last in their key. */
    counter_add(store->report_messages, text, 4, 0, report_day(time), 1);
}


void
report_stage_move(struct memory_store *store, const struct stage_move *move)
{
    GHashTable *programs = g_hash_table_lookup(store->stages, move->profile);
    struct memory_stage *old = programs != NULL
                               ? g_hash_table_lookup(programs, move->program)
                               : NULL;
    const char *text[3] = { move->program, move->from, move->to };
    int64_t day = report_day(move->time);

    counter_add(store->report_moves, text, 3, day, 0, 1);
    if (old != NULL) {
        const char *left[2] = { move->program, old->stage };
        int64_t spent = move->time > old->since
                        ? (move->time - old->since) / REPORT_DAY_MS : 0;

        counter_add(store->report_durations, left, 2, day, spent, 1);
    }
}


/* Returns nonzero the first time the pair (first, second) is seen. */
static int
once(struct memory_store *store, const char *first, int64_t second)
{
    char *key = g_strdup_printf("%s\x1f%" PRId64, first, second);

    if (g_hash_table_contains(store->report_once, key)) {
        g_free(key);
        return 0;
    }
    g_hash_table_add(store->report_once, key);
    return 1;
}


void
report_goal_hit(struct memory_store *store, const struct goal_hit *hit)
{
    struct job *best = NULL;
    char metric[256];
    char *goal_key;

    /* The last sent job (or holdout job) wins; at the same time the
     * higher id does, as the sqlite store orders them. NOTE: a scan of
     * every job per hit, which is fine only for tests (see "Reports" in
     * docs/KNOWN_LIMITS.md). */
    for (guint i = 0; i < store->jobs->len; i++) {
        struct job *job = g_ptr_array_index(store->jobs, i);

        int holdout = job->state == JOB_SUPPRESSED &&
                      job->last_error != NULL &&
                      strcmp(job->last_error, HOLDOUT_ERROR) == 0;

        if ((job->state != JOB_SENT && !holdout) || job->profile == NULL ||
            job->program == NULL || strcmp(job->profile, hit->profile) ||
            strcmp(job->program, hit->program) ||
            job->updated < hit->time - hit->window_ms ||
            job->updated > hit->time)
            continue;
        if (best == NULL || job->updated >= best->updated)
            best = job;
    }
    if (best == NULL)
        return;
    goal_key = g_strdup_printf("goal:%s", hit->goal);
    if (once(store, goal_key, best->id)) {
        snprintf(metric, sizeof(metric), "converted:%s", hit->goal);
        report_message_count(store, best, metric, hit->time);
    }
    g_free(goal_key);
}


/* Finds the job that a delivery status names by Message-ID, the oldest
 * first, as the SQLite store does. A linear scan is enough for a store
 * that tests use. */
static struct job *
job_by_message_id(struct memory_store *store, const char *message_id)
{
    for (guint i = 0; i < store->jobs->len; i++) {
        struct job *job = g_ptr_array_index(store->jobs, i);

        if (job->message_id != NULL
            && strcmp(job->message_id, message_id) == 0)
            return job;
    }
    return NULL;
}


/* Keeps a delivery status on its job unless a later one is stored. */
static void
delivery_set(struct job *job, const struct engagement *item)
{
    if (job->delivery_status != NULL && job->delivery_time > item->time)
        return;
    free(job->delivery_status);
    free(job->delivery_code);
    free(job->delivery_text);
    job->delivery_status = g_strdup(item->status);
    job->delivery_code = g_strdup(item->code);
    job->delivery_text = g_strdup(item->text);
    job->delivery_time = item->time;
}


void
report_engagement(struct memory_store *store, const struct engagement *item)
{
    struct job *job = item->key != NULL
                      ? g_hash_table_lookup(store->job_keys, item->key)
                      : job_by_message_id(store, item->message_id);
    char *metric_key;

    if (job == NULL)
        return;
    if (item->delivery)
        delivery_set(job, item);
    if (item->invalidate != NULL && job->to != NULL)
        g_hash_table_replace(store->invalid, g_strdup(job->to),
                             g_strdup(item->code != NULL ? item->code
                                                         : item->status));
    metric_key = g_strdup_printf("engagement:%s", item->metric);
    if (once(store, metric_key, job->id))
        report_message_count(store, job, item->metric, item->time);
    g_free(metric_key);
}


/* The state of one report_read: the request and the result under way. */
struct report_walk {
    const struct report_request *query;
    json_t *result;
    GTree *sums;                /* messages summed over the days */
    int rc;
};


static int
day_in_range(const struct report_request *query, int64_t day)
{
    return day >= query->since && day < query->until;
}


static int
program_matches(const struct report_request *query, const char *program)
{
    return query->program == NULL || strcmp(query->program, program) == 0;
}


static gboolean
message_sum(gpointer key, gpointer value, gpointer data)
{
    struct counter *counter = value;
    struct report_walk *walk = data;
    const char *text[4] = { counter->text[0], counter->text[1],
                            counter->text[2], counter->text[3] };

    (void) key;
    if (day_in_range(walk->query, counter->number))
        counter_add(walk->sums, (const char *const *) text, 4, 0, 0,
                    counter->count);
    return FALSE;
}


static gboolean
message_add(gpointer key, gpointer value, gpointer data)
{
    struct counter *c = value;
    struct report_walk *walk = data;

    (void) key;
    walk->rc = report_message_add(walk->result, c->text[0], c->text[1],
                                  c->text[2], c->text[3], c->count);
    return walk->rc < 0;
}


static gboolean
move_add(gpointer key, gpointer value, gpointer data)
{
    struct counter *c = value;
    struct report_walk *walk = data;

    (void) key;
    if (!day_in_range(walk->query, c->day) ||
        !program_matches(walk->query, c->text[0]))
        return FALSE;
    walk->rc = report_move_add(walk->result, c->text[0], c->day,
                               c->text[1][0] != '\0' ? c->text[1] : NULL,
                               c->text[2], c->count);
    return walk->rc < 0;
}


/* Sums durations over the days in range, keyed by program, stage and
 * whole days spent. */
static gboolean
duration_sum(gpointer key, gpointer value, gpointer data)
{
    struct counter *c = value;
    struct report_walk *walk = data;
    const char *text[2] = { c->text[0], c->text[1] };

    (void) key;
    if (day_in_range(walk->query, c->day) &&
        program_matches(walk->query, c->text[0]))
        counter_add(walk->sums, text, 2, 0, c->number, c->count);
    return FALSE;
}


static gboolean
duration_add(gpointer key, gpointer value, gpointer data)
{
    struct counter *c = value;
    struct report_walk *walk = data;

    (void) key;
    walk->rc = report_duration_add(walk->result, c->text[0], c->text[1],
                                   c->number, c->count);
    return walk->rc < 0;
}


/* Counts the residents per (program, stage) now, from the stages. */
static void
residents_count(struct memory_store *store, struct report_walk *walk)
{
    GHashTableIter profiles;
    gpointer programs;
    GTree *sums = report_tree_new();

    g_hash_table_iter_init(&profiles, store->stages);
    while (g_hash_table_iter_next(&profiles, NULL, &programs)) {
        GHashTableIter iter;
        gpointer program;
        gpointer value;

        g_hash_table_iter_init(&iter, programs);
        while (g_hash_table_iter_next(&iter, &program, &value)) {
            const char *text[2] = { program,
                                    ((struct memory_stage *) value)->stage };

            if (program_matches(walk->query, program))
                counter_add(sums, text, 2, 0, 0, 1);
        }
    }
    walk->sums = sums;
}


static gboolean
resident_add(gpointer key, gpointer value, gpointer data)
{
    struct counter *c = value;
    struct report_walk *walk = data;

    (void) key;
    walk->rc = report_resident_add(walk->result, c->text[0], c->text[1],
                                   c->count);
    return walk->rc < 0;
}


/* Builds the report_read result in the order of the sqlite store. */
static json_t *
report_build(struct memory_store *store, const struct report_request *query)
{
    struct report_walk walk = { query, report_result_new(), NULL, 0 };

    if (walk.result == NULL)
        return NULL;
    walk.sums = report_tree_new();
    g_tree_foreach(store->report_messages, message_sum, &walk);
    g_tree_foreach(walk.sums, message_add, &walk);
    g_tree_unref(walk.sums);

    residents_count(store, &walk);
    g_tree_foreach(walk.sums, resident_add, &walk);
    g_tree_unref(walk.sums);

    g_tree_foreach(store->report_moves, move_add, &walk);

    walk.sums = report_tree_new();
    g_tree_foreach(store->report_durations, duration_sum, &walk);
    g_tree_foreach(walk.sums, duration_add, &walk);
    g_tree_unref(walk.sums);
    if (walk.rc < 0) {
        json_decref(walk.result);
        return NULL;
    }
    return walk.result;
}


int
memory_report_read(void *state, json_t *request, crier_store_cb done,
                   void *arg)
{
    struct memory_store *store = state;
    struct report_request query;
    json_t *result;
    int rc = report_request_parse(request, &query);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        report_request_clear(&query);
        return CRIER_ECLOSED;
    }
    result = report_build(store, &query);
    completion_queue(store, done, arg, result != NULL ? 0 : CRIER_ENOMEM,
                     result);
    report_request_clear(&query);
    return 0;
}
