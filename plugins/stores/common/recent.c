/*
 * events_recent requests and results, shared by both stores. The
 * pipeline reads a profile's recent events with it when an expression
 * counts past events (count() in docs/expressions.md).
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


void
recent_clear(struct recent_request *request)
{
    for (size_t i = 0; i < request->profile_count; i++)
        free(request->profiles[i]);
    free(request->profiles);
    memset(request, 0, sizeof(*request));
}


/* Copies the non-empty strings of the `profiles` array. */
static int
recent_profiles_parse(const json_t *array, struct recent_request *out)
{
    const json_t *value;
    size_t i;

    if (!json_is_array(array) || json_array_size(array) == 0 ||
        json_array_size(array) > EVENTS_RECENT_PROFILES_MAX)
        return CRIER_EINVAL;
    out->profiles = calloc(json_array_size(array), sizeof(char *));
    if (out->profiles == NULL)
        return CRIER_ENOMEM;
    json_array_foreach(array, i, value) {
        if (!json_is_string(value) || json_string_length(value) == 0)
            return CRIER_EINVAL;
        out->profiles[i] = strdup(json_string_value(value));
        if (out->profiles[i] == NULL)
            return CRIER_ENOMEM;
        out->profile_count++;
    }
    return 0;
}


int
recent_parse(const json_t *json, struct recent_request *out)
{
    json_t *since = json_object_get(json, "since");
    json_t *limit = json_object_get(json, "limit");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_integer(since))
        return CRIER_EINVAL;
    out->since = json_integer_value(since);
    out->limit = EVENTS_RECENT_LIMIT_MAX;
    if (limit != NULL && !json_is_null(limit)) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
            json_integer_value(limit) > EVENTS_RECENT_LIMIT_MAX)
            return CRIER_EINVAL;
        out->limit = (size_t) json_integer_value(limit);
    }
    rc = recent_profiles_parse(json_object_get(json, "profiles"), out);
    if (rc < 0)
        recent_clear(out);
    return rc;
}


json_t *
recent_result_new(const struct recent_request *request)
{
    json_t *profiles = json_object();
    json_t *result = json_pack("{s:o}", "profiles", profiles);

    for (size_t i = 0; result != NULL && i < request->profile_count; i++) {
        if (json_object_set_new(profiles, request->profiles[i],
                                json_array()) < 0) {
            json_decref(result);
            result = NULL;
        }
    }
    return result;
}
