/*
 * The crier clock and its timers.
 *
 * Everything that waits (schedules, leases, retries, rate limits) reads
 * this clock, never the system's. The host clock follows CLOCK_REALTIME;
 * the test clock starts at a fixed instant and moves only through
 * clock_set_ms, which then runs every timer that has come due, in order.
 */
#ifndef CRIER_CORE_CLOCK_H
#define CRIER_CORE_CLOCK_H

#include <stdint.h>

#include <crier/host.h>
#include <uv.h>

/* Where the test clock starts unless `clock_start` says otherwise. */
#define CLOCK_TEST_DEFAULT_START_MS INT64_C(1767225600000) /* 2026-01-01Z */

/* Starts the clock on `loop`; test mode starts it at `start_ms`. */
int clock_init(uv_loop_t *loop, int test_mode, int64_t start_ms);

/* Closes the clock's handles; pending timers are dropped, not run. */
void clock_close(void);

int clock_is_test(void);
int64_t clock_now_ms(void);

/* Returns the system's real time in ms since the epoch, whatever the
 * crier clock is. Leases that several nodes share end in real time, so
 * that a dead node's lease ends even while the nodes run test clocks. */
int64_t clock_real_ms(void);

/*
 * Moves the test clock to `ms` and runs the timers due by then. Returns
 * CRIER_ENOTSUP on the host clock and CRIER_EINVAL for a time in the past.
 */
int clock_set_ms(int64_t ms);

struct crier_timer *timer_start(int64_t delay_ms, crier_timer_cb cb,
                                void *arg);
void timer_stop(struct crier_timer *timer);

/* Formats `ms` as RFC 3339 UTC with milliseconds; buf needs 25 bytes. */
void clock_format_ms(int64_t ms, char *buf, size_t size);

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in milliseconds
 * since the epoch: the instants that RFC 3339 can write in UTC. */
#define CLOCK_MIN_MS INT64_C(-62135596800000)
#define CLOCK_MAX_MS INT64_C(253402300799999)

/*
 * Parses an RFC 3339 timestamp (an offset or Z is required) into
 * milliseconds since the epoch. Second 60 (a leap second) is read as
 * second 59.999. Returns 0, or CRIER_EINVAL for text that is not RFC 3339,
 * a second above 60 or an instant outside CLOCK_MIN_MS..CLOCK_MAX_MS.
 */
int clock_parse_rfc3339(const char *s, int64_t *ms);

/*
 * Writes the version of the system's time zone database ("2025b"), which
 * GLib reads for every zone, or "unknown". Debian keeps it in
 * /usr/share/zoneinfo/tzdata.zi, whose first line names the version.
 */
void clock_tzdata_version(char *buf, size_t size);

/* Parses a duration such as "36h", "90m", "15s", "2d", "500ms". */
int clock_parse_duration(const char *s, int64_t *ms);

#endif
