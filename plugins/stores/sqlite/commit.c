/* The pipeline batch. */
#include "sqlite.h"


/* Fails with CRIER_ESTALE when the batch's cursor no longer has the
 * value the batch was read at. */
static int
cursor_check(struct connection *conn, struct request *req,
             const struct batch *batch)
{
    int64_t stored;
    int rc = cursor_value(conn, req, batch->cursor_name, &stored);

    return rc < 0 ? rc : batch_cursor_check(batch, stored);
}


/*
 * Applies merges, profiles, schedule plans, stages, segment changes,
 * appended events, jobs, goal hits, engagements, links and then the
 * cursor, with the report counters that they change. The writer's
 * savepoint around the request undoes all of it when one step fails,
 * such as a merge into a missing profile (CRIER_ENOTFOUND).
 */
int
batch_commit(struct connection *conn, struct request *req)
{
    const struct batch *batch = &req->input.batch;
    char metric[128];
    size_t planned = 0;
    size_t merged = 0;
    size_t i;
    int inserted;
    int rc = 0;

    if (batch->cursor_name != NULL && batch->has_cursor_from)
        rc = cursor_check(conn, req, batch);
    for (i = 0; rc == 0 && i < batch->merge_count; i++) {
        rc = merge_apply(conn, req, &batch->merges[i], &inserted);
        merged += rc == 0 && inserted;
    }
    for (i = 0; rc == 0 && i < batch->profile_count; i++)
        rc = profile_write(conn, req, &batch->profiles[i]);
    for (i = 0; rc == 0 && i < batch->schedule_count; i++)
        rc = schedule_plan_apply(conn, req, &batch->schedules[i]);
    for (i = 0; rc == 0 && i < batch->journey_count; i++)
        rc = journey_row_apply(conn, req, &batch->journeys[i]);
    for (i = 0; rc == 0 && i < batch->stage_count; i++) {
        rc = report_stage_move(conn, req, &batch->stages[i]);
        if (rc == 0)
            rc = stage_move(conn, req, &batch->stages[i]);
    }
    for (i = 0; rc == 0 && i < batch->segment_count; i++)
        rc = segment_apply(conn, req, &batch->segments[i]);
    for (i = 0; rc == 0 && i < batch->confirmation_count; i++)
        rc = subscriptions_confirm(conn, req, &batch->confirmations[i]);
    if (rc == 0)
        rc = batch_events_append(conn, req, batch->events,
                                 batch->event_count);
    for (i = 0; rc == 0 && i < batch->job_count; i++) {
        const struct job *job = &batch->jobs[i];

        rc = job_insert(conn, req, job, &inserted);
        if (rc == 0 && inserted)
            rc = report_count_add(conn, req, job->rule, job->template_name,
                                  job->channel,
                                  job_plan_metric(job, metric,
                                                  sizeof(metric)),
                                  job->created);
        planned += rc == 0 && inserted;
    }
    /* Goals and engagements come after the jobs, so a goal can credit a
     * job sent before this batch and an open can find any stored job. */
    for (i = 0; rc == 0 && i < batch->goal_count; i++)
        rc = goal_hit_apply(conn, req, &batch->goals[i]);
    for (i = 0; rc == 0 && i < batch->engagement_count; i++)
        rc = engagement_apply(conn, req, &batch->engagements[i]);
    for (i = 0; rc == 0 && i < batch->link_count; i++)
        rc = link_apply(conn, req, &batch->links[i]);
    if (rc == 0 && batch->cursor_name != NULL)
        rc = cursor_set(conn, req, batch->cursor_name, batch->cursor_value);
    if (rc < 0)
        return rc;
    req->result = json_pack("{s:I, s:I, s:I, s:I}", "planned",
                            (json_int_t)planned, "existing",
                            (json_int_t)(batch->job_count - planned),
                            "merged", (json_int_t)merged, "appended",
                            (json_int_t)batch->event_count);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
