/*
 * Group commit: the writer runs every mutation it took from its queue in
 * one transaction, so many requests share one fsync of the WAL. Each runs
 * inside its own savepoint, so a request that fails is undone alone and
 * the others still commit. No callback runs before COMMIT has returned.
 */
#include <string.h>

#include "sqlite.h"


/* Fails every request of the list with `status`, keeping the first
 * SQLite message for the log. */
static void
list_fail(struct request *list, int status, const char *message)
{
    struct request *req;

    for (req = list; req != NULL; req = req->next) {
        request_discard(req, status);
        if (req->message[0] == '\0' && message[0] != '\0')
            memcpy(req->message, message, sizeof(req->message));
    }
}


static int
request_is_one_statement(const struct request *req)
{
    return req->kind == REQUEST_APPEND && req->input.append.count == 1;
}


/*
 * Runs one request inside a savepoint. Returns 0 when the transaction is
 * still usable, whatever the request's own status, or a negative code when
 * the transaction was lost and the whole list must fail.
 */
static int
request_isolate(struct connection *conn, struct request *req)
{
    int rc;

    /* One statement needs no savepoint: SQLite undoes a failed statement
     * by itself. Single-event appends are most of the traffic. */
    if (request_is_one_statement(req)) {
        if (request_execute(conn, req) < 0 &&
            sqlite3_get_autocommit(conn->db))
            return req->status;
        return 0;
    }
    rc = connection_run(conn, req, STMT_SAVEPOINT, "SAVEPOINT request");
    if (rc < 0)
        return rc;
    if (request_execute(conn, req) < 0) {
        /* Some errors (an I/O error, a full disk) make SQLite roll the
         * whole transaction back itself. */
        if (sqlite3_get_autocommit(conn->db))
            return req->status;
        rc = connection_run(conn, req, STMT_ROLLBACK_TO,
                            "ROLLBACK TO request");
        if (rc < 0)
            return rc;
    }
    return connection_run(conn, req, STMT_RELEASE, "RELEASE request");
}


void
writer_run(struct worker *worker, struct request *list)
{
    struct connection *conn = &worker->conn;
    struct request *failed = list;
    struct request *req;
    int rc;

    rc = connection_run(conn, list, STMT_BEGIN, "BEGIN IMMEDIATE");
    for (req = list; rc == 0 && req != NULL; req = req->next) {
        rc = request_isolate(conn, req);
        failed = req;
    }
    if (rc == 0) {
        failed = list;
        rc = connection_run(conn, list, STMT_COMMIT, "COMMIT");
    }
    if (rc == 0)
        return;

    /* Nothing of the list is durable: undo what is left and fail it all,
     * including the requests that had succeeded.
     * NOTE: the conformance suite makes BEGIN fail (a lock held elsewhere)
     * but cannot make COMMIT or a savepoint fail, so those are untested. */
    if (!sqlite3_get_autocommit(conn->db))
        connection_run(conn, NULL, STMT_ROLLBACK, "ROLLBACK");
    list_fail(list, rc, failed->message);
}
