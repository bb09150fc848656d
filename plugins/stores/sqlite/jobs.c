/*
 * Jobs. Claims and updates read the rows into `struct job`, apply the
 * shared state machine of job.c and write the rows back, so that every
 * store follows the same rules.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"


static const char job_insert_sql[] =
    "INSERT INTO jobs (key, rule, program, profile, event_seq, channel,"
    " template, recipient, state, generation, attempts, due, created,"
    " updated, lane, priority, error, last_error) VALUES (?1, ?2, ?3, ?4,"
    " ?5, ?6, ?7, ?8, ?9, 0, 0, ?10, ?11, ?11, ?12, ?13, ?14, ?14)"
    " ON CONFLICT (key) DO NOTHING";

static const char job_select_sql[] =
    "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?1";

/* The columns that job_change_apply, the caps and the report counter of
 * an update need. Each text read is a copy to make and free, so an update
 * reads no other column. */
static const char job_change_select_sql[] =
    "SELECT id, rule, profile, channel, template, state, generation,"
    " attempts, due, lease_until, message_id, error, last_error"
    " FROM jobs WHERE id = ?1";

/*
 * The narrower writes of a claim and of an update. SQLite rewrites every
 * index that contains a column named in SET, whether or not its value
 * changed, so each write names only what its step can change. An
 * update names message_id (jobs_message_id, whose entries land at random
 * pages) and error (jobs_rule) only when they change: the variant index
 * has 1 for message_id and 2 for error. A change keeps the stored
 * provider_id, language and template_version unless it sets them, so
 * an update binds NULL for those it does not set and need not read them.
 */
static const char job_claim_write_sql[] =
    "UPDATE jobs SET state = ?2, generation = ?3, lease_until = ?4,"
    " owner = ?5, updated = ?6, attempts = ?7 WHERE id = ?1";

#define JOB_CHANGE_SET                                                      \
    "UPDATE jobs SET state = ?2, attempts = ?3, due = ?4,"                  \
    " lease_until = ?5, provider_id = coalesce(?6, provider_id),"           \
    " last_error = ?7, updated = ?8, language = coalesce(?9, language),"    \
    " template_version = coalesce(?10, template_version)"

static const char *const job_change_write_sql[4] = {
    JOB_CHANGE_SET " WHERE id = ?1",
    JOB_CHANGE_SET ", message_id = ?11 WHERE id = ?1",
    JOB_CHANGE_SET ", error = ?12 WHERE id = ?1",
    JOB_CHANGE_SET ", message_id = ?11, error = ?12 WHERE id = ?1"
};

static const char attempt_insert_sql[] =
    "INSERT INTO job_attempts (job, number, time_ms, outcome, reply)"
    " VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (job, number) DO UPDATE SET time_ms = excluded.time_ms,"
    " outcome = excluded.outcome, reply = excluded.reply";

static const char attempts_select_sql[] =
    "SELECT number, time_ms, outcome, reply FROM job_attempts"
    " WHERE job = ?1 ORDER BY number";

#define JOBS_LIST_SELECT "SELECT " JOB_COLUMNS " FROM jobs WHERE id < ?4"
#define JOBS_LIST_ORDER " ORDER BY id DESC LIMIT ?3"

/*
 * Indexed by filter mix: 1 when the state is filtered, 2 for the rule,
 * and 4 more when the state is one in flight, which the job indexes read
 * apart (JOB_IN_FLIGHT).
 * NOTE: no index orders a rule's jobs by id, so a list by rule reads the
 * table, or a state's jobs, newest first until it has a page of the
 * rule's jobs (docs/KNOWN_LIMITS.md, "Stores").
 */
static const char *const jobs_list_sql[JOBS_LIST_VARIANTS] = {
    JOBS_LIST_SELECT JOBS_LIST_ORDER,
    JOBS_LIST_SELECT " AND state = ?1 AND " JOB_SETTLED JOBS_LIST_ORDER,
    JOBS_LIST_SELECT " AND rule = ?2" JOBS_LIST_ORDER,
    JOBS_LIST_SELECT " AND state = ?1 AND rule = ?2 AND " JOB_SETTLED
    JOBS_LIST_ORDER,
    NULL,
    JOBS_LIST_SELECT " AND state = ?1 AND " JOB_IN_FLIGHT JOBS_LIST_ORDER,
    NULL,
    JOBS_LIST_SELECT " AND state = ?1 AND rule = ?2 AND " JOB_IN_FLIGHT
    JOBS_LIST_ORDER
};

