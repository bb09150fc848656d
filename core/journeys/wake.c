/*
 * The journey clock: turns due journey rows into journey.due events.
 *
 * A wake-up reads the active rows due by now (journeys_due) and commits,
 * in one transaction, a wake-up for each row and a journey.due event
 * naming its entry, step and due time. The store applies a wake-up only
 * while the row is still on that entry, step and due time, and the
 * pipeline ignores an event whose row has moved on, so a resident's
 * event that moved the row in between wins. A crash before the commit
 * leaves the rows due, and the next wake-up reads them again.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/log.h"
#include "digests/digests.h"
#include "ingest/internal.h"
#include "journeys/journeys.h"
#include "pipeline/pipeline.h"
#include "rules/rules.h"
#include "server/server.h"

static struct {
    struct crier_timer *timer;
    int busy;                   /* a read or commit is under way */
    int started;                /* journeys_wake_start ran the clock */
    int stopped;
    int64_t read_at;            /* the crier clock at the last read */
    int64_t next;               /* the earliest due after the last read,
                                 * or -1 */
    int64_t poked;              /* the earliest due that a commit wrote
                                 * during a read, or -1 */
    int64_t timer_at;           /* when the pending timer fires */
} wake = { .next = -1, .poked = -1 };

static void wake_run(void);


static int
store_has_journeys(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, journeys_due) +
                        sizeof(ops->journeys_due) &&
           ops->journeys_read != NULL && ops->journeys_due != NULL;
}


/* Returns nonzero when `rules` has journeys or digests, whose rows the
 * clock wakes. */
static int
rows_configured(const struct ruleset *rules)
{
    return rules != NULL &&
           ((rules->journeys != NULL && rules->journeys->len > 0) ||
            (rules->digests != NULL && rules->digests->len > 0));
}


int
journeys_running(const struct ruleset *rules)
{
    return rows_configured(rules) && store_has_journeys();
}


static void
on_timer(void *arg)
{
    (void) arg;
    wake.timer = NULL;
    wake_run();
}


/* Waits for the next whole JOURNEY_WAKE_MS of the crier clock, or for
 * `next` when that comes first. `next` is the earliest due after the
 * last read, such as a digest window that ends at 12:05:00.1, or -1 for
 * none. It runs again at once when the last read was full, or when the
 * clock passed a whole interval during the read (a test clock that
 * jumps), because the timer for that interval would then never fire. */
static void
wake_later(int full, int64_t next)
{
    int64_t now = clock_now_ms();
    int missed = now / JOURNEY_WAKE_MS > wake.read_at / JOURNEY_WAKE_MS;
    int64_t delay = full || missed ? 0
                                   : JOURNEY_WAKE_MS - now % JOURNEY_WAKE_MS;

    if (wake.poked >= 0 && (next < 0 || wake.poked < next))
        next = wake.poked;
    wake.poked = -1;
    if (next >= 0 && next - now < delay)
        delay = next > now ? next - now : 0;

    if (wake.stopped)
        return;
    wake.timer = timer_start(delay, on_timer, NULL);
    wake.timer_at = now + delay;
    if (wake.timer == NULL)
        log_error("journey clock timer failed; due journey steps wait "
                  "for a restart", "delay_ms=%lld", (long long) delay);
}


static void
on_committed(void *arg, int status, json_t *result)
{
    size_t woken = (size_t) (uintptr_t) arg;

    (void) result;
    wake.busy = 0;
    if (status != 0)
        log_error("journey wake-up failed; retrying on the next tick",
                  "rows=%zu error=%s", woken, crier_errname(status));
    else
        pipeline_notify();
    wake_later(status == 0 && woken == JOURNEY_WAKE_LIMIT, wake.next);
}


/* Builds the journey.due event of a due row. NOTE: a row of a journey
 * removed from the config is woken too, and the pipeline ignores its
 * event, so the row stays active with no due time
 * (docs/KNOWN_LIMITS.md, "Journeys"). */
