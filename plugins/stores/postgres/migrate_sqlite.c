/*
 * crier-migrate-sqlite-postgres: copies a sqlite store's database into a
 * postgres store, table by table, then reads every table back and checks
 * its row count and checksum. `crier migrate --from sqlite:PATH --to
 * postgres:URL` runs it.
 *
 *     crier-migrate-sqlite-postgres PATH URL [SCHEMA]
 *
 * The copy runs in one PostgreSQL transaction that first empties crier's
 * tables, so a rerun replaces the earlier copy and a failed run leaves
 * the target as it was. Stop every crier node of both stores first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "postgres.h"

/* The sqlite schema version whose tables the postgres migrations
 * mirror. Versions 18 and 19 changed only indexes of jobs, so the tables
 * are those of 17. */
#define SQLITE_VERSION_COPIED 19

/* A table to copy: its columns in both stores, and the order in which
 * both stores list the rows for the checksum. */
struct table {
    const char *name;
    const char *sqlite_columns;
    const char *postgres_columns;
    const char *order;
};

static const struct table tables[] = {
    { "events", "seq, source, ext_id, type, time_ms, received_ms, body,"
      " profile", NULL, "seq" },
    { "cursors", "name, value", NULL, "name" },
    { "profiles", "id, created, updated, attributes, consent, related", NULL,
      "id" },
    /* SQLite lists a profile's identities in rowid order. */
    { "identities", "kind, value, profile, rowid",
      "kind, value, profile, added", "kind, value" },
    { "stages", "profile, program, stage, since", NULL, "profile, program" },
    { "stage_history", "id, profile, program, from_stage, to_stage, time_ms,"
      " event_seq, rule", NULL, "id" },
    { "merges", "from_id, into_id, time_ms", NULL, "from_id" },
    { "erasures", "id, time_ms", NULL, "id" },
    { "jobs", "id, key, rule, program, profile, event_seq, channel,"
      " template, recipient, state, generation, attempts, due, lease_until,"
      " owner, message_id, provider_id, error, last_error, language,"
      " template_version, lane, priority, created, updated,"
      " delivery_status, delivery_code, delivery_text, delivery_time", NULL,
      "id" },
    { "job_attempts", "job, number, time_ms, outcome, reply", NULL,
      "job, number" },
    { "invalid_addresses", "value, kind, reason, time_ms", NULL,
      "value, kind" },
    { "segment_members", "segment, profile, since", NULL,
      "segment, profile" },
    { "schedules", "source, profile, schedule, record, basis, date, zone,"
      " occurrence, due, lease_until", NULL,
      "source, profile, schedule, record" },
    { "journeys", "journey, profile, entry, step, state, due, since,"
      " updated, items", NULL, "journey, profile" },
    { "report_messages", "rule, template, channel, metric, day, count",
      NULL, "rule, template, channel, metric, day" },
    { "report_moves", "program, day, from_stage, to_stage, count", NULL,
      "program, day, from_stage, to_stage" },
    { "report_durations", "program, stage, day, days, count", NULL,
      "program, stage, day, days" },
    { "conversions", "goal, job, event_seq, time_ms", NULL, "goal, job" },
    { "job_engagements", "job, metric, time_ms", NULL, "job, metric" },
    { "pauses", "scope, name, since, by", NULL, "scope, name" },
    { "audit_log", "id, time_ms, token, action, target, result", NULL,
      "id" },
    { "subscriptions", "profile, topic, channel, status, origin, created,"
      " updated", NULL, "profile, topic, channel" },
    { "objects", "kind, id, body", NULL, "kind, id" }
};

#define TABLE_COUNT (sizeof(tables) / sizeof(tables[0]))

/* The serial columns, whose sequences continue after the copied ids. */
static const char *const serials[][2] = {
    { "events", "seq" }, { "identities", "added" },
    { "stage_history", "id" }, { "erasures", "id" }, { "jobs", "id" },
    { "audit_log", "id" }
};

/* A row count and a 64-bit FNV-1a checksum of COPY's text lines. */
struct tally {
    int64_t rows;
    uint64_t sum;
};


static void
tally_add(struct tally *t, const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        t->sum ^= (unsigned char)line[i];
        t->sum *= 1099511628211ULL;
    }
    t->rows++;
}


/* Appends `text` to `out` escaped as COPY's text format escapes it on
 * output, so that the lines sent and the lines read back compare. */
