/* events_recent: each profile's linked events from a time on, newest
 * first and bounded per profile. */
#include <stdio.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS


/* Appends one event at `time` and links it to `profile` unless NULL.
 * Returns its seq. */
static int64_t
event_put(struct fixture *f, const char *id, int64_t time,
          const char *profile)
{
    struct crier_event_rec rec = event_rec("api", id, "page_view", time,
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
    if (profile != NULL)
        json_decref(json_ok(f, f->ops->commit,
                            json_pack("{s:[{s:I, s:s}]}", "links",
                                      "seq", (json_int_t) seq,
                                      "profile", profile)));
    return seq;
}


/* Commits a profile with one email identity. */
static void
profile_put(struct fixture *f, const char *id, const char *email)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{}, s:[{s:s, s:s}]}]}",
                                  "profiles", "id", id,
                                  "created", (json_int_t) T0,
                                  "updated", (json_int_t) T0,
                                  "attributes", "identities",
                                  "kind", "email", "value", email)));
}


/* Calls events_recent for two profiles and returns the result. `limit`
 * 0 leaves the limit out. */
static json_t *
recent(struct fixture *f, const char *first, const char *second,
       int64_t since, int limit)
{
    json_t *request = json_pack("{s:[s, s], s:I}", "profiles", first,
                                second, "since", (json_int_t) since);

    if (limit > 0)
        json_object_set_new(request, "limit", json_integer(limit));
    return json_ok(f, f->ops->events_recent, request);
}


/* Returns the seq of entry `i` of a profile's list, or -1. */
static int64_t
seq_at(const json_t *result, const char *profile, size_t i)
{
    json_t *list = json_object_get(json_object_get(result, "profiles"),
                                   profile);
    json_t *event = json_array_get(list, i);

    return event != NULL ? member_int(event, "seq") : -1;
}


static size_t
list_size(const json_t *result, const char *profile)
{
    return json_array_size(json_object_get(json_object_get(result,
                                                           "profiles"),
                                           profile));
}


static void
recent_newest_first_from_since(void **state)
{
    struct fixture *f = *state;
    int64_t old = event_put(f, "e-1", T0, "p_1");
    int64_t boundary = event_put(f, "e-2", T0 + 1000, "p_1");
    int64_t late_first = event_put(f, "e-3", T0 + 2000, "p_1");
    int64_t late_second = event_put(f, "e-4", T0 + 2000, "p_1");
    int64_t other = event_put(f, "e-5", T0 + 1500, "p_2");
    json_t *result;
    json_t *event;

    event_put(f, "e-6", T0 + 1500, NULL);
    result = recent(f, "p_1", "p_2", T0 + 1000, 0);

    /* The event at `since` counts, the one before it does not, and a tie
     * in time goes by seq, higher first. */
    assert_int_equal(list_size(result, "p_1"), 3);
    assert_int_equal(seq_at(result, "p_1", 0), late_second);
    assert_int_equal(seq_at(result, "p_1", 1), late_first);
    assert_int_equal(seq_at(result, "p_1", 2), boundary);
    assert_int_not_equal(seq_at(result, "p_1", 2), old);
    assert_int_equal(list_size(result, "p_2"), 1);
    assert_int_equal(seq_at(result, "p_2", 0), other);

    /* Each entry has the form of events_read. */
    event = json_array_get(json_object_get(json_object_get(result,
                                                           "profiles"),
                                           "p_2"), 0);
    assert_string_equal(member_str(event, "source"), "api");
    assert_string_equal(member_str(event, "id"), "e-5");
    assert_string_equal(member_str(event, "type"), "page_view");
    assert_int_equal(member_int(event, "time"), T0 + 1500);
    assert_string_equal(member_str(json_object_get(event, "event"), "type"),
                        "page_view");
    json_decref(result);
}


