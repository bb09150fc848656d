/* Direct access to the sqlite store's file, for the sqlite plugin only. */
#ifndef CRIER_SQLITE_FILE_H
#define CRIER_SQLITE_FILE_H

#include <jansson.h>

/* The schema version that the sqlite plugin migrates a database to. */
#define SQLITE_SCHEMA_LATEST 19

/* Runs SQL on the database at `path`, failing the case on error. */
void sqlite_file_exec(const char *path, const char *sql);

/* Turns the current database at `path` back into one of schema
 * `version`, for the tests that upgrade an older database. */
void sqlite_file_downgrade(const char *path, int version);

/* Creates the database at `path` and runs SQL on it. */
void sqlite_file_create(const char *path, const char *sql);

/* Takes the database's write lock until sqlite_file_unlock releases it. */
void *sqlite_file_lock(const char *path);
void sqlite_file_unlock(void *lock);

/* Returns every row of a query, each an array of its column values. */
json_t *sqlite_file_rows(const char *path, const char *sql);

#endif
