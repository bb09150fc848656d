/* Profiles, identities and stages: commit and profiles_load. */
#include <string.h>

#include "store_test.h"

#define T0 TESTHOST_EPOCH_MS


/* Commits one profile with one email identity and a first name. */
static void
profile_commit(struct fixture *f, const char *id, int64_t created,
               int64_t updated, const char *email, const char *name)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{s:s},"
                                  " s:[{s:s, s:s}]}]}",
                                  "profiles", "id", id,
                                  "created", (json_int_t)created,
                                  "updated", (json_int_t)updated,
                                  "attributes", "first_name", name,
                                  "identities", "kind", "email",
                                  "value", email)));
}


/* Loads the profiles owning the given email and returns the array. */
static json_t *
profiles_by_email(struct fixture *f, const char *email)
{
    json_t *result;
    json_t *profiles;

    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "email", "value", email));
    profiles = json_incref(json_object_get(result, "profiles"));
    json_decref(result);
    assert_true(json_is_array(profiles));
    return profiles;
}


static void
commit_creates_profile(void **state)
{
    struct fixture *f = *state;
    json_t *profiles;
    json_t *profile;
    json_t *identity;

    profile_commit(f, "p_1", T0, T0 + 1, "a@b.gov", "Ana");
    profiles = profiles_by_email(f, "a@b.gov");
    assert_int_equal(json_array_size(profiles), 1);
    profile = json_array_get(profiles, 0);
    assert_string_equal(member_str(profile, "id"), "p_1");
    assert_int_equal(member_int(profile, "created"), T0);
    assert_int_equal(member_int(profile, "updated"), T0 + 1);
    assert_string_equal(member_str(json_object_get(profile, "attributes"),
                                   "first_name"), "Ana");
    assert_int_equal(json_array_size(json_object_get(profile,
                                                     "identities")), 1);
    identity = json_array_get(json_object_get(profile, "identities"), 0);
    assert_string_equal(member_str(identity, "kind"), "email");
    assert_string_equal(member_str(identity, "value"), "a@b.gov");
    assert_true(json_is_object(json_object_get(profile, "stages")));
    assert_int_equal(json_object_size(json_object_get(profile, "stages")), 0);
    json_decref(profiles);
}


static void
commit_keeps_created_replaces_attributes(void **state)
{
    struct fixture *f = *state;
    json_t *profiles;
    json_t *profile;
    json_t *attributes;

    profile_commit(f, "p_1", T0, T0, "a@b.gov", "Ana");
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{s:s}}]}",
                                  "profiles", "id", "p_1",
                                  "created", (json_int_t)(T0 + 500),
                                  "updated", (json_int_t)(T0 + 600),
                                  "attributes", "city", "Lima")));
    profiles = profiles_by_email(f, "a@b.gov");
    assert_int_equal(json_array_size(profiles), 1);
    profile = json_array_get(profiles, 0);
    assert_int_equal(member_int(profile, "created"), T0);
    assert_int_equal(member_int(profile, "updated"), T0 + 600);
    attributes = json_object_get(profile, "attributes");
    assert_int_equal(json_object_size(attributes), 1);
    assert_string_equal(member_str(attributes, "city"), "Lima");
    assert_null(json_object_get(attributes, "first_name"));

    /* Identities are only ever added. */
    assert_int_equal(json_array_size(json_object_get(profile,
                                                     "identities")), 1);
    json_decref(profiles);
}


