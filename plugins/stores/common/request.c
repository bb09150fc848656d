/*
 * Parsing of store requests from JSON into the structs of model.h.
 *
 * Required strings must be non-empty, and optional members may be absent
 * or null. A parser that fails returns CRIER_EINVAL (or CRIER_ENOMEM) and
 * leaves nothing allocated in its output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


static int
string_copy(const char *text, char **out)
{
    *out = strdup(text);
    return *out == NULL ? CRIER_ENOMEM : 0;
}


int
member_string(const json_t *object, const char *key, int required,
              char **out)
{
    json_t *value = json_object_get(object, key);

    *out = NULL;
    if (value == NULL || json_is_null(value))
        return required ? CRIER_EINVAL : 0;
    if (!json_is_string(value))
        return CRIER_EINVAL;
    if (required && json_string_length(value) == 0)
        return CRIER_EINVAL;
    return string_copy(json_string_value(value), out);
}


int
member_text(const json_t *object, const char *key, int required,
            char **out)
{
    int rc = member_string(object, key, required, out);

    if (rc == 0 && *out != NULL && **out == '\0') {
        free(*out);
        *out = NULL;
        return CRIER_EINVAL;
    }
    return rc;
}


int
member_integer(const json_t *object, const char *key, int required,
               int64_t fallback, int64_t *out)
{
    json_t *value = json_object_get(object, key);

    *out = fallback;
    if (value == NULL || json_is_null(value))
        return required ? CRIER_EINVAL : 0;
    if (!json_is_integer(value))
        return CRIER_EINVAL;
    *out = json_integer_value(value);
    return 0;
}


/* Reads an optional event_seq: absent, null or an integer of at least 1. */
static int
member_event_seq(const json_t *object, int64_t *out)
{
    int rc = member_integer(object, "event_seq", 0, 0, out);

    if (rc == 0 && json_is_integer(json_object_get(object, "event_seq"))
        && *out < 1)
        return CRIER_EINVAL;
    return rc;
}


/* Finds the array member `key`, or sets *out to NULL when it is absent or
 * null. */
static int
member_array(const json_t *object, const char *key, const json_t **out)
{
    json_t *value = json_object_get(object, key);

    *out = NULL;
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_array(value))
        return CRIER_EINVAL;
    *out = value;
    return 0;
}


/*
 * Returns zeroed room for one `size`-byte item per element of `array`, or
 * NULL when out of memory. An empty or NULL array gets room for one item,
 * because calloc may return NULL for zero items.
 */
static void *
array_alloc(const json_t *array, size_t size)
{
    size_t count = json_array_size(array);

    return calloc(count > 0 ? count : 1, size);
}


int
events_check(const struct crier_event_rec *events, size_t n)
{
    size_t i;

    if (events == NULL && n > 0)
        return CRIER_EINVAL;
    for (i = 0; i < n; i++) {
        if (events[i].source == NULL || events[i].source[0] == '\0')
            return CRIER_EINVAL;
        if (events[i].type == NULL || events[i].json == NULL)
            return CRIER_EINVAL;
    }
    return 0;
}


static int
identity_parse(const json_t *json, struct identity *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "kind", 1, &out->kind);
    if (rc == 0)
        rc = member_string(json, "value", 1, &out->value);
    if (rc < 0) {
        free(out->kind);
        free(out->value);
        memset(out, 0, sizeof(*out));
    }
    return rc;
}


/* Parses an array of identities, or none when `array` is NULL. */
static int
identity_array_parse(const json_t *array, struct identity_list *out)
{
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    out->items = array_alloc(array, sizeof(*out->items));
    if (out->items == NULL)
        return CRIER_ENOMEM;
    for (i = 0; i < json_array_size(array); i++) {
        rc = identity_parse(json_array_get(array, i), &out->items[i]);
        if (rc < 0) {
            identities_clear(out);
            return rc;
        }
        out->count++;
    }
    return 0;
}


