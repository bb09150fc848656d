/*
 * The job state machine, shared by every store so that claims and updates
 * follow the same rules whatever keeps the rows.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


static const char *const state_names[JOB_STATE_COUNT] = {
    [JOB_PLANNED] = "planned",
    [JOB_CLAIMED] = "claimed",
    [JOB_SENDING] = "sending",
    [JOB_SENT] = "sent",
    [JOB_FAILED] = "failed",
    [JOB_DEAD] = "dead",
    [JOB_SUPPRESSED] = "suppressed"
};


const char *
job_state_name(enum job_state state)
{
    if ((unsigned)state >= JOB_STATE_COUNT)
        return "unknown";
    return state_names[state];
}


int
job_state_parse(const char *name)
{
    int i;

    for (i = 0; i < JOB_STATE_COUNT; i++) {
        if (strcmp(state_names[i], name) == 0)
            return i;
    }
    return -1;
}


/* Frees the job's attempt_log. */
static void
job_attempts_clear(struct job *job)
{
    for (size_t i = 0; i < job->attempt_count; i++) {
        free(job->attempt_log[i].outcome);
        free(job->attempt_log[i].reply);
    }
    free(job->attempt_log);
    job->attempt_log = NULL;
    job->attempt_count = 0;
}


int
job_attempt_append(struct job *job, const struct job_attempt *attempt)
{
    struct job_attempt *log;
    struct job_attempt copy = {
        .number = attempt->number,
        .time = attempt->time,
        .outcome = strdup(attempt->outcome),
        .reply = attempt->reply != NULL ? strdup(attempt->reply) : NULL,
    };

    log = realloc(job->attempt_log,
                  (job->attempt_count + 1) * sizeof(*log));
    if (log == NULL || copy.outcome == NULL
        || (attempt->reply != NULL && copy.reply == NULL)) {
        if (log != NULL)
            job->attempt_log = log;
        free(copy.outcome);
        free(copy.reply);
        return CRIER_ENOMEM;
    }
    log[job->attempt_count++] = copy;
    job->attempt_log = log;
    return 0;
}


void
job_clear(struct job *job)
{
    free(job->key);
    free(job->rule);
    free(job->program);
    free(job->profile);
    free(job->channel);
    free(job->template_name);
    free(job->to);
    free(job->owner);
    free(job->message_id);
    free(job->provider_id);
    free(job->error);
    free(job->delivery_status);
    free(job->delivery_code);
    free(job->delivery_text);
    free(job->last_error);
    free(job->language);
    free(job->template_version);
    job_attempts_clear(job);
    memset(job, 0, sizeof(*job));
}


void
job_plan(struct job *job)
{
    job->state = JOB_PLANNED;
    job->generation = 0;
    job->attempts = 0;
    job->leased = 0;
    job->lease_until = 0;
    job->updated = job->created;
}


int
job_claimable(const struct job *job, int64_t now)
{
    switch (job->state) {
    case JOB_PLANNED:
        return job->due <= now;
    case JOB_CLAIMED:
    case JOB_SENDING:
        return job->leased && job->lease_until <= now;
    default:
        return 0;
    }
}


int
job_compare_due(const struct job *a, const struct job *b)
{
    if (a->lane != b->lane)
        return a->lane < b->lane ? -1 : 1;
    if (a->due != b->due)
        return a->due < b->due ? -1 : 1;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return 0;
}


/* Replaces *field with a copy of `text`, or with NULL for NULL. */
static int
field_set(char **field, const char *text)
{
    char *copy = NULL;

    if (text != NULL) {
        copy = strdup(text);
        if (copy == NULL)
            return CRIER_ENOMEM;
    }
    free(*field);
    *field = copy;
    return 0;
}


/* Returns nonzero when `claim` takes `job` straight to `sending`. */
static int
job_sends_now(const struct job *job, const struct claim_request *claim)
{
    if (claim->max_attempts > 0 && job->attempts >= claim->max_attempts)
        return 0;
    if (job->lane < 0 || job->lane > JOB_LANE_MAX)
        return 0;
    for (size_t i = 0; i < claim->send_now_count; i++)
        if (strcmp(claim->send_now[i].channel, job->channel) == 0)
            return (claim->send_now[i].lanes >> job->lane) & 1u;
    return 0;
}


int
job_claim(struct job *job, const struct claim_request *claim)
{
    int rc = field_set(&job->owner, claim->owner);

    if (rc < 0)
        return rc;
    if (job_sends_now(job, claim)) {
        job->state = JOB_SENDING;
        job->attempts++;
    } else {
        job->state = JOB_CLAIMED;
    }
    job->generation++;
    job->leased = 1;
    job->lease_until = claim->now + claim->lease_ms;
    job->updated = claim->now;
    return 0;
}


