/*
 * Job updates queued together, as the outbox queues them during a send:
 * each gets its own callback, and on SQLite, where they share one
 * transaction, a request that fails after writing is undone alone.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_file.h"
#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE 30000
#define JOBS 6
/* More rules than the SQLite writer sums at once (REPORT_SUMS_MAX). */
#define MANY_RULES 20
#define MANY_JOBS (2 * MANY_RULES)

/* The callback status of one queued request. */
struct outcome {
    int done;
    int status;
};


static void
recorded(void *arg, int status, json_t *result)
{
    struct outcome *a = arg;

    a->done = 1;
    a->status = status;
}


/* Queues a job_update without waiting for it. */
static void
update_queue(struct fixture *f, json_t *update, struct outcome *a)
{
    assert_non_null(update);
    assert_int_equal(f->ops->job_update(f->store, update, recorded, a), 0);
    json_decref(update);
}


static json_t *
sending(int64_t id)
{
    return json_pack("{s:I, s:i, s:s, s:I, s:s}", "id", (json_int_t)id,
                     "generation", 1, "state", "sending", "now",
                     (json_int_t)(T0 + 1), "message_id", "<m@crier>");
}


static json_t *
sent(int64_t id)
{
    return json_pack("{s:I, s:i, s:s, s:I, s:s, s:{s:I, s:s, s:s}}",
                     "id", (json_int_t)id, "generation", 1, "state", "sent",
                     "now", (json_int_t)(T0 + 2), "provider_id", "Q1",
                     "attempt", "time", (json_int_t)(T0 + 2),
                     "outcome", "sent", "reply", "250 ok");
}


/* Runs the loop until every request of `outcomes` has called back. */
static void
outcomes_wait(struct fixture *f, struct outcome *outcomes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(testhost_run_until(&f->th, &outcomes[i].done,
                                            WAIT_TIMEOUT_MS), 0);
}


/* Plans and claims `n` jobs, and stores their ids in `ids`. Job i has
 * rule "notice-<i % rules>", or "notice" when `rules` is 0. */
static void
jobs_claimed_of(struct fixture *f, int64_t *ids, int n, int rules)
{
    char key[16];
    char rule[32];
    json_t *jobs;

    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "job-%d", i);
        if (rules > 0)
            snprintf(rule, sizeof(rule), "notice-%d", i % rules);
        else
            snprintf(rule, sizeof(rule), "notice");
        job_plan_commit(f, key, rule, T0);
    }
    jobs = jobs_claim_at(f, T0, n, LEASE);
    assert_int_equal(json_array_size(jobs), (size_t)n);
    for (int i = 0; i < n; i++)
        ids[i] = member_int(json_array_get(jobs, i), "id");
    json_decref(jobs);
}


/* Plans and claims JOBS jobs of rule "notice". */
static void
jobs_claimed(struct fixture *f, int64_t *ids)
{
    jobs_claimed_of(f, ids, JOBS, 0);
}


/* Returns the report's count of sent jobs of `rule` on the day of T0. */
static int64_t
sent_count(struct fixture *f, const char *rule)
{
    json_t *report = json_ok(f, f->ops->report_read,
                             json_pack("{s:I, s:I}", "since", (json_int_t)T0,
                                       "until", (json_int_t)(T0 + 1)));
    json_t *rows = json_object_get(report, "messages");
    int64_t count = 0;
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row) {
        if (strcmp(member_str(row, "rule"), rule) == 0
            && strcmp(member_str(row, "metric"), "sent") == 0)
            count += member_int(row, "count");
    }
    json_decref(report);
    return count;
}


/* Returns the state of job `id` as jobs_list gives it. */
static char *
state_of(struct fixture *f, int64_t id)
{
    json_t *list = jobs_list_all(f);
    json_t *jobs = json_object_get(list, "jobs");
    char *state = NULL;

    for (size_t i = 0; i < json_array_size(jobs); i++)
        if (member_int(json_array_get(jobs, i), "id") == id)
            state = strdup(member_str(json_array_get(jobs, i), "state"));
    json_decref(list);
    assert_non_null(state);
    return state;
}


static void
state_check(struct fixture *f, int64_t id, const char *expected)
{
    char *state = state_of(f, id);

    assert_string_equal(state, expected);
    free(state);
}


static void
updates_queued_together(void **state)
{
    struct fixture *f = *state;
    struct outcome outcomes[JOBS] = { { 0 } };
    int64_t ids[JOBS];

    jobs_claimed(f, ids);
    for (int i = 0; i < JOBS; i++)
        update_queue(f, sending(ids[i]), &outcomes[i]);
    outcomes_wait(f, outcomes, JOBS);
    memset(outcomes, 0, sizeof(outcomes));
    for (int i = 0; i < JOBS; i++)
        update_queue(f, sent(ids[i]), &outcomes[i]);
    outcomes_wait(f, outcomes, JOBS);
    for (int i = 0; i < JOBS; i++) {
        assert_int_equal(outcomes[i].status, 0);
        state_check(f, ids[i], "sent");
    }
    assert_int_equal(sent_count(f, "notice"), JOBS);
}


/*
 * Holds the database's write lock while one update waits for it, queues
 * the others behind it so that the writer takes them as one group, and
 * makes the attempt of job 3 fail after its row was written.
 */