int
identities_parse(const json_t *request, struct identity_list *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(request))
        return CRIER_EINVAL;
    if (!json_is_array(json_object_get(request, "identities")))
        return CRIER_EINVAL;
    return identity_array_parse(json_object_get(request, "identities"), out);
}


void
identities_clear(struct identity_list *list)
{
    size_t i;

    for (i = 0; i < list->count; i++) {
        free(list->items[i].kind);
        free(list->items[i].value);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}


static void
profile_write_clear(struct profile_write *profile)
{
    free(profile->id);
    free(profile->attributes);
    free(profile->consent);
    free(profile->related);
    identities_clear(&profile->identities);
    memset(profile, 0, sizeof(*profile));
}


static int
profile_write_parse(const json_t *json, void *item)
{
    struct profile_write *out = item;
    json_t *attributes = json_object_get(json, "attributes");
    json_t *consent = json_object_get(json, "consent");
    json_t *related = json_object_get(json, "related");
    const json_t *identities;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_object(attributes))
        return CRIER_EINVAL;
    rc = member_array(json, "identities", &identities);
    if (rc == 0 && consent != NULL && !json_is_null(consent))
        rc = consent_map_check(consent);
    if (rc == 0 && related != NULL && !json_is_null(related))
        rc = related_map_check(related);
    if (rc == 0)
        rc = member_string(json, "id", 1, &out->id);
    if (rc == 0)
        rc = member_integer(json, "created", 1, 0, &out->created);
    if (rc == 0)
        rc = member_integer(json, "updated", 1, 0, &out->updated);
    if (rc == 0) {
        out->attributes = json_dumps(attributes, JSON_COMPACT);
        if (out->attributes == NULL)
            rc = CRIER_ENOMEM;
    }
    if (rc == 0 && consent != NULL && !json_is_null(consent)) {
        out->consent = json_dumps(consent, JSON_COMPACT);
        if (out->consent == NULL)
            rc = CRIER_ENOMEM;
    }
    if (rc == 0 && related != NULL && !json_is_null(related)) {
        out->related = json_dumps(related, JSON_COMPACT);
        if (out->related == NULL)
            rc = CRIER_ENOMEM;
    }
    if (rc == 0)
        rc = identity_array_parse(identities, &out->identities);
    if (rc < 0)
        profile_write_clear(out);
    return rc;
}


static void
stage_move_clear(struct stage_move *stage)
{
    free(stage->profile);
    free(stage->program);
    free(stage->from);
    free(stage->to);
    free(stage->rule);
    memset(stage, 0, sizeof(*stage));
}


static int
stage_move_parse(const json_t *json, void *item)
{
    struct stage_move *out = item;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_string(json, "program", 1, &out->program);
    if (rc == 0)
        rc = member_string(json, "from", 0, &out->from);
    if (rc == 0)
        rc = member_string(json, "to", 1, &out->to);
    if (rc == 0)
        rc = member_integer(json, "time", 1, 0, &out->time);
    if (rc == 0)
        rc = member_event_seq(json, &out->event_seq);
    if (rc == 0)
        rc = member_string(json, "rule", 0, &out->rule);
    if (rc < 0)
        stage_move_clear(out);
    return rc;
}


static void
profile_merge_clear(struct profile_merge *merge)
{
    free(merge->from);
    free(merge->into);
    memset(merge, 0, sizeof(*merge));
}


/* Parses a merge. A profile cannot be merged into itself. */
static int
profile_merge_parse(const json_t *json, void *item)
{
    struct profile_merge *out = item;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "from", 1, &out->from);
    if (rc == 0)
        rc = member_string(json, "into", 1, &out->into);
    if (rc == 0)
        rc = member_integer(json, "time", 1, 0, &out->time);
    if (rc == 0 && strcmp(out->from, out->into) == 0)
        rc = CRIER_EINVAL;
    if (rc < 0)
        profile_merge_clear(out);
    return rc;
}


static int
event_link_parse(const json_t *json, void *item)
{
    struct event_link *out = item;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "seq", 1, 0, &out->seq);
    if (rc == 0 && out->seq < 1)
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_string(json, "profile", 1, &out->profile);
    return rc;
}


