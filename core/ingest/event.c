#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "ingest/email_address.h"
#include "ingest/identity.h"
#include "ingest/ingest.h"
#include "ingest/internal.h"
#include "profile/attributes.h"
#include "server/server.h"

#define TYPE_MAX 128
#define ID_MAX 256
#define VISITOR_MAX 128


/*
 * Fills `err` with "<field> <message>". The message is kept whole: when
 * both do not fit, the field (which can hold a sender's attribute name)
 * is shortened instead. Only a message longer than err->message is cut.
 */
static int
reject(struct crier_input_error *err, const char *field, const char *message)
{
    size_t size = sizeof(err->message);
    size_t message_len = strlen(message);
    size_t field_room = 0;

    snprintf(err->field, sizeof(err->field), "%s", field);
    if (message_len + 2 < size)
        field_room = size - 2 - message_len;
    if (field[0] != '\0')
        snprintf(err->message, size, "%.*s %s", (int) field_room, field,
                 message);
    else
        snprintf(err->message, size, "%s", message);
    return CRIER_EINVAL;
}


int
event_reject(struct crier_input_error *err, const char *field,
             const char *message)
{
    return reject(err, field, message);
}


int
event_string_length_valid(const json_t *v, size_t min, size_t max)
{
    glong count;

    if (!json_is_string(v))
        return 0;
    count = g_utf8_strlen(json_string_value(v),
                          (gssize) json_string_length(v));
    return count >= 0 && (size_t) count >= min && (size_t) count <= max;
}


static int
is_type_char(int c)
{
    return isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}


static int
check_type(const json_t *v, struct crier_input_error *err)
{
    const char *s;
    size_t len;

    if (v == NULL)
        return reject(err, "type", "is required");
    if (!json_is_string(v))
        return reject(err, "type", "must be a string");
    s = json_string_value(v);
    len = json_string_length(v);
    /* The characters are checked first: they are all ASCII, so the
     * length in bytes below is the length in characters. */
    for (size_t i = 0; i < len; i++)
        if (!is_type_char((unsigned char) s[i]))
            return reject(err, "type", "may hold only letters, digits, "
                          "'.', '_', ':' and '-'");
    if (len == 0 || len > TYPE_MAX)
        return reject(err, "type", "must be 1 to 128 characters long");
    /* Only crier records segment entries and exits, admin changes and
     * date events, so that a sender cannot make a rule on them run for a
     * profile of its choice. */
    if (internal_event_type(s))
        return reject(err, "type", "is reserved for the events crier "
                      "records itself: segment.*, profile.updated, "
                      "profile.merged, journey.due, digest.due and date.*");
    return 0;
}


int
identity_kind_valid(const char *k)
{
    size_t len = strlen(k);

    if (len == 0 || len > 32 || !islower((unsigned char) k[0]))
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!islower((unsigned char) k[i]) && !isdigit((unsigned char) k[i])
            && k[i] != '_')
            return 0;
    return 1;
}


/* Lowercases an email address after checking it as the email channel
 * does, so that every stored address is one the channel can send to. */
