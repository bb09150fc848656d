/* Segment membership: entries and exits in commits, counts, member pages,
 * profiles_load, merges, erasure and the schema upgrade from version 5. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

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


/* Commits one entry (`member` nonzero) or exit of `segment`. */
static void
membership_put(struct fixture *f, const char *segment, const char *id,
               int member, int64_t time)
{
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s, s:s, s:b, s:I}]}", "segments", "segment",
                  segment, "profile", id, "member", member,
                  "time", (json_int_t)time)));
}


static int64_t
segment_size(struct fixture *f, const char *segment)
{
    json_t *result = json_ok(f, f->ops->segment_count,
                             json_pack("{s:s}", "segment", segment));
    int64_t count = member_int(result, "count");

    json_decref(result);
    return count;
}


/* Returns the "segments" list that profiles_load gives the profile that
 * owns `email`, as compact JSON text to free(). */
static char *
loaded_segments(struct fixture *f, const char *email)
{
    json_t *result = json_ok(f, f->ops->profiles_load,
        json_pack("{s:[{s:s, s:s}]}", "identities", "kind", "email",
                  "value", email));
    json_t *profile = json_array_get(json_object_get(result, "profiles"),
                                     0);
    char *text = json_dumps(json_object_get(profile, "segments"),
                            JSON_COMPACT | JSON_ENCODE_ANY);

    json_decref(result);
    return text;
}


static void
segment_entry_and_exit(void **state)
{
    struct fixture *f = *state;
    char *text;

    profile_put(f, "p_1", "a@b.gov");
    text = loaded_segments(f, "a@b.gov");
    assert_string_equal(text, "[]");
    free(text);

    membership_put(f, "parents", "p_1", 1, T0);
    membership_put(f, "adults", "p_1", 1, T0);
    assert_int_equal(segment_size(f, "parents"), 1);
    text = loaded_segments(f, "a@b.gov");
    assert_string_equal(text, "[\"adults\",\"parents\"]");
    free(text);

    membership_put(f, "parents", "p_1", 0, T0 + 10);
    assert_int_equal(segment_size(f, "parents"), 0);
    assert_int_equal(segment_size(f, "adults"), 1);
    assert_int_equal(segment_size(f, "unknown"), 0);
}


static void
segment_entry_keeps_since(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    membership_put(f, "parents", "p_1", 1, T0);
    membership_put(f, "parents", "p_1", 1, T0 + 99);
    result = json_ok(f, f->ops->segment_members,
                     json_pack("{s:s}", "segment", "parents"));
    assert_int_equal(member_int(json_array_get(json_object_get(result,
                                                               "members"),
                                               0), "since"), T0);
    json_decref(result);
}


static void
segment_members_pages(void **state)
{
    struct fixture *f = *state;
    static const char *const ids[] = { "p_3", "p_1", "p_4", "p_2", "p_5" };
    json_t *result;
    json_t *members;

    for (size_t i = 0; i < 5; i++)
        membership_put(f, "parents", ids[i], 1, T0 + (int64_t) i);
    membership_put(f, "adults", "p_0", 1, T0);

    result = json_ok(f, f->ops->segment_members,
                     json_pack("{s:s, s:i}", "segment", "parents",
                               "limit", 2));
    members = json_object_get(result, "members");
    assert_int_equal(json_array_size(members), 2);
    assert_string_equal(member_str(json_array_get(members, 0), "profile"),
                        "p_1");
    assert_int_equal(member_int(json_array_get(members, 0), "since"),
                     T0 + 1);
    assert_string_equal(member_str(json_array_get(members, 1), "profile"),
                        "p_2");
    assert_string_equal(member_str(result, "next"), "p_2");
    json_decref(result);

    result = json_ok(f, f->ops->segment_members,
                     json_pack("{s:s, s:i, s:s}", "segment", "parents",
                               "limit", 3, "after", "p_2"));
    members = json_object_get(result, "members");
    assert_int_equal(json_array_size(members), 3);
    assert_string_equal(member_str(json_array_get(members, 2), "profile"),
                        "p_5");
    assert_null(member_str(result, "next"));
    json_decref(result);

    result = json_ok(f, f->ops->segment_members,
                     json_pack("{s:s}", "segment", "none"));
    assert_int_equal(json_array_size(json_object_get(result, "members")),
                     0);
    assert_null(member_str(result, "next"));
    json_decref(result);
}


static void
segment_requests_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result = NULL;

    assert_int_equal(json_wait(f, f->ops->segment_count, json_pack("{}"),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->segment_members,
                               json_pack("{s:s, s:i}", "segment", "x",
                                         "limit", 0), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->commit,
                               json_pack("{s:[{s:s, s:s}]}", "segments",
                                         "segment", "x", "profile", "p"),
                               &result), CRIER_EINVAL);
}


static void
segment_erase_removes(void **state)
{
    struct fixture *f = *state;

    profile_put(f, "p_1", "a@b.gov");
    profile_put(f, "p_2", "c@d.gov");
    membership_put(f, "parents", "p_1", 1, T0);
    membership_put(f, "parents", "p_2", 1, T0);
    json_decref(json_ok(f, f->ops->profile_erase,
                        json_pack("{s:s, s:I}", "id", "p_1",
                                  "now", (json_int_t)T0)));
    assert_int_equal(segment_size(f, "parents"), 1);
}


static void
segment_merge_keeps_into(void **state)
{
    struct fixture *f = *state;
    char *text;

    profile_put(f, "p_1", "a@b.gov");
    profile_put(f, "p_2", "c@d.gov");
    membership_put(f, "parents", "p_1", 1, T0);
    membership_put(f, "adults", "p_2", 1, T0);
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:I}]}", "merges", "from",
                                  "p_1", "into", "p_2",
                                  "time", (json_int_t)T0)));
    assert_int_equal(segment_size(f, "parents"), 0);
    assert_int_equal(segment_size(f, "adults"), 1);
    text = loaded_segments(f, "c@d.gov");
    assert_string_equal(text, "[\"adults\"]");
    free(text);
}


static void
schema_version_5_upgrades(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *rows;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    profile_put(f, "p_1", "a@b.gov");
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    sqlite_file_downgrade(path, 5);

    assert_int_equal(store_open(f, store_config()), 0);
    free(loaded_segments(f, "a@b.gov"));
    membership_put(f, "parents", "p_1", 1, T0);
    assert_int_equal(segment_size(f, "parents"), 1);
    store_close(f);

    rows = sqlite_file_rows(path, "SELECT version FROM schema_version");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows,
                                                                      0),
                                                       0)),
                     SQLITE_SCHEMA_LATEST);
    json_decref(rows);
    rows = sqlite_file_rows(path, "SELECT id FROM profiles");
    assert_int_equal(json_array_size(rows), 1);
    json_decref(rows);
}


const struct CMUnitTest segment_tests[] = {
    CASE(segment_entry_and_exit),
    CASE(segment_entry_keeps_since),
    CASE(segment_members_pages),
    CASE(segment_requests_invalid),
    CASE(segment_erase_removes),
    CASE(segment_merge_keeps_into),
    CASE(schema_version_5_upgrades)
};

const size_t segment_test_count =
    sizeof(segment_tests) / sizeof(segment_tests[0]);