/*
 * Gives a planned job its first state: planned, or suppressed with the
 * error "holdout" for a job with "holdout": true (an experiment's holdout
 * is recorded but never sent), or with the reason in "suppressed" (a
 * bulletin's recipient whose opt-in is unconfirmed).
 */
static int
job_holdout_parse(const json_t *json, struct job *out)
{
    json_t *holdout = json_object_get(json, "holdout");
    json_t *suppressed = json_object_get(json, "suppressed");
    const char *reason = HOLDOUT_ERROR;

    job_plan(out);
    if (suppressed != NULL && !json_is_null(suppressed)) {
        if (!json_is_string(suppressed) ||
            json_string_length(suppressed) == 0)
            return CRIER_EINVAL;
        reason = json_string_value(suppressed);
    } else if (holdout == NULL || json_is_null(holdout) ||
               json_is_false(holdout)) {
        return 0;
    } else if (!json_is_true(holdout)) {
        return CRIER_EINVAL;
    }
    out->state = JOB_SUPPRESSED;
    out->error = strdup(reason);
    out->last_error = strdup(reason);
    return out->error == NULL || out->last_error == NULL ? CRIER_ENOMEM : 0;
}


/* Parses a planned job, whose `created` defaults to `due`. */
static int
job_parse(const json_t *json, void *item)
{
    struct job *out = item;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "key", 1, &out->key);
    if (rc == 0)
        rc = member_string(json, "rule", 1, &out->rule);
    if (rc == 0)
        rc = member_string(json, "program", 0, &out->program);
    if (rc == 0)
        rc = member_string(json, "profile", 0, &out->profile);
    if (rc == 0)
        rc = member_string(json, "channel", 1, &out->channel);
    if (rc == 0)
        rc = member_string(json, "template", 1, &out->template_name);
    if (rc == 0)
        rc = member_string(json, "to", 0, &out->to);
    if (rc == 0)
        rc = member_event_seq(json, &out->event_seq);
    if (rc == 0)
        rc = member_integer(json, "due", 1, 0, &out->due);
    if (rc == 0)
        rc = member_integer(json, "created", 0, out->due, &out->created);
    if (rc == 0)
        rc = member_integer(json, "lane", 0, JOB_LANE_OUTREACH, &out->lane);
    if (rc == 0 && (out->lane < 0 || out->lane > JOB_LANE_MAX))
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_integer(json, "priority", 0, 0, &out->priority);
    if (rc == 0)
        rc = job_holdout_parse(json, out);
    if (rc < 0) {
        job_clear(out);
        return rc;
    }
    return 0;
}


static int
batch_cursor_parse(const json_t *json, struct batch *out)
{
    json_t *cursor = json_object_get(json, "cursor");
    int rc;

    if (cursor == NULL || json_is_null(cursor))
        return 0;
    if (!json_is_object(cursor))
        return CRIER_EINVAL;
    rc = member_integer(cursor, "value", 1, 0, &out->cursor_value);
    if (rc < 0 || out->cursor_value < 0)
        return CRIER_EINVAL;
    rc = member_integer(cursor, "from", 0, -1, &out->cursor_from);
    if (rc < 0 || (json_object_get(cursor, "from") != NULL
                   && !json_is_null(json_object_get(cursor, "from"))
                   && out->cursor_from < 0))
        return CRIER_EINVAL;
    out->has_cursor_from = out->cursor_from >= 0;
    return member_string(cursor, "name", 1, &out->cursor_name);
}


int
batch_array_parse(const json_t *json, const char *key, size_t size,
                  element_parse_fn parse, void **items, size_t *count)
{
    const json_t *array;
    size_t i;
    int rc = member_array(json, key, &array);

    *items = NULL;
    *count = 0;
    if (rc == 0) {
        *items = array_alloc(array, size);
        rc = *items == NULL ? CRIER_ENOMEM : 0;
    }
    for (i = 0; rc == 0 && i < json_array_size(array); i++) {
        rc = parse(json_array_get(array, i), (char *) *items + i * size);
        if (rc == 0)
            (*count)++;
    }
    return rc;
}


