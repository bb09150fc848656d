/*
 * The expression language of rules, segments, goals and journey
 * conditions; docs/expressions.md contains its grammar. An expression is
 * parsed once, at load, and evaluated against a JSON context object
 * ({"event": ..., "profile": ..., "case": ..., "now": ms}). Evaluation is
 * bounded: any() examines at most EXPR_ANY_MAX_ELEMENTS elements and
 * nests at most EXPR_ANY_MAX_NESTING deep, count() examines at most
 * EXPR_HISTORY_MAX past events, and regular expressions run under a
 * PCRE2 match limit.
 *
 * count(condition, window) reads two more members of the context:
 * "history", the profile's past events newest first, each a row of the
 * store's events_read ({"seq", "time": ms, "event": {...}, ...}), and
 * "time", the current event's time in ms. The window ends at "time", or
 * at "now" when the context has no "time" (a segment).
 */
#ifndef CRIER_CORE_EXPR_H
#define CRIER_CORE_EXPR_H

#include <stdint.h>

#include <jansson.h>

/* The maximum number of past events that count() examines, newest
 * first. The pipeline keeps no more than this per profile. */
#define EXPR_HISTORY_MAX 1000

struct expr;

/* Where an expression is wrong: 1-based line and column in its source. */
struct expr_error {
    int line;
    int col;
    char message[160];
};

/* Parses `src`; NULL on an error, with `err` filled. */
struct expr *expr_parse(const char *src, struct expr_error *err);

/*
 * Evaluates `e` against `ctx` and returns its value (a new reference;
 * a missing field is null). Never NULL but when out of memory.
 */
json_t *expr_eval(const struct expr *e, const json_t *ctx);

/* Evaluates `e` as a condition: 1 when its value is truthy, else 0. */
int expr_test(const struct expr *e, const json_t *ctx);

/* Returns the longest count() window in `e`, in ms, or 0 when `e` has
 * no count(). */
int64_t expr_window_max_ms(const struct expr *e);
/*
 * Returns 1 when the value of `e` can change as the clock moves with
 * nothing else changing, because it calls age_months(), count() or
 * now(). A new function that reads the clock must be counted here too.
 */
int expr_reads_clock(const struct expr *e);

void expr_free(struct expr *e);

#endif