/* Reads through jobs_profile, the profile's jobs by creation time. A
 * cap of both classes (lane -1) leaves out bulletins (lane 2). */
static const char jobs_sent_count_sql[] =
    "SELECT count(*) FROM jobs WHERE profile = ?1 AND channel = ?2"
    " AND state IN ('sending', 'sent') AND updated >= ?3"
    " AND ((?4 < 0 AND lane <> 2) OR lane = ?4)";

/* jobs_sent_count's count for one cap, without the job being marked. */
static const char cap_count_sql[] =
    "SELECT count(*) FROM jobs WHERE profile = ?1 AND channel = ?2"
    " AND state IN ('sending', 'sent') AND updated >= ?3"
    " AND ((?4 < 0 AND lane <> 2) OR lane = ?4) AND id <> ?5";

static const char address_invalid_sql[] =
    "SELECT reason FROM invalid_addresses WHERE value = ?1 LIMIT 1";

static const char address_invalidate_sql[] =
    "INSERT INTO invalid_addresses (value, kind, reason, time_ms)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (value, kind) DO UPDATE SET"
    " reason = excluded.reason, time_ms = excluded.time_ms";

/* Each part counts its states from its own index, without the table. */
static const char job_counts_sql[] =
    "SELECT state, count(*) FROM jobs WHERE " JOB_SETTLED
    " GROUP BY state UNION ALL"
    " SELECT state, count(*) FROM jobs WHERE " JOB_IN_FLIGHT
    " GROUP BY state";


/* Reads a row of JOB_COLUMNS into `job`, which the caller clears. */
int
job_row_read(sqlite3_stmt *stmt, struct job *job)
{
    int state;
    int rc = 0;

    memset(job, 0, sizeof(*job));
    job->id = sqlite3_column_int64(stmt, 0);
    job->key = column_text_copy(stmt, 1, &rc);
    job->rule = column_text_copy(stmt, 2, &rc);
    job->program = column_text_copy(stmt, 3, &rc);
    job->profile = column_text_copy(stmt, 4, &rc);
    job->event_seq = sqlite3_column_int64(stmt, 5);
    job->channel = column_text_copy(stmt, 6, &rc);
    job->template_name = column_text_copy(stmt, 7, &rc);
    job->to = column_text_copy(stmt, 8, &rc);
    state = job_state_parse((const char *)sqlite3_column_text(stmt, 9));
    job->state = state < 0 ? JOB_DEAD : (enum job_state)state;
    job->generation = sqlite3_column_int64(stmt, 10);
    job->attempts = sqlite3_column_int64(stmt, 11);
    job->due = sqlite3_column_int64(stmt, 12);
    job->leased = sqlite3_column_type(stmt, 13) != SQLITE_NULL;
    job->lease_until = sqlite3_column_int64(stmt, 13);
    job->owner = column_text_copy(stmt, 14, &rc);
    job->message_id = column_text_copy(stmt, 15, &rc);
    job->provider_id = column_text_copy(stmt, 16, &rc);
    job->error = column_text_copy(stmt, 17, &rc);
    job->last_error = column_text_copy(stmt, 18, &rc);
    job->created = sqlite3_column_int64(stmt, 19);
    job->updated = sqlite3_column_int64(stmt, 20);
    job->language = column_text_copy(stmt, 21, &rc);
    job->lane = sqlite3_column_int64(stmt, 22);
    job->priority = sqlite3_column_int64(stmt, 23);
    job->template_version = column_text_copy(stmt, 24, &rc);
    job->delivery_status = column_text_copy(stmt, 25, &rc);
    job->delivery_code = column_text_copy(stmt, 26, &rc);
    job->delivery_text = column_text_copy(stmt, 27, &rc);
    job->delivery_time = sqlite3_column_int64(stmt, 28);
    return state < 0 ? CRIER_EIO : rc;
}


