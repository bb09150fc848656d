/*
 * The raw SQLite commit rate on this disk, as a reference for crier's
 * group commit: rows per second at 1 row per transaction and at 100, with
 * the settings of crier's sqlite store (WAL, synchronous=FULL).
 *
 *   bench_sqlite_commit FOLDER SECONDS
 * prints: sqlite_rows_per_s_1=... sqlite_rows_per_s_100=...
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>


static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}


static void
check(int rc, sqlite3 *db, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE) {
        fprintf(stderr, "bench_sqlite_commit: %s: %s\n", what,
                sqlite3_errmsg(db));
        exit(1);
    }
}


/* Inserts rows `per_commit` at a time for `seconds`; returns rows/s. */
static double
measure(const char *folder, int per_commit, double seconds)
{
    char path[4096];
    sqlite3 *db;
    sqlite3_stmt *insert;
    double start, elapsed;
    long rows = 0;

    snprintf(path, sizeof(path), "%s/commit-%d.db", folder, per_commit);
    check(sqlite3_open(path, &db), db, "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; "
                       "PRAGMA synchronous=FULL; "
                       "CREATE TABLE IF NOT EXISTS events (seq INTEGER "
                       "PRIMARY KEY, body TEXT)", NULL, NULL, NULL),
          db, "schema");
    check(sqlite3_prepare_v2(db, "INSERT INTO events (body) VALUES (?)",
                             -1, &insert, NULL), db, "prepare");
    start = now_s();
    do {
        check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
        for (int i = 0; i < per_commit; i++) {
            sqlite3_bind_text(insert, 1, "{\"type\":\"page_view\","
                              "\"visitor\":\"v-1\",\"properties\":{}}",
                              -1, SQLITE_STATIC);
            check(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
        }
        check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
        rows += per_commit;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    return (double) rows / elapsed;
}


int
main(int argc, char **argv)
{
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;

    if (argc < 2) {
        fprintf(stderr, "usage: bench_sqlite_commit FOLDER [SECONDS]\n");
        return 2;
    }
    printf("sqlite_rows_per_s_1=%.0f ", measure(argv[1], 1, seconds));
    printf("sqlite_rows_per_s_100=%.0f\n", measure(argv[1], 100, seconds));
    return 0;
}
