/* events_expire: which events retention deletes and what it leaves. */
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS
#define BODY "{\"type\":\"x\"}"


/* Appends one event without an id and returns its seq. */
static int64_t
event_put(struct fixture *f, const char *type, int64_t time)
{
    struct crier_event_rec rec = event_rec("api", NULL, type, time, BODY);
    size_t accepted;
    size_t duplicates;
    json_t *result;
    json_t *events;
    int64_t seq;

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_int_equal(events_read_wait(f, 0, 100000, &result), 0);
    events = json_object_get(result, "events");
    seq = member_int(json_array_get(events, json_array_size(events) - 1),
                     "seq");
    json_decref(result);
    return seq;
}


static void
cursor_put(struct fixture *f, int64_t value)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:{s:s, s:I}}", "cursor", "name",
                                  "pipeline", "value", (json_int_t)value)));
}


/* Expires with the given JSON arrays of types and prefixes (taken over)
 * and returns the count deleted. */
static int64_t
expire(struct fixture *f, json_t *types, json_t *prefixes, int64_t before,
       int limit)
{
    json_t *result = json_ok(f, f->ops->events_expire,
                             json_pack("{s:o, s:o, s:I, s:i, s:s}",
                                       "types", types, "prefixes", prefixes,
                                       "before", (json_int_t)before,
                                       "limit", limit,
                                       "cursor", "pipeline"));
    int64_t deleted = member_int(result, "deleted");

    json_decref(result);
    return deleted;
}


/* Returns the types of the stored events in seq order, joined by ' '. */
static char *
types_stored(struct fixture *f)
{
    static char text[1024];
    json_t *result;
    json_t *event;
    size_t i;

    text[0] = '\0';
    assert_int_equal(events_read_wait(f, 0, 100000, &result), 0);
    json_array_foreach(json_object_get(result, "events"), i, event) {
        if (i > 0)
            strcat(text, " ");
        strcat(text, member_str(event, "type"));
    }
    json_decref(result);
    return text;
}


static void
expire_matches_exact_type(void **state)
{
    struct fixture *f = *state;
    int64_t seq;

    event_put(f, "page_view", T0);
    event_put(f, "page_viewed", T0);
    event_put(f, "signup", T0);
    seq = event_put(f, "page_view", T0 + 10);
    cursor_put(f, seq);

    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 100), 2);
    assert_string_equal(types_stored(f), "page_viewed signup");
}


static void
expire_matches_prefix(void **state)
{
    struct fixture *f = *state;
    int64_t seq;

    event_put(f, "case.opened", T0);
    event_put(f, "cases", T0);
    event_put(f, "case.updated", T0);
    seq = event_put(f, "signup", T0);
    cursor_put(f, seq);

    assert_int_equal(expire(f, json_array(), json_pack("[s]", "case."),
                            T0 + 100, 100), 2);
    assert_string_equal(types_stored(f), "cases signup");
}


/* Only events strictly before `before` go. */
static void
expire_keeps_event_at_before(void **state)
{
    struct fixture *f = *state;
    int64_t seq;

    event_put(f, "page_view", T0 - 1);
    event_put(f, "page_view", T0);
    seq = event_put(f, "page_view", T0 + 1);
    cursor_put(f, seq);

    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0, 100), 1);
    assert_string_equal(types_stored(f), "page_view page_view");
    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0, 100), 0);
}


/* Events after the cursor are not processed yet, so they stay, and with
 * no cursor written nothing goes. */
static void
expire_keeps_events_after_cursor(void **state)
{
    struct fixture *f = *state;
    int64_t first = event_put(f, "page_view", T0);

    event_put(f, "page_view", T0);
    event_put(f, "page_view", T0);
    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 100), 0);

    cursor_put(f, first + 1);
    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 100), 2);
    assert_string_equal(types_stored(f), "page_view");
}


/* Each call deletes at most `limit`, oldest seq first, and a repeat goes
 * on where the previous call stopped. */
