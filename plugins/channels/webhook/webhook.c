/*
 * The webhook channel: POSTs each message as signed JSON to a URL, paced
 * so that a fragile receiver gets at most `max_per_second` requests a
 * second and `max_in_flight` at once. This node's pacer is the first
 * gate, and a slot from the store (slot.c) the second, so that the limits
 * hold for every node on the store together. Messages that must wait are
 * queued here, up to `max_waiting`; beyond that they go back to the
 * outbox as a retry. The config reference is docs/channels/webhook.md.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"


void
webhook_delivery_free(struct webhook_delivery *d)
{
    if (d->easy != NULL)
        curl_easy_cleanup(d->easy);
    curl_slist_free_all(d->headers);
    if (d->response != NULL)
        g_string_free(d->response, TRUE);
    free(d->body);
    g_free(d->url);
    g_free(d->message_id);
    g_free(d->retry_after);
    g_free(d->provider_id);
    g_free(d);
}


void
webhook_stop_check(struct webhook *webhook)
{
    crier_stop_cb done = webhook->stop_done;

    if (done == NULL || webhook->deliveries > 0 || webhook->pace_timer_open
        || webhook->acquiring || webhook->releases > 0)
        return;
    webhook->stop_done = NULL;
    done(webhook->stop_arg);
}


/* Reports `d` without it having taken a pacing slot. */
static void
delivery_report(struct webhook_delivery *d,
                const struct crier_send_result *result)
{
    struct webhook *webhook = d->webhook;

    d->done(d->arg, result);
    webhook_delivery_free(d);
    webhook->deliveries--;
}


/* Returns the loop's time in milliseconds, brought up to date first so
 * that starts are recorded when they happen. */
static uint64_t
loop_now(struct webhook *webhook)
{
    uv_loop_t *loop = webhook->host->loop(webhook->ctx);

    uv_update_time(loop);
    return uv_now(loop);
}


static void
on_pace_timer(uv_timer_t *timer)
{
    webhook_queue_run(timer->data);
}


void
webhook_timer_set(struct webhook *webhook, uint64_t delay_ms)
{
    if (webhook->pace_timer_open && !webhook->stopping)
        uv_timer_start(&webhook->pace_timer, on_pace_timer, delay_ms, 0);
}


/* Returns nonzero when `d` waited for pacing past its hand-over time,
 * after which another claim of its job may send it too. */
static int
delivery_expired(const struct webhook_delivery *d)
{
    const struct webhook *webhook = d->webhook;

    return d->hand_over_by_ms > 0 &&
           webhook->host->now_ms(webhook->ctx) > d->hand_over_by_ms;
}


/* A request that cannot start is retried. */
void
webhook_delivery_start(struct webhook *webhook, int64_t slot)
{
    struct webhook_delivery *d = g_queue_pop_head(&webhook->waiting);
    int rc;

    d->slot = slot;
    pace_started(&webhook->pace, loop_now(webhook));
    rc = webhook_request_start(d);
    if (rc != 0) {
        struct crier_send_result r = {
            .outcome = CRIER_SEND_RETRY,
            .detail = crier_strerror(rc),
        };

        webhook_delivery_finish(d, &r);
    }
}


/*
 * Hands back as retries the messages at the head of the queue that waited
 * past their hand-over time: after it, the job's lease may end and
 * another claim may send it too. Messages are queued in the order of
 * their `sending` marks, so the oldest are at the head.
 * NOTE: the queue is checked only when it runs. While the rate limits it,
 * that is at least once a second. While max_in_flight limits it, that is
 * only when a request ends, so a slow receiver can delay a hand-back past
 * the lease (docs/KNOWN_LIMITS.md, "Webhook").
 */
static void
queue_expire(struct webhook *webhook)
{
    struct crier_send_result r = {
        .outcome = CRIER_SEND_RETURNED,
        .detail = "pacing: the message waited past its hand-over time "
                  "(half of delivery.lease); it will be retried",
    };
    struct webhook_delivery *d;

    while ((d = g_queue_peek_head(&webhook->waiting)) != NULL &&
           delivery_expired(d)) {
        g_queue_pop_head(&webhook->waiting);
        delivery_report(d, &r);
    }
}


