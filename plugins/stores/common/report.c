/*
 * Report counters: the goal hits and engagements of a commit batch, the
 * report_read request and its result, parsed and built alike by both
 * stores (docs/internals/store.md, "Reports").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


int64_t
report_day(int64_t ms)
{
    int64_t day = ms / REPORT_DAY_MS;

    /* Division truncates toward zero, and a day before 1970 starts
     * earlier, not later. */
    if (ms < 0 && ms % REPORT_DAY_MS != 0)
        day--;
    return day * REPORT_DAY_MS;
}


const char *
report_state_metric(const struct job *job, char *buf, size_t size)
{
    switch (job->state) {
    case JOB_SENT:
    case JOB_FAILED:
    case JOB_DEAD:
        snprintf(buf, size, "%s", job_state_name(job->state));
        return buf;
    case JOB_SUPPRESSED:
        snprintf(buf, size, "suppressed:%s",
                 job->last_error != NULL ? job->last_error : "unknown");
        return buf;
    default:
        return NULL;
    }
}


const char *
job_plan_metric(const struct job *job, char *buf, size_t size)
{
    if (job->state == JOB_SUPPRESSED)
        return report_state_metric(job, buf, size);
    return "planned";
}


static int
integer_member(const json_t *json, const char *key, int64_t *out)
{
    json_t *value = json_object_get(json, key);

    if (!json_is_integer(value))
        return CRIER_EINVAL;
    *out = json_integer_value(value);
    return 0;
}


static void
goal_hit_clear(struct goal_hit *hit)
{
    free(hit->goal);
    free(hit->profile);
    free(hit->program);
    memset(hit, 0, sizeof(*hit));
}


static int
goal_hit_parse(const json_t *json, struct goal_hit *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = integer_member(json, "event_seq", &out->event_seq);
    if (rc == 0)
        rc = integer_member(json, "time", &out->time);
    if (rc == 0)
        rc = integer_member(json, "window_ms", &out->window_ms);
    if (rc == 0 && (out->event_seq < 1 || out->window_ms < 0))
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_text(json, "goal", 1, &out->goal);
    if (rc == 0)
        rc = member_text(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_text(json, "program", 1, &out->program);
    if (rc < 0)
        goal_hit_clear(out);
    return rc;
}


/* The counter an engagement adds to; `bot` only matters for opens and
 * clicks, because an unsubscribe is an act of the resident. */
static const char *
engagement_metric(const char *kind, int bot)
{
    if (strcmp(kind, "opened") == 0)
        return bot ? "opened_bot" : "opened";
    if (strcmp(kind, "clicked") == 0)
        return bot ? "clicked_bot" : "clicked";
    if (strcmp(kind, "unsubscribed") == 0)
        return "unsubscribed";
    return NULL;
}


/* Returns nonzero for a kind that is a delivery status reported by a
 * provider after `sent` (docs/deliverability.md). */
int
delivery_status_valid(const char *kind)
{
    static const char *const statuses[] = {
        "delivered", "bounced", "complained", "undelivered", "failed", NULL
    };

    for (int i = 0; statuses[i] != NULL; i++)
        if (strcmp(kind, statuses[i]) == 0)
            return 1;
    return 0;
}


static void
engagement_clear(struct engagement *item)
{
    free(item->key);
    free(item->message_id);
    free(item->metric);
    free(item->code);
    free(item->text);
    free(item->status);
    free(item->invalidate);
    memset(item, 0, sizeof(*item));
}


static int
engagement_parse(const json_t *json, struct engagement *out)
{
    const char *kind = json_string_value(json_object_get(json, "kind"));
    json_t *bot = json_object_get(json, "bot");
    const char *metric;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || kind == NULL)
        return CRIER_EINVAL;
    if (bot != NULL && !json_is_null(bot) && !json_is_boolean(bot))
        return CRIER_EINVAL;
    out->delivery = delivery_status_valid(kind);
    if (out->delivery)
        metric = strcmp(kind, "failed") == 0 ? "delivery_failed" : kind;
    else
        metric = engagement_metric(kind, json_is_true(bot));
    if (metric == NULL)
        return CRIER_EINVAL;
    rc = integer_member(json, "time", &out->time);
    if (rc == 0 && out->delivery) {
        out->status = strdup(kind);
        rc = out->status == NULL ? CRIER_ENOMEM : 0;
    }
    /* A delivery status may name its job by Message-ID alone, because a
     * bounce or a provider's receipt carries that and not the key. */
    if (rc == 0)
        rc = member_text(json, "key", !out->delivery, &out->key);
    if (rc == 0 && out->delivery)
        rc = member_text(json, "message_id", out->key == NULL,
                         &out->message_id);
    if (rc == 0 && out->delivery)
        rc = member_text(json, "code", 0, &out->code);
    if (rc == 0 && out->delivery)
        rc = member_text(json, "text", 0, &out->text);
    if (rc == 0 && out->delivery)
        rc = member_text(json, "invalidate", 0, &out->invalidate);
    if (rc == 0) {
        out->metric = strdup(metric);
        rc = out->metric == NULL ? CRIER_ENOMEM : 0;
    }
    if (rc < 0)
        engagement_clear(out);
    return rc;
}


