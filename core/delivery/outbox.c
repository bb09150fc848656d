#include "delivery/outbox.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "bulletins/bulletins.h"
#include "delivery/caps.h"
#include "delivery/guard.h"
#include "delivery/pauses.h"
#include "metrics/metrics.h"
#include "pipeline/evaluate.h"
#include "server/server.h"
#include "template/link_rewrite.h"
#include "template/template.h"
#include "topics/pages.h"

/* One job on its way through render, `sending`, the channel and the
 * final update. */
struct delivery {
    json_t *job;
    /* Members of `job` that the checks and the render read, looked up
     * once by deliver(). The strings and objects belong to `job`. */
    const char *key;
    const char *rule;
    const char *channel_name;
    const char *program;
    const char *profile_id;
    const char *to;
    json_t *event;
    json_t *profile;
    int64_t id;
    int64_t generation;
    int attempt;                /* this hand-over's number, from 1 */
    char message_id[OUTBOX_MESSAGE_ID_SIZE];
    struct rendered_message rendered;
    struct crier_message msg;
    struct plugin_instance *channel;
    int lane;                   /* 0 service, 1 outreach, 2 bulk */
    int cap_reserved;           /* caps_check took a reservation */
    int capped;                 /* the store checks caps at the mark */
    int sent_by_claim;          /* the claim stored `sending` already */
    uint64_t send_started;      /* metrics_now_ns() at the hand-over */
    int holds_slot;             /* counts in ob.handing */
};

static struct {
    struct outbox_settings set;
    const struct template_set *templates;
    int claiming;
    int in_flight;              /* claimed, final update not stored yet */
    int handing;                /* claimed, no verdict from the channel */
    int again;
    int stopping;
    void (*stop_done)(void *arg);
    void *stop_arg;
    struct crier_timer *poll;
    GQueue claimed;             /* claimed jobs not yet started, in order */
} ob;

/* Starts the claimed jobs a slice per loop turn. Outside `ob`, which
 * outbox_start clears, because the loop keeps the handle. */
static uv_idle_t starter;
static int starter_ready;

/* The channel's verdict on one hand-over, as the store records it. */
struct attempt_verdict {
    const char *outcome;        /* "sent", "retry" or "failed" */
    const char *reply;          /* the provider's reply, or NULL */
};

static void claim(void);
static void suppressed_log(const struct delivery *d, const char *reason);


static void
maybe_stopped(void)
{
    if (ob.stopping && ob.in_flight == 0 && !ob.claiming &&
        ob.stop_done != NULL) {
        void (*done)(void *) = ob.stop_done;

        ob.stop_done = NULL;
        done(ob.stop_arg);
    }
}


/* Releases the cap reservation of `d`, once its `sending` mark is stored
 * or the job ended without one. */
static void
cap_release(struct delivery *d)
{
    if (!d->cap_reserved)
        return;
    d->cap_reserved = 0;
    caps_release(d->profile_id, d->channel_name, d->lane);
}


/*
 * Frees the job's place under `max_in_flight`. A place is held from the
 * claim until the channel's verdict, not until the final update is
 * stored. The store runs that update ahead of any later claim, so claims
 * cannot outrun the updates. Meanwhile the next jobs are rendered and
 * marked while the store commits the last outcomes.
 */
static void
slot_release(struct delivery *d)
{
    if (!d->holds_slot)
        return;
    d->holds_slot = 0;
    ob.handing--;
}


static void
delivery_free(struct delivery *d)
{
    slot_release(d);
    cap_release(d);
    json_decref(d->job);
    rendered_message_clear(&d->rendered);
    free(d);
    ob.in_flight--;
    maybe_stopped();
    if (!ob.stopping && ob.again)
        claim();
}


static void
on_final(void *arg, int status, json_t *result)
{
    struct delivery *d = arg;

    if (status == CRIER_ESTALE)
        log_warn("job moved on under another claim", "job=%lld",
                 (long long) d->id);
    else if (status != 0)
        log_error("job outcome not recorded; the lease will expire and "
                  "the job run again", "job=%lld error=%s",
                  (long long) d->id, crier_errname(status));
    delivery_free(d);
}


