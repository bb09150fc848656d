/*
 * Pauses and the audit log (migration 14). Both live in tables of their
 * own: jobs_claim reads `pauses`, and nothing that changes residents'
 * data touches `audit_log`.
 */
#include <stdlib.h>

#include "sqlite.h"

static const char pause_insert_sql[] =
    "INSERT OR IGNORE INTO pauses (scope, name, since, by)"
    " VALUES (?1, ?2, ?3, ?4)";

static const char pause_delete_sql[] =
    "DELETE FROM pauses WHERE scope = ?1 AND name = ?2";

static const char pauses_select_sql[] =
    "SELECT scope, name, since, by FROM pauses ORDER BY scope, name";

static const char audit_insert_sql[] =
    "INSERT INTO audit_log (time_ms, token, action, target, result)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";

/* Filters that are absent are bound to values that pass every row. */
static const char audit_select_sql[] =
    "SELECT id, time_ms, token, action, target, result FROM audit_log"
    " WHERE id < ?1 AND time_ms >= ?2 AND time_ms < ?3"
    " AND (?4 IS NULL OR token = ?4) AND (?5 IS NULL OR action = ?5)"
    " ORDER BY id DESC LIMIT ?6";


int
pause_set_run(struct connection *conn, struct request *req)
{
    const struct pause_change *change = &req->input.pause;
    sqlite3_stmt *stmt;
    int rc;

    stmt = change->paused
           ? connection_statement(conn, STMT_PAUSE_INSERT, pause_insert_sql)
           : connection_statement(conn, STMT_PAUSE_DELETE, pause_delete_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, change->scope);
    statement_bind_text(stmt, 2, change->name);
    if (change->paused) {
        sqlite3_bind_int64(stmt, 3, change->time);
        statement_bind_text(stmt, 4, change->by);
    }
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    req->result = json_pack("{s:b}", "changed", sqlite3_changes(conn->db));
    return req->result != NULL ? 0 : CRIER_ENOMEM;
}


int
pauses_read_run(struct connection *conn, struct request *req)
{
    sqlite3_stmt *stmt;
    json_t *list = json_array();
    int step;

    stmt = connection_statement(conn, STMT_PAUSES_SELECT, pauses_select_sql);
    if (stmt == NULL) {
        json_decref(list);
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    }
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
        json_array_append_new(list, json_pack(
            "{s:s,s:s,s:I,s:s?}",
            "scope", (const char *) sqlite3_column_text(stmt, 0),
            "name", (const char *) sqlite3_column_text(stmt, 1),
            "since", (json_int_t) sqlite3_column_int64(stmt, 2),
            "by", (const char *) sqlite3_column_text(stmt, 3)));
    sqlite3_reset(stmt);
    if (step != SQLITE_DONE) {
        json_decref(list);
        return connection_fail(conn, req, step);
    }
    req->result = json_pack("{s:o}", "pauses", list);
    return req->result != NULL ? 0 : CRIER_ENOMEM;
}


int
audit_append_run(struct connection *conn, struct request *req)
{
    const struct audit_entry *entry = &req->input.audit;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_AUDIT_INSERT, audit_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, entry->time);
    statement_bind_text(stmt, 2, entry->token);
    statement_bind_text(stmt, 3, entry->action);
    statement_bind_text(stmt, 4, entry->target);
    sqlite3_bind_int64(stmt, 5, entry->result);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    req->result = json_pack("{s:I}", "id",
                            (json_int_t) sqlite3_last_insert_rowid(conn->db));
    return req->result != NULL ? 0 : CRIER_ENOMEM;
}


/* Reads one row of audit_select_sql as an entry whose strings it
 * borrows from the statement. */
static json_t *
audit_row_json(sqlite3_stmt *stmt)
{
    struct audit_entry entry = {
        .id = sqlite3_column_int64(stmt, 0),
        .time = sqlite3_column_int64(stmt, 1),
        .token = (char *) sqlite3_column_text(stmt, 2),
        .action = (char *) sqlite3_column_text(stmt, 3),
        .target = (char *) sqlite3_column_text(stmt, 4),
        .result = sqlite3_column_int64(stmt, 5),
    };

    return audit_entry_json(&entry);
}


int
audit_list_run(struct connection *conn, struct request *req)
{
    const struct audit_filter *filter = &req->input.audit_filter;
    json_t *list = json_array();
    json_int_t last = 0;
    sqlite3_stmt *stmt;
    int step;

    stmt = connection_statement(conn, STMT_AUDIT_SELECT, audit_select_sql);
    if (stmt == NULL) {
        json_decref(list);
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    }
    sqlite3_bind_int64(stmt, 1, filter->before);
    sqlite3_bind_int64(stmt, 2, filter->since);
    sqlite3_bind_int64(stmt, 3, filter->until);
    statement_bind_text(stmt, 4, filter->token);
    statement_bind_text(stmt, 5, filter->action);
    /* One row more than the page shows whether another page follows. */
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64) filter->limit + 1);
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW &&
           json_array_size(list) < filter->limit) {
        last = sqlite3_column_int64(stmt, 0);
        json_array_append_new(list, audit_row_json(stmt));
    }
    sqlite3_reset(stmt);
    if (step != SQLITE_DONE && step != SQLITE_ROW) {
        json_decref(list);
        return connection_fail(conn, req, step);
    }
    req->result = json_pack("{s:o,s:o}", "entries", list, "next",
                            step == SQLITE_ROW ? json_integer(last)
                                               : json_null());
    return req->result != NULL ? 0 : CRIER_ENOMEM;
}
