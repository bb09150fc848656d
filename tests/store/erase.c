/* profile_erase: what an erase removes, scrubs, unlinks and keeps. */
#include <stdio.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS
#define EMAIL "ana@example.gov"
#define LEASE 60000


static void
commit_ok(struct fixture *f, json_t *batch)
{
    json_decref(json_ok(f, f->ops->commit, batch));
}


/* Appends one event whose body carries EMAIL and returns its seq. */
static int64_t
event_put(struct fixture *f, const char *id, const char *type, int64_t time)
{
    struct crier_event_rec rec = event_rec("api", id, type, time,
                                           "{\"type\":\"signup\","
                                           "\"email\":\"" EMAIL "\"}");
    size_t accepted;
    size_t duplicates;
    json_t *result;
    json_t *events;
    int64_t seq;

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(events_read_wait(f, 0, 1000, &result), 0);
    events = json_object_get(result, "events");
    seq = member_int(json_array_get(events, json_array_size(events) - 1),
                     "seq");
    json_decref(result);
    return seq;
}


static json_t *
job_json(const char *key, const char *profile)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}",
                     "key", key, "rule", "welcome", "program", "kids",
                     "profile", profile, "channel", "email",
                     "template", "welcome", "to", EMAIL,
                     "due", (json_int_t)T0);
}


/*
 * Stores profile p_1 with EMAIL, an event linked to it, a stage move and
 * two jobs: job 1 stays planned, job 2 fails after one attempt with an
 * error and a reply that quote the address. The pipeline cursor ends at the last event.
 */
static void
profile_fill(struct fixture *f)
{
    int64_t seq = event_put(f, "e-1", "signup", T0 + 1234);
    json_t *jobs;
    json_t *job;

    commit_ok(f, json_pack("{s:[{s:s, s:I, s:I, s:{s:s},"
                           " s:[{s:s, s:s}]}],"
                           " s:[{s:s, s:s, s:s, s:I, s:I, s:s}],"
                           " s:[o, o], s:[{s:I, s:s}], s:{s:s, s:I}}",
                           "profiles", "id", "p_1",
                           "created", (json_int_t)T0,
                           "updated", (json_int_t)T0,
                           "attributes", "first_name", "Ana",
                           "identities", "kind", "email", "value", EMAIL,
                           "stages", "profile", "p_1", "program", "kids",
                           "to", "awareness", "time", (json_int_t)T0,
                           "event_seq", (json_int_t)seq,
                           "rule", "welcome",
                           "jobs", job_json("job-1", "p_1"),
                           job_json("job-2", "p_1"),
                           "links", "seq", (json_int_t)seq,
                           "profile", "p_1",
                           "cursor", "name", "pipeline",
                           "value", (json_int_t)seq));

    /* Job 1 is claimed first (same due, lower id), so fail job 2. */
    jobs = jobs_claim_at(f, T0, 2, LEASE);
    assert_int_equal(json_array_size(jobs), 2);
    job = json_array_get(jobs, 1);
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:I, s:s, s:I, s:s}",
                                  "id", (json_int_t)member_int(job, "id"),
                                  "generation",
                                  (json_int_t)member_int(job, "generation"),
                                  "state", "sending", "now", (json_int_t)T0,
                                  "message_id", "<m2@crier>")));
    json_decref(json_ok(f, f->ops->job_update,
                        json_pack("{s:I, s:I, s:s, s:I, s:s,"
                                  " s:{s:I, s:s, s:s}}",
                                  "id", (json_int_t)member_int(job, "id"),
                                  "generation",
                                  (json_int_t)member_int(job, "generation"),
                                  "state", "failed", "now", (json_int_t)T0,
                                  "error", "550 " EMAIL " unknown",
                                  "attempt", "time", (json_int_t)T0,
                                  "outcome", "failed",
                                  "reply", "550 " EMAIL " unknown")));
    json_decref(jobs);
}