static int
goal_hit_parse_item(const json_t *json, void *item)
{
    return goal_hit_parse(json, item);
}


static int
engagement_parse_item(const json_t *json, void *item)
{
    return engagement_parse(json, item);
}


int
goal_hits_parse(const json_t *json, struct goal_hit **hits, size_t *count)
{
    void *items;
    int rc = batch_array_parse(json, "goals", sizeof(**hits),
                               goal_hit_parse_item, &items, count);

    *hits = items;
    return rc;
}


void
goal_hits_clear(struct goal_hit *hits, size_t count)
{
    for (size_t i = 0; i < count; i++)
        goal_hit_clear(&hits[i]);
    free(hits);
}


int
engagements_parse(const json_t *json, struct engagement **out,
                  size_t *count)
{
    void *items;
    int rc = batch_array_parse(json, "engagements", sizeof(**out),
                               engagement_parse_item, &items, count);

    *out = items;
    return rc;
}


void
engagements_clear(struct engagement *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        engagement_clear(&items[i]);
    free(items);
}


int
report_request_parse(const json_t *json, struct report_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = integer_member(json, "since", &out->since);
    if (rc == 0)
        rc = integer_member(json, "until", &out->until);
    if (rc == 0)
        rc = member_text(json, "program", 0, &out->program);
    return rc;
}


void
report_request_clear(struct report_request *request)
{
    free(request->program);
    memset(request, 0, sizeof(*request));
}


json_t *
report_result_new(void)
{
    return json_pack("{s:[],s:[],s:[],s:[]}", "messages", "residents",
                     "moves", "durations");
}


/* Appends `row`, taken over, to the list `name` of `result`. */
static int
row_append(json_t *result, const char *name, json_t *row)
{
    if (row == NULL)
        return CRIER_ENOMEM;
    return json_array_append_new(json_object_get(result, name), row) == 0
           ? 0 : CRIER_ENOMEM;
}


int
report_message_add(json_t *result, const char *rule,
                   const char *template_name, const char *channel,
                   const char *metric, int64_t count)
{
    return row_append(result, "messages",
                      json_pack("{s:s,s:s,s:s,s:s,s:I}", "rule", rule,
                                "template", template_name, "channel",
                                channel, "metric", metric, "count",
                                (json_int_t) count));
}


int
report_resident_add(json_t *result, const char *program, const char *stage,
                    int64_t count)
{
    return row_append(result, "residents",
                      json_pack("{s:s,s:s,s:I}", "program", program,
                                "stage", stage, "count",
                                (json_int_t) count));
}


int
report_move_add(json_t *result, const char *program, int64_t day,
                const char *from, const char *to, int64_t count)
{
    return row_append(result, "moves",
                      json_pack("{s:s,s:I,s:s?,s:s,s:I}", "program",
                                program, "day", (json_int_t) day, "from",
                                from, "to", to, "count",
                                (json_int_t) count));
}


int
report_duration_add(json_t *result, const char *program, const char *stage,
                    int64_t days, int64_t count)
{
    return row_append(result, "durations",
                      json_pack("{s:s,s:s,s:I,s:I}", "program", program,
                                "stage", stage, "days", (json_int_t) days,
                                "count", (json_int_t) count));
}
