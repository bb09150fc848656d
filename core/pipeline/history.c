#include "pipeline/history.h"

#include <stddef.h>
#include <stdlib.h>

#include "rules/expr.h"
#include "rules/rules.h"
#include "segments/segments.h"
#include "server/server.h"

/* A history_load call waiting for the store. */
struct history_call {
    history_cb done;
    void *arg;
};


int
history_supported(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, events_recent) +
                        sizeof(ops->events_recent) &&
           ops->events_recent != NULL;
}


static void
on_recent(void *arg, int status, json_t *result)
{
    struct history_call *call = arg;

    call->done(call->arg, status,
               status == 0 ? json_object_get(result, "profiles") : NULL);
    free(call);
}


int
history_load(const json_t *profiles, int64_t since, history_cb done,
             void *arg)
{
    struct history_call *call;
    json_t *request;
    int rc;

    if (!history_supported())
        return CRIER_ENOTSUP;
    call = calloc(1, sizeof(*call));
    request = json_pack("{s:O,s:I,s:i}", "profiles", profiles, "since",
                        (json_int_t) since, "limit", EXPR_HISTORY_MAX);
    if (call == NULL || request == NULL) {
        free(call);
        json_decref(request);
        return CRIER_ENOMEM;
    }
    call->done = done;
    call->arg = arg;
    rc = server.store_ops->events_recent(server.store->state, request,
                                         on_recent, call);
    json_decref(request);
    if (rc != 0)
        free(call);
    return rc;
}


int64_t
history_window_ms(const struct ruleset *rules,
                  const struct segment_set *segments)
{
    int64_t longest = 0;
    int64_t window;

    for (guint i = 0; rules != NULL && i < rules->rules->len; i++) {
        const struct rule *rule = g_ptr_array_index(rules->rules, i);

        window = expr_window_max_ms(rule->when);
        if (window > longest)
            longest = window;
    }
    for (guint i = 0; segments != NULL && i < segments->segments->len; i++) {
        const struct segment *s = g_ptr_array_index(segments->segments, i);

        window = expr_window_max_ms(s->when);
        if (window > longest)
            longest = window;
    }
    return longest;
}


/* Returns nonzero when row `a` is newer than `b`: a later time, or at the
 * same time a higher seq. */
static int
row_newer(const json_t *a, const json_t *b)
{
    json_int_t ta = json_integer_value(json_object_get(a, "time"));
    json_int_t tb = json_integer_value(json_object_get(b, "time"));

    if (ta != tb)
        return ta > tb;
    return json_integer_value(json_object_get(a, "seq")) >
           json_integer_value(json_object_get(b, "seq"));
}


/* Drops the oldest rows past EXPR_HISTORY_MAX. */
static void
list_trim(json_t *list)
{
    /* NOTE: count() then misses the dropped events without a log line;
     * see "Rules and expressions" in docs/KNOWN_LIMITS.md. */
    while (json_array_size(list) > EXPR_HISTORY_MAX)
        json_array_remove(list, json_array_size(list) - 1);
}


json_t *
history_add(json_t *history, const char *profile, json_t *row)
{
    json_t *list = json_object_get(history, profile);
    size_t at = 0;

    if (list == NULL) {
        list = json_array();
        json_object_set_new(history, profile, list);
    }
    /* Rows mostly arrive newest last, so the place is usually 0. */
    while (at < json_array_size(list) &&
           row_newer(json_array_get(list, at), row))
        at++;
    json_array_insert(list, at, row);
    list_trim(list);
    return list;
}


void
history_merge(json_t *history, const char *from, const char *into)
{
    json_t *moving = json_object_get(history, from);
    size_t i;
    json_t *row;

    if (moving == NULL)
        return;
    json_incref(moving);
    json_object_del(history, from);
    json_array_foreach(moving, i, row)
        history_add(history, into, row);
    json_decref(moving);
}
