#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <crier/error.h>

#include "hit.h"

/* The query parameters of GET /b.gif, indexed by enum query_param. */
enum query_param {
    PARAM_VISITOR,
    PARAM_TYPE,
    PARAM_URL,
    PARAM_REFERRER,
    PARAM_TITLE
};

static const char *const query_params[] = {"v", "t", "u", "r", "ti"};

/* The query parameters that become properties, and their property names. */
static const struct {
    enum query_param param;
    const char *property;
} query_properties[] = {
    {PARAM_URL, "url"},
    {PARAM_REFERRER, "referrer"},
    {PARAM_TITLE, "title"},
};

/* The members of a POST body that become properties. */
static const char *const json_properties[] = {"url", "referrer", "title"};

/* The members a POST body may have. */
static const char *const json_members[] = {
    "visitor", "type", "url", "referrer", "title", "properties", "profile",
    NULL
};


static int
reject(struct crier_input_error *err, const char *field, const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", message);
    err->index = -1;
    return CRIER_EINVAL;
}


/*
 * Appends the decoded bytes of `text` to `bytes`. Returns NULL, or why the
 * text cannot be decoded.
 */
static const char *
query_decode_bytes(const char *text, size_t len, GString *bytes)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= len || !g_ascii_isxdigit(text[i + 1]) ||
                !g_ascii_isxdigit(text[i + 2]))
                return "has a '%' without two hex digits after it; "
                       "send a '%' as %25";
            c = (char) (g_ascii_xdigit_value(text[i + 1]) * 16 +
                        g_ascii_xdigit_value(text[i + 2]));
            i += 2;
        }
        if (c == '\0')
            return "contains a NUL byte (%00)";
        g_string_append_c(bytes, c);
    }
    if (!g_utf8_validate(bytes->str, (gssize) bytes->len, NULL))
        return "is not valid UTF-8 once decoded";
    return NULL;
}


char *
query_decode(const char *text, size_t len, const char **reason)
{
    GString *bytes = g_string_sized_new(len);

    *reason = query_decode_bytes(text, len, bytes);
    if (*reason != NULL) {
        g_string_free(bytes, TRUE);
        return NULL;
    }
    return g_string_free(bytes, FALSE);
}


int
query_param_get(const char *query, const char *name, char **value,
                const char **reason)
{
    const char *pair = query;

    while (*pair != '\0') {
        const char *end = pair + strcspn(pair, "&");
        const char *equals = memchr(pair, '=', (size_t) (end - pair));
        const char *name_end = equals != NULL ? equals : end;
        const char *name_reason;
        char *pair_name = query_decode(pair, (size_t) (name_end - pair),
                                       &name_reason);
        int found = pair_name != NULL && strcmp(pair_name, name) == 0;

        g_free(pair_name);
        if (found && equals == NULL) {
            *value = g_strdup("");
            return 0;
        }
        if (found) {
            *value = query_decode(equals + 1, (size_t) (end - equals - 1),
                                  reason);
            return *value != NULL ? 0 : CRIER_EINVAL;
        }
        pair = *end == '&' ? end + 1 : end;
    }
    return CRIER_ENOTFOUND;
}


/*
 * Checks a beacon type: letters, digits, '_' and '-'. A '.' is not
 * allowed, because anyone can send a beacon, and so a web page cannot
 * pose as a server-side event such as case.closed.
 */
static int
type_check(const char *type, const char *field, struct crier_input_error *err)
{
    size_t len = strlen(type);

    /* The characters are checked first: they are all ASCII, so the
     * length in bytes below is the length in characters. */
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_isalnum(type[i]) && type[i] != '_' && type[i] != '-')
            return reject(err, field, "may hold only letters, digits, '_' "
                          "and '-'");
    if (len == 0 || len > HIT_TYPE_MAX)
        return reject(err, field, "must be 1 to 64 characters long");
    return 0;
}


/* Checks a visitor id, which is NULL when the hit has none. */
static int
visitor_check(const char *visitor, const char *field,
              struct crier_input_error *err)
{
    size_t len = visitor != NULL ? strlen(visitor) : 0;

    /* A query string can carry any bytes, and the limit counts
     * characters. */
    if (visitor == NULL)
        return reject(err, field, "is required: the visitor id that "
                      "crier.js keeps in localStorage");
    if (len == 0)
        return reject(err, field, "is empty; send the visitor id that "
                      "crier.js keeps in localStorage");
    if (!g_utf8_validate(visitor, (gssize) len, NULL))
        return reject(err, field, "is not valid UTF-8");
    if (g_utf8_strlen(visitor, (gssize) len) > HIT_VISITOR_MAX)
        return reject(err, field, "must be at most 128 characters long");
    return 0;
}


/* Returns a new event and takes over the reference to `properties`. */
static json_t *
hit_event_new(const char *type, const char *visitor, json_t *properties,
              const char *user_agent)
{
    if (user_agent != NULL && user_agent[0] != '\0') {
        char *valid = g_utf8_make_valid(user_agent, -1);

        json_object_set_new(properties, "user_agent", json_string(valid));
        g_free(valid);
    }
    return json_pack("{s:s,s:s,s:o}", "type", type, "visitor", visitor,
                     "properties", properties);
}


/*
 * Reads every parameter that the event uses into `values`, in the order
 * of `query_params`, each NULL when absent. Fails on the first one whose
 * value does not decode, so that no part of a broken hit is stored.
 */
static int
query_params_read(const char *query, char **values,
                  struct crier_input_error *err)
{
    const char *reason;

