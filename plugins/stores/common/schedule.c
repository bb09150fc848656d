/*
 * Schedule plans: the "schedules" member of a commit batch and the
 * schedules_claim and schedules_advance requests, parsed alike by both
 * stores. docs/internals/store.md defines every member.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


/* Reads `due`: an integer, or null for a row that has fired for good. */
static int
due_member(const json_t *json, int *has_due, int64_t *due)
{
    json_t *value = json_object_get(json, "due");

    *has_due = 0;
    *due = 0;
    if (json_is_null(value))
        return 0;
    if (!json_is_integer(value))
        return CRIER_EINVAL;
    *has_due = 1;
    *due = json_integer_value(value);
    return 0;
}


void
schedule_row_clear(struct schedule_row *row)
{
    free(row->source);
    free(row->profile);
    free(row->schedule);
    free(row->record);
    free(row->basis);
    free(row->date);
    free(row->zone);
    free(row->occurrence);
    memset(row, 0, sizeof(*row));
}


static int
text_copy(const char *text, char **out)
{
    *out = text == NULL ? NULL : strdup(text);
    return text != NULL && *out == NULL ? CRIER_ENOMEM : 0;
}


int
schedule_row_copy(const struct schedule_row *row, struct schedule_row *copy)
{
    int rc = 0;

    *copy = *row;
    copy->source = copy->profile = copy->schedule = copy->record = NULL;
    copy->basis = copy->date = copy->zone = copy->occurrence = NULL;
    rc |= text_copy(row->source, &copy->source);
    rc |= text_copy(row->profile, &copy->profile);
    rc |= text_copy(row->schedule, &copy->schedule);
    rc |= text_copy(row->record, &copy->record);
    rc |= text_copy(row->basis, &copy->basis);
    rc |= text_copy(row->date, &copy->date);
    rc |= text_copy(row->zone, &copy->zone);
    rc |= text_copy(row->occurrence, &copy->occurrence);
    if (rc != 0) {
        schedule_row_clear(copy);
        return CRIER_ENOMEM;
    }
    return 0;
}


/* Parses one row of a plan, which takes its source and profile. */
static int
row_parse(const json_t *json, const char *source, const char *profile,
          struct schedule_row *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = due_member(json, &out->has_due, &out->due);
    if (rc == 0)
        rc = member_text(json, "schedule", 1, &out->schedule);
    if (rc == 0)
        rc = member_text(json, "record", 1, &out->record);
    if (rc == 0)
        rc = member_text(json, "basis", 1, &out->basis);
    if (rc == 0)
        rc = member_text(json, "date", 1, &out->date);
    if (rc == 0)
        rc = member_text(json, "zone", 1, &out->zone);
    if (rc == 0)
        rc = member_text(json, "occurrence", 1, &out->occurrence);
    if (rc == 0)
        rc = text_copy(source, &out->source);
    if (rc == 0)
        rc = text_copy(profile, &out->profile);
    if (rc < 0)
        schedule_row_clear(out);
    return rc;
}


static void
plan_clear(struct schedule_plan *plan)
{
    for (size_t i = 0; i < plan->row_count; i++)
        schedule_row_clear(&plan->rows[i]);
    free(plan->rows);
    free(plan->source);
    free(plan->profile);
    memset(plan, 0, sizeof(*plan));
}


static int
plan_parse(const json_t *json, struct schedule_plan *out)
{
    json_t *rows = json_object_get(json, "rows");
    json_t *row;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_array(rows))
        return CRIER_EINVAL;
    rc = member_text(json, "source", 1, &out->source);
    if (rc == 0)
        rc = member_text(json, "profile", 1, &out->profile);
    if (rc == 0 && json_array_size(rows) > 0) {
        out->rows = calloc(json_array_size(rows), sizeof(*out->rows));
        if (out->rows == NULL)
            rc = CRIER_ENOMEM;
    }
    json_array_foreach(rows, i, row) {
        if (rc != 0)
            break;
        rc = row_parse(row, out->source, out->profile, &out->rows[i]);
        if (rc == 0)
            out->row_count++;
    }
    if (rc < 0)
        plan_clear(out);
    return rc;
}


static int
plan_parse_item(const json_t *json, void *item)
{
    return plan_parse(json, item);
}