/* Adds the Message-ID and the template variant's tag and version to the
 * update `u`, so that the job shows what went out. */
static void
rendered_facts_add(const struct delivery *d, json_t *u)
{
    json_object_set_new_nocheck(u, "message_id",
                                json_string(d->message_id));
    if (d->rendered.language != NULL)
        json_object_set_new_nocheck(u, "language",
                                    json_string(d->rendered.language));
    if (d->rendered.version[0] != '\0')
        json_object_set_new_nocheck(u, "template_version",
                                    json_string(d->rendered.version));
}


/*
 * Starts the job_update request that moves the job to `state` at `now`.
 * The outbox builds its per-message requests member by member, since
 * json_pack parses its format string on every call. A member that cannot
 * be allocated is missing, and the store then rejects the request.
 */
static json_t *
update_new(const struct delivery *d, const char *state, int64_t now)
{
    json_t *u = json_object();

    json_object_set_new_nocheck(u, "id", json_integer(d->id));
    json_object_set_new_nocheck(u, "generation",
                                json_integer(d->generation));
    json_object_set_new_nocheck(u, "state", json_string(state));
    json_object_set_new_nocheck(u, "now", json_integer(now));
    return u;
}


/* Returns the "attempt" member of an update: the channel's verdict. */
static json_t *
attempt_json(const struct attempt_verdict *verdict)
{
    json_t *attempt = json_object();

    json_object_set_new_nocheck(attempt, "time",
                                json_integer(clock_now_ms()));
    json_object_set_new_nocheck(attempt, "outcome",
                                json_string(verdict->outcome));
    json_object_set_new_nocheck(attempt, "reply",
                                verdict->reply != NULL
                                    ? json_string(verdict->reply)
                                    : json_null());
    return attempt;
}


/*
 * Records the job's next state; `error` may be NULL. When `verdict` is
 * not NULL, the update also records the attempt that the channel's
 * verdict ends, in the same store transaction.
 */
static void
finish_attempt(struct delivery *d, const char *state, const char *error,
               const char *provider_id, int64_t due,
               const struct attempt_verdict *verdict)
{
    json_t *u = update_new(d, state, clock_now_ms());
    int rc;

    if (verdict != NULL)
        json_object_set_new_nocheck(u, "attempt", attempt_json(verdict));
    if (error != NULL)
        json_object_set_new_nocheck(u, "error", json_string(error));
    if (verdict != NULL && d->sent_by_claim)
        rendered_facts_add(d, u);
    if (provider_id != NULL)
        json_object_set_new_nocheck(u, "provider_id",
                                    json_string(provider_id));
    if (due > 0)
        json_object_set_new_nocheck(u, "due", json_integer(due));
    rc = server.store_ops->job_update(server.store->state, u, on_final, d);
    json_decref(u);
    if (rc != 0)
        on_final(d, rc, NULL);
}


/* Records the job's next state when no hand-over ends with it. */
static void
finish_job(struct delivery *d, const char *state, const char *error,
           const char *provider_id, int64_t due)
{
    finish_attempt(d, state, error, provider_id, due, NULL);
}


/*
 * Puts the job back to `planned`, due as before, when a pause covers it,
 * and returns 1. The store's claims skip paused jobs, so this catches the
 * jobs claimed before the pause, up to the hand-over to the channel.
 */
static int
pause_hold(struct delivery *d)
{
    const char *pause = pauses_covering(d->channel_name, d->program);
    int64_t due;

    if (pause == NULL)
        return 0;
    due = json_integer_value(json_object_get(d->job, "due"));
    log_info("message held: sending is paused", "job=%lld pause=%s",
             (long long) d->id, pause);
    finish_job(d, "planned", NULL, NULL, due > 0 ? due : clock_now_ms());
    return 1;
}


static void
on_address_invalidated(void *arg, int status, json_t *result)
{
    char *to = arg;

    if (status != 0)
        log_error("address not marked invalid", "to=%s error=%s", to,
                  crier_errname(status));
    g_free(to);
}


