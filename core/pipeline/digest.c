/*
 * Digests in the pipeline: an event that a rule or a journey step sends
 * to a digest becomes an item of the resident's open window, and a
 * digest.due event closes the window and plans its one job.
 *
 * The window is a journey row named "digest:<name>" whose `entry` is the
 * window's start, `due` its end and `items` the items in event-time
 * order. Its `step` is a version, "v1", "v2", ..., raised by every change
 * to the items. The journey clock's wake-up applies only to the version
 * it read, and a digest.due event fires only the version it carries, so
 * an item that lands between the read and the event is not lost.
 * docs/digests.md states every rule.
 */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "digests/digests.h"
#include "pipeline/evaluate.h"
#include "plugin/plugin.h"
#include "rules/rules.h"
#include "server/server.h"


static const char *
row_text(const json_t *row, const char *key)
{
    return json_string_value(json_object_get(row, key));
}


/* Returns the item key of an event: the digest's `key` expression as
 * text, or the event's seq when there is no expression or it gives
 * nothing. New string. */
static char *
item_key(const struct digest *digest, const json_t *ctx, int64_t seq)
{
    json_t *value = digest->key ? expr_eval(digest->key, ctx) : NULL;
    char *key = NULL;

    if (json_is_string(value))
        key = g_strdup(json_string_value(value));
    else if (value != NULL && !json_is_null(value)) {
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);

        key = g_strdup(text);
        free(text);
    }
    json_decref(value);
    return key != NULL ? key : g_strdup_printf("seq:%lld", (long long) seq);
}


/* Orders items by event time, then by seq. */
static int
item_compare(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *) a;
    const json_t *y = *(const json_t *const *) b;
    int64_t tx = json_integer_value(json_object_get(x, "time"));
    int64_t ty = json_integer_value(json_object_get(y, "time"));
    int64_t sx = json_integer_value(json_object_get(x, "seq"));
    int64_t sy = json_integer_value(json_object_get(y, "seq"));

    if (tx != ty)
        return tx < ty ? -1 : 1;
    return sx < sy ? -1 : sx > sy;
}


/* Sorts the items of a window in place. */
static void
items_sort(json_t *items)
{
    size_t n = json_array_size(items);
    json_t **list = calloc(n ? n : 1, sizeof(*list));

    for (size_t i = 0; i < n; i++)
        list[i] = json_incref(json_array_get(items, i));
    qsort(list, n, sizeof(*list), item_compare);
    json_array_clear(items);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, list[i]);
    free(list);
}


/* Returns when a window whose first item happened at `first` ends, in
 * the resident's zone. */
static int64_t
window_end(const struct digest *digest, const json_t *profile, int64_t first)
{
    const char *zone_name = json_string_value(json_object_get(
        json_object_get(profile, "attributes"), "timezone"));
    GTimeZone *zone = civil_zone_or_default(zone_name);
    int64_t end = digest_window_end(digest, zone, first);

    g_time_zone_unref(zone);
    return end;
}


/* Opens a window for an item at `when`. A window that started at the
 * same ms as the previous one would repeat its job key, so it starts
 * 1 ms after it instead. Its end still counts from `when`. */
static json_t *
window_open(const struct digest *digest, const char *name, json_t *profile,
            const json_t *old, int64_t when)
{
    int64_t start = when;
    int64_t end = window_end(digest, profile, when);
    int64_t now = clock_now_ms();

    if (old != NULL &&
        json_integer_value(json_object_get(old, "entry")) >= start)
        start = json_integer_value(json_object_get(old, "entry")) + 1;
    return json_pack("{s:s,s:O,s:I,s:s,s:s,s:I,s:I,s:I,s:[]}", "journey",
                     name, "profile", json_object_get(profile, "id"),
                     "entry", (json_int_t) start, "step", "v0", "state",
                     "active", "due", (json_int_t) end, "since",
                     (json_int_t) now, "updated", (json_int_t) now,
                     "items");
}


/* Puts `item` into `items`: it replaces the item of the same key unless
 * that one is newer. Returns 1 when the items changed. */
static int
item_put(json_t *items, json_t *item, const char *digest_name,
         const char *profile_id)
{
    const char *key = row_text(item, "key");
    size_t i;
    json_t *old;

    json_array_foreach(items, i, old) {
        if (g_strcmp0(row_text(old, "key"), key) != 0)
            continue;
        if (item_compare(&old, &item) > 0) {
            json_decref(item);
            return 0;
        }
        json_array_set_new(items, i, item);
        return 1;
    }
    if (json_array_size(items) >= DIGEST_ITEMS_MAX) {
        log_warn("digest window is full; item dropped",
                 "digest=%s profile=%s key=%s max=%d", digest_name,
                 profile_id, key, DIGEST_ITEMS_MAX);
        json_decref(item);
        return 0;
    }
    json_array_append_new(items, item);
    return 1;
}


