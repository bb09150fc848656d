#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "case_event.h"
#include "mapping.h"
#include "pointer.h"

/* The keys of `mapping` whose value is one JSON Pointer. */
static const char *const pointer_keys[] = {
    "id", "status", "opened", "updated", "closed", "type", "outcome",
    "email", "phone", NULL
};

/* The event types that `statuses` maps to, by their key there. */
static const struct {
    const char *key;
    const char *type;
} status_types[] = {
    {"opened", CASE_OPENED},
    {"updated", CASE_UPDATED},
    {"closed", CASE_CLOSED},
};

#define STATUS_TYPE_COUNT (sizeof(status_types) / sizeof(status_types[0]))

struct case_mapping {
    json_t *pointers;       /* {"id": "/case/number", ...} */
    json_t *statuses;       /* {"their value": "case.closed", ...} */
    json_t *attributes;     /* {"first_name": "/applicant/name", ...} */
    json_t *fields;         /* {"priority": "/case/priority", ...} */
};

/* The state of one config read, for error messages. */
struct mapping_reader {
    struct crier_ctx *ctx;
    const struct crier_host *host;
};


/* Checks that `value` is a valid pointer, and reports `key` if not. */
static int
pointer_read(struct mapping_reader *r, const char *key, const json_t *value)
{
    const char *problem;

    if (!json_is_string(value)) {
        r->host->config_error(r->ctx, key, "must be a JSON Pointer string "
                              "such as \"/case/number\"");
        return CRIER_ECONFIG;
    }
    problem = json_pointer_check(json_string_value(value));
    if (problem != NULL) {
        r->host->config_error(r->ctx, key, "%s", problem);
        return CRIER_ECONFIG;
    }
    return 0;
}


/* Returns nonzero when `key` is one of `keys`. */
static int
key_known(const char *const *keys, const char *key)
{
    for (size_t i = 0; keys[i] != NULL; i++)
        if (strcmp(keys[i], key) == 0)
            return 1;
    return 0;
}


/* Reads a block of name = pointer pairs, such as `attributes`. */
static int
named_pointers_read(struct mapping_reader *r, const char *block,
                    const json_t *value, json_t **out)
{
    char key[128];
    const char *name;
    json_t *pointer;

    *out = json_object();
    if (value == NULL)
        return 0;
    if (!json_is_object(value)) {
        snprintf(key, sizeof(key), "mapping.%s", block);
        r->host->config_error(r->ctx, key, "must be a group of name = "
                              "pointer pairs such as { first_name = "
                              "\"/applicant/first_name\"; }");
        return CRIER_ECONFIG;
    }
    json_object_foreach((json_t *) value, name, pointer) {
        snprintf(key, sizeof(key), "mapping.%s.%s", block, name);
        if (pointer_read(r, key, pointer) != 0)
            return CRIER_ECONFIG;
        json_object_set(*out, name, pointer);
    }
    return 0;
}


/* Adds the values of one `statuses` list, such as statuses.closed. */
static int
status_list_read(struct mapping_reader *r, const char *list_key,
                 const char *type, const json_t *list, json_t *statuses)
{
    char key[128];
    size_t i;
    json_t *value;

    snprintf(key, sizeof(key), "mapping.statuses.%s", list_key);
    if (!json_is_array(list) || json_array_size(list) == 0) {
        r->host->config_error(r->ctx, key, "must be a non-empty list of "
                              "the case system's status values, such as "
                              "[ \"done\", \"withdrawn\" ]");
        return CRIER_ECONFIG;
    }
    json_array_foreach(list, i, value) {
        const char *status = json_string_value(value);

        if (status == NULL || status[0] == '\0') {
            r->host->config_error(r->ctx, key, "entry %zu must be a "
                                  "non-empty string", i + 1);
            return CRIER_ECONFIG;
        }
        if (json_object_get(statuses, status) != NULL) {
            r->host->config_error(r->ctx, key, "\"%s\" is listed twice; "
                                  "a status value may map to one type "
                                  "only", status);
            return CRIER_ECONFIG;
        }
        json_object_set_new(statuses, status, json_string(type));
    }
    return 0;
}


/* Reads `statuses`: each of opened, updated and closed lists values. */
static int
statuses_read(struct mapping_reader *r, const json_t *value,
              json_t **statuses)
{
    const char *key;
    json_t *list;

    *statuses = json_object();
    if (!json_is_object(value)) {
        r->host->config_error(r->ctx, "mapping.statuses", "is required: "
                              "a group such as { opened = [ \"new\" ]; "
                              "updated = [ \"in_progress\" ]; closed = "
                              "[ \"done\" ]; }");
        return CRIER_ECONFIG;
    }
    json_object_foreach((json_t *) value, key, list) {
        size_t t = 0;
        char full[128];

        while (t < STATUS_TYPE_COUNT && strcmp(status_types[t].key, key))
            t++;
        if (t == STATUS_TYPE_COUNT) {
            snprintf(full, sizeof(full), "mapping.statuses.%s", key);
            r->host->config_error(r->ctx, full, "unknown setting; valid "
                                  "settings are opened, updated and "
                                  "closed");
            return CRIER_ECONFIG;
        }
        if (status_list_read(r, key, status_types[t].type, list,
                             *statuses) != 0)
            return CRIER_ECONFIG;
    }
    return 0;
}


