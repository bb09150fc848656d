/*
 * Report counters: kept up to date inside commit and job_update, and read
 * by report_read (docs/internals/store.md, "Reports").
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"


static const char report_count_add_sql[] =
    "INSERT INTO report_messages"
    " (rule, template, channel, metric, day, count)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count";

static const char move_count_add_sql[] =
    "INSERT INTO report_moves (program, day, from_stage, to_stage, count)"
    " VALUES (?1, ?2, ?3, ?4, 1)"
    " ON CONFLICT DO UPDATE SET count = count + 1";

static const char duration_count_add_sql[] =
    "INSERT INTO report_durations (program, stage, day, days, count)"
    " VALUES (?1, ?2, ?3, ?4, 1)"
    " ON CONFLICT DO UPDATE SET count = count + 1";

static const char stage_since_sql[] =
    "SELECT stage, since FROM stages WHERE profile = ?1 AND program = ?2";

/* A sent job's `updated` is when it was sent: no later update changes a
 * sent job but an erase, which also clears its profile. A holdout's job
 * counts as sent when it was planned, so that the conversions of the
 * holdout are measured the same way. */
static const char goal_job_sql[] =
    "SELECT id, rule, template, channel FROM jobs"
    " WHERE profile = ?1 AND program = ?2"
    " AND (state = 'sent' OR (state = 'suppressed'"
    "  AND last_error = '" HOLDOUT_ERROR "'))"
    " AND updated >= ?3 AND updated <= ?4"
    " ORDER BY updated DESC, id DESC LIMIT 1";

static const char conversion_insert_sql[] =
    "INSERT OR IGNORE INTO conversions"
    " (goal, job, event_seq, time_ms) VALUES (?1, ?2, ?3, ?4)";

static const char engagement_job_sql[] =
    "SELECT id, rule, template, channel FROM jobs WHERE key = ?1";

static const char delivery_job_sql[] =
    "SELECT id, rule, template, channel FROM jobs"
    " WHERE key = ?1 OR (?1 IS NULL AND message_id = ?2)"
    " ORDER BY id LIMIT 1";

/* A status never replaces one reported later: receipts may arrive out
 * of order. */
static const char delivery_set_sql[] =
    "UPDATE jobs SET delivery_status = ?2, delivery_code = ?3,"
    " delivery_text = ?4, delivery_time = ?5"
    " WHERE id = ?1 AND (delivery_time IS NULL OR delivery_time <= ?5)";

/* Marks the recipient of a job invalid after a permanent failure, as
 * address_invalidate does. */
static const char delivery_invalidate_sql[] =
    "INSERT INTO invalid_addresses (value, kind, reason, time_ms)"
    " SELECT recipient, ?2, ?3, ?4 FROM jobs"
    " WHERE id = ?1 AND recipient IS NOT NULL"
    " ON CONFLICT (value, kind) DO UPDATE SET"
    " reason = excluded.reason, time_ms = excluded.time_ms";

static const char engagement_insert_sql[] =
    "INSERT OR IGNORE INTO job_engagements (job, metric, time_ms)"
    " VALUES (?1, ?2, ?3)";


