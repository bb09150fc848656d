#include "base/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crier/error.h>
#include <glib.h>

struct crier_timer {
    int64_t due_ms;
    uint64_t order;             /* breaks ties: earlier start runs first */
    crier_timer_cb cb;
    void *arg;
    GSequenceIter *iter;
};

static struct {
    uv_loop_t *loop;
    uv_timer_t wakeup;          /* fires when the earliest timer is due */
    int test_mode;
    int64_t test_now_ms;
    uint64_t next_order;
    GSequence *timers;          /* sorted by (due_ms, order) */
} clk;


static int64_t
host_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t
clock_now_ms(void)
{
    return clk.test_mode ? clk.test_now_ms : host_now_ms();
}


int
clock_is_test(void)
{
    return clk.test_mode;
}


static gint
timer_compare(gconstpointer a, gconstpointer b, gpointer unused)
{
    const struct crier_timer *x = a, *y = b;

    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}


static void on_wakeup(uv_timer_t *handle);


/* Arms the libuv timer for the earliest crier timer. */
static void
wakeup_arm(void)
{
    GSequenceIter *first;
    struct crier_timer *t;
    int64_t wait;

    if (clk.timers == NULL || clk.loop == NULL)
        return;
    first = g_sequence_get_begin_iter(clk.timers);
    if (g_sequence_iter_is_end(first)) {
        uv_timer_stop(&clk.wakeup);
        return;
    }
    t = g_sequence_get(first);
    wait = t->due_ms - clock_now_ms();
    if (wait < 0)
        wait = 0;
    /* The test clock stands still: only timers already due can fire. */
    if (clk.test_mode && wait > 0) {
        uv_timer_stop(&clk.wakeup);
        return;
    }
    uv_timer_start(&clk.wakeup, on_wakeup, (uint64_t) wait, 0);
}


/* Runs the timers due now. A timer that keeps starting new ones at zero
 * delay is cut off after a batch, and the rest run on the next loop turn. */
static void
timers_run_due(void)
{
    int64_t now = clock_now_ms();

    for (int ran = 0; ran < 10000; ran++) {
        GSequenceIter *first = g_sequence_get_begin_iter(clk.timers);
        struct crier_timer *t;

        if (g_sequence_iter_is_end(first))
            break;
        t = g_sequence_get(first);
        if (t->due_ms > now)
            break;
        g_sequence_remove(first);
        t->cb(t->arg);
        free(t);
    }
    wakeup_arm();
}


static void
on_wakeup(uv_timer_t *handle)
{
    timers_run_due();
}


int
clock_init(uv_loop_t *loop, int test_mode, int64_t start_ms)
{
    clk.loop = loop;
    clk.test_mode = test_mode;
    clk.test_now_ms = start_ms;
    clk.timers = g_sequence_new(NULL);
    uv_timer_init(loop, &clk.wakeup);
    return 0;
}


void
clock_close(void)
{
    GSequenceIter *it;

    if (clk.timers == NULL)
        return;
    for (it = g_sequence_get_begin_iter(clk.timers);
         !g_sequence_iter_is_end(it); it = g_sequence_iter_next(it))
        free(g_sequence_get(it));
    g_sequence_free(clk.timers);
    clk.timers = NULL;
    uv_close((uv_handle_t *) &clk.wakeup, NULL);
}


int
clock_set_ms(int64_t ms)
{
    if (!clk.test_mode)
        return CRIER_ENOTSUP;
    if (ms < clk.test_now_ms)
        return CRIER_EINVAL;
    clk.test_now_ms = ms;
    timers_run_due();
    return 0;
}


struct crier_timer *
timer_start(int64_t delay_ms, crier_timer_cb cb, void *arg)
{
    struct crier_timer *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->due_ms = clock_now_ms() + (delay_ms > 0 ? delay_ms : 0);
    t->order = clk.next_order++;
    t->cb = cb;
    t->arg = arg;
    t->iter = g_sequence_insert_sorted(clk.timers, t, timer_compare, NULL);
    wakeup_arm();
    return t;
}


void
timer_stop(struct crier_timer *timer)
{
    if (timer == NULL)
        return;
    g_sequence_remove(timer->iter);
    free(timer);
    wakeup_arm();
}


void
clock_format_ms(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t) (ms / 1000);
    int millis = (int) (ms % 1000);
    struct tm tm;

    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, millis);
}


int
clock_parse_rfc3339(const char *s, int64_t *ms)
{
    GDateTime *dt;
    size_t len = strlen(s);

    /* RFC 3339 requires a date, a time and an offset. GLib also takes
     * ISO 8601 forms without a 'T'; insist on it. */
    if (len < 20 || (s[10] != 'T' && s[10] != 't'))
        return CRIER_EINVAL;
    dt = g_date_time_new_from_iso8601(s, NULL);
    if (dt == NULL)
        return CRIER_EINVAL;
    *ms = g_date_time_to_unix(dt) * 1000 +
          g_date_time_get_microsecond(dt) / 1000;
    g_date_time_unref(dt);
    return 0;
}


int
clock_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    double n;
    int64_t unit;

    n = strtod(s, &end);
    if (end == s || n < 0)
        return CRIER_EINVAL;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(end, "d") == 0)
        unit = 86400 * 1000;
    else
        return CRIER_EINVAL;
    *ms = (int64_t) (n * (double) unit);
    return 0;
}
