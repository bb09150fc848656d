/*
 * Requests that read profiles by id (profiles_load's "ids" and
 * profiles_scan) and the events a commit batch appends, parsed alike by
 * both stores.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


static void
batch_event_clear(struct batch_event *event)
{
    free(event->source);
    free(event->type);
    free(event->body);
    memset(event, 0, sizeof(*event));
}


/* Copies a required non-empty string member into *out. */
static int
required_string(const json_t *json, const char *key, char **out)
{
    json_t *value = json_object_get(json, key);

    *out = NULL;
    if (!json_is_string(value) || json_string_length(value) == 0)
        return CRIER_EINVAL;
    *out = strdup(json_string_value(value));
    return *out == NULL ? CRIER_ENOMEM : 0;
}


static int
batch_event_parse(const json_t *json, struct batch_event *out)
{
    json_t *time = json_object_get(json, "time");
    json_t *body = json_object_get(json, "event");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_integer(time) ||
        !json_is_object(body))
        return CRIER_EINVAL;
    out->time = json_integer_value(time);
    rc = required_string(json, "source", &out->source);
    if (rc == 0)
        rc = required_string(json, "type", &out->type);
    if (rc == 0) {
        out->body = json_dumps(body, JSON_COMPACT);
        rc = out->body == NULL ? CRIER_ENOMEM : 0;
    }
    if (rc < 0)
        batch_event_clear(out);
    return rc;
}


static int
batch_event_parse_item(const json_t *json, void *item)
{
    return batch_event_parse(json, item);
}


int
batch_events_parse(const json_t *json, struct batch_event **events,
                   size_t *count)
{
    void *items;
    int rc = batch_array_parse(json, "events", sizeof(**events),
                               batch_event_parse_item, &items, count);

    *events = items;
    return rc;
}


void
batch_events_clear(struct batch_event *events, size_t count)
{
    for (size_t i = 0; i < count; i++)
        batch_event_clear(&events[i]);
    free(events);
}


/* Parses the optional "ids" of a profiles_load request: an array of
 * non-empty strings. */
static int
lookup_ids_parse(const json_t *json, struct profile_lookup *out)
{
    json_t *array = json_object_get(json, "ids");
    json_t *value;
    size_t i;

    if (array == NULL || json_is_null(array))
        return 0;
    if (!json_is_array(array))
        return CRIER_EINVAL;
    out->ids = calloc(json_array_size(array) + 1, sizeof(*out->ids));
    if (out->ids == NULL)
        return CRIER_ENOMEM;
    json_array_foreach(array, i, value) {
        if (!json_is_string(value) || json_string_length(value) == 0)
            return CRIER_EINVAL;
        out->ids[i] = strdup(json_string_value(value));
        if (out->ids[i] == NULL)
            return CRIER_ENOMEM;
        out->id_count++;
    }
    return 0;
}


int
profile_lookup_parse(const json_t *json, struct profile_lookup *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = identities_parse(json, &out->identities);
    if (rc == 0)
        rc = lookup_ids_parse(json, out);
    if (rc < 0)
        profile_lookup_clear(out);
    return rc;
}


void
profile_lookup_clear(struct profile_lookup *lookup)
{
    identities_clear(&lookup->identities);
    for (size_t i = 0; i < lookup->id_count; i++)
        free(lookup->ids[i]);
    free(lookup->ids);
    memset(lookup, 0, sizeof(*lookup));
}


int
scan_parse(const json_t *json, struct scan_request *out)
{
    json_t *limit = json_object_get(json, "limit");
    json_t *after = json_object_get(json, "after");

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    out->limit = SCAN_LIMIT_DEFAULT;
    if (limit != NULL && !json_is_null(limit)) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
            json_integer_value(limit) > SCAN_LIMIT_MAX)
            return CRIER_EINVAL;
        out->limit = (size_t) json_integer_value(limit);
    }
    if (after == NULL || json_is_null(after))
        return 0;
    if (!json_is_string(after) || json_string_length(after) == 0)
        return CRIER_EINVAL;
    out->after = strdup(json_string_value(after));
    return out->after == NULL ? CRIER_ENOMEM : 0;
}


void
scan_clear(struct scan_request *request)
{
    free(request->after);
    memset(request, 0, sizeof(*request));
}
