/* Profile history and merges: links, merges, profile_get and timeline. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS


/* Commits `batch` and returns how many merges it applied. */
static int64_t
commit_merged(struct fixture *f, json_t *batch)
{
    json_t *result = json_ok(f, f->ops->commit, batch);
    int64_t merged = member_int(result, "merged");

    json_decref(result);
    return merged;
}


/* Commits one profile with one identity and the attributes in `json`. */
static void
profile_put(struct fixture *f, const char *id, const char *kind,
            const char *value, const char *json)
{
    json_t *attributes = json_loads(json, 0, NULL);

    assert_non_null(attributes);
    commit_merged(f, json_pack("{s:[{s:s, s:I, s:I, s:o, s:[{s:s, s:s}]}]}",
                               "profiles", "id", id,
                               "created", (json_int_t)T0,
                               "updated", (json_int_t)T0,
                               "attributes", attributes,
                               "identities", "kind", kind,
                               "value", value));
}


/* Sets the stage of `profile` in `program`. */
static void
stage_put(struct fixture *f, const char *profile, const char *program,
          const char *stage, int64_t time, const char *rule)
{
    commit_merged(f, json_pack("{s:[{s:s, s:s, s:s, s:I, s:s?}]}", "stages",
                               "profile", profile, "program", program,
                               "to", stage, "time", (json_int_t)time,
                               "rule", rule));
}


/* Plans a job for `profile` created at `created`. */
static void
job_put(struct fixture *f, const char *key, const char *profile,
        int64_t created)
{
    commit_merged(f, json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:I, s:I}]}",
                               "jobs", "key", key, "rule", "welcome",
                               "profile", profile, "channel", "email",
                               "template", "welcome",
                               "due", (json_int_t)(created + 1000),
                               "created", (json_int_t)created));
}


