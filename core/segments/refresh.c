/*
 * The segment refresh pass: pages through every stored profile in id
 * order and commits the entries and exits that the clock alone caused,
 * such as a child turning 24 months old, with their events.
 *
 * One pass runs at start over every segment, so that a segment added to
 * the config covers the profiles stored before. Then, when a segment
 * reads the clock, a pass over those segments runs every
 * `segments_refresh` on the crier clock. Each page is one
 * pipeline_exclusive turn: read, evaluate and commit with no pipeline
 * batch in between, so the pass never overwrites a batch's change and a
 * batch never works from a page's stale profile. Events flow between two
 * pages. Only one page of profiles is in memory at a time.
 */
#include <stddef.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/history.h"
#include "pipeline/pipeline.h"
#include "segments/segments.h"
#include "server/server.h"

/* Profiles read and evaluated in one pipeline turn. A page of 500 keeps a
 * turn short (see docs/profiles.md for the measured cost). */
#define REFRESH_PAGE 500

/* The wait before the next pass after a store error. */
#define REFRESH_RETRY_MS (60 * 1000)

static struct {
    struct crier_timer *timer;
    int running;                /* a pass is under way */
    int stopping;
    int clock_only;             /* this pass reads only clock segments */
    char *after;                /* the last profile id of the last page */
    long long profiles;         /* profiles read in this pass */
    long long entered;
    long long left;
    uint64_t started;           /* loop time of the pass's start, in ms */
} rf;

static void page_queue(void);


/* Returns 1 when the store implements profiles_scan: its ops table is
 * large enough to have the entry, and the entry is set. */
static int
store_has_scan(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, profiles_scan) +
                        sizeof(ops->profiles_scan) &&
           ops->profiles_scan != NULL;
}


/*
 * Starts a pass over the segments that read the clock.
 *
 * NOTE: a pass reads every profile, also those no clock segment can
 * match. A profile that an admin merge or update changed is evaluated for
 * the other segments only at its next event or the next start. See "Rules
 * and expressions" in docs/KNOWN_LIMITS.md.
 */
static void
on_timer(void *arg)
{
    (void) arg;
    rf.timer = NULL;
    if (rf.stopping || rf.running)
        return;
    rf.running = 1;
    rf.clock_only = 1;
    rf.profiles = rf.entered = rf.left = 0;
    rf.started = uv_now(server.loop);
    page_queue();
}


/* Waits `delay_ms` on the crier clock for the next pass, which reads
 * only the segments that depend on the clock. */
static void
schedule(int64_t delay_ms)
{
    if (rf.stopping || !server.segments->reads_clock)
        return;
    rf.timer = timer_start(delay_ms, on_timer, NULL);
}


static void
pass_finish(int status)
{
    rf.running = 0;
    g_free(rf.after);
    rf.after = NULL;
    if (status != 0) {
        log_error("segment refresh failed; retrying later", "error=%s "
                  "retry_ms=%d", crier_errname(status), REFRESH_RETRY_MS);
        schedule(REFRESH_RETRY_MS);
        return;
    }
    if (rf.stopping) {
        log_info("segment refresh stopped", "profiles=%lld",
                 rf.profiles);
        return;
    }
    log_info("segments refreshed", "segments=%s profiles=%lld entered=%lld "
             "left=%lld ms=%llu", rf.clock_only ? "clock" : "all",
             rf.profiles, rf.entered, rf.left,
             (unsigned long long) (uv_now(server.loop) - rf.started));
    schedule(server.segments->refresh_ms);
}


/* Ends the page's pipeline turn, then queues the next page or ends the
 * pass. */
static void
page_end(int status, const char *next)
{
    pipeline_exclusive_end();
    if (status != 0 || next == NULL || rf.stopping) {
        pass_finish(status);
        return;
    }
    g_free(rf.after);
    rf.after = g_strdup(next);
    page_queue();
}


struct page {
    char *next;                 /* where the next page starts, or NULL */
};


static void
on_committed(void *arg, int status, json_t *result)
{
    struct page *page = arg;

    (void) result;
    if (status == 0)
        pipeline_notify();
    page_end(status, page->next);
    g_free(page->next);
    free(page);
}


/* Counts a page's entries and exits for the pass's log line. */
static void
count_changes(const json_t *changes)
{
    size_t i;
    json_t *change;

    json_array_foreach(changes, i, change) {
        if (json_is_true(json_object_get(change, "member")))
            rf.entered++;
        else
            rf.left++;
    }
}


