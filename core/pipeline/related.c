/*
 * Related records of a profile, dependents and cases: set by events,
 * filled in by merges and shown to rules. The stored form is
 * {"dependents": {id: {"attributes": {...}, "updated": ms}}, "cases":
 * {id: {"type", "status", "opened", "closed", "outcome", "attributes",
 * "updated"}}}, with times in milliseconds since the epoch or null.
 */
#include "pipeline/profile.h"

#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "profile/limits.h"


/* Returns the profile's records of `kind`, creating the maps on the way. */
static json_t *
related_records(json_t *profile, const char *kind)
{
    json_t *related = json_object_get(profile, "related");
    json_t *records;

    if (!json_is_object(related)) {
        related = json_object();
        json_object_set_new(profile, "related", related);
    }
    records = json_object_get(related, kind);
    if (!json_is_object(records)) {
        records = json_object();
        json_object_set_new(related, kind, records);
    }
    return records;
}


/* Applies attribute changes to a record, where null removes a name. */
static void
attributes_patch(json_t *record, const json_t *changes)
{
    json_t *attributes = json_object_get(record, "attributes");
    const char *name;
    json_t *value;

    if (!json_is_object(attributes)) {
        attributes = json_object();
        json_object_set_new(record, "attributes", attributes);
    }
    json_object_foreach((json_t *) changes, name, value) {
        if (json_is_null(value))
            json_object_del(attributes, name);
        else
            json_object_set(attributes, name, value);
    }
}


/* Sets a time member from RFC 3339 text or null. Text that does not parse
 * leaves the member as it is. */
static void
time_set(json_t *record, const char *name, const json_t *value)
{
    int64_t ms;

    if (json_is_null(value))
        json_object_set_new(record, name, json_null());
    else if (json_is_string(value) &&
             clock_parse_rfc3339(json_string_value(value), &ms) == 0)
        json_object_set_new(record, name, json_integer(ms));
}


/* Sets a text member from a string or null. Other values change
 * nothing. */
static void
text_set(json_t *record, const char *name, const json_t *value)
{
    if (json_is_string(value) || json_is_null(value))
        json_object_set(record, name, (json_t *) value);
}


/* Returns a new empty record: a case one when `is_case`, else a
 * dependent one. */
static json_t *
record_new(int is_case)
{
    if (is_case)
        return json_pack("{s:n,s:n,s:n,s:n,s:n,s:{}}", "type", "status",
                         "opened", "closed", "outcome", "attributes");
    return json_pack("{s:{}}", "attributes");
}


/* Upserts or removes one record from an event's entry, whose case
 * members use the event's names (opened_at, closed_at). Returns -1
 * without a change when the entry would add a record past
 * PROFILE_RELATED_MAX, else 0. */
static int
entry_apply(json_t *records, const json_t *entry, int is_case,
            int64_t now_ms)
{
    const char *id = json_string_value(json_object_get(entry, "id"));
    json_t *record;

    if (id == NULL || id[0] == '\0')
        return 0;
    if (json_is_true(json_object_get(entry, "remove"))) {
        json_object_del(records, id);
        return 0;
    }
    record = json_object_get(records, id);
    if (!json_is_object(record)) {
        if (json_object_size(records) >= PROFILE_RELATED_MAX)
            return -1;
        record = record_new(is_case);
        json_object_set_new(records, id, record);
    }
    /* NOTE: a record's own attributes have no limit, so each event may
     * still add up to 64 KiB to one record (docs/KNOWN_LIMITS.md,
     * "Profiles"). */
    if (json_is_object(json_object_get(entry, "attributes")))
        attributes_patch(record, json_object_get(entry, "attributes"));
    if (is_case) {
        text_set(record, "type", json_object_get(entry, "type"));
        text_set(record, "status", json_object_get(entry, "status"));
        text_set(record, "outcome", json_object_get(entry, "outcome"));
        time_set(record, "opened", json_object_get(entry, "opened_at"));
        time_set(record, "closed", json_object_get(entry, "closed_at"));
    }
    json_object_set_new(record, "updated", json_integer(now_ms));
    return 0;
}


/* Copies member `from` of `kase` into `entry` as `to`, when present and
 * `to` is not set yet. */
