/*
 * The profile change of PATCH and PUT /v1/profiles/{id}, as pure
 * functions: checking a request body and applying it to a stored
 * profile. update.c runs them against the store.
 */
#include <stdio.h>
#include <string.h>

#include "admin/change.h"
#include "ingest/identity.h"
#include "profile/attributes.h"

/* Members of a stored profile that these routes never change. */
static const char *const READ_ONLY_MEMBERS[] = {
    "id", "created", "updated", "identities", "stages", NULL
};


static json_t *
reject(struct admin_change_error *err, const char *field,
       const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", message);
    return NULL;
}


static int
read_only(const char *member)
{
    for (size_t i = 0; READ_ONLY_MEMBERS[i] != NULL; i++)
        if (strcmp(member, READ_ONLY_MEMBERS[i]) == 0)
            return 1;
    return 0;
}


/*
 * Returns the attributes of `given` with each declared type checked and
 * normalised, or NULL after setting `err`. A null value stays null in a
 * PATCH (remove the attribute) and is left out in a PUT.
 */
static json_t *
attributes_check(const json_t *given, int replace, GHashTable *types,
                 struct admin_change_error *err)
{
    json_t *out, *value, *stored;
    const char *name;

    if (!json_is_object(given))
        return reject(err, "attributes", "must be an object of attribute "
                      "name to value");
    if (json_object_get(given, "") != NULL)
        return reject(err, "attributes", "has an attribute with an empty "
                      "name: give every attribute a name");
    out = json_object();
    json_object_foreach((json_t *) given, name, value) {
        enum attribute_type type;
        char field[sizeof(err->field)];

        if (replace && json_is_null(value))
            continue;
        stored = attribute_value_normalize(types, name, value, &type);
        if (stored == NULL) {
            json_decref(out);
            snprintf(field, sizeof(field), "attributes.%s", name);
            reject(err, field, "");
            attribute_value_error(type, value, err->message,
                                  sizeof(err->message));
            return NULL;
        }
        json_object_set_new(out, name, stored);
    }
    return out;
}


/* Returns a copy of `given`, a map of channel kind to "granted" or
 * "revoked" as events send it, or NULL after setting `err`. */
static json_t *
consent_check(const json_t *given, struct admin_change_error *err)
{
    const char *kind, *text;
    json_t *state;
    char field[sizeof(err->field)];

    if (!json_is_object(given))
        return reject(err, "consent", "must be an object of channel kind "
                      "to state, such as {\"email\": \"revoked\"}");
    json_object_foreach((json_t *) given, kind, state) {
        text = json_string_value(state);
        snprintf(field, sizeof(field), "consent.%s", kind);
        if (!identity_kind_valid(kind))
            return reject(err, field, "is not a channel kind: use "
                          "lowercase letters, digits and '_'");
        if (text == NULL || (strcmp(text, "granted") != 0 &&
                             strcmp(text, "revoked") != 0))
            return reject(err, field, "must be \"granted\" or "
                          "\"revoked\"");
    }
    return json_deep_copy(given);
}


/* Sets `err` when `body` has a member other than attributes and consent. */
static int
members_check(const json_t *body, struct admin_change_error *err)
{
    const char *member;
    json_t *value;

    json_object_foreach((json_t *) body, member, value) {
        if (strcmp(member, "attributes") == 0 ||
            strcmp(member, "consent") == 0)
            continue;
        if (read_only(member))
            reject(err, member, "cannot be changed through the admin API: "
                   "send only attributes and consent");
        else
            reject(err, member, "is not a member of a profile change: use "
                   "attributes and consent");
        return -1;
    }
    return 0;
}


json_t *
admin_change_parse(const json_t *body, int replace, GHashTable *types,
                   struct admin_change_error *err)
{
    json_t *attributes = json_object_get(body, "attributes");
    json_t *consent = json_object_get(body, "consent");
    json_t *change;

    if (!json_is_object(body))
        return reject(err, "", "the body must be a JSON object such as "
                      "{\"attributes\": {\"first_name\": \"Ana\"}}");
    if (members_check(body, err) != 0)
        return NULL;
    if (replace && attributes == NULL)
        return reject(err, "attributes", "is missing: PUT replaces all "
                      "attributes, so send them all ({} for none)");
    change = json_object();
    if (attributes != NULL) {
        attributes = attributes_check(attributes, replace, types, err);
        if (attributes == NULL) {
            json_decref(change);
            return NULL;
        }
        json_object_set_new(change, "attributes", attributes);
    }
    if (consent != NULL) {
        consent = consent_check(consent, err);
        if (consent == NULL) {
            json_decref(change);
            return NULL;
        }
        json_object_set_new(change, "consent", consent);
    }
    return change;
}


/* Returns `stored` (an object, or NULL for none) with each member of
 * `given` set, or removed where it is null. */
static json_t *
map_patch(const json_t *stored, const json_t *given)
{
    json_t *out = json_is_object(stored) ? json_deep_copy(stored)
                                         : json_object();
    const char *name;
    json_t *value;

    json_object_foreach((json_t *) given, name, value) {
        if (json_is_null(value))
            json_object_del(out, name);
        else
            json_object_set(out, name, value);
    }
    return out;
}


/* Returns the stored consent entries for the states in `given`. */
static json_t *
consent_entries(const json_t *given, int64_t now_ms)
{
    json_t *out = json_object();
    const char *kind;
    json_t *state;

    json_object_foreach((json_t *) given, kind, state)
        json_object_set_new(out, kind, json_pack("{s:O,s:s,s:I}", "state",
                                                 state, "source", "admin",
                                                 "time",
                                                 (json_int_t) now_ms));
    return out;
}


json_t *
admin_change_apply(const json_t *profile, const json_t *change,
                   int replace, int64_t now_ms)
{
    json_t *attributes = json_object_get(change, "attributes");
    json_t *consent = json_object_get(change, "consent");
    json_t *stored_consent = json_object_get(profile, "consent");
    json_t *out = json_pack("{s:O,s:O,s:I,s:O}",
                            "id", json_object_get(profile, "id"),
                            "created", json_object_get(profile, "created"),
                            "updated", (json_int_t) now_ms,
                            "identities",
                            json_object_get(profile, "identities"));
    json_t *entries = consent ? consent_entries(consent, now_ms) : NULL;

    if (out == NULL)
        return NULL;
    if (replace)
        json_object_set_new(out, "attributes", json_deep_copy(attributes));
    else
        json_object_set_new(out, "attributes",
                            map_patch(json_object_get(profile, "attributes"),
                                      attributes));
    if (entries == NULL)
        json_object_set_new(out, "consent", json_is_object(stored_consent)
                            ? json_deep_copy(stored_consent)
                            : json_object());
    else if (replace)
        json_object_set(out, "consent", entries);
    else
        json_object_set_new(out, "consent", map_patch(stored_consent,
                                                      entries));
    json_decref(entries);
    return out;
}


char *
admin_change_names(const json_t *before, const json_t *after)
{
    GString *names = g_string_new(NULL);
    const char *name;
    json_t *value;

    json_object_foreach((json_t *) after, name, value)
        if (!json_equal(value, json_object_get(before, name)))
            g_string_append_printf(names, "%s%s", names->len ? "," : "",
                                   name);
    json_object_foreach((json_t *) before, name, value)
        if (json_object_get(after, name) == NULL)
            g_string_append_printf(names, "%s%s", names->len ? "," : "",
                                   name);
    return g_string_free(names, FALSE);
}
