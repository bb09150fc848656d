/*
 * Journey places: the rows of the journeys table, written by commit
 * batches and read by the pipeline, the clock and the admin API.
 */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

static const char journey_upsert_sql[] =
    "INSERT INTO journeys (journey, profile, entry, step, state, due,"
    " since, updated, items) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    " ON CONFLICT (journey, profile) DO UPDATE SET entry = excluded.entry,"
    " step = excluded.step, state = excluded.state, due = excluded.due,"
    " since = excluded.since, updated = excluded.updated,"
    " items = excluded.items";

/* A wake-up clears the due of a row that has not moved since it was
 * read as due. */
static const char journey_wake_sql[] =
    "UPDATE journeys SET due = NULL WHERE journey = ?1 AND profile = ?2"
    " AND entry = ?3 AND step = ?4 AND due = ?6 AND state = 'active'";

static const char journeys_forget_sql[] =
    "DELETE FROM journeys WHERE profile = ?1";

static const char journeys_profile_sql[] =
    "SELECT journey, profile, entry, step, state, due, since, updated,"
    " items FROM journeys WHERE profile = ?1 ORDER BY journey";

static const char journeys_due_sql[] =
    "SELECT journey, profile, entry, step, state, due, since, updated,"
    " items FROM journeys WHERE due IS NOT NULL AND due <= ?1"
    " AND state = 'active' ORDER BY due, journey, profile LIMIT ?2";

/* The earliest due after the read, so that the clock can wake for it
 * between its whole-second reads. */
static const char journeys_next_sql[] =
    "SELECT min(due) FROM journeys WHERE due IS NOT NULL AND due > ?1"
    " AND state = 'active'";


static int
step_done(struct connection *conn, struct request *req, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/* Writes one row of a batch: a whole row, or a wake-up. */
int
journey_row_apply(struct connection *conn, struct request *req,
                  const struct journey_row *row)
{
    sqlite3_stmt *stmt = row->wake
        ? connection_statement(conn, STMT_JOURNEY_WAKE, journey_wake_sql)
        : connection_statement(conn, STMT_JOURNEY_UPSERT,
                               journey_upsert_sql);

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, row->journey);
    statement_bind_text(stmt, 2, row->profile);
    sqlite3_bind_int64(stmt, 3, row->entry);
    statement_bind_text(stmt, 4, row->step);
    if (!row->wake) {
        statement_bind_text(stmt, 5, row->state);
        sqlite3_bind_int64(stmt, 7, row->since);
        sqlite3_bind_int64(stmt, 8, row->updated);
        if (row->items != NULL)
            statement_bind_text(stmt, 9, row->items);
        else
            sqlite3_bind_null(stmt, 9);
    }
    if (row->has_due)
        sqlite3_bind_int64(stmt, 6, row->due);
    else
        sqlite3_bind_null(stmt, 6);
    return step_done(conn, req, stmt);
}


/* Deletes every journey row of a profile, for a merge or an erase. */
int
journeys_forget(struct connection *conn, struct request *req,
                const char *profile)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_JOURNEYS_FORGET,
                                              journeys_forget_sql);

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, profile);
    return step_done(conn, req, stmt);
}


/* Reads the current row of `stmt` as a journeys result row. */
static json_t *
row_json(sqlite3_stmt *stmt, int *rc)
{
    struct journey_row row;
    json_t *json;

    memset(&row, 0, sizeof(row));
    row.journey = column_text_copy(stmt, 0, rc);
    row.profile = column_text_copy(stmt, 1, rc);
    row.entry = sqlite3_column_int64(stmt, 2);
    row.step = column_text_copy(stmt, 3, rc);
    row.state = column_text_copy(stmt, 4, rc);
    row.has_due = sqlite3_column_type(stmt, 5) != SQLITE_NULL;
    row.due = sqlite3_column_int64(stmt, 5);
    row.since = sqlite3_column_int64(stmt, 6);
    row.updated = sqlite3_column_int64(stmt, 7);
    if (sqlite3_column_type(stmt, 8) != SQLITE_NULL)
        row.items = column_text_copy(stmt, 8, rc);
    json = *rc == 0 ? journey_row_json(&row) : NULL;
    if (*rc == 0 && json == NULL)
        *rc = CRIER_ENOMEM;
    journey_row_clear(&row);
    return json;
}


/* Steps `stmt` to its end, appending each row to `out`. */
static int
rows_collect(struct connection *conn, struct request *req,
             sqlite3_stmt *stmt, json_t *out)
{
    int step;
    int rc = 0;

    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *row = row_json(stmt, &rc);

        if (row != NULL)
            json_array_append_new(out, row);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    sqlite3_reset(stmt);
    return rc;
}


int
journeys_read(struct connection *conn, struct request *req)
{
    const struct journeys_read *read = &req->input.journeys_read;
    sqlite3_stmt *stmt = connection_statement(conn, STMT_JOURNEYS_PROFILE,
                                              journeys_profile_sql);
    json_t *out;
    int rc = 0;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    out = json_object();
    for (size_t i = 0; rc == 0 && i < read->count; i++) {
        json_t *rows = json_array();

        statement_bind_text(stmt, 1, read->ids[i]);
        rc = rows_collect(conn, req, stmt, rows);
        json_object_set_new(out, read->ids[i], rows);
    }
    if (rc < 0) {
        json_decref(out);
        return rc;
    }
    req->result = json_pack("{s:o}", "journeys", out);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Sets *next to the earliest active due after `now`, or JSON null. */
static int
next_due(struct connection *conn, struct request *req, int64_t now,
         json_t **next)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_JOURNEYS_NEXT,
                                              journeys_next_sql);
    int step;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, now);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
        *next = json_integer(sqlite3_column_int64(stmt, 0));
    else if (step == SQLITE_ROW)
        *next = json_null();
    sqlite3_reset(stmt);
    return step == SQLITE_ROW ? 0 : connection_fail(conn, req, step);
}


int
journeys_due(struct connection *conn, struct request *req)
{
    const struct journeys_due *query = &req->input.journeys_due;
    sqlite3_stmt *stmt = connection_statement(conn, STMT_JOURNEYS_DUE,
                                              journeys_due_sql);
    json_t *rows, *next = NULL;
    int rc;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    rows = json_array();
    sqlite3_bind_int64(stmt, 1, query->now);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64) query->limit);
    rc = rows_collect(conn, req, stmt, rows);
    if (rc == 0)
        rc = next_due(conn, req, query->now, &next);
    if (rc < 0) {
        json_decref(rows);
        return rc;
    }
    req->result = json_pack("{s:o,s:o}", "rows", rows, "next", next);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
