/*
 * The bulletin planner. It gives each sending bulletin one turn every
 * PLAN_TICK_MS on the crier clock, and at once when woken. A turn reads a
 * page of up to BULLETIN_BATCH recipients after the last one considered,
 * loads their profiles and commits one job per recipient in one store
 * batch. A turn plans no more sendable jobs than the bulletin's rate allows
 * by now less those the store already counts, and no more than its
 * channel's shared rate (`delivery.bulletin_rates`) allows, so the pace
 * follows both even though each job is due when planned. A turn of a
 * bulletin with a rate holds the bulletin's lease (pace.c), so nodes on
 * one store take turns and together keep to the rate. Only one page is
 * in memory at a time.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "bulletins/bulletins.h"
#include "bulletins/pace.h"
#include "delivery/outbox.h"
#include "pipeline/profile.h"
#include "server/server.h"

#define PLAN_TICK_MS 1000
#define HOUR_MS 3600000.0

/* The reasons recorded on a recipient's job that is planned suppressed. */
#define REASON_UNCONFIRMED "unconfirmed"
#define REASON_NO_ADDRESS "no address"

/* The allowance of one channel that all its bulletins share. */
struct channel_pace {
    double allowance;           /* messages the channel's rate allows now */
    int64_t accrued_at;         /* when `allowance` was last raised */
};

static struct {
    struct crier_timer *tick;
    int running;
    int64_t refreshed_at;       /* when the stored bulletins were last read */
    GHashTable *paces;          /* channel name -> struct channel_pace */
} pl;

/* One turn of one bulletin, from the page read to the commit. */
struct turn {
    char *id;                   /* the bulletin's id */
    int64_t budget;             /* sendable jobs this turn may plan */
    json_t *page;               /* [{"profile", "status"}] in id order */
    int last_page;              /* no recipient follows the page */
    json_t *jobs;
    char *after;                /* the last recipient this turn considered */
    int64_t sendable;
    int64_t suppressed;
    char *channel;              /* the bulletin's channel */
    int64_t slot;               /* the lease's slot, or 0 for none */
    int64_t reserved;           /* taken from the channel's allowance; what
                                 * is left at the end goes back */
};

static void tick_arm(int64_t delay_ms);


/*
 * Raises the allowance of `channel` for the time since it was last raised
 * and returns it, or NULL when the channel has no shared rate. It starts
 * at one message and is capped at one batch, as a bulletin's is.
 * NOTE: the allowance is in memory only and per node: it starts again at
 * one message after a restart or reload, and N nodes on one store may
 * plan up to N times the channel's rate (docs/KNOWN_LIMITS.md).
 */
static struct channel_pace *
channel_pace(const char *channel, int64_t now)
{
    int64_t rate = outbox_bulletin_rate(channel);
    struct channel_pace *pace;

    if (rate == 0)
        return NULL;
    if (pl.paces == NULL)
        pl.paces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_free);
    pace = g_hash_table_lookup(pl.paces, channel);
    if (pace == NULL) {
        pace = g_new0(struct channel_pace, 1);
        pace->allowance = 1.0;
        pace->accrued_at = now;
        g_hash_table_insert(pl.paces, g_strdup(channel), pace);
    }
    pace->allowance += (double) (now - pace->accrued_at) * (double) rate /
                       HOUR_MS;
    if (pace->allowance > BULLETIN_BATCH)
        pace->allowance = BULLETIN_BATCH;
    pace->accrued_at = now;
    return pace;
}


/* Takes up to `budget` messages from the channel's allowance for one
 * turn and returns how many the turn may plan. A turn reserves them at
 * its start, so that two bulletins in one tick never share one
 * allowance twice. */
static int64_t
channel_take(struct turn *t, int64_t budget, int64_t now)
{
    struct channel_pace *pace = channel_pace(t->channel, now);

    if (pace == NULL)
        return budget;
    if ((double) budget > pace->allowance)
        budget = (int64_t) pace->allowance;
    pace->allowance -= (double) budget;
    t->reserved = budget;
    return budget;
}