static json_t *
erase(struct fixture *f, const char *id)
{
    return json_ok(f, f->ops->profile_erase,
                   json_pack("{s:s, s:I, s:s}", "id", id,
                             "now", (json_int_t)(T0 + 5000),
                             "cursor", "pipeline"));
}


static int
erased(const json_t *result)
{
    json_t *value = json_object_get(result, "erased");

    assert_true(json_is_boolean(value));
    return json_is_true(value);
}


static void
erase_removes_profile(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    profile_fill(f);
    result = erase(f, "p_1");
    assert_true(erased(result));
    assert_int_equal(member_int(result, "events"), 1);
    assert_int_equal(member_int(result, "jobs"), 2);
    assert_int_equal(member_int(result, "suppressed"), 1);
    json_decref(result);

    result = json_ok(f, f->ops->profile_get, json_pack("{s:s}", "id",
                                                       "p_1"));
    assert_true(json_is_null(json_object_get(result, "profile")));
    assert_null(json_object_get(result, "merged_into"));
    json_decref(result);

    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "email", "value", EMAIL));
    assert_int_equal(json_array_size(json_object_get(result, "profiles")),
                     0);
    json_decref(result);

    result = json_ok(f, f->ops->timeline, json_pack("{s:s}", "profile",
                                                    "p_1"));
    assert_int_equal(json_array_size(json_object_get(result, "entries")),
                     0);
    json_decref(result);
}