static void
commit_identity_stays_with_owner(void **state)
{
    struct fixture *f = *state;
    json_t *profiles;
    json_t *identities;
    json_t *result;

    profile_commit(f, "p_1", T0, T0, "a@b.gov", "Ana");
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{},"
                                  " s:[{s:s, s:s}, {s:s, s:s}]}]}",
                                  "profiles", "id", "p_2",
                                  "created", (json_int_t)T0,
                                  "updated", (json_int_t)T0,
                                  "attributes", "identities",
                                  "kind", "email", "value", "a@b.gov",
                                  "kind", "phone", "value", "+15550100")));

    profiles = profiles_by_email(f, "a@b.gov");
    assert_int_equal(json_array_size(profiles), 1);
    assert_string_equal(member_str(json_array_get(profiles, 0), "id"),
                        "p_1");
    json_decref(profiles);

    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}]}", "identities",
                               "kind", "phone", "value", "+15550100"));
    profiles = json_object_get(result, "profiles");
    assert_int_equal(json_array_size(profiles), 1);
    assert_string_equal(member_str(json_array_get(profiles, 0), "id"),
                        "p_2");
    identities = json_object_get(json_array_get(profiles, 0), "identities");
    assert_int_equal(json_array_size(identities), 1);
    assert_string_equal(member_str(json_array_get(identities, 0), "kind"),
                        "phone");
    json_decref(result);
}


static void
profiles_load_returns_each_once(void **state)
{
    struct fixture *f = *state;
    json_t *result;
    json_t *profiles;
    json_t *identities;

    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:I, s:I, s:{},"
                                  " s:[{s:s, s:s}, {s:s, s:s}]}]}",
                                  "profiles", "id", "p_1",
                                  "created", (json_int_t)T0,
                                  "updated", (json_int_t)T0,
                                  "attributes", "identities",
                                  "kind", "email", "value", "a@b.gov",
                                  "kind", "phone", "value", "+15550100")));
    profile_commit(f, "p_2", T0, T0, "c@d.gov", "Cy");

    result = json_ok(f, f->ops->profiles_load,
                     json_pack("{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s},"
                               " {s:s, s:s}]}", "identities",
                               "kind", "email", "value", "c@d.gov",
                               "kind", "phone", "value", "+15550100",
                               "kind", "email", "value", "nobody@b.gov",
                               "kind", "email", "value", "a@b.gov"));
    profiles = json_object_get(result, "profiles");
    assert_int_equal(json_array_size(profiles), 2);
    assert_string_equal(member_str(json_array_get(profiles, 0), "id"),
                        "p_2");
    assert_string_equal(member_str(json_array_get(profiles, 1), "id"),
                        "p_1");

    /* A profile lists its identities in the order they were added. */
    identities = json_object_get(json_array_get(profiles, 1), "identities");
    assert_int_equal(json_array_size(identities), 2);
    assert_string_equal(member_str(json_array_get(identities, 0), "kind"),
                        "email");
    assert_string_equal(member_str(json_array_get(identities, 1), "kind"),
                        "phone");
    json_decref(result);
}


static void
profiles_load_unknown_identity(void **state)
{
    struct fixture *f = *state;
    json_t *profiles;

    profile_commit(f, "p_1", T0, T0, "a@b.gov", "Ana");
    profiles = profiles_by_email(f, "A@b.gov");
    assert_int_equal(json_array_size(profiles), 0);
    json_decref(profiles);
}


static void
profiles_load_rejects_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    assert_int_equal(json_wait(f, f->ops->profiles_load, json_object(),
                               &result), CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_load,
                               json_pack("{s:[{s:s}]}", "identities",
                                         "kind", "email"), &result),
                     CRIER_EINVAL);
    assert_int_equal(json_wait(f, f->ops->profiles_load,
                               json_pack("{s:{}}", "identities"), &result),
                     CRIER_EINVAL);
}


/* Commits a stage move of p_1 in child-safety. */
static void
stage_commit(struct fixture *f, const char *from, const char *to,
             int64_t time, int64_t event_seq)
{
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:s?, s:s, s:I, s:I}]}",
                                  "stages", "profile", "p_1",
                                  "program", "child-safety", "from", from,
                                  "to", to, "time", (json_int_t)time,
                                  "event_seq", (json_int_t)event_seq)));
}


