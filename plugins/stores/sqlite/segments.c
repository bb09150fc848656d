/* Segment membership: the rows of segment_members. */
#include <stdlib.h>

#include "sqlite.h"

/* An entry keeps its first `since`, so a repeated entry changes
 * nothing. */
static const char segment_enter_sql[] =
    "INSERT INTO segment_members (segment, profile, since)"
    " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";

static const char segment_leave_sql[] =
    "DELETE FROM segment_members WHERE segment = ?1 AND profile = ?2";

static const char segments_of_sql[] =
    "SELECT segment FROM segment_members WHERE profile = ?1"
    " ORDER BY segment";

static const char segment_count_sql[] =
    "SELECT count(*) FROM segment_members WHERE segment = ?1";

/* ?2 is '' for the first page, which sorts before every profile id. */
static const char segment_page_sql[] =
    "SELECT profile, since FROM segment_members"
    " WHERE segment = ?1 AND profile > ?2 ORDER BY profile LIMIT ?3";


int
segment_apply(struct connection *conn, struct request *req,
              const struct segment_change *change)
{
    sqlite3_stmt *stmt;
    int rc;

    if (change->member)
        stmt = connection_statement(conn, STMT_SEGMENT_ENTER,
                                    segment_enter_sql);
    else
        stmt = connection_statement(conn, STMT_SEGMENT_LEAVE,
                                    segment_leave_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, change->segment);
    statement_bind_text(stmt, 2, change->profile);
    if (change->member)
        sqlite3_bind_int64(stmt, 3, change->time);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


int
segments_add_json(struct connection *conn, struct request *req,
                  const char *id, json_t *profile)
{
    sqlite3_stmt *stmt;
    json_t *names = json_array();
    int rc;

    stmt = connection_statement(conn, STMT_SEGMENTS_OF, segments_of_sql);
    if (stmt == NULL || names == NULL) {
        json_decref(names);
        return stmt == NULL ? connection_fail(conn, req,
                                              sqlite3_errcode(conn->db))
                            : CRIER_ENOMEM;
    }
    statement_bind_text(stmt, 1, id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        json_array_append_new(names, json_string((const char *)
                                                 sqlite3_column_text(stmt,
                                                                     0)));
    sqlite3_reset(stmt);
    json_object_set_new(profile, "segments", names);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


int
segment_count(struct connection *conn, struct request *req)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_SEGMENT_COUNT, segment_count_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, req->input.segment.segment);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        req->result = json_pack("{s:I}", "count", (json_int_t)
                                sqlite3_column_int64(stmt, 0));
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return connection_fail(conn, req, rc);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Reads one more row than the page holds, to know whether a next page
 * exists. */
int
segment_members(struct connection *conn, struct request *req)
{
    const struct segment_query *query = &req->input.segment;
    json_t *members = json_array();
    const char *next = NULL;
    int more = 0;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_SEGMENT_PAGE, segment_page_sql);
    if (stmt == NULL) {
        json_decref(members);
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    }
    statement_bind_text(stmt, 1, query->segment);
    statement_bind_text(stmt, 2, query->after ? query->after : "");
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64) query->limit + 1);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *profile = (const char *) sqlite3_column_text(stmt, 0);

        if (json_array_size(members) == query->limit) {
            more = 1;
            rc = SQLITE_DONE;
            break;
        }
        json_array_append_new(members, segment_member_json(profile,
                                  sqlite3_column_int64(stmt, 1)));
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        json_decref(members);
        return connection_fail(conn, req, rc);
    }
    if (more)
        next = json_string_value(json_object_get(
            json_array_get(members, json_array_size(members) - 1),
            "profile"));
    req->result = segment_members_result(members, next);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
