/* Profile merges, event links, profile_get and timeline. */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"

static const char profile_attributes_sql[] =
    "SELECT attributes FROM profiles WHERE id = ?1";

static const char profile_attributes_set_sql[] =
    "UPDATE profiles SET attributes = ?2 WHERE id = ?1";

static const char profile_consent_sql[] =
    "SELECT consent FROM profiles WHERE id = ?1";

static const char profile_consent_set_sql[] =
    "UPDATE profiles SET consent = ?2 WHERE id = ?1";

static const char profile_related_sql[] =
    "SELECT related FROM profiles WHERE id = ?1";

static const char profile_related_set_sql[] =
    "UPDATE profiles SET related = ?2 WHERE id = ?1";

static const char profile_delete_sql[] =
    "DELETE FROM profiles WHERE id = ?1";

/* Inserting the identities again gives them new rowids, so `into` lists
 * them after its own, in the order `from` had them. */
static const char merge_identities_sql[] =
    "INSERT OR REPLACE INTO identities (kind, value, profile)"
    " SELECT kind, value, ?2 FROM identities WHERE profile = ?1"
    " ORDER BY rowid";

static const char merge_events_sql[] =
    "UPDATE events SET profile = ?2 WHERE profile = ?1";

static const char merge_history_sql[] =
    "UPDATE stage_history SET profile = ?2 WHERE profile = ?1";

static const char merge_jobs_sql[] =
    "UPDATE jobs SET profile = ?2 WHERE profile = ?1";

/* A stage of `from` is copied only for a program where `into` has none. */
static const char merge_stages_sql[] =
    "INSERT OR IGNORE INTO stages (profile, program, stage, since)"
    " SELECT ?2, program, stage, since FROM stages WHERE profile = ?1";

/* The subscriptions of `from` go to `into`. Where `into` has a row for
 * the same (topic, channel), it stays and takes the status, origin and
 * update time of `from` only when that status ranks higher: confirmed,
 * then pending, then unsubscribed (subscription_status_rank). The
 * WHERE of the SELECT keeps the upsert's ON clause unambiguous. */
#define SUBSCRIPTION_RANK(s) \
    "(CASE " s " WHEN 'confirmed' THEN 2 WHEN 'pending' THEN 1 ELSE 0 END)"
static const char merge_subscriptions_sql[] =
    "INSERT INTO subscriptions"
    " (profile, topic, channel, status, origin, created, updated)"
    " SELECT ?2, topic, channel, status, origin, created, updated"
    " FROM subscriptions WHERE profile = ?1"
    " ON CONFLICT (profile, topic, channel) DO UPDATE SET"
    " status = excluded.status, origin = excluded.origin,"
    " updated = excluded.updated"
    " WHERE " SUBSCRIPTION_RANK("excluded.status") " > "
    SUBSCRIPTION_RANK("subscriptions.status");

static const char subscriptions_delete_sql[] =
    "DELETE FROM subscriptions WHERE profile = ?1";

static const char stages_delete_sql[] =
    "DELETE FROM stages WHERE profile = ?1";

static const char merge_record_sql[] =
    "INSERT INTO merges (from_id, into_id, time_ms) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (from_id) DO UPDATE SET into_id = excluded.into_id,"
    " time_ms = excluded.time_ms";

static const char merge_target_sql[] =
    "SELECT into_id FROM merges WHERE from_id = ?1";

static const char event_link_sql[] =
    "UPDATE events SET profile = ?2 WHERE seq = ?1";

/*
 * Every timeline entry of profile ?1 that comes after the key (?2, ?3,
 * ?4), newest first. The columns are the kind, time and id of the key and
 * then the fields of each kind's entry.
 */
static const char timeline_sql[] =
    "SELECT 2, created, id, rule, channel, state, message_id, error, 0"
    " FROM jobs WHERE profile = ?1 AND (created, 2, id) < (?2, ?3, ?4)"
    " UNION ALL"
    " SELECT 1, time_ms, id, program, from_stage, to_stage, rule, NULL,"
    " event_seq FROM stage_history"
    " WHERE profile = ?1 AND (time_ms, 1, id) < (?2, ?3, ?4)"
    " UNION ALL"
    " SELECT 0, time_ms, seq, type, NULL, NULL, NULL, body, 0"
    " FROM events WHERE profile = ?1 AND (time_ms, 0, seq) < (?2, ?3, ?4)"
    " ORDER BY 2 DESC, 1 DESC, 3 DESC LIMIT ?5";


/* Runs a cached statement that returns no rows, with ?1 bound to `first`
 * and ?2 to `second`, which is left unbound when NULL. */