/* Appends one event of type `type` at `time` and returns its seq. */
static int64_t
event_put(struct fixture *f, const char *id, const char *type,
          int64_t time)
{
    struct crier_event_rec rec = event_rec("api", id, type, time,
                                           "{\"type\":\"page_view\"}");
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


static void
event_link(struct fixture *f, int64_t seq, const char *profile)
{
    commit_merged(f, json_pack("{s:[{s:I, s:s}]}", "links",
                               "seq", (json_int_t)seq, "profile", profile));
}


/* Reads one timeline page. `limit` 0 leaves the limit out. */
static json_t *
timeline_page(struct fixture *f, const char *profile, int limit,
              const char *before)
{
    json_t *request = json_pack("{s:s, s:s?}", "profile", profile,
                                "before", before);

    if (limit > 0)
        json_object_set_new(request, "limit", json_integer(limit));
    return json_ok(f, f->ops->timeline, request);
}


static json_t *
profile_get(struct fixture *f, const char *id)
{
    return json_ok(f, f->ops->profile_get, json_pack("{s:s}", "id", id));
}


/* Returns the entries of a timeline result. */
static json_t *
entries(const json_t *page)
{
    json_t *list = json_object_get(page, "entries");

    assert_true(json_is_array(list));
    return list;
}


/* Checks that entry `index` has the `kind` and the id member `key`. */
static void
entry_check(const json_t *page, size_t index, const char *kind,
            const char *key, int64_t id)
{
    json_t *entry = json_array_get(entries(page), index);

    assert_non_null(entry);
    assert_string_equal(member_str(entry, "kind"), kind);
    if (key != NULL)
        assert_int_equal(member_int(entry, key), id);
}


static void
link_sets_and_replaces(void **state)
{
    struct fixture *f = *state;
    int64_t first = event_put(f, "e-1", "page_view", T0);
    int64_t second = event_put(f, "e-2", "signup", T0 + 5);
    json_t *page;

    event_link(f, first, "p_1");
    event_link(f, second, "p_1");
    event_link(f, first, "p_2");

    page = timeline_page(f, "p_1", 0, NULL);
    assert_int_equal(json_array_size(entries(page)), 1);
    entry_check(page, 0, "event", "seq", second);
    assert_string_equal(member_str(json_array_get(entries(page), 0),
                                   "type"), "signup");
    json_decref(page);

    page = timeline_page(f, "p_2", 0, NULL);
    assert_int_equal(json_array_size(entries(page)), 1);
    entry_check(page, 0, "event", "seq", first);
    assert_true(json_is_null(json_object_get(page, "next")));
    json_decref(page);
}


/*
 * Five entries: at T0 + 10 two jobs, a stage move and an event, and at T0
 * another event. A job's time is its `created`, not its `due`.
 */
static void
timeline_fill(struct fixture *f, int64_t *first, int64_t *second)
{
    *first = event_put(f, "e-1", "page_view", T0);
    *second = event_put(f, "e-2", "signup", T0 + 10);
    event_link(f, *first, "p_1");
    event_link(f, *second, "p_1");
    commit_merged(f, json_pack("{s:[{s:s, s:s, s:s, s:s, s:I, s:I, s:s}]}",
                               "stages", "profile", "p_1",
                               "program", "kids", "from", "awareness",
                               "to", "consideration",
                               "time", (json_int_t)(T0 + 10),
                               "event_seq", (json_int_t)*second,
                               "rule", "crib-recall"));
    job_put(f, "job-1", "p_1", T0 + 10);
    job_put(f, "job-2", "p_1", T0 + 10);
}


static void
timeline_pages_newest_first(void **state)
{
    struct fixture *f = *state;
    int64_t first;
    int64_t second;
    char next[80];
    json_t *page;
    json_t *entry;

    timeline_fill(f, &first, &second);

    page = timeline_page(f, "p_1", 2, NULL);
    assert_int_equal(json_array_size(entries(page)), 2);
    entry_check(page, 0, "message", "job", 2);
    entry_check(page, 1, "message", "job", 1);
    entry = json_array_get(entries(page), 1);
    assert_int_equal(member_int(entry, "time"), T0 + 10);
    assert_string_equal(member_str(entry, "rule"), "welcome");
    assert_string_equal(member_str(entry, "channel"), "email");
    assert_string_equal(member_str(entry, "state"), "planned");
    assert_true(json_is_null(json_object_get(entry, "message_id")));
    assert_true(json_is_string(json_object_get(page, "next")));
    snprintf(next, sizeof(next), "%s", member_str(page, "next"));
    json_decref(page);

    page = timeline_page(f, "p_1", 2, next);
    assert_int_equal(json_array_size(entries(page)), 2);
    entry_check(page, 0, "stage", NULL, 0);
    entry_check(page, 1, "event", "seq", second);
    entry = json_array_get(entries(page), 0);
    assert_int_equal(member_int(entry, "time"), T0 + 10);
    assert_string_equal(member_str(entry, "program"), "kids");
    assert_string_equal(member_str(entry, "from"), "awareness");
    assert_string_equal(member_str(entry, "to"), "consideration");
    assert_string_equal(member_str(entry, "rule"), "crib-recall");
    assert_int_equal(member_int(entry, "event_seq"), second);
    entry = json_array_get(entries(page), 1);
    assert_int_equal(member_int(entry, "time"), T0 + 10);
    assert_string_equal(member_str(json_object_get(entry, "event"),
                                   "type"), "page_view");
    assert_true(json_is_string(json_object_get(page, "next")));
    snprintf(next, sizeof(next), "%s", member_str(page, "next"));
    json_decref(page);

    page = timeline_page(f, "p_1", 2, next);
    assert_int_equal(json_array_size(entries(page)), 1);
    entry_check(page, 0, "event", "seq", first);
    assert_int_equal(member_int(json_array_get(entries(page), 0), "time"),
                     T0);
    assert_true(json_is_null(json_object_get(page, "next")));
    json_decref(page);
}


static void
timeline_limit_bounds(void **state)
{
    struct fixture *f = *state;
    int64_t first;
    int64_t second;
    json_t *page;

    timeline_fill(f, &first, &second);

    /* Without a limit, and above the maximum, a page takes all five. */
    page = timeline_page(f, "p_1", 0, NULL);
    assert_int_equal(json_array_size(entries(page)), 5);
    assert_true(json_is_null(json_object_get(page, "next")));
    json_decref(page);
    page = timeline_page(f, "p_1", 501, NULL);
    assert_int_equal(json_array_size(entries(page)), 5);
    json_decref(page);

    /* A limit equal to the count leaves no next page. */
    page = timeline_page(f, "p_1", 5, NULL);
    assert_int_equal(json_array_size(entries(page)), 5);
    assert_true(json_is_null(json_object_get(page, "next")));
    json_decref(page);

    page = timeline_page(f, "p_unknown", 0, NULL);
    assert_int_equal(json_array_size(entries(page)), 0);
    assert_true(json_is_null(json_object_get(page, "next")));
    json_decref(page);
}


static void
timeline_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    const char *requests[] = {
        "{\"profile\": \"p_1\", \"limit\": 0}",
        "{\"profile\": \"p_1\", \"limit\": -1}",
        "{\"profile\": \"p_1\", \"limit\": \"2\"}",
        "{\"limit\": 2}",
        "{\"profile\": \"\"}",
        "{\"profile\": \"p_1\", \"before\": \"later\"}",
        "{\"profile\": \"p_1\", \"before\": \"1:3:1\"}",
        "{\"profile\": \"p_1\", \"before\": \"1:0:1x\"}",
        "{\"profile\": \"p_1\", \"before\": 5}",
        "[]"
    };
    size_t i;

    for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        assert_int_equal(json_wait(f, f->ops->timeline,
                                   json_loads(requests[i], 0, NULL),
                                   &result), CRIER_EINVAL);
}