static int
statement_done(struct connection *conn, struct request *req,
               sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/* Adds sum->count to its message counter on UTC day sum->day. */
static int
report_count_write(struct connection *conn, struct request *req,
                   const struct report_sum *sum)
{
    sqlite3_stmt *stmt;

    stmt = connection_statement(conn, STMT_REPORT_COUNT_ADD,
                                report_count_add_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, sum->rule);
    statement_bind_text(stmt, 2, sum->template_name);
    statement_bind_text(stmt, 3, sum->channel);
    statement_bind_text(stmt, 4, sum->metric);
    sqlite3_bind_int64(stmt, 5, sum->day);
    sqlite3_bind_int64(stmt, 6, sum->count);
    return statement_done(conn, req, stmt);
}


static void
report_sum_clear(struct report_sum *sum)
{
    free(sum->rule);
    free(sum->template_name);
    free(sum->channel);
    free(sum->metric);
}


/* Starts summing the counter additions of a run in memory. */
void
report_sums_begin(struct connection *conn)
{
    conn->sums.active = 1;
    conn->sums.count = 0;
}


/* Writes the summed additions and clears them. When a write fails they
 * stay, for report_sums_end to drop. */
int
report_sums_write(struct connection *conn, struct request *req)
{
    struct report_sums *sums = &conn->sums;
    int rc = 0;
    size_t i;

    for (i = 0; rc == 0 && i < sums->count; i++)
        rc = report_count_write(conn, req, &sums->entries[i]);
    if (rc < 0)
        return rc;
    for (i = 0; i < sums->count; i++)
        report_sum_clear(&sums->entries[i]);
    sums->count = 0;
    return 0;
}


/* Drops what was summed and not written, and writes each addition at
 * once from now on. */
void
report_sums_end(struct connection *conn)
{
    struct report_sums *sums = &conn->sums;

    for (size_t i = 0; i < sums->count; i++)
        report_sum_clear(&sums->entries[i]);
    sums->count = 0;
    sums->active = 0;
}


static int
report_sum_matches(const struct report_sum *sum, const struct report_sum *key)
{
    return sum->day == key->day && strcmp(sum->metric, key->metric) == 0
           && strcmp(sum->rule, key->rule) == 0
           && strcmp(sum->template_name, key->template_name) == 0
           && strcmp(sum->channel, key->channel) == 0;
}


/* Adds one to the summed counter `key`, writing the others out first
 * when there is no room for a new one. */
static int
report_sum_add(struct connection *conn, struct request *req,
               const struct report_sum *key)
{
    struct report_sums *sums = &conn->sums;
    struct report_sum *sum;
    int rc;

    for (size_t i = 0; i < sums->count; i++) {
        if (report_sum_matches(&sums->entries[i], key)) {
            sums->entries[i].count++;
            sums->added++;
            return 0;
        }
    }
    if (sums->count == REPORT_SUMS_MAX) {
        rc = report_sums_write(conn, req);
        if (rc < 0)
            return rc;
    }
    sum = &sums->entries[sums->count];
    sum->rule = strdup(key->rule);
    sum->template_name = strdup(key->template_name);
    sum->channel = strdup(key->channel);
    sum->metric = strdup(key->metric);
    sum->day = key->day;
    sum->count = 1;
    if (sum->rule == NULL || sum->template_name == NULL
        || sum->channel == NULL || sum->metric == NULL) {
        report_sum_clear(sum);
        return CRIER_ENOMEM;
    }
    sums->count++;
    sums->added++;
    return 0;
}


/* Adds one to a message counter on the UTC day of `time`, in memory
 * while the writer runs delivery requests (report_sums_begin). */
int
report_count_add(struct connection *conn, struct request *req,
                 const char *rule, const char *template_name,
                 const char *channel, const char *metric, int64_t time)
{
    struct report_sum key = {
        .rule = (char *)rule,
        .template_name = (char *)template_name,
        .channel = (char *)channel,
        .metric = (char *)metric,
        .day = report_day(time),
        .count = 1,
    };

    /* A NULL goes to SQLite, which rejects it: the columns are NOT NULL. */
    if (conn->sums.active && rule != NULL && template_name != NULL
        && channel != NULL && metric != NULL)
        return report_sum_add(conn, req, &key);
    return report_count_write(conn, req, &key);
}


/* Adds the time spent in the stage that the profile leaves, when it has
 * one, in whole days. */
static int
duration_count_add(struct connection *conn, struct request *req,
                   const struct stage_move *stage)
{
    sqlite3_stmt *stmt;
    char *from = NULL;
    int64_t since = 0;
    int rc = 0;
    int step;

    stmt = connection_statement(conn, STMT_STAGE_SINCE, stage_since_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, stage->profile);
    statement_bind_text(stmt, 2, stage->program);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        from = column_text_copy(stmt, 0, &rc);
        since = sqlite3_column_int64(stmt, 1);
    }
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return connection_fail(conn, req, step);
    if (rc < 0 || from == NULL)
        return rc;

    stmt = connection_statement(conn, STMT_DURATION_COUNT_ADD,
                                duration_count_add_sql);
    if (stmt == NULL) {
        free(from);
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    }
    statement_bind_text(stmt, 1, stage->program);
    statement_bind_text(stmt, 2, from);
    sqlite3_bind_int64(stmt, 3, report_day(stage->time));
    sqlite3_bind_int64(stmt, 4, stage->time > since
                                ? (stage->time - since) / REPORT_DAY_MS : 0);
    rc = statement_done(conn, req, stmt);
    free(from);
    return rc;
}


/* Counts a stage move and the time spent in the stage it leaves. Runs
 * before the move is stored, while `stages` still has the old stage. */
int
report_stage_move(struct connection *conn, struct request *req,
                  const struct stage_move *stage)
{
    sqlite3_stmt *stmt;
    int rc = duration_count_add(conn, req, stage);

    if (rc < 0)
        return rc;
    stmt = connection_statement(conn, STMT_MOVE_COUNT_ADD,
                                move_count_add_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, stage->program);
    sqlite3_bind_int64(stmt, 2, report_day(stage->time));
    statement_bind_text(stmt, 3, stage->from != NULL ? stage->from : "");
    statement_bind_text(stmt, 4, stage->to);
    return statement_done(conn, req, stmt);
}


