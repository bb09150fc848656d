/* Related records, dependents and cases: stored, replaced, returned,
 * merged and kept by the schema upgrade from version 4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS

static const char child_and_case[] =
    "{\"dependents\": {\"child-1\": {\"attributes\":"
    "                               {\"birth_date\": \"2025-06-01\"},"
    "                               \"updated\": 1000}},"
    " \"cases\": {\"14-1\": {\"type\": \"SNAP\", \"status\": \"open\","
    "                       \"opened\": 500, \"closed\": null,"
    "                       \"outcome\": null, \"attributes\": {},"
    "                       \"updated\": 1000}}}";

static const char empty_related[] = "{\"dependents\": {}, \"cases\": {}}";


static json_t *
parse(const char *text)
{
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);

    assert_non_null(value);
    return value;
}


/*
 * Commits profile `id` with one email identity and the related map in
 * `related`, JSON text or NULL for a write without "related".
 */
static void
related_put(struct fixture *f, const char *id, const char *email,
            const char *related)
{
    json_t *profile = json_pack("{s:s, s:I, s:I, s:{}, s:[{s:s, s:s}]}",
                                "id", id, "created", (json_int_t)T0,
                                "updated", (json_int_t)T0, "attributes",
                                "identities", "kind", "email",
                                "value", email);

    if (related != NULL)
        json_object_set_new(profile, "related", parse(related));
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[o]}", "profiles", profile)));
}


static void
assert_related(struct fixture *f, const char *id, const char *expected)
{
    json_t *result = json_ok(f, f->ops->profile_get,
                             json_pack("{s:s}", "id", id));
    json_t *got = json_object_get(json_object_get(result, "profile"),
                                  "related");
    json_t *want = parse(expected);

    if (!json_equal(got, want)) {
        char *text = json_dumps(got, JSON_SORT_KEYS);

        print_error("expected %s\ngot      %s\n", expected, text);
        free(text);
    }
    assert_true(json_equal(got, want));
    json_decref(want);
    json_decref(result);
}


static void
related_stored_and_returned(void **state)
{
    struct fixture *f = *state;
    json_t *expected = parse(child_and_case);
    json_t *result;
    json_t *profile;

    related_put(f, "p_1", "a@b.gov", child_and_case);
    assert_related(f, "p_1", child_and_case);

    /* profiles_load returns the same map. */
    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "email", "value", "a@b.gov"));
    profile = json_array_get(json_object_get(result, "profiles"), 0);
    assert_true(json_equal(json_object_get(profile, "related"), expected));
    json_decref(result);
    json_decref(expected);
}


static void
related_empty_by_default(void **state)
{
    struct fixture *f = *state;

    related_put(f, "p_1", "a@b.gov", NULL);
    assert_related(f, "p_1", empty_related);
}


static void
related_replaced_whole(void **state)
{
    struct fixture *f = *state;
    static const char other_child[] =
        "{\"dependents\": {\"child-2\": {\"attributes\": {},"
        "                               \"updated\": 2000}},"
        " \"cases\": {}}";

    related_put(f, "p_1", "a@b.gov", child_and_case);
    related_put(f, "p_1", "a@b.gov", other_child);
    assert_related(f, "p_1", other_child);

    /* A write without "related", or with null, keeps the stored map. */
    related_put(f, "p_1", "a@b.gov", NULL);
    assert_related(f, "p_1", other_child);
    related_put(f, "p_1", "a@b.gov", "null");
    assert_related(f, "p_1", other_child);

    related_put(f, "p_1", "a@b.gov", "{}");
    assert_related(f, "p_1", empty_related);
}


static void
related_merge_fills(void **state)
{
    struct fixture *f = *state;

    related_put(f, "p_known", "k@b.gov",
                "{\"dependents\": {\"c1\": {\"attributes\": {\"n\": 1}}}}");
    related_put(f, "p_anon", "v@b.gov",
                "{\"dependents\": {\"c1\": {\"attributes\": {\"n\": 2}},"
                "                  \"c2\": {\"attributes\": {\"n\": 3}}},"
                " \"cases\": {\"k1\": {\"status\": \"open\"}}}");
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:I}]}", "merges",
                                  "from", "p_anon", "into", "p_known",
                                  "time", (json_int_t)(T0 + 5))));
    assert_related(f, "p_known",
                   "{\"dependents\": {\"c1\": {\"attributes\": {\"n\": 1}},"
                   "                  \"c2\": {\"attributes\": {\"n\": 3}}},"
                   " \"cases\": {\"k1\": {\"status\": \"open\"}}}");
}


static void
related_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    static const char *const maps[] = {
        "[]",
        "{\"children\": {}}",
        "{\"dependents\": []}",
        "{\"dependents\": {\"c1\": 3}}",
        "{\"cases\": {\"\": {}}}",
    };
    json_t *result;
    size_t i;

    for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        json_t *profile = json_pack("{s:s, s:I, s:I, s:{}, s:o}", "id", "p_1",
                                    "created", (json_int_t)T0,
                                    "updated", (json_int_t)T0,
                                    "attributes", "related",
                                    parse(maps[i]));

        if (json_wait(f, f->ops->commit,
                      json_pack("{s:[o]}", "profiles", profile),
                      &result) != CRIER_EINVAL)
            fail_msg("related map %zu was accepted: %s", i, maps[i]);
    }
}


static void
schema_version_4_upgrades(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *result;
    json_t *rows;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    related_put(f, "p_1", "a@b.gov", NULL);
    json_decref(json_ok(f, f->ops->commit,
                        parse("{\"profiles\": [{\"id\": \"p_1\","
                              " \"created\": 10, \"updated\": 20,"
                              " \"attributes\": {\"city\": \"Lima\"},"
                              " \"consent\": {\"email\": {\"state\":"
                              "   \"revoked\", \"source\": \"api:a\","
                              "   \"time\": 5}},"
                              " \"identities\": []}]}")));
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    sqlite_file_downgrade(path, 4);

    assert_int_equal(store_open(f, store_config()), 0);

    /* The old profile keeps its data and reads with no related records. */
    result = json_ok(f, f->ops->profile_get, json_pack("{s:s}", "id",
                                                       "p_1"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_object_get(result, "profile"), "attributes"), "city")), "Lima");
    assert_non_null(json_object_get(json_object_get(json_object_get(
        result, "profile"), "consent"), "email"));
    json_decref(result);
    assert_related(f, "p_1", empty_related);

    /* The new column takes a map. */
    related_put(f, "p_1", "a@b.gov", child_and_case);
    assert_related(f, "p_1", child_and_case);
    store_close(f);

    rows = sqlite_file_rows(path, "SELECT version FROM schema_version");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows,
                                                                      0),
                                                       0)),
                     SQLITE_SCHEMA_LATEST);
    json_decref(rows);
}


const struct CMUnitTest related_tests[] = {
    CASE(related_stored_and_returned),
    CASE(related_empty_by_default),
    CASE(related_replaced_whole),
    CASE(related_merge_fills),
    CASE(related_rejects_invalid),
    CASE(schema_version_4_upgrades)
};

const size_t related_test_count =
    sizeof(related_tests) / sizeof(related_tests[0]);
