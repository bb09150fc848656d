/* Limits on the attributes of one profile; see limits.h. */
#include <stdio.h>

#include "profile/limits.h"


/* Returns the size of `value` as compact JSON, without writing it. */
static size_t
compact_size(const json_t *value)
{
    return json_dumpb(value, NULL, 0, JSON_COMPACT);
}


int
profile_attributes_within(const json_t *before, const json_t *after,
                          char *reason, size_t reason_size)
{
    size_t before_count = json_object_size(before);
    size_t after_count = json_object_size(after);
    size_t after_bytes;

    if (after_count > PROFILE_ATTRIBUTES_MAX && after_count > before_count) {
        snprintf(reason, reason_size, "the profile would have %zu "
                 "attributes, more than the maximum of %d", after_count,
                 PROFILE_ATTRIBUTES_MAX);
        return -1;
    }
    after_bytes = compact_size(after);
    if (after_bytes > PROFILE_ATTRIBUTES_BYTES_MAX &&
        (!json_is_object(before) || after_bytes > compact_size(before))) {
        snprintf(reason, reason_size, "the profile's attributes would be "
                 "%zu bytes as compact JSON, more than the maximum of %d",
                 after_bytes, PROFILE_ATTRIBUTES_BYTES_MAX);
        return -1;
    }
    return 0;
}


int
profile_attributes_check(const json_t *attrs, const json_t *changes,
                         char *reason, size_t reason_size)
{
    json_t *after;
    const char *name;
    json_t *value;
    int rc;

    if (json_object_size(changes) == 0)
        return 0;

    /* A shallow copy: the values are shared, only the names are new. */
    after = json_is_object(attrs) ? json_copy((json_t *) attrs)
                                  : json_object();
    json_object_foreach((json_t *) changes, name, value) {
        if (json_is_null(value))
            json_object_del(after, name);
        else
            json_object_set(after, name, value);
    }
    rc = profile_attributes_within(attrs, after, reason, reason_size);
    json_decref(after);
    return rc;
}
