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
profile_attributes_check(const json_t *attrs, const json_t *changes,
                         char *reason, size_t reason_size)
{
    json_t *after;
    size_t before_count = json_object_size(attrs);
    size_t after_count, after_bytes;
    const char *name;
    json_t *value;
    int rc = 0;

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
    after_count = json_object_size(after);
    if (after_count > PROFILE_ATTRIBUTES_MAX && after_count > before_count) {
        snprintf(reason, reason_size, "the profile would have %zu "
                 "attributes, more than the maximum of %d", after_count,
                 PROFILE_ATTRIBUTES_MAX);
        rc = -1;
    }
    after_bytes = rc == 0 ? compact_size(after) : 0;
    if (after_bytes > PROFILE_ATTRIBUTES_BYTES_MAX &&
        (!json_is_object(attrs) || after_bytes > compact_size(attrs))) {
        snprintf(reason, reason_size, "the profile's attributes would be "
                 "%zu bytes as compact JSON, more than the maximum of %d",
                 after_bytes, PROFILE_ATTRIBUTES_BYTES_MAX);
        rc = -1;
    }
    json_decref(after);
    return rc;
}