static size_t
field_escape(char *out, const char *text)
{
    size_t n = 0;

    for (const char *p = text; *p != '\0'; p++) {
        const char *escape = NULL;

        switch (*p) {
        case '\\': escape = "\\\\"; break;
        case '\b': escape = "\\b"; break;
        case '\f': escape = "\\f"; break;
        case '\n': escape = "\\n"; break;
        case '\r': escape = "\\r"; break;
        case '\t': escape = "\\t"; break;
        case '\v': escape = "\\v"; break;
        }
        if (escape != NULL) {
            memcpy(out + n, escape, 2);
            n += 2;
        } else {
            out[n++] = *p;
        }
    }
    return n;
}


/* Builds the COPY line of the current row of `stmt` in *line. */
static int
row_line(sqlite3_stmt *stmt, char **line, size_t *size, size_t *len)
{
    int columns = sqlite3_column_count(stmt);
    size_t need = 2;
    size_t n = 0;

    for (int i = 0; i < columns; i++)
        need += 2 * (size_t)sqlite3_column_bytes(stmt, i) + 3;
    if (need > *size) {
        char *grown = realloc(*line, need);

        if (grown == NULL)
            return -1;
        *line = grown;
        *size = need;
    }
    for (int i = 0; i < columns; i++) {
        const char *text = (const char *)sqlite3_column_text(stmt, i);

        if (i > 0)
            (*line)[n++] = '\t';
        if (text == NULL) {
            memcpy(*line + n, "\\N", 2);
            n += 2;
        } else {
            n += field_escape(*line + n, text);
        }
    }
    (*line)[n++] = '\n';
    *len = n;
    return 0;
}


/* Runs `sql`; a COPY succeeds when the server is ready for its data. */
static int
pg_exec(PGconn *pg, const char *sql)
{
    PGresult *result = PQexec(pg, sql);
    ExecStatusType status = PQresultStatus(result);

    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK
        && status != PGRES_COPY_IN && status != PGRES_COPY_OUT) {
        fprintf(stderr, "crier-migrate: %s failed: %s", sql,
                PQresultErrorMessage(result));
        PQclear(result);
        return -1;
    }
    PQclear(result);
    return 0;
}


/* Returns nonzero when the sqlite database has table `name`. */
static int
sqlite_has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *stmt;
    int found;

    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type ="
                           " 'table' AND name = ?1", -1, &stmt, NULL) != 0)
        return 0;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    return found;
}


/* Sends every row of one table through COPY FROM STDIN and tallies the
 * lines sent. */
static int
table_copy(sqlite3 *db, PGconn *pg, const struct table *t,
           struct tally *sent)
{
    char sql[1024];
    sqlite3_stmt *stmt;
    char *line = NULL;
    size_t size = 0;
    size_t len;
    int rc = 0;
    int step;

    snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s",
             t->sqlite_columns, t->name, t->order);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        fprintf(stderr, "crier-migrate: reading %s failed: %s\n", t->name,
                sqlite3_errmsg(db));
        return -1;
    }
    snprintf(sql, sizeof(sql), "COPY %s (%s) FROM STDIN", t->name,
             t->postgres_columns != NULL ? t->postgres_columns
                                         : t->sqlite_columns);
    if (pg_exec(pg, sql) < 0) {
        sqlite3_finalize(stmt);
        return -1;
    }
    while (rc == 0 && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rc = row_line(stmt, &line, &size, &len);
        if (rc == 0 && PQputCopyData(pg, line, (int)len) != 1)
            rc = -1;
        if (rc == 0)
            tally_add(sent, line, len);
    }
    if (rc == 0 && step != SQLITE_DONE) {
        fprintf(stderr, "crier-migrate: reading %s failed: %s\n", t->name,
                sqlite3_errmsg(db));
        rc = -1;
    }
    sqlite3_finalize(stmt);
    free(line);
    if (PQputCopyEnd(pg, rc == 0 ? NULL : "read failed") != 1)
        rc = -1;
    PGresult *result = PQgetResult(pg);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
        fprintf(stderr, "crier-migrate: copying %s failed: %s", t->name,
                PQresultErrorMessage(result));
        rc = -1;
    }
    PQclear(result);
    while ((result = PQgetResult(pg)) != NULL)
        PQclear(result);
    return rc;
}


/* Reads the copied table back with COPY TO STDOUT in the same order and
 * tallies the lines. */