/* Reads a row of job_change_select_sql into `job`, which the caller
 * clears. The columns it does not read stay zero or NULL. */
static int
job_change_row_read(sqlite3_stmt *stmt, struct job *job)
{
    int state;
    int rc = 0;

    memset(job, 0, sizeof(*job));
    job->id = sqlite3_column_int64(stmt, 0);
    job->rule = column_text_copy(stmt, 1, &rc);
    job->profile = column_text_copy(stmt, 2, &rc);
    job->channel = column_text_copy(stmt, 3, &rc);
    job->template_name = column_text_copy(stmt, 4, &rc);
    state = job_state_parse((const char *)sqlite3_column_text(stmt, 5));
    job->state = state < 0 ? JOB_DEAD : (enum job_state)state;
    job->generation = sqlite3_column_int64(stmt, 6);
    job->attempts = sqlite3_column_int64(stmt, 7);
    job->due = sqlite3_column_int64(stmt, 8);
    job->leased = sqlite3_column_type(stmt, 9) != SQLITE_NULL;
    job->lease_until = sqlite3_column_int64(stmt, 9);
    job->message_id = column_text_copy(stmt, 10, &rc);
    job->error = column_text_copy(stmt, 11, &rc);
    job->last_error = column_text_copy(stmt, 12, &rc);
    return state < 0 ? CRIER_EIO : rc;
}


static int
statement_bind_seq(sqlite3_stmt *stmt, int index, int64_t seq)
{
    if (seq > 0)
        return sqlite3_bind_int64(stmt, index, seq);
    return sqlite3_bind_null(stmt, index);
}


/* Inserts a planned job (or a holdout's, already suppressed) unless its
 * key exists, and sets *inserted to 1 if it did. */
int
job_insert(struct connection *conn, struct request *req,
           const struct job *job, int *inserted)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_JOB_INSERT, job_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, job->key);
    statement_bind_text(stmt, 2, job->rule);
    statement_bind_text(stmt, 3, job->program);
    statement_bind_text(stmt, 4, job->profile);
    statement_bind_seq(stmt, 5, job->event_seq);
    statement_bind_text(stmt, 6, job->channel);
    statement_bind_text(stmt, 7, job->template_name);
    statement_bind_text(stmt, 8, job->to);
    statement_bind_text(stmt, 9, job_state_name(job->state));
    sqlite3_bind_int64(stmt, 10, job->due);
    sqlite3_bind_int64(stmt, 11, job->created);
    sqlite3_bind_int64(stmt, 12, job->lane);
    sqlite3_bind_int64(stmt, 13, job->priority);
    statement_bind_text(stmt, 14, job->error);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    *inserted = sqlite3_changes(conn->db) > 0;
    return 0;
}


static void
statement_bind_lease(sqlite3_stmt *stmt, int index, const struct job *job)
{
    if (job->leased)
        sqlite3_bind_int64(stmt, index, job->lease_until);
    else
        sqlite3_bind_null(stmt, index);
}


static int
statement_finish(struct connection *conn, struct request *req,
                 sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/* Writes what job_claim changed. */
static int
job_claim_write(struct connection *conn, struct request *req,
                const struct job *job)
{
    sqlite3_stmt *stmt;

    stmt = connection_statement(conn, STMT_JOB_CLAIM_WRITE,
                                job_claim_write_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, job->id);
    statement_bind_text(stmt, 2, job_state_name(job->state));
    sqlite3_bind_int64(stmt, 3, job->generation);
    statement_bind_lease(stmt, 4, job);
    statement_bind_text(stmt, 5, job->owner);
    sqlite3_bind_int64(stmt, 6, job->updated);
    sqlite3_bind_int64(stmt, 7, job->attempts);
    return statement_finish(conn, req, stmt);
}


/* Writes what job_change_apply or job_retry changed. Bit 1 of `variant`
 * adds message_id, and bit 2 adds error. */
static int
job_change_write(struct connection *conn, struct request *req,
                 const struct job *job, int variant)
{
    sqlite3_stmt *stmt;

    stmt = connection_statement(conn, STMT_JOB_CHANGE_WRITE + variant,
                                job_change_write_sql[variant]);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, job->id);
    statement_bind_text(stmt, 2, job_state_name(job->state));
    sqlite3_bind_int64(stmt, 3, job->attempts);
    sqlite3_bind_int64(stmt, 4, job->due);
    statement_bind_lease(stmt, 5, job);
    statement_bind_text(stmt, 6, job->provider_id);
    statement_bind_text(stmt, 7, job->last_error);
    sqlite3_bind_int64(stmt, 8, job->updated);
    statement_bind_text(stmt, 9, job->language);
    statement_bind_text(stmt, 10, job->template_version);
    if (variant & 1)
        statement_bind_text(stmt, 11, job->message_id);
    if (variant & 2)
        statement_bind_text(stmt, 12, job->error);
    return statement_finish(conn, req, stmt);
}