/* Records the conversion of (goal, job) and, when it is new, adds one
 * to the job's counter "converted:<goal>". */
static int
conversion_record(struct connection *conn, struct request *req,
                  const struct goal_hit *hit, int64_t job, const char *rule,
                  const char *template_name, const char *channel)
{
    sqlite3_stmt *stmt;
    char metric[256];
    int rc;

    stmt = connection_statement(conn, STMT_CONVERSION_INSERT,
                                conversion_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, hit->goal);
    sqlite3_bind_int64(stmt, 2, job);
    sqlite3_bind_int64(stmt, 3, hit->event_seq);
    sqlite3_bind_int64(stmt, 4, hit->time);
    rc = statement_done(conn, req, stmt);
    if (rc < 0 || sqlite3_changes(conn->db) == 0)
        return rc;
    snprintf(metric, sizeof(metric), "converted:%s", hit->goal);
    return report_count_add(conn, req, rule, template_name, channel, metric,
                            hit->time);
}


/*
 * Steps `stmt`, a query for one job (id, rule, template, channel), and
 * calls `found` with that row. A query that finds no job changes
 * nothing.
 */
static int
job_row_apply(struct connection *conn, struct request *req,
              sqlite3_stmt *stmt,
              int (*found)(struct connection *, struct request *,
                           const void *, int64_t, const char *,
                           const char *, const char *),
              const void *arg)
{
    char *text[3] = { NULL, NULL, NULL };
    int64_t id = 0;
    int rc = 0;
    int step = sqlite3_step(stmt);

    if (step == SQLITE_ROW) {
        id = sqlite3_column_int64(stmt, 0);
        for (int i = 0; i < 3; i++)
            text[i] = column_text_copy(stmt, i + 1, &rc);
    }
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    else if (step == SQLITE_ROW && rc == 0)
        rc = found(conn, req, arg, id, text[0], text[1], text[2]);
    for (int i = 0; i < 3; i++)
        free(text[i]);
    return rc;
}


static int
goal_job_found(struct connection *conn, struct request *req,
               const void *arg, int64_t job, const char *rule,
               const char *template_name, const char *channel)
{
    return conversion_record(conn, req, arg, job, rule, template_name,
                             channel);
}


int
goal_hit_apply(struct connection *conn, struct request *req,
               const struct goal_hit *hit)
{
    sqlite3_stmt *stmt;

    stmt = connection_statement(conn, STMT_GOAL_JOB, goal_job_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, hit->profile);
    statement_bind_text(stmt, 2, hit->program);
    sqlite3_bind_int64(stmt, 3, hit->time - hit->window_ms);
    sqlite3_bind_int64(stmt, 4, hit->time);
    return job_row_apply(conn, req, stmt, goal_job_found, hit);
}


static int
engagement_job_found(struct connection *conn, struct request *req,
                     const void *arg, int64_t job, const char *rule,
                     const char *template_name, const char *channel)
{
    const struct engagement *item = arg;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_ENGAGEMENT_INSERT,
                                engagement_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, job);
    statement_bind_text(stmt, 2, item->metric);
    sqlite3_bind_int64(stmt, 3, item->time);
    rc = statement_done(conn, req, stmt);
    if (rc < 0 || sqlite3_changes(conn->db) == 0)
        return rc;
    return report_count_add(conn, req, rule, template_name, channel,
                            item->metric, item->time);
}


/* Keeps a delivery status on its job, then counts it as an engagement
 * is counted: once per (job, status). */
static int
delivery_job_found(struct connection *conn, struct request *req,
                   const void *arg, int64_t job, const char *rule,
                   const char *template_name, const char *channel)
{
    const struct engagement *item = arg;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_DELIVERY_SET, delivery_set_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, job);
    statement_bind_text(stmt, 2, item->status);
    statement_bind_text(stmt, 3, item->code);
    statement_bind_text(stmt, 4, item->text);
    sqlite3_bind_int64(stmt, 5, item->time);
    rc = statement_done(conn, req, stmt);
    if (rc < 0)
        return rc;
    if (item->invalidate != NULL) {
        stmt = connection_statement(conn, STMT_DELIVERY_INVALIDATE,
                                    delivery_invalidate_sql);
        if (stmt == NULL)
            return connection_fail(conn, req, sqlite3_errcode(conn->db));
        sqlite3_bind_int64(stmt, 1, job);
        statement_bind_text(stmt, 2, item->invalidate);
        statement_bind_text(stmt, 3, item->code != NULL ? item->code
                                                        : item->status);
        sqlite3_bind_int64(stmt, 4, item->time);
        rc = statement_done(conn, req, stmt);
        if (rc < 0)
            return rc;
    }
    return engagement_job_found(conn, req, arg, job, rule, template_name,
                                channel);
}