static void
expire_limit_repeats(void **state)
{
    struct fixture *f = *state;
    int64_t seq = 0;
    int i;

    for (i = 0; i < 5; i++)
        seq = event_put(f, "page_view", T0 + i);
    cursor_put(f, seq);

    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 2), 2);
    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 2), 2);
    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 2), 1);
    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 100, 2), 0);
    assert_string_equal(types_stored(f), "");
}


/*
 * Other events keep their seq and body, a job keeps the event_seq of a
 * deleted event (its claim then carries a null event), a repeat of a
 * deleted event's (source, id) is stored again, and no seq is reused.
 */
static void
expire_touches_nothing_else(void **state)
{
    struct fixture *f = *state;
    struct crier_event_rec rec = event_rec("api", "e-1", "page_view", T0,
                                           BODY);
    size_t accepted;
    size_t duplicates;
    int64_t signup;
    int64_t last;
    json_t *result;
    json_t *jobs;

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    signup = event_put(f, "signup", T0);
    last = event_put(f, "page_view", T0);
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s, s:s, s:I, s:I}],"
                                  " s:{s:s, s:I}}",
                                  "jobs", "key", "k-1", "rule", "welcome",
                                  "channel", "email", "template", "welcome",
                                  "due", (json_int_t)T0,
                                  "event_seq", (json_int_t)last,
                                  "cursor", "name", "pipeline",
                                  "value", (json_int_t)last)));

    assert_int_equal(expire(f, json_pack("[s]", "page_view"), json_array(),
                            T0 + 1, 100), 2);
    assert_int_equal(events_read_wait(f, 0, 100, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 1);
    assert_int_equal(member_int(json_array_get(json_object_get(result,
                                                               "events"), 0),
                                "seq"), signup);
    json_decref(result);

    jobs = jobs_claim_at(f, T0, 10, 60000);
    assert_int_equal(json_array_size(jobs), 1);
    assert_int_equal(member_int(json_array_get(jobs, 0), "event_seq"), last);
    assert_true(json_is_null(json_object_get(json_array_get(jobs, 0),
                                             "event")));
    json_decref(jobs);

    assert_int_equal(append_wait(f, &rec, 1, &accepted, &duplicates), 0);
    assert_int_equal(accepted, 1);
    assert_true(event_put(f, "signup", T0) > last + 1);
    assert_string_equal(types_stored(f), "signup page_view signup");
}


static void
expire_rejects_bad_requests(void **state)
{
    struct fixture *f = *state;
    json_t *bad[] = {
        json_pack("{s:[s], s:I, s:i}", "types", "page_view",
                  "before", (json_int_t)T0, "limit", 10),
        json_pack("{s:[s], s:I, s:i, s:s}", "types", "page_view",
                  "before", (json_int_t)T0, "limit", 0, "cursor", "p"),
        json_pack("{s:[s], s:I, s:i, s:s}", "types", "page_view",
                  "before", (json_int_t)T0, "limit", 10001, "cursor", "p"),
        json_pack("{s:[s], s:i, s:s}", "types", "page_view",
                  "limit", 10, "cursor", "p"),
        json_pack("{s:s, s:I, s:i, s:s}", "types", "page_view",
                  "before", (json_int_t)T0, "limit", 10, "cursor", "p"),
        json_pack("{s:[s], s:I, s:i, s:s}", "prefixes", "",
                  "before", (json_int_t)T0, "limit", 10, "cursor", "p"),
        json_pack("{s:[s], s:I, s:i, s:s}", "types", "page_view",
                  "before", (json_int_t)T0, "limit", 10, "cursor", "")
    };
    json_t *result;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(json_wait(f, f->ops->events_expire, bad[i],
                                   &result), CRIER_EINVAL);
}


const struct CMUnitTest expire_tests[] = {
    CASE(expire_matches_exact_type),
    CASE(expire_matches_prefix),
    CASE(expire_keeps_event_at_before),
    CASE(expire_keeps_events_after_cursor),
    CASE(expire_limit_repeats),
    CASE(expire_touches_nothing_else),
    CASE(expire_rejects_bad_requests)
};
const size_t expire_test_count = sizeof(expire_tests) / sizeof(expire_tests[0]);