/* Returns the job_change_write variant for applying `change` to `job`,
 * before it is applied. */
static int
job_change_variant(const struct job *job, const struct job_change *change)
{
    int variant = 0;

    if (change->message_id != NULL
        && (job->message_id == NULL
            || strcmp(job->message_id, change->message_id) != 0))
        variant |= 1;
    if (change->error != NULL && job->error == NULL)
        variant |= 2;
    return variant;
}


/* Sets "address_invalid" on a claim whose recipient was marked invalid. */
static int
claim_address_check(struct connection *conn, struct request *req,
                    json_t *claimed)
{
    const char *to = json_string_value(json_object_get(claimed, "to"));
    sqlite3_stmt *stmt;
    int step;
    int rc = 0;

    if (to == NULL)
        return 0;
    stmt = connection_statement(conn, STMT_ADDRESS_INVALID,
                                address_invalid_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, to);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW
        && json_object_set_new(claimed, "address_invalid",
                               json_string((const char *)
                                           sqlite3_column_text(stmt, 0)))
           < 0)
        rc = CRIER_ENOMEM;
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return connection_fail(conn, req, step);
    return rc;
}


/* Adds the event, the profile and the address check to one claim. */
static int
claim_finish_one(struct connection *conn, struct request *req,
                 json_t *claimed, int64_t seq)
{
    const char *profile_id = json_string_value(json_object_get(claimed,
                                                               "profile_id"));
    json_t *event = NULL;
    json_t *profile = NULL;
    int rc = 0;

    if (seq > 0)
        event = event_load(conn, req, seq, &rc);
    if (rc == 0 && profile_id != NULL)
        profile = profile_load(conn, req, profile_id, 0, &rc);
    if (rc < 0) {
        json_decref(event);
        return rc;
    }
    if (event != NULL && json_object_set_new(claimed, "event", event) < 0)
        rc = CRIER_ENOMEM;
    if (profile != NULL
        && json_object_set_new(claimed, "profile", profile) < 0)
        rc = CRIER_ENOMEM;
    if (rc == 0)
        rc = claim_address_check(conn, req, claimed);
    return rc;
}


/*
 * Finishes the claims that jobs_claim committed, in a read transaction
 * after that commit. It usually runs on the reader's connection, so the
 * writer spends no time on these reads.
 */
int
jobs_claim_finish(struct connection *conn, struct request *req)
{
    json_t *list = json_object_get(req->result, "jobs");
    json_t *claimed;
    size_t i;
    int rc;

    rc = connection_run(conn, req, STMT_BEGIN_READ, "BEGIN");
    json_array_foreach(list, i, claimed) {
        if (rc == 0)
            rc = claim_finish_one(conn, req, claimed,
                                  req->claimed_seqs[i]);
    }
    if (connection_run(conn, req, STMT_COMMIT, "COMMIT") < 0 && rc == 0)
        rc = CRIER_EIO;
    free(req->claimed_seqs);
    req->claimed_seqs = NULL;
    return rc;
}


/* Claims one job and appends its claim to the result list. */
static int
job_claim_one(struct connection *conn, struct request *req, struct job *job,
              json_t *list)
{
    enum job_state was = job->state;
    json_t *claimed;
    int rc;

    rc = job_claim(job, &req->input.claim);
    if (rc == 0)
        rc = job_claim_write(conn, req, job);
    if (rc < 0)
        return rc;
    claimed = job_claimed_json(job, was, NULL, NULL);
    if (claimed == NULL || json_array_append_new(list, claimed) < 0)
        return CRIER_ENOMEM;
    req->claimed_seqs[json_array_size(list) - 1] = job->event_seq;
    return 0;
}


