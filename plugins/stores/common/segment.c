/*
 * Segment membership: the changes of a commit batch and the
 * segment_count and segment_members requests, parsed and answered alike
 * by both stores.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


static int
string_member(const json_t *json, const char *key, int required,
              char **out)
{
    json_t *value = json_object_get(json, key);

    *out = NULL;
    if (value == NULL || json_is_null(value))
        return required ? CRIER_EINVAL : 0;
    if (!json_is_string(value) || json_string_length(value) == 0)
        return CRIER_EINVAL;
    *out = strdup(json_string_value(value));
    return *out == NULL ? CRIER_ENOMEM : 0;
}


static void
segment_change_clear(struct segment_change *change)
{
    free(change->segment);
    free(change->profile);
    memset(change, 0, sizeof(*change));
}


static int
segment_change_parse(const json_t *json, struct segment_change *out)
{
    json_t *member = json_object_get(json, "member");
    json_t *time = json_object_get(json, "time");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_boolean(member) ||
        !json_is_integer(time))
        return CRIER_EINVAL;
    out->member = json_is_true(member);
    out->time = json_integer_value(time);
    rc = string_member(json, "segment", 1, &out->segment);
    if (rc == 0)
        rc = string_member(json, "profile", 1, &out->profile);
    if (rc < 0)
        segment_change_clear(out);
    return rc;
}


static int
segment_change_parse_item(const json_t *json, void *item)
{
    return segment_change_parse(json, item);
}


int
segment_changes_parse(const json_t *json, struct segment_change **changes,
                      size_t *count)
{
    void *items;
    int rc = batch_array_parse(json, "segments", sizeof(**changes),
                               segment_change_parse_item, &items, count);

    *changes = items;
    return rc;
}


void
segment_changes_clear(struct segment_change *changes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        segment_change_clear(&changes[i]);
    free(changes);
}


int
segment_query_parse(const json_t *json, struct segment_query *out)
{
    json_t *limit = json_object_get(json, "limit");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    out->limit = SEGMENT_MEMBERS_DEFAULT;
    if (limit != NULL && !json_is_null(limit)) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
            json_integer_value(limit) > SEGMENT_MEMBERS_MAX)
            return CRIER_EINVAL;
        out->limit = (size_t) json_integer_value(limit);
    }
    rc = string_member(json, "segment", 1, &out->segment);
    if (rc == 0)
        rc = string_member(json, "after", 0, &out->after);
    if (rc < 0)
        segment_query_clear(out);
    return rc;
}


void
segment_query_clear(struct segment_query *query)
{
    free(query->segment);
    free(query->after);
    memset(query, 0, sizeof(*query));
}


json_t *
segment_member_json(const char *profile, int64_t since)
{
    return json_pack("{s:s,s:I}", "profile", profile, "since",
                     (json_int_t) since);
}


json_t *
segment_members_result(json_t *members, const char *next)
{
    return json_pack("{s:o,s:s?}", "members", members, "next", next);
}
