/* Merging an anonymous profile into a known one, inside a batch. */
#include "pipeline/profile.h"

#include <string.h>


static void
move_identities(struct profile_index *idx, json_t *from, json_t *into)
{
    json_t *ids = json_object_get(from, "identities");
    json_t *target = json_object_get(into, "identities");
    size_t i;
    json_t *id;

    json_array_foreach(ids, i, id) {
        const char *kind = json_string_value(json_object_get(id, "kind"));
        const char *value = json_string_value(json_object_get(id, "value"));

        if (kind == NULL || value == NULL)
            continue;
        json_array_append(target, id);
        g_hash_table_insert(idx->by_identity,
                            g_strconcat(kind, "\n", value, NULL), into);
    }
    json_array_clear(ids);
}


/* Attributes of `from` fill only the names `into` lacks, so the known
 * profile's values win. */
static void
fill_attributes(json_t *from, json_t *into)
{
    json_t *target = json_object_get(into, "attributes");
    const char *name;
    json_t *v;

    json_object_foreach(json_object_get(from, "attributes"), name, v)
        if (json_object_get(target, name) == NULL)
            json_object_set(target, name, v);
}


/* Moves the stages of programs `into` has none in; returns their names. */
static json_t *
fill_stages(json_t *from, json_t *into)
{
    json_t *target = json_object_get(into, "stages");
    json_t *moved = json_array();
    const char *program;
    json_t *v;

    json_object_foreach(json_object_get(from, "stages"), program, v) {
        if (json_object_get(target, program) != NULL)
            continue;
        json_object_set(target, program, v);
        json_array_append_new(moved, json_string(program));
    }
    return moved;
}


void
profile_merge(struct profile_index *idx, json_t *from, json_t *into,
              int64_t now_ms)
{
    json_t *moved;

    move_identities(idx, from, into);
    fill_attributes(from, into);
    profile_consent_merge(into, from);
    profile_related_merge(into, from);
    moved = fill_stages(from, into);
    json_array_append_new(idx->merges,
                          json_pack("{s:O,s:O,s:I,s:o}", "from",
                                    json_object_get(from, "id"), "into",
                                    json_object_get(into, "id"), "time",
                                    (json_int_t) now_ms, "programs", moved));
    json_object_set(from, "_merged_into", json_object_get(into, "id"));
    json_object_del(from, "_dirty");
    json_object_set_new(into, "_dirty", json_true());
    json_object_set_new(into, "updated", json_integer(now_ms));
}


json_t *
profile_final(struct profile_index *idx, json_t *profile)
{
    /* Chains are short: one merge per event at most. */
    for (int hops = 0; hops < 64 && profile != NULL; hops++) {
        const char *into = json_string_value(json_object_get(profile,
                                                             "_merged_into"));

        if (into == NULL)
            return profile;
        profile = g_hash_table_lookup(idx->by_id, into);
    }
    return profile;
}