/* Gives p_anon and p_known their profiles, stages, history and jobs. */
static void
merge_fill(struct fixture *f, int64_t *seq)
{
    json_t *claimed;

    profile_put(f, "p_known", "email", "a@b.gov",
                "{\"first_name\": \"Ana\"}");
    profile_put(f, "p_anon", "cookie", "c-1",
                "{\"first_name\": \"Anon\", \"city\": \"Lima\"}");
    stage_put(f, "p_known", "kids", "retention", T0 + 1, NULL);
    stage_put(f, "p_anon", "kids", "awareness", T0 + 2, "welcome");
    stage_put(f, "p_anon", "adults", "consideration", T0 + 3, NULL);
    *seq = event_put(f, "e-1", "page_view", T0 + 4);
    event_link(f, *seq, "p_anon");
    job_put(f, "job-1", "p_anon", T0 + 5);
    job_put(f, "job-2", "p_anon", T0 + 6);

    /* The first job is claimed: a merge moves jobs in any state. */
    claimed = jobs_claim_at(f, T0 + 1005, 1, 60000);
    assert_int_equal(json_array_size(claimed), 1);
    json_decref(claimed);
}


static json_t *
merge_batch(const char *from, const char *into)
{
    return json_pack("{s:[{s:s, s:s, s:I}]}", "merges", "from", from,
                     "into", into, "time", (json_int_t)(T0 + 100));
}


