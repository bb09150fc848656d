/*
 * Planning: the rows of a profile's schedules, computed from the profile
 * as the pipeline is about to commit it, and for every stored profile by
 * the replanning pass (replan.c) when the schedules change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>
#include <glib.h>

#include "base/clock.h"
#include "schedule/schedule.h"


/* Reads a value as a date, or as an instant into *ms. Returns 1 for a
 * date, 2 for an instant, 0 for neither. */
static int
value_read(const char *value, GDate *date, int64_t *ms)
{
    char *end;

    if (civil_date_parse(value, date) == 0)
        return 1;
    *ms = g_ascii_strtoll(value, &end, 10);
    return end != value && *end == '\0' ? 2 : 0;
}


int
schedule_next_due(const struct schedule_def *def, const char *value,
                  GTimeZone *zone, int64_t from_ms, int64_t *due)
{
    GDate date;
    int64_t ms = 0;
    int kind = value_read(value, &date, &ms);

    if (kind == 0)
        return CRIER_EINVAL;

    /* An instant without a wall time moves as an instant: minutes and
     * hours elapsed, days and longer on the calendar of `zone`. */
    if (kind == 2 && !def->has_at) {
        if (def->offset == 0) {
            *due = ms;
            return 0;
        }
        return civil_instant_add(ms, def->offset_unit, def->offset, zone,
                                 due);
    }
    if (kind == 2)
        civil_from_instant(ms, zone, &date, NULL);
    if (def->offset != 0 &&
        civil_date_add(&date, def->offset_unit, def->offset) != 0)
        return CRIER_EINVAL;
    if (def->yearly)
        return civil_yearly_next(&date, &def->at, zone, from_ms, due);
    return civil_to_instant(&date, &def->at, zone, due);
}


/* Writes a watched JSON value as a row's date text: a date as it is, an
 * instant (milliseconds or RFC 3339) in decimal milliseconds. Returns
 * NULL for any other value. */
static char *
value_text(const json_t *value)
{
    GDate date;
    int64_t ms;

    if (json_is_integer(value))
        return g_strdup_printf("%lld", (long long) json_integer_value(value));
    if (!json_is_string(value))
        return NULL;
    if (civil_date_parse(json_string_value(value), &date) == 0)
        return g_strdup(json_string_value(value));
    if (clock_parse_rfc3339(json_string_value(value), &ms) == 0)
        return g_strdup_printf("%lld", (long long) ms);
    return NULL;
}


/* The planning context of one profile. */
struct plan_ctx {
    GTimeZone *zone;
    const char *zone_name;
    int64_t now;
};


/*
 * Appends the row of `def` for one record's watched value. A one-shot
 * occurrence older than its catch_up allows gets a row with a null due,
 * which never fires. The row is listed all the same, so that the commit
 * keeps a stored row of the same basis as it is: one that came due a
 * moment ago and waits for the trigger's next wake-up still fires.
 */
static void
row_add(const struct schedule_def *def, const struct plan_ctx *pc,
        const char *record, const json_t *value, json_t *rows)
{
    int64_t from = def->catch_up_ms < 0 ? pc->now
                                        : pc->now - def->catch_up_ms;
    char *text = value_text(value);
    char occurrence[16];
    GDate date;
    int64_t due;

    if (text == NULL)
        return;
    if (schedule_next_due(def, text, pc->zone, from, &due) != 0) {
        g_free(text);
        return;
    }
    civil_from_instant(due, pc->zone, &date, NULL);
    civil_date_format(&date, occurrence, sizeof(occurrence));
    json_array_append_new(rows, json_pack(
        "{s:s,s:s,s:s++++,s:s,s:s,s:s,s:o}", "schedule", def->name,
        "record", record, "basis", def->fingerprint, "|", text, "|",
        pc->zone_name, "date", text, "zone", pc->zone_name, "occurrence",
        occurrence, "due", due < from ? json_null() : json_integer(due)));
    g_free(text);
}


/* Adds a row for each record of `kind` ("dependents" or "cases"). A case
 * reads `opened` and `closed` from the record, other names from its
 * attributes. */
static void
records_plan(const struct schedule_def *def, const struct plan_ctx *pc,
             const json_t *profile, const char *kind, json_t *rows)
{
    json_t *records = json_object_get(json_object_get(profile, "related"),
                                      kind);
    const char *id;
    json_t *record;

    json_object_foreach(records, id, record) {
        json_t *value = json_object_get(json_object_get(record,
                                                        "attributes"),
                                        def->attribute);
        char *name;

        if (value == NULL)
            value = json_object_get(record, def->attribute);
        name = g_strdup_printf("%s/%s", kind, id);
        row_add(def, pc, name, value, rows);
        g_free(name);
    }
}


static void
def_plan(const struct schedule_def *def, const struct plan_ctx *pc,
         const json_t *profile, json_t *rows)
{
    switch (def->field) {
    case SCHEDULE_PROFILE_CREATED:
        row_add(def, pc, "profile", json_object_get(profile, "created"),
                rows);
        break;
    case SCHEDULE_PROFILE_ATTRIBUTE:
        row_add(def, pc, "profile",
                json_object_get(json_object_get(profile, "attributes"),
                                def->attribute), rows);
        break;
    case SCHEDULE_DEPENDENTS:
        records_plan(def, pc, profile, "dependents", rows);
        break;
    case SCHEDULE_CASES:
        records_plan(def, pc, profile, "cases", rows);
        break;
    }
}


/* Returns the plan entry of `source` in `out`, adding it when absent. */
static json_t *
plan_entry(json_t *out, size_t first, const char *source,
           const char *profile)
{
    json_t *entry;

    for (size_t i = first; i < json_array_size(out); i++) {
        entry = json_array_get(out, i);
        if (strcmp(json_string_value(json_object_get(entry, "source")),
                   source) == 0)
            return entry;
    }
    entry = json_pack("{s:s,s:s,s:[]}", "source", source, "profile",
                      profile, "rows");
    json_array_append_new(out, entry);
    return entry;
}


void
schedule_plan_profile(const json_t *profile, int64_t now_ms, json_t *out)
{
    GPtrArray *defs = schedule_defs();
    const char *id = json_string_value(json_object_get(profile, "id"));
    const json_t *zone_attr = json_object_get(
        json_object_get(profile, "attributes"), "timezone");
    struct plan_ctx pc;
    size_t first = json_array_size(out);

    if (defs == NULL || id == NULL)
        return;
    pc.zone = civil_zone_or_default(json_string_value(zone_attr));
    pc.zone_name = g_time_zone_get_identifier(pc.zone);
    pc.now = now_ms;

    /* Every source gets an entry, so a source whose rows all went is
     * emptied in the store. */
    for (guint i = 0; i < defs->len; i++) {
        const struct schedule_def *def = g_ptr_array_index(defs, i);
        json_t *entry = plan_entry(out, first, def->source, id);

        def_plan(def, &pc, profile, json_object_get(entry, "rows"));
    }
    g_time_zone_unref(pc.zone);
}
