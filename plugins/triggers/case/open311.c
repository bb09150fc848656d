#include <string.h>

#include <glib.h>

#include <crier/error.h>

#include "case_event.h"
#include "open311.h"


/* Copies member `from` of `src` to `to` of `dst` when it is a non-empty
 * string, or an integer written as a string when `integers` is set. */
static void
member_copy(json_t *dst, const char *to, const json_t *src, const char *from,
            int integers)
{
    const json_t *value = json_object_get(src, from);

    if (json_is_string(value) && json_string_length(value) > 0)
        json_object_set_new(dst, to, json_string(json_string_value(value)));
    else if (integers && json_is_integer(value))
        json_object_set_new(dst, to, case_id_string(value));
}


/* Returns the case as rules see it under event.properties.case. */
static json_t *
open311_case(const json_t *request, const char *case_id, const char *type)
{
    json_t *kase = json_pack("{s:s}", "id", case_id);
    const json_t *extended = json_object_get(request, "extended_attributes");

    member_copy(kase, "service_name", request, "service_name", 0);
    member_copy(kase, "service_code", request, "service_code", 1);
    member_copy(kase, "status", request, "status", 0);
    member_copy(kase, "status_notes", request, "status_notes", 0);
    member_copy(kase, "agency", request, "agency_responsible", 0);
    member_copy(kase, "address", request, "address", 0);
    member_copy(kase, "ward", extended, "ward", 1);
    member_copy(kase, "opened_at", request, "requested_datetime", 0);
    member_copy(kase, "updated_at", request, "updated_datetime", 0);

    /* In GeoReport v2 a closed request's updated_datetime is the time it
     * was closed. */
    if (strcmp(type, CASE_CLOSED) == 0) {
        member_copy(kase, "closed_at", request, "updated_datetime", 0);
        if (json_object_get(kase, "closed_at") == NULL)
            member_copy(kase, "closed_at", request, "requested_datetime", 0);
    }
    member_copy(kase, "description", request, "description", 0);
    return kase;
}


/* Returns the requester's identities: case_id, email and phone. */
static json_t *
open311_profile(const json_t *request, const char *case_id)
{
    json_t *profile = json_pack("{s:s}", "case_id", case_id);
    const json_t *phone = json_object_get(request, "phone");

    member_copy(profile, "email", request, "email", 0);

    /* NOTE: a phone without a leading '+' (312-555-0100) is dropped,
     * because GeoReport v2 leaves the format open, crier needs E.164, and
     * the trigger has no default country to complete a local number. */
    if (json_is_string(phone) && json_string_value(phone)[0] == '+')
        json_object_set_new(profile, "phone",
                            json_string(json_string_value(phone)));
    return profile;
}


int
open311_event_build(const json_t *request, json_t **event,
                    struct crier_input_error *err)
{
    GDateTime *opened = NULL, *updated = NULL;
    const json_t *status, *time;
    json_t *id, *properties, *attributes;
    const char *case_id, *type;
    int closed;

    if (!json_is_object(request))
        return case_reject(err, "", "a service request must be a JSON "
                           "object");
    if (case_id_read(json_object_get(request, "service_request_id"),
                     "service_request_id", "the service request", &id,
                     err) != 0)
        return CRIER_EINVAL;
    if (case_time_parse(json_object_get(request, "requested_datetime"),
                        "requested_datetime", &opened, err) != 0 ||
        case_time_parse(json_object_get(request, "updated_datetime"),
                        "updated_datetime", &updated, err) != 0) {
        case_time_free(opened);
        json_decref(id);
        return CRIER_EINVAL;
    }

    status = json_object_get(request, "status");
    closed = json_is_string(status) &&
             g_ascii_strcasecmp(json_string_value(status), "closed") == 0;
    type = case_type_derive(closed, opened, updated);
    time = updated != NULL ? json_object_get(request, "updated_datetime")
                           : json_object_get(request, "requested_datetime");
    case_time_free(opened);
    case_time_free(updated);

    case_id = json_string_value(id);
    properties = json_pack("{s:o,s:s}", "case",
                           open311_case(request, case_id, type),
                           "source_format", "open311");
    attributes = json_object();
    member_copy(attributes, "first_name", request, "first_name", 0);
    member_copy(attributes, "last_name", request, "last_name", 0);
    *event = case_event_assemble(type, case_id, json_string_value(time),
                                 open311_profile(request, case_id),
                                 properties, attributes);
    json_decref(id);
    return 0;
}


/* A body is a generic case when it has "case" and no Open311 id. */
static int
is_generic(const json_t *item)
{
    return json_object_get(item, "case") != NULL &&
           json_object_get(item, "service_request_id") == NULL;
}


int
case_events_build(const json_t *body, json_t **events,
                  struct crier_input_error *err)
{
    size_t count = json_is_array(body) ? json_array_size(body) : 1;
    json_t *event;

    err->index = -1;
    if (!json_is_object(body) && !json_is_array(body))
        return case_reject(err, "", "the body must be a JSON object or "
                           "array");
    if (json_is_object(body) && !is_generic(body) &&
        json_object_get(body, "service_request_id") == NULL)
        return case_reject(err, "service_request_id", "is missing: send an "
                           "Open311 service request, an array of them, or "
                           "a generic case with a \"case\" object");
    if (count == 0)
        return case_reject(err, "", "the array holds no service requests");

    *events = json_array();
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_is_array(body) ? json_array_get(body, i)
                                                 : body;
        int rc = is_generic(item) ? generic_event_build(item, &event, err)
                                  : open311_event_build(item, &event, err);

        if (rc != 0) {
            if (json_is_array(body))
                err->index = (long) i;
            json_decref(*events);
            *events = NULL;
            return rc;
        }
        json_array_append_new(*events, event);
    }
    return 0;
}
