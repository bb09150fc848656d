/*
 * Configuration, start and stop, ordering under load, and what the sqlite
 * store keeps across a restart.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS
#define LOAD_APPENDS 2000

/* Skips a case on a store that keeps nothing across restarts. */
#define REQUIRE_DURABLE()                                                   \
    do {                                                                    \
        if (!store_durable())                                               \
            skip();                                                         \
    } while (0)


/* The database file of the sqlite store, as store_config names it. */
static void
database_path(const struct fixture *f, char *path, size_t size)
{
    snprintf(path, size, "%s/data/nested/crier.db", f->folder);
}


/* One queued call of a burst, and the position of its callback. */
struct queued {
    int *next_rank;
    int done;
    int rank;
    int status;
    size_t accepted;
    json_t *result;
};


static void
queued_append_done(void *arg, int status, size_t accepted,
                   size_t duplicates)
{
    struct queued *q = arg;

    q->done = 1;
    q->rank = (*q->next_rank)++;
    q->status = status;
    q->accepted = accepted;
}


static void
stop_done_flag(void *arg)
{
    *(int *)arg = 1;
}


static void
queued_json_done(void *arg, int status, json_t *result)
{
    struct queued *q = arg;

    q->done = 1;
    q->rank = (*q->next_rank)++;
    q->status = status;
    q->result = json_incref(result);
}


static void
config_rejects_unknown_setting(void **state)
{
    struct fixture *f = *state;
    json_t *config = store_config();

    json_object_set_new(config, "max_bach", json_integer(10));
    assert_int_equal(store_open(f, config), CRIER_ECONFIG);
    assert_null(f->store);
    assert_int_equal(f->th.config_error_count, 1);
    assert_non_null(strstr(f->th.config_errors,
                           "max_bach: unknown setting; "));
    if (strcmp(store_plugin.plugin->name, "sqlite") == 0)
        assert_non_null(strstr(f->th.config_errors, "valid settings are "
                               "path, busy_timeout_ms, max_batch and "
                               "cache_mb"));
}


/* A store opened with the smallest page cache still plans and claims. */
static void
config_cache_mb_applies(void **state)
{
    struct fixture *f = *state;
    json_t *config;
    json_t *claimed;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    config = store_config();
    json_object_set_new(config, "cache_mb", json_integer(1));
    assert_int_equal(store_open(f, config), 0);
    job_plan_commit(f, "k-1", "r", T0);
    claimed = jobs_claim_at(f, T0, 10, 30000);
    assert_int_equal(json_array_size(claimed), 1);
    json_decref(claimed);
}


static void
config_requires_path(void **state)
{
    struct fixture *f = *state;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    assert_int_equal(store_open(f, json_pack("{s:s}", "plugin", "sqlite")),
                     CRIER_ECONFIG);
    assert_int_equal(f->th.config_error_count, 1);
    assert_non_null(strstr(f->th.config_errors, "path: "));
}


static void
config_rejects_bad_values(void **state)
{
    struct fixture *f = *state;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    assert_int_equal(store_open(f, json_pack("{s:s, s:i, s:i, s:i, s:s}",
                                             "path", "a.db",
                                             "max_batch", 0,
                                             "busy_timeout_ms", -1,
                                             "cache_mb", 0,
                                             "plugin", "sqlite")),
                     CRIER_ECONFIG);
    assert_int_equal(f->th.config_error_count, 3);
    assert_non_null(strstr(f->th.config_errors, "max_batch: "));
    assert_non_null(strstr(f->th.config_errors, "busy_timeout_ms: "));
    assert_non_null(strstr(f->th.config_errors, "cache_mb: "));

    assert_int_equal(store_open(f, json_pack("{s:i}", "path", 5)),
                     CRIER_ECONFIG);
    assert_int_equal(f->th.config_error_count, 4);
}


static void
start_creates_parent_folders(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    struct stat st;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    database_path(f, path, sizeof(path));
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
}


