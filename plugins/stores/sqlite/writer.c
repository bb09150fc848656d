/*
 * Group commit: the writer runs every mutation it took from its queue in
 * one transaction, so many requests share one fsync of the WAL. A request
 * that fails is undone alone and the others still commit. No callback
 * runs before COMMIT has returned.
 *
 * Undoing one request alone takes a savepoint around it, and SQLite
 * copies each page that a savepoint changes into a statement journal
 * first. The delivery requests (claims, job updates and capped sending
 * marks) are most of a send's traffic, and they fail after writing only
 * on an I/O error or a full disk. So a run of them shares one savepoint,
 * and each page is copied once for the run. When one of them does fail
 * after writing, the run is undone and run again with a savepoint for
 * each request. That is safe because these requests read their input
 * only, and nothing of the run is visible before COMMIT.
 *
 * A run also sums its report counter additions in memory (report.c) and
 * writes them once, before it releases its savepoint, in place of one
 * upsert per sent job. A run that is undone drops its sums, and its
 * requests run again with each addition written at once.
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


/* Returns nonzero for a request that may share a savepoint with the
 * requests around it: one that can run again from its input. */
static int
request_shares_savepoint(const struct request *req)
{
    return req->kind == REQUEST_JOBS_CLAIM || req->kind == REQUEST_JOB_UPDATE
           || req->kind == REQUEST_JOB_SENDING_CAPPED;
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


/*
 * Runs the requests from `first` up to, not including, `end` in one
 * savepoint, and then writes their summed report counters. Sets *undo
 * when one of them failed after writing or adding to a counter, or when
 * the counters failed, and then leaves nothing of the run in the
 * transaction. Returns 0, or a negative code when the transaction was
 * lost.
 */
static int
run_shared(struct connection *conn, struct request *first,
           struct request *end, int *undo)
{
    struct request *req;
    int rc;

    *undo = 0;
    report_sums_begin(conn);
    rc = connection_run(conn, first, STMT_SAVEPOINT_RUN, "SAVEPOINT run");
    for (req = first; rc == 0 && !*undo && req != end; req = req->next) {
        sqlite3_int64 changes = sqlite3_total_changes64(conn->db);
        uint64_t added = conn->sums.added;

        if (request_execute(conn, req) == 0)
            continue;
        if (sqlite3_get_autocommit(conn->db)) {
            rc = req->status;
            break;
        }
        if (sqlite3_total_changes64(conn->db) != changes
            || conn->sums.added != added)
            *undo = 1;
    }
    if (rc == 0 && !*undo) {
        int written = report_sums_write(conn, first);

        if (written < 0 && sqlite3_get_autocommit(conn->db))
            rc = written;
        else if (written < 0)
            *undo = 1;
    }
    report_sums_end(conn);
    if (rc == 0 && *undo)
        rc = connection_run(conn, first, STMT_ROLLBACK_TO_RUN,
                            "ROLLBACK TO run");
    if (rc == 0)
        rc = connection_run(conn, first, STMT_RELEASE_RUN, "RELEASE run");
    return rc;
}


/* Runs the requests from `first` up to `end`, sharing a savepoint, and
 * each in a savepoint of its own if that failed. */
static int
run_delivery(struct connection *conn, struct request *first,
             struct request *end)
{
    struct request *req;
    int undo;
    int rc;

    rc = run_shared(conn, first, end, &undo);
    for (req = first; rc == 0 && undo && req != end; req = req->next) {
        request_discard(req, 0);
        rc = request_isolate(conn, req);
    }
    return rc;
}


/* Runs the list's requests in order and sets *failed to the request that
 * lost the transaction, if one did. */
static int
list_run(struct connection *conn, struct request *list,
         struct request **failed)
{
    struct request *req = list;
    int rc = 0;

    while (rc == 0 && req != NULL) {
        struct request *end = req;

        *failed = req;
        while (end != NULL && request_shares_savepoint(end))
            end = end->next;
        if (end != req) {
            rc = run_delivery(conn, req, end);
            req = end;
        } else {
            rc = request_isolate(conn, req);
            req = req->next;
        }
    }
    return rc;
}


void
writer_run(struct worker *worker, struct request *list)
{
    struct connection *conn = &worker->conn;
    struct request *failed = list;
    int rc;

    rc = connection_run(conn, list, STMT_BEGIN, "BEGIN IMMEDIATE");
    if (rc == 0)
        rc = list_run(conn, list, &failed);
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
