#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "case_event.h"


int
case_reject(struct crier_input_error *err, const char *field,
            const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", message);
    return CRIER_EINVAL;
}


json_t *
case_id_string(const json_t *value)
{
    char digits[32];

    if (json_is_string(value) && json_string_length(value) > 0)
        return json_string(json_string_value(value));
    if (json_is_integer(value)) {
        snprintf(digits, sizeof(digits), "%lld",
                 (long long) json_integer_value(value));
        return json_string(digits);
    }
    return NULL;
}


int
case_id_read(const json_t *value, const char *field, const char *purpose,
             json_t **id, struct crier_input_error *err)
{
    char message[sizeof(err->message)];

    *id = NULL;
    if (value == NULL || json_is_null(value)) {
        snprintf(message, sizeof(message), "is required: the string or "
                 "whole number that identifies %s", purpose);
        return case_reject(err, field, message);
    }
    *id = case_id_string(value);
    if (*id == NULL)
        return case_reject(err, field, "must be a non-empty string or a "
                           "whole number");
    return 0;
}


/* Seconds since the epoch of 0001-01-01T00:00:00Z and
 * 9999-12-31T23:59:59Z, the instants RFC 3339 can write in UTC. */
#define CASE_TIME_MIN_S INT64_C(-62135596800)
#define CASE_TIME_MAX_S INT64_C(253402300799)


/* Returns 1 when `when`, parsed from `text`, is a time the core stores:
 * second 60 at most (a leap second) and years 0001 to 9999 in UTC. */
static int
case_time_in_range(const char *text, GDateTime *when)
{
    int second = (text[17] - '0') * 10 + (text[18] - '0');
    int64_t unix_s = g_date_time_to_unix(when);

    return second <= 60 && unix_s >= CASE_TIME_MIN_S &&
           unix_s <= CASE_TIME_MAX_S;
}


int
case_time_parse(const json_t *value, const char *field, GDateTime **when,
                struct crier_input_error *err)
{
    const char *text;

    *when = NULL;
    if (value == NULL || json_is_null(value))
        return 0;

    /* GLib also takes ISO 8601 forms without the 'T' or without an
     * offset (it returns NULL for the latter when given no zone), so the
     * 'T' is checked here. */
    if (json_is_string(value)) {
        text = json_string_value(value);
        if (strlen(text) >= 20 && (text[10] == 'T' || text[10] == 't'))
            *when = g_date_time_new_from_iso8601(text, NULL);
        if (*when != NULL && !case_time_in_range(text, *when)) {
            g_date_time_unref(*when);
            *when = NULL;
        }
    }
    if (*when == NULL)
        return case_reject(err, field, "must be an RFC 3339 time with an "
                           "offset from 0001-01-01T00:00:00Z to "
                           "9999-12-31T23:59:59Z, such as "
                           "2014-05-09T19:02:21-05:00");
    return 0;
}


void
case_time_free(GDateTime *when)
{
    if (when != NULL)
        g_date_time_unref(when);
}


const char *
case_type_derive(int closed, GDateTime *opened, GDateTime *changed)
{
    if (closed)
        return CASE_CLOSED;
    if (changed == NULL ||
        (opened != NULL && g_date_time_compare(opened, changed) == 0))
        return CASE_OPENED;
    return CASE_UPDATED;
}


json_t *
case_event_assemble(const char *type, const char *case_id, const char *time,
                    json_t *profile, json_t *properties, json_t *attributes)
{
    json_t *event = json_pack("{s:s,s:o,s:o}", "type", type, "profile",
                              profile, "properties", properties);
    char *id = NULL;

    /* Two updates of one case can share a timestamp to the second, so the
     * id also carries a digest of what the case says: a retried webhook
     * repeats its id, a different change at the same second does not. */
    if (time != NULL) {
        char *text = json_dumps(properties, JSON_COMPACT | JSON_SORT_KEYS);
        char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                     text ? text : "", -1);

        id = g_strdup_printf("%s/%s/%s/%.12s", case_id, type, time, digest);
        g_free(digest);
        free(text);
    }
    else if (strcmp(type, CASE_UPDATED) != 0)
        id = g_strdup_printf("%s/%s", case_id, type);
    if (id != NULL)
        json_object_set_new(event, "id", json_string(id));
    if (time != NULL)
        json_object_set_new(event, "time", json_string(time));
    if (json_object_size(attributes) > 0)
        json_object_set(event, "attributes", attributes);
    json_decref(attributes);
    g_free(id);
    return event;
}