static void
operations_after_stop_closed(void **state)
{
    struct fixture *f = *state;
    const struct crier_store_ops *ops = f->ops;
    struct crier_event_rec rec = event_rec("api", "e-1", "t", T0, "{}");
    json_t *request = json_object();
    int next_rank = 0;
    struct queued q = { .next_rank = &next_rank };

    store_stop(f);
    assert_int_equal(ops->append(f->store, &rec, 1, queued_append_done, &q),
                     CRIER_ECLOSED);
    assert_int_equal(ops->events_read(f->store, 0, 10, queued_json_done, &q),
                     CRIER_ECLOSED);
    assert_int_equal(ops->cursor_get(f->store, "pipeline", queued_json_done,
                                     &q), CRIER_ECLOSED);
    assert_int_equal(ops->commit(f->store, request, queued_json_done, &q),
                     CRIER_ECLOSED);
    assert_int_equal(ops->jobs_list(f->store, request, queued_json_done,
                                    &q), CRIER_ECLOSED);
    uv_run(&f->th.loop, UV_RUN_NOWAIT);
    assert_false(q.done);
    json_decref(request);
}


/*
 * Queues `count` single-event appends without waiting, the events named
 * e-0, e-1, ... Each `queued` entry records its callback.
 */
static void
appends_queue(struct fixture *f, struct queued *queued, int count,
              int *next_rank, char (*ids)[16])
{
    struct crier_event_rec rec;
    int i;

    for (i = 0; i < count; i++) {
        snprintf(ids[i], sizeof(ids[i]), "e-%d", i);
        rec = event_rec("api", ids[i], "page_view", T0 + i,
                        "{\"type\":\"page_view\"}");
        queued[i].next_rank = next_rank;
        assert_int_equal(f->ops->append(f->store, &rec, 1,
                                        queued_append_done, &queued[i]), 0);
    }
}


static void
stop_finishes_queued_work(void **state)
{
    struct fixture *f = *state;
    struct queued queued[21] = { 0 };
    char ids[20][16];
    int next_rank = 0;
    int i;

    appends_queue(f, queued, 20, &next_rank, ids);
    queued[20].next_rank = &next_rank;
    assert_int_equal(f->ops->cursor_get(f->store, "pipeline",
                                        queued_json_done, &queued[20]), 0);
    store_stop(f);

    assert_int_equal(next_rank, 21);
    for (i = 0; i < 21; i++) {
        assert_true(queued[i].done);
        assert_int_equal(queued[i].status, 0);
    }
    for (i = 0; i < 20; i++)
        assert_int_equal(queued[i].accepted, 1);
    assert_int_equal(member_int(queued[20].result, "value"), 0);
    json_decref(queued[20].result);
}


static void
failed_request_leaves_others(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec first = event_rec("api", "e-1", "t", T0, "{}");
    struct crier_event_rec second = event_rec("api", "e-2", "t", T0, "{}");
    struct queued q[4] = { 0 };
    json_t *update = json_pack("{s:i, s:i, s:s, s:I}", "id", 77,
                               "generation", 1, "state", "sent",
                               "now", (json_int_t)T0);
    json_t *batch = json_pack("{s:{s:s, s:i}}", "cursor", "name", "pipeline",
                              "value", 5);
    json_t *result;
    int next_rank = 0;
    int i;

    /* Queued together, so a group-committing store runs them in one
     * transaction. The failing update must not take the others along. */
    for (i = 0; i < 4; i++)
        q[i].next_rank = &next_rank;
    assert_int_equal(f->ops->append(f->store, &first, 1, queued_append_done,
                                    &q[0]), 0);
    assert_int_equal(f->ops->job_update(f->store, update, queued_json_done,
                                        &q[1]), 0);
    assert_int_equal(f->ops->commit(f->store, batch, queued_json_done,
                                    &q[2]), 0);
    assert_int_equal(f->ops->append(f->store, &second, 1, queued_append_done,
                                    &q[3]), 0);
    json_decref(update);
    json_decref(batch);
    assert_int_equal(testhost_run_until(&f->th, &q[3].done, WAIT_TIMEOUT_MS),
                     0);

    assert_int_equal(q[0].status, 0);
    assert_int_equal(q[1].status, CRIER_ENOTFOUND);
    assert_null(q[1].result);
    assert_int_equal(q[2].status, 0);
    assert_int_equal(q[3].status, 0);
    for (i = 0; i < 4; i++)
        assert_int_equal(q[i].rank, i);
    json_decref(q[2].result);

    assert_int_equal(events_read_wait(f, 0, 10, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 2);
    json_decref(result);
    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 5);
    json_decref(result);
}


