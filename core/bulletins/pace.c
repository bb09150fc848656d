/*
 * A bulletin's pace across nodes. The rate is worked out from stored
 * facts only: the pace's origin, kept as an object beside the bulletin,
 * and the jobs that the store counts. A short lease per bulletin, taken
 * through the store's pace_acquire, lets one node at a time take a
 * planning turn, so two nodes never spend the same allowance
 * (docs/topics.md, "Several nodes").
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "bulletins/bulletins.h"
#include "bulletins/pace.h"
#include "plugin/plugin.h"
#include "server/server.h"

#define HOUR_MS 3600000.0

/* The kind of stored object that keeps a bulletin's pace origin, apart
 * from the bulletin so that a turn's write never undoes an admin's
 * change of the bulletin. */
#define PACE_KIND "bulletin_pace"

/* The pace_acquire bounds: one holder, and no limit on how often the
 * lease is taken (the stores accept up to 100000 a second). */
#define LEASE_IN_FLIGHT 1
#define LEASE_PER_SECOND 100000

/* One lease call on its way to the store. */
struct lease_call {
    bulletin_lease_cb done;
    void *arg;
    char *key;
    int64_t slot;
};


int64_t
bulletin_counted(const json_t *tally)
{
    const char *state;
    json_t *count;
    int64_t counted = 0;

    json_object_foreach(json_object_get(tally, "states"), state, count) {
        if (strcmp(state, "suppressed") != 0)
            counted += json_integer_value(count);
    }
    return counted;
}


int64_t
bulletin_allowed(const struct bulletin *b, int64_t now)
{
    int64_t since = now - b->paced_from;

    if (b->rate == 0)
        return INT64_MAX;
    if (since < 0)
        since = 0;
    return b->paced_count + 1 +
           (int64_t) ((double) since * (double) b->rate / HOUR_MS);
}


static void
on_pace_stored(void *arg, int status, json_t *result)
{
    char *id = arg;

    (void) result;
    if (status < 0)
        log_error("bulletin pace not stored; planning goes on from the "
                  "stored one", "bulletin=%s error=%s", id,
                  crier_errname(status));
    g_free(id);
}


/* Writes the bulletin's origin as an object of kind PACE_KIND. */
static void
pace_store(const struct bulletin *b)
{
    char from[32];
    char *id = g_strdup(b->id);
    json_t *request;
    int rc;

    clock_format_ms(b->paced_from, from, sizeof(from));
    request = json_pack("{s:s,s:s,s:{s:s,s:I}}", "kind", PACE_KIND, "id",
                        b->id, "body", "paced_from", from, "paced_count",
                        (json_int_t) b->paced_count);
    rc = STORE_HAS_OP(object_put)
         ? server.store_ops->object_put(server.store->state, request,
                                        on_pace_stored, id)
         : CRIER_ENOTSUP;
    json_decref(request);
    if (rc < 0)
        on_pace_stored(id, rc, NULL);
}


void
bulletin_pace_restart(struct bulletin *b, const json_t *tally, int64_t now)
{
    b->paced_from = now > b->send_at ? now : b->send_at;
    b->paced_count = bulletin_counted(tally);
    pace_store(b);
}


void
bulletin_pace_forward(struct bulletin *b, int64_t counted, int64_t now)
{
    if (b->rate == 0 || bulletin_allowed(b, now) - counted <= BULLETIN_BATCH)
        return;
    log_info("bulletin behind its pace; planning one batch now and the "
             "rest at the rate", "bulletin=%s planned=%lld allowed=%lld",
             b->id, (long long) counted,
             (long long) bulletin_allowed(b, now));
    b->paced_from = now;
    b->paced_count = counted + BULLETIN_BATCH - 1;
    pace_store(b);
}


struct load_call {
    bulletin_pace_cb done;
    void *arg;
    char *id;
};