/* Returns nonzero when the channel's shared rate allows another message
 * now, or it has none. */
static int
channel_ready(const char *channel)
{
    struct channel_pace *pace = pl.paces && outbox_bulletin_rate(channel)
                                ? g_hash_table_lookup(pl.paces, channel)
                                : NULL;

    return pace == NULL || pace->allowance >= 1.0;
}


static void
turn_free(struct turn *t)
{
    struct bulletin *b = bulletin_find(t->id);
    struct channel_pace *pace = pl.paces && t->reserved > 0
                                ? g_hash_table_lookup(pl.paces, t->channel)
                                : NULL;

    if (pace != NULL)
        pace->allowance += (double) t->reserved;
    if (t->slot != 0)
        bulletin_lease_end(t->id, t->slot);
    if (b != NULL)
        b->busy = 0;
    json_decref(t->page);
    json_decref(t->jobs);
    g_free(t->after);
    g_free(t->channel);
    g_free(t->id);
    g_free(t);
}


/* Ends a turn that failed in the store; the next tick tries again. */
static void
turn_fail(struct turn *t, const char *op, int status)
{
    log_error("bulletin turn failed; retrying at the next tick", "bulletin=%s "
              "op=%s error=%s", t->id, op, crier_errname(status));
    turn_free(t);
}


/* Returns the reason to record for a recipient whose job is planned
 * suppressed, or NULL for one to send to. Sets *skip for a recipient
 * that gets no job at all. */
static const char *
recipient_verdict(const struct bulletin *b, const json_t *entry,
                  const json_t *profile, const char *to, int *skip)
{
    const char *status = json_string_value(json_object_get(entry,
                                                           "status"));
    json_t *segments = json_object_get(profile, "segments");
    size_t i;
    json_t *name;
    int member = 0;

    *skip = profile == NULL || g_strcmp0(status, "unsubscribed") == 0;
    if (*skip)
        return NULL;
    if (b->topic != NULL && b->segment != NULL) {
        json_array_foreach(segments, i, name)
            member |= g_strcmp0(json_string_value(name), b->segment) == 0;
        *skip = !member;
        if (*skip)
            return NULL;
    }
    if (g_strcmp0(status, "pending") == 0)
        return REASON_UNCONFIRMED;
    return to == NULL ? REASON_NO_ADDRESS : NULL;
}


/* Adds the recipient's job, keyed by bulletin and profile id.
 * NOTE: a merge while the bulletin plans can give the resident a job
 * under each id, or none (docs/KNOWN_LIMITS.md). */
static void
job_add(struct turn *t, const struct bulletin *b, const char *profile,
        const char *to, const char *reason)
{
    char *key = g_strdup_printf(BULLETIN_RULE_PREFIX "%s/%s", b->id,
                                profile);
    char *rule = g_strdup_printf(BULLETIN_RULE_PREFIX "%s", b->id);

    json_array_append_new(t->jobs, json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s?,s:I,s:i,s:s?}", "key", key, "rule", rule,
        "profile", profile, "channel", b->channel, "template",
        b->template_name, "to", to, "due", (json_int_t) clock_now_ms(),
        "lane", BULLETIN_LANE, "suppressed", reason));
    g_free(key);
    g_free(rule);
}