static void
concurrent_appends_all_commit(void **state)
{
    struct fixture *f = *state;
    struct queued *queued = calloc(LOAD_APPENDS, sizeof(*queued));
    char (*ids)[16] = calloc(LOAD_APPENDS, sizeof(*ids));
    int next_rank = 0;
    json_t *result;
    json_t *events;
    int i;

    assert_non_null(queued);
    assert_non_null(ids);
    appends_queue(f, queued, LOAD_APPENDS, &next_rank, ids);
    assert_int_equal(next_rank, 0);
    assert_int_equal(testhost_run_until(&f->th, &queued[LOAD_APPENDS - 1].done,
                                        WAIT_TIMEOUT_MS), 0);
    assert_int_equal(next_rank, LOAD_APPENDS);

    /* Callbacks come in call order, and each append accepted its event. */
    for (i = 0; i < LOAD_APPENDS; i++) {
        assert_int_equal(queued[i].rank, i);
        assert_int_equal(queued[i].status, 0);
        assert_int_equal(queued[i].accepted, 1);
    }

    /* Sequence numbers follow the call order too. */
    assert_int_equal(events_read_wait(f, 0, LOAD_APPENDS + 1, &result), 0);
    events = json_object_get(result, "events");
    assert_int_equal(json_array_size(events), LOAD_APPENDS);
    for (i = 0; i < LOAD_APPENDS; i++)
        assert_string_equal(member_str(json_array_get(events, i), "id"),
                            ids[i]);
    json_decref(result);
    free(ids);
    free(queued);
}


static void
restart_keeps_data(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec rec = event_rec("api", "e-1", "page_view", T0,
                                           "{\"type\":\"page_view\"}");
    size_t accepted;
    size_t duplicates;
    json_t *result;
    json_t *list;
    json_t *job;

    REQUIRE_DURABLE();
    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:{s:s, s:i}, s:[{s:s, s:I, s:I, s:{},"
                                  " s:[{s:s, s:s}]}]}",
                                  "cursor", "name", "pipeline", "value", 1,
                                  "profiles", "id", "p_1",
                                  "created", (json_int_t)T0,
                                  "updated", (json_int_t)T0, "attributes",
                                  "identities", "kind", "email",
                                  "value", "a@b.gov")));
    job_plan_commit(f, "k-1", "r", T0);
    json_decref(jobs_claim_at(f, T0, 1, 30000));

    store_close(f);
    assert_int_equal(store_open(f, store_config()), 0);

    assert_int_equal(events_read_wait(f, 0, 10, &result), 0);
    list = json_object_get(result, "events");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(member_str(json_array_get(list, 0), "id"), "e-1");
    json_decref(result);

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(duplicates, 1);

    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 1);
    json_decref(result);

    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "email", "value", "a@b.gov"));
    assert_int_equal(json_array_size(json_object_get(result, "profiles")), 1);
    json_decref(result);

    result = jobs_list_all(f);
    job = json_array_get(json_object_get(result, "jobs"), 0);
    assert_string_equal(member_str(job, "state"), "claimed");
    assert_int_equal(member_int(job, "generation"), 1);
    assert_int_equal(member_int(job, "lease_until"), T0 + 30000);
    json_decref(result);
}


static void
stage_history_recorded(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *rows;
    json_t *expected;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:n, s:s, s:I, s:i},"
                                  " {s:s, s:s, s:s, s:s, s:I}]}", "stages",
                                  "profile", "p_1", "program", "kids",
                                  "from", "to", "awareness",
                                  "time", (json_int_t)T0, "event_seq", 4,
                                  "profile", "p_1", "program", "kids",
                                  "from", "awareness", "to", "consideration",
                                  "time", (json_int_t)(T0 + 9))));
    store_close(f);

    database_path(f, path, sizeof(path));
    rows = sqlite_file_rows(path, "SELECT profile, program, from_stage,"
                            " to_stage, time_ms, event_seq"
                            " FROM stage_history ORDER BY id");
    expected = json_pack("[[s, s, n, s, I, i], [s, s, s, s, I, n]]",
                         "p_1", "kids", "awareness", (json_int_t)T0, 4,
                         "p_1", "kids", "awareness", "consideration",
                         (json_int_t)(T0 + 9));
    assert_true(json_equal(rows, expected));
    json_decref(expected);
    json_decref(rows);
}