int
batch_parse(const json_t *json, struct batch *out)
{
    void *items;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = batch_cursor_parse(json, out);
    if (rc == 0) {
        rc = batch_array_parse(json, "profiles", sizeof(*out->profiles),
                               profile_write_parse, &items,
                               &out->profile_count);
        out->profiles = items;
    }
    if (rc == 0) {
        rc = batch_array_parse(json, "stages", sizeof(*out->stages),
                               stage_move_parse, &items, &out->stage_count);
        out->stages = items;
    }
    if (rc == 0) {
        rc = batch_array_parse(json, "jobs", sizeof(*out->jobs), job_parse,
                               &items, &out->job_count);
        out->jobs = items;
    }
    if (rc == 0) {
        rc = batch_array_parse(json, "merges", sizeof(*out->merges),
                               profile_merge_parse, &items,
                               &out->merge_count);
        out->merges = items;
    }
    if (rc == 0) {
        rc = batch_array_parse(json, "links", sizeof(*out->links),
                               event_link_parse, &items, &out->link_count);
        out->links = items;
    }
    if (rc == 0)
        rc = segment_changes_parse(json, &out->segments,
                                   &out->segment_count);
    if (rc == 0)
        rc = batch_events_parse(json, &out->events, &out->event_count);
    if (rc == 0)
        rc = schedule_plans_parse(json, &out->schedules,
                                  &out->schedule_count);
    if (rc == 0)
        rc = journey_rows_parse(json, &out->journeys, &out->journey_count);
    if (rc == 0)
        rc = goal_hits_parse(json, &out->goals, &out->goal_count);
    if (rc == 0)
        rc = engagements_parse(json, &out->engagements,
                               &out->engagement_count);
    if (rc == 0)
        rc = confirmations_parse(json, &out->confirmations,
                                 &out->confirmation_count);
    if (rc < 0)
        batch_clear(out);
    return rc;
}


int
batch_cursor_check(const struct batch *batch, int64_t stored)
{
    if (batch->cursor_name == NULL || !batch->has_cursor_from)
        return 0;
    return stored == batch->cursor_from ? 0 : CRIER_ESTALE;
}


void
batch_clear(struct batch *batch)
{
    size_t i;

    for (i = 0; i < batch->profile_count; i++)
        profile_write_clear(&batch->profiles[i]);
    for (i = 0; i < batch->stage_count; i++)
        stage_move_clear(&batch->stages[i]);
    for (i = 0; i < batch->job_count; i++)
        job_clear(&batch->jobs[i]);
    for (i = 0; i < batch->merge_count; i++)
        profile_merge_clear(&batch->merges[i]);
    for (i = 0; i < batch->link_count; i++)
        free(batch->links[i].profile);
    free(batch->merges);
    free(batch->links);
    free(batch->cursor_name);
    free(batch->profiles);
    free(batch->stages);
    free(batch->jobs);
    segment_changes_clear(batch->segments, batch->segment_count);
    batch_events_clear(batch->events, batch->event_count);
    schedule_plans_clear(batch->schedules, batch->schedule_count);
    journey_rows_clear(batch->journeys, batch->journey_count);
    goal_hits_clear(batch->goals, batch->goal_count);
    confirmations_clear(batch->confirmations, batch->confirmation_count);
    engagements_clear(batch->engagements, batch->engagement_count);
    memset(batch, 0, sizeof(*batch));
}


/* Reads one send_now entry: a channel name and its lanes, each from 0
 * to JOB_LANE_MAX. */
static int
send_now_entry_parse(const char *channel, const json_t *lanes,
                     struct claim_send_now *out)
{
    const json_t *lane;
    size_t i;

