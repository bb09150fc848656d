/*
 * Field lookup: walks a field's path through the evaluation context. The
 * names after `profile.` also reach into a stored profile's attributes,
 * identities and stages, in the order docs/expressions.md gives under
 * "Profile fields".
 */
#include <string.h>

#include "rules/expr_int.h"


static const char *
root_name(enum expr_root root)
{
    switch (root) {
    case EXPR_ROOT_EVENT:
        return "event";
    case EXPR_ROOT_PROFILE:
        return "profile";
    default:
        return "case";
    }
}


/* Takes one step and returns NULL when it finds nothing. */
static const json_t *
segment_apply(const json_t *value, const struct expr_segment *segment)
{
    if (segment->name != NULL) {
        return json_object_get(value, segment->name);
    }
    return json_array_get(value, segment->index);
}


/*
 * Returns the stage name from a member of a profile's `stages`: either a
 * bare string or an object {"stage": ..., "since": ...}.
 */
static const json_t *
stage_name(const json_t *entry)
{
    if (json_is_string(entry)) {
        return entry;
    }
    return json_object_get(entry, "stage");
}


/* Returns the value of the profile's first identity of kind `kind`. */
static const json_t *
identity_find(const json_t *profile, const char *kind)
{
    const json_t *identities = json_object_get(profile, "identities");
    const json_t *identity;
    const char *identity_kind;
    size_t i;

    json_array_foreach(identities, i, identity) {
        identity_kind = json_string_value(json_object_get(identity, "kind"));
        if (identity_kind != NULL && strcmp(identity_kind, kind) == 0) {
            return json_object_get(identity, "value");
        }
    }
    return NULL;
}


/*
 * Resolves the steps of a profile field that need more than plain JSON
 * lookup. Sets `*used` to the number of segments consumed. The caller
 * applies the rest as plain steps.
 */
static const json_t *
profile_resolve(const struct expr *field, const json_t *profile,
                const json_t *ctx, size_t *used)
{
    const struct expr_segment *first = &field->segments[0];
    const json_t *program;
    const json_t *entry;
    const json_t *value;

    *used = 1;
    if (first->name == NULL) {
        return NULL;
    }

    /* profile.stages.<program> is the stage name, while deeper steps read
     * the stored entry, as in profile.stages.<program>.since. */
    value = json_object_get(profile, first->name);
    if (value != NULL) {
        if (strcmp(first->name, "stages") != 0 || field->segment_count < 2) {
            return value;
        }
        entry = segment_apply(value, &field->segments[1]);
        *used = 2;
        return field->segment_count == 2 ? stage_name(entry) : entry;
    }

    if (strcmp(first->name, "stage") == 0) {
        program = json_object_get(ctx, "program");
        if (!json_is_string(program)) {
            return NULL;
        }
        entry = json_object_get(json_object_get(profile, "stages"),
                                json_string_value(program));
        return stage_name(entry);
    }

    value = json_object_get(json_object_get(profile, "attributes"),
                            first->name);
    if (value != NULL) {
        return value;
    }
    return identity_find(profile, first->name);
}


const json_t *
expr_field_resolve(const struct expr *field, const struct expr_scope *scope)
{
    const json_t *ctx = scope->ctx;
    const json_t *value;
    size_t i = 0;

    /* Inside count(), `event` and `case` belong to the past event. */
    if (field->root == EXPR_ROOT_ELEMENT) {
        value = scope->element;
    } else if (scope->event != NULL && field->root == EXPR_ROOT_EVENT) {
        value = scope->event;
    } else if (scope->event != NULL && field->root == EXPR_ROOT_CASE) {
        value = json_object_get(json_object_get(scope->event, "properties"),
                                "case");
    } else {
        value = json_object_get(ctx, root_name(field->root));
    }

    if (value != NULL && field->root == EXPR_ROOT_PROFILE
        && field->segment_count > 0)
    {
        value = profile_resolve(field, value, ctx, &i);
    }

    for (; value != NULL && i < field->segment_count; i++) {
        value = segment_apply(value, &field->segments[i]);
    }
    return value != NULL ? value : json_null();
}
