/*
 * Profile history for count() in expressions: each profile's recent
 * events, newest first, as rows of the store's events_read. The pipeline
 * loads it only when a rule or segment uses count(), and keeps at most
 * EXPR_HISTORY_MAX events per profile.
 */
#ifndef CRIER_CORE_HISTORY_H
#define CRIER_CORE_HISTORY_H

#include <stdint.h>

#include <jansson.h>

struct ruleset;
struct segment_set;

/*
 * Receives the history of history_load: {id: [row, ...]} with a list
 * for each requested profile, or NULL with a negative status. Borrowed
 * for the call only.
 */
typedef void (*history_cb)(void *arg, int status, json_t *history);

/*
 * Loads the stored events of `profiles` (an array of profile ids) whose
 * time is at least `since`, at most EXPR_HISTORY_MAX per profile, with
 * the store's events_recent. Returns 0 and later calls `done`, or a
 * negative code (CRIER_ENOTSUP when the store lacks events_recent)
 * without calling it. Any caller on the loop thread may use it, not
 * only the pipeline.
 */
int history_load(const json_t *profiles, int64_t since, history_cb done,
                 void *arg);

/* Returns nonzero when the running store implements events_recent. */
int history_supported(void);

/* Returns the longest count() window of any rule or segment, in ms, or
 * 0 when none uses count(). */
int64_t history_window_ms(const struct ruleset *rules,
                          const struct segment_set *segments);

/*
 * Adds `row` (an events_read row) to the list of `profile` in `history`
 * in its place, newest first, and drops the oldest rows past
 * EXPR_HISTORY_MAX. Returns the list, borrowed.
 */
json_t *history_add(json_t *history, const char *profile, json_t *row);

/* Moves the list of `from` into that of `into`, newest first and
 * bounded, as a merge of the two profiles does. */
void history_merge(json_t *history, const char *from, const char *into);

#endif
