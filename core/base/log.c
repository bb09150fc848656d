/* dup3(2) */
#define _GNU_SOURCE

#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <crier/error.h>

/* Longer records are cut and end in "..."; one record is one line. */
#define LOG_RECORD_MAX 4096

static const char *const level_names[] = {
    "error", "warn", "notice", "info", "debug"
};

static int log_fd = 2;
static char *log_path;
static _Atomic int log_level = CRIER_LOG_INFO;
static _Atomic unsigned long log_lost;


int
log_open(const char *path)
{
    int fd;

    if (path == NULL) {
        log_fd = 2;
        return 0;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return CRIER_EIO;
    free(log_path);
    log_path = strdup(path);
    log_fd = fd;
    return 0;
}


/*
 * Opens the log path again and puts the new file in place of the old one
 * with dup3(2), which is atomic. A record that a plugin thread writes at
 * that moment goes whole to one file or the other, and never to a closed
 * or reused descriptor.
 */
int
log_reopen(void)
{
    int fd, rc;

    if (log_path == NULL)
        return 0;
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return CRIER_EIO;
    do
        rc = dup3(fd, log_fd, O_CLOEXEC);
    while (rc < 0 && errno == EINTR);
    close(fd);
    return rc < 0 ? CRIER_EIO : 0;
}


void
log_set_level(enum crier_log_level level)
{
    log_level = level;
}


int
log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int) i;
    return -1;
}


int
log_enabled(enum crier_log_level level)
{
    return (int) level <= log_level;
}


static size_t
format_time(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    size_t n;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf(buf + n, size - n, ".%03ldZ",
                           (long) tv.tv_usec / 1000);
    return n;
}


const char *
log_escape(const char *value, char *out, size_t size)
{
    size_t n = 0;

    for (; value != NULL && *value != '\0' && n + 1 < size; value++) {
        if (*value == '"' || *value == '\\') {
            if (n + 2 >= size)
                break;
            out[n++] = '\\';
        }
        out[n++] = *value;
    }
    if (size > 0)
        out[n] = '\0';
    return out;
}


/* Replaces CR and LF so that a value can never start a new record. */
static void
flatten_lines(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r')
            s[i] = ' ';
}


static void
write_record(const char *buf, size_t len)
{
    unsigned long lost = atomic_exchange(&log_lost, 0);
    char note[96];

    if (lost > 0) {
        int n = snprintf(note, sizeof(note),
                         "log: %lu earlier records could not be written\n",
                         lost);
        if (write(log_fd, note, (size_t) n) < 0)
            lost++;
    }
    while (len > 0) {
        ssize_t n = write(log_fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* Counted and reported with the next record that gets out. */
            atomic_fetch_add(&log_lost, 1);
            return;
        }
        buf += n;
        len -= (size_t) n;
    }
}


void
log_vwrite(enum crier_log_level level, const char *source, const char *msg,
           const char *fields_fmt, va_list ap)
{
    char buf[LOG_RECORD_MAX];
    size_t n, max = sizeof(buf) - 5;
    int r;

    if (!log_enabled(level))
        return;
    n = format_time(buf, max);
    r = snprintf(buf + n, max - n, " %s %s %s", level_names[level],
                 source ? source : "core", msg);
    n = r < 0 ? n : n + (size_t) r;
    if (n < max && fields_fmt != NULL && fields_fmt[0] != '\0') {
        buf[n++] = ' ';
        r = vsnprintf(buf + n, max - n, fields_fmt, ap);
        n = r < 0 ? n : n + (size_t) r;
    }
    if (n >= max) {
        n = max - 1;
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    flatten_lines(buf, n);
    log_mask_personal(buf, n);
    buf[n++] = '\n';
    write_record(buf, n);
}


void
log_write(enum crier_log_level level, const char *source, const char *msg,
          const char *fields_fmt, ...)
{
    va_list ap;

    va_start(ap, fields_fmt);
    log_vwrite(level, source, msg, fields_fmt, ap);
    va_end(ap);
}
