/* Reading profiles by id and in pages, and the events a commit appends:
 * what the segment refresh pass and segment.* events rely on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS


/* Commits profile `id` with the email identity `email`. */
static void
profile_put(struct fixture *f, const char *id, const char *email)
{
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s, s:I, s:I, s:{}, s:[{s:s, s:s}]}]}",
                  "profiles", "id", id, "created", (json_int_t)T0,
                  "updated", (json_int_t)T0, "attributes", "identities",
                  "kind", "email", "value", email)));
}


/* Returns a segment.entered event of a commit batch, for `profile`. */
static json_t *
entered_event(const char *profile, const char *segment, int64_t time)
{
    return json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s, s:{s:s}}}",
                     "source", "crier", "type", "segment.entered",
                     "time", (json_int_t)time, "event", "type",
                     "segment.entered", "time", "2026-01-01T00:00:00.000Z",
                     "profile_id", profile, "properties", "segment",
                     segment);
}


static void
commit_appends_events(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *events;
    json_t *row;

    result = json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s, s:s, s:b, s:I}], s:[o]}", "segments",
                  "segment", "parents", "profile", "p_1", "member", 1,
                  "time", (json_int_t)T0, "events",
                  entered_event("p_1", "parents", T0)));
    assert_int_equal(member_int(result, "appended"), 1);
    json_decref(result);

    assert_int_equal(events_read_wait(f, 0, 10, &result), 0);
    events = json_object_get(result, "events");
    assert_int_equal(json_array_size(events), 1);
    row = json_array_get(events, 0);
    assert_int_equal(member_int(row, "seq"), 1);
    assert_string_equal(member_str(row, "source"), "crier");
    assert_null(member_str(row, "id"));
    assert_string_equal(member_str(row, "type"), "segment.entered");
    assert_int_equal(member_int(row, "time"), T0);
    assert_string_equal(member_str(json_object_get(row, "event"),
                                   "profile_id"), "p_1");
    assert_string_equal(member_str(json_object_get(json_object_get(row,
                                                                   "event"),
                                                   "properties"),
                                   "segment"), "parents");
    json_decref(result);
}


/* A failing commit stores neither the membership nor its event. */
static void
failed_commit_appends_nothing(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *batch;
    int rc;

    profile_put(f, "p_1", "a@b.gov");
    batch = json_pack("{s:[{s:s, s:s, s:I}], s:[{s:s, s:s, s:b, s:I}], "
                      "s:[o]}", "merges", "from", "p_1", "into", "p_none",
                      "time", (json_int_t)T0, "segments", "segment",
                      "parents", "profile", "p_1", "member", 1, "time",
                      (json_int_t)T0, "events",
                      entered_event("p_1", "parents", T0));
    rc = json_wait(f, f->ops->commit, batch, &result);
    assert_int_equal(rc, CRIER_ENOTFOUND);

    assert_int_equal(events_read_wait(f, 0, 10, &result), 0);
    assert_int_equal(json_array_size(json_object_get(result, "events")), 0);
    json_decref(result);
    result = json_ok(f, f->ops->segment_count,
                     json_pack("{s:s}", "segment", "parents"));
    assert_int_equal(member_int(result, "count"), 0);
    json_decref(result);
}


static void
commit_rejects_invalid_events(void **state)
{
    struct fixture *f = *state;
    static const char *const bad[] = {
        "{\"events\": {}}",
        "{\"events\": [1]}",
        "{\"events\": [{\"type\": \"t\", \"time\": 1, \"event\": {}}]}",
        "{\"events\": [{\"source\": \"crier\", \"time\": 1, "
        "\"event\": {}}]}",
        "{\"events\": [{\"source\": \"crier\", \"type\": \"t\", "
        "\"event\": {}}]}",
        "{\"events\": [{\"source\": \"crier\", \"type\": \"t\", "
        "\"time\": 1, \"event\": []}]}",
    };
    json_t *result;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *request = json_loads(bad[i], 0, NULL);

        assert_non_null(request);
        assert_int_equal(json_wait(f, f->ops->commit, request, &result),
                         CRIER_EINVAL);
    }
}


static void
profiles_load_by_id(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *profiles;

    profile_put(f, "p_1", "a@b.gov");
    profile_put(f, "p_2", "c@d.gov");
    result = json_ok(f, f->ops->profiles_load,
        json_pack("{s:[{s:s, s:s}], s:[s, s, s]}", "identities", "kind",
                  "email", "value", "a@b.gov", "ids", "p_1", "p_2",
                  "p_unknown"));
    profiles = json_object_get(result, "profiles");
    assert_int_equal(json_array_size(profiles), 2);
    assert_string_equal(member_str(json_array_get(profiles, 0), "id"),
                        "p_1");
    assert_string_equal(member_str(json_array_get(profiles, 1), "id"),
                        "p_2");
    assert_true(json_is_array(json_object_get(json_array_get(profiles, 1),
                                              "segments")));
    assert_int_equal(json_object_size(json_object_get(result, "moved")), 0);
    json_decref(result);
}