static void
schema_newer_refused(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *rows;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    store_close(f);
    database_path(f, path, sizeof(path));
    rows = sqlite_file_rows(path, "SELECT version FROM schema_version");
    assert_int_equal(json_array_size(rows), 1);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows,
                                                                      0),
                                                       0)),
                     SQLITE_SCHEMA_LATEST);
    json_decref(rows);

    /* A database from a newer plugin is left alone. */
    sqlite_file_exec(path, "UPDATE schema_version SET version = 99");
    assert_int_equal(store_open(f, store_config()), CRIER_EIO);
    assert_null(f->store);
}


/* A clean stop checkpoints the WAL, so its file is empty or gone. */
static void
stop_truncates_wal(void **state)
{
    struct fixture *f = *state;
    struct queued queued[201] = { 0 };
    char ids[200][16];
    char path[PATH_MAX + 64];
    struct stat st;
    int next_rank = 0;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    appends_queue(f, queued, 200, &next_rank, ids);
    /* A read keeps the reader connection attached to the WAL, so the
     * writer is not the last connection to close. */
    queued[200].next_rank = &next_rank;
    assert_int_equal(f->ops->cursor_get(f->store, "pipeline",
                                        queued_json_done, &queued[200]), 0);
    database_path(f, path, sizeof(path));
    strcat(path, "-wal");
    store_close(f);
    assert_int_equal(next_rank, 201);
    json_decref(queued[200].result);
    if (stat(path, &st) == 0)
        assert_int_equal(st.st_size, 0);
}


static void
append_fails_while_locked(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec rec = event_rec("api", "e-1", "t", T0, "{}");
    char path[PATH_MAX + 64];
    json_t *config;
    size_t accepted;
    size_t duplicates;
    json_t *result;
    void *lock;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    config = store_config();
    json_object_set_new(config, "busy_timeout_ms", json_integer(0));
    assert_int_equal(store_open(f, config), 0);
    database_path(f, path, sizeof(path));

    /* Another process holds the write lock, so the transaction cannot
     * begin and the append fails as a whole. */
    lock = sqlite_file_lock(path);
    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates),
                     CRIER_EBUSY);
    assert_int_equal(accepted, 0);
    sqlite_file_unlock(lock);

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(events_read_wait(f, 0, 10, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 1);
    json_decref(result);
}


/* The error lines that the store logged, one "msg fields\n" each. */
static char error_lines[1024];


static void
error_log_capture(struct crier_ctx *ctx, enum crier_log_level level,
                  const char *msg, const char *fields_fmt, ...)
{
    size_t used = strlen(error_lines);
    va_list ap;

    if (level != CRIER_LOG_ERROR)
        return;
    snprintf(error_lines + used, sizeof(error_lines) - used, "%s ", msg);
    used = strlen(error_lines);
    va_start(ap, fields_fmt);
    vsnprintf(error_lines + used, sizeof(error_lines) - used, fields_fmt,
              ap);
    va_end(ap);
    used = strlen(error_lines);
    snprintf(error_lines + used, sizeof(error_lines) - used, "\n");
}


/* Runs init and start of a second instance; returns start's code. On
 * success *store is the running instance, else it has been destroyed. */
static int
second_store_open(struct fixture *f, void **store)
{
    const struct crier_plugin *plugin = store_plugin.plugin;
    json_t *config = store_config();
    int rc;

    *store = NULL;
    rc = plugin->init(testhost_ctx(&f->th), &f->th.host, config, store);
    json_decref(config);
    assert_int_equal(rc, 0);
    rc = plugin->start(*store);
    if (rc < 0) {
        plugin->destroy(*store);
        *store = NULL;
    }
    return rc;
}


static void
second_store_close(struct fixture *f, void *store)
{
    int stopped = 0;

    store_plugin.plugin->stop(store, stop_done_flag, &stopped);
    assert_int_equal(testhost_run_until(&f->th, &stopped, WAIT_TIMEOUT_MS),
                     0);
    store_plugin.plugin->destroy(store);
}


/* A second instance on the same database fails to start while the first
 * runs, because two would each run a pipeline and an outbox over the same
 * jobs. It starts once the first has stopped. */
