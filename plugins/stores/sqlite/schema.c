/*
 * The schema and its migrations.
 *
 * schema_version contains one row, the number of migrations the database
 * has had. A new migration is appended to the list below, and a released
 * one is never changed.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "sqlite.h"


static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  source TEXT NOT NULL,"
    "  ext_id TEXT,"
    "  type TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  received_ms INTEGER NOT NULL,"
    "  body TEXT NOT NULL);"
    /* Only events with an id can repeat; the others need no index entry,
     * which saves a B-tree write on every id-less event. */
    "CREATE UNIQUE INDEX events_source_id ON events (source, ext_id)"
    "  WHERE ext_id IS NOT NULL;"

    "CREATE TABLE cursors ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL) WITHOUT ROWID;"

    "CREATE TABLE profiles ("
    "  id TEXT PRIMARY KEY,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  attributes TEXT NOT NULL) WITHOUT ROWID;"

    /* A rowid table: a profile lists its identities in rowid order, the
     * order in which they were added. */
    "CREATE TABLE identities ("
    "  kind TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  profile TEXT NOT NULL,"
    "  PRIMARY KEY (kind, value));"
    "CREATE INDEX identities_profile ON identities (profile);"

    "CREATE TABLE stages ("
    "  profile TEXT NOT NULL,"
    "  program TEXT NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  PRIMARY KEY (profile, program)) WITHOUT ROWID;"

    "CREATE TABLE stage_history ("
    "  id INTEGER PRIMARY KEY,"
    "  profile TEXT NOT NULL,"
    "  program TEXT NOT NULL,"
    "  from_stage TEXT,"
    "  to_stage TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  event_seq INTEGER);"
    "CREATE INDEX stage_history_profile"
    "  ON stage_history (profile, program, id);"

    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL UNIQUE,"
    "  rule TEXT NOT NULL,"
    "  program TEXT,"
    "  profile TEXT,"
    "  event_seq INTEGER,"
    "  channel TEXT NOT NULL,"
    "  template TEXT NOT NULL,"
    "  recipient TEXT,"
    "  state TEXT NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  due INTEGER NOT NULL,"
    "  lease_until INTEGER,"
    "  owner TEXT,"
    "  message_id TEXT,"
    "  provider_id TEXT,"
    "  error TEXT,"
    "  last_error TEXT,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL);"
    /* Claiming reads planned jobs by due time and leased jobs by the end
     * of their lease. jobs_list reads one state newest first. */
    "CREATE INDEX jobs_due ON jobs (state, due);"
    "CREATE INDEX jobs_lease ON jobs (state, lease_until)"
    "  WHERE lease_until IS NOT NULL;"
    "CREATE INDEX jobs_state ON jobs (state, id);",

    /* 2: profile history and merges. timeline reads each profile's events,
     * stage history and jobs through the indexes on profile, and
     * profile_get follows the merges of a merged-away profile. */
    "ALTER TABLE events ADD COLUMN profile TEXT;"
    "CREATE INDEX events_profile ON events (profile, seq)"
    "  WHERE profile IS NOT NULL;"
    "ALTER TABLE stage_history ADD COLUMN rule TEXT;"
    "CREATE INDEX jobs_profile ON jobs (profile, created);"
    "CREATE TABLE merges ("
    "  from_id TEXT PRIMARY KEY,"
    "  into_id TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL) WITHOUT ROWID;",

    /* 3: erasure. A stage history row outlives its erased profile without
     * naming it, so its profile becomes nullable. SQLite cannot drop NOT
     * NULL in place, so the table is rebuilt with the same ids. erasures
     * records the time of each erase and nothing else. */
    "CREATE TABLE stage_history_new ("
    "  id INTEGER PRIMARY KEY,"
    "  profile TEXT,"
    "  program TEXT NOT NULL,"
    "  from_stage TEXT,"
    "  to_stage TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  event_seq INTEGER,"
    "  rule TEXT);"
    "INSERT INTO stage_history_new"
    "  (id, profile, program, from_stage, to_stage, time_ms, event_seq,"
    "   rule)"
    "  SELECT id, profile, program, from_stage, to_stage, time_ms,"
    "   event_seq, rule FROM stage_history;"
    "DROP TABLE stage_history;"
    "ALTER TABLE stage_history_new RENAME TO stage_history;"
    "CREATE INDEX stage_history_profile"
    "  ON stage_history (profile, program, id);"
    "CREATE TABLE erasures ("
    "  id INTEGER PRIMARY KEY,"
    "  time_ms INTEGER NOT NULL);",

    /* 4: consent per channel kind. A profile reads and writes its whole
     * consent map at once, as with its attributes, so the map is one JSON
     * text column, and the profiles stored before it have none. */
    "ALTER TABLE profiles ADD COLUMN consent TEXT NOT NULL DEFAULT '{}';",

    /* 5: related records, dependents and cases. A profile reads and
     * writes them whole, as with consent, so they are one JSON text
     * column, and the profiles stored before it have none. */
    "ALTER TABLE profiles ADD COLUMN related TEXT NOT NULL DEFAULT '{}';",

    /* 6: segment membership, one row per profile in a segment, read by
     * segment for the admin counts and pages. */
    "CREATE TABLE segment_members ("
    "  segment TEXT NOT NULL,"
    "  profile TEXT NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  PRIMARY KEY (segment, profile));"
    "CREATE INDEX segment_members_profile ON segment_members (profile);",

    /* 7: events_recent reads a profile's events newest first from a time
     * on. This index serves both its filter and its order, whereas the
     * rows found through events_profile would need a sort by time. */
    "CREATE INDEX IF NOT EXISTS events_profile_time"
    "  ON events (profile, time_ms, seq) WHERE profile IS NOT NULL;",

    /* 8: the language of the template variant a job was rendered in,
     * written with `sending`. Jobs stored before it have none. */
    "ALTER TABLE jobs ADD COLUMN language TEXT;",

    /* 9: claim lanes and invalid addresses. Claims read planned jobs by
     * lane, then due, then priority, so service messages go ahead of
     * outreach. The jobs planned before it are outreach (lane 1) of
     * priority 0. A claim looks up each recipient in invalid_addresses
     * by value. */
    "ALTER TABLE jobs ADD COLUMN lane INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX jobs_lane_due ON jobs (state, lane, due, priority);"
    "CREATE TABLE invalid_addresses ("
    "  value TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (value, kind)) WITHOUT ROWID;",

    /* 10: the plans of schedule triggers, one row per (source, profile,
     * schedule, record). The primary key serves replacing a profile's
     * plan, schedules_due the claims in their order (so a claim reads
     * only the rows it takes), and schedules_profile merges and
     * erasure. A row with a null due never fires. The tests that set an
     * older version keep the table, hence IF NOT EXISTS. */
    "CREATE TABLE IF NOT EXISTS schedules ("
    "  source TEXT NOT NULL,"
    "  profile TEXT NOT NULL,"
    "  schedule TEXT NOT NULL,"
    "  record TEXT NOT NULL,"
    "  basis TEXT NOT NULL,"
    "  date TEXT NOT NULL,"
    "  zone TEXT NOT NULL,"
    "  occurrence TEXT NOT NULL,"
    "  due INTEGER,"
    "  lease_until INTEGER,"
    "  PRIMARY KEY (source, profile, schedule, record));"
    "CREATE INDEX IF NOT EXISTS schedules_due"
    "  ON schedules (source, due, profile, schedule, record)"
    "  WHERE due IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS schedules_profile ON schedules (profile);",

    /* 11: report counters, kept up to date by commit and job_update so
     * that a report reads counters, not every event. Message counters go
     * per (rule, template, channel, metric, UTC day), stage moves per
     * (program, day, from, to) with '' for no stage, and the time in a
     * stage per (program, stage, day left, whole days spent). A
     * conversion is kept once per (goal, job) and an engagement once per
     * (job, metric), so a replayed batch counts nothing twice. Neither
     * table names the profile, so an erase leaves nothing in them. The
     * counters start from the jobs and stage moves already stored. */
    "CREATE TABLE report_messages ("
    "  rule TEXT NOT NULL,"
    "  template TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  metric TEXT NOT NULL,"
    "  day INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (rule, template, channel, metric, day)) WITHOUT ROWID;"
    "CREATE TABLE report_moves ("
    "  program TEXT NOT NULL,"
    "  day INTEGER NOT NULL,"
    "  from_stage TEXT NOT NULL,"
    "  to_stage TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (program, day, from_stage, to_stage)) WITHOUT ROWID;"
    "CREATE TABLE report_durations ("
    "  program TEXT NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  day INTEGER NOT NULL,"
    "  days INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (program, stage, day, days)) WITHOUT ROWID;"
    "CREATE TABLE conversions ("
    "  goal TEXT NOT NULL,"
    "  job INTEGER NOT NULL,"
    "  event_seq INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (goal, job)) WITHOUT ROWID;"
    "CREATE TABLE job_engagements ("
    "  job INTEGER NOT NULL,"
    "  metric TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (job, metric)) WITHOUT ROWID;"
    "CREATE INDEX stages_program ON stages (program, stage);"
    "INSERT INTO report_messages"
    "  SELECT rule, template, channel, 'planned',"
    "   created - (created % 86400000), count(*) FROM jobs"
    "  GROUP BY 1, 2, 3, 4, 5;"
    "INSERT INTO report_messages"
    "  SELECT rule, template, channel,"
    "   CASE state WHEN 'suppressed'"
    "    THEN 'suppressed:' || coalesce(last_error, 'unknown')"
    "    ELSE state END,"
    "   updated - (updated % 86400000), count(*) FROM jobs"
    "  WHERE state IN ('sent', 'failed', 'dead', 'suppressed')"
    "  GROUP BY 1, 2, 3, 4, 5;"
    "INSERT INTO report_moves"
    "  SELECT program, time_ms - (time_ms % 86400000),"
    "   coalesce(from_stage, ''), to_stage, count(*) FROM stage_history"
    "  GROUP BY 1, 2, 3, 4;",

    /* 12: each job's attempts, one row per hand-over to the channel with
     * the time of the channel's verdict, the outcome and the provider's
     * reply, written in the transaction of the update that ends it; and
     * the version of the template variant a job was rendered from,
     * written with `sending`. Jobs stored before it have neither. */
    "CREATE TABLE job_attempts ("
    "  job INTEGER NOT NULL,"
    "  number INTEGER NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  reply TEXT,"
    "  PRIMARY KEY (job, number)) WITHOUT ROWID;"
    "ALTER TABLE jobs ADD COLUMN template_version TEXT;",

    /* 13: journey places, one row per (journey, profile). An ended row
     * stays, so that a journey without re-entry remembers who went
     * through it. journeys_due serves the clock's reads in due order,
     * journeys_profile merges and erasure. The tests that set an older
     * version keep the table, hence IF NOT EXISTS. */
    "CREATE TABLE IF NOT EXISTS journeys ("
    "  journey TEXT NOT NULL,"
    "  profile TEXT NOT NULL,"
    "  entry INTEGER NOT NULL,"
    "  step TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  due INTEGER,"
    "  since INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  PRIMARY KEY (journey, profile)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS journeys_due"
    "  ON journeys (due, journey, profile)"
    "  WHERE due IS NOT NULL AND state = 'active';"
    "CREATE INDEX IF NOT EXISTS journeys_profile ON journeys (profile);",

    /* 14: the operator's pauses, which jobs_claim reads, and the audit
     * log of admin actions. The scope "all" has the name ''. The audit
     * log is apart from residents' data, so erasure never touches it. */
    "CREATE TABLE pauses ("
    "  scope TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  since INTEGER NOT NULL,"
    "  by TEXT,"
    "  PRIMARY KEY (scope, name)) WITHOUT ROWID;"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  time_ms INTEGER NOT NULL,"
    "  token TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT,"
    "  result INTEGER NOT NULL);"
    "CREATE INDEX audit_log_time ON audit_log (time_ms);",

    /* 15: topic subscriptions, one row per (profile, topic, channel);
     * stored objects (bulletins, topics made by the admin API); and jobs
     * by rule with their state and reason, so that jobs_tally reads a
     * bulletin's progress from the index alone. */
    "CREATE TABLE subscriptions ("
    "  profile TEXT NOT NULL,"
    "  topic TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  origin TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  PRIMARY KEY (profile, topic, channel)) WITHOUT ROWID;"
    "CREATE INDEX subscriptions_topic"
    "  ON subscriptions (topic, channel, profile);"
    "CREATE TABLE objects ("
    "  kind TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  PRIMARY KEY (kind, id)) WITHOUT ROWID;"
    "CREATE INDEX jobs_rule ON jobs (rule, state, error);"
    /* A claim reads each lane's due jobs in (due, priority DESC, id)
     * order straight from this index. jobs_lane_due had priority
     * ascending, so each claim sorted every due job of the lane, which
     * a bulletin's backlog makes slow. */
    "DROP INDEX jobs_lane_due;"
    "CREATE INDEX jobs_claim ON jobs (state, lane, due, priority DESC);",

    /* 16: each job's delivery status, the last one a provider reported
     * after `sent` (delivered, bounced, complained, undelivered, failed),
     * with its code, text and time. A bounce or a receipt names its job
     * by Message-ID, hence the index. */
    "ALTER TABLE jobs ADD COLUMN delivery_status TEXT;"
    "ALTER TABLE jobs ADD COLUMN delivery_code TEXT;"
    "ALTER TABLE jobs ADD COLUMN delivery_text TEXT;"
    "ALTER TABLE jobs ADD COLUMN delivery_time INTEGER;"
    "CREATE INDEX jobs_message_id ON jobs (message_id)"
    "  WHERE message_id IS NOT NULL;",

    /* 17: the items a digest window collected, as a JSON array, on the
     * window's row in journeys (docs/digests.md). Journey rows have
     * none. */
    "ALTER TABLE journeys ADD COLUMN items TEXT;",

    /* 18: fewer index entries to rewrite when a job changes state. A job
     * goes planned, claimed, sending, sent, and every index that starts
     * with `state` moves its entry at each step. Only claims read
     * jobs_claim, and only for planned jobs, so it now contains only
     * planned jobs and the later steps leave it untouched. jobs_due
     * served the claims before jobs_claim existed, and no query reads it
     * now. */
    "DROP INDEX jobs_due;"
    "DROP INDEX jobs_claim;"
    "CREATE INDEX jobs_claim ON jobs (lane, due, priority DESC)"
    "  WHERE state = 'planned';",

    /* 19: fewer index entries to move per delivery. A job in flight
     * (claimed or sending) always has a lease, and no other job has one,
     * so jobs_lease already lists the jobs in flight. jobs_state and
     * jobs_rule now leave them out, so a job moves one entry of each when
     * it leaves planned and one when it is done, and none in between.
     * Reads by state name the state's class, and read the jobs in flight
     * from jobs_lease (JOB_IN_FLIGHT in sqlite.h). */
    "DROP INDEX jobs_state;"
    "CREATE INDEX jobs_state ON jobs (state, id)"
    "  WHERE state NOT IN ('claimed', 'sending');"
    "DROP INDEX jobs_rule;"
    "CREATE INDEX jobs_rule ON jobs (rule, state, error)"
    "  WHERE state NOT IN ('claimed', 'sending');"
};

