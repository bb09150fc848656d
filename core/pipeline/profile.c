#include "pipeline/profile.h"

#include <string.h>

#include "base/log.h"
#include "profile/limits.h"


static char *
identity_key(const char *kind, const char *value)
{
    return g_strconcat(kind, "\n", value, NULL);
}


/* Calls `fn` for every identity an event carries, the visitor id too. */
static void
event_identities(const json_t *event,
                 void (*fn)(const char *kind, const char *value, void *arg),
                 void *arg)
{
    json_t *profile = json_object_get(event, "profile");
    json_t *visitor = json_object_get(event, "visitor");
    const char *kind;
    json_t *v;

    json_object_foreach(profile, kind, v)
        if (json_is_string(v))
            fn(kind, json_string_value(v), arg);
    if (json_is_string(visitor))
        fn("visitor", json_string_value(visitor), arg);
}


/* Returns {"kind": kind, "value": value}. It is built without json_pack,
 * which parses its format on each call, because an import builds two for
 * each identity of each row. */
static json_t *
identity_new(const char *kind, const char *value)
{
    json_t *identity = json_object();

    json_object_set_new_nocheck(identity, "kind", json_string(kind));
    json_object_set_new_nocheck(identity, "value", json_string(value));
    return identity;
}


static void
add_to_request(const char *kind, const char *value, void *arg)
{
    json_array_append_new(arg, identity_new(kind, value));
}


json_t *
profile_identities_of(const json_t *events)
{
    json_t *list = json_array();
    json_t *ids = json_array();
    size_t i;
    json_t *row;

    json_array_foreach(events, i, row) {
        json_t *event = json_object_get(row, "event");
        json_t *id = json_object_get(event, "profile_id");

        event_identities(event, add_to_request, list);
        if (json_is_string(id))
            json_array_append(ids, id);
    }
    return json_pack("{s:o,s:o}", "identities", list, "ids", ids);
}


static void
index_add(struct profile_index *idx, json_t *profile)
{
    json_t *ids = json_object_get(profile, "identities");
    size_t i;
    json_t *id;

    json_array_foreach(ids, i, id) {
        const char *kind = json_string_value(json_object_get(id, "kind"));
        const char *value = json_string_value(json_object_get(id, "value"));

        if (kind && value)
            g_hash_table_insert(idx->by_identity, identity_key(kind, value),
                                profile);
    }
}


void
profile_index_init(struct profile_index *idx, const json_t *loaded)
{
    json_t *list = json_object_get(loaded, "profiles");
    size_t i;
    json_t *p;

    idx->profiles = json_array();
    idx->merges = json_array();
    idx->moved = json_deep_copy(json_object_get(loaded, "moved"));
    if (!json_is_object(idx->moved)) {
        json_decref(idx->moved);
        idx->moved = json_object();
    }
    idx->by_identity = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                             NULL);
    idx->by_id = g_hash_table_new(g_str_hash, g_str_equal);
    json_array_foreach(list, i, p) {
        json_t *copy = json_deep_copy(p);

        json_array_append_new(idx->profiles, copy);
        index_add(idx, copy);
        g_hash_table_insert(idx->by_id, (gpointer) json_string_value(
                                json_object_get(copy, "id")), copy);
    }
}


void
profile_index_clear(struct profile_index *idx)
{
    json_decref(idx->profiles);
    json_decref(idx->merges);
    json_decref(idx->moved);
    g_hash_table_destroy(idx->by_identity);
    g_hash_table_destroy(idx->by_id);
    idx->profiles = NULL;
    idx->merges = NULL;
    idx->moved = NULL;
    idx->by_identity = NULL;
    idx->by_id = NULL;
}


struct resolution {
    struct profile_index *idx;
    json_t *known;              /* owner of a non-visitor identity */
    json_t *anonymous;          /* owner of the visitor id */
};


static void
find_owner(const char *kind, const char *value, void *arg)
{
    struct resolution *r = arg;
    char *key = identity_key(kind, value);
    json_t *owner = g_hash_table_lookup(r->idx->by_identity, key);

    g_free(key);
    if (owner == NULL)
        return;
    if (strcmp(kind, "visitor") == 0) {
        if (r->anonymous == NULL)
            r->anonymous = owner;
    } else if (r->known == NULL) {
        r->known = owner;
    }
}


struct attach {
    struct profile_index *idx;
    json_t *profile;
};


