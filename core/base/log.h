/*
 * Structured logging: one line per record,
 *   2026-12-04T16:40:00.123Z info core listening addr=127.0.0.1:8080
 * time (UTC), level, source (the core or a plugin instance), message and
 * key=value fields. Each record is written with one write(2), so lines from
 * threads never interleave.
 */
#ifndef CRIER_CORE_LOG_H
#define CRIER_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include <crier/host.h>

/* Sends records to `path` (appended), or to stderr when path is NULL. */
int log_open(const char *path);

/* Reopens the log file, for log rotation (SIGUSR1). */
int log_reopen(void);

void log_set_level(enum crier_log_level level);

/* Parses "error", "warn", "notice", "info" or "debug"; -1 if unknown. */
int log_level_parse(const char *name);

int log_enabled(enum crier_log_level level);

void log_vwrite(enum crier_log_level level, const char *source,
                const char *msg, const char *fields_fmt, va_list ap);

void log_write(enum crier_log_level level, const char *source,
               const char *msg, const char *fields_fmt, ...)
    CRIER_PRINTF(4, 5);

/*
 * Copies `value` into `out` (of `size` bytes) with a backslash before each
 * `"` and `\`, so that the value can be logged as key="..." and read back
 * unambiguously. Cuts what does not fit and returns `out`.
 */
const char *log_escape(const char *value, char *out, size_t size);

/*
 * Masks email addresses and E.164 phone numbers in `len` bytes of `s`,
 * in place; every record passes through it before it is written.
 * NOTE: a phone number written in another form, such as
 * "(312) 555-0100", is not recognised (docs/KNOWN_LIMITS.md, "Security").
 */
void log_mask_personal(char *s, size_t len);

#define LOG_AT_(level, msg, ...)                                             \
    do {                                                                    \
        if (log_enabled(level))                                             \
            log_write((level), "core", (msg), __VA_ARGS__);                 \
    } while (0)

#define log_error(msg, ...) LOG_AT_(CRIER_LOG_ERROR, msg, __VA_ARGS__)
#define log_warn(msg, ...) LOG_AT_(CRIER_LOG_WARN, msg, __VA_ARGS__)
#define log_notice(msg, ...) LOG_AT_(CRIER_LOG_NOTICE, msg, __VA_ARGS__)
#define log_info(msg, ...) LOG_AT_(CRIER_LOG_INFO, msg, __VA_ARGS__)
#define log_debug(msg, ...) LOG_AT_(CRIER_LOG_DEBUG, msg, __VA_ARGS__)

#endif
