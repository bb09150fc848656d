#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <crier/error.h>

#include "case_event.h"
#include "open311.h"


/* The members of a generic case body. Any other member is rejected. */
static const char *const generic_members[] = {
    "case", "event", "person", "time", NULL
};


static int
generic_members_check(const json_t *body, struct crier_input_error *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) body, key, value) {
        size_t i = 0;

        while (generic_members[i] != NULL &&
               strcmp(generic_members[i], key) != 0)
            i++;
        if (generic_members[i] == NULL)
            return case_reject(err, key, "is not a member of a generic "
                               "case; use case, event, person and time");
    }
    return 0;
}


/* Returns nonzero when a person's member is an identity rather than an
 * attribute: email, phone, or any key ending in "_id" (case_id). */
static int
person_key_is_identity(const char *key)
{
    size_t len = strlen(key);

    return strcmp(key, "email") == 0 || strcmp(key, "phone") == 0 ||
           (len > 3 && strcmp(key + len - 3, "_id") == 0);
}


/*
 * Splits a generic case's person into profile identities and profile
 * attributes. The profile gets case_id = the case's id unless the person
 * names one.
 */
static int
person_split(const json_t *person, const char *case_id, json_t **profile,
             json_t **attributes, struct crier_input_error *err)
{
    const char *key;
    json_t *value;
    char field[96];

    *profile = NULL;
    *attributes = NULL;
    if (person != NULL && !json_is_object(person))
        return case_reject(err, "person", "must be an object such as "
                           "{\"email\": \"ana@example.gov\"}");
    *profile = json_object();
    *attributes = json_object();
    json_object_foreach((json_t *) person, key, value) {
        json_t *identity;

        /* A null attribute removes it from the profile, but a null
         * identity is left out. */
        if (!person_key_is_identity(key)) {
            json_object_set(*attributes, key, value);
            continue;
        }
        if (json_is_null(value))
            continue;
        identity = case_id_string(value);
        if (identity == NULL) {
            snprintf(field, sizeof(field), "person.%s", key);
            json_decref(*profile);
            json_decref(*attributes);
            return case_reject(err, field, "must be a non-empty string");
        }
        json_object_set_new(*profile, key, identity);
    }
    if (json_object_get(*profile, "case_id") == NULL)
        json_object_set_new(*profile, "case_id", json_string(case_id));
    return 0;
}


/* Times of a generic case, parsed for the type and the event time. */
struct generic_times {
    GDateTime *opened;
    GDateTime *closed;
    GDateTime *changed;     /* the body's "time" */
};


static int
generic_times_parse(const json_t *body, const json_t *kase,
                    struct generic_times *times,
                    struct crier_input_error *err)
{
    memset(times, 0, sizeof(*times));
    if (case_time_parse(json_object_get(kase, "opened_at"),
                        "case.opened_at", &times->opened, err) == 0 &&
        case_time_parse(json_object_get(kase, "closed_at"),
                        "case.closed_at", &times->closed, err) == 0 &&
        case_time_parse(json_object_get(body, "time"), "time",
                        &times->changed, err) == 0)
        return 0;
    case_time_free(times->opened);
    case_time_free(times->closed);
    return CRIER_EINVAL;
}


/* Takes the type from "event", or derives it as for Open311 when the
 * body has none. */
static int
generic_type(const json_t *body, const json_t *kase,
             const struct generic_times *times, const char **type,
             struct crier_input_error *err)
{
    static const char *const types[] = {
        CASE_OPENED, CASE_UPDATED, CASE_CLOSED, NULL
    };
    const json_t *event = json_object_get(body, "event");
    const json_t *status = json_object_get(kase, "status");
    int closed;

    *type = NULL;
    if (event == NULL) {
        closed = times->closed != NULL ||
                 (json_is_string(status) &&
                  g_ascii_strcasecmp(json_string_value(status),
                                     "closed") == 0);
        *type = case_type_derive(closed, times->opened, times->changed);
        return 0;
    }
    for (size_t i = 0; json_is_string(event) && types[i] != NULL; i++) {
        if (strcmp(json_string_value(event), types[i]) == 0) {
            *type = types[i];
            return 0;
        }
    }
    return case_reject(err, "event", "must be case.opened, case.updated "
                       "or case.closed");
}


/* Returns the event time: the body's "time", else the case's closing or
 * opening time for those types, else NULL (the core then uses now). */
static const char *
generic_time(const json_t *body, const json_t *kase, const char *type)
{
    const json_t *time = json_object_get(body, "time");

    if (json_is_string(time))
        return json_string_value(time);
    if (strcmp(type, CASE_CLOSED) == 0)
        time = json_object_get(kase, "closed_at");
    else if (strcmp(type, CASE_OPENED) == 0)
        time = json_object_get(kase, "opened_at");
    return json_is_string(time) ? json_string_value(time) : NULL;
}


int
generic_event_build(const json_t *body, json_t **event,
                    struct crier_input_error *err)
{
    const json_t *kase = json_object_get(body, "case");
    struct generic_times times;
    json_t *id, *copy, *profile, *properties, *attributes;
    const char *type;
    int rc;

    if (!json_is_object(body))
        return case_reject(err, "", "a generic case must be a JSON object");
    if ((rc = generic_members_check(body, err)) != 0)
        return rc;
    if (!json_is_object(kase))
        return case_reject(err, "case", "must be an object such as "
                           "{\"id\": \"C-1042\", \"status\": \"open\"}");
    rc = case_id_read(json_object_get(kase, "id"), "case.id", "the case",
                      &id, err);
    if (rc != 0)
        return rc;
    if ((rc = generic_times_parse(body, kase, &times, err)) == 0) {
        rc = generic_type(body, kase, &times, &type, err);
        case_time_free(times.opened);
        case_time_free(times.closed);
        case_time_free(times.changed);
    }
    if (rc == 0)
        rc = person_split(json_object_get(body, "person"),
                          json_string_value(id), &profile, &attributes, err);
    if (rc != 0) {
        json_decref(id);
        return rc;
    }

    /* The case goes to properties as sent, with its id as a string. */
    copy = json_deep_copy(kase);
    json_object_set(copy, "id", id);
    properties = json_pack("{s:o,s:s}", "case", copy, "source_format",
                           "generic");
    *event = case_event_assemble(type, json_string_value(id),
                                 generic_time(body, kase, type), profile,
                                 properties, attributes);
    json_decref(id);
    return 0;
}
