/*
 * The host's pacing entries: slots of a destination that every node on
 * the store shares, kept by the store's pace_acquire and pace_release.
 *
 * A slot's key is the instance's config path and the plugin's name for
 * the destination ("channels.cases/destination"). Nodes run the same
 * config, so the same instance on every node, and the instance that a
 * reload starts beside the old one, count against one set of slots.
 */
#include <stdlib.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "plugin/plugin.h"
#include "server/server.h"

/* The bounds that the stores accept (docs/internals/store.md). */
#define PACE_PER_SECOND_MAX 100000u
#define PACE_IN_FLIGHT_MAX 10000u
#define PACE_LEASE_MAX_MS INT64_C(86400000)

/* One pacing call on its way to the store. */
struct pace_call {
    crier_pace_cb done;       /* NULL: a release whose failure we log */
    void *arg;
    char *key;
    int64_t slot;             /* the slot a release ends */
};


int
plugin_pace_offered(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, pace_release) +
                        sizeof(ops->pace_release) &&
           ops->pace_acquire != NULL && ops->pace_release != NULL;
}


static struct pace_call *
pace_call_new(struct crier_ctx *ctx, const char *name, crier_pace_cb done,
              void *arg)
{
    struct pace_call *call = calloc(1, sizeof(*call));

    if (call == NULL)
        return NULL;
    call->done = done;
    call->arg = arg;
    call->key = g_strdup_printf("%s/%s", ctx->instance->key, name);
    return call;
}


static void
pace_call_free(struct pace_call *call)
{
    g_free(call->key);
    free(call);
}


static void
on_acquired(void *arg, int status, json_t *result)
{
    struct pace_call *call = arg;
    json_t *slot = json_object_get(result, "slot");
    int64_t wait_ms = json_integer_value(json_object_get(result, "wait_ms"));

    if (status == 0 && json_is_integer(slot))
        call->done(call->arg, 0, json_integer_value(slot), 0);
    else if (status == 0)
        call->done(call->arg, 0, 0, wait_ms > 0 ? wait_ms : 0);
    else
        call->done(call->arg, status, 0, 0);
    pace_call_free(call);
}


static void
on_released(void *arg, int status, json_t *result)
{
    struct pace_call *call = arg;

    (void)result;
    if (call->done != NULL)
        call->done(call->arg, status, call->slot, 0);
    else if (status < 0)
        log_warn("pacing slot not released; it comes back when its lease "
                 "ends", "key=%s slot=%lld error=%s", call->key,
                 (long long)call->slot, crier_errname(status));
    pace_call_free(call);
}


int
plugin_pace_acquire(struct crier_ctx *ctx, const char *name,
                    unsigned max_per_second, unsigned max_in_flight,
                    int64_t lease_ms, crier_pace_cb done, void *arg)
{
    struct pace_call *call;
    json_t *request;
    int rc;

    if (name == NULL || name[0] == '\0' || done == NULL ||
        max_per_second < 1 || max_per_second > PACE_PER_SECOND_MAX ||
        max_in_flight < 1 || max_in_flight > PACE_IN_FLIGHT_MAX ||
        lease_ms < 1 || lease_ms > PACE_LEASE_MAX_MS)
        return CRIER_EINVAL;
    if (!plugin_pace_offered())
        return CRIER_ENOTSUP;
    call = pace_call_new(ctx, name, done, arg);
    if (call == NULL)
        return CRIER_ENOMEM;
    /* NOTE: each node reads its own clock, so the rate window across
     * nodes is as exact as their clocks agree (docs/KNOWN_LIMITS.md,
     * "Webhook"). */
    request = json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", call->key,
                        "now", (json_int_t)clock_real_ms(),
                        "max_per_second", (json_int_t)max_per_second,
                        "max_in_flight", (json_int_t)max_in_flight,
                        "lease_ms", (json_int_t)lease_ms);
    rc = request != NULL
         ? server.store_ops->pace_acquire(server.store->state, request,
                                          on_acquired, call)
         : CRIER_ENOMEM;
    json_decref(request);
    if (rc != 0)
        pace_call_free(call);
    return rc;
}


int
plugin_pace_release(struct crier_ctx *ctx, const char *name, int64_t slot,
                    crier_pace_cb done, void *arg)
{
    struct pace_call *call;
    json_t *request;
    int rc;

    if (name == NULL || name[0] == '\0' || slot < 1)
        return CRIER_EINVAL;
    if (!plugin_pace_offered())
        return CRIER_ENOTSUP;
    call = pace_call_new(ctx, name, done, arg);
    if (call == NULL)
        return CRIER_ENOMEM;
    call->slot = slot;
    request = json_pack("{s:s, s:I}", "key", call->key, "slot",
                        (json_int_t)slot);
    rc = request != NULL
         ? server.store_ops->pace_release(server.store->state, request,
                                          on_released, call)
         : CRIER_ENOMEM;
    json_decref(request);
    if (rc != 0)
        pace_call_free(call);
    return rc;
}