static int
table_read_back(PGconn *pg, const struct table *t, struct tally *read)
{
    char sql[1024];
    PGresult *result;
    char *buffer;
    int len;

    snprintf(sql, sizeof(sql), "COPY (SELECT %s FROM %s ORDER BY %s) TO"
             " STDOUT", t->postgres_columns != NULL ? t->postgres_columns
                                                    : t->sqlite_columns,
             t->name, t->order);
    if (pg_exec(pg, sql) < 0)
        return -1;
    while ((len = PQgetCopyData(pg, &buffer, 0)) > 0) {
        tally_add(read, buffer, (size_t)len);
        PQfreemem(buffer);
    }
    result = PQgetResult(pg);
    len = PQresultStatus(result) == PGRES_COMMAND_OK ? 0 : -1;
    if (len < 0)
        fprintf(stderr, "crier-migrate: reading %s back failed: %s",
                t->name, PQresultErrorMessage(result));
    PQclear(result);
    while ((result = PQgetResult(pg)) != NULL)
        PQclear(result);
    return len;
}


static int
sqlite_version_check(sqlite3 *db)
{
    sqlite3_stmt *stmt;
    int version = -1;

    if (sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1,
                           &stmt, NULL) == SQLITE_OK
        && sqlite3_step(stmt) == SQLITE_ROW)
        version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    if (version == SQLITE_VERSION_COPIED)
        return 0;
    fprintf(stderr, "crier-migrate: the sqlite database has schema version "
            "%d, but this tool copies version %d; open it once with this "
            "crier (crier migrate) to bring it up to date\n", version,
            SQLITE_VERSION_COPIED);
    return -1;
}


/* Empties the target tables, copies each table and checks it. */
static int
copy_all(sqlite3 *db, PGconn *pg)
{
    char sql[512];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < TABLE_COUNT; i++) {
        snprintf(sql, sizeof(sql), "TRUNCATE %s", tables[i].name);
        rc = pg_exec(pg, sql);
    }
    for (size_t i = 0; rc == 0 && i < TABLE_COUNT; i++) {
        struct tally sent = { 0, 14695981039346656037ULL };
        struct tally read = { 0, 14695981039346656037ULL };

        if (!sqlite_has_table(db, tables[i].name))
            continue;
        rc = table_copy(db, pg, &tables[i], &sent);
        if (rc == 0)
            rc = table_read_back(pg, &tables[i], &read);
        if (rc == 0 && (sent.rows != read.rows || sent.sum != read.sum)) {
            fprintf(stderr, "crier-migrate: %s differs after the copy: "
                    "%" PRId64 " rows sent, %" PRId64 " read back\n",
                    tables[i].name, sent.rows, read.rows);
            rc = -1;
        }
        if (rc == 0)
            printf("%s: %" PRId64 " rows, checksum %016" PRIx64 "\n",
                   tables[i].name, sent.rows, sent.sum);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(serials) / sizeof(serials[0]);
         i++) {
        snprintf(sql, sizeof(sql), "SELECT setval(pg_get_serial_sequence("
                 "'%s', '%s'), coalesce(max(%s), 0) + 1, false) FROM %s",
                 serials[i][0], serials[i][1], serials[i][1],
                 serials[i][0]);
        rc = pg_exec(pg, sql);
    }
    return rc;
}


int
main(int argc, char **argv)
{
    struct pg_store target = { 0 };
    char message[512] = "";
    sqlite3 *db = NULL;
    PGconn *pg;
    int found;
    int rc;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s SQLITE_PATH POSTGRES_URL [SCHEMA]\n",
                argv[0]);
        return 64;
    }
    if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL)
        != SQLITE_OK) {
        fprintf(stderr, "crier-migrate: cannot open %s: %s\n", argv[1],
                sqlite3_errmsg(db));
        sqlite3_close(db);
        return 1;
    }
    target.url = argv[2];
    target.schema = argc == 4 ? argv[3] : NULL;
    pg = connection_open(&target, message, sizeof(message));
    if (pg == NULL) {
        fprintf(stderr, "crier-migrate: cannot connect: %s", message);
        sqlite3_close(db);
        return 1;
    }
    rc = sqlite_version_check(db);
    if (rc == 0 && schema_migrate(pg, &found, message, sizeof(message)) < 0) {
        fprintf(stderr, "crier-migrate: cannot prepare the schema: %s",
                message);
        rc = -1;
    }
    /* One read transaction on SQLite gives one snapshot of every table. */
    if (rc == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    if (rc == 0)
        rc = pg_exec(pg, "BEGIN");
    if (rc == 0)
        rc = copy_all(db, pg);
    if (rc == 0)
        rc = pg_exec(pg, "COMMIT");
    else
        PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
    sqlite3_close(db);
    if (rc == 0)
        printf("copied and verified every table\n");
    return rc == 0 ? 0 : 1;
}
