/* Per-case setup and the helpers that wait for store callbacks. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"

/* One pending call, which the callback fills in. */
struct wait {
    int in_call;
    int reentered;
    int done;
    int status;
    json_t *result;
    size_t accepted;
    size_t duplicates;
};


/* The PostgreSQL schema of the current case, named after its folder, so
 * that every case starts on empty tables and a reopened store finds its
 * own data. */
static char case_schema[64];


/*
 * Returns the URL of the test server: $CRIER_TEST_PG_URL, or the url
 * file that scripts/pg-test-server wrote in $CRIER_TEST_PG_STATE.
 */
static const char *
postgres_url(void)
{
    static char url[256];
    const char *state = getenv("CRIER_TEST_PG_STATE");
    char path[PATH_MAX];
    FILE *file;

    if (getenv("CRIER_TEST_PG_URL") != NULL)
        return getenv("CRIER_TEST_PG_URL");
    if (state == NULL)
        return NULL;
    snprintf(path, sizeof(path), "%s/url", state);
    file = fopen(path, "r");
    if (file == NULL)
        return NULL;
    if (fgets(url, sizeof(url), file) == NULL)
        url[0] = '\0';
    fclose(file);
    url[strcspn(url, "\n")] = '\0';
    return url[0] != '\0' ? url : NULL;
}


int
store_durable(void)
{
    return strcmp(store_plugin.plugin->name, "memory") != 0;
}


int
store_shared(void)
{
    return strcmp(store_plugin.plugin->name, "postgres") == 0;
}


int
store_has_file(void)
{
    return strcmp(store_plugin.plugin->name, "sqlite") == 0;
}


json_t *
store_config(void)
{
    if (strcmp(store_plugin.plugin->name, "sqlite") == 0)
        return json_pack("{s:s, s:s}", "plugin", "sqlite",
                         "path", "data/nested/crier.db");
    if (strcmp(store_plugin.plugin->name, "postgres") == 0)
        return json_pack("{s:s, s:s?, s:s, s:i}", "plugin", "postgres",
                         "url", postgres_url(), "schema", case_schema,
                         "connections", 2);
    return json_pack("{s:s}", "plugin", store_plugin.plugin->name);
}


static int
folder_make(char *folder, size_t size)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(folder, size, "%s/crier-store-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    return mkdtemp(folder) != NULL ? 0 : -1;
}


static int
entry_remove(const char *path, const struct stat *sb, int flag,
             struct FTW *ftw)
{
    return remove(path);
}


int
fixture_setup_bare(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(folder_make(f->folder, sizeof(f->folder)), 0);
    snprintf(case_schema, sizeof(case_schema), "case_%s",
             strrchr(f->folder, '-') + 1);
    assert_int_equal(testhost_init(&f->th, "store", f->folder), 0);
    f->ops = store_plugin.plugin->ops;
    *state = f;
    return 0;
}


int
fixture_setup(void **state)
{
    struct fixture *f;

    fixture_setup_bare(state);
    f = *state;
    assert_int_equal(store_open(f, store_config()), 0);
    return 0;
}