/*
 * Claims the due jobs. The result lacks each job's event and profile
 * until jobs_claim_finish adds them, after the commit (worker.c).
 */
int
jobs_claim(struct connection *conn, struct request *req)
{
    struct job *jobs = NULL;
    size_t count = 0;
    size_t i;
    json_t *list;
    int rc;

    req->result = json_pack("{s:[]}", "jobs");
    if (req->result == NULL)
        return CRIER_ENOMEM;
    list = json_object_get(req->result, "jobs");
    rc = jobs_claimable_read(conn, req, &jobs, &count);
    /* Sized by what was read, not by the limit, which is often far
     * larger: glibc's malloc merges its fast bins before it returns a
     * block of 1 KB or more. */
    free(req->claimed_seqs);
    req->claimed_seqs = calloc(count + 1, sizeof(*req->claimed_seqs));
    if (rc == 0 && req->claimed_seqs == NULL)
        rc = CRIER_ENOMEM;
    for (i = 0; rc == 0 && i < count; i++)
        rc = job_claim_one(conn, req, &jobs[i], list);
    for (i = 0; i < count; i++)
        job_clear(&jobs[i]);
    free(jobs);
    return rc;
}


/* Reads job `id` into `job` with `row_read`, or returns
 * CRIER_ENOTFOUND. */
static int
job_read_as(struct connection *conn, struct request *req, int64_t id,
            struct job *job, enum statement_id statement, const char *sql,
            int (*row_read)(sqlite3_stmt *, struct job *))
{
    sqlite3_stmt *stmt;
    int rc = 0;
    int step = SQLITE_DONE;

    memset(job, 0, sizeof(*job));
    stmt = connection_statement(conn, statement, sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, id);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        rc = row_read(stmt, job);
    sqlite3_reset(stmt);
    if (step == SQLITE_DONE)
        return CRIER_ENOTFOUND;
    if (step != SQLITE_ROW)
        return connection_fail(conn, req, step);
    return rc;
}


/* Reads every column of job `id`. */
static int
job_read(struct connection *conn, struct request *req, int64_t id,
         struct job *job)
{
    return job_read_as(conn, req, id, job, STMT_JOB_SELECT, job_select_sql,
                       job_row_read);
}


/* Reads what job_change_store and the caps need of job `id`. */
static int
job_change_read(struct connection *conn, struct request *req, int64_t id,
                struct job *job)
{
    return job_read_as(conn, req, id, job, STMT_JOB_CHANGE_SELECT,
                       job_change_select_sql, job_change_row_read);
}


/* Inserts the last entry of the job's attempt_log, which
 * job_change_apply has just appended. */
static int
attempt_insert(struct connection *conn, struct request *req,
               const struct job *job)
{
    const struct job_attempt *a = &job->attempt_log[job->attempt_count - 1];
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_ATTEMPT_INSERT,
                                attempt_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, job->id);
    sqlite3_bind_int64(stmt, 2, a->number);
    sqlite3_bind_int64(stmt, 3, a->time);
    statement_bind_text(stmt, 4, a->outcome);
    statement_bind_text(stmt, 5, a->reply);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/* Reads the stored attempts of `job` into its attempt_log. */
static int
attempts_read(struct connection *conn, struct request *req, struct job *job)
{
    struct job_attempt a;
    sqlite3_stmt *stmt;
    int rc = 0;
    int step = SQLITE_DONE;

    stmt = connection_statement(conn, STMT_ATTEMPTS_SELECT,
                                attempts_select_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, job->id);
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        a.number = sqlite3_column_int64(stmt, 0);
        a.time = sqlite3_column_int64(stmt, 1);
        a.outcome = (char *)sqlite3_column_text(stmt, 2);
        a.reply = (char *)sqlite3_column_text(stmt, 3);
        rc = job_attempt_append(job, &a);
    }
    sqlite3_reset(stmt);
    if (rc == 0 && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    return rc;
}


