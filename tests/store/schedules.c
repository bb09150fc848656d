/* Schedule plans: written by commit batches, claimed under a lease,
 * advanced with their events, and removed by merges and erasure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define DAY (86400LL * 1000)


/* Formats into a new string of at most 1 KiB. */
static char *
text_format(const char *fmt, ...)
{
    char *text = malloc(1024);
    va_list args;

    assert_non_null(text);
    va_start(args, fmt);
    assert_true(vsnprintf(text, 1024, fmt, args) < 1024);
    va_end(args);
    return text;
}


/* Commits a profile with the plan rows given as JSON text. */
static void
plan_commit(struct fixture *f, const char *profile, const char *rows)
{
    json_t *parsed = json_loads(rows, 0, NULL);
    json_t *batch;

    assert_non_null(parsed);
    batch = json_pack("{s:[{s:s,s:I,s:I,s:{}}],s:[{s:s,s:s,s:o}]}",
                      "profiles", "id", profile, "created", (json_int_t) T0,
                      "updated", (json_int_t) T0, "attributes",
                      "schedules", "source", "dates", "profile", profile,
                      "rows", parsed);
    json_decref(json_ok(f, f->ops->commit, batch));
}


/* A row of `schedule` for `record` based on `basis`, due at `due`. */
static char *
row_text(const char *schedule, const char *record, const char *basis,
         int64_t due, const char *occurrence)
{
    return text_format("{\"schedule\": \"%s\", \"record\": \"%s\","
                       " \"basis\": \"%s\", \"date\": \"2025-06-01\","
                       " \"zone\": \"UTC\", \"occurrence\": \"%s\","
                       " \"due\": %lld}", schedule, record, basis,
                       occurrence, (long long) due);
}


static json_t *
claim(struct fixture *f, int64_t now, int limit)
{
    json_t *result = json_ok(f, f->ops->schedules_claim,
                             json_pack("{s:s,s:I,s:i,s:i}", "source",
                                       "dates", "now", (json_int_t) now,
                                       "limit", limit, "lease_ms", 60000));
    json_t *rows = json_incref(json_object_get(result, "rows"));

    json_decref(result);
    assert_non_null(rows);
    return rows;
}


/* Advances one row to `next` at `due`, or to done when `next` is NULL,
 * with one event. Returns how many rows advanced. */
static int64_t
advance(struct fixture *f, const char *profile, const char *record,
        const char *occurrence, const char *next, int64_t due)
{
    json_t *step = json_pack("{s:s,s:s,s:s,s:s}", "schedule", "birthday",
                             "profile", profile, "record", record,
                             "occurrence", occurrence);
    json_t *result;
    int64_t advanced;

    json_object_set_new(step, "due", next ? json_integer(due) : json_null());
    if (next != NULL)
        json_object_set_new(step, "next", json_string(next));
    result = json_ok(f, f->ops->schedules_advance,
                     json_pack("{s:s,s:[o],s:[{s:s,s:s,s:I,s:{s:s}}]}",
                               "source", "dates", "rows", step, "events",
                               "source", "dates", "type", "date.birthday",
                               "time", (json_int_t) T0, "event", "type",
                               "date.birthday"));
    advanced = member_int(result, "advanced");
    assert_int_equal(member_int(result, "appended"), 1);
    json_decref(result);
    return advanced;
}


static void
schedules_claim_due_rows(void **state)
{
    struct fixture *f = *state;
    char *a = row_text("birthday", "dependents/a", "b1", T0 + 2 * DAY,
                       "2026-01-03");
    char *b = row_text("birthday", "dependents/b", "b1", T0 + DAY,
                       "2026-01-02");
    char *rows;
    json_t *claimed;

    rows = text_format("[%s, %s]", a, b);
    plan_commit(f, "p_1", rows);

    claimed = claim(f, T0, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);

    claimed = claim(f, T0 + 3 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 2);
    assert_string_equal(member_str(json_array_get(claimed, 0), "record"),
                        "dependents/b");
    assert_string_equal(member_str(json_array_get(claimed, 0), "profile"),
                        "p_1");
    assert_string_equal(member_str(json_array_get(claimed, 0), "zone"),
                        "UTC");
    assert_int_equal(member_int(json_array_get(claimed, 0), "due"),
                     T0 + DAY);
    json_decref(claimed);

    /* The lease keeps them from a second claim until it ends. */
    claimed = claim(f, T0 + 3 * DAY + 1000, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);
    claimed = claim(f, T0 + 3 * DAY + 60000, 1);
    assert_int_equal(json_array_size(claimed), 1);
    json_decref(claimed);
    free(a);
    free(b);
    free(rows);
}


