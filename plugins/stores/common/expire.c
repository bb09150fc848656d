/*
 * events_expire requests: parsing, type matching and the result, shared
 * by both stores so that they accept and match the same requests.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


static void
names_free(char **names, size_t count)
{
    size_t i;

    for (i = 0; i < count; i++)
        free(names[i]);
    free(names);
}


/*
 * Copies the optional array member `key` of non-empty strings into
 * *names and its compact JSON text into *text ("[]" when absent).
 */
static int
names_parse(const json_t *json, const char *key, char ***names,
            size_t *count, char **text)
{
    json_t *array = json_object_get(json, key);
    json_t *value;
    size_t i;

    *names = NULL;
    *count = 0;
    *text = NULL;
    if (array != NULL && !json_is_null(array) && !json_is_array(array))
        return CRIER_EINVAL;
    if (array == NULL || json_is_null(array) || json_array_size(array) == 0) {
        *text = strdup("[]");
        return *text == NULL ? CRIER_ENOMEM : 0;
    }
    json_array_foreach(array, i, value) {
        if (!json_is_string(value) || json_string_length(value) == 0)
            return CRIER_EINVAL;
    }
    *names = calloc(json_array_size(array), sizeof(**names));
    if (*names == NULL)
        return CRIER_ENOMEM;
    json_array_foreach(array, i, value) {
        (*names)[i] = strdup(json_string_value(value));
        if ((*names)[i] == NULL)
            return CRIER_ENOMEM;
        (*count)++;
    }
    *text = json_dumps(array, JSON_COMPACT);
    return *text == NULL ? CRIER_ENOMEM : 0;
}


/* Reads the required integer member `key`, which must lie in [min, max]. */
static int
integer_parse(const json_t *json, const char *key, int64_t min, int64_t max,
              int64_t *out)
{
    json_t *value = json_object_get(json, key);

    if (!json_is_integer(value))
        return CRIER_EINVAL;
    *out = json_integer_value(value);
    return *out < min || *out > max ? CRIER_EINVAL : 0;
}


/*
 * Parses {"types": [...], "prefixes": [...], "before": T, "limit": N,
 * "cursor": "pipeline"}. `before`, `limit` (1 to EXPIRE_LIMIT_MAX) and
 * `cursor` are required, and the lists are optional.
 */
int
expire_parse(const json_t *json, struct expire_request *out)
{
    json_t *cursor = json_object_get(json, "cursor");
    int64_t limit = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = names_parse(json, "types", &out->types, &out->type_count,
                     &out->types_json);
    if (rc == 0)
        rc = names_parse(json, "prefixes", &out->prefixes,
                         &out->prefix_count, &out->prefixes_json);
    if (rc == 0)
        rc = integer_parse(json, "before", INT64_MIN, INT64_MAX,
                           &out->before);
    if (rc == 0)
        rc = integer_parse(json, "limit", 1, EXPIRE_LIMIT_MAX, &limit);
    if (rc == 0 && (!json_is_string(cursor)
                    || json_string_length(cursor) == 0))
        rc = CRIER_EINVAL;
    if (rc == 0) {
        out->cursor = strdup(json_string_value(cursor));
        if (out->cursor == NULL)
            rc = CRIER_ENOMEM;
    }
    out->limit = (size_t)limit;
    if (rc < 0)
        expire_clear(out);
    return rc;
}


void
expire_clear(struct expire_request *request)
{
    names_free(request->types, request->type_count);
    names_free(request->prefixes, request->prefix_count);
    free(request->types_json);
    free(request->prefixes_json);
    free(request->cursor);
    memset(request, 0, sizeof(*request));
}


int
expire_matches(const struct expire_request *request, const char *type)
{
    size_t i;

    for (i = 0; i < request->type_count; i++) {
        if (strcmp(type, request->types[i]) == 0)
            return 1;
    }
    for (i = 0; i < request->prefix_count; i++) {
        const char *prefix = request->prefixes[i];

        if (strncmp(type, prefix, strlen(prefix)) == 0)
            return 1;
    }
    return 0;
}


json_t *
expire_result(int64_t deleted)
{
    return json_pack("{s:I}", "deleted", (json_int_t)deleted);
}
