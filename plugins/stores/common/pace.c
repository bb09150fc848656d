/*
 * Pacing slots of shared destinations, for the stores that one process
 * owns. The postgres store keeps the same rules in SQL
 * (sql/functions_pace.sql): an acquire first drops the key's slots that
 * no longer count toward either limit, then checks max_in_flight, then
 * the rate.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


/* Reads an integer member that must lie in [min, max]. */
static int
member_bounded(const json_t *json, const char *key, int64_t min, int64_t max,
               int64_t *out)
{
    int rc = member_integer(json, key, 1, 0, out);

    if (rc == 0 && (*out < min || *out > max))
        rc = CRIER_EINVAL;
    return rc;
}


int
pace_acquire_parse(const json_t *json, struct pace_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "key", 1, &out->key);
    if (rc == 0)
        rc = member_bounded(json, "now", 0, INT64_MAX / 2, &out->now);
    if (rc == 0)
        rc = member_bounded(json, "max_per_second", 1, PACE_PER_SECOND_MAX,
                            &out->max_per_second);
    if (rc == 0)
        rc = member_bounded(json, "max_in_flight", 1, PACE_IN_FLIGHT_MAX,
                            &out->max_in_flight);
    if (rc == 0)
        rc = member_bounded(json, "lease_ms", 1, PACE_LEASE_MAX_MS,
                            &out->lease_ms);
    if (rc < 0)
        pace_request_clear(out);
    return rc;
}


int
pace_release_parse(const json_t *json, struct pace_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "key", 1, &out->key);
    if (rc == 0)
        rc = member_bounded(json, "slot", 1, INT64_MAX, &out->slot);
    if (rc < 0)
        pace_request_clear(out);
    return rc;
}


void
pace_request_clear(struct pace_request *request)
{
    free(request->key);
    memset(request, 0, sizeof(*request));
}


void
pace_table_init(struct pace_table *table)
{
    memset(table, 0, sizeof(*table));
    table->next_id = 1;
}


void
pace_table_free(struct pace_table *table)
{
    for (size_t i = 0; i < table->count; i++) {
        free(table->keys[i].key);
        free(table->keys[i].slots);
    }
    free(table->keys);
    memset(table, 0, sizeof(*table));
}


/* Returns the entry of `key`, or NULL when it has none. */
static struct pace_key *
key_find(struct pace_table *table, const char *key)
{
    for (size_t i = 0; i < table->count; i++)
        if (strcmp(table->keys[i].key, key) == 0)
            return &table->keys[i];
    return NULL;
}


/* Returns the entry of `key`, adding an empty one when it has none, or
 * NULL when out of memory. A destination is one key per channel
 * instance, so a linear search over a handful stays cheap. */
static struct pace_key *
key_get(struct pace_table *table, const char *key)
{
    struct pace_key *entry = key_find(table, key);

    if (entry != NULL)
        return entry;
    if (table->count == table->capacity) {
        size_t capacity = table->capacity > 0 ? 2 * table->capacity : 4;
        struct pace_key *keys = realloc(table->keys,
                                        capacity * sizeof(*keys));

        if (keys == NULL)
            return NULL;
        table->keys = keys;
        table->capacity = capacity;
    }
    entry = &table->keys[table->count];
    memset(entry, 0, sizeof(*entry));
    entry->key = strdup(key);
    if (entry->key == NULL)
        return NULL;
    table->count++;
    return entry;
}


/* Returns 1 when `slot` is held at `now`. */
static int
slot_held(const struct pace_slot *slot, int64_t now)
{
    return !slot->released && slot->lease_until > now;
}


/* Drops the slots that count toward neither limit at `now`: started a
 * whole window ago and no longer held. */
static void
key_prune(struct pace_key *entry, int64_t now)
{
    size_t kept = 0;

    for (size_t i = 0; i < entry->count; i++) {
        const struct pace_slot *slot = &entry->slots[i];

        if (slot->started > now - PACE_WINDOW_MS || slot_held(slot, now))
            entry->slots[kept++] = *slot;
    }
    entry->count = kept;
}


static int
start_compare_newest_first(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;

    return (x < y) - (x > y);
}


/*
 * Returns the wait until fewer than `max` slots have started in the
 * window that ends at `now`, or 0 when that is so already, or -1 when out
 * of memory. The max-th newest start in the window decides: the next
 * slot may start once that one is a whole window old.
 */
static int64_t
rate_wait(const struct pace_key *entry, int64_t now, int64_t max)
{
    int64_t *starts;
    size_t in_window = 0;
    int64_t wait;

    for (size_t i = 0; i < entry->count; i++)
        in_window += entry->slots[i].started > now - PACE_WINDOW_MS;
    if (in_window < (size_t)max)
        return 0;
    starts = malloc(in_window * sizeof(*starts));
    if (starts == NULL)
        return -1;
    in_window = 0;
    for (size_t i = 0; i < entry->count; i++)
        if (entry->slots[i].started > now - PACE_WINDOW_MS)
            starts[in_window++] = entry->slots[i].started;
    qsort(starts, in_window, sizeof(*starts), start_compare_newest_first);
    wait = starts[max - 1] + PACE_WINDOW_MS - now;
    free(starts);
    return wait;
}


/* Returns the number of slots of `entry` held at `now`. */
static int64_t
held_count(const struct pace_key *entry, int64_t now)
{
    int64_t held = 0;

    for (size_t i = 0; i < entry->count; i++)
        held += slot_held(&entry->slots[i], now);
    return held;
}


/* Appends a slot taken at `request->now` and returns its id, or 0 when
 * out of memory. */
static int64_t
slot_add(struct pace_table *table, struct pace_key *entry,
         const struct pace_request *request)
{
    struct pace_slot *slot;

    if (entry->count == entry->capacity) {
        size_t capacity = entry->capacity > 0 ? 2 * entry->capacity : 8;
        struct pace_slot *slots = realloc(entry->slots,
                                          capacity * sizeof(*slots));

        if (slots == NULL)
            return 0;
        entry->slots = slots;
        entry->capacity = capacity;
    }
    slot = &entry->slots[entry->count++];
    slot->id = table->next_id++;
    slot->started = request->now;
    slot->lease_until = request->now + request->lease_ms;
    slot->released = 0;
    return slot->id;
}


json_t *
pace_table_acquire(struct pace_table *table,
                   const struct pace_request *request)
{
    struct pace_key *entry = key_get(table, request->key);
    int64_t wait;
    int64_t id;

    if (entry == NULL)
        return NULL;
    key_prune(entry, request->now);
    if (held_count(entry, request->now) >= request->max_in_flight)
        return json_pack("{s:n, s:i}", "slot", "wait_ms", 0);
    wait = rate_wait(entry, request->now, request->max_per_second);
    if (wait < 0)
        return NULL;
    if (wait > 0)
        return json_pack("{s:n, s:I}", "slot", "wait_ms", (json_int_t)wait);
    id = slot_add(table, entry, request);
    if (id == 0)
        return NULL;
    return json_pack("{s:I, s:i}", "slot", (json_int_t)id, "wait_ms", 0);
}


json_t *
pace_table_release(struct pace_table *table,
                   const struct pace_request *request)
{
    struct pace_key *entry = key_find(table, request->key);
    int released = 0;

    for (size_t i = 0; entry != NULL && i < entry->count; i++) {
        struct pace_slot *slot = &entry->slots[i];

        if (slot->id == request->slot && !slot->released) {
            slot->released = 1;
            released = 1;
            break;
        }
    }
    return json_pack("{s:b}", "released", released);
}