    if (!json_is_array(lanes) || channel[0] == '\0')
        return CRIER_EINVAL;
    json_array_foreach(lanes, i, lane) {
        if (!json_is_integer(lane) || json_integer_value(lane) < 0
            || json_integer_value(lane) > JOB_LANE_MAX)
            return CRIER_EINVAL;
        out->lanes |= 1u << json_integer_value(lane);
    }
    return string_copy(channel, &out->channel);
}


/* Reads the optional "send_now" object ({channel: [lanes]}) and
 * "max_attempts" of a claim. */
static int
send_now_parse(const json_t *json, struct claim_request *out)
{
    const json_t *send_now = json_object_get(json, "send_now");
    const char *channel;
    const json_t *lanes;
    int rc;

    rc = member_integer(json, "max_attempts", 0, 0, &out->max_attempts);
    if (rc < 0 || out->max_attempts < 0)
        return CRIER_EINVAL;
    if (send_now == NULL || json_is_null(send_now))
        return 0;
    if (!json_is_object(send_now))
        return CRIER_EINVAL;
    out->send_now = calloc(json_object_size(send_now) + 1,
                           sizeof(*out->send_now));
    if (out->send_now == NULL)
        return CRIER_ENOMEM;
    json_object_foreach((json_t *)send_now, channel, lanes) {
        rc = send_now_entry_parse(channel, lanes,
                                  &out->send_now[out->send_now_count]);
        out->send_now_count++;
        if (rc < 0)
            return rc;
    }
    return 0;
}


int
claim_parse(const json_t *json, struct claim_request *out)
{
    int64_t limit = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "now", 1, 0, &out->now);
    if (rc == 0)
        rc = member_integer(json, "limit", 1, 0, &limit);
    if (rc == 0 && (limit < 1 || limit > JOBS_LIMIT_MAX))
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_integer(json, "lease_ms", 1, 0, &out->lease_ms);
    if (rc == 0 && out->lease_ms < 1)
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_string(json, "owner", 1, &out->owner);
    if (rc == 0)
        rc = send_now_parse(json, out);
    if (rc < 0) {
        claim_clear(out);
        return rc;
    }
    out->limit = (size_t)limit;
    return 0;
}


void
claim_clear(struct claim_request *claim)
{
    for (size_t i = 0; i < claim->send_now_count; i++)
        free(claim->send_now[i].channel);
    free(claim->send_now);
    free(claim->owner);
    memset(claim, 0, sizeof(*claim));
}


/* Reads the members that the target state uses, as the table in
 * docs/internals/store.md lists them. */
static int
change_members_parse(const json_t *json, struct job_change *out)
{
    int rc;

    /* What went out: set by `sending`, or by the update that ends a
     * hand-over whose claim stored `sending`. */
    rc = member_string(json, "message_id", 0, &out->message_id);
    if (rc == 0)
        rc = member_string(json, "language", 0, &out->language);
    if (rc == 0)
        rc = member_string(json, "template_version", 0,
                           &out->template_version);
    if (rc < 0)
        return rc;

    switch (out->state) {
    case JOB_SENDING:
        out->has_lease_ms = json_is_integer(json_object_get(json,
                                                            "lease_ms"));
        rc = member_integer(json, "lease_ms", 0, 0, &out->lease_ms);
        if (rc == 0 && out->has_lease_ms && out->lease_ms < 1)
            rc = CRIER_EINVAL;
        return rc;
    case JOB_SENT:
        return member_string(json, "provider_id", 0, &out->provider_id);
    case JOB_PLANNED:
        rc = member_integer(json, "due", 1, 0, &out->due);
        if (rc == 0)
            rc = member_string(json, "error", 0, &out->error);
        return rc;
    case JOB_FAILED:
    case JOB_DEAD:
    case JOB_SUPPRESSED:
        return member_string(json, "error", 0, &out->error);
    default:
        return CRIER_EINVAL;
    }
}


/*
 * Parses the optional "attempt" member of an update that ends a
 * hand-over: {"time": ms, "outcome": "sent"|"retry"|"failed",
 * "reply": text or absent}. A `sending` update carries none.
 */
