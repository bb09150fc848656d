/*
 * Tests of core/profile/attributes.c: the checks of each attribute type,
 * the `attributes` group of plugins.conf, and event_normalize applying
 * the declared types to an event's attributes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "crier/error.h"
#include "ingest/ingest.h"
#include "profile/attributes.h"
#include "server/server.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct text_case {
    const char *in;
    const char *out;            /* the normalised form, or NULL when invalid */
};

struct value_case {
    enum attribute_type type;
    const char *in;             /* JSON */
    int valid;
};


static json_t *
parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return v;
}


static void
date_checks(void **state)
{
    static const struct text_case cases[] = {
        {"2024-02-29", "valid"},
        {"2025-02-28", "valid"},
        {"2000-02-29", "valid"},
        {"0001-01-01", "valid"},
        {"9999-12-31", "valid"},
        {"2025-02-29", NULL},
        {"1900-02-29", NULL},
        {"2025-13-01", NULL},
        {"2025-00-10", NULL},
        {"2025-04-31", NULL},
        {"2025-01-00", NULL},
        {"0000-01-01", NULL},
        {"2025-1-01", NULL},
        {"2025-01-011", NULL},
        {"2025/01/01", NULL},
        {"2025-01-01T00:00:00Z", NULL},
        {"+025-01-01", NULL},
        {"", NULL},
    };

    (void) state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        if (attribute_date_valid(cases[i].in) != (cases[i].out != NULL))
            print_error("date \"%s\"\n", cases[i].in);
        assert_int_equal(attribute_date_valid(cases[i].in),
                         cases[i].out != NULL);
    }
}


static void
timezone_checks(void **state)
{
    static const struct text_case cases[] = {
        {"America/Chicago", "valid"},
        {"America/Argentina/Buenos_Aires", "valid"},
        {"Etc/GMT+5", "valid"},
        {"UTC", "valid"},
        {"Mars/Olympus", NULL},
        {"UTC+5", NULL},
        {"+05:00", NULL},
        {"CST6CDT,M3.2.0,M11.1.0", NULL},
        {"america/chicago", NULL},
        {"America/", NULL},
        {"/America/Chicago", NULL},
        {"America//Chicago", NULL},
        {"../../etc/passwd", NULL},
        {"localtime", NULL},
        {"posixrules", NULL},
        {"Factory", NULL},
        {"right/UTC", NULL},
        {"posix/America/Chicago", NULL},
        {"US/Eastern", "valid"},
        {"zone.tab", NULL},
        {"", NULL},
    };

    (void) state;
    for (int round = 0; round < 2; round++) {
        /* The second round hits the cache of valid names. */
        for (size_t i = 0; i < COUNT(cases); i++) {
            int valid = attribute_timezone_valid(cases[i].in);

            if (valid != (cases[i].out != NULL))
                print_error("time zone \"%s\"\n", cases[i].in);
            assert_int_equal(valid, cases[i].out != NULL);
        }
    }
}


static void
language_checks(void **state)
{
    static const struct text_case cases[] = {
        {"en", "en"},
        {"EN", "en"},
        {"en-us", "en-US"},
        {"es-MX", "es-MX"},
        {"zh-hant-tw", "zh-Hant-TW"},
        {"ZH-HANT-TW", "zh-Hant-TW"},
        {"sr-latn", "sr-Latn"},
        {"es-419", "es-419"},
        {"de-CH-1901", "de-CH-1901"},
        {"sl-ROZAJ", "sl-rozaj"},
        {"yue-HK", "yue-HK"},
        {"zh-yue", "zh-yue"},
        {"e", NULL},
        {"engl", NULL},
        {"e1", NULL},
        {"en-", NULL},
        {"-en", NULL},
        {"en--US", NULL},
        {"en-x-twain", NULL},
        {"en-abcdefghi", NULL},
        {"en_US", NULL},
        {"en US", NULL},
        {"", NULL},
    };

    (void) state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        char *got = attribute_language_normalize(cases[i].in);

        if (g_strcmp0(got, cases[i].out) != 0)
            print_error("language \"%s\": got %s\n", cases[i].in,
                        got ? got : "NULL");
        if (cases[i].out == NULL)
            assert_null(got);
        else
            assert_string_equal(got, cases[i].out);
        g_free(got);
    }
}