static json_t *
due_event(const json_t *row)
{
    const char *name = json_string_value(json_object_get(row, "journey"));
    json_t *props = json_pack("{s:O,s:O,s:O,s:O}", "journey",
                              json_object_get(row, "journey"), "entry",
                              json_object_get(row, "entry"), "step",
                              json_object_get(row, "step"), "due",
                              json_object_get(row, "due"));
    int digest = g_str_has_prefix(name, DIGEST_ROW_PREFIX);

    /* A digest's event carries the items it lists, for the template. */
    if (digest)
        json_object_set(props, "items", json_object_get(row, "items"));
    return internal_event(digest ? INTERNAL_DIGEST_DUE
                                 : INTERNAL_JOURNEY_DUE,
                          json_string_value(json_object_get(row, "profile")),
                          json_integer_value(json_object_get(row, "due")),
                          props);
}


static void
on_due(void *arg, int status, json_t *result)
{
    json_t *rows = json_object_get(result, "rows");
    json_t *wakes, *events, *batch;
    size_t i;
    json_t *row;
    int rc;

    (void) arg;
    wake.next = status == 0 && json_is_integer(json_object_get(result,
                                                               "next"))
        ? json_integer_value(json_object_get(result, "next")) : -1;
    if (status != 0 || json_array_size(rows) == 0 || wake.stopped) {
        if (status != 0)
            log_error("journey due rows could not be read; retrying on "
                      "the next tick", "error=%s", crier_errname(status));
        wake.busy = 0;
        wake_later(0, wake.next);
        return;
    }
    wakes = json_array();
    events = json_array();
    json_array_foreach(rows, i, row) {
        json_t *copy = json_deep_copy(row);

        json_object_set_new(copy, "wake", json_true());
        json_array_append_new(wakes, copy);
        json_array_append_new(events, due_event(row));
    }
    batch = json_pack("{s:o,s:o}", "journeys", wakes, "events", events);
    rc = server.store_ops->commit(server.store->state, batch, on_committed,
                                  (void *) (uintptr_t) json_array_size(rows));
    json_decref(batch);
    if (rc != 0)
        on_committed((void *) (uintptr_t) 0, rc, NULL);
}


static void
wake_run(void)
{
    json_t *request;
    int rc;

    if (wake.stopped || wake.busy || server.stopping)
        return;
    wake.busy = 1;
    wake.read_at = clock_now_ms();
    request = json_pack("{s:I,s:i,s:i}", "now", (json_int_t) wake.read_at,
                        "limit", JOURNEY_WAKE_LIMIT, "lease_ms",
                        JOURNEY_WAKE_LEASE_MS);
    rc = server.store_ops->journeys_due(server.store->state, request,
                                        on_due, NULL);
    json_decref(request);
    if (rc != 0)
        on_due(NULL, rc, NULL);
}


void
journeys_wake_start(const struct ruleset *rules)
{
    if (!rows_configured(rules))
        return;
    if (!store_has_journeys()) {
        log_error("journeys or digests are configured, but the store "
                  "plugin lacks journeys_read and journeys_due; they do "
                  "not run", "journeys=%u digests=%u", rules->journeys->len,
                  rules->digests->len);
        return;
    }
    wake.stopped = 0;
    wake.started = 1;
    wake_run();
}


void
journeys_wake_stop(void)
{
    wake.stopped = 1;
    if (wake.timer != NULL) {
        timer_stop(wake.timer);
        wake.timer = NULL;
    }
}


void
journeys_wake_due(int64_t due)
{
    int64_t now = clock_now_ms();

    if (due < 0 || !wake.started || wake.stopped)
        return;
    /* A read under way may have missed the row, so the wait after it
     * counts the due too. */
    if (wake.busy) {
        if (wake.poked < 0 || due < wake.poked)
            wake.poked = due;
        return;
    }
    if (wake.timer != NULL && wake.timer_at <= due)
        return;
    if (wake.timer != NULL)
        timer_stop(wake.timer);
    wake.timer = timer_start(due > now ? due - now : 0, on_timer, NULL);
    wake.timer_at = due > now ? due : now;
    if (wake.timer == NULL)
        log_error("journey clock timer failed; due journey steps wait "
                  "for a restart", "due=%lld", (long long) due);
}
