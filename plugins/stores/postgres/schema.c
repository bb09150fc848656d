/*
 * The schema: versioned migrations for the tables, then the functions
 * that implement the operations.
 *
 * crier_schema_version contains one row, the number of migrations the
 * database has had. A migration is appended to sql/ as the next
 * migration_NNN.sql and a released one never changes. The functions
 * (sql/functions_*.sql) are code, not data: every start replaces them
 * with the plugin's own, so every node on one database must run the same
 * plugin version.
 *
 * Two nodes that start at once both take one transaction-scoped advisory
 * lock before reading the version, so the second waits and then finds
 * nothing left to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"
#include "schema_sql.h"

#define MIGRATION_COUNT                                                     \
    ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))

/* The advisory lock's key: "crier" as ASCII, so that other applications
 * on the same database are unlikely to pick it. */
#define SCHEMA_LOCK_KEY "637269657200"

/* The operations, each a prepared statement of the same name that calls
 * the function crier_NAME(json) and returns its JSON result as text, and
 * "group", which runs several mutations in one transaction. */
const char *const pg_operations[] = {
    "append", "events_read", "cursor_get", "profiles_load", "commit",
    "jobs_claim", "job_update", "jobs_list", "profile_get", "timeline",
    "profile_erase", "events_expire", "segment_count", "segment_members",
    "events_recent", "profiles_scan", "jobs_sent_count", "job_retry",
    "address_invalidate", "schedules_claim", "schedules_advance",
    "report_read", "journeys_read", "journeys_due", "pause_set",
    "pauses_read", "audit_append", "audit_list", "subscription_set",
    "subscriptions_read", "object_put", "objects_read", "jobs_tally",
    "schema_status", "job_sending_capped", "pace_acquire", "pace_release",
    "group",
    NULL
};


/* Runs `sql` (one or more statements) and reports a failure. */
static int
exec_checked(PGconn *pg, const char *sql, char *message, size_t size)
{
    PGresult *result = PQexec(pg, sql);
    ExecStatusType status = PQresultStatus(result);
    int rc = 0;

    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        snprintf(message, size, "%s", PQresultErrorMessage(result));
        rc = CRIER_EIO;
    }
    PQclear(result);
    return rc;
}


/* Reads the stored version into *version, 0 for a new database. */
static int
version_read(PGconn *pg, int *version, char *message, size_t size)
{
    PGresult *result = PQexec(pg, "SELECT version FROM crier_schema_version");
    int rc = 0;

    *version = 0;
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        snprintf(message, size, "%s", PQresultErrorMessage(result));
        rc = CRIER_EIO;
    } else if (PQntuples(result) == 1) {
        *version = atoi(PQgetvalue(result, 0, 0));
    }
    PQclear(result);
    return rc;
}


/* Applies the migrations after the stored version and replaces the
 * functions, inside the caller's transaction. */
static int
schema_update(PGconn *pg, int *found, char *message, size_t size)
{
    char sql[128];
    int version;
    int rc;

    rc = exec_checked(pg, "CREATE TABLE IF NOT EXISTS crier_schema_version"
                      " (version integer NOT NULL)", message, size);
    if (rc == 0)
        rc = version_read(pg, &version, message, size);
    if (rc < 0)
        return rc;
    *found = version;
    if (version > MIGRATION_COUNT) {
        snprintf(message, size, "the database has schema version %d, but "
                 "this plugin knows versions up to %d; use a newer plugin",
                 version, MIGRATION_COUNT);
        return CRIER_EIO;
    }
    for (int i = version; rc == 0 && i < MIGRATION_COUNT; i++)
        rc = exec_checked(pg, pg_migrations[i], message, size);
    if (rc == 0 && version < MIGRATION_COUNT) {
        snprintf(sql, sizeof(sql), "DELETE FROM crier_schema_version;"
                 " INSERT INTO crier_schema_version VALUES (%d)",
                 MIGRATION_COUNT);
        rc = exec_checked(pg, sql, message, size);
    }
    /* A function may call one defined in a later file. */
    if (rc == 0)
        rc = exec_checked(pg, "SET LOCAL check_function_bodies = off",
                          message, size);
    for (size_t i = 0; rc == 0
         && i < sizeof(pg_functions) / sizeof(pg_functions[0]); i++)
        rc = exec_checked(pg, pg_functions[i], message, size);
    return rc;
}