/* Checks the keys of `mapping` and the pointers among them. */
static int
pointers_read(struct mapping_reader *r, const json_t *config,
              json_t *pointers)
{
    static const char *const blocks[] = {
        "statuses", "attributes", "fields", NULL
    };
    char key[128];
    const char *name;
    json_t *value;

    json_object_foreach((json_t *) config, name, value) {
        snprintf(key, sizeof(key), "mapping.%s", name);
        if (key_known(blocks, name))
            continue;
        if (!key_known(pointer_keys, name)) {
            r->host->config_error(r->ctx, key, "unknown setting; valid "
                                  "settings are id, status, statuses, "
                                  "opened, updated, closed, type, outcome, "
                                  "email, phone, attributes and fields");
            return CRIER_ECONFIG;
        }
        if (pointer_read(r, key, value) != 0)
            return CRIER_ECONFIG;
        json_object_set(pointers, name, value);
    }
    if (json_object_get(pointers, "id") == NULL) {
        r->host->config_error(r->ctx, "mapping.id", "is required: the "
                              "pointer to the case id, such as "
                              "\"/case/number\"");
        return CRIER_ECONFIG;
    }
    if (json_object_get(pointers, "status") == NULL) {
        r->host->config_error(r->ctx, "mapping.status", "is required: the "
                              "pointer to the case status, such as "
                              "\"/case/state\"");
        return CRIER_ECONFIG;
    }
    return 0;
}


