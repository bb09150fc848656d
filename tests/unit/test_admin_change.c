/*
 * Tests of core/admin/change.c: checking a PATCH or PUT body and applying
 * it to a stored profile.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <jansson.h>

#include "admin/change.h"
#include "profile/attributes.h"

#define NOW 1767225700000

static const char *STORED =
    "{\"id\": \"p_1\", \"created\": 1767225600000,"
    " \"updated\": 1767225600000,"
    " \"attributes\": {\"first_name\": \"Ana\", \"city\": \"Springfield\"},"
    " \"identities\": [{\"kind\": \"email\", \"value\": \"a@b.gov\"}],"
    " \"stages\": {},"
    " \"consent\": {\"sms\": {\"state\": \"granted\", \"source\": \"api:x\","
    "               \"time\": 1767225600000}}}";


static json_t *
parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

    if (v == NULL)
        fail_msg("bad test JSON: %s", text);
    return v;
}


static GHashTable *
types_new(void)
{
    GHashTable *types = g_hash_table_new(g_str_hash, g_str_equal);

    g_hash_table_insert(types, "age", GINT_TO_POINTER(ATTRIBUTE_NUMBER));
    g_hash_table_insert(types, "birth_date",
                        GINT_TO_POINTER(ATTRIBUTE_DATE));
    return types;
}


/* Returns the field that admin_change_parse rejects `body` at, or NULL
 * when it accepts the body. */
static char *
rejected_field(const char *body, int replace)
{
    static char field[160];
    struct admin_change_error err;
    GHashTable *types = types_new();
    json_t *in = parse(body);
    json_t *change = admin_change_parse(in, replace, types, &err);

    json_decref(in);
    g_hash_table_unref(types);
    if (change != NULL) {
        json_decref(change);
        return NULL;
    }
    strcpy(field, err.field);
    return field;
}


static void
parse_rejects_bad_bodies(void **state)
{
    static const struct {
        const char *body;
        int replace;
        const char *field;
    } cases[] = {
        {"[]", 0, ""},
        {"\"x\"", 0, ""},
        {"{\"identities\": []}", 0, "identities"},
        {"{\"stages\": {}}", 0, "stages"},
        {"{\"id\": \"p_2\"}", 0, "id"},
        {"{\"colour\": 1}", 0, "colour"},
        {"{\"attributes\": []}", 0, "attributes"},
        {"{\"attributes\": {\"age\": \"four\"}}", 0, "attributes.age"},
        {"{\"attributes\": {\"birth_date\": \"2025-02-30\"}}", 1,
         "attributes.birth_date"},
        {"{\"attributes\": {\"\": 1}}", 0, "attributes"},
        {"{\"consent\": {\"email\": \"yes\"}}", 0, "consent.email"},
        {"{\"consent\": {\"Email\": \"revoked\"}}", 0, "consent.Email"},
        {"{\"consent\": {\"email\": null}}", 0, "consent.email"},
        {"{\"consent\": \"revoked\"}", 0, "consent"},
        {"{\"consent\": {}}", 1, "attributes"},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *field = rejected_field(cases[i].body, cases[i].replace);

        if (field == NULL)
            fail_msg("accepted %s", cases[i].body);
        assert_string_equal(field, cases[i].field);
    }
}


static void
parse_accepts_and_normalises(void **state)
{
    struct admin_change_error err;
    GHashTable *types = types_new();
    json_t *body = parse("{\"attributes\": {\"age\": 4, \"city\": null},"
                         " \"consent\": {\"email\": \"revoked\"}}");
    json_t *change = admin_change_parse(body, 0, types, &err);
    json_t *expected = parse("{\"attributes\": {\"age\": 4, \"city\": null},"
                             " \"consent\": {\"email\": \"revoked\"}}");

    (void) state;
    assert_non_null(change);
    assert_true(json_equal(change, expected));
    json_decref(change);
    json_decref(body);
    json_decref(expected);
    g_hash_table_unref(types);
}


static json_t *
applied(const char *change_text, int replace)
{
    json_t *profile = parse(STORED);
    json_t *change = parse(change_text);
    json_t *out = admin_change_apply(profile, change, replace, NOW);

    json_decref(profile);
    json_decref(change);
    return out;
}


static void
patch_sets_removes_and_keeps(void **state)
{
    json_t *out = applied("{\"attributes\": {\"age\": 4, \"city\": null},"
                          " \"consent\": {\"email\": \"revoked\"}}", 0);
    json_t *expected = parse(
        "{\"id\": \"p_1\", \"created\": 1767225600000,"
        " \"updated\": 1767225700000,"
        " \"attributes\": {\"first_name\": \"Ana\", \"age\": 4},"
        " \"identities\": [{\"kind\": \"email\", \"value\": \"a@b.gov\"}],"
        " \"consent\": {\"sms\": {\"state\": \"granted\","
        "                         \"source\": \"api:x\","
        "                         \"time\": 1767225600000},"
        "               \"email\": {\"state\": \"revoked\","
        "                           \"source\": \"admin\","
        "                           \"time\": 1767225700000}}}");

    (void) state;
    assert_true(json_equal(out, expected));
    json_decref(out);
    json_decref(expected);
}


static void
put_replaces_attributes(void **state)
{
    json_t *out = applied("{\"attributes\": {\"age\": 5}}", 1);
    json_t *attributes = parse("{\"age\": 5}");

    (void) state;
    assert_true(json_equal(json_object_get(out, "attributes"), attributes));
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        json_object_get(out, "consent"), "sms"), "state")), "granted");
    assert_null(json_object_get(out, "stages"));
    json_decref(out);
    json_decref(attributes);
}


static void
put_replaces_consent_map(void **state)
{
    json_t *out = applied("{\"attributes\": {},"
                          " \"consent\": {\"email\": \"granted\"}}", 1);
    json_t *consent = json_object_get(out, "consent");

    (void) state;
    assert_int_equal(json_object_size(consent), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        consent, "email"), "source")), "admin");
    json_decref(out);
}


static void
names_lists_changed_members(void **state)
{
    json_t *before = parse("{\"a\": 1, \"b\": 2, \"c\": 3}");
    json_t *after = parse("{\"a\": 1, \"b\": 5, \"d\": 4}");
    char *names = admin_change_names(before, after);
    char *none = admin_change_names(before, before);

    (void) state;
    assert_string_equal(names, "b,d,c");
    assert_string_equal(none, "");
    g_free(names);
    g_free(none);
    json_decref(before);
    json_decref(after);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_rejects_bad_bodies),
        cmocka_unit_test(parse_accepts_and_normalises),
        cmocka_unit_test(patch_sets_removes_and_keeps),
        cmocka_unit_test(put_replaces_attributes),
        cmocka_unit_test(put_replaces_consent_map),
        cmocka_unit_test(names_lists_changed_members),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