static void
on_committed(void *arg, int status, json_t *result)
{
    struct turn *t = arg;
    struct bulletin *b = bulletin_find(t->id);
    int64_t existing = json_integer_value(json_object_get(result,
                                                          "existing"));
    int more;

    if (status < 0) {
        turn_fail(t, "commit", status);
        return;
    }
    if (b == NULL) {
        turn_free(t);
        return;
    }
    g_free(b->after);
    b->after = g_strdup(t->after);
    /* Jobs that existed may be suppressed ones, so this stays a lower
     * bound of what the store counts. */
    if (t->sendable > existing)
        b->counted_seen += t->sendable - existing;
    t->reserved = t->reserved > t->sendable ? t->reserved - t->sendable : 0;
    log_info("bulletin batch planned", "bulletin=%s planned=%lld "
             "suppressed=%lld existing=%lld after=%s", b->id,
             (long long) t->sendable, (long long) t->suppressed,
             (long long) existing, t->after ? t->after : "");
    if (t->sendable > 0)
        outbox_kick();
    if (t->last_page) {
        b->scanned = 1;
        log_notice("bulletin fully planned", "bulletin=%s", b->id);
        bulletin_save(b, NULL, NULL);
    }
    more = t->last_page || b->rate == 0 ||
           (t->budget < BULLETIN_BATCH &&
            bulletin_allowed(b, clock_now_ms()) - b->counted_seen >= 1);
    turn_free(t);
    /* Another turn now, when this bulletin or another on the channel may
     * plan more: turn_free gave back the unused part of the reserve. A
     * bulletin whose turn could take a whole batch is that far behind
     * its pace, so it waits for the next tick and catches up at one
     * batch a tick. */
    if (pl.running && more && channel_ready(b->channel))
        tick_arm(0);
}


/* Decides each recipient of the page against the loaded profiles and
 * commits the jobs. Stops early once the budget of sendable jobs is
 * spent, and then the page counts as not done. */
static void
on_profiles(void *arg, int status, json_t *result)
{
    struct turn *t = arg;
    struct bulletin *b = bulletin_find(t->id);
    GHashTable *byid;
    const struct plugin_instance *ch;
    const struct crier_channel_ops *ops;
    const char *kind;
    size_t i;
    json_t *entry, *profile, *batch;
    int rc;

    if (status < 0 || b == NULL) {
        if (b == NULL)
            turn_free(t);
        else
            turn_fail(t, "profiles_load", status);
        return;
    }
    ch = server_channel(b->channel);
    ops = ch != NULL ? ch->desc->ops : NULL;
    kind = ops != NULL && ops->address_kind ? ops->address_kind : "email";
    byid = g_hash_table_new(g_str_hash, g_str_equal);
    json_array_foreach(json_object_get(result, "profiles"), i, profile)
        g_hash_table_insert(byid, (gpointer) json_string_value(
            json_object_get(profile, "id")), profile);
    t->jobs = json_array();
    json_array_foreach(t->page, i, entry) {
        const char *id = json_string_value(json_object_get(entry,
                                                           "profile"));
        const char *to, *reason;
        int skip;

        if (t->sendable >= t->budget) {
            t->last_page = 0;
            break;
        }
        profile = g_hash_table_lookup(byid, id);
        to = profile ? profile_identity(profile, kind) : NULL;
        reason = recipient_verdict(b, entry, profile, to, &skip);
        g_free(t->after);
        t->after = g_strdup(id);
        if (skip)
            continue;
        job_add(t, b, id, to, reason);
        if (reason != NULL)
            t->suppressed++;
        else
            t->sendable++;
    }
    g_hash_table_destroy(byid);
    batch = json_pack("{s:O}", "jobs", t->jobs);
    rc = server.store_ops->commit(server.store->state, batch, on_committed,
                                  t);
    json_decref(batch);
    if (rc < 0)
        turn_fail(t, "commit", rc);
}