static void
schedules_advance_moves_rows(void **state)
{
    struct fixture *f = *state;
    char *a = row_text("birthday", "dependents/a", "b1", T0 + DAY,
                       "2026-01-02");
    char *rows;
    json_t *claimed;
    json_t *events;

    rows = text_format("[%s]", a);
    plan_commit(f, "p_1", rows);
    json_decref(claim(f, T0 + DAY, 10));

    /* A step naming another occurrence changes nothing. */
    assert_int_equal(advance(f, "p_1", "dependents/a", "2025-01-02",
                             "2027-01-02", T0 + 366 * DAY), 0);
    assert_int_equal(advance(f, "p_1", "dependents/a", "2026-01-02",
                             "2027-01-02", T0 + 366 * DAY), 1);
    claimed = claim(f, T0 + 2 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);
    claimed = claim(f, T0 + 366 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 1);
    assert_string_equal(member_str(json_array_get(claimed, 0),
                                   "occurrence"), "2027-01-02");
    json_decref(claimed);

    /* Done: never claimed again. */
    assert_int_equal(advance(f, "p_1", "dependents/a", "2027-01-02", NULL,
                             0), 1);
    claimed = claim(f, T0 + 5000 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);

    /* Each advance appended its event in the same transaction. */
    assert_int_equal(events_read_wait(f, 0, 10, &events), 0);
    assert_int_equal(json_array_size(json_object_get(events, "events")), 3);
    json_decref(events);
    free(a);
    free(rows);
}


/* Advances one row with its own event, as the core fires; returns the
 * result. */
static json_t *
advance_with_event(struct fixture *f, const char *occurrence,
                   const char *next, int64_t due)
{
    json_t *step = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:I,s:{s:s}}}",
                             "schedule", "birthday", "profile", "p_1",
                             "record", "dependents/a", "occurrence",
                             occurrence, "event", "source", "dates", "type",
                             "date.birthday", "time", (json_int_t) T0,
                             "event", "type", "date.birthday");

    json_object_set_new(step, "due", next ? json_integer(due) : json_null());
    if (next != NULL)
        json_object_set_new(step, "next", json_string(next));
    return json_ok(f, f->ops->schedules_advance,
                   json_pack("{s:s,s:[o]}", "source", "dates", "rows",
                             step));
}


/* Two firings of one row, the second after the first's lease ended:
 * only the advance that moves the row appends the row's event, for a
 * yearly row and for a row that is done. */
static void
schedules_refire_appends_once(void **state)
{
    struct fixture *f = *state;
    char *a = row_text("birthday", "dependents/a", "b1", T0 + DAY,
                       "2026-01-02");
    char *rows = text_format("[%s]", a);
    json_t *first, *second, *result, *events;

    plan_commit(f, "p_1", rows);
    first = claim(f, T0 + DAY, 10);
    second = claim(f, T0 + DAY + 60000, 10);
    assert_int_equal(json_array_size(first), 1);
    assert_int_equal(json_array_size(second), 1);
    json_decref(first);
    json_decref(second);

    for (int round = 0; round < 2; round++) {
        result = advance_with_event(f, "2026-01-02", "2027-01-02",
                                    T0 + 366 * DAY);
        assert_int_equal(member_int(result, "advanced"), round == 0);
        assert_int_equal(member_int(result, "appended"), round == 0);
        json_decref(result);
    }

    /* The done row, fired twice, records one event too. */
    json_decref(claim(f, T0 + 366 * DAY, 10));
    for (int round = 0; round < 2; round++) {
        result = advance_with_event(f, "2027-01-02", NULL, 0);
        assert_int_equal(member_int(result, "advanced"), round == 0);
        assert_int_equal(member_int(result, "appended"), round == 0);
        json_decref(result);
    }

    assert_int_equal(events_read_wait(f, 0, 10, &events), 0);
    assert_int_equal(json_array_size(json_object_get(events, "events")), 2);
    json_decref(events);
    free(a);
    free(rows);
}