/* Evaluates the page's profiles, with their history when a segment
 * counts past events, and commits what changed with the events that
 * record it. */
static void
page_evaluate(json_t *profiles, const json_t *history, const char *next)
{
    json_t *changes = json_array();
    json_t *batch;
    struct page *page;
    int64_t now = clock_now_ms();
    size_t i;
    json_t *profile;
    int rc;

    json_array_foreach(profiles, i, profile) {
        const char *id = json_string_value(json_object_get(profile, "id"));

        segments_evaluate(server.segments, profile,
                          history ? json_object_get(history, id) : NULL,
                          now, rf.clock_only, changes);
    }
    rf.profiles += (long long) json_array_size(profiles);
    if (json_array_size(changes) == 0) {
        json_decref(changes);
        page_end(0, next);
        return;
    }
    count_changes(changes);
    page = calloc(1, sizeof(*page));
    page->next = g_strdup(next);
    batch = json_pack("{s:o,s:o}", "events", segments_events(changes),
                      "segments", changes);
    rc = server.store_ops->commit(server.store->state, batch, on_committed,
                                  page);
    json_decref(batch);
    if (rc != 0) {
        g_free(page->next);
        free(page);
        page_end(rc, NULL);
    }
}


/* A page waiting for its profiles' history. */
struct page_read {
    json_t *profiles;
    char *next;
};


static void
on_history(void *arg, int status, json_t *history)
{
    struct page_read *read = arg;

    if (status != 0)
        page_end(status, NULL);
    else
        page_evaluate(read->profiles, history, read->next);
    json_decref(read->profiles);
    g_free(read->next);
    free(read);
}


/* Loads the history that count() needs for the page, from the longest
 * window before now. Returns 0 or a negative code. */
static int
page_history(json_t *profiles, const char *next, int64_t window_ms)
{
    struct page_read *read = calloc(1, sizeof(*read));
    json_t *ids = json_array();
    size_t i;
    json_t *profile;
    int rc;

    json_array_foreach(profiles, i, profile)
        json_array_append(ids, json_object_get(profile, "id"));
    read->profiles = json_incref(profiles);
    read->next = g_strdup(next);
    rc = history_load(ids, clock_now_ms() - window_ms, on_history, read);
    json_decref(ids);
    if (rc != 0) {
        json_decref(read->profiles);
        g_free(read->next);
        free(read);
    }
    return rc;
}


static void
on_page(void *arg, int status, json_t *result)
{
    const char *next = json_string_value(json_object_get(result, "next"));
    json_t *profiles = json_object_get(result, "profiles");
    int64_t window = history_window_ms(NULL, server.segments);
    int rc;

    (void) arg;
    if (status != 0) {
        page_end(status, NULL);
        return;
    }
    if (window == 0 || json_array_size(profiles) == 0) {
        page_evaluate(profiles, NULL, next);
        return;
    }
    rc = page_history(profiles, next, window);
    if (rc != 0)
        page_end(rc, NULL);
}


/* Reads the next page inside the pipeline turn. */
static void
page_run(void *arg)
{
    json_t *request;
    int rc;

    (void) arg;
    request = json_pack("{s:s?,s:i}", "after", rf.after, "limit",
                        REFRESH_PAGE);
    rc = server.store_ops->profiles_scan(server.store->state, request,
                                         on_page, NULL);
    json_decref(request);
    if (rc != 0)
        page_end(rc, NULL);
}


static void
page_queue(void)
{
    int rc = rf.stopping ? CRIER_ECLOSED : pipeline_exclusive(page_run,
                                                                NULL);

    if (rc != 0) {
        rf.running = 0;
        g_free(rf.after);
        rf.after = NULL;
    }
}


void
segments_refresh_start(void)
{
    rf.stopping = 0;
    if (server.segments == NULL || server.segments->segments->len == 0)
        return;
    if (!store_has_scan()) {
        log_warn("segment refresh not supported by the store; segments "
                 "change only at a profile's next event", "plugin=%s",
                 server.store->desc->name);
        return;
    }
    rf.running = 1;
    rf.clock_only = 0;
    rf.profiles = rf.entered = rf.left = 0;
    rf.started = uv_now(server.loop);
    page_queue();
}


void
segments_refresh_stop(void)
{
    rf.stopping = 1;
    if (rf.timer != NULL) {
        timer_stop(rf.timer);
        rf.timer = NULL;
    }
}