static void
erase_scrubs_event_bodies(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *event;
    json_t *expected;

    profile_fill(f);
    json_decref(erase(f, "p_1"));

    assert_int_equal(events_read_wait(f, 0, 100, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 1);
    event = json_array_get(json_object_get(result, "events"), 0);
    assert_int_equal(member_int(event, "seq"), 1);
    assert_string_equal(member_str(event, "type"), "signup");
    assert_string_equal(member_str(event, "source"), "api");
    assert_int_equal(member_int(event, "time"), T0 + 1234);
    assert_null(member_str(event, "id"));
    expected = json_pack("{s:s, s:s, s:b}", "type", "signup",
                         "time", "2026-01-01T00:00:01.234Z", "erased", 1);
    assert_true(json_equal(json_object_get(event, "event"), expected));
    json_decref(expected);
    json_decref(result);
}


/* The sender's id is gone, so a repeat of it is stored as a new event. */
static void
erase_forgets_event_id(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec rec = event_rec("api", "e-1", "signup", T0,
                                           "{\"type\":\"signup\"}");
    size_t accepted;
    size_t duplicates;

    profile_fill(f);
    json_decref(erase(f, "p_1"));
    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(duplicates, 0);
}


static json_t *
job_listed(const json_t *list, int64_t id)
{
    json_t *jobs = json_object_get(list, "jobs");
    size_t i;

    for (i = 0; i < json_array_size(jobs); i++)
        if (member_int(json_array_get(jobs, i), "id") == id)
            return json_array_get(jobs, i);
    fail_msg("job %lld is not listed", (long long)id);
    return NULL;
}


static void
erase_suppresses_and_blanks_jobs(void **state)
{
    struct fixture *f = *state;
    json_t *list;
    json_t *job;

    profile_fill(f);
    json_decref(erase(f, "p_1"));
    list = jobs_list_all(f);

    job = job_listed(list, 1);
    assert_string_equal(member_str(job, "state"), "suppressed");
    assert_string_equal(member_str(job, "error"), "erased");
    assert_string_equal(member_str(job, "last_error"), "erased");
    assert_null(member_str(job, "to"));
    assert_null(member_str(job, "profile"));
    assert_true(json_is_null(json_object_get(job, "lease_until")));
    assert_int_equal(member_int(job, "updated"), T0 + 5000);

    job = job_listed(list, 2);
    assert_string_equal(member_str(job, "state"), "failed");
    assert_string_equal(member_str(job, "error"), "erased");
    assert_string_equal(member_str(job, "last_error"), "erased");
    assert_null(member_str(job, "to"));
    assert_null(member_str(job, "profile"));
    json_decref(list);

    /* The provider's reply of job 2's attempt goes like its errors. */
    list = json_ok(f, f->ops->jobs_list,
                   json_pack("{s:i, s:i, s:b}", "limit", 1, "before", 3,
                             "attempts", 1));
    job = job_listed(list, 2);
    assert_int_equal(json_array_size(json_object_get(job, "attempt_log")),
                     1);
    assert_string_equal(member_str(json_array_get(json_object_get(
                            job, "attempt_log"), 0), "reply"), "erased");
    assert_string_equal(member_str(json_array_get(json_object_get(
                            job, "attempt_log"), 0), "outcome"), "failed");
    json_decref(list);

    /* A suppressed job is final: no claim takes it again. */
    list = jobs_claim_at(f, T0 + 10 * LEASE, 10, LEASE);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}


static void
erase_unknown_and_repeated(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    result = erase(f, "p_never");
    assert_false(erased(result));
    assert_null(json_object_get(result, "merged_into"));
    assert_null(json_object_get(result, "events"));
    json_decref(result);

    profile_fill(f);
    json_decref(erase(f, "p_1"));
    result = erase(f, "p_1");
    assert_false(erased(result));
    assert_null(json_object_get(result, "merged_into"));
    json_decref(result);
}


/* A merged-away id is not erased: the caller chooses whether to erase
 * the profile it went to. Erasing that one also deletes the merge. */
static void
erase_merged_id_rejected(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    profile_fill(f);
    commit_ok(f, json_pack("{s:[{s:s, s:I, s:I, s:{}}]}", "profiles",
                           "id", "p_anon", "created", (json_int_t)T0,
                           "updated", (json_int_t)T0, "attributes"));
    commit_ok(f, json_pack("{s:[{s:s, s:s, s:I}]}", "merges",
                           "from", "p_anon", "into", "p_1",
                           "time", (json_int_t)T0));

    result = erase(f, "p_anon");
    assert_false(erased(result));
    assert_string_equal(member_str(result, "merged_into"), "p_1");
    json_decref(result);

    result = erase(f, "p_1");
    assert_true(erased(result));
    json_decref(result);

    result = json_ok(f, f->ops->profile_get, json_pack("{s:s}", "id",
                                                       "p_anon"));
    assert_true(json_is_null(json_object_get(result, "profile")));
    assert_null(json_object_get(result, "merged_into"));
    json_decref(result);
}


/* Events after the cursor may carry the profile's identities without a
 * link yet, so the erase waits for the pipeline. */
static void
erase_waits_for_cursor(void **state)
{
    struct fixture *f = *state;
    json_t *result = NULL;

    profile_fill(f);
    event_put(f, "e-2", "page_view", T0 + 2000);
    assert_int_equal(json_wait(f, f->ops->profile_erase,
                               json_pack("{s:s, s:I, s:s}", "id", "p_1",
                                         "now", (json_int_t)T0,
                                         "cursor", "pipeline"),
                               &result), CRIER_EBUSY);
    assert_null(result);

    result = json_ok(f, f->ops->profile_get, json_pack("{s:s}", "id",
                                                       "p_1"));
    assert_true(json_is_object(json_object_get(result, "profile")));
    json_decref(result);

    /* Without a cursor the store does not wait. */
    result = json_ok(f, f->ops->profile_erase,
                     json_pack("{s:s, s:I}", "id", "p_1",
                               "now", (json_int_t)T0));
    assert_true(erased(result));
    json_decref(result);
}


static void
erase_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *requests[] = {
        json_pack("{s:I}", "now", (json_int_t)T0),
        json_pack("{s:s}", "id", "p_1"),
        json_pack("{s:s, s:I}", "id", "", "now", (json_int_t)T0),
        json_pack("{s:i, s:I}", "id", 7, "now", (json_int_t)T0),
        json_pack("{s:s, s:s}", "id", "p_1", "now", "soon"),
        json_pack("{s:s, s:I, s:s}", "id", "p_1", "now", (json_int_t)T0,
                  "cursor", ""),
        json_pack("[]")
    };
    json_t *result;
    size_t i;

    for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        result = NULL;
        assert_int_equal(json_wait(f, f->ops->profile_erase, requests[i],
                                   &result), CRIER_EINVAL);
        assert_null(result);
    }
}