static void
recent_limit_per_profile(void **state)
{
    struct fixture *f = *state;
    int64_t seqs[4];
    json_t *result;

    for (int i = 0; i < 4; i++) {
        char id[16];

        snprintf(id, sizeof(id), "e-%d", i);
        seqs[i] = event_put(f, id, T0 + i * 1000, "p_1");
    }
    event_put(f, "e-9", T0, "p_2");
    result = recent(f, "p_1", "p_2", 0, 2);
    assert_int_equal(list_size(result, "p_1"), 2);
    assert_int_equal(seq_at(result, "p_1", 0), seqs[3]);
    assert_int_equal(seq_at(result, "p_1", 1), seqs[2]);
    assert_int_equal(list_size(result, "p_2"), 1);
    json_decref(result);
}


static void
recent_unknown_profile_empty(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    event_put(f, "e-1", T0, "p_1");
    result = recent(f, "p_none", "p_none", 0, 0);
    assert_non_null(json_object_get(json_object_get(result, "profiles"),
                                    "p_none"));
    assert_int_equal(list_size(result, "p_none"), 0);
    assert_int_equal(json_object_size(json_object_get(result, "profiles")),
                     1);
    json_decref(result);

    /* A profile named twice is listed once, with each event once. */
    result = recent(f, "p_1", "p_1", 0, 0);
    assert_int_equal(list_size(result, "p_1"), 1);
    json_decref(result);
}


static void
recent_follows_merge(void **state)
{
    struct fixture *f = *state;
    int64_t anonymous;
    int64_t known;
    json_t *result;

    profile_put(f, "p_anon", "anon@b.gov");
    profile_put(f, "p_known", "known@b.gov");
    anonymous = event_put(f, "e-1", T0 + 1000, "p_anon");
    known = event_put(f, "e-2", T0, "p_known");
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:I}]}", "merges",
                                  "from", "p_anon", "into", "p_known",
                                  "time", (json_int_t) T0 + 2000)));

    result = recent(f, "p_known", "p_anon", 0, 0);
    assert_int_equal(list_size(result, "p_known"), 2);
    assert_int_equal(seq_at(result, "p_known", 0), anonymous);
    assert_int_equal(seq_at(result, "p_known", 1), known);
    assert_int_equal(list_size(result, "p_anon"), 0);
    json_decref(result);
}


static void
recent_requests_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result = NULL;
    json_t *many = json_array();

    for (int i = 0; i < 1001; i++)
        json_array_append_new(many, json_string("p_1"));

    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:[s]}", "profiles", "p_1"),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:[], s:i}", "profiles",
                                         "since", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:[s], s:i}", "profiles", "",
                                         "since", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:[i], s:i}", "profiles", 7,
                                         "since", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:[s], s:i, s:i}", "profiles",
                                         "p_1", "since", 0, "limit", 0),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:[s], s:i, s:i}", "profiles",
                                         "p_1", "since", 0, "limit", 1001),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->events_recent,
                               json_pack("{s:o, s:i}", "profiles", many,
                                         "since", 0), &result),
                     CRIER_EINVAL);
    assert_null(result);
}


/* The sqlite store reads the events through events_profile_time, never
 * by a scan of the events table. */
static void
recent_sqlite_uses_index(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *rows;
    char *plan;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    event_put(f, "e-1", T0, "p_1");
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    rows = sqlite_file_rows(path, "EXPLAIN QUERY PLAN SELECT seq FROM events"
                                  " WHERE profile = 'p_1' AND time_ms >= 0"
                                  " ORDER BY time_ms DESC, seq DESC"
                                  " LIMIT 10");
    plan = json_dumps(rows, 0);
    assert_non_null(strstr(plan, "events_profile_time"));
    assert_null(strstr(plan, "TEMP B-TREE"));
    free(plan);
    json_decref(rows);
}


const struct CMUnitTest recent_tests[] = {
    CASE(recent_newest_first_from_since),
    CASE(recent_limit_per_profile),
    CASE(recent_unknown_profile_empty),
    CASE(recent_follows_merge),
    CASE(recent_requests_invalid),
    CASE(recent_sqlite_uses_index)
};

const size_t recent_test_count =
    sizeof(recent_tests) / sizeof(recent_tests[0]);
