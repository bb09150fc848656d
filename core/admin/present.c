/*
 * The stored form of profiles and timeline entries keeps times as
 * milliseconds since the epoch. The admin API shows them as RFC 3339.
 */
#include "admin/admin_int.h"
#include "base/clock.h"


/* Replaces obj[name], when it is an integer, with its RFC 3339 form. */
static void
time_present(json_t *obj, const char *name)
{
    json_t *ms = json_object_get(obj, name);
    char text[32];

    if (!json_is_integer(ms))
        return;
    clock_format_ms(json_integer_value(ms), text, sizeof(text));
    json_object_set_new(obj, name, json_string(text));
}


/* Shows the times of related records, {id: record}, as RFC 3339. */
static void
related_present(json_t *records)
{
    const char *id;
    json_t *record;

    json_object_foreach(records, id, record) {
        time_present(record, "opened");
        time_present(record, "closed");
        time_present(record, "updated");
    }
}


void
admin_profile_present(json_t *profile)
{
    json_t *stages = json_object_get(profile, "stages");
    json_t *consent = json_object_get(profile, "consent");
    const char *name;
    json_t *entry;

    time_present(profile, "created");
    time_present(profile, "updated");
    json_object_foreach(stages, name, entry)
        time_present(entry, "since");
    json_object_foreach(consent, name, entry)
        time_present(entry, "time");
    related_present(json_object_get(json_object_get(profile, "related"),
                                    "dependents"));
    related_present(json_object_get(json_object_get(profile, "related"),
                                    "cases"));
}


void
admin_entries_present(json_t *entries)
{
    size_t i;
    json_t *entry;

    json_array_foreach(entries, i, entry)
        time_present(entry, "time");
}