int
mapping_read(struct crier_ctx *ctx, const struct crier_host *host,
             const json_t *config, struct case_mapping **mapping)
{
    struct mapping_reader reader = {ctx, host};
    struct case_mapping *m;

    *mapping = NULL;
    if (!json_is_object(config)) {
        host->config_error(ctx, "mapping", "must be a group such as { id "
                           "= \"/case/number\"; status = \"/case/state\"; "
                           "statuses = { ... }; }");
        return CRIER_ECONFIG;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return CRIER_ENOMEM;
    m->pointers = json_object();
    if (pointers_read(&reader, config, m->pointers) != 0 ||
        statuses_read(&reader, json_object_get(config, "statuses"),
                      &m->statuses) != 0 ||
        named_pointers_read(&reader, "attributes",
                            json_object_get(config, "attributes"),
                            &m->attributes) != 0 ||
        named_pointers_read(&reader, "fields",
                            json_object_get(config, "fields"),
                            &m->fields) != 0) {
        mapping_free(m);
        return CRIER_ECONFIG;
    }
    *mapping = m;
    return 0;
}


void
mapping_free(struct case_mapping *mapping)
{
    if (mapping == NULL)
        return;
    json_decref(mapping->pointers);
    json_decref(mapping->statuses);
    json_decref(mapping->attributes);
    json_decref(mapping->fields);
    free(mapping);
}


/* Returns the pointer configured for `name`, or NULL. */
static const char *
pointer_of(const struct case_mapping *mapping, const char *name)
{
    return json_string_value(json_object_get(mapping->pointers, name));
}


/* Returns the body's value at the pointer configured for `name`, or NULL
 * when none is configured or the value is absent or null. */
static json_t *
value_of(const struct case_mapping *mapping, const json_t *body,
         const char *name)
{
    const char *pointer = pointer_of(mapping, name);
    json_t *value = pointer != NULL ? json_pointer_get(body, pointer) : NULL;

    return json_is_null(value) ? NULL : value;
}


/* Reads an optional string (or whole number) into a new JSON string. */
static int
text_read(const struct case_mapping *mapping, const json_t *body,
          const char *name, json_t **text, struct crier_input_error *err)
{
    json_t *value = value_of(mapping, body, name);

    *text = NULL;
    if (value == NULL)
        return 0;
    *text = case_id_string(value);
    if (*text == NULL)
        return case_reject(err, pointer_of(mapping, name), "must be a "
                           "non-empty string or a whole number");
    return 0;
}


/* Reads the status and returns the event type it maps to. */
static int
type_read(const struct case_mapping *mapping, const json_t *body,
          json_t **status, const char **type, struct crier_input_error *err)
{
    char message[sizeof(err->message)];
    int rc = text_read(mapping, body, "status", status, err);

    if (rc != 0)
        return rc;
    if (*status == NULL)
        return case_reject(err, pointer_of(mapping, "status"), "is "
                           "required: the case's status");
    *type = json_string_value(json_object_get(mapping->statuses,
                                              json_string_value(*status)));
    if (*type != NULL)
        return 0;
    snprintf(message, sizeof(message), "\"%.60s\" is not a status listed "
             "in the mapping's statuses", json_string_value(*status));
    json_decref(*status);
    *status = NULL;
    return case_reject(err, pointer_of(mapping, "status"), message);
}


/* Copies the optional times and texts into the case. */
static int
case_members_read(const struct case_mapping *mapping, const json_t *body,
                  json_t *kase, struct crier_input_error *err)
{
    static const char *const times[][2] = {
        {"opened", "opened_at"}, {"updated", "updated_at"},
        {"closed", "closed_at"},
    };
    static const char *const texts[] = {"type", "outcome"};

    for (size_t i = 0; i < 3; i++) {
        json_t *value = value_of(mapping, body, times[i][0]);
        GDateTime *when;

        if (case_time_parse(value, pointer_of(mapping, times[i][0]), &when,
                            err) != 0)
            return CRIER_EINVAL;
        case_time_free(when);
        if (value != NULL)
            json_object_set(kase, times[i][1], value);
    }
    for (size_t i = 0; i < 2; i++) {
        json_t *text;

        if (text_read(mapping, body, texts[i], &text, err) != 0)
            return CRIER_EINVAL;
        if (text != NULL)
            json_object_set_new(kase, texts[i], text);
    }
    return 0;
}


/* Copies each configured name = pointer pair whose value is present. */
static void
named_values_copy(const json_t *pointers, const json_t *body, json_t *out)
{
    const char *name;
    json_t *pointer;

    json_object_foreach((json_t *) pointers, name, pointer) {
        json_t *value = json_pointer_get(body, json_string_value(pointer));

        if (value != NULL)
            json_object_set(out, name, value);
    }
}


/* Builds the requester's identities: case_id, email and phone. */
static int
profile_read(const struct case_mapping *mapping, const json_t *body,
             const char *case_id, json_t **profile,
             struct crier_input_error *err)
{
    static const char *const kinds[] = {"email", "phone"};

    *profile = json_pack("{s:s}", "case_id", case_id);
    for (size_t i = 0; i < 2; i++) {
        json_t *identity;

        if (text_read(mapping, body, kinds[i], &identity, err) != 0) {
            json_decref(*profile);
            return CRIER_EINVAL;
        }
        if (identity != NULL)
            json_object_set_new(*profile, kinds[i], identity);
    }
    return 0;
}


/* Returns the event time: the update time, else the closing or opening
 * time for those types, else NULL (the core then uses now). */
static const char *
event_time(const json_t *kase, const char *type)
{
    const json_t *time = json_object_get(kase, "updated_at");

    if (time == NULL && strcmp(type, CASE_CLOSED) == 0)
        time = json_object_get(kase, "closed_at");
    if (time == NULL && strcmp(type, CASE_OPENED) == 0)
        time = json_object_get(kase, "opened_at");
    return json_string_value(time);
}


/* Builds the event of one mapped body. */
static int
mapping_event_build(const struct case_mapping *mapping, const json_t *body,
                    json_t **event, struct crier_input_error *err)
{
    json_t *id, *status, *kase, *profile, *attributes;
    const char *type;
    int rc;

    if (!json_is_object(body))
        return case_reject(err, "", "a case must be a JSON object");
    if ((rc = text_read(mapping, body, "id", &id, err)) != 0)
        return rc;
    if (id == NULL)
        return case_reject(err, pointer_of(mapping, "id"), "is required: "
                           "the case id");
    if ((rc = type_read(mapping, body, &status, &type, err)) != 0) {
        json_decref(id);
        return rc;
    }
    /* The fields go in first, so that none can replace the id or the
     * status. */
    kase = json_object();
    named_values_copy(mapping->fields, body, kase);
    json_object_set(kase, "id", id);
    json_object_set_new(kase, "status", status);
    rc = case_members_read(mapping, body, kase, err);
    if (rc == 0)
        rc = profile_read(mapping, body, json_string_value(id), &profile,
                          err);
    if (rc != 0) {
        json_decref(kase);
        json_decref(id);
        return rc;
    }
    attributes = json_object();
    named_values_copy(mapping->attributes, body, attributes);
    *event = case_event_assemble(type, json_string_value(id),
                                 event_time(kase, type), profile,
                                 json_pack("{s:o,s:s}", "case", kase,
                                           "source_format", "mapping"),
                                 attributes);
    json_decref(id);
    return 0;
}


int
mapping_events_build(const struct case_mapping *mapping, const json_t *body,
                     json_t **events, struct crier_input_error *err)
{
    size_t count = json_is_array(body) ? json_array_size(body) : 1;
    json_t *event = NULL;

    err->index = -1;
    if (!json_is_object(body) && !json_is_array(body))
        return case_reject(err, "", "the body must be a JSON object or "
                           "array");
    if (count == 0)
        return case_reject(err, "", "the array holds no cases");
    *events = json_array();
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_is_array(body) ? json_array_get(body, i)
                                                 : body;
        int rc = mapping_event_build(mapping, item, &event, err);

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
