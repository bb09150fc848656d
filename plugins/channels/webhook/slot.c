/*
 * Shared pacing: before a request starts, the store grants it a slot of
 * the instance's destination, counted over every node on the store, and
 * the slot goes back when the request ends. On a store that one process
 * owns, the store grants what the local pacer grants, but asking keeps
 * one code path. One acquire is under way at a time, for the first queued
 * message, so messages keep their order.
 *
 * NOTE: one acquire at a time caps a node at one start per store round
 * trip, and a node blocked by other nodes' in-flight slots polls every
 * WEBHOOK_SLOT_POLL_MS (docs/KNOWN_LIMITS.md, "Webhook").
 */
#include <stddef.h>

#include "webhook.h"


/* Returns the lease of a slot: longer than any request can take. */
static int64_t
slot_lease_ms(const struct webhook *webhook)
{
    return (int64_t) webhook->timeout_ms + WEBHOOK_LEASE_MARGIN_MS;
}


/* Logs a store failure when it starts and then once a minute of
 * retries, so an unreachable store does not log every second. */
static void
slot_failure_log(struct webhook *webhook, int status)
{
    unsigned per_minute = 60000 / WEBHOOK_SLOT_RETRY_MS;

    if (webhook->slot_failures++ % per_minute != 0)
        return;
    webhook->host->log(webhook->ctx, CRIER_LOG_WARN,
                       "pacing slot not granted; messages wait and the "
                       "request is retried",
                       "error=%s failures=%u retry_ms=%d",
                       crier_errname(status), webhook->slot_failures,
                       WEBHOOK_SLOT_RETRY_MS);
}


static void
on_slot_acquired(void *arg, int status, int64_t slot, int64_t wait_ms)
{
    struct webhook *webhook = arg;

    webhook->acquiring = 0;
    if (status < 0) {
        slot_failure_log(webhook, status);
        webhook_timer_set(webhook, WEBHOOK_SLOT_RETRY_MS);
    } else if (slot == 0) {
        webhook->slot_failures = 0;
        webhook_timer_set(webhook, wait_ms > 0 ? (uint64_t) wait_ms
                                               : WEBHOOK_SLOT_POLL_MS);
    } else if (webhook->stopping || g_queue_is_empty(&webhook->waiting)) {
        /* Stop handed the queue back while the acquire was under way. */
        webhook_slot_release(webhook, slot);
    } else {
        webhook->slot_failures = 0;
        webhook_delivery_start(webhook, slot);
        webhook_queue_run(webhook);
    }
    webhook_stop_check(webhook);
}


int
webhook_slot_acquire(struct webhook *webhook)
{
    const struct crier_host *host = webhook->host;
    int rc;

    if (!webhook->shared_pace)
        return 0;
    rc = host->pace_acquire(webhook->ctx, WEBHOOK_PACE_NAME,
                            webhook->pace.max_per_second,
                            webhook->pace.max_in_flight,
                            slot_lease_ms(webhook), on_slot_acquired,
                            webhook);
    if (rc == 0) {
        webhook->acquiring = 1;
        return 1;
    }
    if (rc == CRIER_ENOTSUP) {
        webhook->shared_pace = 0;
        host->log(webhook->ctx, CRIER_LOG_NOTICE, "pacing per node: the "
                  "store keeps no pacing slots, so each node counts its "
                  "own requests", NULL);
        return 0;
    }
    slot_failure_log(webhook, rc);
    webhook_timer_set(webhook, WEBHOOK_SLOT_RETRY_MS);
    return 1;
}


static void
on_slot_released(void *arg, int status, int64_t slot, int64_t wait_ms)
{
    struct webhook *webhook = arg;

    (void) wait_ms;
    webhook->releases--;
    if (status < 0)
        webhook->host->log(webhook->ctx, CRIER_LOG_WARN,
                           "pacing slot not released; it comes back when "
                           "its lease ends", "slot=%lld error=%s "
                           "lease_ms=%lld", (long long) slot,
                           crier_errname(status),
                           (long long) slot_lease_ms(webhook));
    webhook_queue_run(webhook);
    webhook_stop_check(webhook);
}


void
webhook_slot_release(struct webhook *webhook, int64_t slot)
{
    int rc = webhook->host->pace_release(webhook->ctx, WEBHOOK_PACE_NAME,
                                         slot, on_slot_released, webhook);

    if (rc == 0) {
        webhook->releases++;
        return;
    }
    webhook->host->log(webhook->ctx, CRIER_LOG_WARN, "pacing slot not "
                       "released; it comes back when its lease ends",
                       "slot=%lld error=%s lease_ms=%lld", (long long) slot,
                       crier_errname(rc),
                       (long long) slot_lease_ms(webhook));
    webhook_queue_run(webhook);
}
