/* pause_set, pauses_read, audit_append, audit_list and backup. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS
#define LEASE 30000


/* Commits one planned job on `channel` of `program` (NULL for none). */
static void
plan_on(struct fixture *f, const char *key, const char *channel,
        const char *program)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s?, s:s, s:s, s:I}]}",
                                  "jobs", "key", key, "rule", "r",
                                  "program", program, "channel", channel,
                                  "template", "t", "due", (json_int_t)T0)));
}


/* Pauses (paused 1) or resumes a scope and returns "changed". */
static int
pause_set(struct fixture *f, const char *scope, const char *name,
          int paused)
{
    json_t *result = json_ok(f, f->ops->pause_set,
                             json_pack("{s:s, s:s?, s:b, s:I, s:s}",
                                       "scope", scope, "name", name,
                                       "paused", paused, "time",
                                       (json_int_t)T0, "by", "sha256:ab"));
    int changed = json_is_true(json_object_get(result, "changed"));

    json_decref(result);
    return changed;
}


/* Claims at T0 and returns the keys of the claimed jobs, joined by ",". */
static void
claimed_keys(struct fixture *f, char *out, size_t size)
{
    json_t *jobs = jobs_claim_at(f, T0, 10, LEASE);
    size_t i;
    json_t *job;

    out[0] = '\0';
    json_array_foreach(jobs, i, job) {
        if (i > 0)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, member_str(job, "key"), size - strlen(out) - 1);
    }
    json_decref(jobs);
}


static void
pause_channel_holds_claims(void **state)
{
    struct fixture *f = *state;
    char keys[64];

    plan_on(f, "mail", "email", NULL);
    plan_on(f, "text", "sms", NULL);
    assert_true(pause_set(f, "channel", "email", 1));
    claimed_keys(f, keys, sizeof(keys));
    assert_string_equal(keys, "text");

    assert_true(pause_set(f, "channel", "email", 0));
    claimed_keys(f, keys, sizeof(keys));
    assert_string_equal(keys, "mail");
}


static void
pause_program_and_all(void **state)
{
    struct fixture *f = *state;
    char keys[64];

    plan_on(f, "in", "email", "benefits");
    plan_on(f, "out", "email", NULL);
    assert_true(pause_set(f, "program", "benefits", 1));
    assert_true(pause_set(f, "all", NULL, 1));
    claimed_keys(f, keys, sizeof(keys));
    assert_string_equal(keys, "");

    assert_true(pause_set(f, "all", NULL, 0));
    claimed_keys(f, keys, sizeof(keys));
    assert_string_equal(keys, "out");
}


static void
pause_covers_expired_leases(void **state)
{
    struct fixture *f = *state;
    json_t *jobs;
    char keys[64];

    plan_on(f, "a", "email", NULL);
    jobs = jobs_claim_at(f, T0, 10, 10);
    assert_int_equal(json_array_size(jobs), 1);
    json_decref(jobs);
    assert_true(pause_set(f, "channel", "email", 1));
    /* The lease ended at T0 + 10, but the pause keeps the job. */
    jobs = jobs_claim_at(f, T0 + 1000, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);
    assert_true(pause_set(f, "channel", "email", 0));
    claimed_keys(f, keys, sizeof(keys));
    assert_string_equal(keys, "");
    jobs = jobs_claim_at(f, T0 + 1000, 10, LEASE);
    assert_int_equal(json_array_size(jobs), 1);
    json_decref(jobs);
}


static void
pause_set_reports_changes(void **state)
{
    struct fixture *f = *state;
    json_t *result, *pauses;

    assert_true(pause_set(f, "channel", "sms", 1));
    assert_false(pause_set(f, "channel", "sms", 1));
    assert_true(pause_set(f, "all", NULL, 1));
    assert_false(pause_set(f, "program", "none", 0));

    result = json_ok(f, f->ops->pauses_read, json_object());
    pauses = json_object_get(result, "pauses");
    assert_int_equal(json_array_size(pauses), 2);
    assert_string_equal(member_str(json_array_get(pauses, 0), "scope"),
                        "all");
    assert_string_equal(member_str(json_array_get(pauses, 0), "name"), "");
    assert_string_equal(member_str(json_array_get(pauses, 1), "name"),
                        "sms");
    assert_int_equal(member_int(json_array_get(pauses, 1), "since"), T0);
    assert_string_equal(member_str(json_array_get(pauses, 1), "by"),
                        "sha256:ab");
    json_decref(result);
}


static void
pause_set_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->pause_set,
                               json_pack("{s:s, s:s, s:b, s:I}", "scope",
                                         "rule", "name", "x", "paused", 1,
                                         "time", (json_int_t)T0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pause_set,
                               json_pack("{s:s, s:b, s:I}", "scope",
                                         "channel", "paused", 1, "time",
                                         (json_int_t)T0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pause_set,
                               json_pack("{s:s, s:s, s:b, s:I}", "scope",
                                         "all", "name", "x", "paused", 1,
                                         "time", (json_int_t)T0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->pause_set,
                               json_pack("{s:s, s:I}", "scope", "all",
                                         "time", (json_int_t)T0), &result),
                     CRIER_EINVAL);
}