static void
merge_moves_profile_data(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *profile;
    json_t *identities;
    json_t *stages;
    json_t *page;
    json_t *jobs;
    int64_t seq;

    merge_fill(f, &seq);
    assert_int_equal(commit_merged(f, merge_batch("p_anon", "p_known")), 1);

    result = profile_get(f, "p_known");
    profile = json_object_get(result, "profile");
    assert_string_equal(member_str(profile, "id"), "p_known");
    identities = json_object_get(profile, "identities");
    assert_int_equal(json_array_size(identities), 2);
    assert_string_equal(member_str(json_array_get(identities, 0), "value"),
                        "a@b.gov");
    assert_string_equal(member_str(json_array_get(identities, 1), "value"),
                        "c-1");
    assert_string_equal(member_str(json_object_get(profile, "attributes"),
                                   "first_name"), "Ana");
    assert_string_equal(member_str(json_object_get(profile, "attributes"),
                                   "city"), "Lima");
    assert_int_equal(json_object_size(json_object_get(profile,
                                                      "attributes")), 2);
    stages = json_object_get(profile, "stages");
    assert_int_equal(json_object_size(stages), 2);
    assert_string_equal(member_str(json_object_get(stages, "kids"),
                                   "stage"), "retention");
    assert_int_equal(member_int(json_object_get(stages, "kids"), "since"),
                     T0 + 1);
    assert_string_equal(member_str(json_object_get(stages, "adults"),
                                   "stage"), "consideration");
    json_decref(result);

    /* The cookie now finds the known profile. */
    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "cookie", "value", "c-1"));
    assert_int_equal(json_array_size(json_object_get(result, "profiles")),
                     1);
    assert_string_equal(member_str(json_array_get(json_object_get(result,
                                       "profiles"), 0), "id"), "p_known");
    json_decref(result);

    /* Jobs, stage history and the event link moved with it. */
    page = timeline_page(f, "p_known", 0, NULL);
    assert_int_equal(json_array_size(entries(page)), 6);
    entry_check(page, 0, "message", "job", 2);
    entry_check(page, 1, "message", "job", 1);
    assert_string_equal(member_str(json_array_get(entries(page), 1),
                                   "state"), "claimed");
    entry_check(page, 2, "event", "seq", seq);
    entry_check(page, 3, "stage", NULL, 0);
    assert_string_equal(member_str(json_array_get(entries(page), 3), "to"),
                        "consideration");
    entry_check(page, 4, "stage", NULL, 0);
    assert_string_equal(member_str(json_array_get(entries(page), 4),
                                   "rule"), "welcome");
    entry_check(page, 5, "stage", NULL, 0);
    assert_string_equal(member_str(json_array_get(entries(page), 5), "to"),
                        "retention");
    json_decref(page);
    page = timeline_page(f, "p_anon", 0, NULL);
    assert_int_equal(json_array_size(entries(page)), 0);
    json_decref(page);

    jobs = jobs_list_all(f);
    assert_string_equal(member_str(json_array_get(json_object_get(jobs,
                                       "jobs"), 0), "profile"), "p_known");
    assert_string_equal(member_str(json_array_get(json_object_get(jobs,
                                       "jobs"), 1), "profile"), "p_known");
    json_decref(jobs);
}


static void
profile_get_follows_merges(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    profile_put(f, "p_a", "cookie", "c-a", "{}");
    profile_put(f, "p_b", "cookie", "c-b", "{}");
    profile_put(f, "p_c", "email", "c@b.gov", "{}");
    assert_int_equal(commit_merged(f, merge_batch("p_a", "p_b")), 1);
    assert_int_equal(commit_merged(f, merge_batch("p_b", "p_c")), 1);

    result = profile_get(f, "p_a");
    assert_true(json_is_null(json_object_get(result, "profile")));
    assert_string_equal(member_str(result, "merged_into"), "p_c");
    json_decref(result);

    result = profile_get(f, "p_b");
    assert_true(json_is_null(json_object_get(result, "profile")));
    assert_string_equal(member_str(result, "merged_into"), "p_c");
    json_decref(result);

    result = profile_get(f, "p_c");
    assert_string_equal(member_str(json_object_get(result, "profile"), "id"),
                        "p_c");
    assert_int_equal(member_int(json_object_get(result, "profile"),
                                "created"), T0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(
                         result, "profile"), "identities")), 3);
    assert_null(json_object_get(result, "merged_into"));
    json_decref(result);

    result = profile_get(f, "p_never");
    assert_true(json_is_null(json_object_get(result, "profile")));
    assert_null(json_object_get(result, "merged_into"));
    json_decref(result);
}


static void
merge_rerun_skipped(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    profile_put(f, "p_a", "cookie", "c-a", "{\"city\": \"Lima\"}");
    profile_put(f, "p_b", "email", "b@b.gov", "{}");
    assert_int_equal(commit_merged(f, merge_batch("p_a", "p_b")), 1);
    assert_int_equal(commit_merged(f, merge_batch("p_a", "p_b")), 0);

    result = profile_get(f, "p_b");
    assert_int_equal(json_array_size(json_object_get(json_object_get(
                         result, "profile"), "identities")), 2);
    json_decref(result);
}


/* A merge into a missing profile fails the whole batch with
 * CRIER_ENOTFOUND, and nothing of the batch is stored. */
