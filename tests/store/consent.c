/* Consent per channel kind: stored, replaced, returned and merged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS


static json_t *
parse(const char *text)
{
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);

    assert_non_null(value);
    return value;
}


/*
 * Commits profile `id` with one email identity and the consent map in
 * `consent`, JSON text or NULL for a write without "consent".
 */
static void
consent_put(struct fixture *f, const char *id, const char *email,
            const char *consent)
{
    json_t *profile = json_pack("{s:s, s:I, s:I, s:{}, s:[{s:s, s:s}]}",
                                "id", id, "created", (json_int_t)T0,
                                "updated", (json_int_t)T0, "attributes",
                                "identities", "kind", "email",
                                "value", email);

    if (consent != NULL)
        json_object_set_new(profile, "consent", parse(consent));
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[o]}", "profiles", profile)));
}


/* Returns the consent map of profile `id` as profile_get returns it. */
static json_t *
consent_of(struct fixture *f, const char *id)
{
    json_t *result = json_ok(f, f->ops->profile_get,
                             json_pack("{s:s}", "id", id));
    json_t *consent = json_object_get(json_object_get(result, "profile"),
                                      "consent");

    assert_true(json_is_object(consent));
    json_incref(consent);
    json_decref(result);
    return consent;
}


static void
assert_consent(struct fixture *f, const char *id, const char *expected)
{
    json_t *got = consent_of(f, id);
    json_t *want = parse(expected);

    if (!json_equal(got, want)) {
        char *text = json_dumps(got, JSON_SORT_KEYS);

        print_error("expected %s\ngot      %s\n", expected, text);
        free(text);
    }
    assert_true(json_equal(got, want));
    json_decref(want);
    json_decref(got);
}


static const char revoked_email[] =
    "{\"email\": {\"state\": \"revoked\", \"source\": \"api:form\","
    "            \"time\": 1000},"
    " \"sms\": {\"state\": \"granted\", \"source\": \"api:form\","
    "          \"time\": 1000}}";


static void
consent_stored_and_returned(void **state)
{
    struct fixture *f = *state;
    json_t *expected = parse(revoked_email);
    json_t *result;
    json_t *profile;

    consent_put(f, "p_1", "a@b.gov", revoked_email);
    assert_consent(f, "p_1", revoked_email);

    /* profiles_load returns the same map. */
    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "email", "value", "a@b.gov"));
    profile = json_array_get(json_object_get(result, "profiles"), 0);
    assert_true(json_equal(json_object_get(profile, "consent"), expected));
    json_decref(result);
    json_decref(expected);
}


static void
consent_empty_by_default(void **state)
{
    struct fixture *f = *state;

    consent_put(f, "p_1", "a@b.gov", NULL);
    assert_consent(f, "p_1", "{}");
}


static void
consent_replaced_whole(void **state)
{
    struct fixture *f = *state;
    static const char granted_email[] =
        "{\"email\": {\"state\": \"granted\", \"source\": \"api:opt_in\","
        "            \"time\": 2000}}";

    consent_put(f, "p_1", "a@b.gov", revoked_email);
    consent_put(f, "p_1", "a@b.gov", granted_email);
    assert_consent(f, "p_1", granted_email);

    /* A write without "consent", or with null, keeps the stored map. */
    consent_put(f, "p_1", "a@b.gov", NULL);
    assert_consent(f, "p_1", granted_email);
    consent_put(f, "p_1", "a@b.gov", "null");
    assert_consent(f, "p_1", granted_email);

    consent_put(f, "p_1", "a@b.gov", "{}");
    assert_consent(f, "p_1", "{}");
}


static void
consent_merge_restrictive(void **state)
{
    struct fixture *f = *state;

    consent_put(f, "p_known", "k@b.gov",
                "{\"sms\": {\"state\": \"revoked\", \"source\": \"api:a\","
                "          \"time\": 100},"
                " \"email\": {\"state\": \"granted\", \"source\": \"api:a\","
                "            \"time\": 100},"
                " \"webhook\": {\"state\": \"granted\", \"source\": \"api:a\","
                "              \"time\": 300}}");
    consent_put(f, "p_anon", "v@b.gov",
                "{\"sms\": {\"state\": \"granted\", \"source\": \"b:b\","
                "          \"time\": 500},"
                " \"email\": {\"state\": \"granted\", \"source\": \"b:b\","
                "            \"time\": 200},"
                " \"webhook\": {\"state\": \"granted\", \"source\": \"b:b\","
                "              \"time\": 200},"
                " \"push\": {\"state\": \"revoked\", \"source\": \"b:b\","
                "           \"time\": 50}}");
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:I}]}", "merges",
                                  "from", "p_anon", "into", "p_known",
                                  "time", (json_int_t)(T0 + 5))));
    assert_consent(f, "p_known",
                   "{\"sms\": {\"state\": \"revoked\", \"source\": \"api:a\","
                   "          \"time\": 100},"
                   " \"email\": {\"state\": \"granted\", \"source\": \"b:b\","
                   "            \"time\": 200},"
                   " \"webhook\": {\"state\": \"granted\","
                   "              \"source\": \"api:a\", \"time\": 300},"
                   " \"push\": {\"state\": \"revoked\", \"source\": \"b:b\","
                   "           \"time\": 50}}");
}


