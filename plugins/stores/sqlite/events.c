/* Events and cursors. */
#include <string.h>

#include "sqlite.h"


/* A conflict on (source, ext_id) inserts nothing, which marks a
 * duplicate. A NULL ext_id never conflicts. */
static const char event_insert_sql[] =
    "INSERT INTO events (source, ext_id, type, time_ms, received_ms, body)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";

static const char events_select_sql[] =
    "SELECT seq, source, ext_id, type, time_ms, body FROM events"
    " WHERE seq > ?1 ORDER BY seq LIMIT ?2";

/* The index events_profile_time serves the filter and the order. */
static const char events_recent_sql[] =
    "SELECT seq, source, ext_id, type, time_ms, body FROM events"
    " WHERE profile = ?1 AND time_ms >= ?2"
    " ORDER BY time_ms DESC, seq DESC LIMIT ?3";

static const char event_body_sql[] =
    "SELECT body FROM events WHERE seq = ?1";

static const char cursor_select_sql[] =
    "SELECT value FROM cursors WHERE name = ?1";

static const char cursor_upsert_sql[] =
    "INSERT INTO cursors (name, value) VALUES (?1, ?2)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value";


static int
event_insert(sqlite3_stmt *stmt, const struct crier_event_rec *event)
{
    int rc;

    rc = statement_bind_text(stmt, 1, event->source);
    if (rc == SQLITE_OK)
        rc = statement_bind_text(stmt, 2, event->id);
    if (rc == SQLITE_OK)
        rc = statement_bind_text(stmt, 3, event->type);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 4, event->time_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(stmt, 5, event->received_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text64(stmt, 6, event->json, event->json_len,
                                 SQLITE_STATIC, SQLITE_UTF8);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc;
}


/*
 * Inserts the batch's events. When one fails, the caller's savepoint undoes
 * them all.
 */
int
events_append(struct connection *conn, struct request *req)
{
    sqlite3_stmt *stmt;
    size_t i;
    int rc;

    stmt = connection_statement(conn, STMT_EVENT_INSERT, event_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    req->accepted = 0;
    req->duplicates = 0;
    for (i = 0; i < req->input.append.count; i++) {
        rc = event_insert(stmt, &req->input.append.events[i]);
        if (rc != SQLITE_DONE)
            return connection_fail(conn, req, rc);
        if (sqlite3_changes(conn->db) > 0)
            req->accepted++;
        else
            req->duplicates++;
    }
    return 0;
}


/* Inserts the events of a commit batch, which have no sender's id and so
 * are never duplicates. */
int
batch_events_append(struct connection *conn, struct request *req,
                    const struct batch_event *events, size_t count)
{
    sqlite3_stmt *stmt;
    size_t i;
    int rc;

    if (count == 0)
        return 0;
    stmt = connection_statement(conn, STMT_EVENT_INSERT, event_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    for (i = 0; i < count; i++) {
        struct crier_event_rec rec = {
            .source = events[i].source,
            .type = events[i].type,
            .time_ms = events[i].time,
            .received_ms = events[i].time,
            .json = events[i].body,
            .json_len = strlen(events[i].body)
        };

        rc = event_insert(stmt, &rec);
        if (rc != SQLITE_DONE)
            return connection_fail(conn, req, rc);
    }
    return 0;
}


static json_t *
event_row_json(sqlite3_stmt *stmt)
{
    return event_json(sqlite3_column_int64(stmt, 0),
                      (const char *)sqlite3_column_text(stmt, 1),
                      (const char *)sqlite3_column_text(stmt, 2),
                      (const char *)sqlite3_column_text(stmt, 3),
                      sqlite3_column_int64(stmt, 4),
                      (const char *)sqlite3_column_text(stmt, 5),
                      (size_t)sqlite3_column_bytes(stmt, 5));
}


static int
events_collect(sqlite3_stmt *stmt, json_t *list)
{
    int rc;

    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (json_array_append_new(list, event_row_json(stmt)) < 0)
            return SQLITE_NOMEM;
    }
    return rc;
}


int
events_read(struct connection *conn, struct request *req)
{
    sqlite3_stmt *stmt;
    json_t *list;
    int rc;

    stmt = connection_statement(conn, STMT_EVENTS_SELECT, events_select_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    req->result = json_pack("{s:[]}", "events");
    if (req->result == NULL)
        return CRIER_ENOMEM;
    list = json_object_get(req->result, "events");
    sqlite3_bind_int64(stmt, 1, req->input.read.after_seq);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)req->input.read.limit);
    rc = events_collect(stmt, list);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    return 0;
}



/* Reads each profile's events into its list of the result. A profile
 * named twice is read once, since its list is then filled already. */
int
events_recent(struct connection *conn, struct request *req)
{
    const struct recent_request *query = &req->input.recent;
    json_t *profiles;
    sqlite3_stmt *stmt;
    int rc = SQLITE_DONE;

    stmt = connection_statement(conn, STMT_EVENTS_RECENT, events_recent_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    req->result = recent_result_new(query);
    if (req->result == NULL)
        return CRIER_ENOMEM;
    profiles = json_object_get(req->result, "profiles");
    for (size_t i = 0; i < query->profile_count && rc == SQLITE_DONE; i++) {
        json_t *list = json_object_get(profiles, query->profiles[i]);

        if (json_array_size(list) > 0)
            continue;
        statement_bind_text(stmt, 1, query->profiles[i]);
        sqlite3_bind_int64(stmt, 2, query->since);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64) query->limit);
        rc = events_collect(stmt, list);
        sqlite3_reset(stmt);
    }
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    return 0;
}

/*
 * Returns the stored JSON of event `seq`, or null when it is not stored.
 * Returns NULL with *rc set when the read fails. The claim `req` keeps
 * the last event it loaded, which the next job of that event shares.
 */
json_t *
event_load(struct connection *conn, struct request *req, int64_t seq,
           int *rc)
{
    sqlite3_stmt *stmt;
    json_t *event = claim_event_get(&req->claim_event, seq);
    int step;

    if (event != NULL)
        return event;
    stmt = connection_statement(conn, STMT_EVENT_BODY, event_body_sql);
    if (stmt == NULL) {
        *rc = connection_fail(conn, req, sqlite3_errcode(conn->db));
        return NULL;
    }
    sqlite3_bind_int64(stmt, 1, seq);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        event = event_body_json((const char *)sqlite3_column_text(stmt, 0),
                                (size_t)sqlite3_column_bytes(stmt, 0));
    else if (step == SQLITE_DONE)
        event = json_null();
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        *rc = connection_fail(conn, req, step);
    else if (event == NULL)
        *rc = CRIER_ENOMEM;
    else
        claim_event_keep(&req->claim_event, seq, event);
    return event;
}


int
cursor_value(struct connection *conn, struct request *req, const char *name,
             int64_t *value)
{
    sqlite3_stmt *stmt;
    int rc;

    *value = 0;
    stmt = connection_statement(conn, STMT_CURSOR_SELECT, cursor_select_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, name);
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    return 0;
}


int
cursor_get(struct connection *conn, struct request *req)
{
    int64_t value;
    int rc = cursor_value(conn, req, req->input.cursor_name, &value);

    if (rc < 0)
        return rc;
    req->result = json_pack("{s:I}", "value", (json_int_t)value);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


int
cursor_set(struct connection *conn, struct request *req, const char *name,
           int64_t value)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_CURSOR_UPSERT, cursor_upsert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, name);
    sqlite3_bind_int64(stmt, 2, value);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}