/* Keeps the page as [{"profile", "status"}] and loads its profiles. */
static void
on_page(void *arg, int status, json_t *result)
{
    struct turn *t = arg;
    json_t *rows = json_object_get(result, "subscriptions");
    json_t *ids = json_array();
    json_t *request;
    size_t i;
    json_t *row;
    int rc;

    if (status < 0) {
        json_decref(ids);
        turn_fail(t, "page", status);
        return;
    }
    if (rows == NULL)
        rows = json_object_get(result, "members");
    t->page = json_incref(rows);
    t->last_page = json_is_null(json_object_get(result, "next")) ||
                   json_object_get(result, "next") == NULL;
    json_array_foreach(rows, i, row)
        json_array_append(ids, json_object_get(row, "profile"));
    request = json_pack("{s:[],s:o}", "identities", "ids", ids);
    rc = server.store_ops->profiles_load(server.store->state, request,
                                         on_profiles, t);
    json_decref(request);
    if (rc < 0)
        turn_fail(t, "profiles_load", rc);
}


/* Reads the next page of recipients: a topic's subscribers on the
 * bulletin's channel, or else a segment's members. */
static void
page_read(struct turn *t, const struct bulletin *b)
{
    json_t *request;
    int rc;

    if (b->topic != NULL) {
        request = json_pack("{s:s,s:s,s:i,s:s?}", "topic", b->topic,
                            "channel", b->channel, "limit", BULLETIN_BATCH,
                            "after", b->after);
        rc = server.store_ops->subscriptions_read(server.store->state,
                                                  request, on_page, t);
    } else {
        request = json_pack("{s:s,s:i,s:s?}", "segment", b->segment,
                            "limit", BULLETIN_BATCH, "after", b->after);
        rc = server.store_ops->segment_members(server.store->state,
                                               request, on_page, t);
    }
    json_decref(request);
    if (rc < 0)
        turn_fail(t, "page", rc);
}


/* Moves the planner after the highest profile that has a job of the
 * bulletin, read from the highest job key "bulletin:<id>/<profile>":
 * every recipient up to it was considered, because pages go in profile
 * id order. A place this node reached further on, past recipients that
 * got no job, is kept. */
static void
position_take(struct bulletin *b, const json_t *tally)
{
    const char *last = json_string_value(json_object_get(tally,
                                                         "last_key"));
    const char *profile = last != NULL ? strchr(last, '/') : NULL;

    if (profile != NULL && (!b->positioned || b->after == NULL ||
                            strcmp(profile + 1, b->after) > 0)) {
        g_free(b->after);
        b->after = g_strdup(profile + 1);
    }
    b->positioned = 1;
}


/* Takes the place and, for a bulletin with a rate, the turn's budget
 * from the stored jobs, then reads the page. */
static void
on_tally(void *arg, int status, json_t *result)
{
    struct turn *t = arg;
    struct bulletin *b = bulletin_find(t->id);
    int64_t left;

    if (status < 0 || b == NULL) {
        if (b == NULL)
            turn_free(t);
        else
            turn_fail(t, "jobs_tally", status);
        return;
    }
    position_take(b, result);
    b->counted_seen = bulletin_counted(result);
    if (b->rate > 0) {
        bulletin_pace_forward(b, b->counted_seen, clock_now_ms());
        left = bulletin_allowed(b, clock_now_ms()) - b->counted_seen;
        if (left < t->budget)
            t->budget = left;
    }
    if (t->budget < 1) {
        turn_free(t);
        return;
    }
    page_read(t, b);
}


/* Reads the bulletin's tally (on_tally). */
static void
tally_read(struct turn *t)
{
    json_t *request;
    int rc;

    request = json_pack("{s:s+}", "rule", BULLETIN_RULE_PREFIX, t->id);
    rc = server.store_ops->jobs_tally(server.store->state, request,
                                      on_tally, t);
    json_decref(request);
    if (rc < 0)
        turn_fail(t, "jobs_tally", rc);
}


static void
on_pace_loaded(void *arg, int status)
{
    struct turn *t = arg;

    if (status < 0)
        turn_fail(t, "objects_read", status);
    else
        tally_read(t);
}


/* Goes on with the turn once this node has the bulletin's lease, and
 * reads the stored pace. When another node has it, the next tick tries
 * again. */