static void
pause_survives_restart(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    if (!store_durable())
        skip();
    assert_true(pause_set(f, "channel", "email", 1));
    store_close(f);
    assert_int_equal(store_open(f, store_config()), 0);
    result = json_ok(f, f->ops->pauses_read, json_object());
    assert_int_equal(json_array_size(json_object_get(result, "pauses")), 1);
    json_decref(result);
}


static void
audit_append_one(struct fixture *f, int64_t time, const char *token,
                 const char *action, int result)
{
    json_decref(json_ok(f, f->ops->audit_append,
                        json_pack("{s:I, s:s, s:s, s:s, s:i}", "time",
                                  (json_int_t)time, "token", token,
                                  "action", action, "target", "/v1/x",
                                  "result", result)));
}


static void
audit_lists_newest_first(void **state)
{
    struct fixture *f = *state;
    json_t *result, *entries;

    audit_append_one(f, T0, "sha256:aa", "pause", 200);
    audit_append_one(f, T0 + 1, "sha256:bb", "resume", 200);
    audit_append_one(f, T0 + 2, "sha256:aa", "profile.erase", 404);

    result = json_ok(f, f->ops->audit_list, json_pack("{s:i}", "limit", 2));
    entries = json_object_get(result, "entries");
    assert_int_equal(json_array_size(entries), 2);
    assert_string_equal(member_str(json_array_get(entries, 0), "action"),
                        "profile.erase");
    assert_int_equal(member_int(json_array_get(entries, 0), "result"), 404);
    assert_string_equal(member_str(json_array_get(entries, 0), "target"),
                        "/v1/x");
    assert_int_equal(member_int(json_array_get(entries, 1), "time"), T0 + 1);
    assert_int_equal(member_int(result, "next"),
                     member_int(json_array_get(entries, 1), "id"));
    json_decref(result);

    result = json_ok(f, f->ops->audit_list,
                     json_pack("{s:i, s:I}", "limit", 2, "before",
                               (json_int_t)2));
    entries = json_object_get(result, "entries");
    assert_int_equal(json_array_size(entries), 1);
    assert_string_equal(member_str(json_array_get(entries, 0), "action"),
                        "pause");
    assert_true(json_is_null(json_object_get(result, "next")));
    json_decref(result);
}


static void
audit_filters_token_action_time(void **state)
{
    struct fixture *f = *state;
    json_t *result, *entries;

    audit_append_one(f, T0, "sha256:aa", "pause", 200);
    audit_append_one(f, T0 + 10, "sha256:bb", "pause", 200);
    audit_append_one(f, T0 + 20, "sha256:aa", "resume", 200);

    result = json_ok(f, f->ops->audit_list,
                     json_pack("{s:s}", "token", "sha256:aa"));
    assert_int_equal(json_array_size(json_object_get(result, "entries")), 2);
    json_decref(result);

    result = json_ok(f, f->ops->audit_list,
                     json_pack("{s:s}", "action", "pause"));
    assert_int_equal(json_array_size(json_object_get(result, "entries")), 2);
    json_decref(result);

    result = json_ok(f, f->ops->audit_list,
                     json_pack("{s:I, s:I}", "since", (json_int_t)(T0 + 10),
                               "until", (json_int_t)(T0 + 20)));
    entries = json_object_get(result, "entries");
    assert_int_equal(json_array_size(entries), 1);
    assert_string_equal(member_str(json_array_get(entries, 0), "token"),
                        "sha256:bb");
    json_decref(result);

    assert_int_equal(json_wait(f, f->ops->audit_list,
                               json_pack("{s:i}", "limit", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->audit_append,
                               json_pack("{s:s}", "token", "x"), &result),
                     CRIER_EINVAL);
}


static void
backup_copies_the_store(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 16];
    json_t *result, *rows;

    snprintf(path, sizeof(path), "%s/copy.db", f->folder);
    if (!store_has_file()) {
        assert_int_equal(json_wait(f, f->ops->backup,
                                   json_pack("{s:s}", "path", path),
                                   &result), CRIER_ENOTSUP);
        return;
    }
    plan_on(f, "kept", "email", NULL);
    result = json_ok(f, f->ops->backup, json_pack("{s:s}", "path", path));
    assert_string_equal(member_str(result, "path"), path);
    assert_true(member_int(result, "pages") > 0);
    json_decref(result);

    rows = sqlite_file_rows(path, "SELECT key FROM jobs");
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_array_get(
                            json_array_get(rows, 0), 0)), "kept");
    json_decref(rows);
    rows = sqlite_file_rows(path, "PRAGMA integrity_check");
    assert_string_equal(json_string_value(json_array_get(
                            json_array_get(rows, 0), 0)), "ok");
    json_decref(rows);

    /* An existing file is never overwritten. */
    assert_int_equal(json_wait(f, f->ops->backup,
                               json_pack("{s:s}", "path", path), &result),
                     CRIER_EEXIST);
}


const struct CMUnitTest control_tests[] = {
    CASE(pause_channel_holds_claims),
    CASE(pause_program_and_all),
    CASE(pause_covers_expired_leases),
    CASE(pause_set_reports_changes),
    CASE(pause_set_rejects_invalid),
    CASE(pause_survives_restart),
    CASE(audit_lists_newest_first),
    CASE(audit_filters_token_action_time),
    CASE(backup_copies_the_store),
};
const size_t control_test_count = sizeof(control_tests) /
                                  sizeof(control_tests[0]);
