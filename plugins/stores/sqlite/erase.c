/*
 * profile_erase: the right to be forgotten. It runs on the writer inside
 * the request's savepoint, so a failing step undoes the whole erase.
 */
#include <stdlib.h>

#include "sqlite.h"

/* Nonzero when cursor ?1 (0 when never written) is behind the last
 * stored event. */
static const char erase_behind_sql[] =
    "SELECT coalesce((SELECT max(seq) FROM events), 0)"
    " > coalesce((SELECT value FROM cursors WHERE name = ?1), 0)";

static const char erase_exists_sql[] =
    "SELECT attributes FROM profiles WHERE id = ?1";

/* The body keeps the type and time, in the RFC 3339 form that ingest
 * writes, so that reports can still count events by type. erased_body
 * in common/result.c builds the same text for the memory store. */
static const char erase_events_sql[] =
    "UPDATE events SET body = json_object('type', type,"
    " 'time', strftime('%Y-%m-%dT%H:%M:%S', time_ms / 1000, 'unixepoch')"
    " || printf('.%03dZ', time_ms % 1000), 'erased', json('true')),"
    " ext_id = NULL, profile = NULL WHERE profile = ?1";

/* Jobs not yet final stop here. A job that is sending may already have
 * been handed to its channel, and its worker's next update then fails as
 * stale. */
static const char erase_jobs_suppress_sql[] =
    "UPDATE jobs SET state = 'suppressed', error = '" ERASED_ERROR "',"
    " last_error = '" ERASED_ERROR "', lease_until = NULL, updated = ?2"
    " WHERE profile = ?1 AND state IN ('planned', 'claimed', 'sending')";

/* The jobs that the erase suppresses count as "suppressed:erased" in
 * the report counters, on the day of the erase. */
static const char erase_jobs_count_sql[] =
    "INSERT INTO report_messages"
    " (rule, template, channel, metric, day, count)"
    " SELECT rule, template, channel, 'suppressed:" ERASED_ERROR "',"
    " ?2 - (?2 % 86400000), count(*) FROM jobs"
    " WHERE profile = ?1 AND state IN ('planned', 'claimed', 'sending')"
    " GROUP BY rule, template, channel"
    " ON CONFLICT DO UPDATE SET count = count + excluded.count";

/* A provider's reply may quote the recipient, so each attempt's reply
 * goes like the errors below. It runs before the jobs lose their
 * profile. */
static const char erase_attempts_sql[] =
    "UPDATE job_attempts SET reply = '" ERASED_ERROR "'"
    " WHERE reply IS NOT NULL"
    " AND job IN (SELECT id FROM jobs WHERE profile = ?1)";

/* A provider's error text may quote the recipient, so it goes too. */
static const char erase_jobs_blank_sql[] =
    "UPDATE jobs SET recipient = NULL, profile = NULL,"
    " error = CASE WHEN error IS NULL THEN NULL ELSE '" ERASED_ERROR "' END,"
    " last_error = CASE WHEN last_error IS NULL THEN NULL"
    " ELSE '" ERASED_ERROR "' END, updated = ?2 WHERE profile = ?1";

static const char erase_history_sql[] =
    "UPDATE stage_history SET profile = NULL WHERE profile = ?1";

static const char erase_segments_sql[] =
    "DELETE FROM segment_members WHERE profile = ?1";

static const char erase_identities_sql[] =
    "DELETE FROM identities WHERE profile = ?1";

/* The merges that end in the erased profile: its own, when it was created
 * again after being merged away, and every profile merged into it, at
 * any depth. Without them profile_get would still return where those
 * ids went. */
static const char erase_merges_sql[] =
    "WITH RECURSIVE chain (id) AS (SELECT ?1"
    " UNION SELECT merges.from_id FROM merges JOIN chain"
    " ON merges.into_id = chain.id)"
    " DELETE FROM merges WHERE from_id IN chain";

static const char erase_record_sql[] =
    "INSERT INTO erasures (time_ms) VALUES (?2)";

static const char profile_delete_sql[] =
    "DELETE FROM profiles WHERE id = ?1";

static const char stages_delete_sql[] =
    "DELETE FROM stages WHERE profile = ?1";


/*
 * Runs the cached statement `id` with ?1 bound to the profile and ?2, when
 * the statement has it, to the request's time. Sets *changes to the rows
 * it changed unless `changes` is NULL.
 */
static const char erase_subscriptions_sql[] =
    "DELETE FROM subscriptions WHERE profile = ?1";