static void
schedules_plan_keeps_same_basis(void **state)
{
    struct fixture *f = *state;
    char *a = row_text("birthday", "dependents/a", "b1", T0 + DAY,
                       "2026-01-02");
    char *moved = row_text("birthday", "dependents/a", "b2", T0 + 9 * DAY,
                           "2026-01-10");
    char *rows;
    json_t *claimed;

    rows = text_format("[%s]", a);
    plan_commit(f, "p_1", rows);
    json_decref(claim(f, T0 + DAY, 10));
    assert_int_equal(advance(f, "p_1", "dependents/a", "2026-01-02", NULL,
                             0), 1);

    /* The same basis planned again keeps the row fired. */
    plan_commit(f, "p_1", rows);
    claimed = claim(f, T0 + 100 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);

    /* A new basis replaces it. */
    free(rows);
    rows = text_format("[%s]", moved);
    plan_commit(f, "p_1", rows);
    claimed = claim(f, T0 + 100 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 1);
    assert_string_equal(member_str(json_array_get(claimed, 0),
                                   "occurrence"), "2026-01-10");
    json_decref(claimed);

    /* An empty plan removes every row of the profile. */
    plan_commit(f, "p_1", "[]");
    claimed = claim(f, T0 + 200 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);
    free(a);
    free(moved);
    free(rows);
}


static void
schedules_go_with_merge_and_erase(void **state)
{
    struct fixture *f = *state;
    char *a = row_text("birthday", "dependents/a", "b1", T0 + DAY,
                       "2026-01-02");
    char *rows;
    json_t *claimed;

    rows = text_format("[%s]", a);
    plan_commit(f, "p_anon", rows);
    plan_commit(f, "p_known", "[]");
    plan_commit(f, "p_gone", rows);
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s,s:s,s:I}]}", "merges", "from",
                                  "p_anon", "into", "p_known", "time",
                                  (json_int_t) T0)));
    json_decref(json_ok(f, f->ops->profile_erase,
                        json_pack("{s:s,s:I}", "id", "p_gone", "now",
                                  (json_int_t) T0)));
    claimed = claim(f, T0 + 10 * DAY, 10);
    assert_int_equal(json_array_size(claimed), 0);
    json_decref(claimed);
    free(a);
    free(rows);
}


static void
schedules_reject_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->schedules_claim,
                               json_pack("{s:s,s:i,s:i,s:i}", "source", "d",
                                         "now", 0, "limit", 0, "lease_ms",
                                         1), &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->schedules_claim,
                               json_pack("{s:i,s:i,s:i}", "now", 0, "limit",
                                         1, "lease_ms", 1), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->schedules_advance,
                               json_pack("{s:s,s:[{s:s}]}", "source", "d",
                                         "rows", "schedule", "x"), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s,s:[{s:s}]}]}",
                                         "schedules", "source", "d", "rows",
                                         "schedule", "x"), &result),
                     CRIER_EINVAL);
}


const struct CMUnitTest schedule_tests[] = {
    CASE(schedules_claim_due_rows),
    CASE(schedules_advance_moves_rows),
    CASE(schedules_refire_appends_once),
    CASE(schedules_plan_keeps_same_basis),
    CASE(schedules_go_with_merge_and_erase),
    CASE(schedules_reject_invalid),
};
const size_t schedule_test_count =
    sizeof(schedule_tests) / sizeof(schedule_tests[0]);