static void
second_process_rejected(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    char expected[2 * PATH_MAX + 256];
    void *second;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    database_path(f, path, sizeof(path));
    error_lines[0] = '\0';
    f->th.host.log = error_log_capture;

    assert_int_equal(second_store_open(f, &second), CRIER_EBUSY);
    assert_null(second);
    snprintf(expected, sizeof(expected), "another crier process uses %s; "
             "stop it or point this one at another database lock=%s.lock\n",
             path, path);
    assert_string_equal(error_lines, expected);

    /* The running store still works. */
    json_decref(jobs_list_all(f));

    store_close(f);
    assert_int_equal(second_store_open(f, &second), 0);
    assert_non_null(second);
    f->store = second;
    json_decref(jobs_list_all(f));

    /* And the lock is free again once the second has stopped. */
    second_store_close(f, second);
    f->store = NULL;
    assert_int_equal(store_open(f, store_config()), 0);
    assert_string_equal(error_lines, expected);
}


/* A fresh store was found at version 0 and migrated to the latest; a
 * reopened one finds the latest and applies nothing. */
static void
schema_status_reports_versions(void **state)
{
    struct fixture *f = *state;
    json_t *result = json_ok(f, f->ops->schema_status, json_object());
    int64_t latest = member_int(result, "latest");

    assert_string_equal(member_str(result, "store"),
                        store_plugin.plugin->name);
    assert_int_equal(member_int(result, "found"), 0);
    assert_int_equal(member_int(result, "version"), latest);
    if (store_durable())
        assert_true(latest > 0);
    json_decref(result);

    if (!store_durable())
        return;
    store_close(f);
    assert_int_equal(store_open(f, store_config()), 0);
    result = json_ok(f, f->ops->schema_status, json_object());
    assert_int_equal(member_int(result, "found"), latest);
    assert_int_equal(member_int(result, "version"), latest);
    json_decref(result);
}


/* Initializes a store without starting it, as `crier migrate --status`
 * does, and returns its state. */
static void *
store_init_only(struct fixture *f)
{
    void *store = NULL;
    json_t *config = store_config();

    assert_int_equal(store_plugin.plugin->init(testhost_ctx(&f->th),
                                               &f->th.host, config, &store),
                     0);
    json_decref(config);
    return store;
}


/* Before start, schema_status reads the stored version and lists the
 * pending migrations without creating or changing the database. */
static void
schema_status_before_start(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *result;
    int64_t latest;
    int rc;

    f->store = store_init_only(f);
    rc = json_wait(f, f->ops->schema_status, json_object(), &result);
    store_plugin.plugin->destroy(f->store);
    f->store = NULL;
    if (!store_durable()) {
        assert_int_equal(rc, CRIER_ECLOSED);
        return;
    }
    assert_int_equal(rc, 0);
    latest = member_int(result, "latest");
    assert_true(latest > 0);
    assert_int_equal(member_int(result, "version"), 0);
    assert_int_equal(member_int(result, "found"), 0);
    assert_int_equal(json_array_size(json_object_get(result, "pending")),
                     latest);
    assert_int_equal(member_int(json_array_get(json_object_get(
        result, "pending"), 0), "version"), 1);
    assert_non_null(member_str(json_array_get(json_object_get(
        result, "pending"), latest - 1), "title"));
    json_decref(result);
    snprintf(path, sizeof(path), "%s/data", f->folder);
    if (store_has_file())
        assert_int_equal(access(path, F_OK), -1);

    /* Once a start has migrated, nothing is pending. */
    assert_int_equal(store_open(f, store_config()), 0);
    store_close(f);
    f->store = store_init_only(f);
    result = json_ok(f, f->ops->schema_status, json_object());
    store_plugin.plugin->destroy(f->store);
    f->store = NULL;
    assert_int_equal(member_int(result, "version"), latest);
    assert_int_equal(json_array_size(json_object_get(result, "pending")), 0);
    json_decref(result);
}


const struct CMUnitTest lifecycle_tests[] = {
    BARE_CASE(config_rejects_unknown_setting),
    BARE_CASE(config_requires_path),
    BARE_CASE(config_cache_mb_applies),
    BARE_CASE(config_rejects_bad_values),
    CASE(start_creates_parent_folders),
    CASE(operations_after_stop_closed),
    CASE(stop_finishes_queued_work),
    CASE(failed_request_leaves_others),
    CASE(concurrent_appends_all_commit),
    CASE(restart_keeps_data),
    CASE(stage_history_recorded),
    CASE(schema_newer_refused),
    CASE(stop_truncates_wal),
    BARE_CASE(append_fails_while_locked),
    CASE(second_process_rejected),
    CASE(schema_status_reports_versions),
    BARE_CASE(schema_status_before_start)
};

const size_t lifecycle_test_count =
    sizeof(lifecycle_tests) / sizeof(lifecycle_tests[0]);
