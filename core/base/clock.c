#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <crier/error.h>
#include <glib.h>

struct crier_timer {
    int64_t due_ms;             /* on timer_now_ms's clock */
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


/*
 * Reads the host's wall clock. NOTE: a job, journey wait or schedule
 * made while the clock ran ahead keeps a due time that far ahead, so
 * after the clock steps back it waits until the wall clock reaches that
 * time again (docs/KNOWN_LIMITS.md, "Time").
 */
int64_t
clock_real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


int64_t
clock_now_ms(void)
{
    return clk.test_mode ? clk.test_now_ms : clock_real_ms();
}


/*
 * Returns the time that timers run on: the test clock, or else the
 * host's monotonic clock. A timer waits for a delay, so a step of the
 * wall clock (an NTP correction) must neither hold it back nor fire it
 * early: armed on the wall clock, a 1 s poll would wait an hour after
 * the clock stepped back an hour.
 */
static int64_t
timer_now_ms(void)
{
    return clk.test_mode ? clk.test_now_ms
                         : (int64_t) (uv_hrtime() / 1000000);
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
    wait = t->due_ms - timer_now_ms();
    if (wait < 0)
        wait = 0;
    /* The test clock does not move by itself, so only timers already due
     * can fire. */
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
    int64_t now = timer_now_ms();

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
    t->due_ms = timer_now_ms() + (delay_ms > 0 ? delay_ms : 0);
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


/* Checks `s` against RFC 3339's date-time: YYYY-MM-DDTHH:MM:SS, an
 * optional fraction after a '.', then Z or +HH:MM. GLib's parser takes
 * more of ISO 8601 (week dates, +0100, a ',' fraction), which RFC 3339
 * leaves out. */
static int
is_rfc3339(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i;

    for (i = 0; shape[i] != '\0'; i++) {
        if (shape[i] == 'd' ? !g_ascii_isdigit(s[i])
            : shape[i] == 'T' ? (s[i] != 'T' && s[i] != 't')
            : s[i] != shape[i])
            return 0;
    }
    if (s[i] == '.') {
        if (!g_ascii_isdigit(s[++i]))
            return 0;
        while (g_ascii_isdigit(s[i]))
            i++;
    }
    if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0')
        return 1;
    return (s[i] == '+' || s[i] == '-') && g_ascii_isdigit(s[i + 1]) &&
           g_ascii_isdigit(s[i + 2]) && s[i + 3] == ':' &&
           g_ascii_isdigit(s[i + 4]) && g_ascii_isdigit(s[i + 5]) &&
           s[i + 6] == '\0' && (s[i + 1] - '0') * 10 + (s[i + 2] - '0') < 24;
}


/*
 * Parses `s` as is_rfc3339 checks it. Second 60 is a leap second, which
 * RFC 3339 allows and GDateTime cannot hold, so it becomes the last
 * millisecond of its minute and stays after every earlier time.
 * NOTE: second 60 passes in any minute, with no table of real leap
 * seconds (docs/KNOWN_LIMITS.md, "Time"). Seconds
 * 61 and above are rejected. An instant outside the years 0001 to 9999
 * in UTC is rejected too, because RFC 3339 has no other years and
 * clock_format_ms could not write it back.
 */
int
clock_parse_rfc3339(const char *s, int64_t *ms)
{
    GDateTime *dt;
    char *upper;
    int second;
    int64_t parsed;

    if (!is_rfc3339(s))
        return CRIER_EINVAL;
    second = (s[17] - '0') * 10 + (s[18] - '0');
    if (second > 60)
        return CRIER_EINVAL;
    /* RFC 3339 allows a lowercase 't' and 'z'; GLib wants them upper. */
    upper = g_ascii_strup(s, -1);
    dt = g_date_time_new_from_iso8601(upper, NULL);
    g_free(upper);
    if (dt == NULL)
        return CRIER_EINVAL;
    parsed = g_date_time_to_unix(dt) * 1000;
    if (second == 60)
        parsed += 999;
    else
        parsed += g_date_time_get_microsecond(dt) / 1000;
    g_date_time_unref(dt);
    if (parsed < CLOCK_MIN_MS || parsed > CLOCK_MAX_MS)
        return CRIER_EINVAL;
    *ms = parsed;
    return 0;
}


void
clock_tzdata_version(char *buf, size_t size)
{
    char line[64] = "";
    FILE *f = fopen("/usr/share/zoneinfo/tzdata.zi", "r");

    snprintf(buf, size, "unknown");
    if (f == NULL)
        return;
    if (fgets(line, sizeof(line), f) != NULL &&
        strncmp(line, "# version ", 10) == 0) {
        line[strcspn(line, "\r\n")] = '\0';
        snprintf(buf, size, "%s", line + 10);
    }
    fclose(f);
}


int
clock_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    double n;
    int64_t unit;

    n = strtod(s, &end);
    if (end == s || !isfinite(n) || n < 0 || !g_ascii_isdigit(s[0]))
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
    /* Longer than about 290 million years does not fit in int64_t ms. */
    if (n * (double) unit >= 9.2e18)
        return CRIER_EINVAL;
    *ms = (int64_t) (n * (double) unit);
    return 0;
}
