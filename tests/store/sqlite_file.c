/*
 * Direct access to the sqlite store's database file, for the cases that
 * check what no store operation returns (stage history, schema version).
 *
 * The suite does not link SQLite itself. It finds the functions it needs
 * in the libsqlite3 that the sqlite plugin already loaded, through the
 * plugin's handle.
 */
#include <stdio.h>

#include <sqlite3.h>

#include "store_test.h"
#include "sqlite_file.h"

struct sqlite_api {
    __typeof__(sqlite3_open_v2) *open_v2;
    __typeof__(sqlite3_close) *close;
    __typeof__(sqlite3_exec) *exec;
    __typeof__(sqlite3_prepare_v2) *prepare_v2;
    __typeof__(sqlite3_step) *step;
    __typeof__(sqlite3_column_count) *column_count;
    __typeof__(sqlite3_column_type) *column_type;
    __typeof__(sqlite3_column_int64) *column_int64;
    __typeof__(sqlite3_column_text) *column_text;
    __typeof__(sqlite3_finalize) *finalize;
};


static void
api_load(struct sqlite_api *api)
{
#define API_SYMBOL(field, name)                                             \
    api->field = testhost_plugin_symbol(&store_plugin, name);               \
    assert_non_null(api->field)

    API_SYMBOL(open_v2, "sqlite3_open_v2");
    API_SYMBOL(close, "sqlite3_close");
    API_SYMBOL(exec, "sqlite3_exec");
    API_SYMBOL(prepare_v2, "sqlite3_prepare_v2");
    API_SYMBOL(step, "sqlite3_step");
    API_SYMBOL(column_count, "sqlite3_column_count");
    API_SYMBOL(column_type, "sqlite3_column_type");
    API_SYMBOL(column_int64, "sqlite3_column_int64");
    API_SYMBOL(column_text, "sqlite3_column_text");
    API_SYMBOL(finalize, "sqlite3_finalize");
#undef API_SYMBOL
}


static sqlite3 *
file_open(const struct sqlite_api *api, const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(api->open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                     SQLITE_OK);
    return db;
}


/*
 * Opens the database and takes its write lock, which stays held until
 * sqlite_file_unlock. Returns the connection.
 */
void *
sqlite_file_lock(const char *path)
{
    struct sqlite_api api;
    sqlite3 *db;

    api_load(&api);
    db = file_open(&api, path);
    assert_int_equal(api.exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}


void
sqlite_file_unlock(void *lock)
{
    struct sqlite_api api;

    api_load(&api);
    assert_int_equal(api.exec(lock, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    api.close(lock);
}


void
sqlite_file_exec(const char *path, const char *sql)
{
    struct sqlite_api api;
    sqlite3 *db;

    api_load(&api);
    db = file_open(&api, path);
    assert_int_equal(api.exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    api.close(db);
}


/*
 * The SQL that undoes each schema migration, by the version it brought.
 * Migrations 7, 10 and 13 create their objects with IF NOT EXISTS, so
 * they are kept and simply run again.
 */
static const char *const migration_undo[] = {
    [4] = "ALTER TABLE profiles DROP COLUMN consent;",
    [5] = "ALTER TABLE profiles DROP COLUMN related;",
    [6] = "DROP TABLE segment_members;",
    [8] = "ALTER TABLE jobs DROP COLUMN language;",
    [9] = "DROP INDEX jobs_lane_due;"
          "DROP TABLE invalid_addresses;"
          "ALTER TABLE jobs DROP COLUMN priority;"
          "ALTER TABLE jobs DROP COLUMN lane;",
    [11] = "DROP TABLE report_messages;"
           "DROP TABLE report_moves;"
           "DROP TABLE report_durations;"
           "DROP TABLE conversions;"
           "DROP TABLE job_engagements;"
           "DROP INDEX stages_program;",
    [12] = "DROP TABLE job_attempts;"
           "ALTER TABLE jobs DROP COLUMN template_version;",
    [14] = "DROP TABLE pauses;"
           "DROP TABLE audit_log;",
    [15] = "DROP TABLE subscriptions;"
           "DROP TABLE objects;"
           "DROP INDEX jobs_rule;"
           "DROP INDEX jobs_claim;"
           "CREATE INDEX jobs_lane_due ON jobs (state, lane, due, priority);",
    [16] = "DROP INDEX jobs_message_id;"
           "ALTER TABLE jobs DROP COLUMN delivery_status;"
           "ALTER TABLE jobs DROP COLUMN delivery_code;"
           "ALTER TABLE jobs DROP COLUMN delivery_text;"
           "ALTER TABLE jobs DROP COLUMN delivery_time;",
    [17] = "ALTER TABLE journeys DROP COLUMN items;",
    [18] = "DROP INDEX jobs_claim;"
           "CREATE INDEX jobs_due ON jobs (state, due);"
           "CREATE INDEX jobs_claim ON jobs (state, lane, due, priority DESC);",
    [19] = "DROP INDEX jobs_state;"
           "CREATE INDEX jobs_state ON jobs (state, id);"
           "DROP INDEX jobs_rule;"
           "CREATE INDEX jobs_rule ON jobs (rule, state, error);",
};


void
sqlite_file_downgrade(const char *path, int version)
{
    int top = (int) (sizeof(migration_undo) / sizeof(migration_undo[0]));
    char sql[64];

    for (int v = top - 1; v > version; v--)
        if (migration_undo[v] != NULL)
            sqlite_file_exec(path, migration_undo[v]);
    snprintf(sql, sizeof(sql), "UPDATE schema_version SET version = %d;",
             version);
    sqlite_file_exec(path, sql);
}


void
sqlite_file_create(const char *path, const char *sql)
{
    struct sqlite_api api;
    sqlite3 *db = NULL;

    api_load(&api);
    assert_int_equal(api.open_v2(path, &db, SQLITE_OPEN_READWRITE
                                            | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(api.exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    api.close(db);
}


static json_t *
row_json(const struct sqlite_api *api, sqlite3_stmt *stmt)
{
    json_t *row = json_array();
    int i;

    for (i = 0; i < api->column_count(stmt); i++) {
        switch (api->column_type(stmt, i)) {
        case SQLITE_INTEGER:
            json_array_append_new(row,
                                  json_integer(api->column_int64(stmt, i)));
            break;
        case SQLITE_NULL:
            json_array_append_new(row, json_null());
            break;
        default:
            json_array_append_new(row, json_string(
                (const char *)api->column_text(stmt, i)));
            break;
        }
    }
    return row;
}


json_t *
sqlite_file_rows(const char *path, const char *sql)
{
    struct sqlite_api api;
    sqlite3_stmt *stmt = NULL;
    json_t *rows = json_array();
    sqlite3 *db;
    int rc;

    api_load(&api);
    db = file_open(&api, path);
    assert_int_equal(api.prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    while ((rc = api.step(stmt)) == SQLITE_ROW)
        json_array_append_new(rows, row_json(&api, stmt));
    assert_int_equal(rc, SQLITE_DONE);
    api.finalize(stmt);
    api.close(db);
    return rows;
}
