/*
 * Firing: claims due plan rows, and in one store transaction appends an
 * event for each and moves each row to its next occurrence.
 *
 * The claim leases the rows (a write of its own), so another node, or
 * this one after a crash, does not fire them while the firing is under
 * way. Nothing of a firing is stored until the advance commits, so a
 * crash in between leaves the rows due again once their lease ends. A
 * firing that outlasts its lease can meet a second firing of the same
 * rows. The store then appends a row's event only with the advance that
 * moves the row, so each occurrence is still recorded once.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>
#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "ingest/internal.h"
#include "pipeline/pipeline.h"
#include "schedule/schedule.h"
#include "server/server.h"

/* How long a claim leases its rows before another claim may take them. */
#define FIRE_LEASE_MS (60 * 1000)

struct firing {
    char *source;
    schedule_fire_cb done;
    void *arg;
    size_t fired;
};


static void
firing_end(struct firing *f, int status)
{
    f->done(f->arg, status, status == 0 ? f->fired : 0);
    g_free(f->source);
    g_free(f);
}


/* Returns 1 when the store offers schedules_claim and
 * schedules_advance. */
static int
store_has_schedules(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, schedules_advance) +
                        sizeof(ops->schedules_advance) &&
           ops->schedules_claim != NULL && ops->schedules_advance != NULL;
}


/* Builds the properties of a row's event: the schedule, the record
 * (null for the profile's own date), the watched date and the
 * occurrence. A watched instant is written in RFC 3339. */
static json_t *
event_properties(const json_t *row)
{
    const char *record = json_string_value(json_object_get(row, "record"));
    const char *date = json_string_value(json_object_get(row, "date"));
    const char *slash = strchr(record, '/');
    json_t *props;
    GDate parsed;

    props = json_pack("{s:O,s:O}", "schedule", json_object_get(row,
                                                               "schedule"),
                      "occurrence", json_object_get(row, "occurrence"));
    if (slash == NULL)
        json_object_set_new(props, "record", json_null());
    else
        json_object_set_new(props, "record", json_pack(
            "{s:s%,s:s}", "kind", record, (size_t) (slash - record), "id",
            slash + 1));
    if (civil_date_parse(date, &parsed) == 0) {
        json_object_set_new(props, "date", json_string(date));
    } else {
        char when[32];

        clock_format_ms(g_ascii_strtoll(date, NULL, 10), when,
                        sizeof(when));
        json_object_set_new(props, "date", json_string(when));
    }
    return props;
}


/*
 * Computes the step of one fired row: a yearly row moves to its first
 * occurrence after both its due time and now, so a long outage fires the
 * latest occurrence once and never a burst of past years. A one-shot
 * row, or one whose schedule is gone, is done.
 *
 * NOTE: a row fires however late it is claimed; catch_up applies only
 * when a row is planned. See "Triggers" in docs/KNOWN_LIMITS.md.
 */
static json_t *
row_step(const struct schedule_def *def, const json_t *row, int64_t now)
{
    json_t *step = json_pack("{s:O,s:O,s:O,s:O,s:n}", "schedule",
                             json_object_get(row, "schedule"), "profile",
                             json_object_get(row, "profile"), "record",
                             json_object_get(row, "record"), "occurrence",
                             json_object_get(row, "occurrence"), "due");
    int64_t due = json_integer_value(json_object_get(row, "due"));
    int64_t next;
    GTimeZone *zone;

    if (def == NULL || !def->yearly)
        return step;
    zone = civil_zone_or_default(json_string_value(json_object_get(row,
                                                                   "zone")));
    if (schedule_next_due(def, json_string_value(json_object_get(row,
                                                                 "date")),
                          zone, MAX(due + 1, now), &next) == 0) {
        char occurrence[16];
        GDate date;

        civil_from_instant(next, zone, &date, NULL);
        civil_date_format(&date, occurrence, sizeof(occurrence));
        json_object_set_new(step, "due", json_integer(next));
        json_object_set_new(step, "next", json_string(occurrence));
    }
    g_time_zone_unref(zone);
    return step;
}


static void
on_advanced(void *arg, int status, json_t *result)
{
    struct firing *f = arg;

    (void) result;
    if (status != 0)
        log_error("schedule firing failed; the rows fire again after "
                  "their lease", "source=%s error=%s lease_ms=%d",
                  f->source, crier_errname(status), FIRE_LEASE_MS);
    else if (f->fired > 0)
        pipeline_notify();
    firing_end(f, status);
}


static void
on_claimed(void *arg, int status, json_t *result)
{
    struct firing *f = arg;
    json_t *rows = json_object_get(result, "rows");
    json_t *steps, *request;
    int64_t now = clock_now_ms();
    size_t i;
    json_t *row;
    int rc;

    if (status != 0 || json_array_size(rows) == 0) {
        firing_end(f, status);
        return;
    }
    steps = json_array();
    json_array_foreach(rows, i, row) {
        const char *name = json_string_value(json_object_get(row,
                                                             "schedule"));
        const struct schedule_def *def = schedule_find(f->source, name);
        json_t *step = row_step(def, row, now);
        char *type;
        json_t *event;

        json_array_append_new(steps, step);
        if (def == NULL)
            continue;
        type = g_strdup_printf("%s%s", INTERNAL_DATE_PREFIX, name);
        event = internal_event(type, json_string_value(
                                   json_object_get(row, "profile")),
                               json_integer_value(json_object_get(row,
                                                                  "due")),
                               event_properties(row));
        json_object_set_new(event, "source", json_string(f->source));
        /* The store appends the event only if this firing moves the
         * row, so a row that another node fired after this claim's lease
         * ended is not recorded twice. */
        json_object_set_new(step, "event", event);
        f->fired++;
        g_free(type);
    }
    request = json_pack("{s:s,s:o}", "source", f->source, "rows", steps);
    rc = server.store_ops->schedules_advance(server.store->state, request,
                                             on_advanced, f);
    json_decref(request);
    if (rc != 0)
        on_advanced(f, rc, NULL);
}


int
schedule_fire(const char *source, size_t limit, schedule_fire_cb done,
              void *arg)
{
    struct firing *f;
    json_t *request;
    int rc;

    if (!store_has_schedules())
        return CRIER_ENOTSUP;
    if (server.stopping)
        return CRIER_ECLOSED;
    f = g_new0(struct firing, 1);
    f->source = g_strdup(source);
    f->done = done;
    f->arg = arg;
    request = json_pack("{s:s,s:I,s:I,s:I}", "source", source, "now",
                        (json_int_t) clock_now_ms(), "limit",
                        (json_int_t) limit, "lease_ms",
                        (json_int_t) FIRE_LEASE_MS);
    rc = server.store_ops->schedules_claim(server.store->state, request,
                                           on_claimed, f);
    json_decref(request);
    if (rc != 0) {
        g_free(f->source);
        g_free(f);
    }
    return rc;
}
