/*
 * Journey places: the "journeys" member of a commit batch and the
 * journeys_read and journeys_due requests, parsed alike by both stores.
 * docs/internals/store.md defines every member.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


void
journey_row_clear(struct journey_row *row)
{
    free(row->journey);
    free(row->profile);
    free(row->step);
    free(row->state);
    free(row->items);
    memset(row, 0, sizeof(*row));
}


int
journey_row_copy(const struct journey_row *row, struct journey_row *copy)
{
    *copy = *row;
    copy->journey = strdup(row->journey);
    copy->profile = strdup(row->profile);
    copy->step = strdup(row->step);
    copy->state = strdup(row->state);
    copy->items = row->items != NULL ? strdup(row->items) : NULL;
    if (copy->journey == NULL || copy->profile == NULL ||
        copy->step == NULL || copy->state == NULL ||
        (row->items != NULL && copy->items == NULL)) {
        journey_row_clear(copy);
        return CRIER_ENOMEM;
    }
    return 0;
}


/* Keeps the optional "items" array of a row as compact JSON text. */
static int
items_member(const json_t *json, char **out)
{
    json_t *items = json_object_get(json, "items");

    *out = NULL;
    if (items == NULL || json_is_null(items))
        return 0;
    if (!json_is_array(items))
        return CRIER_EINVAL;
    *out = json_dumps(items, JSON_COMPACT);
    return *out == NULL ? CRIER_ENOMEM : 0;
}


/* Reads one row; `state` must be "active" or "ended". */
static int
row_parse(const json_t *json, struct journey_row *out)
{
    json_t *entry = json_object_get(json, "entry");
    json_t *due = json_object_get(json, "due");
    json_t *since = json_object_get(json, "since");
    json_t *updated = json_object_get(json, "updated");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_integer(entry) ||
        !json_is_integer(since) || !json_is_integer(updated) ||
        (due != NULL && !json_is_null(due) && !json_is_integer(due)))
        return CRIER_EINVAL;
    rc = member_text(json, "journey", 1, &out->journey);
    if (rc == 0)
        rc = member_text(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_text(json, "step", 1, &out->step);
    if (rc == 0)
        rc = member_text(json, "state", 1, &out->state);
    if (rc == 0)
        rc = items_member(json, &out->items);
    if (rc == 0 && strcmp(out->state, "active") != 0 &&
        strcmp(out->state, "ended") != 0)
        rc = CRIER_EINVAL;
    out->entry = json_integer_value(entry);
    out->since = json_integer_value(since);
    out->updated = json_integer_value(updated);
    out->has_due = json_is_integer(due);
    out->due = json_integer_value(due);
    out->wake = json_is_true(json_object_get(json, "wake"));
    if (rc < 0)
        journey_row_clear(out);
    return rc;
}


int
journey_rows_parse(const json_t *json, struct journey_row **rows,
                   size_t *count)
{
    json_t *array = json_object_get(json, "journeys");
    size_t i;
    json_t *item;

    *rows = NULL;
    *count = 0;
    if (array == NULL)
        return 0;
    if (!json_is_array(array))
        return CRIER_EINVAL;
    if (json_array_size(array) == 0)
        return 0;
    *rows = calloc(json_array_size(array), sizeof(**rows));
    if (*rows == NULL)
        return CRIER_ENOMEM;
    json_array_foreach(array, i, item) {
        int rc = row_parse(item, &(*rows)[i]);

        if (rc < 0) {
            journey_rows_clear(*rows, *count);
            *rows = NULL;
            *count = 0;
            return rc;
        }
        (*count)++;
    }
    return 0;
}


void
journey_rows_clear(struct journey_row *rows, size_t count)
{
    for (size_t i = 0; i < count; i++)
        journey_row_clear(&rows[i]);
    free(rows);
}


int
journeys_read_parse(const json_t *json, struct journeys_read *out)
{
    json_t *profiles = json_object_get(json, "profiles");
    size_t i;
    json_t *id;

    memset(out, 0, sizeof(*out));
    if (!json_is_array(profiles) ||
        json_array_size(profiles) > JOURNEYS_READ_MAX)
        return CRIER_EINVAL;
    out->ids = calloc(json_array_size(profiles) + 1, sizeof(char *));
    if (out->ids == NULL)
        return CRIER_ENOMEM;
    json_array_foreach(profiles, i, id) {
        if (!json_is_string(id)) {
            journeys_read_clear(out);
            return CRIER_EINVAL;
        }
        out->ids[out->count] = strdup(json_string_value(id));
        if (out->ids[out->count++] == NULL) {
            journeys_read_clear(out);
            return CRIER_ENOMEM;
        }
    }
    return 0;
}


void
journeys_read_clear(struct journeys_read *read)
{
    for (size_t i = 0; read->ids != NULL && i < read->count; i++)
        free(read->ids[i]);
    free(read->ids);
    memset(read, 0, sizeof(*read));
}


int
journeys_due_parse(const json_t *json, struct journeys_due *out)
{
    json_t *now = json_object_get(json, "now");
    json_t *limit = json_object_get(json, "limit");
    json_t *lease = json_object_get(json, "lease_ms");

    memset(out, 0, sizeof(*out));
    if (!json_is_integer(now) || !json_is_integer(limit) ||
        json_integer_value(limit) < 1 ||
        json_integer_value(limit) > JOURNEYS_DUE_MAX)
        return CRIER_EINVAL;
    out->now = json_integer_value(now);
    out->limit = (size_t) json_integer_value(limit);
    if (lease != NULL && !json_is_null(lease)) {
        if (!json_is_integer(lease) || json_integer_value(lease) < 1)
            return CRIER_EINVAL;
        out->lease_ms = json_integer_value(lease);
    }
    return 0;
}


json_t *
journey_row_json(const struct journey_row *row)
{
    json_t *json = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:I}",
                             "journey", row->journey,
                             "profile", row->profile,
                             "entry", (json_int_t) row->entry,
                             "step", row->step, "state", row->state,
                             "since", (json_int_t) row->since,
                             "updated", (json_int_t) row->updated);

    if (json != NULL)
        json_object_set_new(json, "due", row->has_due
                            ? json_integer(row->due) : json_null());
    if (json != NULL && row->items != NULL)
        json_object_set_new(json, "items", json_loads(row->items, 0, NULL));
    return json;
}


int
journey_row_wakes(const struct journey_row *stored,
                  const struct journey_row *wake)
{
    return strcmp(stored->state, "active") == 0 && stored->has_due &&
           wake->has_due && stored->due == wake->due &&
           stored->entry == wake->entry &&
           strcmp(stored->step, wake->step) == 0;
}