static void
attach_identity(const char *kind, const char *value, void *arg)
{
    struct attach *a = arg;
    char *key = identity_key(kind, value);

    if (g_hash_table_contains(a->idx->by_identity, key)) {
        g_free(key);
        return;
    }
    g_hash_table_insert(a->idx->by_identity, key, a->profile);
    json_array_append_new(json_object_get(a->profile, "identities"),
                          identity_new(kind, value));
    json_object_set_new(a->profile, "_dirty", json_true());
}


/* Writes the low `digits` hex digits of `value` to `out`, lowercase. */
static char *
hex_put(char *out, uint64_t value, int digits)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = digits - 1; i >= 0; i--) {
        out[i] = hex[value & 0xf];
        value >>= 4;
    }
    return out + digits;
}


/*
 * Writes a new profile id in the UUID version 7 layout: 48 bits of
 * milliseconds, then random bits. Ids made later sort later, so the
 * store's indexes grow at one end instead of taking writes all over.
 * The digits are written by hand because an import makes one id per new
 * row, and snprintf showed in perf profiles of bench/profiles.
 */
void
profile_id_new(int64_t now_ms, char buf[37])
{
    uint64_t ms = (uint64_t) now_ms & 0xffffffffffffULL;
    uint32_t r1 = g_random_int(), r2 = g_random_int(), r3 = g_random_int();
    char *p = buf;

    p = hex_put(p, ms >> 16, 8);
    *p++ = '-';
    p = hex_put(p, ms & 0xffff, 4);
    *p++ = '-';
    *p++ = '7';
    p = hex_put(p, r1 & 0xfff, 3);
    *p++ = '-';
    p = hex_put(p, 0x8000 | ((r1 >> 12) & 0x3fff), 4);
    *p++ = '-';
    p = hex_put(p, r2 & 0xffff, 4);
    p = hex_put(p, r3, 8);
    *p = '\0';
}


static json_t *
profile_create(struct profile_index *idx, int64_t now_ms)
{
    char id[37];
    json_t *p;

    profile_id_new(now_ms, id);
    p = json_object();
    json_object_set_new_nocheck(p, "id", json_string_nocheck(id));
    json_object_set_new_nocheck(p, "created", json_integer(now_ms));
    json_object_set_new_nocheck(p, "updated", json_integer(now_ms));
    json_object_set_new_nocheck(p, "attributes", json_object());
    json_object_set_new_nocheck(p, "consent", json_object());
    json_object_set_new_nocheck(p, "identities", json_array());
    json_object_set_new_nocheck(p, "stages", json_object());
    json_object_set_new_nocheck(p, "_dirty", json_true());
    json_object_set_new_nocheck(p, "_new", json_true());

    json_array_append_new(idx->profiles, p);
    g_hash_table_insert(idx->by_id, (gpointer) json_string_value(
                            json_object_get(p, "id")), p);
    return p;
}


/*
 * Applies the event's attribute changes, or none of them when they would
 * take the profile past the limits of profile/limits.h. The rest of the
 * event (identities, consent, related records, rules) still applies.
 */
static void
apply_attributes(json_t *profile, const json_t *event, int64_t seq)
{
    json_t *changes = json_object_get(event, "attributes");
    json_t *attrs = json_object_get(profile, "attributes");
    char reason[160];
    const char *name;
    json_t *v;

    if (profile_attributes_check(attrs, changes, reason,
                                 sizeof(reason)) != 0) {
        log_warn("event attributes ignored: profile too large",
                 "profile=%s seq=%lld reason=\"%s\"",
                 json_string_value(json_object_get(profile, "id")),
                 (long long) seq, reason);
        return;
    }
    json_object_foreach(changes, name, v) {
        if (json_is_null(v))
            json_object_del(attrs, name);
        else
            json_object_set(attrs, name, v);
        json_object_set_new(profile, "_dirty", json_true());
    }
}


/*
 * Merges the anonymous profile into the known one. When the known one was
 * only created in this batch and the anonymous one is stored, the known
 * one merges into the anonymous one instead. The new one has no history
 * yet, and a store can only merge into a profile that it already has.
 */
static void
merge_anonymous(struct profile_index *idx, json_t *anonymous, json_t *known,
                int64_t now_ms)
{
    if (json_is_true(json_object_get(known, "_new")) &&
        !json_is_true(json_object_get(anonymous, "_new")))
        profile_merge(idx, known, anonymous, now_ms);
    else
        profile_merge(idx, anonymous, known, now_ms);
}


