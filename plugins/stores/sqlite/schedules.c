/*
 * Schedule plans: the rows of the schedules table, written by commit
 * batches and claimed and advanced by schedule triggers.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

/* A row whose basis is unchanged is kept as it is, so a row that fired
 * stays fired and a leased row keeps its lease. */
static const char schedule_upsert_sql[] =
    "INSERT INTO schedules (source, profile, schedule, record, basis, date,"
    " zone, occurrence, due) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (source, profile, schedule, record) DO UPDATE SET"
    " basis = excluded.basis, date = excluded.date, zone = excluded.zone,"
    " occurrence = excluded.occurrence, due = excluded.due,"
    " lease_until = NULL WHERE basis <> excluded.basis";

/* ?3 is a JSON array of [schedule, record] pairs: the rows to keep. */
static const char schedule_prune_sql[] =
    "DELETE FROM schedules WHERE source = ?1 AND profile = ?2"
    " AND (schedule, record) NOT IN (SELECT value ->> 0, value ->> 1"
    " FROM json_each(?3))";

static const char schedules_forget_sql[] =
    "DELETE FROM schedules WHERE profile = ?1";

static const char schedules_due_sql[] =
    "SELECT profile, schedule, record, date, zone, occurrence, due"
    " FROM schedules WHERE source = ?1 AND due IS NOT NULL AND due <= ?2"
    " AND (lease_until IS NULL OR lease_until <= ?2)"
    " ORDER BY due, profile, schedule, record LIMIT ?3";

static const char schedule_lease_sql[] =
    "UPDATE schedules SET lease_until = ?5 WHERE source = ?1"
    " AND profile = ?2 AND schedule = ?3 AND record = ?4";

static const char schedule_advance_sql[] =
    "UPDATE schedules SET due = ?6, occurrence = coalesce(?7, occurrence),"
    " lease_until = NULL WHERE source = ?1 AND profile = ?2"
    " AND schedule = ?3 AND record = ?4 AND occurrence = ?5"
    " AND due IS NOT NULL";


/* Binds (source, profile, schedule, record) to ?1 to ?4. */
static void
bind_key(sqlite3_stmt *stmt, const char *source, const char *profile,
         const char *schedule, const char *record)
{
    statement_bind_text(stmt, 1, source);
    statement_bind_text(stmt, 2, profile);
    statement_bind_text(stmt, 3, schedule);
    statement_bind_text(stmt, 4, record);
}


/* Steps a statement that returns no rows and resets it. */
static int
step_done(struct connection *conn, struct request *req, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


static int
row_upsert(struct connection *conn, struct request *req,
           const struct schedule_row *row)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_SCHEDULE_UPSERT,
                                              schedule_upsert_sql);

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    bind_key(stmt, row->source, row->profile, row->schedule, row->record);
    statement_bind_text(stmt, 5, row->basis);
    statement_bind_text(stmt, 6, row->date);
    statement_bind_text(stmt, 7, row->zone);
    statement_bind_text(stmt, 8, row->occurrence);
    if (row->has_due)
        sqlite3_bind_int64(stmt, 9, row->due);
    else
        sqlite3_bind_null(stmt, 9);
    return step_done(conn, req, stmt);
}


/* Deletes the rows of the plan's (source, profile) that it does not
 * list. */
static int
plan_prune(struct connection *conn, struct request *req,
           const struct schedule_plan *plan)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_SCHEDULE_PRUNE,
                                              schedule_prune_sql);
    json_t *keep = json_array();
    char *text;
    int rc;

    for (size_t i = 0; i < plan->row_count; i++)
        json_array_append_new(keep, json_pack("[s,s]",
                                              plan->rows[i].schedule,
                                              plan->rows[i].record));
    text = json_dumps(keep, JSON_COMPACT);
    json_decref(keep);
    if (stmt == NULL || text == NULL) {
        free(text);
        return stmt == NULL ? connection_fail(conn, req,
                                              sqlite3_errcode(conn->db))
                            : CRIER_ENOMEM;
    }
    statement_bind_text(stmt, 1, plan->source);
    statement_bind_text(stmt, 2, plan->profile);
    statement_bind_text(stmt, 3, text);
    rc = step_done(conn, req, stmt);
    free(text);
    return rc;
}


/* Replaces the plan of (source, profile) with the batch's rows. */
int
schedule_plan_apply(struct connection *conn, struct request *req,
                    const struct schedule_plan *plan)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < plan->row_count; i++)
        rc = row_upsert(conn, req, &plan->rows[i]);
    if (rc == 0)
        rc = plan_prune(conn, req, plan);
    return rc;
}