json_t *
identity_normalize_email(const char *s)
{
    char *copy;
    json_t *v;

    if (!email_address_valid(s))
        return NULL;
    copy = strdup(s);
    for (char *p = copy; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    v = json_string(copy);
    free(copy);
    return v;
}


/* Accepts E.164 with spaces, dots, dashes and brackets between digits. */
json_t *
identity_normalize_phone(const char *s)
{
    char digits[20];
    size_t n = 0;

    if (s[0] != '+')
        return NULL;
    digits[n++] = '+';
    for (const char *p = s + 1; *p; p++) {
        if (isdigit((unsigned char) *p)) {
            if (n >= 16)
                return NULL;
            digits[n++] = *p;
        } else if (!strchr(" .-()", *p)) {
            return NULL;
        }
    }
    digits[n] = '\0';
    if (n < 8 || digits[1] == '0')
        return NULL;
    return json_string(digits);
}


static int
check_profile(const json_t *v, json_t **out, struct crier_input_error *err)
{
    const char *kind;
    json_t *value;
    char field[96];

    if (!json_is_object(v))
        return reject(err, "profile", "must be an object of identities, "
                      "such as {\"email\": \"ana@example.gov\"}");
    *out = json_object();
    json_object_foreach((json_t *) v, kind, value) {
        json_t *norm;

        snprintf(field, sizeof(field), "profile.%s", kind);
        if (!identity_kind_valid(kind))
            return reject(err, field, "is not an identity kind: use "
                          "lowercase letters, digits and '_'");
        if (!event_string_length_valid(value, 1, IDENTITY_MAX))
            return reject(err, field, "must be a string of 1 to 320 "
                          "characters");
        if (strcmp(kind, "email") == 0)
            norm = identity_normalize_email(json_string_value(value));
        else if (strcmp(kind, "phone") == 0)
            norm = identity_normalize_phone(json_string_value(value));
        else
            norm = json_string(json_string_value(value));
        if (norm == NULL)
            return reject(err, field, strcmp(kind, "email") == 0
                          ? "is not a valid email address"
                          : "must be an E.164 number such as +13125550100");
        json_object_set_new(*out, kind, norm);
    }
    return 0;
}


static int
check_time(const json_t *v, int64_t now_ms, int64_t *ms,
           struct crier_input_error *err)
{
    if (v == NULL) {
        *ms = now_ms;
        return 0;
    }
    if (!json_is_string(v) ||
        clock_parse_rfc3339(json_string_value(v), ms) != 0)
        return reject(err, "time", "must be an RFC 3339 timestamp with an "
                      "offset from 0001-01-01T00:00:00Z to "
                      "9999-12-31T23:59:59Z, such as 2026-03-01T09:30:00Z");
    return 0;
}


static int
check_id(const json_t *v, json_t **out, struct crier_input_error *err)
{
    if (json_is_integer(v)) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(v));
        *out = json_string(buf);
        return 0;
    }
    if (!event_string_length_valid(v, 1, ID_MAX))
        return reject(err, "id", "must be a string of 1 to 256 characters "
                      "or a whole number");
    *out = json_string(json_string_value(v));
    return 0;
}


static int
check_members(const json_t *in, struct crier_input_error *err)
{
    static const char *const known[] = {
        "type", "id", "time", "profile", "visitor", "properties",
        "attributes", "consent", "related", NULL
    };
    const char *key;
    json_t *v;

    json_object_foreach((json_t *) in, key, v) {
        size_t i = 0;

        while (known[i] != NULL && strcmp(known[i], key) != 0)
            i++;
        if (known[i] == NULL)
            return reject(err, key, "is not a field of an event");
    }
    return 0;
}


static int
check_object(const json_t *in, const char *name, json_t *out,
             struct crier_input_error *err)
{
    json_t *v = json_object_get(in, name);

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return reject(err, name, "must be an object");
    json_object_set(out, name, v);
    return 0;
}


/*
 * Copies `v` into `ev` with every attribute that plugins.conf declares
 * checked and normalised. Without declarations the object is shared, not
 * copied, so untyped configs pay nothing.
 */
static int
check_attributes(const json_t *v, json_t *ev, struct crier_input_error *err)
{
    GHashTable *types = server.settings.attribute_types;
    const char *name;
    json_t *value, *out;

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return reject(err, "attributes", "must be an object");
    if (json_object_get(v, "") != NULL)
        return reject(err, "attributes", "has an attribute with an empty "
                      "name: give every attribute a name");
    if (types == NULL) {
        json_object_set(ev, "attributes", (json_t *) v);
        return 0;
    }
    out = json_object();
    json_object_foreach((json_t *) v, name, value) {
        enum attribute_type type;
        json_t *stored = attribute_value_normalize(types, name, value, &type);
        char field[96], message[128];

        if (stored == NULL) {
            json_decref(out);
            snprintf(field, sizeof(field), "attributes.%s", name);
            attribute_value_error(type, value, message, sizeof(message));
            return reject(err, field, message);
        }
        json_object_set_new(out, name, stored);
    }
    json_object_set_new(ev, "attributes", out);
    return 0;
}