static void
merge_into_missing_rejected(void **state)
{
    struct fixture *f = *state;
    json_t *batch = merge_batch("p_a", "p_missing");
    json_t *result;

    profile_put(f, "p_a", "cookie", "c-a", "{}");
    json_object_set_new(batch, "profiles",
                        json_pack("[{s:s, s:I, s:I, s:{}}]", "id", "p_new",
                                  "created", (json_int_t)T0,
                                  "updated", (json_int_t)T0, "attributes"));
    assert_int_equal(json_wait(f, f->ops->commit, batch, &result),
                     CRIER_ENOTFOUND);

    result = profile_get(f, "p_a");
    assert_string_equal(member_str(json_object_get(result, "profile"), "id"),
                        "p_a");
    json_decref(result);
    result = profile_get(f, "p_new");
    assert_true(json_is_null(json_object_get(result, "profile")));
    json_decref(result);
}


static void
commit_rejects_invalid_history(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    const char *batches[] = {
        "{\"merges\": {}}",
        "{\"merges\": [1]}",
        "{\"merges\": [{\"into\": \"p_b\", \"time\": 1}]}",
        "{\"merges\": [{\"from\": \"\", \"into\": \"p_b\", \"time\": 1}]}",
        "{\"merges\": [{\"from\": \"p_a\", \"into\": 7, \"time\": 1}]}",
        "{\"merges\": [{\"from\": \"p_a\", \"into\": \"p_b\"}]}",
        "{\"merges\": [{\"from\": \"p_a\", \"into\": \"p_b\","
        " \"time\": \"1\"}]}",
        "{\"merges\": [{\"from\": \"p_a\", \"into\": \"p_a\", \"time\": 1}]}",
        "{\"links\": \"p_a\"}",
        "{\"links\": [[1, \"p_a\"]]}",
        "{\"links\": [{\"seq\": 0, \"profile\": \"p_a\"}]}",
        "{\"links\": [{\"profile\": \"p_a\"}]}",
        "{\"links\": [{\"seq\": 1}]}",
        "{\"links\": [{\"seq\": 1, \"profile\": \"\"}]}",
        "{\"stages\": [{\"profile\": \"p_a\", \"program\": \"kids\","
        " \"to\": \"awareness\", \"time\": 1, \"rule\": 3}]}"
    };
    size_t i;

    for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++)
        assert_int_equal(json_wait(f, f->ops->commit,
                                   json_loads(batches[i], 0, NULL), &result),
                         CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profile_get,
                               json_pack("{s:s}", "id", ""), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profile_get, json_object(),
                               &result), CRIER_EINVAL);
}


/* The first schema, as version 1 of the sqlite store created it. */
static const char schema_version_1[] =
    "CREATE TABLE schema_version ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  version INTEGER NOT NULL);"
    "INSERT INTO schema_version VALUES (1, 1);"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  source TEXT NOT NULL, ext_id TEXT, type TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
    "  body TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_source_id ON events (source, ext_id)"
    "  WHERE ext_id IS NOT NULL;"
    "CREATE TABLE cursors (name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE profiles (id TEXT PRIMARY KEY, created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL, attributes TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE identities (kind TEXT NOT NULL, value TEXT NOT NULL,"
    "  profile TEXT NOT NULL, PRIMARY KEY (kind, value));"
    "CREATE INDEX identities_profile ON identities (profile);"
    "CREATE TABLE stages (profile TEXT NOT NULL, program TEXT NOT NULL,"
    "  stage TEXT NOT NULL, since INTEGER NOT NULL,"
    "  PRIMARY KEY (profile, program)) WITHOUT ROWID;"
    "CREATE TABLE stage_history (id INTEGER PRIMARY KEY,"
    "  profile TEXT NOT NULL, program TEXT NOT NULL, from_stage TEXT,"
    "  to_stage TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  event_seq INTEGER);"
    "CREATE INDEX stage_history_profile"
    "  ON stage_history (profile, program, id);"
    "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, program TEXT,"
    "  profile TEXT, event_seq INTEGER, channel TEXT NOT NULL,"
    "  template TEXT NOT NULL, recipient TEXT, state TEXT NOT NULL,"
    "  generation INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  due INTEGER NOT NULL, lease_until INTEGER, owner TEXT,"
    "  message_id TEXT, provider_id TEXT, error TEXT, last_error TEXT,"
    "  created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX jobs_due ON jobs (state, due);"
    "CREATE INDEX jobs_lease ON jobs (state, lease_until)"
    "  WHERE lease_until IS NOT NULL;"
    "CREATE INDEX jobs_state ON jobs (state, id);";