/* Sets the result of an update to {"state": `state`}. One runs for each
 * delivery, so it builds the object without json_pack's parsing. */
static int
state_result_set(struct request *req, enum job_state state)
{
    req->result = json_object();
    if (req->result == NULL
        || json_object_set_new_nocheck(req->result, "state",
                                       json_string(job_state_name(state)))
           < 0)
        return CRIER_ENOMEM;
    return 0;
}


/* Applies `change` to the read `job` and stores it, with the attempt it
 * ends and its report count, and sets the result to its new state. */
static int
job_change_store(struct connection *conn, struct request *req,
                 struct job *job, const struct job_change *change)
{
    size_t logged = job->attempt_count;
    int variant = job_change_variant(job, change);
    int rc = job_change_apply(job, change);

    if (rc == 0)
        rc = job_change_write(conn, req, job, variant);
    if (rc == 0 && job->attempt_count > logged)
        rc = attempt_insert(conn, req, job);
    if (rc == 0) {
        char buf[256];
        const char *metric = report_state_metric(job, buf, sizeof(buf));

        if (metric != NULL)
            rc = report_count_add(conn, req, job->rule, job->template_name,
                                  job->channel, metric, change->now);
    }
    if (rc == 0)
        rc = state_result_set(req, job->state);
    return rc;
}


int
job_update(struct connection *conn, struct request *req)
{
    const struct job_change *change = &req->input.change;
    struct job job;
    int rc;

    rc = job_change_read(conn, req, change->id, &job);
    if (rc == 0)
        rc = job_change_store(conn, req, &job, change);
    job_clear(&job);
    return rc;
}


/* Sets *full when `cap` has no room left for `job`. */
static int
cap_full(struct connection *conn, struct request *req,
         const struct cap_limit *cap, const struct job *job, int *full)
{
    struct sent_query query = cap_sent_query(cap, job);
    sqlite3_stmt *stmt;
    int step;

    stmt = connection_statement(conn, STMT_CAP_COUNT, cap_count_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, query.profile);
    statement_bind_text(stmt, 2, query.channel);
    sqlite3_bind_int64(stmt, 3, query.since);
    sqlite3_bind_int64(stmt, 4, query.lane);
    sqlite3_bind_int64(stmt, 5, job->id);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *full = sqlite3_column_int64(stmt, 0) >= cap->max;
    sqlite3_reset(stmt);
    return step == SQLITE_ROW ? 0 : connection_fail(conn, req, step);
}


/*
 * Counts the caps and marks the job in the writer's transaction. The
 * writer is the only connection that writes, so no other mark can come
 * between the count and this one.
 */
int
job_sending_capped(struct connection *conn, struct request *req)
{
    const struct capped_sending *capped = &req->input.capped;
    struct job_change suppression = capped_suppression(capped);
    struct job job;
    int full = 0;
    int rc;

    rc = job_change_read(conn, req, capped->change.id, &job);
    for (size_t i = 0; rc == 0 && job.profile != NULL && !full
         && i < capped->cap_count; i++)
        rc = cap_full(conn, req, &capped->caps[i], &job, &full);
    if (rc == 0)
        rc = job_change_store(conn, req, &job,
                              full ? &suppression : &capped->change);
    job_clear(&job);
    return rc;
}


/* Adds each listed job's attempt_log, read from job_attempts. */
static int
jobs_list_attempts(struct connection *conn, struct request *req,
                   json_t *list)
{
    struct job job;
    size_t i;
    json_t *listed;
    int rc = 0;

    json_array_foreach(list, i, listed) {
        memset(&job, 0, sizeof(job));
        job.id = json_integer_value(json_object_get(listed, "id"));
        rc = attempts_read(conn, req, &job);
        if (rc == 0 && json_object_set_new(listed, "attempt_log",
                                           job_attempts_json(&job)) < 0)
            rc = CRIER_ENOMEM;
        job_clear(&job);
        if (rc != 0)
            break;
    }
    return rc;
}