/*
 * Marks the job's address invalid in the store, so that later jobs to it
 * are suppressed when claimed. A failure is logged: the job itself is
 * recorded as failed either way.
 */
static void
address_invalidate(struct delivery *d, const char *reason)
{
    const struct crier_channel_ops *ops = d->channel->desc->ops;
    char *to = g_strdup(d->msg.to);
    json_t *req;
    int rc;

    if (server.store_ops->size <=
        offsetof(struct crier_store_ops, address_invalidate)) {
        g_free(to);
        return;
    }
    req = json_pack("{s:s,s:s,s:s,s:I}", "kind",
                    ops->address_kind ? ops->address_kind : "email",
                    "value", to, "reason", reason,
                    "time", (json_int_t) clock_now_ms());
    log_notice("address marked invalid", "job=%lld to=%s reason=\"%s\"",
               (long long) d->id, to, reason);
    rc = server.store_ops->address_invalidate(server.store->state, req,
                                              on_address_invalidated, to);
    json_decref(req);
    if (rc != 0)
        on_address_invalidated(to, rc, NULL);
}


/* Returns nonzero when the channel's result has `address_invalid` set.
 * A channel built before ABI minor 2 has no such member. */
static int
result_address_invalid(const struct delivery *d,
                       const struct crier_send_result *r)
{
    return d->channel->desc->abi_minor >= 2 && r->address_invalid;
}


/* Records the channel's verdict on the job: sent, failed, a retry or
 * dead. */
static void
verdict_record(struct delivery *d, const struct crier_send_result *r)
{
    const char *rule = d->msg.rule;
    const char *detail = r->detail ? r->detail : "";
    struct attempt_verdict verdict = { .reply = r->detail };

    metrics_observe("crier_send_seconds", "channel", d->channel->name,
                    (double) (metrics_now_ns() - d->send_started) / 1e9);
    if (r->outcome != CRIER_SEND_DONE && r->outcome != CRIER_SEND_RETURNED)
        metrics_count("crier_plugin_errors_total", "plugin",
                      d->channel->name, 1);
    switch (r->outcome) {
    case CRIER_SEND_DONE:
        log_info("message sent", "job=%lld rule=%s message_id=%s",
                 (long long) d->id, rule, d->message_id);
        verdict.outcome = "sent";
        if (verdict.reply == NULL)
            verdict.reply = r->provider_id;
        finish_attempt(d, "sent", NULL, r->provider_id, 0, &verdict);
        return;
    case CRIER_SEND_FAIL:
        log_warn("message failed", "job=%lld rule=%s detail=\"%s\"",
                 (long long) d->id, rule, detail);
        if (result_address_invalid(d, r))
            address_invalidate(d, r->detail ? r->detail : "rejected");
        verdict.outcome = "failed";
        finish_attempt(d, "failed", r->detail ? r->detail : "failed", NULL,
                       0, &verdict);
        return;
    case CRIER_SEND_RETURNED:
        /* No verdict: a `planned` update without one gives back the
         * attempt, since the provider never saw the message. */
        log_info("message given back unsent", "job=%lld rule=%s "
                 "detail=\"%s\"", (long long) d->id, rule, detail);
        finish_job(d, "planned", r->detail ? r->detail : "given back",
                   NULL, clock_now_ms() + outbox_backoff_ms(
                       &ob.set, 1, g_random_double()));
        return;
    case CRIER_SEND_RETRY:
    default:
        break;
    }
    verdict.outcome = "retry";
    if (d->attempt >= ob.set.max_attempts) {
        log_warn("message dead: attempts exhausted", "job=%lld rule=%s "
                 "attempts=%d detail=\"%s\"", (long long) d->id, rule,
                 d->attempt, detail);
        finish_attempt(d, "dead", r->detail ? r->detail
                       : "retries exhausted", NULL, 0, &verdict);
    } else {
        int64_t wait = outbox_backoff_ms(&ob.set, d->attempt,
                                         g_random_double());

        if (r->retry_after_ms > wait)
            wait = r->retry_after_ms;
        log_info("message will be retried", "job=%lld rule=%s attempt=%d "
                 "wait_ms=%lld detail=\"%s\"", (long long) d->id, rule,
                 d->attempt, (long long) wait, detail);
        finish_attempt(d, "planned", r->detail ? r->detail : "retry", NULL,
                       clock_now_ms() + wait, &verdict);
    }
}


