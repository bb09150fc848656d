/*
 * events_expire: deletes old events of some types. It runs on the writer
 * inside the request's savepoint, at most `limit` rows per call, so that
 * a large first run does not hold the writer for long.
 */
#include "sqlite.h"

/*
 * ?1 before, ?2 cursor name, ?3 and ?4 the JSON arrays of exact types and
 * prefixes, ?5 limit. Events after the cursor are not processed yet, so
 * they stay. seq is AUTOINCREMENT, so a deleted seq is never reused.
 */
static const char events_expire_sql[] =
    "DELETE FROM events WHERE seq IN (SELECT seq FROM events"
    " WHERE time_ms < ?1"
    " AND seq <= coalesce((SELECT value FROM cursors WHERE name = ?2), 0)"
    " AND (type IN (SELECT value FROM json_each(?3))"
    " OR EXISTS (SELECT 1 FROM json_each(?4)"
    " WHERE substr(events.type, 1, length(value)) = value))"
    " ORDER BY seq LIMIT ?5)";


int
events_expire(struct connection *conn, struct request *req)
{
    const struct expire_request *expire = &req->input.expire;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_EVENTS_EXPIRE, events_expire_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, expire->before);
    statement_bind_text(stmt, 2, expire->cursor);
    statement_bind_text(stmt, 3, expire->types_json);
    statement_bind_text(stmt, 4, expire->prefixes_json);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)expire->limit);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    req->result = expire_result(sqlite3_changes(conn->db));
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