static void
failed_update_undone_alone(void **state)
{
    struct fixture *f = *state;
    struct outcome outcomes[JOBS] = { { 0 } };
    char path[PATH_MAX + 64];
    char sql[256];
    int64_t ids[JOBS];
    void *lock;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    jobs_claimed(f, ids);
    for (int i = 0; i < JOBS; i++) {
        update_queue(f, sending(ids[i]), &outcomes[i]);
        outcomes_wait(f, &outcomes[i], 1);
    }
    memset(outcomes, 0, sizeof(outcomes));
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    snprintf(sql, sizeof(sql), "CREATE TRIGGER attempt_refused BEFORE"
             " INSERT ON job_attempts WHEN NEW.job = %lld BEGIN"
             " SELECT RAISE(ABORT, 'refused by the test'); END",
             (long long)ids[3]);
    sqlite_file_exec(path, sql);

    lock = sqlite_file_lock(path);
    update_queue(f, sent(ids[0]), &outcomes[0]);
    usleep(200 * 1000);         /* the writer takes it and waits */
    for (int i = 1; i < JOBS; i++)
        update_queue(f, sent(ids[i]), &outcomes[i]);
    sqlite_file_unlock(lock);
    outcomes_wait(f, outcomes, JOBS);

    for (int i = 0; i < JOBS; i++) {
        if (i == 3) {
            assert_true(outcomes[i].status < 0);
            state_check(f, ids[i], "sending");
        } else {
            assert_int_equal(outcomes[i].status, 0);
            state_check(f, ids[i], "sent");
        }
    }
    /* The group's first run, undone when job 3 failed, added nothing. */
    assert_int_equal(sent_count(f, "notice"), JOBS - 1);
}


/*
 * Makes the counter of one rule fail when the writer writes a group's
 * sums. The group is undone and each update runs again alone, so only
 * the updates that add to that counter fail.
 */
static void
failed_counter_fails_its_updates(void **state)
{
    struct fixture *f = *state;
    struct outcome outcomes[JOBS] = { { 0 } };
    char path[PATH_MAX + 64];
    int64_t ids[JOBS];
    void *lock;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    jobs_claimed_of(f, ids, JOBS, 3);
    for (int i = 0; i < JOBS; i++) {
        update_queue(f, sending(ids[i]), &outcomes[i]);
        outcomes_wait(f, &outcomes[i], 1);
    }
    memset(outcomes, 0, sizeof(outcomes));
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    sqlite_file_exec(path, "CREATE TRIGGER counter_refused BEFORE INSERT"
                     " ON report_messages WHEN NEW.rule = 'notice-1'"
                     " BEGIN SELECT RAISE(ABORT, 'refused by the test');"
                     " END");

    lock = sqlite_file_lock(path);
    update_queue(f, sent(ids[0]), &outcomes[0]);
    usleep(200 * 1000);         /* the writer takes it and waits */
    for (int i = 1; i < JOBS; i++)
        update_queue(f, sent(ids[i]), &outcomes[i]);
    sqlite_file_unlock(lock);
    outcomes_wait(f, outcomes, JOBS);

    for (int i = 0; i < JOBS; i++) {
        if (i % 3 == 1) {
            assert_true(outcomes[i].status < 0);
            state_check(f, ids[i], "sending");
        } else {
            assert_int_equal(outcomes[i].status, 0);
            state_check(f, ids[i], "sent");
        }
    }
    assert_int_equal(sent_count(f, "notice-0"), JOBS / 3);
    assert_int_equal(sent_count(f, "notice-1"), 0);
    assert_int_equal(sent_count(f, "notice-2"), JOBS / 3);
}


/*
 * Holds the write lock while the writer waits with one update, so that
 * the others join its group. The group counts more distinct counters
 * than the writer sums in memory at once.
 */
static void
counters_of_many_rules_in_one_group(void **state)
{
    struct fixture *f = *state;
    struct outcome outcomes[MANY_JOBS] = { { 0 } };
    char path[PATH_MAX + 64];
    char rule[32];
    int64_t ids[MANY_JOBS];
    void *lock;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    jobs_claimed_of(f, ids, MANY_JOBS, MANY_RULES);
    for (int i = 0; i < MANY_JOBS; i++) {
        update_queue(f, sending(ids[i]), &outcomes[i]);
        outcomes_wait(f, &outcomes[i], 1);
    }
    memset(outcomes, 0, sizeof(outcomes));
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);

    lock = sqlite_file_lock(path);
    update_queue(f, sent(ids[0]), &outcomes[0]);
    usleep(200 * 1000);         /* the writer takes it and waits */
    for (int i = 1; i < MANY_JOBS; i++)
        update_queue(f, sent(ids[i]), &outcomes[i]);
    sqlite_file_unlock(lock);
    outcomes_wait(f, outcomes, MANY_JOBS);

    for (int i = 0; i < MANY_JOBS; i++)
        assert_int_equal(outcomes[i].status, 0);
    for (int i = 0; i < MANY_RULES; i++) {
        snprintf(rule, sizeof(rule), "notice-%d", i);
        assert_int_equal(sent_count(f, rule), MANY_JOBS / MANY_RULES);
    }
}


const struct CMUnitTest group_tests[] = {
    CASE(updates_queued_together),
    CASE(failed_update_undone_alone),
    CASE(failed_counter_fails_its_updates),
    CASE(counters_of_many_rules_in_one_group)
};

const size_t group_test_count = sizeof(group_tests) / sizeof(group_tests[0]);