static void
on_sent(void *arg, const struct crier_send_result *r)
{
    struct delivery *d = arg;

    slot_release(d);
    verdict_record(d, r);
    /* After the final update, so that the store queues it first. */
    if (!ob.stopping && ob.again)
        claim();
}


static void
hand_over(struct delivery *d)
{
    const struct crier_channel_ops *ops = d->channel->desc->ops;
    int rc;

    d->send_started = metrics_now_ns();
    rc = ops->send(d->channel->state, &d->msg, on_sent, d);

    if (rc != 0) {
        struct crier_send_result r = {
            .outcome = CRIER_SEND_RETRY,
            .detail = crier_strerror(rc),
        };

        on_sent(d, &r);
    }
}


static void
on_sending(void *arg, int status, json_t *result)
{
    struct delivery *d = arg;

    cap_release(d);
    if (status != 0) {
        /* Not ours any more, or not recorded: the hand-over must not
         * happen without `sending` on disk. */
        on_final(d, status, NULL);
        return;
    }
    /* The store found a cap full and suppressed the job instead. */
    if (d->capped && g_strcmp0(json_string_value(json_object_get(
            result, "state")), "suppressed") == 0) {
        suppressed_log(d, GUARD_REASON_CAP);
        delivery_free(d);
        return;
    }
    /* A hold here gives back the attempt that the mark counted. */
    if (pause_hold(d))
        return;
    hand_over(d);
}


/* Queues the `sending` update `u`, with the caps of the job when the
 * store checks them, so that a full cap suppresses the job instead. */
static int
sending_store(struct delivery *d, json_t *u, int64_t now)
{
    if (!d->capped)
        return server.store_ops->job_update(server.store->state, u,
                                            on_sending, d);
    json_object_set_new(u, "caps", caps_request(&ob.set, d->channel_name,
                                                d->lane, now));
    json_object_set_new(u, "cap_error", json_string(GUARD_REASON_CAP));
    return server.store_ops->job_sending_capped(server.store->state, u,
                                                on_sending, d);
}


/* Stores the `sending` mark of a job that its claim left `claimed`, one
 * under a frequency cap. The hand-over waits for its commit. */
static void
mark_sending(struct delivery *d)
{
    int64_t now = clock_now_ms();
    json_t *u = update_new(d, "sending", now);
    int rc;

    json_object_set_new_nocheck(u, "lease_ms",
                                json_integer(ob.set.lease_ms));
    rendered_facts_add(d, u);
    rc = sending_store(d, u, now);
    json_decref(u);
    if (rc != 0)
        on_final(d, rc, NULL);
}


/*
 * Rewrites the links of the rendered HTML into signed beacon links and
 * adds the open pixel, for the job's recipient under the channel's
 * address kind.
 * NOTE: the text part keeps its links as they are, so clicks from it are
 * not counted (docs/KNOWN_LIMITS.md, "Delivery").
 */
static int
links_track(struct delivery *d, char *error, size_t size)
{
    const struct crier_channel_ops *ops = d->channel->desc->ops;
    const char *kind = ops->address_kind ? ops->address_kind : "email";
    json_t *identity = json_pack("{s:O}", kind,
                                 json_object_get(d->job, "to"));
    char *html = link_html_rewrite(d->rendered.html, ob.set.link_secret,
                                   server.settings.public_url,
                                   d->key, identity);

    json_decref(identity);
    if (html == NULL) {
        snprintf(error, size, "links of the HTML part could not be signed");
        return CRIER_EINVAL;
    }
    free(d->rendered.html);
    d->rendered.html = strdup(html);
    g_free(html);
    return d->rendered.html != NULL ? 0 : CRIER_ENOMEM;
}