static int
store_is_sqlite(void)
{
    return strcmp(store_plugin.plugin->name, "sqlite") == 0;
}


static int64_t
file_count(const char *path, const char *sql)
{
    json_t *rows = sqlite_file_rows(path, sql);
    int64_t count = json_integer_value(json_array_get(json_array_get(rows,
                                                                     0),
                                                      0));

    json_decref(rows);
    return count;
}


/* Stage history keeps its rows without the profile, and the erasure is
 * recorded with its time only. */
static void
erase_keeps_counts_in_file(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];

    if (!store_is_sqlite())
        skip();
    profile_fill(f);
    json_decref(erase(f, "p_1"));
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);

    assert_int_equal(file_count(path, "SELECT count(*) FROM stage_history"
                                " WHERE profile IS NULL AND program = 'kids'"
                                " AND to_stage = 'awareness'"
                                " AND rule = 'welcome'"), 1);
    assert_int_equal(file_count(path, "SELECT count(*) FROM stage_history"),
                     1);
    assert_int_equal(file_count(path, "SELECT count(*) FROM events"
                                " WHERE type = 'signup'"), 1);
    assert_int_equal(file_count(path, "SELECT count(*) FROM erasures"
                                " WHERE time_ms = 1767225605000"), 1);
    assert_int_equal(file_count(path, "SELECT count(*) FROM stages"), 0);
    assert_int_equal(file_count(path, "SELECT count(*) FROM identities"),
                     0);
    assert_int_equal(file_count(path, "SELECT count(*) FROM profiles"), 0);
}


/* Counts the rows of `table` whose column `column` contains EMAIL. */
static int64_t
rows_with_email(const char *path, const char *table, const char *column)
{
    char sql[512];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\" WHERE"
             " CAST(\"%s\" AS TEXT) LIKE '%%" EMAIL "%%'", table, column);
    return file_count(path, sql);
}


/* After an erase the address appears in no column of any table. */
static void
erase_leaves_no_trace_in_file(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    char sql[256];
    json_t *tables;
    json_t *columns;
    size_t i;
    size_t j;

    if (!store_is_sqlite())
        skip();
    profile_fill(f);
    json_decref(erase(f, "p_1"));
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);

    tables = sqlite_file_rows(path, "SELECT name FROM sqlite_master"
                              " WHERE type = 'table'");
    assert_true(json_array_size(tables) >= 8);
    for (i = 0; i < json_array_size(tables); i++) {
        const char *table = json_string_value(json_array_get(
                                json_array_get(tables, i), 0));

        snprintf(sql, sizeof(sql), "SELECT name FROM pragma_table_info('%s')",
                 table);
        columns = sqlite_file_rows(path, sql);
        for (j = 0; j < json_array_size(columns); j++) {
            const char *column = json_string_value(json_array_get(
                                     json_array_get(columns, j), 0));

            if (rows_with_email(path, table, column) != 0)
                fail_msg("%s.%s still contains " EMAIL, table, column);
        }
        json_decref(columns);
    }
    json_decref(tables);
}


const struct CMUnitTest erase_tests[] = {
    CASE(erase_removes_profile),
    CASE(erase_scrubs_event_bodies),
    CASE(erase_forgets_event_id),
    CASE(erase_suppresses_and_blanks_jobs),
    CASE(erase_unknown_and_repeated),
    CASE(erase_merged_id_rejected),
    CASE(erase_waits_for_cursor),
    CASE(erase_rejects_invalid),
    CASE(erase_keeps_counts_in_file),
    CASE(erase_leaves_no_trace_in_file)
};

const size_t erase_test_count = sizeof(erase_tests) / sizeof(erase_tests[0]);