/*
 * Starts queued messages in order while pacing allows, and otherwise sets
 * the timer for when the rate allows the next one. A full set of
 * requests in flight needs no timer: the next one to finish runs this.
 * While a shared slot is requested, the acquire's callback runs this
 * again.
 */
void
webhook_queue_run(struct webhook *webhook)
{
    if (!webhook->acquiring)
        queue_expire(webhook);
    while (!g_queue_is_empty(&webhook->waiting) && !webhook->acquiring) {
        int64_t delay = pace_delay(&webhook->pace, loop_now(webhook));

        if (delay == PACE_BLOCKED)
            return;
        if (delay > 0) {
            webhook_timer_set(webhook, (uint64_t) delay);
            return;
        }
        if (webhook_slot_acquire(webhook))
            return;
        webhook_delivery_start(webhook, 0);
    }
}


/* A shared slot is released before the queue runs again, so that the
 * next acquire does not find this node's own finished request held. */
void
webhook_delivery_finish(struct webhook_delivery *d,
                        const struct crier_send_result *result)
{
    struct webhook *webhook = d->webhook;
    int64_t slot = d->slot;

    pace_finished(&webhook->pace);
    if (slot > 0)
        webhook_slot_release(webhook, slot);
    delivery_report(d, result);
    if (slot == 0)
        webhook_queue_run(webhook);
    webhook_stop_check(webhook);
}


/* Hands every queued message back to the outbox as a retry. */
static void
queue_abandon(struct webhook *webhook)
{
    struct crier_send_result r = {
        .outcome = CRIER_SEND_RETRY,
        .detail = "crier stopped before the webhook request was sent",
    };
    struct webhook_delivery *d;

    while ((d = g_queue_pop_head(&webhook->waiting)) != NULL)
        delivery_report(d, &r);
}


static void
webhook_destroy(void *state)
{
    struct webhook *webhook = state;

    if (webhook == NULL)
        return;
    pace_free(&webhook->pace);
    g_free(webhook->url);
    g_free(webhook->id_header);
    if (webhook->secret != NULL) {
        memset(webhook->secret, 0, strlen(webhook->secret));
        g_free(webhook->secret);
    }
    g_free(webhook);
}


static int
webhook_init(struct crier_ctx *ctx, const struct crier_host *host,
             const json_t *config, void **state)
{
    struct webhook *webhook = g_new0(struct webhook, 1);
    int rc;

    webhook->ctx = ctx;
    webhook->host = host;
    g_queue_init(&webhook->waiting);
    rc = webhook_config_read(webhook, config);
    if (rc != 0) {
        webhook_destroy(webhook);
        return rc;
    }
    *state = webhook;
    return 0;
}


/* Returns 1 when the running core has the pacing entries of minor 6. */
static int
host_has_pace(const struct crier_host *host)
{
    return host->minor >= 6 &&
           host->size >= offsetof(struct crier_host, pace_release) +
                         sizeof(host->pace_release) &&
           host->pace_acquire != NULL && host->pace_release != NULL;
}


static int
webhook_start(void *state)
{
    struct webhook *webhook = state;
    int rc = uv_timer_init(webhook->host->loop(webhook->ctx),
                           &webhook->pace_timer);

    if (rc != 0)
        return CRIER_EIO;
    webhook->pace_timer.data = webhook;
    webhook->pace_timer_open = 1;
    webhook->shared_pace = host_has_pace(webhook->host);
    webhook->host->log(webhook->ctx, CRIER_LOG_INFO, "sending webhooks",
                       "url=%s max_per_second=%u max_in_flight=%u "
                       "max_waiting=%u timeout_ms=%ld pacing=%s",
                       webhook->url ? webhook->url : "(recipient's)",
                       webhook->pace.max_per_second,
                       webhook->pace.max_in_flight, webhook->max_waiting,
                       webhook->timeout_ms,
                       webhook->shared_pace ? "store" : "node");
    return 0;
}


static void
on_pace_timer_closed(uv_handle_t *handle)
{
    struct webhook *webhook = handle->data;

    webhook->pace_timer_open = 0;
    webhook_stop_check(webhook);
}


/* Hands back what waits and lets requests under way finish, each within
 * timeout_ms. */