static int
jobs_list_rows(struct connection *conn, struct request *req, json_t *list)
{
    const struct job_filter *filter = &req->input.filter;
    int variant = (filter->state >= 0 ? 1 : 0) | (filter->rule ? 2 : 0);
    sqlite3_stmt *stmt;
    struct job job;
    int rc = 0;
    int step = SQLITE_DONE;

    if (filter->state == JOB_CLAIMED || filter->state == JOB_SENDING)
        variant |= 4;
    stmt = connection_statement(conn, STMT_JOBS_LIST + variant,
                                jobs_list_sql[variant]);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    if (filter->state >= 0)
        statement_bind_text(stmt, 1, job_state_name(filter->state));
    if (filter->rule != NULL)
        statement_bind_text(stmt, 2, filter->rule);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)filter->limit);
    sqlite3_bind_int64(stmt, 4, filter->before);
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = job_row_read(stmt, &job);
        if (rc == 0 && json_array_append_new(list,
                                             job_listed_json(&job)) < 0)
            rc = CRIER_ENOMEM;
        job_clear(&job);
    }
    sqlite3_reset(stmt);
    if (rc == 0 && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    if (rc == 0 && filter->attempts)
        rc = jobs_list_attempts(conn, req, list);
    return rc;
}


static int
jobs_count(struct connection *conn, struct request *req, json_t *counts)
{
    sqlite3_stmt *stmt;
    int rc = 0;
    int step = SQLITE_DONE;

    stmt = connection_statement(conn, STMT_JOB_COUNTS, job_counts_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (json_object_set_new(counts,
                                (const char *)sqlite3_column_text(stmt, 0),
                                json_integer(sqlite3_column_int64(stmt, 1)))
            < 0)
            rc = CRIER_ENOMEM;
    }
    sqlite3_reset(stmt);
    if (rc == 0 && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    return rc;
}


/* Lists jobs and counts them in one read transaction. */
int
jobs_list(struct connection *conn, struct request *req)
{
    int rc;

    req->result = json_pack("{s:[], s:{}}", "jobs", "counts");
    if (req->result == NULL)
        return CRIER_ENOMEM;
    rc = connection_run(conn, req, STMT_BEGIN_READ, "BEGIN");
    if (rc == 0)
        rc = jobs_list_rows(conn, req, json_object_get(req->result, "jobs"));
    if (rc == 0)
        rc = jobs_count(conn, req, json_object_get(req->result, "counts"));
    if (connection_run(conn, req, STMT_COMMIT, "COMMIT") < 0 && rc == 0)
        rc = CRIER_EIO;
    return rc;
}


int
jobs_sent_count(struct connection *conn, struct request *req)
{
    const struct sent_query *query = &req->input.sent;
    sqlite3_stmt *stmt;
    int step;

    stmt = connection_statement(conn, STMT_JOBS_SENT_COUNT,
                                jobs_sent_count_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, query->profile);
    statement_bind_text(stmt, 2, query->channel);
    sqlite3_bind_int64(stmt, 3, query->since);
    sqlite3_bind_int64(stmt, 4, query->lane);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        req->result = json_pack("{s:I}", "count", (json_int_t)
                                sqlite3_column_int64(stmt, 0));
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW)
        return connection_fail(conn, req, step);
    return req->result != NULL ? 0 : CRIER_ENOMEM;
}


int
job_retry_run(struct connection *conn, struct request *req)
{
    const struct retry_request *retry = &req->input.retry;
    struct job job;
    int rc;

    rc = job_read(conn, req, retry->id, &job);
    if (rc == 0)
        rc = job_retry(&job, retry->now);
    if (rc == 0)
        rc = job_change_write(conn, req, &job, 0);
    if (rc == 0) {
        req->result = json_pack("{s:s}", "state", job_state_name(job.state));
        if (req->result == NULL)
            rc = CRIER_ENOMEM;
    }
    job_clear(&job);
    return rc;
}


int
address_invalidate(struct connection *conn, struct request *req)
{
    const struct address_mark *mark = &req->input.mark;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_ADDRESS_INVALIDATE,
                                address_invalidate_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, mark->value);
    statement_bind_text(stmt, 2, mark->kind);
    statement_bind_text(stmt, 3, mark->reason);
    sqlite3_bind_int64(stmt, 4, mark->time);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    req->result = json_object();
    return req->result != NULL ? 0 : CRIER_ENOMEM;
}