/* Counts the first engagement of each metric per job; a key that names
 * no stored job (an erased or forged reference) counts nothing. */
int
engagement_apply(struct connection *conn, struct request *req,
                 const struct engagement *item)
{
    sqlite3_stmt *stmt;

    if (item->delivery) {
        stmt = connection_statement(conn, STMT_DELIVERY_JOB,
                                    delivery_job_sql);
        if (stmt == NULL)
            return connection_fail(conn, req, sqlite3_errcode(conn->db));
        statement_bind_text(stmt, 1, item->key);
        statement_bind_text(stmt, 2, item->message_id);
        return job_row_apply(conn, req, stmt, delivery_job_found, item);
    }
    stmt = connection_statement(conn, STMT_ENGAGEMENT_JOB,
                                engagement_job_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, item->key);
    return job_row_apply(conn, req, stmt, engagement_job_found, item);
}


/* Report queries. ?1 and ?2 bound the day, ?3 is the program or NULL. */
static const char messages_sql[] =
    "SELECT rule, template, channel, metric, sum(count)"
    " FROM report_messages WHERE day >= ?1 AND day < ?2"
    " GROUP BY rule, template, channel, metric"
    " ORDER BY rule, template, channel, metric";

static const char residents_sql[] =
    "SELECT program, stage, count(*) FROM stages"
    " WHERE ?3 IS NULL OR program = ?3"
    " GROUP BY program, stage ORDER BY program, stage";

static const char moves_sql[] =
    "SELECT program, day, from_stage, to_stage, count FROM report_moves"
    " WHERE day >= ?1 AND day < ?2 AND (?3 IS NULL OR program = ?3)"
    " ORDER BY program, day, from_stage, to_stage";

static const char durations_sql[] =
    "SELECT program, stage, days, sum(count) FROM report_durations"
    " WHERE day >= ?1 AND day < ?2 AND (?3 IS NULL OR program = ?3)"
    " GROUP BY program, stage, days ORDER BY program, stage, days";


static const char *
text_at(sqlite3_stmt *stmt, int column)
{
    return (const char *) sqlite3_column_text(stmt, column);
}


/* Appends one result row of `stmt` to its list in `result`. */
static int
report_row_add(json_t *result, int list, sqlite3_stmt *stmt)
{
    const char *from;

    switch (list) {
    case 0:
        return report_message_add(result, text_at(stmt, 0),
                                  text_at(stmt, 1), text_at(stmt, 2),
                                  text_at(stmt, 3),
                                  sqlite3_column_int64(stmt, 4));
    case 1:
        return report_resident_add(result, text_at(stmt, 0),
                                   text_at(stmt, 1),
                                   sqlite3_column_int64(stmt, 2));
    case 2:
        from = text_at(stmt, 2);
        return report_move_add(result, text_at(stmt, 0),
                               sqlite3_column_int64(stmt, 1),
                               from != NULL && from[0] != '\0' ? from : NULL,
                               text_at(stmt, 3),
                               sqlite3_column_int64(stmt, 4));
    default:
        return report_duration_add(result, text_at(stmt, 0),
                                   text_at(stmt, 1),
                                   sqlite3_column_int64(stmt, 2),
                                   sqlite3_column_int64(stmt, 3));
    }
}


/* Runs the report query `sql` and appends its rows to list `list`. The
 * statement is not cached, because reports are rare. */
static int
report_query(struct connection *conn, struct request *req, const char *sql,
             int list)
{
    const struct report_request *query = &req->input.report;
    sqlite3_stmt *stmt;
    int rc = 0;
    int step;

    if (sqlite3_prepare_v2(conn->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    if (sqlite3_bind_parameter_count(stmt) >= 2) {
        sqlite3_bind_int64(stmt, 1, query->since);
        sqlite3_bind_int64(stmt, 2, query->until);
    }
    if (sqlite3_bind_parameter_count(stmt) >= 3)
        statement_bind_text(stmt, 3, query->program);
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW)
        rc = report_row_add(req->result, list, stmt);
    if (rc == 0 && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    sqlite3_finalize(stmt);
    return rc;
}


int
report_read(struct connection *conn, struct request *req)
{
    static const char *const queries[] = {
        messages_sql, residents_sql, moves_sql, durations_sql
    };
    int rc = 0;

    req->result = report_result_new();
    if (req->result == NULL)
        return CRIER_ENOMEM;
    for (int i = 0; rc == 0 && i < 4; i++)
        rc = report_query(conn, req, queries[i], i);
    return rc;
}