/* Returns nonzero when a profile has no identity but visitor ids. */
static int
profile_is_anonymous(const json_t *profile)
{
    json_t *ids = json_object_get(profile, "identities");
    size_t i;
    json_t *id;

    json_array_foreach(ids, i, id)
        if (g_strcmp0(json_string_value(json_object_get(id, "kind")),
                      "visitor") != 0)
            return 0;
    return 1;
}


static void
note_known(const char *kind, const char *value, void *arg)
{
    if (strcmp(kind, "visitor") != 0)
        *(int *) arg = 1;
}


/*
 * Picks the profile for an event. The owner of a known identity wins. A
 * visitor id leads to its owner only while that owner is anonymous, or
 * when the event brings no known identity: a browser shared by two
 * residents must not join the second one to the first. Only an anonymous
 * owner of the visitor id merges into the known profile.
 */
static json_t *
pick_profile(struct profile_index *idx, const json_t *event,
             struct resolution *r, int64_t now_ms)
{
    int has_known = 0;

    event_identities(event, note_known, &has_known);
    if (r->known != NULL) {
        if (r->anonymous != NULL && r->anonymous != r->known &&
            profile_is_anonymous(r->anonymous))
            merge_anonymous(idx, r->anonymous, r->known, now_ms);
        return profile_final(idx, r->known);
    }
    if (r->anonymous != NULL &&
        (!has_known || profile_is_anonymous(r->anonymous)))
        return r->anonymous;
    return profile_create(idx, now_ms);
}


/* Returns the profile that an event addressed by id belongs to, after
 * the merges the store and this batch made, or NULL. */
static json_t *
profile_by_id(struct profile_index *idx, const char *id)
{
    json_t *p = g_hash_table_lookup(idx->by_id, id);
    const char *moved;

    if (p == NULL) {
        moved = json_string_value(json_object_get(idx->moved, id));
        if (moved != NULL)
            p = g_hash_table_lookup(idx->by_id, moved);
    }
    return p != NULL ? profile_final(idx, p) : NULL;
}


json_t *
profile_resolve(struct profile_index *idx, const json_t *event,
                int64_t seq, int64_t now_ms)
{
    struct resolution r = { idx, NULL, NULL };
    struct attach a = { idx, NULL };
    json_t *id = json_object_get(event, "profile_id");

    if (json_is_string(id))
        return profile_by_id(idx, json_string_value(id));
    event_identities(event, find_owner, &r);
    a.profile = pick_profile(idx, event, &r, now_ms);
    event_identities(event, attach_identity, &a);
    apply_attributes(a.profile, event, seq);
    if (json_is_true(json_object_get(a.profile, "_dirty")))
        json_object_set_new(a.profile, "updated", json_integer(now_ms));
    return a.profile;
}


const char *
profile_stage(const json_t *stored, const char *program)
{
    json_t *s = json_object_get(json_object_get(stored, "stages"), program);

    return json_string_value(json_object_get(s, "stage"));
}


const char *
profile_identity(const json_t *stored, const char *kind)
{
    json_t *ids = json_object_get(stored, "identities");
    size_t i;
    json_t *id;

    json_array_foreach(ids, i, id)
        if (g_strcmp0(json_string_value(json_object_get(id, "kind")),
                      kind) == 0)
            return json_string_value(json_object_get(id, "value"));
    return NULL;
}


json_t *
profile_flatten(const json_t *stored)
{
    /* A shallow copy: the view shares the attribute values, which nothing
     * changes in place (apply_attributes replaces a value). Segments
     * flatten each profile of an import again for every row. */
    json_t *flat = json_copy(json_object_get(stored, "attributes"));
    json_t *stages = json_object();
    json_t *ids = json_object_get(stored, "identities");
    const char *program;
    json_t *v;
    size_t i;

    if (!json_is_object(flat)) {
        json_decref(flat);
        flat = json_object();
    }
    /* Identities win over attributes of the same name, and the first
     * identity of a kind wins over later ones: walk backwards. */
    for (i = json_array_size(ids); i-- > 0;) {
        v = json_array_get(ids, i);
        if (json_is_string(json_object_get(v, "kind")))
            json_object_set(flat, json_string_value(json_object_get(v, "kind")),
                            json_object_get(v, "value"));
    }
    json_object_foreach(json_object_get(stored, "stages"), program, v)
        json_object_set(stages, program, json_object_get(v, "stage"));
    json_object_set(flat, "id", json_object_get(stored, "id"));
    json_object_set_new(flat, "stages", stages);
    json_object_set_new(flat, "consent", profile_consent_view(stored));
    profile_related_view(stored, flat);
    return flat;
}
