/* Profiles, their identities and their stages. */
#include <stdlib.h>
#include <string.h>

#include "sqlite.h"


/* `created` is written once, and later writes replace the rest. A NULL
 * consent (?5) or related (?6) keeps the stored map, or starts an empty
 * one. */
static const char profile_upsert_sql[] =
    "INSERT INTO profiles (id, created, updated, attributes, consent,"
    " related)"
    " VALUES (?1, ?2, ?3, ?4, coalesce(?5, '{}'), coalesce(?6, '{}'))"
    " ON CONFLICT (id) DO UPDATE SET"
    " updated = excluded.updated, attributes = excluded.attributes,"
    " consent = coalesce(?5, consent), related = coalesce(?6, related)";

static const char profile_select_sql[] =
    "SELECT created, updated, attributes, consent, related FROM profiles"
    " WHERE id = ?1";

/* An identity that another profile owns stays with its owner. */
static const char identity_insert_sql[] =
    "INSERT INTO identities (kind, value, profile) VALUES (?1, ?2, ?3)"
    " ON CONFLICT DO NOTHING";

static const char identity_owner_sql[] =
    "SELECT profile FROM identities WHERE kind = ?1 AND value = ?2";

static const char identities_of_sql[] =
    "SELECT kind, value FROM identities WHERE profile = ?1 ORDER BY rowid";

static const char stage_upsert_sql[] =
    "INSERT INTO stages (profile, program, stage, since)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (profile, program) DO UPDATE SET"
    " stage = excluded.stage, since = excluded.since";

static const char stage_history_insert_sql[] =
    "INSERT INTO stage_history"
    " (profile, program, from_stage, to_stage, time_ms, event_seq, rule)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static const char stages_of_sql[] =
    "SELECT program, stage, since FROM stages WHERE profile = ?1"
    " ORDER BY program";


/* Steps a statement that returns no rows and resets it. */
static int
statement_finish(struct connection *conn, struct request *req,
                 sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);

    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


static int
identity_add(struct connection *conn, struct request *req,
             const char *profile, const struct identity *identity)
{
    sqlite3_stmt *stmt;

    stmt = connection_statement(conn, STMT_IDENTITY_INSERT,
                                identity_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, identity->kind);
    statement_bind_text(stmt, 2, identity->value);
    statement_bind_text(stmt, 3, profile);
    return statement_finish(conn, req, stmt);
}


int
profile_write(struct connection *conn, struct request *req,
              const struct profile_write *profile)
{
    sqlite3_stmt *stmt;
    size_t i;
    int rc;

    stmt = connection_statement(conn, STMT_PROFILE_UPSERT,
                                profile_upsert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, profile->id);
    sqlite3_bind_int64(stmt, 2, profile->created);
    sqlite3_bind_int64(stmt, 3, profile->updated);
    statement_bind_text(stmt, 4, profile->attributes);
    statement_bind_text(stmt, 5, profile->consent);
    statement_bind_text(stmt, 6, profile->related);
    rc = statement_finish(conn, req, stmt);
    for (i = 0; rc == 0 && i < profile->identities.count; i++)
        rc = identity_add(conn, req, profile->id,
                          &profile->identities.items[i]);
    return rc;
}


int
stage_move(struct connection *conn, struct request *req,
           const struct stage_move *stage)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_STAGE_UPSERT, stage_upsert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, stage->profile);
    statement_bind_text(stmt, 2, stage->program);
    statement_bind_text(stmt, 3, stage->to);
    sqlite3_bind_int64(stmt, 4, stage->time);
    rc = statement_finish(conn, req, stmt);
    if (rc < 0)
        return rc;

    stmt = connection_statement(conn, STMT_STAGE_HISTORY_INSERT,
                                stage_history_insert_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, stage->profile);
    statement_bind_text(stmt, 2, stage->program);
    statement_bind_text(stmt, 3, stage->from);
    statement_bind_text(stmt, 4, stage->to);
    sqlite3_bind_int64(stmt, 5, stage->time);
    if (stage->event_seq > 0)
        sqlite3_bind_int64(stmt, 6, stage->event_seq);
    else
        sqlite3_bind_null(stmt, 6);
    statement_bind_text(stmt, 7, stage->rule);
    return statement_finish(conn, req, stmt);
}


