/*
 * The claim-time check of a bulletin's job: the bulletin's state, and for
 * a topic the recipient's subscription as it is now, since a resident may
 * unsubscribe between the planning and the send.
 */
#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "base/clock.h"
#include "bulletins/bulletins.h"
#include "server/server.h"

/* How long a paused bulletin's job waits before it is claimed again.
 * NOTE: the job is claimed again every minute for as long as the pause
 * lasts (docs/KNOWN_LIMITS.md, "Topics and bulletins"). */
#define PAUSED_HOLD_MS (60 * 1000)

struct check_call {
    bulletin_check_cb done;
    void *arg;
    char *topic;
    char *channel;
};


int
bulletin_job(const json_t *job)
{
    const char *rule = json_string_value(json_object_get(job, "rule"));

    return rule != NULL && g_str_has_prefix(rule, BULLETIN_RULE_PREFIX);
}


static void
on_subscriptions(void *arg, int status, json_t *result)
{
    struct check_call *call = arg;
    const char *found = NULL;
    size_t i;
    json_t *row;

    json_array_foreach(json_object_get(result, "subscriptions"), i, row)
        if (g_strcmp0(json_string_value(json_object_get(row, "topic")),
                      call->topic) == 0 &&
            g_strcmp0(json_string_value(json_object_get(row, "channel")),
                      call->channel) == 0)
            found = json_string_value(json_object_get(row, "status"));
    if (status < 0)
        call->done(call->arg, NULL, clock_now_ms() + PAUSED_HOLD_MS);
    else if (g_strcmp0(found, "confirmed") == 0)
        call->done(call->arg, NULL, 0);
    else if (g_strcmp0(found, "pending") == 0)
        call->done(call->arg, "unconfirmed", 0);
    else
        call->done(call->arg, "unsubscribed", 0);
    g_free(call->topic);
    g_free(call->channel);
    g_free(call);
}


void
bulletin_job_check(const json_t *job, bulletin_check_cb done, void *arg)
{
    const char *rule = json_string_value(json_object_get(job, "rule"));
    const struct bulletin *b = bulletin_find(rule +
                                             strlen(BULLETIN_RULE_PREFIX));
    struct check_call *call;
    json_t *request;
    int rc;

    if (b == NULL) {
        /* The bulletin is not read yet: this node is starting, or another
         * node on a shared store created it. The job waits for the read
         * that this starts. */
        bulletins_restore();
        done(arg, NULL, clock_now_ms() + BULLETIN_REFRESH_MS);
        return;
    }
    if (strcmp(b->state, "cancelled") == 0) {
        done(arg, "cancelled", 0);
        return;
    }
    if (strcmp(b->state, "paused") == 0) {
        done(arg, NULL, clock_now_ms() + PAUSED_HOLD_MS);
        return;
    }
    if (b->topic == NULL || !STORE_HAS_OP(subscriptions_read)) {
        done(arg, NULL, 0);
        return;
    }
    call = g_new0(struct check_call, 1);
    call->done = done;
    call->arg = arg;
    call->topic = g_strdup(b->topic);
    call->channel = g_strdup(b->channel);
    request = json_pack("{s:O}", "profile", json_object_get(job,
                                                            "profile_id"));
    rc = server.store_ops->subscriptions_read(server.store->state, request,
                                              on_subscriptions, call);
    json_decref(request);
    if (rc < 0)
        on_subscriptions(call, rc, NULL);
}