static void
on_leased(void *arg, int status, int64_t slot)
{
    struct turn *t = arg;
    int rc;

    if (status < 0) {
        turn_fail(t, "pace_acquire", status);
        return;
    }
    if (slot == 0) {
        turn_free(t);
        return;
    }
    t->slot = slot;
    rc = bulletin_pace_load(t->id, on_pace_loaded, t);
    if (rc < 0)
        turn_fail(t, "objects_read", rc);
}


/* Returns the max sendable jobs that the bulletin's rate may let a turn
 * plan now, from the jobs this node saw counted. Jobs that other nodes
 * planned since make the turn's real budget smaller (on_tally). */
static int64_t
budget_estimate(const struct bulletin *b, int64_t now)
{
    int64_t left;

    if (b->rate == 0)
        return BULLETIN_BATCH;
    left = bulletin_allowed(b, now) - b->counted_seen;
    return left < BULLETIN_BATCH ? left : BULLETIN_BATCH;
}


/*
 * Starts a turn of `b`. A bulletin with a rate takes its lease and reads
 * its stored pace and its tally in every turn, because other nodes may
 * have planned since this node's last turn. One without a rate plans a
 * batch a turn on whichever node, and the job keys keep one job per
 * recipient.
 * NOTE: the tally takes time in proportion to the bulletin's jobs, and
 * its cost per turn on a large bulletin is not measured
 * (docs/KNOWN_LIMITS.md).
 */
static void
turn_start(struct bulletin *b, void *arg)
{
    int64_t now = clock_now_ms();
    int64_t budget;
    struct turn *t;
    int rc;

    if (b->busy || b->scanned || !b->stored ||
        strcmp(b->state, "sending") != 0 || b->send_at > now)
        return;
    budget = budget_estimate(b, now);
    if (budget < 1)
        return;
    t = g_new0(struct turn, 1);
    t->id = g_strdup(b->id);
    t->channel = g_strdup(b->channel);
    /* Bulletins take turns in id order, so on a channel whose shared rate
     * is spent the older bulletin goes first. */
    t->budget = channel_take(t, budget, now);
    if (t->budget < 1) {
        turn_free(t);
        return;
    }
    b->busy = 1;
    if (b->rate == 0 && b->positioned) {
        page_read(t, b);
        return;
    }
    if (b->rate == 0) {
        tally_read(t);
        return;
    }
    rc = bulletin_lease_take(b->id, on_leased, t);
    if (rc < 0)
        turn_fail(t, "pace_acquire", rc);
}


static void
on_tick(void *arg)
{
    int64_t now = clock_now_ms();

    pl.tick = NULL;
    if (!pl.running)
        return;
    tick_arm(PLAN_TICK_MS);
    /* A clock stepped back also starts a read. */
    if (now - pl.refreshed_at >= BULLETIN_REFRESH_MS ||
        now < pl.refreshed_at) {
        pl.refreshed_at = now;
        bulletins_restore();
    }
    bulletins_each(turn_start, NULL);
}


static void
tick_arm(int64_t delay_ms)
{
    timer_stop(pl.tick);
    pl.tick = timer_start(delay_ms, on_tick, NULL);
}


void
bulletins_kick(void)
{
    if (pl.running)
        tick_arm(0);
}


void
bulletins_start(void)
{
    if (!STORE_HAS_OP(jobs_tally) || !STORE_HAS_OP(subscriptions_read)) {
        log_warn("bulletins are off: the store plugin lacks their "
                 "operations", "store=%s", server.store->desc->name);
        return;
    }
    pl.running = 1;
    pl.refreshed_at = clock_now_ms();
    bulletins_restore();
    tick_arm(PLAN_TICK_MS);
}


void
bulletins_stop(void)
{
    pl.running = 0;
    timer_stop(pl.tick);
    pl.tick = NULL;
    if (pl.paces != NULL)
        g_hash_table_destroy(pl.paces);
    pl.paces = NULL;
}