#define MIGRATION_COUNT ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* One line per migration, in the same order, for `crier migrate
 * --status`. */
static const char *const migration_titles[] = {
    "the first schema",
    "profile history and merges",
    "erasure",
    "consent per channel kind",
    "related records, dependents and cases",
    "segment membership",
    "an index for events_recent",
    "the template language of each job",
    "claim lanes and invalid addresses",
    "the plans of schedule triggers",
    "report counters",
    "job attempts and template versions",
    "journey places",
    "operator pauses and the audit log",
    "topic subscriptions and stored objects",
    "delivery status of each job",
    "the items of digest windows",
    "a smaller claim index",
    "jobs in flight left out of the state and rule indexes"
};

_Static_assert(sizeof(migration_titles) / sizeof(migration_titles[0])
               == sizeof(migrations) / sizeof(migrations[0]),
               "every migration needs a title");


static int
exec_checked(sqlite3 *db, const char *sql, char *message, size_t size)
{
    char *error = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &error);

    if (rc != SQLITE_OK) {
        snprintf(message, size, "%s", error != NULL ? error
                                                    : sqlite3_errstr(rc));
        sqlite3_free(error);
    }
    return rc;
}


/* Reads the stored version into *version, which is 0 for a new
 * database. */
static int
version_read(sqlite3 *db, int *version, char *message, size_t size)
{
    sqlite3_stmt *stmt;
    int rc;

    rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_version"
                            " WHERE id = 1", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        snprintf(message, size, "%s", sqlite3_errmsg(db));
        return rc;
    }
    *version = 0;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    else if (rc != SQLITE_DONE)
        snprintf(message, size, "%s", sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}


/*
 * Runs the migration that follows the stored version, inside a transaction
 * that the caller opened, and sets *done when none is left.
 */
static int
migration_next(sqlite3 *db, int *done, char *message, size_t size)
{
    char version_sql[128];
    int version;
    int rc;

    *done = 0;
    rc = version_read(db, &version, message, size);
    if (rc != SQLITE_OK)
        return rc;
    if (version > MIGRATION_COUNT) {
        snprintf(message, size,
                 "the database has schema version %d, but this plugin "
                 "knows versions up to %d; use a newer plugin",
                 version, MIGRATION_COUNT);
        return SQLITE_ERROR;
    }
    if (version == MIGRATION_COUNT) {
        *done = 1;
        return SQLITE_OK;
    }
    rc = exec_checked(db, migrations[version], message, size);
    if (rc != SQLITE_OK)
        return rc;
    snprintf(version_sql, sizeof(version_sql),
             "INSERT INTO schema_version (id, version) VALUES (1, %d)"
             " ON CONFLICT (id) DO UPDATE SET version = excluded.version",
             version + 1);
    return exec_checked(db, version_sql, message, size);
}


/*
 * Brings the database up to the newest schema, one migration per
 * transaction. The version is read inside each transaction, so two
 * processes that start at once do not run a migration twice. Returns 0,
 * or a crier code with the reason in `message`. A database written by a
 * newer plugin is rejected.
 */
int
schema_latest(void)
{
    return MIGRATION_COUNT;
}


const char *
schema_title(int version)
{
    if (version < 1 || version > MIGRATION_COUNT)
        return NULL;
    return migration_titles[version - 1];
}


/*
 * Reads the stored version of the database at `path` without changing
 * it: the connection is read-only, and a missing file or a database
 * without the schema_version table reads as version 0.
 */
int
schema_peek(const char *path, int busy_timeout_ms, int *version,
            char *message, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int tables = 0;
    int rc;

    *version = 0;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, busy_timeout_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master"
                                " WHERE type = 'table'"
                                " AND name = 'schema_version'", -1, &stmt,
                                NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        tables = sqlite3_column_int(stmt, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        snprintf(message, size, "%s", db != NULL ? sqlite3_errmsg(db)
                                                 : sqlite3_errstr(rc));
    sqlite3_finalize(stmt);
    if (rc == SQLITE_OK && tables == 1)
        rc = version_read(db, version, message, size);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : store_error(rc);
}


int
schema_migrate(struct connection *conn, int *found, int *version,
               char *message, size_t size)
{
    int done = 0;
    int rc;

    rc = exec_checked(conn->db,
                      "CREATE TABLE IF NOT EXISTS schema_version ("
                      "  id INTEGER PRIMARY KEY CHECK (id = 1),"
                      "  version INTEGER NOT NULL)",
                      message, size);
    if (rc == SQLITE_OK)
        rc = version_read(conn->db, found, message, size);
    while (rc == SQLITE_OK && !done) {
        rc = exec_checked(conn->db, "BEGIN IMMEDIATE", message, size);
        if (rc != SQLITE_OK)
            break;
        rc = migration_next(conn->db, &done, message, size);
        if (rc == SQLITE_OK)
            rc = exec_checked(conn->db, "COMMIT", message, size);
        if (rc != SQLITE_OK)
            sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = version_read(conn->db, version, message, size);
    return rc == SQLITE_OK ? 0 : store_error(rc);
}