/* Returns the template's `message`: the Message-ID and the rule. */
static json_t *
message_json(const struct delivery *d)
{
    json_t *message = json_object();

    json_object_set_new_nocheck(message, "id", json_string(d->message_id));
    json_object_set_nocheck(message, "rule", json_object_get(d->job, "rule"));
    return message;
}


static int
render(struct delivery *d, char *error, size_t size)
{
    json_t *job = d->job;
    json_t *data = evaluation_context(d->event, d->profile);
    const char *template = json_string_value(json_object_get(job,
                                                             "template"));
    struct template_error err;
    const char *language;
    json_t *items;
    int rc;

    json_object_set_new_nocheck(data, "message", message_json(d));
    json_object_set_new_nocheck(data, "public_url",
                                json_string(server.settings.public_url));
    pages_links_add(data, job);
    /* A digest's job renders its digest.due event, whose items the
     * template lists as `items`. */
    items = json_object_get(json_object_get(d->event, "properties"),
                            "items");
    if (json_is_array(items))
        json_object_set(data, "items", items);
    language = json_string_value(json_object_get(
        json_object_get(data, "profile"), "language"));
    rc = template_render_language(ob.templates, template, language, data,
                                  &d->rendered, &err);
    json_decref(data);
    if (rc != 0) {
        snprintf(error, size, "template %s: %s", template, err.message);
        return rc;
    }
    if (ob.set.link_secret != NULL && d->rendered.html != NULL)
        return links_track(d, error, size);
    return 0;
}


/* Renders the message and marks the job `sending`, once its checks have
 * passed. */
static void
deliver_checked(struct delivery *d)
{
    json_t *job = d->job;
    char error[256];

    if (pause_hold(d))
        return;
    if (render(d, error, sizeof(error)) != 0) {
        log_warn("message failed to render", "job=%lld error=\"%s\"",
                 (long long) d->id, error);
        finish_job(d, "failed", error, NULL, 0);
        return;
    }
    d->msg.size = sizeof(d->msg);
    d->msg.job_id = d->id;
    d->msg.attempt = d->attempt;
    d->msg.key = d->key;
    d->msg.message_id = d->message_id;
    d->msg.rule = d->rule;
    d->msg.to = d->to;
    d->msg.subject = d->rendered.subject;
    d->msg.text = d->rendered.text;
    d->msg.html = d->rendered.html;
    d->msg.profile = json_string_value(json_object_get(d->profile, "id"));
    d->msg.message_class = d->lane == 0 ? "service" : "outreach";
    /* Half the lease that `sending` set, so that a request started just
     * before it still has the other half to finish. */
    if (d->sent_by_claim) {
        json_t *lease_until = json_object_get(job, "lease_until");

        d->msg.hand_over_by_ms = json_is_integer(lease_until)
            ? json_integer_value(lease_until) - ob.set.lease_ms / 2
            : clock_now_ms() + ob.set.lease_ms / 2;
        hand_over(d);
        return;
    }
    d->msg.hand_over_by_ms = clock_now_ms() + ob.set.lease_ms / 2;
    mark_sending(d);
}


static void
suppressed_log(const struct delivery *d, const char *reason)
{
    log_info("message suppressed", "job=%lld rule=%s profile=%s reason=\"%s\"",
             (long long) d->id, d->rule, d->profile_id, reason);
}


static void
suppress(struct delivery *d, const char *reason)
{
    suppressed_log(d, reason);
    finish_job(d, "suppressed", reason, NULL, 0);
}


static void
on_caps_checked(void *arg, int status, int allowed)
{
    struct delivery *d = arg;

    if (status != 0) {
        log_error("frequency caps could not be checked; the lease will "
                  "expire and the job run again", "job=%lld error=%s",
                  (long long) d->id, crier_errname(status));
        delivery_free(d);
        return;
    }
    if (!allowed) {
        suppress(d, GUARD_REASON_CAP);
        return;
    }
    d->cap_reserved = 1;
    deliver_checked(d);
}


/* Returns nonzero when a frequency cap counts the jobs of `lane` on
 * `channel`. A bulletin goes to residents who subscribed to its topic,
 * so no cap counts it. */
