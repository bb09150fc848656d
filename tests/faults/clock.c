/*
 * An LD_PRELOAD shim that moves the host's wall clock, for the
 * end-to-end test of a clock that jumps back and forward. The file named
 * by CRIER_CLOCK_OFFSET_FILE contains a whole number of seconds, negative
 * to go back, which is added to CLOCK_REALTIME, gettimeofday and time.
 * The file is read again at most every 20 ms of the monotonic clock, so
 * writing a new number makes the clock jump. The monotonic clock, which
 * libuv's timers use, does not move.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime;
static long long offset_s;
static long long offset_read_ns;


/* Finds the libc function that a wrapper below replaces. */
static void *
real(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    if (fn == NULL)
        abort();
    return fn;
}


/* Returns the current offset in seconds, from the file when it is due. */
static long long
offset_get(void)
{
    const char *path = getenv("CRIER_CLOCK_OFFSET_FILE");
    struct timespec mono;
    long long now_ns, value;
    FILE *f;

    if (real_clock_gettime == NULL)
        real_clock_gettime = (clock_gettime_fn) real("clock_gettime");
    if (path == NULL)
        return 0;
    real_clock_gettime(CLOCK_MONOTONIC, &mono);
    now_ns = mono.tv_sec * 1000000000LL + mono.tv_nsec;
    if (offset_read_ns != 0 && now_ns - offset_read_ns < 20000000LL)
        return offset_s;
    offset_read_ns = now_ns;
    f = fopen(path, "r");
    if (f == NULL)
        return offset_s;
    if (fscanf(f, "%lld", &value) == 1)
        offset_s = value;
    fclose(f);
    return offset_s;
}


int
clock_gettime(clockid_t id, struct timespec *ts)
{
    long long offset = offset_get();
    int rc = real_clock_gettime(id, ts);

    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        ts->tv_sec += offset;
    return rc;
}


int
gettimeofday(struct timeval *tv, void *tz)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return -1;
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}


time_t
time(time_t *out)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL)
        *out = ts.tv_sec;
    return ts.tv_sec;
}