/* An id merged away loads the profile at the end of its merges, and
 * "moved" names where it went. */
static void
profiles_load_follows_merges(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *profiles;

    profile_put(f, "p_anon", "a@b.gov");
    profile_put(f, "p_known", "c@d.gov");
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s, s:s, s:I}]}", "merges", "from", "p_anon",
                  "into", "p_known", "time", (json_int_t)T0)));

    result = json_ok(f, f->ops->profiles_load,
        json_pack("{s:[], s:[s]}", "identities", "ids", "p_anon"));
    profiles = json_object_get(result, "profiles");
    assert_int_equal(json_array_size(profiles), 1);
    assert_string_equal(member_str(json_array_get(profiles, 0), "id"),
                        "p_known");
    assert_string_equal(member_str(json_object_get(result, "moved"),
                                   "p_anon"), "p_known");
    json_decref(result);
}


static void
profiles_load_rejects_invalid_ids(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->profiles_load,
                               json_pack("{s:[], s:s}", "identities", "ids",
                                         "p_1"), &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_load,
                               json_pack("{s:[], s:[s]}", "identities",
                                         "ids", ""), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_load,
                               json_pack("{s:[], s:[i]}", "identities",
                                         "ids", 3), &result), CRIER_EINVAL);
}


static void
profiles_scan_pages(void **state)
{
    struct fixture *f = *state;
    static const char *const ids[] = { "p_3", "p_1", "p_5", "p_2", "p_4" };
    json_t *result;
    json_t *profiles;
    json_t *first;
    char email[32];

    for (size_t i = 0; i < 5; i++) {
        snprintf(email, sizeof(email), "%s@b.gov", ids[i]);
        profile_put(f, ids[i], email);
    }
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s, s:s, s:b, s:I}]}", "segments", "segment",
                  "parents", "profile", "p_1", "member", 1, "time",
                  (json_int_t)T0)));

    result = json_ok(f, f->ops->profiles_scan,
                     json_pack("{s:i}", "limit", 2));
    profiles = json_object_get(result, "profiles");
    assert_int_equal(json_array_size(profiles), 2);
    first = json_array_get(profiles, 0);
    assert_string_equal(member_str(first, "id"), "p_1");
    assert_string_equal(member_str(json_array_get(json_object_get(first,
                                                                  "identities"),
                                                  0), "value"),
                        "p_1@b.gov");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(first, "segments"), 0)),
                        "parents");
    assert_int_equal(member_int(first, "created"), T0);
    assert_string_equal(member_str(json_array_get(profiles, 1), "id"),
                        "p_2");
    assert_string_equal(member_str(result, "next"), "p_2");
    json_decref(result);

    result = json_ok(f, f->ops->profiles_scan,
                     json_pack("{s:i, s:s}", "limit", 3, "after", "p_2"));
    profiles = json_object_get(result, "profiles");
    assert_int_equal(json_array_size(profiles), 3);
    assert_string_equal(member_str(json_array_get(profiles, 2), "id"),
                        "p_5");
    assert_null(member_str(result, "next"));
    json_decref(result);

    result = json_ok(f, f->ops->profiles_scan, json_object());
    assert_int_equal(json_array_size(json_object_get(result, "profiles")),
                     5);
    assert_null(member_str(result, "next"));
    json_decref(result);
}


static void
profiles_scan_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->profiles_scan,
                               json_pack("{s:i}", "limit", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_scan,
                               json_pack("{s:i}", "limit", 1001), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_scan,
                               json_pack("{s:s}", "after", ""), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_scan,
                               json_pack("[]"), &result), CRIER_EINVAL);
}


const struct CMUnitTest scan_tests[] = {
    CASE(commit_appends_events),
    CASE(failed_commit_appends_nothing),
    CASE(commit_rejects_invalid_events),
    CASE(profiles_load_by_id),
    CASE(profiles_load_follows_merges),
    CASE(profiles_load_rejects_invalid_ids),
    CASE(profiles_scan_pages),
    CASE(profiles_scan_rejects_invalid),
};
const size_t scan_test_count = sizeof(scan_tests) / sizeof(scan_tests[0]);