static int
attempt_parse(const json_t *json, struct job_change *out)
{
    static const char *const outcomes[] = { "sent", "retry", "failed" };
    json_t *attempt = json_object_get(json, "attempt");
    int rc;

    if (attempt == NULL || json_is_null(attempt))
        return 0;
    if (!json_is_object(attempt) || out->state == JOB_SENDING)
        return CRIER_EINVAL;
    rc = member_integer(attempt, "time", 1, 0, &out->attempt.time);
    if (rc == 0)
        rc = member_string(attempt, "outcome", 1, &out->attempt.outcome);
    if (rc == 0)
        rc = member_string(attempt, "reply", 0, &out->attempt.reply);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        if (strcmp(out->attempt.outcome, outcomes[i]) == 0)
            return 0;
    return CRIER_EINVAL;
}


int
change_parse(const json_t *json, struct job_change *out)
{
    json_t *state;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    state = json_object_get(json, "state");
    if (!json_is_string(state))
        return CRIER_EINVAL;
    rc = job_state_parse(json_string_value(state));
    if (rc < 0 || rc == JOB_CLAIMED)
        return CRIER_EINVAL;
    out->state = (enum job_state)rc;
    rc = member_integer(json, "id", 1, 0, &out->id);
    if (rc == 0)
        rc = member_integer(json, "generation", 1, 0, &out->generation);
    if (rc == 0)
        rc = member_integer(json, "now", 1, 0, &out->now);
    if (rc == 0)
        rc = change_members_parse(json, out);
    if (rc == 0)
        rc = attempt_parse(json, out);
    if (rc < 0)
        change_clear(out);
    return rc;
}


void
change_clear(struct job_change *change)
{
    free(change->message_id);
    free(change->provider_id);
    free(change->error);
    free(change->language);
    free(change->template_version);
    free(change->attempt.outcome);
    free(change->attempt.reply);
    memset(change, 0, sizeof(*change));
}


int
filter_parse(const json_t *json, struct job_filter *out)
{
    json_t *state;
    int64_t limit;
    int rc;

    memset(out, 0, sizeof(*out));
    out->state = -1;
    if (json != NULL && !json_is_object(json))
        return CRIER_EINVAL;
    state = json_object_get(json, "state");
    if (state != NULL && !json_is_null(state)) {
        if (!json_is_string(state))
            return CRIER_EINVAL;
        out->state = job_state_parse(json_string_value(state));
        if (out->state < 0)
            return CRIER_EINVAL;
    }
    rc = member_integer(json, "limit", 0, JOBS_LIST_DEFAULT, &limit);
    if (rc < 0 || limit < 1)
        return CRIER_EINVAL;
    out->limit = limit > JOBS_LIMIT_MAX ? JOBS_LIMIT_MAX : (size_t)limit;
    rc = member_integer(json, "before", 0, INT64_MAX, &out->before);
    if (rc < 0)
        return rc;
    if (json_is_true(json_object_get(json, "attempts")))
        out->attempts = 1;
    return member_string(json, "rule", 0, &out->rule);
}


int
sent_query_parse(const json_t *json, struct sent_query *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_string(json, "channel", 1, &out->channel);
    if (rc == 0)
        rc = member_integer(json, "since", 1, 0, &out->since);
    if (rc == 0)
        rc = member_integer(json, "lane", 0, -1, &out->lane);
    if (rc == 0 && (out->lane < -1 || out->lane > JOB_LANE_MAX))
        rc = CRIER_EINVAL;
    if (rc < 0)
        sent_query_clear(out);
    return rc;
}


void
sent_query_clear(struct sent_query *query)
{
    free(query->profile);
    free(query->channel);
    memset(query, 0, sizeof(*query));
}


int
address_mark_parse(const json_t *json, struct address_mark *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_string(json, "kind", 1, &out->kind);
    if (rc == 0)
        rc = member_string(json, "value", 1, &out->value);
    if (rc == 0)
        rc = member_string(json, "reason", 1, &out->reason);
    if (rc == 0)
        rc = member_integer(json, "time", 1, 0, &out->time);
    if (rc < 0)
        address_mark_clear(out);
    return rc;
}