static int
lane_capped(const char *channel, int lane)
{
    return lane != BULLETIN_LANE && caps_apply(&ob.set, channel, lane);
}


/*
 * Returns 1 and re-plans the job when its channel is in quiet hours in the
 * resident's zone. The job keeps its attempts, since nothing was tried.
 */
static int
quiet_hold(struct delivery *d)
{
    const char *channel = d->channel_name;
    int64_t now = clock_now_ms(), end = 0;
    GTimeZone *zone;
    int inside = 0;

    for (int i = 0; i < ob.set.quiet_count && !inside; i++) {
        if (strcmp(ob.set.quiet[i].channel, channel) != 0)
            continue;
        zone = guard_profile_zone(d->profile);
        inside = quiet_window_end(&ob.set.quiet[i].window, now, zone, &end);
        g_time_zone_unref(zone);
    }
    if (inside <= 0)
        return 0;
    log_info("message held for quiet hours", "job=%lld channel=%s "
             "until=%lld", (long long) d->id, channel, (long long) end);
    finish_job(d, "planned", NULL, NULL, end);
    return 1;
}


/* Checks quiet hours, then the frequency caps, and goes on to deliver the
 * job when both pass. A store with job_sending_capped checks the caps
 * when it stores the `sending` mark instead. */
static void
guard_pace(struct delivery *d)
{
    const char *channel = d->channel_name;
    int rc;

    if (quiet_hold(d))
        return;
    if (d->sent_by_claim || !lane_capped(channel, d->lane)) {
        deliver_checked(d);
        return;
    }
    /* The store counts the caps in the transaction of the `sending` mark,
     * so that nodes sharing it cannot both take a cap's last slot. */
    if (caps_in_store()) {
        d->capped = 1;
        deliver_checked(d);
        return;
    }
    rc = caps_check(&ob.set, d->profile_id, channel, d->lane, clock_now_ms(),
                    on_caps_checked, d);
    if (rc != 0)
        on_caps_checked(d, rc, 0);
}


static void
on_bulletin_checked(void *arg, const char *reason, int64_t hold_ms)
{
    struct delivery *d = arg;

    if (reason != NULL) {
        suppress(d, reason);
        return;
    }
    if (hold_ms > 0) {
        log_info("bulletin message held", "job=%lld until=%lld",
                 (long long) d->id, (long long) hold_ms);
        finish_job(d, "planned", NULL, NULL, hold_ms);
        return;
    }
    guard_pace(d);
}


/*
 * Checks the job against the profile as it is now: consent for the
 * channel, for a bulletin's job its bulletin and topic subscription, then
 * quiet hours and the frequency caps, and goes on to deliver it when all
 * pass.
 */
static void
guard(struct delivery *d)
{
    json_t *job = d->job;
    const char *kind = d->channel->desc->name;
    const char *reason;

    if (json_is_string(json_object_get(job, "address_invalid"))) {
        suppress(d, GUARD_REASON_INVALID);
        return;
    }
    reason = guard_consent_reason(d->profile, kind, d->lane == 0);
    if (reason != NULL) {
        suppress(d, reason);
        return;
    }
    if (bulletin_job(job)) {
        bulletin_job_check(job, on_bulletin_checked, d);
        return;
    }
    guard_pace(d);
}


/* Sets the job's Message-ID: the stored one, which a job marked
 * `sending` before keeps for its resends, or else a new one. */
static void
message_id_set(struct delivery *d, const char *key)
{
    const char *stored = json_string_value(json_object_get(d->job,
                                                           "message_id"));

    if (stored != NULL &&
        g_strlcpy(d->message_id, stored, sizeof(d->message_id)) <
            sizeof(d->message_id))
        return;
    outbox_message_id(key, d->id, ob.set.message_id_domain, d->message_id,
                      sizeof(d->message_id));
}


/* Looks up the members of the claimed job `job` that later steps read,
 * so that each step does not search the object again. */
