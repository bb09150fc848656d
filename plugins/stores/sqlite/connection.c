/*
 * Connections, their statement caches and the mapping of SQLite result
 * codes to crier codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"


int
store_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return CRIER_EBUSY;
    case SQLITE_NOMEM:
        return CRIER_ENOMEM;
    case SQLITE_TOOBIG:
        return CRIER_ETOOBIG;
    default:
        return CRIER_EIO;
    }
}


/* Runs a pragma or other statement that needs no cache. */
static int
connection_exec(struct connection *conn, const char *sql, char *message,
                size_t size)
{
    int rc = sqlite3_exec(conn->db, sql, NULL, NULL, NULL);

    if (rc != SQLITE_OK)
        snprintf(message, size, "%s: %s", sql, sqlite3_errmsg(conn->db));
    return rc;
}


/* Sets the pragmas of the write connection and checks that WAL took. */
static int
connection_configure_writer(struct connection *conn, char *message,
                            size_t size)
{
    sqlite3_stmt *stmt;
    int rc;

    rc = sqlite3_prepare_v2(conn->db, "PRAGMA journal_mode=WAL", -1, &stmt,
                            NULL);
    if (rc != SQLITE_OK) {
        snprintf(message, size, "journal_mode: %s",
                 sqlite3_errmsg(conn->db));
        return rc;
    }
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW
        || strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") != 0) {
        snprintf(message, size, "the database did not switch to WAL: %s",
                 sqlite3_errmsg(conn->db));
        sqlite3_finalize(stmt);
        return rc == SQLITE_ROW ? SQLITE_ERROR : rc;
    }
    sqlite3_finalize(stmt);

    /* With FULL, SQLite syncs the WAL at every commit, so a committed
     * append survives a power cut as well as kill -9. NORMAL would survive
     * only kill -9 (SQLite docs, PRAGMA synchronous). */
    rc = connection_exec(conn, "PRAGMA synchronous=FULL", message, size);
    if (rc == SQLITE_OK)
        rc = connection_exec(conn, "PRAGMA foreign_keys=OFF", message, size);
    /* Each request of a group commit runs in a savepoint (writer.c), and
     * SQLite copies every page that a savepoint changes into a statement
     * journal first. With temp_store=FILE that journal spills to a
     * temporary file once past 64 KiB: in bench/email, about 8 writes of
     * a page per job update, 10 times the WAL's own writes. In memory,
     * each copy is a memcpy. */
    if (rc == SQLITE_OK)
        rc = connection_exec(conn, "PRAGMA temp_store=MEMORY", message,
                             size);
    return rc;
}


/*
 * Sets the connection's page cache to `cache_mb` MiB. SQLite's default is
 * about 2 MiB, and every page that falls out is read again from the
 * kernel. The cache grows only as pages are read, up to this size.
 */
int
connection_cache_set(struct connection *conn, int cache_mb, char *message,
                     size_t size)
{
    char sql[64];
    int rc;

    /* A negative cache_size is in KiB, not in pages. */
    snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%lld",
             (long long)cache_mb * 1024);
    rc = connection_exec(conn, sql, message, size);
    return rc == SQLITE_OK ? 0 : store_error(rc);
}


int
connection_open(struct connection *conn, const char *path, int writable,
                int busy_timeout_ms, char *message, size_t size)
{
    int flags = SQLITE_OPEN_NOMUTEX;
    int rc;

    /* Each connection is used by one thread at a time, so SQLite's own
     * mutexes are not needed. */
    flags |= writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                      : SQLITE_OPEN_READONLY;
    memset(conn, 0, sizeof(*conn));
    rc = sqlite3_open_v2(path, &conn->db, flags, NULL);
    if (rc != SQLITE_OK) {
        snprintf(message, size, "%s",
                 conn->db != NULL ? sqlite3_errmsg(conn->db)
                                  : sqlite3_errstr(rc));
        connection_close(conn);
        return store_error(rc);
    }
    sqlite3_extended_result_codes(conn->db, 1);
    sqlite3_busy_timeout(conn->db, busy_timeout_ms);
    if (writable) {
        rc = connection_configure_writer(conn, message, size);
        if (rc != SQLITE_OK) {
            connection_close(conn);
            return store_error(rc);
        }
    }
    return 0;
}


void
connection_close(struct connection *conn)
{
    int i;

    for (i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(conn->statements[i]);
        conn->statements[i] = NULL;
    }
    sqlite3_close(conn->db);
    conn->db = NULL;
}


/*
 * Returns the cached statement `id`, preparing it from `sql` on first use,
 * or NULL when preparing failed (sqlite3_errmsg has the reason). A caller
 * resets the statement when done with it, because a statement left active
 * keeps its read transaction open and would hide later commits.
 */
sqlite3_stmt *
connection_statement(struct connection *conn, enum statement_id id,
                     const char *sql)
{
    sqlite3_stmt **slot = &conn->statements[id];

    if (*slot == NULL)
        sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                           slot, NULL);
    return *slot;
}


/* Records the connection's error in `req` and returns the crier code. */
int
connection_fail(struct connection *conn, struct request *req, int rc)
{
    int code = store_error(rc);

    if (code == 0)
        code = CRIER_EIO;
    if (req != NULL)
        snprintf(req->message, sizeof(req->message), "%s",
                 sqlite3_errmsg(conn->db));
    return code;
}


/* Runs a cached statement that returns no rows, such as BEGIN. */
int
connection_run(struct connection *conn, struct request *req,
               enum statement_id id, const char *sql)
{
    sqlite3_stmt *stmt = connection_statement(conn, id, sql);
    int rc;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return connection_fail(conn, req, rc);
    return 0;
}


/* Binds `text`, or SQL NULL for NULL, without a copy (SQLITE_STATIC). */
int
statement_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text == NULL)
        return sqlite3_bind_null(stmt, index);
    return sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}


/*
 * Returns a malloc'd copy of a text column, or NULL for SQL NULL. Sets *rc
 * to CRIER_ENOMEM when the copy fails.
 */
char *
column_text_copy(sqlite3_stmt *stmt, int column, int *rc)
{
    const unsigned char *text = sqlite3_column_text(stmt, column);
    char *copy;

    if (text == NULL)
        return NULL;
    copy = strdup((const char *)text);
    if (copy == NULL)
        *rc = CRIER_ENOMEM;
    return copy;
}