static void
on_pace_read(void *arg, int status, json_t *result)
{
    struct load_call *call = arg;
    struct bulletin *b = bulletin_find(call->id);
    json_t *body = json_object_get(json_array_get(json_object_get(
        result, "objects"), 0), "body");
    const char *from = json_string_value(json_object_get(body,
                                                         "paced_from"));
    int64_t paced_from;

    if (status == 0 && b != NULL && from != NULL &&
        clock_parse_rfc3339(from, &paced_from) == 0) {
        b->paced_from = paced_from;
        b->paced_count = json_integer_value(json_object_get(
            body, "paced_count"));
    } else if (status == 0 && b != NULL) {
        /* NOTE: a bulletin stored by an older crier has no origin, and
         * one paused or re-paced then may plan one batch at once here
         * (docs/KNOWN_LIMITS.md). */
        b->paced_from = b->send_at;
        b->paced_count = 0;
    }
    call->done(call->arg, status);
    g_free(call->id);
    g_free(call);
}


int
bulletin_pace_load(const char *id, bulletin_pace_cb done, void *arg)
{
    struct load_call *call;
    json_t *request;
    int rc;

    if (!STORE_HAS_OP(objects_read))
        return CRIER_ENOTSUP;
    call = g_new0(struct load_call, 1);
    call->done = done;
    call->arg = arg;
    call->id = g_strdup(id);
    request = json_pack("{s:s,s:s}", "kind", PACE_KIND, "id", id);
    rc = server.store_ops->objects_read(server.store->state, request,
                                        on_pace_read, call);
    json_decref(request);
    if (rc < 0) {
        g_free(call->id);
        g_free(call);
    }
    return rc;
}


static struct lease_call *
lease_call_new(const char *id, bulletin_lease_cb done, void *arg)
{
    struct lease_call *call = g_new0(struct lease_call, 1);

    call->done = done;
    call->arg = arg;
    call->key = g_strdup_printf(BULLETIN_RULE_PREFIX "%s", id);
    return call;
}


static void
lease_call_free(struct lease_call *call)
{
    g_free(call->key);
    g_free(call);
}


static void
on_lease_taken(void *arg, int status, json_t *result)
{
    struct lease_call *call = arg;
    json_t *slot = json_object_get(result, "slot");

    if (status < 0)
        call->done(call->arg, status, 0);
    else
        call->done(call->arg, 0, json_is_integer(slot)
                                 ? json_integer_value(slot) : 0);
    lease_call_free(call);
}


int
bulletin_lease_take(const char *id, bulletin_lease_cb done, void *arg)
{
    struct lease_call *call;
    json_t *request;
    int rc;

    if (!plugin_pace_offered()) {
        done(arg, 0, BULLETIN_LEASE_NONE);
        return 0;
    }
    call = lease_call_new(id, done, arg);
    request = json_pack("{s:s,s:I,s:I,s:I,s:I}", "key", call->key, "now",
                        (json_int_t) clock_real_ms(), "max_per_second",
                        (json_int_t) LEASE_PER_SECOND, "max_in_flight",
                        (json_int_t) LEASE_IN_FLIGHT, "lease_ms",
                        (json_int_t) BULLETIN_LEASE_MS);
    rc = server.store_ops->pace_acquire(server.store->state, request,
                                        on_lease_taken, call);
    json_decref(request);
    if (rc < 0)
        lease_call_free(call);
    return rc;
}


static void
on_lease_ended(void *arg, int status, json_t *result)
{
    struct lease_call *call = arg;

    (void) result;
    if (status < 0)
        log_warn("bulletin lease not released; another node plans the "
                 "bulletin once it ends", "key=%s slot=%lld error=%s",
                 call->key, (long long) call->slot, crier_errname(status));
    lease_call_free(call);
}


void
bulletin_lease_end(const char *id, int64_t slot)
{
    struct lease_call *call;
    json_t *request;
    int rc;

    if (slot == BULLETIN_LEASE_NONE || !plugin_pace_offered())
        return;
    call = lease_call_new(id, NULL, NULL);
    call->slot = slot;
    request = json_pack("{s:s,s:I}", "key", call->key, "slot",
                        (json_int_t) slot);
    rc = server.store_ops->pace_release(server.store->state, request,
                                        on_lease_ended, call);
    json_decref(request);
    if (rc < 0)
        on_lease_ended(call, rc, NULL);
}