static void
members_read(struct delivery *d, json_t *job)
{
    d->job = json_incref(job);
    d->key = json_string_value(json_object_get(job, "key"));
    d->rule = json_string_value(json_object_get(job, "rule"));
    d->channel_name = json_string_value(json_object_get(job, "channel"));
    d->program = json_string_value(json_object_get(job, "program"));
    d->profile_id = json_string_value(json_object_get(job, "profile_id"));
    d->to = json_string_value(json_object_get(job, "to"));
    d->event = json_object_get(job, "event");
    d->profile = json_object_get(job, "profile");
}


static void
deliver(json_t *job)
{
    struct delivery *d = calloc(1, sizeof(*d));
    const char *channel;
    char error[256];

    d->holds_slot = 1;
    members_read(d, job);
    channel = d->channel_name;
    d->id = json_integer_value(json_object_get(job, "id"));
    d->generation = json_integer_value(json_object_get(job, "generation"));
    /* A claim that stored `sending` has counted this attempt already. */
    d->sent_by_claim = g_strcmp0(json_string_value(json_object_get(
        job, "state")), "sending") == 0;
    d->attempt = (int) json_integer_value(json_object_get(job, "attempts"))
                 + !d->sent_by_claim;
    d->lane = (int) json_integer_value(json_object_get(job, "lane"));
    if (d->lane < 0 || d->lane > BULLETIN_LANE)
        d->lane = 1;
    message_id_set(d, d->key);
    /* NOTE: the interrupted hand-over counts in `attempts` but has no
     * entry in the attempt log, since no verdict came back for it
     * (docs/KNOWN_LIMITS.md, "Delivery"). */
    if (g_strcmp0(json_string_value(json_object_get(job, "was")),
                  "sending") == 0)
        log_notice("resending after an interrupted hand-over", "job=%lld "
                   "message_id=%s", (long long) d->id, d->message_id);
    /* Only hand-overs that never came back (a crash, an ended lease)
     * take a job past max_attempts, since a verdict ends it there. */
    if (d->attempt > ob.set.max_attempts) {
        log_warn("message dead: attempts exhausted", "job=%lld "
                 "attempts=%d detail=\"every hand-over was interrupted\"",
                 (long long) d->id, d->attempt - 1);
        finish_job(d, "dead", "attempts exhausted: the hand-overs were "
                   "interrupted", NULL, 0);
        return;
    }

    d->channel = channel ? server_channel(channel) : NULL;
    if (d->channel == NULL) {
        snprintf(error, sizeof(error), "channel %s is not configured",
                 channel ? channel : "(none)");
        finish_job(d, "failed", error, NULL, 0);
        return;
    }
    if (d->profile == NULL || json_is_null(d->profile)) {
        finish_job(d, "suppressed", "the profile no longer exists", NULL, 0);
        return;
    }
    if (pause_hold(d))
        return;
    guard(d);
}


/* The number of claimed jobs started in one loop turn. Starting a job
 * renders its message, so a slice bounds how long SMTP replies and HTTP
 * requests wait for the loop behind a large claim. */
#define START_SLICE 16


static void
on_start_turn(uv_idle_t *idle)
{
    json_t *job;

    for (int i = 0; i < START_SLICE; i++) {
        job = g_queue_pop_head(&ob.claimed);
        if (job == NULL)
            break;
        deliver(job);
        json_decref(job);
    }
    if (g_queue_is_empty(&ob.claimed))
        uv_idle_stop(idle);
}


static void
starter_arm(void)
{
    if (!starter_ready) {
        uv_idle_init(server.loop, &starter);
        starter_ready = 1;
    }
    uv_idle_start(&starter, on_start_turn);
}


static void
on_claimed(void *arg, int status, json_t *result)
{
    json_t *jobs = json_object_get(result, "jobs");
    int requested = (int) (intptr_t) arg;
    size_t i;
    json_t *job;

    ob.claiming = 0;
    if (status != 0) {
        log_error("jobs could not be claimed", "error=%s",
                  crier_errname(status));
        maybe_stopped();
        return;
    }
    json_array_foreach(jobs, i, job) {
        ob.in_flight++;
        ob.handing++;
        g_queue_push_tail(&ob.claimed, json_incref(job));
    }
    if (!g_queue_is_empty(&ob.claimed))
        starter_arm();
    if (ob.stopping) {
        maybe_stopped();
        return;
    }
    /* A full claim means more may be due. */
    if ((int) json_array_size(jobs) == requested || ob.again) {
        ob.again = 0;
        claim();
    }
}