static void
member_rename(json_t *entry, const char *to, const json_t *kase,
              const char *from)
{
    json_t *value = json_object_get(kase, from);

    if (value != NULL && json_object_get(entry, to) == NULL)
        json_object_set(entry, to, value);
}


/*
 * Returns the case entry that an event of the case trigger carries in
 * properties.case, or NULL when the event has none. Open311 cases name
 * the type service_name and the outcome status_notes, and generic cases
 * name them type and outcome. New reference.
 */
static json_t *
case_event_entry(const json_t *event, const char *type)
{
    json_t *kase = json_object_get(json_object_get(event, "properties"),
                                   "case");
    json_t *entry;

    if (type == NULL || strncmp(type, "case.", 5) != 0 ||
        !json_is_string(json_object_get(kase, "id")))
        return NULL;
    entry = json_object();
    member_rename(entry, "id", kase, "id");
    member_rename(entry, "type", kase, "service_name");
    member_rename(entry, "type", kase, "type");
    member_rename(entry, "status", kase, "status");
    member_rename(entry, "opened_at", kase, "opened_at");
    member_rename(entry, "closed_at", kase, "closed_at");
    member_rename(entry, "outcome", kase, "status_notes");
    member_rename(entry, "outcome", kase, "outcome");
    if (json_is_object(json_object_get(kase, "attributes")))
        member_rename(entry, "attributes", kase, "attributes");
    return entry;
}


void
profile_related_apply(json_t *profile, const json_t *event,
                      const char *type, int64_t now_ms)
{
    json_t *related = json_object_get(event, "related");
    json_t *dependents = json_object_get(related, "dependents");
    json_t *cases = json_object_get(related, "cases");
    json_t *case_entry = case_event_entry(event, type);
    json_t *entry;
    size_t i, skipped = 0;

    if (json_array_size(dependents) == 0 && json_array_size(cases) == 0 &&
        case_entry == NULL)
        return;
    json_array_foreach(dependents, i, entry)
        skipped += entry_apply(related_records(profile, "dependents"), entry,
                               0, now_ms) != 0;
    if (case_entry != NULL)
        skipped += entry_apply(related_records(profile, "cases"),
                               case_entry, 1, now_ms) != 0;
    json_array_foreach(cases, i, entry)
        skipped += entry_apply(related_records(profile, "cases"), entry, 1,
                               now_ms) != 0;
    json_decref(case_entry);
    if (skipped > 0)
        log_warn("related records ignored: profile too large",
                 "profile=%s type=%s ignored=%zu max=%d",
                 json_string_value(json_object_get(profile, "id")), type,
                 skipped, PROFILE_RELATED_MAX);
    json_object_set_new(profile, "_dirty", json_true());
    json_object_set_new(profile, "updated", json_integer(now_ms));
}


void
profile_related_merge(json_t *into, const json_t *from)
{
    json_t *related = json_object_get(from, "related");

    json_object_update_missing(related_records(into, "dependents"),
                               json_object_get(related, "dependents"));
    json_object_update_missing(related_records(into, "cases"),
                               json_object_get(related, "cases"));
}


/* Returns the view of the records of `kind`: a list of objects with the
 * attributes, then for cases the case members, then "id". */
static json_t *
records_view(const json_t *stored, const char *kind)
{
    static const char *const case_members[] = {
        "type", "status", "opened", "closed", "outcome", NULL
    };
    json_t *records = json_object_get(json_object_get(stored, "related"),
                                      kind);
    json_t *list = json_array();
    const char *id;
    json_t *record;
    json_t *item;
    size_t i;

    json_object_foreach(records, id, record) {
        item = json_deep_copy(json_object_get(record, "attributes"));
        if (!json_is_object(item)) {
            json_decref(item);
            item = json_object();
        }
        for (i = 0; strcmp(kind, "cases") == 0 && case_members[i]; i++)
            json_object_set(item, case_members[i],
                            json_object_get(record, case_members[i])
                            ? json_object_get(record, case_members[i])
                            : json_null());
        json_object_set_new(item, "id", json_string(id));
        json_array_append_new(list, item);
    }
    return list;
}


void
profile_related_view(const json_t *stored, json_t *flat)
{
    json_object_set_new(flat, "dependents",
                        records_view(stored, "dependents"));
    json_object_set_new(flat, "cases", records_view(stored, "cases"));
}
