/*
 * count(condition, window): the number of the profile's past events in
 * the window for which the condition holds. The pipeline puts the past
 * events in the context's "history", newest first, with the current
 * event among them, so the current event counts when it matches.
 */
#include "rules/expr_int.h"


/* Returns when the window ends: the current event's time, or the
 * evaluation time for a context without an event. Sets *found to 0
 * when the context has neither. */
static int64_t
window_end(const json_t *ctx, int *found)
{
    const json_t *time = json_object_get(ctx, "time");

    if (!json_is_integer(time)) {
        time = json_object_get(ctx, "now");
    }
    *found = json_is_integer(time);
    return *found ? (int64_t) json_integer_value(time) : 0;
}


const json_t *
expr_count(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *history = json_object_get(scope->ctx, "history");
    struct expr_scope inner = *scope;
    size_t mark = json_array_size(scope->computed);
    const json_t *entry;
    json_t *result;
    json_int_t count = 0;
    int64_t end;
    int64_t start;
    int64_t time;
    size_t examined;
    size_t i;
    int found;

    end = window_end(scope->ctx, &found);
    start = end - e->window_ms;
    examined = json_array_size(history);
    if (examined > EXPR_HISTORY_MAX) {
        examined = EXPR_HISTORY_MAX;
    }

    /* An event counts when start <= time <= end, so one exactly a whole
     * window old still counts, and one later than the current event,
     * which arrived out of order, does not. */
    for (i = 0; found && i < examined; i++) {
        entry = json_array_get(history, i);
        time = json_integer_value(json_object_get(entry, "time"));
        if (time < start || time > end) {
            continue;
        }
        inner.event = json_object_get(entry, "event");
        if (inner.event == NULL) {
            inner.event = json_null();
        }
        if (expr_value_truthy(expr_eval_borrowed(e->children[0], &inner))) {
            count++;
        }
        while (json_array_size(scope->computed) > mark) {
            json_array_remove(scope->computed,
                              json_array_size(scope->computed) - 1);
        }
    }

    if (scope->computed == NULL) {
        return json_null();
    }
    result = json_integer(count);
    if (json_array_append_new(scope->computed, result) != 0) {
        return json_null();
    }
    return result;
}


int64_t
expr_window_max_ms(const struct expr *e)
{
    int64_t longest = 0;
    int64_t child;

    if (e == NULL) {
        return 0;
    }
    if (e->kind == EXPR_COUNT) {
        longest = e->window_ms;
    }
    for (size_t i = 0; i < e->child_count; i++) {
        child = expr_window_max_ms(e->children[i]);
        if (child > longest) {
            longest = child;
        }
    }
    return longest;
}
