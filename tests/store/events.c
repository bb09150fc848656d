/* Events and cursors: append, events_read, cursor_get. */
#include <string.h>

#include "store_test.h"

#define VIEW_1 "{\"type\":\"page_view\",\"n\":1}"
#define VIEW_2 "{\"type\":\"page_view\",\"n\":2}"
#define SIGNUP "{\"type\":\"signup\",\"email\":\"a@b.gov\"}"


/* Checks one item of events_read against the record that was appended. */
static void
event_check(const json_t *item, const struct crier_event_rec *rec)
{
    json_t *expected = json_loads(rec->json, 0, NULL);

    assert_true(member_int(item, "seq") > 0);
    assert_string_equal(member_str(item, "source"), rec->source);
    if (rec->id != NULL)
        assert_string_equal(member_str(item, "id"), rec->id);
    else
        assert_true(json_is_null(json_object_get(item, "id")));
    assert_string_equal(member_str(item, "type"), rec->type);
    assert_int_equal(member_int(item, "time"), rec->time_ms);
    assert_true(json_equal(json_object_get(item, "event"), expected));
    json_decref(expected);
}


/* Reads every stored event and returns the "events" array. */
static json_t *
events_all(struct fixture *f)
{
    json_t *result;
    json_t *events;

    assert_int_equal(events_read_wait(f, 0, 100000, &result), 0);
    events = json_incref(json_object_get(result, "events"));
    json_decref(result);
    assert_true(json_is_array(events));
    return events;
}


static void
append_reads_back_in_order(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec events[] = {
        event_rec("api", "e-1", "page_view", 1000, VIEW_1),
        event_rec("api", "e-2", "signup", 2000, SIGNUP),
        event_rec("beacon", NULL, "page_view", 3000, VIEW_2)
    };
    size_t accepted;
    size_t duplicates;
    json_t *list;
    size_t i;

    assert_int_equal(append_wait(f, events, 3, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 3);
    assert_int_equal(duplicates, 0);

    list = events_all(f);
    assert_int_equal(json_array_size(list), 3);
    for (i = 0; i < 3; i++)
        event_check(json_array_get(list, i), &events[i]);
    assert_true(member_int(json_array_get(list, 1), "seq")
                > member_int(json_array_get(list, 0), "seq"));
    assert_true(member_int(json_array_get(list, 2), "seq")
                > member_int(json_array_get(list, 1), "seq"));
    json_decref(list);
}


static void
append_counts_duplicate_in_batch(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec events[] = {
        event_rec("api", "e-1", "page_view", 1000, VIEW_1),
        event_rec("api", "e-2", "page_view", 1000, VIEW_2),
        event_rec("api", "e-1", "page_view", 1000, VIEW_2)
    };
    size_t accepted;
    size_t duplicates;
    json_t *list;

    assert_int_equal(append_wait(f, events, 3, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 2);
    assert_int_equal(duplicates, 1);

    /* The first copy is the one kept. */
    list = events_all(f);
    assert_int_equal(json_array_size(list), 2);
    event_check(json_array_get(list, 0), &events[0]);
    event_check(json_array_get(list, 1), &events[1]);
    json_decref(list);
}


static void
append_counts_duplicate_across_batches(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec first[] = {
        event_rec("api", "e-1", "page_view", 1000, VIEW_1)
    };
    struct crier_event_rec second[] = {
        event_rec("api", "e-1", "page_view", 2000, VIEW_2),
        event_rec("api", "e-3", "signup", 2000, SIGNUP)
    };
    size_t accepted;
    size_t duplicates;
    json_t *list;

    assert_int_equal(append_wait(f, first, 1, &accepted, &duplicates), 0);
    assert_int_equal(append_wait(f, second, 2, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(duplicates, 1);

    list = events_all(f);
    assert_int_equal(json_array_size(list), 2);
    event_check(json_array_get(list, 0), &first[0]);
    event_check(json_array_get(list, 1), &second[1]);
    json_decref(list);
}


static void
append_null_id_never_duplicate(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec events[] = {
        event_rec("api", NULL, "page_view", 1000, VIEW_1),
        event_rec("api", NULL, "page_view", 1000, VIEW_1)
    };
    size_t accepted;
    size_t duplicates;
    json_t *list;

    assert_int_equal(append_wait(f, events, 2, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 2);
    assert_int_equal(duplicates, 0);
    assert_int_equal(append_wait(f, events, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(duplicates, 0);

    list = events_all(f);
    assert_int_equal(json_array_size(list), 3);
    json_decref(list);
}


static void
append_same_id_two_sources(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec events[] = {
        event_rec("api", "e-1", "page_view", 1000, VIEW_1),
        event_rec("beacon", "e-1", "page_view", 1000, VIEW_2)
    };
    size_t accepted;
    size_t duplicates;
    json_t *list;

    assert_int_equal(append_wait(f, events, 2, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 2);
    assert_int_equal(duplicates, 0);

    list = events_all(f);
    assert_int_equal(json_array_size(list), 2);
    event_check(json_array_get(list, 0), &events[0]);
    event_check(json_array_get(list, 1), &events[1]);
    json_decref(list);
}


static void
append_empty_batch(void **state)
{
    struct fixture *f = *state;
    size_t accepted = 9;
    size_t duplicates = 9;
    json_t *list;

    assert_int_equal(append_wait(f, NULL, 0, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 0);
    assert_int_equal(duplicates, 0);
    list = events_all(f);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}


static void
append_rejects_invalid_event(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec good = event_rec("api", "e-1", "page_view", 1,
                                            VIEW_1);
    struct crier_event_rec bad[4];
    size_t accepted;
    size_t duplicates;
    json_t *list;
    size_t i;

    for (i = 0; i < 4; i++)
        bad[i] = good;
    bad[0].source = NULL;
    bad[1].source = "";
    bad[2].type = NULL;
    bad[3].json = NULL;

    /* A bad event anywhere rejects the whole batch. */
    for (i = 0; i < 4; i++) {
        struct crier_event_rec batch[2] = { good, bad[i] };

        assert_int_equal(append_wait(f, batch, 2, &accepted, &duplicates),
                         CRIER_EINVAL);
    }
    assert_int_equal(append_wait(f, NULL, 1, &accepted, &duplicates),
                     CRIER_EINVAL);
    list = events_all(f);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}


static void
events_read_after_and_limit(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec events[5];
    static const char *const ids[] = { "a", "b", "c", "d", "e" };
    size_t accepted;
    size_t duplicates;
    json_t *all;
    json_t *result;
    json_t *list;
    int64_t second;
    size_t i;

    for (i = 0; i < 5; i++) {
        events[i] = event_rec("api", ids[i], "page_view", (int64_t)i, VIEW_1);
        assert_int_equal(append_wait(f, &events[i], 1, &accepted,
                                     &duplicates), 0);
    }
    all = events_all(f);
    second = member_int(json_array_get(all, 1), "seq");

    assert_int_equal(events_read_wait(f, second, 2, &result), 0);
    list = json_object_get(result, "events");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(member_str(json_array_get(list, 0), "id"), "c");
    assert_string_equal(member_str(json_array_get(list, 1), "id"), "d");
    json_decref(result);

    assert_int_equal(events_read_wait(f, member_int(json_array_get(all, 4),
                                                    "seq"),
                                      10, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 0);
    json_decref(result);

    assert_int_equal(events_read_wait(f, 0, 0, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 0);
    json_decref(result);
    json_decref(all);
}


static void
cursor_get_default_zero(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 0);
    json_decref(result);
}


static void
cursor_get_after_commit(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:{s:s, s:i}}", "cursor",
                                  "name", "pipeline", "value", 42)));
    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 42);
    json_decref(result);

    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:{s:s, s:i}}", "cursor",
                                  "name", "pipeline", "value", 43)));
    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 43);
    json_decref(result);

    assert_int_equal(cursor_get_wait(f, "other", &result), 0);
    assert_int_equal(member_int(result, "value"), 0);
    json_decref(result);
}


