/*
 * Ingest: the one way events enter crier. Every trigger's events are
 * validated here (docs/events.md has the form) and appended to the store.
 * The trigger responds to its sender only after the store reports the
 * commit.
 */
#ifndef CRIER_CORE_INGEST_H
#define CRIER_CORE_INGEST_H

#include <stdint.h>

#include <crier/crier.h>

/* The maximum number of events in one emitted batch. */
#define INGEST_MAX_BATCH 1000

/* Largest event after normalisation, as compact JSON. */
#define INGEST_MAX_EVENT_BYTES (64 * 1024)

struct normalized_event {
    json_t *event;          /* the normalised object; owned */
    const char *type;       /* points into `event` */
    const char *id;         /* points into `event`, or NULL */
    int64_t time_ms;
};

/*
 * Validates `in` and builds its normalised form into `out`. `now_ms` is
 * the default time. Returns 0, or CRIER_EINVAL with `err` filled (its
 * index left alone).
 */
int event_normalize(const json_t *in, int64_t now_ms,
                    struct normalized_event *out,
                    struct crier_input_error *err);

/* Validates and appends; see crier_host.emit. */
/*
 * Returns 1 when the JSON string `v` has `min` to `max` characters. Limits
 * count Unicode code points, not bytes, as the error messages state them.
 * jansson has already checked that the string is valid UTF-8.
 */
int event_string_length_valid(const json_t *v, size_t min, size_t max);

/*
 * Fills `err` for `field` with `message`, which follows the field's name.
 * Returns CRIER_EINVAL.
 */
int event_reject(struct crier_input_error *err, const char *field,
                 const char *message);

/*
 * Checks an event's `related` field `v` and copies it into `ev`. Returns
 * 0, or CRIER_EINVAL with `err` naming the field, such as
 * "related.dependents[0].id".
 */
int event_related_check(const json_t *v, json_t *ev,
                        struct crier_input_error *err);

int ingest_emit(const char *source, json_t *events,
                struct crier_input_error *err, crier_emit_cb done,
                void *arg);

/* Returns the number of emitted batches not yet committed. */
unsigned ingest_pending(void);

/* Returns how long ago, in ms of loop time, the last batch was emitted. */
uint64_t ingest_idle_ms(void);

#endif
