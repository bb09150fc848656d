/* Journey places: written whole or woken by commit batches, read per
 * profile and in due order, kept across a reopen, and removed by merges
 * and erasure. */
#include <stdlib.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define DAY (86400LL * 1000)


/* A journey row of `profile` on `step`, due at `due` (-1 for none). */
static json_t *
row_make(const char *journey, const char *profile, int64_t entry,
         const char *step, const char *state, int64_t due)
{
    json_t *row = json_pack("{s:s,s:s,s:I,s:s,s:s,s:I,s:I}",
                            "journey", journey, "profile", profile,
                            "entry", (json_int_t) entry, "step", step,
                            "state", state, "since", (json_int_t) T0,
                            "updated", (json_int_t) T0);

    json_object_set_new(row, "due", due >= 0 ? json_integer(due)
                                             : json_null());
    return row;
}


/* Commits the rows of `rows` (taken over) with a profile for each. */
static void
rows_commit(struct fixture *f, json_t *rows)
{
    json_t *profiles = json_array();
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row)
        json_array_append_new(profiles,
                              json_pack("{s:O,s:I,s:I,s:{}}", "id",
                                        json_object_get(row, "profile"),
                                        "created", (json_int_t) T0,
                                        "updated", (json_int_t) T0,
                                        "attributes"));
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:o,s:o}", "profiles", profiles,
                                  "journeys", rows)));
}


/* Returns the rows of `profile`, a new reference. */
static json_t *
read_rows(struct fixture *f, const char *profile)
{
    json_t *result = json_ok(f, f->ops->journeys_read,
                             json_pack("{s:[s]}", "profiles", profile));
    json_t *rows = json_incref(json_object_get(
                                   json_object_get(result, "journeys"),
                                   profile));

    json_decref(result);
    assert_non_null(rows);
    return rows;
}


static json_t *
due_rows(struct fixture *f, int64_t now, int limit)
{
    json_t *result = json_ok(f, f->ops->journeys_due,
                             json_pack("{s:I,s:i}", "now", (json_int_t) now,
                                       "limit", limit));
    json_t *rows = json_incref(json_object_get(result, "rows"));

    json_decref(result);
    assert_non_null(rows);
    return rows;
}


static void
journeys_write_and_read(void **state)
{
    struct fixture *f = *state;
    json_t *rows;
    json_t *row;
    json_t *result;

    rows_commit(f, json_pack("[o,o,o]",
                             row_make("welcome", "p_1", 7, "second",
                                      "active", T0 + DAY),
                             row_make("apply", "p_1", 9, "done", "ended",
                                      -1),
                             row_make("welcome", "p_2", 8, "first",
                                      "active", T0)));
    rows = read_rows(f, "p_1");
    assert_int_equal(json_array_size(rows), 2);
    row = json_array_get(rows, 0);
    assert_string_equal(member_str(row, "journey"), "apply");
    assert_string_equal(member_str(row, "state"), "ended");
    assert_true(json_is_null(json_object_get(row, "due")));
    row = json_array_get(rows, 1);
    assert_string_equal(member_str(row, "journey"), "welcome");
    assert_string_equal(member_str(row, "profile"), "p_1");
    assert_int_equal(member_int(row, "entry"), 7);
    assert_string_equal(member_str(row, "step"), "second");
    assert_string_equal(member_str(row, "state"), "active");
    assert_int_equal(member_int(row, "due"), T0 + DAY);
    assert_int_equal(member_int(row, "since"), T0);
    assert_int_equal(member_int(row, "updated"), T0);
    json_decref(rows);

    /* A whole row replaces the stored one. */
    rows_commit(f, json_pack("[o]", row_make("welcome", "p_1", 11, "third",
                                             "active", T0 + 2 * DAY)));
    rows = read_rows(f, "p_1");
    assert_int_equal(json_array_size(rows), 2);
    row = json_array_get(rows, 1);
    assert_int_equal(member_int(row, "entry"), 11);
    assert_string_equal(member_str(row, "step"), "third");
    json_decref(rows);

    result = json_ok(f, f->ops->journeys_read,
                     json_pack("{s:[s,s]}", "profiles", "p_2", "p_none"));
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(result, "journeys"), "p_2")), 1);
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(result, "journeys"), "p_none")), 0);
    json_decref(result);
}


