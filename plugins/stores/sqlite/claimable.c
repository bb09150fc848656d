/*
 * The read of a claim: the due jobs in job_compare_due's order (lane,
 * then due, then priority, then id), up to the claim's limit.
 *
 * One query per lane reads that lane's planned jobs in this order
 * straight from jobs_claim, and one query reads the jobs whose lease
 * has ended. The C code below merges the two in claim order. A single
 * query with an outer ORDER BY would copy every row, all of its columns,
 * into a sorter and back: about 31,000 instructions per claimed job,
 * measured with callgrind in bench/email on SQLite 3.40.
 */
#include <stdlib.h>

#include "sqlite.h"


/*
 * A job that a paused scope covers is left where it is until a resume.
 * One NOT EXISTS per scope, each a lookup by primary key: a single
 * subquery with OR between the scopes made SQLite 3.40 build a temporary
 * B-tree of the matching pauses for every row it read.
 */
#define JOB_NOT_PAUSED                                                      \
    " AND NOT EXISTS (SELECT 1 FROM pauses WHERE scope = 'all')"            \
    " AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'channel'"     \
    "  AND p.name = jobs.channel)"                                          \
    " AND NOT EXISTS (SELECT 1 FROM pauses p WHERE p.scope = 'program'"     \
    "  AND p.name = jobs.program)"

/* The due jobs of lane ?3 in claim order, read without a sort from
 * jobs_claim (lane, due, priority DESC), which contains planned jobs
 * only, so that a claim stays quick behind a bulletin's backlog. */
static const char lane_due_sql[] =
    "SELECT " JOB_COLUMNS " FROM jobs"
    " WHERE state = 'planned' AND lane = ?3 AND due <= ?1" JOB_NOT_PAUSED
    " ORDER BY due, priority DESC, id LIMIT ?2";

/* The jobs in flight whose lease has ended, from jobs_lease. SQLite sorts
 * them, but only a crash or a stalled send leaves such jobs, so the sort
 * has few rows. */
static const char lease_ended_sql[] =
    "SELECT " JOB_COLUMNS " FROM jobs"
    " WHERE state IN ('claimed', 'sending') AND lease_until <= ?1"
    JOB_NOT_PAUSED " ORDER BY lane, due, priority DESC, id LIMIT ?2";

/* The room that a claim's arrays start with. They grow up to the
 * claim's limit, which may be far more than a claim finds. */
#define CLAIM_ROOM_FIRST 16

/* The jobs a claim read so far, and the ended leases not yet merged. */
struct claim_read {
    struct job *jobs;           /* in claim order */
    size_t count;
    size_t room;
    size_t limit;
    struct job *ended;          /* in claim order */
    size_t ended_count;
    size_t ended_room;
    size_t ended_next;          /* the first one not moved to `jobs` */
};


/* Makes room for one more job in *jobs, up to `limit`. */
static int
jobs_room_make(struct job **jobs, size_t count, size_t *room, size_t limit)
{
    size_t grown = *room * 2;
    struct job *moved;

    if (count < *room)
        return 0;
    if (grown < CLAIM_ROOM_FIRST)
        grown = CLAIM_ROOM_FIRST;
    if (grown > limit)
        grown = limit;
    moved = realloc(*jobs, grown * sizeof(**jobs));
    if (moved == NULL)
        return CRIER_ENOMEM;
    *jobs = moved;
    *room = grown;
    return 0;
}


/* Reads the jobs whose lease has ended into read->ended. */
static int
lease_ended_read(struct connection *conn, struct request *req,
                 struct claim_read *read)
{
    sqlite3_stmt *stmt;
    int rc = 0;
    int step = SQLITE_DONE;

    stmt = connection_statement(conn, STMT_JOBS_LEASE_ENDED,
                                lease_ended_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, req->input.claim.now);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)read->limit);
    while (rc == 0 && read->ended_count < read->limit
           && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = jobs_room_make(&read->ended, read->ended_count,
                            &read->ended_room, read->limit);
        if (rc < 0)
            break;
        rc = job_row_read(stmt, &read->ended[read->ended_count]);
        read->ended_count++;
    }
    sqlite3_reset(stmt);
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    return rc;
}


/* Moves the ended leases that go before `next` to the claim's jobs,
 * up to the limit. A NULL `next` moves them all. */
static int
lease_ended_merge(struct claim_read *read, const struct job *next)
{
    int rc = 0;

    while (read->ended_next < read->ended_count && read->count < read->limit
           && (next == NULL
               || job_compare_due(&read->ended[read->ended_next], next) < 0)) {
        rc = jobs_room_make(&read->jobs, read->count, &read->room,
                            read->limit);
        if (rc < 0)
            break;
        read->jobs[read->count++] = read->ended[read->ended_next++];
    }
    return rc;
}


/* Reads the due jobs of `lane` and merges the ended leases among them. */
static int
lane_due_read(struct connection *conn, struct request *req,
              struct claim_read *read, int64_t lane)
{
    struct job next;
    sqlite3_stmt *stmt;
    int rc = 0;
    int step = SQLITE_DONE;

    stmt = connection_statement(conn, STMT_JOBS_LANE_DUE, lane_due_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, req->input.claim.now);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)(read->limit - read->count));
    sqlite3_bind_int64(stmt, 3, lane);
    while (rc == 0 && read->count < read->limit
           && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        /* Only the columns of the order, to place the row among the
         * ended leases before it is copied. */
        next.id = sqlite3_column_int64(stmt, JOB_COLUMN_ID);
        next.lane = lane;
        next.due = sqlite3_column_int64(stmt, JOB_COLUMN_DUE);
        next.priority = sqlite3_column_int64(stmt, JOB_COLUMN_PRIORITY);
        rc = lease_ended_merge(read, &next);
        if (rc == 0 && read->count < read->limit)
            rc = jobs_room_make(&read->jobs, read->count, &read->room,
                                read->limit);
        if (rc == 0 && read->count < read->limit) {
            rc = job_row_read(stmt, &read->jobs[read->count]);
            read->count++;
        }
    }
    sqlite3_reset(stmt);
    if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = connection_fail(conn, req, step);
    return rc;
}


/*
 * Reads the claimable jobs in claim order into *jobs, which the caller
 * frees after it clears the *count jobs, even on failure.
 */
int
jobs_claimable_read(struct connection *conn, struct request *req,
                    struct job **jobs, size_t *count)
{
    struct claim_read read = { .limit = req->input.claim.limit };
    int rc;

    rc = lease_ended_read(conn, req, &read);
    for (int64_t lane = 0; rc == 0 && lane <= JOB_LANE_MAX
         && read.count < read.limit; lane++)
        rc = lane_due_read(conn, req, &read, lane);
    if (rc == 0)
        rc = lease_ended_merge(&read, NULL);
    for (size_t i = read.ended_next; i < read.ended_count; i++)
        job_clear(&read.ended[i]);
    free(read.ended);
    *jobs = read.jobs;
    *count = read.count;
    return rc;
}