static int
statement_run_pair(struct connection *conn, struct request *req,
                   enum statement_id id, const char *sql, const char *first,
                   const char *second)
{
    sqlite3_stmt *stmt = connection_statement(conn, id, sql);
    int rc;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, first);
    if (second != NULL)
        statement_bind_text(stmt, 2, second);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/*
 * Reads the first text column of the one-row query `id` with ?1 bound to
 * `key`. Sets *out to a copy, or to NULL when there is no row.
 */
static int
text_lookup(struct connection *conn, struct request *req,
            enum statement_id id, const char *sql, const char *key,
            char **out)
{
    sqlite3_stmt *stmt = connection_statement(conn, id, sql);
    int rc = 0;
    int step;

    *out = NULL;
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, key);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *out = column_text_copy(stmt, 0, &rc);
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return connection_fail(conn, req, step);
    return rc;
}


/*
 * Sets *filled to the attributes of `into` plus those of `from` whose
 * names `into` lacks, as compact JSON text. Text that does not parse comes
 * only from a damaged file, and then *filled is NULL and `into` keeps its
 * attributes.
 */
static int
attributes_fill(const char *into, const char *from, char **filled)
{
    json_t *target = json_loads(into, 0, NULL);
    json_t *source = json_loads(from, 0, NULL);
    int rc = 0;

    *filled = NULL;
    if (target != NULL && source != NULL) {
        if (json_object_update_missing(target, source) == 0)
            *filled = json_dumps(target, JSON_COMPACT);
        rc = *filled == NULL ? CRIER_ENOMEM : 0;
    }
    json_decref(target);
    json_decref(source);
    return rc;
}


/* Moves the rows of the other tables from `from` to `into`. */
static int
merge_rows(struct connection *conn, struct request *req,
           const struct profile_merge *merge)
{
    static const struct {
        enum statement_id id;
        const char *sql;
    } steps[] = {
        { STMT_MERGE_IDENTITIES, merge_identities_sql },
        { STMT_MERGE_EVENTS, merge_events_sql },
        { STMT_MERGE_HISTORY, merge_history_sql },
        { STMT_MERGE_JOBS, merge_jobs_sql },
        { STMT_MERGE_STAGES, merge_stages_sql },
        { STMT_MERGE_SUBSCRIPTIONS, merge_subscriptions_sql }
    };
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
        rc = statement_run_pair(conn, req, steps[i].id, steps[i].sql,
                                merge->from, merge->into);
    if (rc == 0)
        rc = statement_run_pair(conn, req, STMT_STAGES_DELETE,
                                stages_delete_sql, merge->from, NULL);
    if (rc == 0)
        rc = statement_run_pair(conn, req, STMT_SUBSCRIPTIONS_DELETE,
                                subscriptions_delete_sql, merge->from, NULL);
    /* `into` keeps its own memberships, and the pipeline evaluates the
     * merged profile again. */
    if (rc == 0)
        rc = statement_run_pair(conn, req, STMT_SEGMENTS_DELETE,
                                "DELETE FROM segment_members"
                                " WHERE profile = ?1", merge->from, NULL);
    if (rc == 0)
        rc = schedules_forget(conn, req, merge->from);
    if (rc == 0)
        rc = journeys_forget(conn, req, merge->from);
    return rc;
}


/* Gives `into` the more restrictive consent of the two profiles, per
 * channel kind. */
static int
merge_consent(struct connection *conn, struct request *req,
              const struct profile_merge *merge)
{
    char *from_consent = NULL;
    char *into_consent = NULL;
    char *merged = NULL;
    int rc;

    rc = text_lookup(conn, req, STMT_PROFILE_CONSENT, profile_consent_sql,
                     merge->from, &from_consent);
    if (rc == 0)
        rc = text_lookup(conn, req, STMT_PROFILE_CONSENT,
                         profile_consent_sql, merge->into, &into_consent);
    if (rc == 0 && from_consent != NULL && into_consent != NULL)
        rc = consent_merge_text(into_consent, from_consent, &merged);
    if (rc == 0 && merged != NULL)
        rc = statement_run_pair(conn, req, STMT_PROFILE_CONSENT_SET,
                                profile_consent_set_sql, merge->into,
                                merged);
    free(from_consent);
    free(into_consent);
    free(merged);
    return rc;
}