/* Deletes every schedule row of a profile, for a merge or an erase. */
int
schedules_forget(struct connection *conn, struct request *req,
                 const char *profile)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_SCHEDULES_FORGET,
                                              schedules_forget_sql);

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, profile);
    return step_done(conn, req, stmt);
}


/* Reads one due row into `row`. */
static int
row_read(sqlite3_stmt *stmt, const char *source, struct schedule_row *row)
{
    int rc = 0;

    memset(row, 0, sizeof(*row));
    row->source = strdup(source);
    row->profile = column_text_copy(stmt, 0, &rc);
    row->schedule = column_text_copy(stmt, 1, &rc);
    row->record = column_text_copy(stmt, 2, &rc);
    row->date = column_text_copy(stmt, 3, &rc);
    row->zone = column_text_copy(stmt, 4, &rc);
    row->occurrence = column_text_copy(stmt, 5, &rc);
    row->has_due = 1;
    row->due = sqlite3_column_int64(stmt, 6);
    if (row->source == NULL)
        rc = CRIER_ENOMEM;
    return rc;
}


static int
row_lease(struct connection *conn, struct request *req,
          const struct schedule_row *row, int64_t until)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_SCHEDULE_LEASE,
                                              schedule_lease_sql);

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    bind_key(stmt, row->source, row->profile, row->schedule, row->record);
    sqlite3_bind_int64(stmt, 5, until);
    return step_done(conn, req, stmt);
}


/* Claims due rows, oldest first, and leases each until now + lease_ms.
 * Runs on the writer, so the read and the leases are one transaction. */
int
schedules_claim(struct connection *conn, struct request *req)
{
    const struct schedule_claim *claim = &req->input.schedule_claim;
    sqlite3_stmt *stmt = connection_statement(conn, STMT_SCHEDULES_DUE,
                                              schedules_due_sql);
    struct schedule_row *rows;
    size_t count = 0;
    json_t *out;
    int step = SQLITE_DONE;
    int rc = 0;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    rows = calloc(claim->limit, sizeof(*rows));
    if (rows == NULL)
        return CRIER_ENOMEM;
    statement_bind_text(stmt, 1, claim->source);
    sqlite3_bind_int64(stmt, 2, claim->now);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64) claim->limit);
    while (rc == 0 && count < claim->limit &&
           (step = sqlite3_step(stmt)) == SQLITE_ROW)
        rc = row_read(stmt, claim->source, &rows[count++]);
    if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = connection_fail(conn, req, step);
    sqlite3_reset(stmt);
    out = json_array();
    for (size_t i = 0; i < count; i++) {
        if (rc == 0)
            rc = row_lease(conn, req, &rows[i],
                           claim->now + claim->lease_ms);
        if (rc == 0)
            json_array_append_new(out, schedule_row_json(&rows[i]));
        schedule_row_clear(&rows[i]);
    }
    free(rows);
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    req->result = json_pack("{s:o}", "rows", out);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Moves each fired row on, when it is still due with the occurrence
 * that fired (a replan in between has replaced it, and then it stays),
 * and appends the events of the firing in the same transaction. A row's
 * own event is appended only when the row moved, so a row that another
 * firing moved first records nothing twice. */
int
schedules_advance(struct connection *conn, struct request *req)
{
    const struct schedule_advance *advance = &req->input.schedule_advance;
    int64_t advanced = 0;
    int64_t appended = 0;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < advance->step_count; i++) {
        const struct schedule_step *step = &advance->steps[i];
        sqlite3_stmt *stmt = connection_statement(conn, STMT_SCHEDULE_ADVANCE,
                                                  schedule_advance_sql);

        if (stmt == NULL)
            return connection_fail(conn, req, sqlite3_errcode(conn->db));
        bind_key(stmt, advance->source, step->profile, step->schedule,
                 step->record);
        statement_bind_text(stmt, 5, step->occurrence);
        if (step->has_due)
            sqlite3_bind_int64(stmt, 6, step->due);
        else
            sqlite3_bind_null(stmt, 6);
        if (step->next != NULL)
            statement_bind_text(stmt, 7, step->next);
        else
            sqlite3_bind_null(stmt, 7);
        rc = step_done(conn, req, stmt);
        if (rc < 0 || sqlite3_changes(conn->db) == 0)
            continue;
        advanced++;
        rc = batch_events_append(conn, req, step->events, step->event_count);
        appended += (int64_t) step->event_count;
    }
    if (rc == 0)
        rc = batch_events_append(conn, req, advance->events,
                                 advance->event_count);
    if (rc < 0)
        return rc;
    appended += (int64_t) advance->event_count;
    req->result = json_pack("{s:I,s:I}", "advanced", (json_int_t) advanced,
                            "appended", (json_int_t) appended);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