void
digest_collect(struct evaluation *ev, const struct digest *digest,
               json_t *ctx, json_t *profile, const json_t *event,
               int64_t seq, int64_t when)
{
    const char *id = json_string_value(json_object_get(profile, "id"));
    char *name = g_strconcat(DIGEST_ROW_PREFIX, digest->name, NULL);
    json_t *places, *row, *item;
    char *key, *step;
    char at[32];

    if (ev->journeys == NULL || id == NULL) {
        g_free(name);
        return;
    }
    places = evaluation_places(ev, id);
    /* NOTE: one open window per digest and resident, so an item after
     * the window's end joins it while the clock has not yet sent it
     * (docs/KNOWN_LIMITS.md, "Digests"). */
    row = json_object_get(places, name);
    if (row == NULL ||
        g_strcmp0(row_text(row, "state"), "active") != 0) {
        row = window_open(digest, name, profile, row, when);
        json_object_set_new(places, name, row);
        log_debug("digest window opened", "digest=%s profile=%s due=%lld",
                  digest->name, id, (long long) json_integer_value(
                      json_object_get(row, "due")));
    }
    key = item_key(digest, ctx, seq);
    clock_format_ms(when, at, sizeof(at));
    item = json_pack("{s:s,s:I,s:s,s:I,s:O}", "key", key, "time",
                     (json_int_t) when, "at", at, "seq", (json_int_t) seq,
                     "event", event);
    g_free(key);
    if (item_put(json_object_get(row, "items"), item, digest->name, id)) {
        items_sort(json_object_get(row, "items"));
        /* Items of one moment can be stored in any order, so the window
         * counts from the earliest event time among its items. NOTE: a
         * start moved back onto the start of the resident's previous
         * window repeats its job key, and the store then plans nothing
         * (docs/KNOWN_LIMITS.md, "Digests"). */
        if (when < json_integer_value(json_object_get(row, "entry"))) {
            json_object_set_new(row, "entry", json_integer(when));
            json_object_set_new(row, "due", json_integer(
                                    window_end(digest, profile, when)));
        }
        step = g_strdup_printf("v%lld", (long long) g_ascii_strtoll(
                                   row_text(row, "step") + 1, NULL, 10) + 1);
        json_object_set_new(row, "step", json_string(step));
        json_object_set_new(row, "updated", json_integer(clock_now_ms()));
        json_object_set_new(row, "_dirty", json_true());
        g_free(step);
    }
    g_free(name);
}


/* Plans the window's job, keyed by (digest, profile, window start). The
 * template renders the digest.due event `seq`, which carries the
 * items. */
static void
job_plan(struct evaluation *ev, const struct digest *digest,
         json_t *profile, const json_t *row, int64_t seq)
{
    struct plugin_instance *ch = server_channel(digest->channel);
    const struct crier_channel_ops *ops = ch ? ch->desc->ops : NULL;
    const char *kind = ops && ops->address_kind ? ops->address_kind
                                                : "email";
    const char *to = profile_identity(profile, kind);
    const char *id = row_text(row, "profile");
    int64_t start = json_integer_value(json_object_get(row, "entry"));
    char *key, *rule;

    if (to == NULL) {
        log_debug("digest not sent: the profile has no address",
                  "digest=%s profile=%s kind=%s", digest->name, id, kind);
        return;
    }
    key = g_strdup_printf("digest:%s/%s/%lld", digest->name, id,
                          (long long) start);
    rule = g_strconcat(DIGEST_ROW_PREFIX, digest->name, NULL);
    json_array_append_new(ev->jobs,
                          json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:i,"
                                    "s:i}", "key", key, "rule", rule,
                                    "profile", id, "event_seq",
                                    (json_int_t) seq, "channel",
                                    digest->channel, "template",
                                    digest->template_name, "to", to, "due",
                                    (json_int_t) clock_now_ms(), "lane",
                                    digest->service ? 0 : 1, "priority", 0));
    g_free(rule);
    g_free(key);
}


void
digest_fire(struct evaluation *ev, const struct ruleset *rules,
            const json_t *props, json_t *profile, int64_t seq)
{
    const char *id = json_string_value(json_object_get(profile, "id"));
    const char *name = row_text(props, "journey");
    const struct digest *digest;
    json_t *row;

    if (ev->journeys == NULL || id == NULL || name == NULL ||
        !g_str_has_prefix(name, DIGEST_ROW_PREFIX))
        return;
    row = json_object_get(evaluation_places(ev, id), name);
    /* A window whose items changed after the clock read it waits for the
     * clock's next read, which carries them all. */
    if (g_strcmp0(row_text(row, "state"), "active") != 0 ||
        json_integer_value(json_object_get(row, "entry")) !=
            json_integer_value(json_object_get(props, "entry")) ||
        g_strcmp0(row_text(row, "step"), row_text(props, "step")) != 0)
        return;
    digest = digest_find(rules->digests, name + strlen(DIGEST_ROW_PREFIX));
    if (digest == NULL)
        log_warn("digest removed from the config; its window ends unsent",
                 "digest=%s profile=%s items=%zu", name, id,
                 json_array_size(json_object_get(row, "items")));
    else
        job_plan(ev, digest, profile, row, seq);
    json_object_set_new(row, "state", json_string("ended"));
    json_object_set_new(row, "due", json_null());
    json_object_del(row, "items");
    json_object_set_new(row, "updated", json_integer(clock_now_ms()));
    json_object_set_new(row, "_dirty", json_true());
}