/* Gives `into` the related records of `from` under the ids it lacks. */
static int
merge_related(struct connection *conn, struct request *req,
              const struct profile_merge *merge)
{
    char *from_related = NULL;
    char *into_related = NULL;
    char *merged = NULL;
    int rc;

    rc = text_lookup(conn, req, STMT_PROFILE_RELATED, profile_related_sql,
                     merge->from, &from_related);
    if (rc == 0)
        rc = text_lookup(conn, req, STMT_PROFILE_RELATED,
                         profile_related_sql, merge->into, &into_related);
    if (rc == 0 && from_related != NULL && into_related != NULL)
        rc = related_merge_text(into_related, from_related, &merged);
    if (rc == 0 && merged != NULL)
        rc = statement_run_pair(conn, req, STMT_PROFILE_RELATED_SET,
                                profile_related_set_sql, merge->into,
                                merged);
    free(from_related);
    free(into_related);
    free(merged);
    return rc;
}


/*
 * Fills the attributes and related records of `into`, combines the
 * consent of both, deletes
 * `from` and records the merge.
 */
static int
merge_finish(struct connection *conn, struct request *req,
             const struct profile_merge *merge, const char *from_attributes,
             const char *into_attributes)
{
    sqlite3_stmt *stmt;
    char *filled;
    int rc = attributes_fill(into_attributes, from_attributes, &filled);

    if (rc == 0 && filled != NULL)
        rc = statement_run_pair(conn, req, STMT_PROFILE_ATTRIBUTES_SET,
                                profile_attributes_set_sql, merge->into,
                                filled);
    free(filled);
    if (rc == 0)
        rc = merge_consent(conn, req, merge);
    if (rc == 0)
        rc = merge_related(conn, req, merge);
    if (rc == 0)
        rc = statement_run_pair(conn, req, STMT_PROFILE_DELETE,
                                profile_delete_sql, merge->from, NULL);
    if (rc < 0)
        return rc;

    stmt = connection_statement(conn, STMT_MERGE_RECORD, merge_record_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, merge->from);
    statement_bind_text(stmt, 2, merge->into);
    sqlite3_bind_int64(stmt, 3, merge->time);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/*
 * Merges `from` into `into` inside the commit's savepoint, and sets
 * *applied. A missing `from` skips the merge (a batch run again after a
 * crash), and a missing `into` fails it with CRIER_ENOTFOUND.
 */
int
merge_apply(struct connection *conn, struct request *req,
            const struct profile_merge *merge, int *applied)
{
    char *from_attributes;
    char *into_attributes = NULL;
    int rc;

    *applied = 0;
    rc = text_lookup(conn, req, STMT_PROFILE_ATTRIBUTES,
                     profile_attributes_sql, merge->from, &from_attributes);
    if (rc < 0 || from_attributes == NULL)
        return rc;
    rc = text_lookup(conn, req, STMT_PROFILE_ATTRIBUTES,
                     profile_attributes_sql, merge->into, &into_attributes);
    if (rc == 0 && into_attributes == NULL)
        rc = CRIER_ENOTFOUND;
    if (rc == 0)
        rc = merge_rows(conn, req, merge);
    if (rc == 0)
        rc = merge_finish(conn, req, merge, from_attributes,
                          into_attributes);
    free(from_attributes);
    free(into_attributes);
    *applied = rc == 0;
    return rc;
}


/* Links a stored event to a profile. A seq not stored changes nothing. */
int
link_apply(struct connection *conn, struct request *req,
           const struct event_link *link)
{
    sqlite3_stmt *stmt = connection_statement(conn, STMT_EVENT_LINK,
                                              event_link_sql);
    int rc;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    sqlite3_bind_int64(stmt, 1, link->seq);
    statement_bind_text(stmt, 2, link->profile);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/*
 * Follows the merges from the merged-away profile `id` to the first
 * profile that exists or was never merged, and sets *end to a copy of its
 * id, or to NULL when `id` was never merged.
 */
int
merge_chain_end(struct connection *conn, struct request *req,
                const char *id, char **end)
{
    char *next = NULL;
    char *exists = NULL;
    int steps;
    int rc;

    rc = text_lookup(conn, req, STMT_MERGE_TARGET, merge_target_sql, id,
                     end);
    for (steps = 1; rc == 0 && *end != NULL && steps < MERGE_CHAIN_MAX;
         steps++) {
        rc = text_lookup(conn, req, STMT_PROFILE_ATTRIBUTES,
                         profile_attributes_sql, *end, &exists);
        if (rc < 0 || exists != NULL)
            break;
        rc = text_lookup(conn, req, STMT_MERGE_TARGET, merge_target_sql,
                         *end, &next);
        if (rc < 0 || next == NULL)
            break;
        free(*end);
        *end = next;
    }
    free(exists);
    if (rc < 0) {
        free(*end);
        *end = NULL;
    }
    return rc;
}


static int
profile_get_read(struct connection *conn, struct request *req)
{
    const char *id = req->input.profile_id;
    json_t *profile;
    char *end;
    int rc = 0;

    profile = profile_load(conn, req, id, 1, &rc);
    if (profile == NULL)
        return rc;
    if (!json_is_null(profile)) {
        req->result = json_pack("{s:o}", "profile", profile);
        return req->result == NULL ? CRIER_ENOMEM : 0;
    }
    json_decref(profile);
    rc = merge_chain_end(conn, req, id, &end);
    if (rc < 0)
        return rc;
    if (end == NULL)
        req->result = json_pack("{s:n}", "profile");
    else
        req->result = json_pack("{s:n, s:s}", "profile", "merged_into",
                                end);
    free(end);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}


/* Reads one profile, or where it went, from one snapshot. */
int
profile_get(struct connection *conn, struct request *req)
{
    int rc = connection_run(conn, req, STMT_BEGIN_READ, "BEGIN");

    if (rc == 0)
        rc = profile_get_read(conn, req);
    if (connection_run(conn, req, STMT_COMMIT, "COMMIT") < 0 && rc == 0)
        rc = CRIER_EIO;
    return rc;
}


static const char *
column_text(sqlite3_stmt *stmt, int column)
{
    return (const char *)sqlite3_column_text(stmt, column);
}


/* Builds the entry of the current timeline row. */
static json_t *
timeline_row_json(sqlite3_stmt *stmt)
{
    int64_t time = sqlite3_column_int64(stmt, 1);
    int64_t id = sqlite3_column_int64(stmt, 2);

    switch (sqlite3_column_int(stmt, 0)) {
    case TIMELINE_EVENT:
        return timeline_event_json(id, time, column_text(stmt, 3),
                                   (const char *)sqlite3_column_blob(stmt,
                                                                     7),
                                   (size_t)sqlite3_column_bytes(stmt, 7));
    case TIMELINE_STAGE:
        return timeline_stage_json(time, column_text(stmt, 3),
                                   column_text(stmt, 4),
                                   column_text(stmt, 5),
                                   column_text(stmt, 6),
                                   sqlite3_column_int64(stmt, 8));
    default:
        return timeline_message_json(id, time, column_text(stmt, 3),
                                     column_text(stmt, 4),
                                     column_text(stmt, 5),
                                     column_text(stmt, 6),
                                     column_text(stmt, 7));
    }
}


/* Binds the profile, the key to start after and the row limit. */
static void
timeline_bind(sqlite3_stmt *stmt, const struct timeline_request *request)
{
    struct timeline_key start = { INT64_MAX, TIMELINE_MESSAGE + 1,
                                  INT64_MAX };

    if (request->has_before)
        start = request->before;
    statement_bind_text(stmt, 1, request->profile);
    sqlite3_bind_int64(stmt, 2, start.time);
    sqlite3_bind_int(stmt, 3, start.kind);
    sqlite3_bind_int64(stmt, 4, start.id);

    /* The row after the page's last shows whether another page follows. */
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)request->limit + 1);
}