int
schedule_plans_parse(const json_t *json, struct schedule_plan **plans,
                     size_t *count)
{
    void *items;
    int rc = batch_array_parse(json, "schedules", sizeof(**plans),
                               plan_parse_item, &items, count);

    *plans = items;
    if (rc < 0) {
        schedule_plans_clear(*plans, *count);
        *plans = NULL;
        *count = 0;
    }
    return rc;
}


void
schedule_plans_clear(struct schedule_plan *plans, size_t count)
{
    for (size_t i = 0; i < count; i++)
        plan_clear(&plans[i]);
    free(plans);
}


int
schedule_claim_parse(const json_t *json, struct schedule_claim *out)
{
    json_t *now = json_object_get(json, "now");
    json_t *limit = json_object_get(json, "limit");
    json_t *lease = json_object_get(json, "lease_ms");

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_integer(now) ||
        !json_is_integer(limit) || !json_is_integer(lease))
        return CRIER_EINVAL;
    if (json_integer_value(limit) < 1 ||
        json_integer_value(limit) > SCHEDULE_CLAIM_MAX ||
        json_integer_value(lease) < 1)
        return CRIER_EINVAL;
    out->now = json_integer_value(now);
    out->limit = (size_t) json_integer_value(limit);
    out->lease_ms = json_integer_value(lease);
    return member_text(json, "source", 1, &out->source);
}


void
schedule_claim_clear(struct schedule_claim *claim)
{
    free(claim->source);
    memset(claim, 0, sizeof(*claim));
}


static void
step_clear(struct schedule_step *step)
{
    free(step->schedule);
    free(step->profile);
    free(step->record);
    free(step->occurrence);
    free(step->next);
    batch_events_clear(step->events, step->event_count);
    memset(step, 0, sizeof(*step));
}


/* Parses the optional "event" of a step, in the form of a commit batch's
 * events, by handing it to that parser as a list of one. */
static int
step_event_parse(const json_t *json, struct schedule_step *out)
{
    json_t *event = json_object_get(json, "event");
    json_t *list;
    int rc;

    if (event == NULL || json_is_null(event))
        return 0;
    list = json_pack("{s:[O]}", "events", event);
    if (list == NULL)
        return CRIER_ENOMEM;
    rc = batch_events_parse(list, &out->events, &out->event_count);
    json_decref(list);
    return rc;
}


/* Parses a step: `next` is required exactly when `due` is set. */
static int
step_parse(const json_t *json, struct schedule_step *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = due_member(json, &out->has_due, &out->due);
    if (rc == 0)
        rc = member_text(json, "schedule", 1, &out->schedule);
    if (rc == 0)
        rc = member_text(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_text(json, "record", 1, &out->record);
    if (rc == 0)
        rc = member_text(json, "occurrence", 1, &out->occurrence);
    if (rc == 0)
        rc = member_text(json, "next", out->has_due, &out->next);
    if (rc == 0)
        rc = step_event_parse(json, out);
    if (rc < 0)
        step_clear(out);
    return rc;
}


int
schedule_advance_parse(const json_t *json, struct schedule_advance *out)
{
    json_t *rows = json_object_get(json, "rows");
    json_t *row;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_array(rows))
        return CRIER_EINVAL;
    rc = member_text(json, "source", 1, &out->source);
    if (rc == 0 && json_array_size(rows) > 0) {
        out->steps = calloc(json_array_size(rows), sizeof(*out->steps));
        if (out->steps == NULL)
            rc = CRIER_ENOMEM;
    }
    json_array_foreach(rows, i, row) {
        if (rc != 0)
            break;
        rc = step_parse(row, &out->steps[i]);
        if (rc == 0)
            out->step_count++;
    }
    if (rc == 0)
        rc = batch_events_parse(json, &out->events, &out->event_count);
    if (rc < 0)
        schedule_advance_clear(out);
    return rc;
}


void
schedule_advance_clear(struct schedule_advance *advance)
{
    for (size_t i = 0; i < advance->step_count; i++)
        step_clear(&advance->steps[i]);
    free(advance->steps);
    free(advance->source);
    batch_events_clear(advance->events, advance->event_count);
    memset(advance, 0, sizeof(*advance));
}


json_t *
schedule_row_json(const struct schedule_row *row)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "schedule",
                     row->schedule, "profile", row->profile, "record",
                     row->record, "date", row->date, "zone", row->zone,
                     "occurrence", row->occurrence, "due",
                     (json_int_t) row->due);
}
