#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "ingest/ingest.h"
#include "metrics/metrics.h"
#include "pipeline/engine.h"
#include "server/server.h"

/* One emitted batch on its way to the store. */
struct emit_batch {
    crier_emit_cb done;
    void *arg;
    size_t count;
    struct crier_event_rec *recs;
    char **texts;               /* the JSON of each record, owned */
    char *source;               /* the trigger instance, for metrics */
    uint64_t started;           /* metrics_now_ns() at the append */
    json_t **events;            /* the normalised events; records point
                                   into them */
};

static unsigned pending_batches;
static uint64_t last_emit;        /* loop time of the last batch, in ms */


static void
batch_free(struct emit_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->texts[i]);
        json_decref(b->events[i]);
    }
    free(b->texts);
    free(b->source);
    free(b->events);
    free(b->recs);
    free(b);
}


static void
on_appended(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct emit_batch *b = arg;

    pending_batches--;
    metrics_observe("crier_store_seconds", "op", "append",
                    (double) (metrics_now_ns() - b->started) / 1e9);
    if (status != 0) {
        log_error("events not stored", "count=%zu error=%s", b->count,
                  crier_errname(status));
        metrics_count("crier_events_rejected_total", "trigger", b->source,
                      b->count);
        metrics_count("crier_plugin_errors_total", "plugin", "store", 1);
    } else {
        metrics_count("crier_events_accepted_total", "trigger", b->source,
                      accepted);
        metrics_count("crier_events_duplicate_total", "trigger", b->source,
                      duplicates);
    }
    b->done(b->arg, status, accepted, duplicates);
    batch_free(b);
    if (status == 0 && accepted > 0)
        engine_notify_events();
}


/* Normalises event `i` into record `i` of `b`. */
static int
batch_fill(struct emit_batch *b, size_t i, const char *source,
           const json_t *in, int64_t now, struct crier_input_error *err)
{
    struct normalized_event ev;
    struct crier_event_rec *rec = &b->recs[i];
    int rc = event_normalize(in, now, &ev, err);

    if (rc != 0)
        return rc;
    b->events[i] = ev.event;
    b->texts[i] = json_dumps(ev.event, JSON_COMPACT);
    if (b->texts[i] == NULL)
        return CRIER_ENOMEM;
    rec->json_len = strlen(b->texts[i]);
    if (rec->json_len > INGEST_MAX_EVENT_BYTES) {
        snprintf(err->field, sizeof(err->field), "properties");
        snprintf(err->message, sizeof(err->message),
                 "the event is larger than %d bytes", INGEST_MAX_EVENT_BYTES);
        return CRIER_EINVAL;
    }
    rec->source = source;
    rec->id = ev.id;
    rec->type = ev.type;
    rec->time_ms = ev.time_ms;
    rec->received_ms = now;
    rec->json = b->texts[i];
    return 0;
}


int
ingest_emit(const char *source, json_t *events, struct crier_input_error *err,
            crier_emit_cb done, void *arg)
{
    struct emit_batch *b;
    size_t n = json_is_array(events) ? json_array_size(events) : 1;
    int64_t now = clock_now_ms();
    int rc;

    err->index = -1;
    err->field[0] = err->message[0] = '\0';
    if (json_is_array(events) && (n == 0 || n > INGEST_MAX_BATCH)) {
        snprintf(err->field, sizeof(err->field), "events");
        snprintf(err->message, sizeof(err->message),
                 "must hold 1 to %d events", INGEST_MAX_BATCH);
        metrics_count("crier_events_rejected_total", "trigger", source, n);
        return CRIER_EINVAL;
    }
    if (server.store_ops == NULL || server.stopping > 1)
        return CRIER_ECLOSED;

    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return CRIER_ENOMEM;
    b->recs = calloc(n, sizeof(*b->recs));
    b->texts = calloc(n, sizeof(*b->texts));
    b->events = calloc(n, sizeof(*b->events));
    if (b->recs == NULL || b->texts == NULL || b->events == NULL) {
        batch_free(b);
        return CRIER_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *in = json_is_array(events)
                               ? json_array_get(events, i) : events;

        b->count = i + 1;
        rc = batch_fill(b, i, source, in, now, err);
        if (rc != 0) {
            metrics_count("crier_events_rejected_total", "trigger", source,
                          n);
            if (json_is_array(events))
                err->index = (long) i;
            batch_free(b);
            return rc;
        }
    }
    b->done = done;
    b->arg = arg;
    b->source = strdup(source);
    b->started = metrics_now_ns();
    rc = server.store_ops->append(server.store->state, b->recs, n,
                                  on_appended, b);
    if (rc != 0) {
        batch_free(b);
        return rc;
    }
    pending_batches++;
    last_emit = uv_now(server.loop);
    return 0;
}


unsigned
ingest_pending(void)
{
    return pending_batches;
}


uint64_t
ingest_idle_ms(void)
{
    return uv_now(server.loop) - last_emit;
}