static void
consent_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    static const char *const maps[] = {
        "[]",
        "{\"email\": \"revoked\"}",
        "{\"email\": {\"state\": \"unknown\", \"source\": \"api:a\","
        "            \"time\": 1}}",
        "{\"email\": {\"source\": \"api:a\", \"time\": 1}}",
        "{\"email\": {\"state\": \"revoked\", \"time\": 1}}",
        "{\"email\": {\"state\": \"revoked\", \"source\": \"\","
        "            \"time\": 1}}",
        "{\"email\": {\"state\": \"revoked\", \"source\": \"api:a\"}}",
        "{\"email\": {\"state\": \"revoked\", \"source\": \"api:a\","
        "            \"time\": \"1\"}}",
        "{\"\": {\"state\": \"revoked\", \"source\": \"api:a\","
        "       \"time\": 1}}",
    };
    json_t *result;
    size_t i;

    for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
        json_t *profile = json_pack("{s:s, s:I, s:I, s:{}, s:o}", "id", "p_1",
                                    "created", (json_int_t)T0,
                                    "updated", (json_int_t)T0,
                                    "attributes", "consent",
                                    parse(maps[i]));

        if (json_wait(f, f->ops->commit,
                      json_pack("{s:[o]}", "profiles", profile),
                      &result) != CRIER_EINVAL)
            fail_msg("consent map %zu was accepted: %s", i, maps[i]);
    }
}


static void
schema_version_3_upgrades(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *expected;
    json_t *result;
    json_t *rows;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    json_decref(json_ok(f, f->ops->commit,
                        parse("{\"profiles\": [{\"id\": \"p_1\","
                              " \"created\": 10, \"updated\": 20,"
                              " \"attributes\": {\"city\": \"Lima\"},"
                              " \"identities\": [{\"kind\": \"email\","
                              "                   \"value\": \"a@b.gov\"}]}],"
                              " \"stages\": [{\"profile\": \"p_1\","
                              " \"program\": \"kids\", \"to\": \"awareness\","
                              " \"time\": 30}]}")));
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    sqlite_file_downgrade(path, 3);
    rows = sqlite_file_rows(path, "SELECT count(*) FROM pragma_table_info"
                                  "('profiles') WHERE name = 'consent'");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows,
                                                                      0),
                                                       0)), 0);
    json_decref(rows);

    assert_int_equal(store_open(f, store_config()), 0);

    /* The old profile reads as before, with no consent. */
    result = json_ok(f, f->ops->profile_get, json_pack("{s:s}", "id",
                                                       "p_1"));
    expected = parse("{\"id\": \"p_1\", \"created\": 10, \"updated\": 20,"
                     " \"attributes\": {\"city\": \"Lima\"}, \"consent\": {},"
                     " \"related\": {\"dependents\": {}, \"cases\": {}},"
                     " \"identities\": [{\"kind\": \"email\","
                     "                   \"value\": \"a@b.gov\"}],"
                     " \"stages\": {\"kids\": {\"stage\": \"awareness\","
                     "                         \"since\": 30}}}");
    assert_true(json_equal(json_object_get(result, "profile"), expected));
    json_decref(expected);
    json_decref(result);

    /* The new column takes a map. */
    consent_put(f, "p_1", "a@b.gov", revoked_email);
    assert_consent(f, "p_1", revoked_email);
    store_close(f);

    rows = sqlite_file_rows(path, "SELECT version FROM schema_version");
    assert_int_equal(json_integer_value(json_array_get(json_array_get(rows,
                                                                      0),
                                                       0)),
                     SQLITE_SCHEMA_LATEST);
    json_decref(rows);
}


const struct CMUnitTest consent_tests[] = {
    CASE(consent_stored_and_returned),
    CASE(consent_empty_by_default),
    CASE(consent_replaced_whole),
    CASE(consent_merge_restrictive),
    CASE(consent_rejects_invalid),
    CASE(schema_version_3_upgrades)
};

const size_t consent_test_count =
    sizeof(consent_tests) / sizeof(consent_tests[0]);