/*
 * Returns {channel: [lanes]}: the lanes of each channel whose jobs a claim
 * may take straight to `sending`, which spares each message a store
 * write and a wait for its commit. A lane with a frequency cap is left
 * out, because its caps count the `sending` jobs and are checked between
 * the claim and the hand-over.
 */
static json_t *
send_now_lanes(void)
{
    json_t *map = json_object();

    for (guint i = 0; i < server.channels->len; i++) {
        const struct plugin_instance *channel =
            g_ptr_array_index(server.channels, i);
        json_t *lanes = json_array();

        for (int lane = 0; lane <= BULLETIN_LANE; lane++)
            if (!lane_capped(channel->name, lane))
                json_array_append_new(lanes, json_integer(lane));
        json_object_set_new(map, channel->name, lanes);
    }
    return map;
}


static void
claim(void)
{
    int room = ob.set.max_in_flight - ob.handing;
    json_t *req;
    int rc;

    if (ob.stopping)
        return;
    if (ob.claiming || room <= 0) {
        ob.again = 1;
        return;
    }
    /* max_in_flight may be higher than one claim may take. */
    if (room > CRIER_JOBS_LIMIT_MAX)
        room = CRIER_JOBS_LIMIT_MAX;
    req = json_pack("{s:I,s:i,s:I,s:s,s:o,s:i}", "now",
                    (json_int_t) clock_now_ms(), "limit", room, "lease_ms",
                    (json_int_t) ob.set.lease_ms, "owner",
                    server.settings.node, "send_now", send_now_lanes(),
                    "max_attempts", ob.set.max_attempts);
    ob.claiming = 1;
    rc = server.store_ops->jobs_claim(server.store->state, req, on_claimed,
                                      (void *) (intptr_t) room);
    json_decref(req);
    if (rc != 0) {
        ob.claiming = 0;
        log_error("jobs could not be claimed", "error=%s",
                  crier_errname(rc));
    }
}


static void
on_poll(void *arg)
{
    ob.poll = timer_start(ob.set.poll_ms, on_poll, NULL);
    claim();
}


/* Starts polling once the pauses are known, so that no job a pause
 * covers is handed over before the copy is read. */
static void
on_pauses_loaded(void *arg, int status, int changed)
{
    if (status != 0)
        log_error("pauses could not be read; the store's claims still "
                  "skip paused jobs", "error=%s", crier_errname(status));
    if (ob.stopping)
        return;
    ob.poll = timer_start(0, on_poll, NULL);
    if (ob.poll == NULL)
        log_error("the outbox could not start its poll timer", "error=%s",
                  crier_errname(CRIER_ENOMEM));
}


int
outbox_start(const struct outbox_settings *s,
             const struct template_set *templates)
{
    int rc;

    memset(&ob, 0, sizeof(ob));
    ob.set = *s;
    ob.templates = templates;
    rc = pauses_load(on_pauses_loaded, NULL);
    if (rc == CRIER_ENOTSUP) {
        ob.poll = timer_start(0, on_poll, NULL);
        return ob.poll ? 0 : CRIER_ENOMEM;
    }
    return rc;
}


const char *
outbox_message_id_domain(void)
{
    return ob.set.message_id_domain;
}


int64_t
outbox_bulletin_rate(const char *channel)
{
    for (int i = 0; i < ob.set.bulletin_rate_count; i++)
        if (strcmp(ob.set.bulletin_rates[i].channel, channel) == 0)
            return ob.set.bulletin_rates[i].per_hour;
    return 0;
}


void
outbox_kick(void)
{
    claim();
}


void
outbox_pause(void)
{
    ob.stopping = 1;
    timer_stop(ob.poll);
    ob.poll = NULL;
}


void
outbox_drain(void (*done)(void *arg), void *arg)
{
    outbox_pause();
    ob.stop_done = done;
    ob.stop_arg = arg;
    maybe_stopped();
}
