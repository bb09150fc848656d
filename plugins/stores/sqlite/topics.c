/* Topic subscriptions, stored objects and the job tally of a rule. */
#include <stdlib.h>

#include "sqlite.h"

/* A write keeps the row's first `created`. */
static const char subscription_set_sql[] =
    "INSERT INTO subscriptions (profile, topic, channel, status, origin,"
    " created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
    " ON CONFLICT (profile, topic, channel) DO UPDATE SET"
    " status = excluded.status, origin = excluded.origin,"
    " updated = excluded.updated";

static const char subscription_get_sql[] =
    "SELECT profile, topic, channel, status, origin, created, updated"
    " FROM subscriptions WHERE profile = ?1 AND topic = ?2 AND channel = ?3";

static const char subscriptions_profile_sql[] =
    "SELECT profile, topic, channel, status, origin, created, updated"
    " FROM subscriptions WHERE profile = ?1 ORDER BY topic, channel";

/* ?3 is '' for the first page, which sorts before every profile id. */
static const char subscribers_page_sql[] =
    "SELECT profile, topic, channel, status, origin, created, updated"
    " FROM subscriptions WHERE topic = ?1 AND channel = ?2 AND profile > ?3"
    " ORDER BY profile LIMIT ?4";

static const char subscriptions_confirm_sql[] =
    "UPDATE subscriptions SET status = 'confirmed', origin = ?3,"
    " updated = ?4 WHERE profile = ?1 AND channel = ?2"
    " AND status = 'pending'";

static const char object_put_sql[] =
    "INSERT INTO objects (kind, id, body) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body";

static const char objects_all_sql[] =
    "SELECT id, body FROM objects WHERE kind = ?1 ORDER BY id";

static const char object_one_sql[] =
    "SELECT id, body FROM objects WHERE kind = ?1 AND id = ?2";

/* The settled jobs come from jobs_rule in its order, so they need no
 * sort, and jobs_tally_add counts the error of a suppressed job only.
 * The jobs in flight are few, and come from jobs_lease. */
static const char jobs_tally_sql[] =
    "SELECT state, error, count(*) FROM jobs WHERE rule = ?1"
    " AND " JOB_SETTLED " GROUP BY state, error UNION ALL"
    " SELECT state, NULL, count(*) FROM jobs WHERE rule = ?1"
    " AND " JOB_IN_FLIGHT " GROUP BY state";

/* The highest key of the form "<rule>/...", read from the unique index
 * on key: '0' is the character after '/'. */
static const char jobs_last_key_sql[] =
    "SELECT max(key) FROM jobs WHERE key > ?1 || '/' AND key < ?1 || '0'";


static const char *
column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *) sqlite3_column_text(stmt, column);
}


static json_t *
subscription_row(sqlite3_stmt *stmt)
{
    return subscription_json(column_text(stmt, 0), column_text(stmt, 1),
                             column_text(stmt, 2), column_text(stmt, 3),
                             column_text(stmt, 4),
                             sqlite3_column_int64(stmt, 5),
                             sqlite3_column_int64(stmt, 6));
}


/* Reads the rows of a prepared and bound statement into `rows`, and
 * returns SQLITE_DONE or the failing code. */
static int
subscription_rows(sqlite3_stmt *stmt, json_t *rows)
{
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        json_array_append_new(rows, subscription_row(stmt));
    sqlite3_reset(stmt);
    return rc;
}


int
subscription_set(struct connection *conn, struct request *req)
{
    const struct topic_request *in = &req->input.topic;
    sqlite3_stmt *stmt;
    json_t *rows;
    int rc;

    stmt = connection_statement(conn, STMT_SUBSCRIPTION_SET,
                                subscription_set_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, in->profile);
    statement_bind_text(stmt, 2, in->topic);
    statement_bind_text(stmt, 3, in->channel);
    statement_bind_text(stmt, 4, in->status);
    statement_bind_text(stmt, 5, in->origin);
    sqlite3_bind_int64(stmt, 6, in->time);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);

    stmt = connection_statement(conn, STMT_SUBSCRIPTION_GET,
                                subscription_get_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, in->profile);
    statement_bind_text(stmt, 2, in->topic);
    statement_bind_text(stmt, 3, in->channel);
    rows = json_array();
    rc = subscription_rows(stmt, rows);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return connection_fail(conn, req, rc);
    }
    req->result = json_pack("{s:O}", "subscription", json_array_get(rows, 0));
    json_decref(rows);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Reads one row more than the page holds, to know whether a next page
 * exists. */