static void
journeys_due_in_order(void **state)
{
    struct fixture *f = *state;
    json_t *rows;

    rows_commit(f, json_pack("[o,o,o,o]",
                             row_make("a", "p_1", 1, "w", "active",
                                      T0 + 2 * DAY),
                             row_make("b", "p_1", 1, "w", "active", T0 + DAY),
                             row_make("c", "p_1", 1, "w", "ended", T0),
                             row_make("d", "p_1", 1, "w", "active", -1)));
    rows = due_rows(f, T0, 10);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);

    rows = due_rows(f, T0 + 3 * DAY, 10);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(member_str(json_array_get(rows, 0), "journey"), "b");
    assert_string_equal(member_str(json_array_get(rows, 1), "journey"), "a");
    json_decref(rows);

    rows = due_rows(f, T0 + 3 * DAY, 1);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(member_str(json_array_get(rows, 0), "journey"), "b");
    json_decref(rows);
}


/* A wake-up clears the due of a row only while it is unchanged. */
static void
journeys_wake_only_unchanged(void **state)
{
    struct fixture *f = *state;
    json_t *stale = row_make("a", "p_1", 1, "other", "active", T0 + DAY);
    json_t *wake = row_make("a", "p_1", 1, "w", "active", T0 + DAY);
    json_t *rows;

    rows_commit(f, json_pack("[o]", row_make("a", "p_1", 1, "w", "active",
                                             T0 + DAY)));
    json_object_set_new(stale, "wake", json_true());
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[o]}", "journeys", stale)));
    rows = due_rows(f, T0 + DAY, 10);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);

    json_object_set_new(wake, "wake", json_true());
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[o]}", "journeys", wake)));
    rows = due_rows(f, T0 + DAY, 10);
    assert_int_equal(json_array_size(rows), 0);
    json_decref(rows);
    rows = read_rows(f, "p_1");
    assert_string_equal(member_str(json_array_get(rows, 0), "step"), "w");
    assert_true(json_is_null(json_object_get(json_array_get(rows, 0),
                                             "due")));
    json_decref(rows);
}


static void
journeys_survive_reopen(void **state)
{
    struct fixture *f = *state;
    json_t *rows;

    if (!store_durable())
        skip();
    rows_commit(f, json_pack("[o]", row_make("a", "p_1", 3, "w", "active",
                                             T0 + DAY)));
    store_close(f);
    assert_int_equal(store_open(f, store_config()), 0);
    rows = read_rows(f, "p_1");
    assert_int_equal(json_array_size(rows), 1);
    assert_int_equal(member_int(json_array_get(rows, 0), "entry"), 3);
    json_decref(rows);
    rows = due_rows(f, T0 + DAY, 10);
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
}


static void
journeys_go_with_merge_and_erase(void **state)
{
    struct fixture *f = *state;
    json_t *rows;

    rows_commit(f, json_pack("[o,o,o]",
                             row_make("a", "p_anon", 1, "w", "active", T0),
                             row_make("b", "p_known", 2, "w", "active", T0),
                             row_make("a", "p_gone", 3, "w", "active", T0)));
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s,s:s,s:I}]}", "merges", "from",
                                  "p_anon", "into", "p_known", "time",
                                  (json_int_t) T0)));
    json_decref(json_ok(f, f->ops->profile_erase,
                        json_pack("{s:s,s:I}", "id", "p_gone", "now",
                                  (json_int_t) T0)));
    rows = due_rows(f, T0 + DAY, 10);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(member_str(json_array_get(rows, 0), "profile"),
                        "p_known");
    json_decref(rows);
}


/* A digest window keeps its items through a write, a wake-up and a
 * reopen; a row without items has none. */
static void
journeys_keep_items(void **state)
{
    struct fixture *f = *state;
    json_t *window = row_make("digest:notes", "p_1", T0, "v2", "active",
                              T0 + DAY);
    json_t *wake = row_make("digest:notes", "p_1", T0, "v2", "active",
                            T0 + DAY);
    json_t *rows, *items;

    json_object_set_new(window, "items",
                        json_pack("[{s:s,s:I},{s:s,s:I}]", "key", "n-1",
                                  "time", (json_int_t) T0, "key", "n-2",
                                  "time", (json_int_t) T0 + 5));
    rows_commit(f, json_pack("[o,o]", window,
                             row_make("welcome", "p_1", 1, "w", "active",
                                      -1)));
    json_object_set_new(wake, "wake", json_true());
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[o]}", "journeys", wake)));
    if (store_durable()) {
        store_close(f);
        assert_int_equal(store_open(f, store_config()), 0);
    }
    rows = read_rows(f, "p_1");
    assert_int_equal(json_array_size(rows), 2);
    items = json_object_get(json_array_get(rows, 0), "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(member_str(json_array_get(items, 1), "key"), "n-2");
    assert_int_equal(member_int(json_array_get(items, 1), "time"), T0 + 5);
    assert_true(json_is_null(json_object_get(json_array_get(rows, 0),
                                             "due")));
    assert_null(json_object_get(json_array_get(rows, 1), "items"));
    json_decref(rows);
}