void
address_mark_clear(struct address_mark *mark)
{
    free(mark->kind);
    free(mark->value);
    free(mark->reason);
    memset(mark, 0, sizeof(*mark));
}


int
retry_parse(const json_t *json, struct retry_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "id", 1, 0, &out->id);
    if (rc == 0)
        rc = member_integer(json, "now", 1, 0, &out->now);
    return rc;
}


void
filter_clear(struct job_filter *filter)
{
    free(filter->rule);
    memset(filter, 0, sizeof(*filter));
}


int
profile_id_parse(const json_t *json, char **id)
{
    *id = NULL;
    if (!json_is_object(json))
        return CRIER_EINVAL;
    return member_string(json, "id", 1, id);
}


int
erase_parse(const json_t *json, struct erase_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "now", 1, 0, &out->now);
    if (rc == 0)
        rc = member_string(json, "cursor", 0, &out->cursor);
    if (rc == 0 && out->cursor != NULL && out->cursor[0] == '\0')
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_string(json, "id", 1, &out->id);
    if (rc < 0)
        erase_clear(out);
    return rc;
}


void
erase_clear(struct erase_request *request)
{
    free(request->id);
    free(request->cursor);
    memset(request, 0, sizeof(*request));
}


/*
 * Reads the decimal digits at *text, which must fit an int64_t, into *out
 * and moves *text past them. Signs and blanks are invalid.
 */
static int
cursor_number_parse(const char **text, int64_t *out)
{
    const char *p = *text;
    int64_t n = 0;

    if (*p < '0' || *p > '9')
        return CRIER_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (n > (INT64_MAX - (*p - '0')) / 10)
            return CRIER_EINVAL;
        n = n * 10 + (*p - '0');
    }
    *out = n;
    *text = p;
    return 0;
}


/*
 * Parses a `before` cursor, "TIME:KIND:ID" as timeline_result writes it,
 * each part a non-negative decimal that fits an int64_t. Anything else is
 * invalid.
 */
static int
timeline_key_parse(const char *text, struct timeline_key *out)
{
    int64_t time, kind, id;

    if (cursor_number_parse(&text, &time) != 0 || *text++ != ':' ||
        cursor_number_parse(&text, &kind) != 0 || *text++ != ':' ||
        cursor_number_parse(&text, &id) != 0 || *text != '\0')
        return CRIER_EINVAL;
    if (kind < TIMELINE_EVENT || kind > TIMELINE_MESSAGE)
        return CRIER_EINVAL;
    out->time = time;
    out->kind = kind;
    out->id = id;
    return 0;
}


/* Reads the optional `before` cursor of a timeline request. */
static int
timeline_before_parse(const json_t *json, struct timeline_request *out)
{
    char *before;
    int rc = member_string(json, "before", 0, &before);

    if (rc < 0 || before == NULL)
        return rc;
    rc = timeline_key_parse(before, &out->before);
    out->has_before = rc == 0;
    free(before);
    return rc;
}


int
timeline_parse(const json_t *json, struct timeline_request *out)
{
    int64_t limit;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "limit", 0, TIMELINE_LIMIT_DEFAULT, &limit);
    if (rc < 0 || limit < 1)
        return CRIER_EINVAL;
    out->limit = limit > TIMELINE_LIMIT_MAX ? TIMELINE_LIMIT_MAX
                                            : (size_t)limit;
    rc = timeline_before_parse(json, out);
    if (rc == 0)
        rc = member_string(json, "profile", 1, &out->profile);
    return rc;
}


void
timeline_clear(struct timeline_request *request)
{
    free(request->profile);
    memset(request, 0, sizeof(*request));
}


int
timeline_key_compare(const struct timeline_key *a,
                     const struct timeline_key *b)
{
    if (a->time != b->time)
        return a->time > b->time ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind > b->kind ? -1 : 1;
    if (a->id != b->id)
        return a->id > b->id ? -1 : 1;
    return 0;
}