/* Copies the strings an update may write, so that a failure changes
 * nothing. */
struct change_copies {
    char *message_id;
    char *provider_id;
    char *error;
    char *last_error;
    char *language;
    char *template_version;
};


static int
change_copies_make(const struct job *job, const struct job_change *change,
                   struct change_copies *out)
{
    memset(out, 0, sizeof(*out));
    if (change->message_id != NULL)
        out->message_id = strdup(change->message_id);
    if (change->provider_id != NULL)
        out->provider_id = strdup(change->provider_id);
    if (change->language != NULL)
        out->language = strdup(change->language);
    if (change->template_version != NULL)
        out->template_version = strdup(change->template_version);
    if (change->error != NULL) {
        out->last_error = strdup(change->error);
        if (job->error == NULL)
            out->error = strdup(change->error);
    }
    if ((change->message_id != NULL && out->message_id == NULL)
        || (change->provider_id != NULL && out->provider_id == NULL)
        || (change->language != NULL && out->language == NULL)
        || (change->template_version != NULL
            && out->template_version == NULL)
        || (change->error != NULL && out->last_error == NULL)
        || (change->error != NULL && job->error == NULL
            && out->error == NULL)) {
        free(out->message_id);
        free(out->provider_id);
        free(out->error);
        free(out->last_error);
        free(out->language);
        free(out->template_version);
        return CRIER_ENOMEM;
    }
    return 0;
}


static void
change_copies_free(struct change_copies *copies)
{
    free(copies->message_id);
    free(copies->provider_id);
    free(copies->error);
    free(copies->last_error);
    free(copies->language);
    free(copies->template_version);
}


/* Moves a copy into *field when there is one, keeping the old value
 * otherwise. */
static void
field_take(char **field, char *copy)
{
    if (copy == NULL)
        return;
    free(*field);
    *field = copy;
}


int
job_change_apply(struct job *job, const struct job_change *change)
{
    struct change_copies copies;
    int rc;

    if (job->state != JOB_CLAIMED && job->state != JOB_SENDING)
        return CRIER_ESTALE;
    if (job->generation != change->generation)
        return CRIER_ESTALE;
    rc = change_copies_make(job, change, &copies);
    if (rc < 0)
        return rc;

    /* Only an update of a job being sent ends a hand-over. The attempt
     * takes the number that `sending` counted. */
    if (change->attempt.outcome != NULL && job->state == JOB_SENDING) {
        struct job_attempt attempt = change->attempt;

        attempt.number = job->attempts;
        rc = job_attempt_append(job, &attempt);
        if (rc < 0) {
            change_copies_free(&copies);
            return rc;
        }
    }

    field_take(&job->message_id, copies.message_id);
    field_take(&job->provider_id, copies.provider_id);
    field_take(&job->error, copies.error);
    field_take(&job->last_error, copies.last_error);
    field_take(&job->language, copies.language);
    field_take(&job->template_version, copies.template_version);

    /* Only a job being sent keeps a lease, because the others wait or are
     * done. */
    if (change->state == JOB_SENDING) {
        job->attempts++;
        if (change->has_lease_ms)
            job->lease_until = change->now + change->lease_ms;
    } else {
        /* A job being sent that is held, suppressed or failed with no
         * verdict was stopped before its hand-over, so it gives back the
         * attempt that `sending` counted. */
        if (job->state == JOB_SENDING && change->attempt.outcome == NULL
            && (change->state == JOB_PLANNED
                || change->state == JOB_SUPPRESSED
                || change->state == JOB_FAILED)
            && job->attempts > 0)
            job->attempts--;
        job->leased = 0;
        job->lease_until = 0;
    }
    if (change->state == JOB_PLANNED)
        job->due = change->due;
    job->state = change->state;
    job->updated = change->now;
    return 0;
}


int
job_counts_as_sent(const struct job *job, const struct sent_query *query)
{
    if (job->state != JOB_SENT && job->state != JOB_SENDING)
        return 0;
    if (job->updated < query->since)
        return 0;
    if (query->lane >= 0 && job->lane != query->lane)
        return 0;
    if (query->lane < 0 && job->lane == JOB_LANE_BULK)
        return 0;
    return job->profile != NULL && strcmp(job->profile, query->profile) == 0
           && strcmp(job->channel, query->channel) == 0;
}


int
job_retry(struct job *job, int64_t now)
{
    if (job->state != JOB_FAILED && job->state != JOB_DEAD)
        return CRIER_ESTALE;
    job->state = JOB_PLANNED;
    job->attempts = 0;
    job->leased = 0;
    job->lease_until = 0;
    job->due = now;
    job->updated = now;
    return 0;
}
