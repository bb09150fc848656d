/*
 * Frequency caps. The count comes from the store: the jobs being sent or
 * sent in the cap's window. A store with job_sending_capped (ABI minor 6)
 * counts them in the transaction that marks the job `sending`, so the
 * count is exact for every node sharing the store. For an older store,
 * caps_check counts when the job is claimed and adds the jobs this node
 * let through whose `sending` mark is not stored yet.
 */
#ifndef CRIER_CORE_CAPS_H
#define CRIER_CORE_CAPS_H

#include <stdint.h>

#include "delivery/outbox.h"

/* Returns nonzero when one more message fits a cap with `counted`
 * messages already in its window. */
int cap_allows(const struct outbox_cap *cap, int64_t counted);

/* Returns nonzero when a cap of `s` applies to `channel` and `lane`. */
int caps_apply(const struct outbox_settings *s, const char *channel,
               int lane);

/* Returns nonzero when the store checks caps with job_sending_capped. */
int caps_in_store(void);

/*
 * Returns the "caps" member of job_sending_capped for the caps of `s`
 * that apply to `channel` and `lane`, each window ending at `now`:
 * [{"since", "max", "lane"}], "lane" absent for a cap of both classes.
 */
json_t *caps_request(const struct outbox_settings *s, const char *channel,
                     int lane, int64_t now);

/*
 * For a store without job_sending_capped: checks every cap of `s` that
 * applies, in order, and calls `done` once.
 * `allowed` is 1 when the message fits, and a reservation is then taken
 * for it until caps_release. It is 0 when a cap is full. `status` is
 * negative when the store failed. Returns 0, or a negative code when the
 * check could not start, and then `done` is not called.
 */
int caps_check(const struct outbox_settings *s, const char *profile,
               const char *channel, int lane, int64_t now,
               void (*done)(void *arg, int status, int allowed), void *arg);

/* Releases the reservation that an allowed caps_check took. */
void caps_release(const char *profile, const char *channel, int lane);

#endif