/* A read of due rows also returns the earliest due after `now`. */
static void
journeys_due_gives_next(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    result = json_ok(f, f->ops->journeys_due,
                     json_pack("{s:I,s:i}", "now", (json_int_t) T0,
                               "limit", 10));
    assert_true(json_is_null(json_object_get(result, "next")));
    json_decref(result);
    rows_commit(f, json_pack("[o,o,o,o]",
                             row_make("a", "p_1", 1, "w", "active", T0),
                             row_make("b", "p_1", 1, "w", "active",
                                      T0 + 300100),
                             row_make("c", "p_1", 1, "w", "active",
                                      T0 + DAY),
                             row_make("d", "p_1", 1, "w", "ended",
                                      T0 + 10)));
    result = json_ok(f, f->ops->journeys_due,
                     json_pack("{s:I,s:i}", "now", (json_int_t) T0,
                               "limit", 10));
    assert_int_equal(json_array_size(json_object_get(result, "rows")), 1);
    assert_int_equal(member_int(result, "next"), T0 + 300100);
    json_decref(result);
}


static json_t *
leased_rows(struct fixture *f, int64_t now, int limit, int64_t lease_ms)
{
    json_t *result = json_ok(f, f->ops->journeys_due,
                             json_pack("{s:I,s:i,s:I}", "now",
                                       (json_int_t) now, "limit", limit,
                                       "lease_ms", (json_int_t) lease_ms));
    json_t *rows = json_incref(json_object_get(result, "rows"));

    json_decref(result);
    assert_non_null(rows);
    return rows;
}


/* A read with "lease_ms" claims its rows on a shared store: a second
 * such read leaves them out until the lease ends or a commit writes the
 * row again. A plain read still returns them. Other stores ignore the
 * lease. */
static void
journeys_due_lease_claims(void **state)
{
    struct fixture *f = *state;
    size_t again = store_shared() ? 0 : 2;
    json_t *rows, *moved;

    rows_commit(f, json_pack("[o,o]",
                             row_make("a", "p_1", 1, "w", "active", T0),
                             row_make("b", "p_1", 1, "w", "active",
                                      T0 + 10)));
    rows = leased_rows(f, T0 + 100, 10, 1000);
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(member_str(json_array_get(rows, 0), "journey"), "a");
    json_decref(rows);

    rows = leased_rows(f, T0 + 200, 10, 1000);
    assert_int_equal(json_array_size(rows), again);
    json_decref(rows);
    rows = due_rows(f, T0 + 200, 10);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);

    /* A commit that moves the row ends its lease. */
    rows_commit(f, json_pack("[o]", row_make("a", "p_1", 1, "x", "active",
                                             T0 + 50)));
    rows = leased_rows(f, T0 + 300, 10, 1000);
    assert_int_equal(json_array_size(rows), store_shared() ? 1 : 2);
    moved = json_array_get(rows, json_array_size(rows) - 1);
    assert_string_equal(member_str(moved, "journey"), "a");
    assert_string_equal(member_str(moved, "step"), "x");
    json_decref(rows);

    /* Ended leases free the rows for the next read. */
    rows = leased_rows(f, T0 + 1400, 10, 1000);
    assert_int_equal(json_array_size(rows), 2);
    json_decref(rows);
}


static void
journeys_reject_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[o]}", "journeys",
                                         row_make("a", "p", 1, "w", "paused",
                                                  -1)), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s}]}", "journeys",
                                         "journey", "a"), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->journeys_read,
                               json_pack("{s:s}", "profiles", "p"), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->journeys_due,
                               json_pack("{s:i,s:i}", "now", 0, "limit", 0),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->journeys_due,
                               json_pack("{s:i}", "limit", 5), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->journeys_due,
                               json_pack("{s:i,s:i,s:i}", "now", 0, "limit",
                                         5, "lease_ms", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->journeys_due,
                               json_pack("{s:i,s:i,s:s}", "now", 0, "limit",
                                         5, "lease_ms", "1s"), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s,s:s,s:i,s:s,s:s,s:i,s:i,"
                                         "s:s}]}", "journeys", "journey",
                                         "a", "profile", "p", "entry", 1,
                                         "step", "w", "state", "active",
                                         "since", 0, "updated", 0, "items",
                                         "not a list"), &result),
                     CRIER_EINVAL);
}


const struct CMUnitTest journey_tests[] = {
    CASE(journeys_write_and_read),
    CASE(journeys_due_in_order),
    CASE(journeys_wake_only_unchanged),
    CASE(journeys_survive_reopen),
    CASE(journeys_go_with_merge_and_erase),
    CASE(journeys_reject_invalid),
    CASE(journeys_keep_items),
    CASE(journeys_due_gives_next),
    CASE(journeys_due_lease_claims),
};
const size_t journey_test_count =
    sizeof(journey_tests) / sizeof(journey_tests[0]);