static void
webhook_stop(void *state, crier_stop_cb done, void *arg)
{
    struct webhook *webhook = state;

    webhook->stopping = 1;
    webhook->stop_done = done;
    webhook->stop_arg = arg;
    queue_abandon(webhook);
    if (webhook->pace_timer_open &&
        !uv_is_closing((uv_handle_t *) &webhook->pace_timer)) {
        uv_close((uv_handle_t *) &webhook->pace_timer,
                 on_pace_timer_closed);
        return;
    }
    webhook_stop_check(webhook);
}


/* Reports `msg` at once, before anything was allocated for it. */
static int
send_report(crier_send_cb done, void *arg, enum crier_send_outcome outcome,
            const char *detail, int64_t retry_after_ms)
{
    struct crier_send_result r = {
        .outcome = outcome,
        .detail = detail,
        .retry_after_ms = retry_after_ms,
    };

    done(arg, &r);
    return 0;
}


/*
 * Returns 1 when a new message would have to wait and max_waiting
 * messages already do. The message whose shared slot is being requested
 * is not counted, so that max_waiting = 0 still lets one message through
 * at a time.
 */
static int
queue_full(struct webhook *webhook)
{
    unsigned queued = g_queue_get_length(&webhook->waiting);
    unsigned waiting = queued - (queued > 0 && webhook->acquiring);

    if (waiting < webhook->max_waiting)
        return 0;
    return queued > 0 || pace_delay(&webhook->pace, loop_now(webhook)) != 0;
}


/*
 * Queues `msg` for its destination: the instance's `url` when set, and
 * otherwise the recipient's address, which must then be an http(s) URL.
 * NOTE: a recipient URL is not checked against private or loopback
 * addresses, and all recipients share the instance's pacing
 * (docs/KNOWN_LIMITS.md, "Webhook").
 */
static int
webhook_send(void *state, const struct crier_message *msg, crier_send_cb done,
             void *arg)
{
    struct webhook *webhook = state;
    const char *url = webhook->url ? webhook->url : msg->to;
    struct webhook_delivery *d;
    char detail[256];

    if (webhook->stopping || !webhook->pace_timer_open)
        return CRIER_ECLOSED;
    if (webhook->url == NULL && (url == NULL ||
                                 webhook_url_problem(url) != NULL)) {
        snprintf(detail, sizeof(detail), "the recipient \"%s\" %s",
                 url ? url : "", url ? webhook_url_problem(url)
                                     : "is missing");
        return send_report(done, arg, CRIER_SEND_FAIL, detail, 0);
    }
    if (queue_full(webhook)) {
        snprintf(detail, sizeof(detail), "pacing: %u messages already "
                 "wait for this webhook (max_waiting)",
                 g_queue_get_length(&webhook->waiting));
        return send_report(done, arg, CRIER_SEND_RETRY, detail,
                           WEBHOOK_QUEUE_FULL_RETRY_MS);
    }

    d = g_new0(struct webhook_delivery, 1);
    d->webhook = webhook;
    d->done = done;
    d->arg = arg;
    d->url = g_strdup(url);
    d->message_id = g_strdup(msg->message_id);
    if (msg->size >= offsetof(struct crier_message, hand_over_by_ms) +
                     sizeof(msg->hand_over_by_ms))
        d->hand_over_by_ms = msg->hand_over_by_ms;
    d->response = g_string_new(NULL);
    d->body = webhook_body_build(msg, webhook->host->instance_name(
                                          webhook->ctx));
    if (d->body == NULL) {
        webhook_delivery_free(d);
        return CRIER_ENOMEM;
    }
    d->body_len = strlen(d->body);
    webhook->deliveries++;
    g_queue_push_tail(&webhook->waiting, d);
    webhook_queue_run(webhook);
    return 0;
}


/* NOTE: the core plans a job only for a profile with a `url` identity,
 * also when `url` is configured and the identity only travels in the
 * body (docs/KNOWN_LIMITS.md, "Webhook"). */
static const struct crier_channel_ops webhook_ops = {
    .size = sizeof(struct crier_channel_ops),
    .address_kind = "url",
    .send = webhook_send,
};


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_CHANNEL,
    .name = "webhook",
    .version = "0.1.0",
    .summary = "signed JSON POSTs to a URL, paced per instance",
    .init = webhook_init,
    .start = webhook_start,
    .stop = webhook_stop,
    .destroy = webhook_destroy,
    .ops = &webhook_ops,
};