static void
type_names(void **state)
{
    static const char *const names[] = {
        "string", "number", "bool", "date", "timezone", "language"
    };
    enum attribute_type type;

    (void) state;
    for (size_t i = 0; i < COUNT(names); i++) {
        assert_int_equal(attribute_type_parse(names[i], &type), 0);
        assert_int_equal(type, ATTRIBUTE_STRING + (int) i);
    }
    assert_int_equal(attribute_type_parse("datetime", &type), -1);
    assert_int_equal(attribute_type_parse("String", &type), -1);
    assert_int_equal(attribute_type_parse("", &type), -1);
    assert_string_equal(attribute_type_expectation(ATTRIBUTE_DATE),
                        "must be a date such as 2025-03-14");
}


static void
value_checks(void **state)
{
    static const struct value_case cases[] = {
        {ATTRIBUTE_STRING, "\"Ana\"", 1},
        {ATTRIBUTE_STRING, "\"\"", 1},
        {ATTRIBUTE_STRING, "4", 0},
        {ATTRIBUTE_STRING, "{\"a\": 1}", 0},
        {ATTRIBUTE_NUMBER, "4", 1},
        {ATTRIBUTE_NUMBER, "-2.5", 1},
        {ATTRIBUTE_NUMBER, "0", 1},
        {ATTRIBUTE_NUMBER, "\"4\"", 0},
        {ATTRIBUTE_NUMBER, "true", 0},
        {ATTRIBUTE_NUMBER, "[4]", 0},
        {ATTRIBUTE_BOOL, "true", 1},
        {ATTRIBUTE_BOOL, "false", 1},
        {ATTRIBUTE_BOOL, "\"true\"", 0},
        {ATTRIBUTE_BOOL, "1", 0},
        {ATTRIBUTE_DATE, "\"2024-02-29\"", 1},
        {ATTRIBUTE_DATE, "\"2025-02-29\"", 0},
        {ATTRIBUTE_DATE, "20250101", 0},
        {ATTRIBUTE_TIMEZONE, "\"America/Chicago\"", 1},
        {ATTRIBUTE_TIMEZONE, "\"Mars/Olympus\"", 0},
        {ATTRIBUTE_TIMEZONE, "5", 0},
        {ATTRIBUTE_LANGUAGE, "\"es-MX\"", 1},
        {ATTRIBUTE_LANGUAGE, "\"spanish please\"", 0},
        {ATTRIBUTE_LANGUAGE, "false", 0},
    };
    GHashTable *types = g_hash_table_new(g_str_hash, g_str_equal);

    (void) state;
    for (size_t i = 0; i < COUNT(cases); i++) {
        enum attribute_type type = 0;
        json_t *in = parse(cases[i].in);
        json_t *out;

        g_hash_table_insert(types, "x", GINT_TO_POINTER(cases[i].type));
        out = attribute_value_normalize(types, "x", in, &type);
        if ((out != NULL) != cases[i].valid)
            print_error("type %d, value %s\n", cases[i].type, cases[i].in);
        assert_int_equal(out != NULL, cases[i].valid);
        if (out != NULL)
            assert_true(json_equal(out, in));
        else
            assert_int_equal(type, cases[i].type);
        json_decref(out);
        json_decref(in);
    }
    g_hash_table_unref(types);
}


static void
value_language_normalised(void **state)
{
    GHashTable *types = g_hash_table_new(g_str_hash, g_str_equal);
    enum attribute_type type;
    json_t *in = json_string("en-us");
    json_t *out;

    (void) state;
    g_hash_table_insert(types, "language",
                        GINT_TO_POINTER(ATTRIBUTE_LANGUAGE));
    out = attribute_value_normalize(types, "language", in, &type);
    assert_non_null(out);
    assert_string_equal(json_string_value(out), "en-US");
    assert_string_equal(json_string_value(in), "en-us");
    json_decref(out);
    json_decref(in);
    g_hash_table_unref(types);
}


