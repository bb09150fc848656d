/*
 * The `related` field of an event: upserts of a profile's dependents and
 * cases, by id. docs/events.md describes the form. The times stay as the
 * RFC 3339 text that came in, and the pipeline converts them.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "ingest/ingest.h"

#define RELATED_ID_MAX 256
#define RELATED_MAX_ENTRIES 100     /* records of one kind per event */

static const char *const dependent_members[] = {
    "id", "attributes", "remove", NULL
};

static const char *const case_members[] = {
    "id", "type", "status", "opened_at", "closed_at", "outcome",
    "attributes", "remove", NULL
};


static int
member_known(const char *const *members, const char *name)
{
    size_t i;

    for (i = 0; members[i] != NULL; i++)
        if (strcmp(members[i], name) == 0)
            return 1;
    return 0;
}


/* Checks one member of a case entry; `field` names it for a message. */
static int
check_case_member(const char *name, const json_t *v, const char *field,
                  struct crier_input_error *err)
{
    int64_t ms;

    if (json_is_null(v))
        return 0;
    if (strcmp(name, "opened_at") == 0 || strcmp(name, "closed_at") == 0) {
        if (!json_is_string(v) ||
            clock_parse_rfc3339(json_string_value(v), &ms) != 0)
            return event_reject(err, field, "must be an RFC 3339 time with "
                                "an offset, such as 2026-01-05T14:00:00Z, "
                                "or null");
        return 0;
    }
    if (!json_is_string(v))
        return event_reject(err, field, "must be a string or null");
    return 0;
}


/* Checks the members of one entry at `prefix`, such as
 * "related.cases[0]". */
static int
check_entry(const json_t *entry, int is_case, const char *prefix,
            struct crier_input_error *err)
{
    const json_t *id = json_object_get(entry, "id");
    const char *name;
    json_t *v;
    char field[96];

    snprintf(field, sizeof(field), "%s.id", prefix);
    if (id == NULL)
        return event_reject(err, field, "is missing: give each record an "
                            "id");
    if (!event_string_length_valid(id, 1, RELATED_ID_MAX))
        return event_reject(err, field, "must be a string of 1 to 256 "
                            "characters");

    json_object_foreach((json_t *) entry, name, v) {
        snprintf(field, sizeof(field), "%s.%s", prefix, name);
        if (!member_known(is_case ? case_members : dependent_members, name))
            return event_reject(err, field, is_case
                                ? "is not a field of a case record"
                                : "is not a field of a dependent record");
        if (strcmp(name, "remove") == 0 && !json_is_boolean(v))
            return event_reject(err, field, "must be true or false");
        if (strcmp(name, "attributes") == 0 &&
            (!json_is_object(v) || json_object_get(v, "") != NULL))
            return event_reject(err, field, "must be an object of named "
                                "attributes");
        if (is_case && strcmp(name, "id") != 0 &&
            strcmp(name, "remove") != 0 && strcmp(name, "attributes") != 0 &&
            check_case_member(name, v, field, err) != 0)
            return CRIER_EINVAL;
    }
    return 0;
}


static int
check_kind(const char *kind, const json_t *entries,
           struct crier_input_error *err)
{
    int is_case = strcmp(kind, "cases") == 0;
    char prefix[64];
    const json_t *entry;
    size_t i;

    snprintf(prefix, sizeof(prefix), "related.%s", kind);
    if (!json_is_array(entries))
        return event_reject(err, prefix, "must be a list of records");
    if (json_array_size(entries) > RELATED_MAX_ENTRIES)
        return event_reject(err, prefix, "has more than 100 records: send "
                            "them in several events");
    json_array_foreach(entries, i, entry) {
        snprintf(prefix, sizeof(prefix), "related.%s[%zu]", kind, i);
        if (!json_is_object(entry))
            return event_reject(err, prefix, "must be an object");
        if (check_entry(entry, is_case, prefix, err) != 0)
            return CRIER_EINVAL;
    }
    return 0;
}


int
event_related_check(const json_t *v, json_t *ev,
                    struct crier_input_error *err)
{
    const char *kind;
    json_t *entries;
    char field[96];

    if (v == NULL)
        return 0;
    if (!json_is_object(v))
        return event_reject(err, "related", "must be an object with "
                            "\"dependents\" and \"cases\" lists");
    json_object_foreach((json_t *) v, kind, entries) {
        if (strcmp(kind, "dependents") != 0 && strcmp(kind, "cases") != 0) {
            snprintf(field, sizeof(field), "related.%s", kind);
            return event_reject(err, field, "is not a kind of related "
                                "record: use dependents or cases");
        }
        if (check_kind(kind, entries, err) != 0)
            return CRIER_EINVAL;
    }
    if (json_object_size(v) > 0)
        json_object_set(ev, "related", (json_t *) v);
    return 0;
}