static void
commit_sets_stage(void **state)
{
    struct fixture *f = *state;
    json_t *profiles;
    json_t *stages;
    json_t *stage;

    profile_commit(f, "p_1", T0, T0, "a@b.gov", "Ana");
    stage_commit(f, NULL, "awareness", T0 + 10, 1);
    stage_commit(f, "awareness", "consideration", T0 + 20, 2);

    profiles = profiles_by_email(f, "a@b.gov");
    stages = json_object_get(json_array_get(profiles, 0), "stages");
    assert_int_equal(json_object_size(stages), 1);
    stage = json_object_get(stages, "child-safety");
    assert_string_equal(member_str(stage, "stage"), "consideration");
    assert_int_equal(member_int(stage, "since"), T0 + 20);
    json_decref(profiles);
}


static void
commit_stage_before_profile(void **state)
{
    struct fixture *f = *state;
    json_t *profiles;
    json_t *stage;

    /* A stage may name a profile that a later batch creates. */
    stage_commit(f, NULL, "awareness", T0 + 10, 1);
    profile_commit(f, "p_1", T0, T0, "a@b.gov", "Ana");
    profiles = profiles_by_email(f, "a@b.gov");
    stage = json_object_get(json_object_get(json_array_get(profiles, 0),
                                            "stages"), "child-safety");
    assert_string_equal(member_str(stage, "stage"), "awareness");
    json_decref(profiles);
}


static void
commit_empty_batch(void **state)
{
    struct fixture *f = *state;
    json_t *result = json_ok(f, f->ops->commit, json_object());

    assert_int_equal(member_int(result, "planned"), 0);
    assert_int_equal(member_int(result, "existing"), 0);
    json_decref(result);
}


static void
commit_rejects_invalid_batch(void **state)
{
    struct fixture *f = *state;
    static const char *const batches[] = {
        "[]",
        "{\"profiles\": {}}",
        "{\"profiles\": [{\"created\": 1, \"updated\": 1,"
        " \"attributes\": {}}]}",
        "{\"profiles\": [{\"id\": \"p\", \"created\": 1, \"updated\": 1,"
        " \"attributes\": []}]}",
        "{\"profiles\": [{\"id\": \"p\", \"created\": \"1\","
        " \"updated\": 1, \"attributes\": {}}]}",
        "{\"profiles\": [{\"id\": \"p\", \"created\": 1, \"updated\": 1,"
        " \"attributes\": {}, \"identities\": [{\"kind\": \"email\"}]}]}",
        "{\"stages\": [{\"profile\": \"p\", \"program\": \"x\","
        " \"time\": 1}]}",
        "{\"jobs\": [{\"rule\": \"r\", \"channel\": \"email\","
        " \"template\": \"t\", \"due\": 1}]}",
        "{\"jobs\": [{\"key\": \"k\", \"rule\": \"r\", \"channel\": \"email\","
        " \"template\": \"t\", \"due\": 1, \"event_seq\": 0}]}",
        "{\"cursor\": {\"name\": \"pipeline\", \"value\": -1}}",
        "{\"cursor\": {\"value\": 3}}"
    };
    json_t *result;
    size_t i;

    for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
        json_t *batch = json_loads(batches[i], 0, NULL);

        assert_non_null(batch);
        /* A valid cursor rides along, to show nothing of it is kept. */
        if (json_is_object(batch) && !json_object_get(batch, "cursor"))
            json_object_set_new(batch, "cursor",
                                json_pack("{s:s, s:i}", "name", "pipeline",
                                          "value", 9));
        assert_int_equal(json_wait(f, f->ops->commit, batch, &result),
                         CRIER_EINVAL);
    }
    assert_int_equal(cursor_get_wait(f, "pipeline", &result), 0);
    assert_int_equal(member_int(result, "value"), 0);
    json_decref(result);
}


const struct CMUnitTest profile_tests[] = {
    CASE(commit_creates_profile),
    CASE(commit_keeps_created_replaces_attributes),
    CASE(commit_identity_stays_with_owner),
    CASE(profiles_load_returns_each_once),
    CASE(profiles_load_unknown_identity),
    CASE(profiles_load_rejects_invalid),
    CASE(commit_sets_stage),
    CASE(commit_stage_before_profile),
    CASE(commit_empty_batch),
    CASE(commit_rejects_invalid_batch)
};

const size_t profile_test_count =
    sizeof(profile_tests) / sizeof(profile_tests[0]);
