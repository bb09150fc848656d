/*
 * Frequency caps. See caps.h.
 */
#include "delivery/caps.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "server/server.h"

/*
 * For a store without job_sending_capped: messages that passed a cap
 * check and whose `sending` mark the store has not yet run, by
 * "profile\x1fchannel", one count per lane. Store requests run in the
 * order they were made, so a count requested after a mark includes that
 * job, and a count requested before it does not. The reservation covers
 * the second case, and is released when the mark's callback runs. The
 * reservations are this node's only, so such a store keeps a cap exact
 * only while one node uses it.
 */
static GHashTable *reserved;

struct cap_check {
    const struct outbox_settings *set;
    char *profile;
    char *channel;
    int lane;
    int64_t now;
    int next;                   /* the index of the next cap to check */
    void (*done)(void *arg, int status, int allowed);
    void *arg;
};

static void check_next(struct cap_check *c);


int
cap_allows(const struct outbox_cap *cap, int64_t counted)
{
    return counted < cap->max;
}


static int
cap_applies(const struct outbox_cap *cap, const char *channel, int lane)
{
    return strcmp(cap->channel, channel) == 0 &&
           (cap->lane < 0 || cap->lane == lane);
}


int
caps_apply(const struct outbox_settings *s, const char *channel, int lane)
{
    for (int i = 0; i < s->cap_count; i++)
        if (cap_applies(&s->caps[i], channel, lane))
            return 1;
    return 0;
}


int
caps_in_store(void)
{
    return server.store_ops->size >
           offsetof(struct crier_store_ops, job_sending_capped);
}


json_t *
caps_request(const struct outbox_settings *s, const char *channel, int lane,
             int64_t now)
{
    json_t *caps = json_array();

    for (int i = 0; i < s->cap_count; i++) {
        const struct outbox_cap *cap = &s->caps[i];
        json_t *entry;

        if (!cap_applies(cap, channel, lane))
            continue;
        entry = json_pack("{s:I,s:i}", "since",
                          (json_int_t) (now - cap->per_ms), "max", cap->max);
        if (cap->lane >= 0)
            json_object_set_new(entry, "lane", json_integer(cap->lane));
        json_array_append_new(caps, entry);
    }
    return caps;
}


static int *
reservation(const char *profile, const char *channel, int create)
{
    char *key = g_strconcat(profile, "\x1f", channel, NULL);
    int *counts;

    if (reserved == NULL)
        reserved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_free);
    counts = g_hash_table_lookup(reserved, key);
    if (counts == NULL && create) {
        counts = g_new0(int, 2);
        g_hash_table_insert(reserved, key, counts);
        return counts;
    }
    g_free(key);
    return counts;
}


/* Returns the reservations that a cap of `lane` (-1: both) counts. */
static int
reserved_for(const char *profile, const char *channel, int lane)
{
    int *counts = reservation(profile, channel, 0);

    if (counts == NULL)
        return 0;
    return lane < 0 ? counts[0] + counts[1] : counts[lane];
}


void
caps_release(const char *profile, const char *channel, int lane)
{
    int *counts = reservation(profile, channel, 0);

    if (counts == NULL || counts[lane] == 0)
        return;
    counts[lane]--;
    if (counts[0] == 0 && counts[1] == 0) {
        char *key = g_strconcat(profile, "\x1f", channel, NULL);

        g_hash_table_remove(reserved, key);
        g_free(key);
    }
}


static void
check_end(struct cap_check *c, int status, int allowed)
{
    if (status == 0 && allowed)
        reservation(c->profile, c->channel, 1)[c->lane]++;
    c->done(c->arg, status, allowed);
    g_free(c->profile);
    g_free(c->channel);
    free(c);
}


static void
on_count(void *arg, int status, json_t *result)
{
    struct cap_check *c = arg;
    const struct outbox_cap *cap = &c->set->caps[c->next];
    int64_t counted;

    if (status != 0) {
        check_end(c, status, 0);
        return;
    }
    counted = json_integer_value(json_object_get(result, "count")) +
              reserved_for(c->profile, c->channel, cap->lane);
    if (!cap_allows(cap, counted)) {
        check_end(c, 0, 0);
        return;
    }
    c->next++;
    check_next(c);
}


static void
check_next(struct cap_check *c)
{
    const struct outbox_cap *cap;
    json_t *req;
    int rc;

    while (c->next < c->set->cap_count &&
           !cap_applies(&c->set->caps[c->next], c->channel, c->lane))
        c->next++;
    if (c->next == c->set->cap_count) {
        check_end(c, 0, 1);
        return;
    }
    cap = &c->set->caps[c->next];
    req = json_pack("{s:s,s:s,s:I}", "profile", c->profile, "channel",
                    c->channel, "since", (json_int_t) (c->now - cap->per_ms));
    if (cap->lane >= 0)
        json_object_set_new(req, "lane", json_integer(cap->lane));
    rc = server.store_ops->jobs_sent_count(server.store->state, req,
                                           on_count, c);
    json_decref(req);
    if (rc != 0)
        check_end(c, rc, 0);
}


int
caps_check(const struct outbox_settings *s, const char *profile,
           const char *channel, int lane, int64_t now,
           void (*done)(void *arg, int status, int allowed), void *arg)
{
    struct cap_check *c;

    if (server.store_ops->size <=
        offsetof(struct crier_store_ops, jobs_sent_count))
        return CRIER_ENOTSUP;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CRIER_ENOMEM;
    c->set = s;
    c->profile = g_strdup(profile);
    c->channel = g_strdup(channel);
    c->lane = lane;
    c->now = now;
    c->done = done;
    c->arg = arg;
    check_next(c);
    return 0;
}
