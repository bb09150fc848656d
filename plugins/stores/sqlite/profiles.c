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


/* Appends the owner of `identity` to `list` unless `listed`, an object
 * used as a set of profile ids, already contains it. */
static int
profiles_load_one(struct connection *conn, struct request *req,
                  const struct identity *identity, json_t *list,
                  json_t *listed)
{
    json_t *profile;
    char *owner;
    int rc;

    rc = identity_owner(conn, req, identity, &owner);
    if (rc < 0 || owner == NULL || json_object_get(listed, owner) != NULL) {
        free(owner);
        return rc;
    }
    if (json_object_set_new(listed, owner, json_true()) < 0) {
        free(owner);
        return CRIER_ENOMEM;
    }
    profile = profile_load(conn, req, owner, 1, &rc);
    free(owner);
    if (profile == NULL)
        return rc;
    if (json_is_null(profile)) {
        json_decref(profile);
        return 0;
    }
    rc = segments_add_json(conn, req, json_string_value(
                               json_object_get(profile, "id")), profile);
    if (rc < 0) {
        json_decref(profile);
        return rc;
    }
    return json_array_append_new(list, profile) < 0 ? CRIER_ENOMEM : 0;
}


/*
 * Loads the owners of the requested identities, each once, in the order of
 * the first identity that names them. One read transaction covers every
 * query, so the result comes from one consistent snapshot.
 */
int
profiles_load(struct connection *conn, struct request *req)
{
    const struct identity_list *lookup = &req->input.lookup;
    json_t *list, *listed;
    size_t i;
    int rc;

    req->result = json_pack("{s:[]}", "profiles");
    if (req->result == NULL)
        return CRIER_ENOMEM;
    list = json_object_get(req->result, "profiles");
    listed = json_object();
    if (listed == NULL)
        return CRIER_ENOMEM;
    rc = connection_run(conn, req, STMT_BEGIN_READ, "BEGIN");
    for (i = 0; rc == 0 && i < lookup->count; i++)
        rc = profiles_load_one(conn, req, &lookup->items[i], list, listed);
    json_decref(listed);
    if (connection_run(conn, req, STMT_COMMIT, "COMMIT") < 0 && rc == 0)
        rc = CRIER_EIO;
    return rc;
}