    for (size_t i = 0; i < G_N_ELEMENTS(query_params); i++) {
        int rc = query_param_get(query, query_params[i], &values[i],
                                 &reason);

        if (rc == CRIER_ENOTFOUND) {
            values[i] = NULL;
            continue;
        }
        if (rc != 0) {
            reject(err, query_params[i], reason);
            while (i-- > 0)
                g_free(values[i]);
            return rc;
        }
    }
    return 0;
}


int
beacon_event_build_query(const char *query, const char *user_agent,
                         json_t **event, struct crier_input_error *err)
{
    char *values[G_N_ELEMENTS(query_params)];
    const char *type;
    json_t *properties;
    int rc;

    rc = query_params_read(query, values, err);
    if (rc != 0)
        return rc;
    type = values[PARAM_TYPE] != NULL && values[PARAM_TYPE][0] != '\0'
               ? values[PARAM_TYPE]
               : HIT_DEFAULT_TYPE;
    rc = visitor_check(values[PARAM_VISITOR], "v", err);
    if (rc == 0)
        rc = type_check(type, "t", err);
    if (rc == 0) {
        properties = json_object();
        for (size_t i = 0; i < G_N_ELEMENTS(query_properties); i++) {
            const char *value = values[query_properties[i].param];

            if (value != NULL && value[0] != '\0')
                json_object_set_new(properties,
                                    query_properties[i].property,
                                    json_string(value));
        }
        *event = hit_event_new(type, values[PARAM_VISITOR], properties,
                               user_agent);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(query_params); i++)
        g_free(values[i]);
    return rc;
}


static int
json_members_check(const json_t *body, struct crier_input_error *err)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) body, key, value) {
        size_t i = 0;

        while (json_members[i] != NULL && strcmp(json_members[i], key) != 0)
            i++;
        if (json_members[i] == NULL)
            return reject(err, key, "is not a member of a beacon hit; use "
                          "visitor, type, url, referrer, title, "
                          "properties and, for identify, profile");
    }
    return 0;
}


/* Copies url, referrer and title into `properties`. A null member counts
 * as absent. */
static int
json_properties_copy(const json_t *body, json_t *properties,
                     struct crier_input_error *err)
{
    for (size_t i = 0; i < G_N_ELEMENTS(json_properties); i++) {
        const json_t *value = json_object_get(body, json_properties[i]);

        if (value == NULL || json_is_null(value))
            continue;
        if (!json_is_string(value))
            return reject(err, json_properties[i], "must be a string");
        if (json_string_length(value) > 0)
            json_object_set(properties, json_properties[i], (json_t *) value);
    }
    return 0;
}


/*
 * Checks the profile of an identify hit: an object with one member,
 * "email", a string. The core checks that the string is an address. Only
 * an email is taken, and only on type identify, because any page can
 * send it (docs/triggers/beacon.md, "Identify").
 * NOTE: nothing proves that the visitor owns the address, so a page can
 * merge its visitor into another resident's profile (docs/KNOWN_LIMITS.md,
 * "Triggers").
 */
static int
identify_check(const json_t *type, const json_t *profile,
               struct crier_input_error *err)
{
    int identify = type != NULL &&
                   strcmp(json_string_value(type), HIT_IDENTIFY_TYPE) == 0;

    if (profile == NULL && !identify)
        return 0;
    if (profile == NULL)
        return reject(err, "profile", "is required on an identify hit: "
                      "{\"email\": \"...\"}");
    if (!identify)
        return reject(err, "profile", "is allowed only on an identify hit");
    if (!json_is_object(profile) || json_object_size(profile) != 1 ||
        !json_is_string(json_object_get(profile, "email")))
        return reject(err, "profile", "must be {\"email\": \"...\"}, "
                      "with no other identity");
    return 0;
}


int
beacon_event_build_json(const json_t *body, const char *user_agent,
                        json_t **event, struct crier_input_error *err)
{
    const json_t *visitor = json_object_get(body, "visitor");
    const json_t *type = json_object_get(body, "type");
    const json_t *extra = json_object_get(body, "properties");
    const json_t *profile = json_object_get(body, "profile");
    json_t *properties;
    int rc;

    if (!json_is_object(body))
        return reject(err, "", "the body must be a JSON object such as "
                      "{\"visitor\": \"...\", \"url\": \"...\"}");
    if ((rc = json_members_check(body, err)) != 0)
        return rc;
    if (visitor != NULL && !json_is_null(visitor) && !json_is_string(visitor))
        return reject(err, "visitor", "must be a string: the visitor id "
                      "that crier.js keeps in localStorage");
    if ((rc = visitor_check(json_string_value(visitor), "visitor", err)) != 0)
        return rc;
    if (type != NULL && !json_is_string(type))
        return reject(err, "type", "must be a string such as "
                      "\"page_view\"");
    if (type != NULL &&
        (rc = type_check(json_string_value(type), "type", err)) != 0)
        return rc;
    if (extra != NULL && !json_is_object(extra))
        return reject(err, "properties", "must be an object");
    if ((rc = identify_check(type, profile, err)) != 0)
        return rc;

    properties = extra != NULL ? json_deep_copy(extra) : json_object();
    if ((rc = json_properties_copy(body, properties, err)) != 0) {
        json_decref(properties);
        return rc;
    }
    *event = hit_event_new(type != NULL ? json_string_value(type)
                                        : HIT_DEFAULT_TYPE,
                           json_string_value(visitor), properties,
                           user_agent);
    if (profile != NULL)
        json_object_set(*event, "profile", (json_t *) profile);
    return 0;
}