int
schema_latest(void)
{
    return MIGRATION_COUNT;
}


/*
 * Returns the title of migration `version`: the first sentence of the
 * comment that opens its file ("-- N: title. ..."), which may run over
 * several comment lines. Runs on the loop thread only, because it fills
 * a static table.
 */
const char *
schema_title(int version)
{
    static char titles[MIGRATION_COUNT][160];
    const char *at;
    char *title;
    size_t length = 0;

    if (version < 1 || version > MIGRATION_COUNT)
        return NULL;
    title = titles[version - 1];
    if (title[0] != '\0')
        return title;
    at = strstr(pg_migrations[version - 1], ": ");
    at = at != NULL ? at + 2 : pg_migrations[version - 1];
    while (*at != '\0' && length + 1 < sizeof(titles[0])) {
        if (at[0] == '.' && (at[1] == ' ' || at[1] == '\n' || at[1] == '\0'))
            break;
        if (at[0] == '\n') {
            /* The sentence goes on only on a comment line with text. */
            if (strncmp(at + 1, "-- ", 3) != 0)
                break;
            title[length++] = ' ';
            at += 4;
            continue;
        }
        title[length++] = *at++;
    }
    title[length] = '\0';
    return title;
}


/*
 * Reads the stored version without changing anything, inside a read-only
 * transaction. A schema without crier_schema_version reads as version 0.
 */
int
schema_peek(PGconn *pg, int *version, char *message, size_t size)
{
    PGresult *result;
    int exists;
    int rc;

    *version = 0;
    rc = exec_checked(pg, "BEGIN READ ONLY", message, size);
    if (rc < 0)
        return rc;
    result = PQexec(pg, "SELECT to_regclass('crier_schema_version')"
                    " IS NOT NULL");
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        snprintf(message, size, "%s", PQresultErrorMessage(result));
        rc = CRIER_EIO;
    }
    exists = rc == 0 && PQntuples(result) == 1
             && strcmp(PQgetvalue(result, 0, 0), "t") == 0;
    PQclear(result);
    if (exists)
        rc = version_read(pg, version, message, size);
    exec_checked(pg, rc == 0 ? "COMMIT" : "ROLLBACK",
                 message + strlen(message), size - strlen(message));
    return rc;
}


int
schema_migrate(PGconn *pg, int *found, char *message, size_t size)
{
    int rc;

    rc = exec_checked(pg, "BEGIN; SELECT pg_advisory_xact_lock("
                      "x'" SCHEMA_LOCK_KEY "'::bigint)", message, size);
    if (rc < 0)
        return rc;
    rc = schema_update(pg, found, message, size);
    if (rc == 0)
        return exec_checked(pg, "COMMIT", message, size);
    exec_checked(pg, "ROLLBACK", message + strlen(message),
                 size - strlen(message));
    return rc;
}


int
schema_prepare(PGconn *pg, char *message, size_t size)
{
    char sql[128];

    for (size_t i = 0; pg_operations[i] != NULL; i++) {
        PGresult *result;

        snprintf(sql, sizeof(sql), "SELECT crier_%s($1::json)::text",
                 pg_operations[i]);
        result = PQprepare(pg, pg_operations[i], sql, 1, NULL);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) {
            snprintf(message, size, "cannot prepare %s: %s",
                     pg_operations[i], PQresultErrorMessage(result));
            PQclear(result);
            return CRIER_EIO;
        }
        PQclear(result);
    }
    return 0;
}
