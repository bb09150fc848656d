/*
 * An LD_PRELOAD shim that moves the host's wall clock, for the
 * end-to-end test of a clock that jumps back and forward. The file named
 * by CRIER_CLOCK_OFFSET_FILE contains a whole number of seconds, negative
 * to go back, which is added to CLOCK_REALTIME, gettimeofday and time.
 * The file is read again at most every 20 ms of the monotonic clock, so
 * writing a new number makes the clock jump. The monotonic clock, which
 * libuv's timers use, does not move.
 *
 * The allocator (jemalloc) reads the clock while it starts, so nothing
 * here may allocate: the real clock is the system call itself, not a
 * dlsym lookup, and the file is read with open and read, not stdio.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long offset_s;
static long long offset_read_ns;


static int
real_clock_gettime(clockid_t id, struct timespec *ts)
{
    return (int) syscall(SYS_clock_gettime, id, ts);
}


/* Returns the current offset in seconds, from the file when it is due. */
static long long
offset_get(void)
{
    const char *path = getenv("CRIER_CLOCK_OFFSET_FILE");
    struct timespec mono;
    long long now_ns, value;
    char text[32];
    char *end;
    ssize_t len;
    int fd;

    if (path == NULL)
        return 0;
    real_clock_gettime(CLOCK_MONOTONIC, &mono);
    now_ns = mono.tv_sec * 1000000000LL + mono.tv_nsec;
    if (offset_read_ns != 0 && now_ns - offset_read_ns < 20000000LL)
        return offset_s;
    offset_read_ns = now_ns;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return offset_s;
    len = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (len <= 0)
        return offset_s;
    text[len] = '\0';
    value = strtoll(text, &end, 10);
    if (end != text)
        offset_s = value;
    return offset_s;
}


int
clock_gettime(clockid_t id, struct timespec *ts)
{
    int rc;

    if (id != CLOCK_REALTIME && id != CLOCK_REALTIME_COARSE)
        return real_clock_gettime(id, ts);
    rc = real_clock_gettime(id, ts);
    if (rc == 0)
        ts->tv_sec += offset_get();
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