/*
 * Copies the consent changes `v` into `ev`: an object of channel kind to
 * "granted" or "revoked". Kinds follow the rules of identity kinds, so
 * "email", "sms" and "webhook" all pass.
 */
static int
check_consent(const json_t *v, json_t *ev, struct crier_input_error *err)
{
    const char *kind;
    json_t *state;
    char field[96];

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return reject(err, "consent", "must be an object of channel kind "
                      "to state, such as {\"email\": \"revoked\"}");
    json_object_foreach((json_t *) v, kind, state) {
        const char *text = json_string_value(state);

        snprintf(field, sizeof(field), "consent.%s", kind);
        if (!identity_kind_valid(kind))
            return reject(err, field, "is not a channel kind: use "
                          "lowercase letters, digits and '_'");
        if (text == NULL || (strcmp(text, "granted") != 0 &&
                             strcmp(text, "revoked") != 0))
            return reject(err, field, "must be \"granted\" or "
                          "\"revoked\"");
    }
    if (json_object_size(v) > 0)
        json_object_set(ev, "consent", (json_t *) v);
    return 0;
}


int
event_normalize(const json_t *in, int64_t now_ms, struct normalized_event *out,
                struct crier_input_error *err)
{
    json_t *ev, *v = NULL, *visitor;
    char when[32];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(in))
        return reject(err, "", "an event must be a JSON object");
    if ((rc = check_members(in, err)) != 0 ||
        (rc = check_type(json_object_get(in, "type"), err)) != 0 ||
        (rc = check_time(json_object_get(in, "time"), now_ms, &out->time_ms,
                         err)) != 0)
        return rc;

    ev = json_object();
    json_object_set(ev, "type", json_object_get(in, "type"));
    if (json_object_get(in, "id") != NULL) {
        if ((rc = check_id(json_object_get(in, "id"), &v, err)) != 0)
            goto fail;
        json_object_set_new(ev, "id", v);
    }
    clock_format_ms(out->time_ms, when, sizeof(when));
    json_object_set_new(ev, "time", json_string(when));
    if (json_object_get(in, "profile") != NULL) {
        v = NULL;
        rc = check_profile(json_object_get(in, "profile"), &v, err);
        if (v != NULL && json_object_size(v) > 0)
            json_object_set(ev, "profile", v);
        json_decref(v);
        if (rc != 0)
            goto fail;
    }
    visitor = json_object_get(in, "visitor");
    if (visitor != NULL) {
        if (!event_string_length_valid(visitor, 1, VISITOR_MAX)) {
            rc = reject(err, "visitor", "must be a string of 1 to 128 "
                        "characters");
            goto fail;
        }
        json_object_set(ev, "visitor", visitor);
    }
    if (json_object_get(ev, "profile") == NULL && visitor == NULL) {
        rc = reject(err, "profile", "is missing: an event needs profile "
                    "identities or a visitor id");
        goto fail;
    }
    if ((rc = check_object(in, "properties", ev, err)) != 0 ||
        (rc = check_attributes(json_object_get(in, "attributes"), ev,
                               err)) != 0 ||
        (rc = check_consent(json_object_get(in, "consent"), ev, err)) != 0 ||
        (rc = event_related_check(json_object_get(in, "related"), ev,
                                  err)) != 0)
        goto fail;
    if (json_object_get(ev, "properties") == NULL)
        json_object_set_new(ev, "properties", json_object());

    out->event = ev;
    out->type = json_string_value(json_object_get(ev, "type"));
    v = json_object_get(ev, "id");
    out->id = v ? json_string_value(v) : NULL;
    return 0;

fail:
    json_decref(ev);
    return rc;
}