static void
value_null_and_undeclared(void **state)
{
    GHashTable *types = g_hash_table_new(g_str_hash, g_str_equal);
    enum attribute_type type;
    json_t *null = json_null();
    json_t *text = json_string("anything");
    json_t *out;

    (void) state;
    g_hash_table_insert(types, "birth_date",
                        GINT_TO_POINTER(ATTRIBUTE_DATE));

    /* Null removes a declared attribute, so it passes every type. */
    out = attribute_value_normalize(types, "birth_date", null, &type);
    assert_ptr_equal(out, null);
    json_decref(out);

    /* Undeclared names take any value, with or without a table. */
    out = attribute_value_normalize(types, "nickname", text, &type);
    assert_ptr_equal(out, text);
    json_decref(out);
    out = attribute_value_normalize(NULL, "birth_date", text, &type);
    assert_ptr_equal(out, text);
    json_decref(out);

    json_decref(text);
    g_hash_table_unref(types);
}


/* Writes `text` to a temporary plugins.conf, loads it and removes the
 * file. The caller frees the returned config. */
static struct config *
config_from_text(const char *text, int expected_rc)
{
    char path[] = "/tmp/crier-attributes-XXXXXX";
    int fd = mkstemp(path);
    struct config *cfg;
    FILE *fp;

    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(config_load(path, &cfg), expected_rc);
    assert_int_equal(unlink(path), 0);
    return cfg;
}


static void
config_declares_types(void **state)
{
    struct config *cfg = config_from_text(
        "attributes: {\n"
        "  first_name = \"string\";\n"
        "  household_size = \"number\";\n"
        "  veteran = \"bool\";\n"
        "  birth_date = \"date\";\n"
        "  timezone = \"timezone\";\n"
        "  language = \"language\";\n"
        "};\n", 0);
    GHashTable *types = NULL;

    (void) state;
    assert_int_equal(attribute_types_load(cfg, &types), 0);
    assert_non_null(types);
    assert_int_equal(g_hash_table_size(types), 6);
    assert_int_equal(GPOINTER_TO_INT(g_hash_table_lookup(types, "veteran")),
                     ATTRIBUTE_BOOL);
    assert_int_equal(GPOINTER_TO_INT(g_hash_table_lookup(types,
                                                         "birth_date")),
                     ATTRIBUTE_DATE);
    g_hash_table_unref(types);
    config_free(cfg);
}


static void
config_without_types(void **state)
{
    struct config *cfg = config_from_text("log_level = \"info\";\n", 0);
    GHashTable *types = (GHashTable *) cfg;

    (void) state;
    assert_int_equal(attribute_types_load(cfg, &types), 0);
    assert_null(types);
    config_free(cfg);

    cfg = config_from_text("attributes: { };\n", 0);
    assert_int_equal(attribute_types_load(cfg, &types), 0);
    assert_null(types);
    config_free(cfg);
}


/* Loads `text`, expects attribute_types_load to fail and checks that the
 * error ends with `tail` (after the file's path). */
static void
expect_config_error(const char *text, const char *tail)
{
    struct config *cfg = config_from_text(text, 0);
    GHashTable *types = NULL;
    const char *colon;

    assert_int_equal(attribute_types_load(cfg, &types), CRIER_ECONFIG);
    assert_null(types);
    colon = strchr(cfg->error, ':');
    assert_non_null(colon);
    assert_string_equal(colon, tail);
    config_free(cfg);
}


static void
config_rejects_bad_types(void **state)
{
    (void) state;
    expect_config_error(
        "attributes: {\n"
        "  first_name = \"string\";\n"
        "  birth_date = \"datetime\";\n"
        "};\n",
        ":3: attributes.birth_date: unknown type \"datetime\". Use string, "
        "number, bool, date, timezone or language");
    expect_config_error(
        "attributes: { veteran = true; };\n",
        ":1: attributes.veteran: must be a type name in quotes, such as "
        "\"date\"");
    expect_config_error(
        "attributes = \"date\";\n",
        ":1: attributes: must be a group of name = \"type\" settings, such "
        "as { birth_date = \"date\"; }");
}