static int
subscribers_page(struct connection *conn, struct request *req)
{
    const struct topic_request *in = &req->input.topic;
    const char *next = NULL;
    sqlite3_stmt *stmt;
    json_t *rows;
    int rc;

    stmt = connection_statement(conn, STMT_SUBSCRIBERS_PAGE,
                                subscribers_page_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, in->topic);
    statement_bind_text(stmt, 2, in->channel);
    statement_bind_text(stmt, 3, in->after ? in->after : "");
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64) in->limit + 1);
    rows = json_array();
    rc = subscription_rows(stmt, rows);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return connection_fail(conn, req, rc);
    }
    if (json_array_size(rows) > in->limit) {
        json_array_remove(rows, in->limit);
        next = json_string_value(json_object_get(
            json_array_get(rows, in->limit - 1), "profile"));
    }
    req->result = json_pack("{s:O,s:s?}", "subscriptions", rows, "next",
                            next);
    json_decref(rows);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


int
subscriptions_read(struct connection *conn, struct request *req)
{
    sqlite3_stmt *stmt;
    json_t *rows;
    int rc;

    if (req->input.topic.profile == NULL)
        return subscribers_page(conn, req);
    stmt = connection_statement(conn, STMT_SUBSCRIPTIONS_PROFILE,
                                subscriptions_profile_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, req->input.topic.profile);
    rows = json_array();
    rc = subscription_rows(stmt, rows);
    if (rc != SQLITE_DONE) {
        json_decref(rows);
        return connection_fail(conn, req, rc);
    }
    req->result = json_pack("{s:o,s:n}", "subscriptions", rows, "next");
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Confirms the one subscription of `confirm->topic` whatever its
 * status, creating it when missing. */
static int
subscription_confirm_one(struct connection *conn, struct request *req,
                         const struct topic_request *confirm)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_SUBSCRIPTION_SET,
                                subscription_set_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, confirm->profile);
    statement_bind_text(stmt, 2, confirm->topic);
    statement_bind_text(stmt, 3, confirm->channel);
    statement_bind_text(stmt, 4, "confirmed");
    statement_bind_text(stmt, 5, confirm->origin);
    sqlite3_bind_int64(stmt, 6, confirm->time);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/* Confirms every pending subscription of a profile on a channel, or
 * the one of the entry's topic, for a commit batch's "confirmations". */
int
subscriptions_confirm(struct connection *conn, struct request *req,
                      const struct topic_request *confirm)
{
    sqlite3_stmt *stmt;
    int rc;

    if (confirm->topic != NULL)
        return subscription_confirm_one(conn, req, confirm);
    stmt = connection_statement(conn, STMT_SUBSCRIPTIONS_CONFIRM,
                                subscriptions_confirm_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, confirm->profile);
    statement_bind_text(stmt, 2, confirm->channel);
    statement_bind_text(stmt, 3, confirm->origin);
    sqlite3_bind_int64(stmt, 4, confirm->time);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


int
object_put(struct connection *conn, struct request *req)
{
    const struct topic_request *in = &req->input.topic;
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_OBJECT_PUT, object_put_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, in->kind);
    statement_bind_text(stmt, 2, in->id);
    statement_bind_text(stmt, 3, in->body);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    req->result = json_object();
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


int
objects_read(struct connection *conn, struct request *req)
{
    const struct topic_request *in = &req->input.topic;
    sqlite3_stmt *stmt;
    json_t *objects;
    int rc;

    if (in->id != NULL)
        stmt = connection_statement(conn, STMT_OBJECT_ONE, object_one_sql);
    else
        stmt = connection_statement(conn, STMT_OBJECTS_ALL, objects_all_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, in->kind);
    if (in->id != NULL)
        statement_bind_text(stmt, 2, in->id);
    objects = json_array();
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        json_t *object = stored_object_json(column_text(stmt, 0),
                                            column_text(stmt, 1));

        if (object != NULL)
            json_array_append_new(objects, object);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        json_decref(objects);
        return connection_fail(conn, req, rc);
    }
    req->result = json_pack("{s:o}", "objects", objects);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


int
jobs_tally(struct connection *conn, struct request *req)
{
    sqlite3_stmt *stmt;
    json_t *tally;
    int rc;

    stmt = connection_statement(conn, STMT_JOBS_TALLY, jobs_tally_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, req->input.topic.rule);
    tally = jobs_tally_new();
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        jobs_tally_add(tally, column_text(stmt, 0), column_text(stmt, 1),
                       sqlite3_column_int64(stmt, 2));
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        json_decref(tally);
        return connection_fail(conn, req, rc);
    }
    stmt = connection_statement(conn, STMT_JOBS_LAST_KEY,
                                jobs_last_key_sql);
    if (stmt == NULL) {
        json_decref(tally);
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    }
    statement_bind_text(stmt, 1, req->input.topic.rule);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        jobs_tally_last(tally, req->input.topic.rule, column_text(stmt, 0));
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW) {
        json_decref(tally);
        return connection_fail(conn, req, rc);
    }
    req->result = tally;
    return 0;
}