/*
 * Reads one page of a profile's timeline: up to `limit` entries after
 * `before`, and the cursor of the next page when more entries follow.
 */
int
timeline_read(struct connection *conn, struct request *req)
{
    const struct timeline_request *request = &req->input.timeline;
    struct timeline_key last = { 0, 0, 0 };
    json_t *entries = json_array();
    sqlite3_stmt *stmt;
    size_t count = 0;
    int more = 0;
    int rc;

    stmt = connection_statement(conn, STMT_TIMELINE, timeline_sql);
    if (entries == NULL || stmt == NULL) {
        json_decref(entries);
        return stmt == NULL ? connection_fail(conn, req,
                                              sqlite3_errcode(conn->db))
                            : CRIER_ENOMEM;
    }
    timeline_bind(stmt, request);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (count == request->limit) {
            more = 1;
            continue;
        }
        last.kind = sqlite3_column_int(stmt, 0);
        last.time = sqlite3_column_int64(stmt, 1);
        last.id = sqlite3_column_int64(stmt, 2);
        if (json_array_append_new(entries, timeline_row_json(stmt)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        count++;
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        json_decref(entries);
        return connection_fail(conn, req, rc);
    }
    req->result = timeline_result(entries, more ? &last : NULL);
    return req->result == NULL ? CRIER_ENOMEM : 0;
}