/* Runs event_normalize on `text` with the types of `conf_text`. */
static int
normalize_with_types(const char *conf_text, const char *text,
                     struct normalized_event *out,
                     struct crier_input_error *err)
{
    struct config *cfg = config_from_text(conf_text, 0);
    json_t *in = parse(text);
    json_t *before = json_deep_copy(in);
    int rc;

    assert_int_equal(attribute_types_load(cfg, &server.settings
                                          .attribute_types), 0);
    memset(err, 0, sizeof(*err));
    rc = event_normalize(in, 0, out, err);

    /* The sender's JSON is left as it was. */
    assert_true(json_equal(in, before));
    g_hash_table_unref(server.settings.attribute_types);
    server.settings.attribute_types = NULL;
    json_decref(before);
    json_decref(in);
    config_free(cfg);
    return rc;
}


static const char event_types[] =
    "attributes: { birth_date = \"date\"; language = \"language\";"
    " household_size = \"number\"; };\n";


static void
event_stores_normalised_values(void **state)
{
    struct normalized_event out;
    struct crier_input_error err;
    json_t *expected = parse(
        "{\"birth_date\": \"1990-06-01\", \"language\": \"zh-Hant-TW\","
        " \"household_size\": 3, \"nickname\": [1, 2],"
        " \"veteran\": \"yes\", \"timezone\": null}");

    (void) state;
    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"birth_date\": \"1990-06-01\", \"language\": \"zh-hant-tw\","
        " \"household_size\": 3, \"nickname\": [1, 2],"
        " \"veteran\": \"yes\", \"timezone\": null}}", &out, &err), 0);
    assert_true(json_equal(json_object_get(out.event, "attributes"),
                           expected));
    json_decref(out.event);
    json_decref(expected);
}


static void
event_rejects_wrong_type(void **state)
{
    struct normalized_event out;
    struct crier_input_error err;

    (void) state;
    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"language\": \"en\", \"birth_date\": \"2025-02-29\"}}",
        &out, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "attributes.birth_date");
    assert_string_equal(err.message, "attributes.birth_date must be a date "
                        "such as 2025-03-14");
    assert_null(out.event);

    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"household_size\": \"3\"}}", &out, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "attributes.household_size");
    assert_string_equal(err.message, "attributes.household_size must be a "
                        "number such as 4, not a string");
    assert_null(out.event);

    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"household_size\": true}}", &out, &err), CRIER_EINVAL);
    assert_string_equal(err.message, "attributes.household_size must be a "
                        "number such as 4, not a bool");

    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"household_size\": {\"a\": 1}}}", &out, &err), CRIER_EINVAL);
    assert_string_equal(err.message, "attributes.household_size must be a "
                        "number such as 4, not an object");

    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"birth_date\": [1]}}", &out, &err), CRIER_EINVAL);
    assert_string_equal(err.message, "attributes.birth_date must be a date "
                        "such as 2025-03-14, not an array");

    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\":"
        " {\"\": 1}}", &out, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "attributes");
    assert_null(out.event);

    assert_int_equal(normalize_with_types(event_types,
        "{\"type\": \"signup\", \"visitor\": \"v-1\", \"attributes\": 5}",
        &out, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "attributes");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(date_checks),
        cmocka_unit_test(timezone_checks),
        cmocka_unit_test(language_checks),
        cmocka_unit_test(type_names),
        cmocka_unit_test(value_checks),
        cmocka_unit_test(value_language_normalised),
        cmocka_unit_test(value_null_and_undeclared),
        cmocka_unit_test(config_declares_types),
        cmocka_unit_test(config_without_types),
        cmocka_unit_test(config_rejects_bad_types),
        cmocka_unit_test(event_stores_normalised_values),
        cmocka_unit_test(event_rejects_wrong_type),
    };

    return cmocka_run_group_tests_name("attributes", tests, NULL, NULL);
}