/* The rows that the version-1 database starts with. */
static const char rows_version_1[] =
    "INSERT INTO events VALUES (1, 'api', 'e-1', 'page_view', 1000, 1005,"
    "  '{\"type\":\"page_view\"}');"
    "INSERT INTO profiles VALUES ('p_1', 1000, 1000, '{\"city\":\"Lima\"}');"
    "INSERT INTO identities VALUES ('email', 'a@b.gov', 'p_1');"
    "INSERT INTO stages VALUES ('p_1', 'kids', 'awareness', 1000);"
    "INSERT INTO stage_history VALUES (1, 'p_1', 'kids', NULL, 'awareness',"
    "  1000, 1);"
    "INSERT INTO jobs (key, rule, profile, channel, template, state,"
    "  generation, attempts, due, created, updated) VALUES ('job-1',"
    "  'welcome', 'p_1', 'email', 'welcome', 'sent', 1, 1, 1000, 1000,"
    "  1000);";


static void
schema_version_1_upgrades(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *result;
    json_t *rows;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    snprintf(path, sizeof(path), "%s/data", f->folder);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/data/nested", f->folder);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    sqlite_file_create(path, schema_version_1);
    sqlite_file_exec(path, rows_version_1);

    assert_int_equal(store_open(f, store_config()), 0);

    /* The old rows read as before, and the new columns work. */
    result = profile_get(f, "p_1");
    assert_string_equal(member_str(json_object_get(json_object_get(result,
                                       "profile"), "attributes"), "city"),
                        "Lima");
    json_decref(result);
    event_link(f, 1, "p_1");
    result = timeline_page(f, "p_1", 0, NULL);
    assert_int_equal(json_array_size(entries(result)), 3);
    entry_check(result, 0, "message", "job", 1);
    entry_check(result, 1, "stage", NULL, 0);
    assert_true(json_is_null(json_object_get(json_array_get(entries(result),
                                                            1), "rule")));
    entry_check(result, 2, "event", "seq", 1);
    json_decref(result);
    store_close(f);

    rows = sqlite_file_rows(path, "SELECT version FROM schema_version");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows,
                                                                      0),
                                                       0)),
                     SQLITE_SCHEMA_LATEST);
    json_decref(rows);
    rows = sqlite_file_rows(path, "SELECT profile FROM events");
    assert_string_equal(json_string_value(json_array_get(json_array_get(
                            rows, 0), 0)), "p_1");
    json_decref(rows);
}


/* Checks with EXPLAIN QUERY PLAN that timeline's reads use the indexes
 * on profile. */
static void
timeline_uses_indexes(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    const char *plans[][2] = {
        { "EXPLAIN QUERY PLAN SELECT seq FROM events WHERE profile = 'p'",
          "events_profile" },
        { "EXPLAIN QUERY PLAN SELECT id FROM stage_history"
          " WHERE profile = 'p'", "stage_history_profile" },
        { "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE profile = 'p'",
          "jobs_profile" }
    };
    size_t i;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    for (i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
        json_t *rows = sqlite_file_rows(path, plans[i][0]);
        const char *detail = json_string_value(json_array_get(
            json_array_get(rows, 0), 3));

        assert_non_null(detail);
        assert_non_null(strstr(detail, plans[i][1]));
        json_decref(rows);
    }
}


const struct CMUnitTest history_tests[] = {
    CASE(link_sets_and_replaces),
    CASE(timeline_pages_newest_first),
    CASE(timeline_limit_bounds),
    CASE(timeline_rejects_invalid),
    CASE(merge_moves_profile_data),
    CASE(profile_get_follows_merges),
    CASE(merge_rerun_skipped),
    CASE(merge_into_missing_rejected),
    CASE(commit_rejects_invalid_history),
    BARE_CASE(schema_version_1_upgrades),
    CASE(timeline_uses_indexes)
};

const size_t history_test_count =
    sizeof(history_tests) / sizeof(history_tests[0]);