int
fixture_teardown(void **state)
{
    struct fixture *f = *state;

    if (f->store != NULL)
        store_close(f);
    assert_int_equal(testhost_close(&f->th), 0);
    nftw(f->folder, entry_remove, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}


int
store_open(struct fixture *f, json_t *config)
{
    const struct crier_plugin *plugin = store_plugin.plugin;
    void *store = NULL;
    int rc;

    assert_non_null(config);
    rc = plugin->init(testhost_ctx(&f->th), &f->th.host, config, &store);
    json_decref(config);
    if (rc < 0)
        return rc;
    rc = plugin->start(store);
    if (rc < 0) {
        plugin->destroy(store);
        return rc;
    }
    f->store = store;
    return 0;
}


static void
stop_done(void *arg)
{
    *(int *)arg = 1;
}


void
store_stop(struct fixture *f)
{
    int stopped = 0;

    store_plugin.plugin->stop(f->store, stop_done, &stopped);
    assert_int_equal(testhost_run_until(&f->th, &stopped, WAIT_TIMEOUT_MS),
                     0);
}


void
store_close(struct fixture *f)
{
    store_stop(f);
    store_plugin.plugin->destroy(f->store);
    f->store = NULL;
}


struct crier_event_rec
event_rec(const char *source, const char *id, const char *type,
          int64_t time_ms, const char *json)
{
    struct crier_event_rec rec = {
        .source = source,
        .id = id,
        .type = type,
        .time_ms = time_ms,
        .received_ms = time_ms + 5,
        .json = json,
        .json_len = strlen(json)
    };

    return rec;
}


static void
append_done(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct wait *w = arg;

    w->reentered |= w->in_call;
    w->done = 1;
    w->status = status;
    w->accepted = accepted;
    w->duplicates = duplicates;
}


static void
json_done(void *arg, int status, json_t *result)
{
    struct wait *w = arg;

    w->reentered |= w->in_call;
    w->done = 1;
    w->status = status;
    w->result = json_incref(result);
}


/*
 * Finishes a call that returned `rc`. A rejected call must never call
 * back, and an accepted one must call back once, later, from the loop.
 */
static int
wait_finish(struct fixture *f, struct wait *w, int rc)
{
    w->in_call = 0;
    if (rc < 0) {
        uv_run(&f->th.loop, UV_RUN_NOWAIT);
        assert_false(w->done);
        return rc;
    }
    assert_false(w->done);
    assert_int_equal(testhost_run_until(&f->th, &w->done, WAIT_TIMEOUT_MS),
                     0);
    assert_false(w->reentered);
    return w->status;
}


int
append_wait(struct fixture *f, const struct crier_event_rec *events,
            size_t n, size_t *accepted, size_t *duplicates)
{
    struct wait w = { .in_call = 1 };
    int rc;

    rc = f->ops->append(f->store, events, n, append_done, &w);
    rc = wait_finish(f, &w, rc);
    *accepted = w.accepted;
    *duplicates = w.duplicates;
    return rc;
}


int
events_read_wait(struct fixture *f, int64_t after_seq, size_t limit,
                 json_t **result)
{
    struct wait w = { .in_call = 1 };
    int rc;

    rc = f->ops->events_read(f->store, after_seq, limit, json_done, &w);
    rc = wait_finish(f, &w, rc);
    *result = w.result;
    return rc;
}


int
cursor_get_wait(struct fixture *f, const char *name, json_t **result)
{
    struct wait w = { .in_call = 1 };
    int rc;

    rc = f->ops->cursor_get(f->store, name, json_done, &w);
    rc = wait_finish(f, &w, rc);
    *result = w.result;
    return rc;
}


int
json_wait(struct fixture *f, store_json_fn op, json_t *request,
          json_t **result)
{
    struct wait w = { .in_call = 1 };
    int rc;

    assert_non_null(request);
    rc = op(f->store, request, json_done, &w);
    json_decref(request);
    rc = wait_finish(f, &w, rc);
    if (rc == 0)
        assert_non_null(w.result);
    else
        assert_null(w.result);
    *result = w.result;
    return rc;
}


json_t *
json_ok(struct fixture *f, store_json_fn op, json_t *request)
{
    json_t *result;

    assert_int_equal(json_wait(f, op, request, &result), 0);
    return result;
}


int64_t
member_int(const json_t *object, const char *key)
{
    json_t *value = json_object_get(object, key);

    assert_true(json_is_integer(value));
    return json_integer_value(value);
}


const char *
member_str(const json_t *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}


void
job_plan_commit(struct fixture *f, const char *key, const char *rule,
                int64_t due)
{
    json_t *result;

    result = json_ok(f, f->ops->commit,
                     json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                               " s:I}]}",
                               "jobs", "key", key, "rule", rule,
                               "program", "child-safety",
                               "profile", "p_1", "channel", "email",
                               "template", "crib-safety", "to", "a@b.gov",
                               "due", (json_int_t)due));
    json_decref(result);
}


json_t *
jobs_claim_at(struct fixture *f, int64_t now, int limit, int64_t lease_ms)
{
    json_t *result;
    json_t *jobs;

    result = json_ok(f, f->ops->jobs_claim,
                     json_pack("{s:I, s:i, s:I, s:s}", "now", (json_int_t)now,
                               "limit", limit, "lease_ms",
                               (json_int_t)lease_ms, "owner", "node-1"));
    jobs = json_incref(json_object_get(result, "jobs"));
    json_decref(result);
    assert_true(json_is_array(jobs));
    return jobs;
}


json_t *
jobs_list_all(struct fixture *f)
{
    return json_ok(f, f->ops->jobs_list, json_pack("{s:i}", "limit", 1000));
}