static int
identities_add_json(struct connection *conn, struct request *req,
                    const char *id, json_t *profile)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_IDENTITIES_OF, identities_of_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (profile_json_add_identity(profile,
                (const char *)sqlite3_column_text(stmt, 0),
                (const char *)sqlite3_column_text(stmt, 1)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


static int
stages_add_json(struct connection *conn, struct request *req,
                const char *id, json_t *profile)
{
    sqlite3_stmt *stmt;
    int rc;

    stmt = connection_statement(conn, STMT_STAGES_OF, stages_of_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, id);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (profile_json_add_stage(profile,
                (const char *)sqlite3_column_text(stmt, 0),
                (const char *)sqlite3_column_text(stmt, 1),
                sqlite3_column_int64(stmt, 2)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : connection_fail(conn, req, rc);
}


/* Reads the profile row `id` into a new profile object, or json null. */
static json_t *
profile_row_json(struct connection *conn, struct request *req,
                 const char *id, int times, int *rc)
{
    sqlite3_stmt *stmt;
    json_t *profile = NULL;
    int step;

    stmt = connection_statement(conn, STMT_PROFILE_SELECT,
                                profile_select_sql);
    if (stmt == NULL) {
        *rc = connection_fail(conn, req, sqlite3_errcode(conn->db));
        return NULL;
    }
    statement_bind_text(stmt, 1, id);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        profile = profile_json(id, (const char *)sqlite3_column_text(stmt, 2),
                               (const char *)sqlite3_column_text(stmt, 3),
                               (const char *)sqlite3_column_text(stmt, 4),
                               times, sqlite3_column_int64(stmt, 0),
                               sqlite3_column_int64(stmt, 1));
    else if (step == SQLITE_DONE)
        profile = json_null();
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        *rc = connection_fail(conn, req, step);
    else if (profile == NULL)
        *rc = CRIER_ENOMEM;
    return profile;
}


/*
 * Returns profile `id` with its identities and stages, json null when it is
 * not stored, or NULL with *rc set when the read fails. With `times`
 * nonzero the object also carries "created" and "updated".
 */
json_t *
profile_load(struct connection *conn, struct request *req, const char *id,
             int times, int *rc)
{
    json_t *profile = profile_row_json(conn, req, id, times, rc);

    if (profile == NULL || json_is_null(profile))
        return profile;
    *rc = identities_add_json(conn, req, id, profile);
    if (*rc == 0)
        *rc = stages_add_json(conn, req, id, profile);
    if (*rc < 0) {
        json_decref(profile);
        return NULL;
    }
    return profile;
}


/* Finds the owner of `identity`, or sets *owner to NULL for none. */
static int
identity_owner(struct connection *conn, struct request *req,
               const struct identity *identity, char **owner)
{
    sqlite3_stmt *stmt;
    int rc = 0;
    int step;

    *owner = NULL;
    stmt = connection_statement(conn, STMT_IDENTITY_OWNER,
                                identity_owner_sql);
    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, identity->kind);
    statement_bind_text(stmt, 2, identity->value);
    step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *owner = column_text_copy(stmt, 0, &rc);
    sqlite3_reset(stmt);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return connection_fail(conn, req, step);
    return rc;
}


/* The profiles that profiles_load has found so far: the result's list,
 * and their ids as a set, since an import batch names thousands. */
struct found_list {
    json_t *profiles;
    json_t *ids;                /* an object used as a set */
};


/* Appends profile `id` with its segments to `out`, and sets *found to
 * whether the profile exists. */
static int
profile_append(struct connection *conn, struct request *req,
               const char *id, struct found_list *out, int *found)
{
    json_t *profile;
    int rc = 0;

    *found = 0;
    profile = profile_load(conn, req, id, 1, &rc);
    if (profile == NULL)
        return rc;
    if (json_is_null(profile)) {
        json_decref(profile);
        return 0;
    }
    *found = 1;
    rc = segments_add_json(conn, req, id, profile);
    if (rc < 0) {
        json_decref(profile);
        return rc;
    }
    if (json_object_set_new(out->ids, id, json_true()) < 0) {
        json_decref(profile);
        return CRIER_ENOMEM;
    }
    return json_array_append_new(out->profiles, profile) < 0 ? CRIER_ENOMEM
                                                              : 0;
}


/* Like profile_append, but adds nothing when `out` has the profile
 * already. */
static int
profile_add(struct connection *conn, struct request *req, const char *id,
            struct found_list *out, int *found)
{
    *found = json_object_get(out->ids, id) != NULL;
    if (*found)
        return 0;
    return profile_append(conn, req, id, out, found);
}


static int
profiles_load_one(struct connection *conn, struct request *req,
                  const struct identity *identity, struct found_list *out)
{
    char *owner;
    int found;
    int rc;

    rc = identity_owner(conn, req, identity, &owner);
    if (rc == 0 && owner != NULL)
        rc = profile_add(conn, req, owner, out, &found);
    free(owner);
    return rc;
}


/*
 * Loads profile `id`, or the end of its chain of merges, recording in
 * `moved` where a merged-away id went.
 */
static int
profiles_load_id(struct connection *conn, struct request *req,
                 const char *id, struct found_list *out, json_t *moved)
{
    char *end = NULL;
    int found;
    int rc;

    rc = profile_add(conn, req, id, out, &found);
    if (rc < 0 || found)
        return rc;
    rc = merge_chain_end(conn, req, id, &end);
    if (rc == 0 && end != NULL)
        rc = profile_add(conn, req, end, out, &found);
    if (rc == 0 && end != NULL && found &&
        json_object_set_new(moved, id, json_string(end)) < 0)
        rc = CRIER_ENOMEM;
    free(end);
    return rc;
}


/*
 * Loads the owners of the requested identities, each once, in the order of
 * the first identity that names them, then the profiles named by id. One
 * read transaction covers every query, so the result comes from one
 * consistent snapshot.
 */
int
profiles_load(struct connection *conn, struct request *req)
{
    const struct profile_lookup *lookup = &req->input.lookup;
    struct found_list out;
    json_t *moved;
    size_t i;
    int rc;

    req->result = json_pack("{s:[], s:{}}", "profiles", "moved");
    out.ids = json_object();
    if (req->result == NULL || out.ids == NULL) {
        json_decref(out.ids);
        return CRIER_ENOMEM;
    }
    out.profiles = json_object_get(req->result, "profiles");
    moved = json_object_get(req->result, "moved");
    rc = connection_run(conn, req, STMT_BEGIN_READ, "BEGIN");
    for (i = 0; rc == 0 && i < lookup->identities.count; i++)
        rc = profiles_load_one(conn, req, &lookup->identities.items[i],
                               &out);
    for (i = 0; rc == 0 && i < lookup->id_count; i++)
        rc = profiles_load_id(conn, req, lookup->ids[i], &out, moved);
    json_decref(out.ids);
    if (connection_run(conn, req, STMT_COMMIT, "COMMIT") < 0 && rc == 0)
        rc = CRIER_EIO;
    return rc;
}


static void
ids_free(char **ids, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(ids[i]);
    free(ids);
}


/* Reads into `ids` (room for `limit`) the ids of up to `limit` profiles
 * after `after` ('' for the first page), in id order. */
static int
profile_ids_page(struct connection *conn, struct request *req,
                 const char *after, size_t limit, char **ids, size_t *count)
{
    static const char sql[] =
        "SELECT id FROM profiles WHERE id > ?1 ORDER BY id LIMIT ?2";
    sqlite3_stmt *stmt = connection_statement(conn, STMT_PROFILES_PAGE, sql);
    int step = SQLITE_DONE;
    int rc = 0;

    if (stmt == NULL)
        return connection_fail(conn, req, sqlite3_errcode(conn->db));
    statement_bind_text(stmt, 1, after);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)limit);
    while (rc == 0 && *count < limit &&
           (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        ids[*count] = column_text_copy(stmt, 0, &rc);
        if (rc == 0)
            (*count)++;
    }
    sqlite3_reset(stmt);
    if (rc == 0 && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = connection_fail(conn, req, step);
    return rc;
}


/*
 * Reads one page of profiles in id order. Reading one row more than the
 * limit shows whether a next page exists.
 */
int
profiles_scan(struct connection *conn, struct request *req)
{
    const struct scan_request *scan = &req->input.scan;
    char **ids = calloc(scan->limit + 1, sizeof(*ids));
    size_t count = 0;
    const char *next = NULL;
    struct found_list out;
    int found;
    int rc;

    req->result = json_pack("{s:[]}", "profiles");
    out.ids = json_object();
    if (req->result == NULL || ids == NULL || out.ids == NULL) {
        free(ids);
        json_decref(out.ids);
        return CRIER_ENOMEM;
    }
    out.profiles = json_object_get(req->result, "profiles");
    rc = connection_run(conn, req, STMT_BEGIN_READ, "BEGIN");
    if (rc == 0)
        rc = profile_ids_page(conn, req, scan->after ? scan->after : "",
                              scan->limit + 1, ids, &count);
    if (rc == 0 && count > scan->limit)
        next = ids[scan->limit - 1];
    for (size_t i = 0; rc == 0 && i < count && i < scan->limit; i++)
        rc = profile_append(conn, req, ids[i], &out, &found);
    json_decref(out.ids);
    if (connection_run(conn, req, STMT_COMMIT, "COMMIT") < 0 && rc == 0)
        rc = CRIER_EIO;
    if (rc == 0 && json_object_set_new(req->result, "next",
                                       next ? json_string(next)
                                            : json_null()) < 0)
        rc = CRIER_ENOMEM;
    ids_free(ids, count);
    return rc;
}
