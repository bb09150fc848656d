/*
 * Pacing of requests to one destination: at most `max_per_second` starts
 * in any window of 1000 ms and at most `max_in_flight` requests open at
 * once. The code keeps no clock of its own, so the caller passes the time
 * and unit tests can drive it.
 */
#ifndef CRIER_WEBHOOK_PACE_H
#define CRIER_WEBHOOK_PACE_H

#include <stdint.h>

#define PACE_WINDOW_MS 1000

/* pace_delay's result when every in-flight slot is taken: wait for a
 * request to finish, not for time to pass. */
#define PACE_BLOCKED INT64_C(-1)

struct pace {
    unsigned max_per_second;
    unsigned max_in_flight;
    unsigned in_flight;
    uint64_t *starts;    /* ring of the last max_per_second start times */
    unsigned oldest;     /* index of the oldest start in `starts` */
    unsigned count;      /* starts recorded, at most max_per_second */
};

/* Prepares `pace`. Returns 0, or CRIER_ENOMEM. */
int pace_init(struct pace *pace, unsigned max_per_second,
              unsigned max_in_flight);
void pace_free(struct pace *pace);

/*
 * Returns 0 when a request may start at `now_ms`, the milliseconds to
 * wait when the rate is used up, or PACE_BLOCKED when max_in_flight
 * requests are open.
 */
int64_t pace_delay(const struct pace *pace, uint64_t now_ms);

/* Records a request started at `now_ms`, after pace_delay returned 0. */
void pace_started(struct pace *pace, uint64_t now_ms);

/* Records that a started request has finished. */
void pace_finished(struct pace *pace);

#endif