static int
erase_step(struct connection *conn, struct request *req,
           enum statement_id id, const char *sql, int64_t *changes)
{
    const struct erase_request *erase = &req->input.erase;
    sqlite3_stmt *stmt = connection_statement(conn, id, sql);
    int rc;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, erase->id);
    if (sqlite3_bind_parameter_count(stmt) >= 2)
        sqlite3_bind_int64(stmt, 2, erase->now);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    if (changes != NULL)
        *changes = sqlite3_changes(conn->db);
    return 0;
}


/* Returns CRIER_EBUSY when the request names a cursor that is behind the
 * last stored event, so that some events are not linked yet. */
static int
erase_check_cursor(struct connection *conn, struct request *req)
{
    const char *cursor = req->input.erase.cursor;
    sqlite3_stmt *stmt;
    int behind = 0;
    int rc;

    if (cursor == NULL)
        return 0;
    stmt = connection_statement(conn, STMT_ERASE_BEHIND, erase_behind_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, cursor);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        behind = sqlite3_column_int(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return connection_fail(conn, req, rc);
    return behind ? CRIER_EBUSY : 0;
}


/* Sets the result for an id that is not a stored profile: where it was
 * merged to, or nothing. */
static int
erase_missing(struct connection *conn, struct request *req)
{
    char *end;
    int rc = merge_chain_end(conn, req, req->input.erase.id, &end);

    if (rc < 0)
        return rc;
    req->result = erase_result(NULL, end);
    free(end);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Scrubs and unlinks the rows that outlive the profile. */
static int
erase_unlink(struct connection *conn, struct request *req,
             struct erase_counts *counts)
{
    int rc;

    rc = erase_step(conn, req, STMT_ERASE_EVENTS, erase_events_sql,
                    &counts->events);
    if (rc == 0)
        rc = erase_step(conn, req, STMT_ERASE_JOBS_COUNT,
                        erase_jobs_count_sql, NULL);
    if (rc == 0)
        rc = erase_step(conn, req, STMT_ERASE_JOBS_SUPPRESS,
                        erase_jobs_suppress_sql, &counts->suppressed);
    if (rc == 0)
        rc = erase_step(conn, req, STMT_ERASE_ATTEMPTS, erase_attempts_sql,
                        NULL);
    if (rc == 0)
        rc = erase_step(conn, req, STMT_ERASE_JOBS_BLANK,
                        erase_jobs_blank_sql, &counts->jobs);
    if (rc == 0)
        rc = erase_step(conn, req, STMT_ERASE_HISTORY, erase_history_sql,
                        NULL);
    return rc;
}


/* Deletes the profile, its identities, stages, subscriptions, merges and
 * schedule rows, and records the erasure. */
static int
erase_delete(struct connection *conn, struct request *req)
{
    static const struct {
        enum statement_id id;
        const char *sql;
    } steps[] = {
        { STMT_STAGES_DELETE, stages_delete_sql },
        { STMT_ERASE_SEGMENTS, erase_segments_sql },
        { STMT_ERASE_SUBSCRIPTIONS, erase_subscriptions_sql },
        { STMT_ERASE_IDENTITIES, erase_identities_sql },
        { STMT_PROFILE_DELETE, profile_delete_sql },
        { STMT_ERASE_MERGES, erase_merges_sql },
        { STMT_ERASE_RECORD, erase_record_sql }
    };
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = erase_step(conn, req, steps[i].id, steps[i].sql, NULL);
    if (rc == 0)
        rc = schedules_forget(conn, req, req->input.erase.id);
    if (rc == 0)
        rc = journeys_forget(conn, req, req->input.erase.id);
    return rc;
}


/*
 * Erases one profile. An unknown or merged-away id changes nothing and
 * returns {"erased": false}, because erasing the profile it was merged
 * into is for the caller to choose.
 */
int
profile_erase(struct connection *conn, struct request *req)
{
    struct erase_counts counts = { 0, 0, 0 };
    sqlite3_stmt *stmt;
    int exists;
    int rc;

    rc = erase_check_cursor(conn, req);
    if (rc < 0)
        return rc;
    stmt = connection_statement(conn, STMT_PROFILE_ATTRIBUTES,
                                erase_exists_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, req->input.erase.id);
    rc = sqlite3_step(stmt);
    exists = rc == SQLITE_ROW;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    if (!exists)
        return erase_missing(conn, req);

    rc = erase_unlink(conn, req, &counts);
    if (rc == 0)
        rc = erase_delete(conn, req);
    if (rc < 0)
        return rc;
    req->result = erase_result(&counts, NULL);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