static void
cursor_get_rejects_empty_name(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(cursor_get_wait(f, "", &result), CRIER_EINVAL);
    assert_int_equal(cursor_get_wait(f, NULL, &result), CRIER_EINVAL);
}


/* Commits a batch that moves "pipeline" from `from` to `value` and plans
 * one job with key `key`; returns the status. */
static int
fenced_commit(struct fixture *f, int64_t from, int64_t value,
              const char *key)
{
    json_t *result = NULL;
    int rc;

    rc = json_wait(f, f->ops->commit,
                   json_pack("{s:{s:s, s:I, s:I}, s:[{s:s, s:s, s:s, s:s,"
                             " s:I}]}",
                             "cursor", "name", "pipeline",
                             "value", (json_int_t)value,
                             "from", (json_int_t)from,
                             "jobs", "key", key, "rule", "welcome",
                             "channel", "email", "template", "hello",
                             "due", (json_int_t)1000),
                   &result);
    json_decref(result);
    return rc;
}


static void
commit_cursor_from_fences(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *jobs;

    assert_int_equal(fenced_commit(f, 0, 5, "first"), 0);

    /* A second node read the same events at 0: its batch is refused
     * whole, job included. */
    assert_int_equal(fenced_commit(f, 0, 5, "second"), CRIER_ESTALE);
    assert_int_equal(fenced_commit(f, 3, 7, "second"), CRIER_ESTALE);
    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 5);
    json_decref(result);
    result = jobs_list_all(f);
    jobs = json_object_get(result, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(member_str(json_array_get(jobs, 0), "key"),
                        "first");
    json_decref(result);

    assert_int_equal(fenced_commit(f, 5, 9, "third"), 0);
    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 9);
    json_decref(result);
}


static void
commit_cursor_from_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result = NULL;

    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:{s:s, s:i, s:i}}", "cursor",
                                         "name", "pipeline", "value", 3,
                                         "from", -1), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:{s:s, s:i, s:s}}", "cursor",
                                         "name", "pipeline", "value", 3,
                                         "from", "0"), &result),
                     CRIER_EINVAL);
}


const struct CMUnitTest event_tests[] = {
    CASE(append_reads_back_in_order),
    CASE(append_counts_duplicate_in_batch),
    CASE(append_counts_duplicate_across_batches),
    CASE(append_null_id_never_duplicate),
    CASE(append_same_id_two_sources),
    CASE(append_empty_batch),
    CASE(append_rejects_invalid_event),
    CASE(events_read_after_and_limit),
    CASE(cursor_get_default_zero),
    CASE(cursor_get_after_commit),
    CASE(cursor_get_rejects_empty_name),
    CASE(commit_cursor_from_fences),
    CASE(commit_cursor_from_invalid)
};

const size_t event_test_count = sizeof(event_tests) / sizeof(event_tests[0]);
