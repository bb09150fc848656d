/*
 * Tests of the stores' parser of plain JSON (plugins/stores/common): it
 * must build exactly what json_loadb builds, members in the same order,
 * and leave every other text to json_loadb by returning NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plain_json.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)


/* Checks that `text` is in the plain subset and parses as json_loadb
 * parses it, compared by value and by compact text, which shows the
 * order of members. */
static void
plain_matches_jansson(const char *text, size_t length)
{
    json_t *plain = plain_json_load(text, length);
    json_t *expected = json_loadb(text, length, JSON_DECODE_ANY, NULL);
    char *plain_text;
    char *expected_text;

    if (plain == NULL || expected == NULL)
        fail_msg("not parsed alike: %.*s", (int)length, text);
    assert_true(json_equal(plain, expected));
    plain_text = json_dumps(plain, DUMP_FLAGS);
    expected_text = json_dumps(expected, DUMP_FLAGS);
    assert_string_equal(plain_text, expected_text);
    free(plain_text);
    free(expected_text);
    json_decref(plain);
    json_decref(expected);
}


/* Checks that whenever the plain parser accepts `length` bytes of
 * `text`, json_loadb returns the same value. */
static void
accepted_matches_jansson(const char *text, size_t length)
{
    json_t *plain = plain_json_load(text, length);

    if (plain == NULL)
        return;
    json_decref(plain);
    plain_matches_jansson(text, length);
}


static void
plain_documents(void **state)
{
    static const char *const documents[] = {
        "{\"type\":\"notice\",\"time\":\"2026-01-01T00:00:00.000Z\","
        "\"profile\":{\"email\":\"r1@example.gov\"},"
        "\"properties\":{\"n\":1234}}",
        "{}",
        "[]",
        "{\"a\":[],\"b\":{},\"c\":[[],{}]}",
        " { \"a\" : [ 1 , -2 , 0 , -0 ] ,\n\t\"b\" :\r\n null } ",
        "[true,false,null,\"\",\"x y\"]",
        "{\"\":1}",
        "{\"k\":1,\"k\":2,\"j\":3}",
        "{\"max\":999999999999999999,\"min\":-999999999999999999}",
        "\"top\"",
        "42",
        "null",
        "{\"sym\":\"!#$%&'()*+,-./:;<=>?@[]^_`{|}~\"}",
    };

    for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++)
        plain_matches_jansson(documents[i], strlen(documents[i]));
}


/* JSON outside the subset goes to jansson. */
static void
other_json_left_to_jansson(void **state)
{
    static const char *const documents[] = {
        "{\"a\":\"line\\nbreak\"}",
        "{\"a\":\"\\u00e9\"}",
        "{\"name\":\"Jos\xc3\xa9\"}",
        "{\"a\":1.5}",
        "{\"a\":1e3}",
        "{\"a\":1E3}",
        "{\"a\":1234567890123456789}",
        "{\"a\":\"del\x7f\"}",
        /* 40 levels, past the parser's 32. */
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };

    for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++) {
        json_t *jansson = json_loadb(documents[i], strlen(documents[i]),
                                     JSON_DECODE_ANY, NULL);

        assert_non_null(jansson);
        json_decref(jansson);
        assert_null(plain_json_load(documents[i], strlen(documents[i])));
    }
}


/* Text that is not JSON returns NULL, so that jansson reports it. */
static void
invalid_text_rejected(void **state)
{
    static const char *const texts[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}",
        "{\"a\":1} x", "tru", "nul", "falsey", "-", "+1", "01", "-01",
        "\"open", "{\"a\":\"\x01\"}", "[1 2]", "{\"a\":1\"b\":2}", "[-]",
        "{,}", "[,]", "\xef\xbb\xbf{}",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        assert_null(plain_json_load(texts[i], strlen(texts[i])));
}


/* The length bounds the text: a longer buffer is not read past it. */
static void
length_bounds_text(void **state)
{
    const char text[] = "{\"n\":12}trailing";
    json_t *value = plain_json_load(text, 8);

    assert_non_null(value);
    assert_int_equal(json_integer_value(json_object_get(value, "n")), 12);
    json_decref(value);
    assert_null(plain_json_load(text, 7));
    value = plain_json_load("123456", 3);
    assert_int_equal(json_integer_value(value), 123);
    json_decref(value);
}


/* stored_json_load parses plain text itself and other JSON with
 * jansson, and returns NULL for text that is not JSON. */
static void
stored_load_either_way(void **state)
{
    json_t *plain = stored_json_load("{\"first_name\":\"Ana\"}");
    json_t *escaped = stored_json_load("{\"first_name\":\"Jos\\u00e9\"}");

    assert_string_equal(json_string_value(json_object_get(plain,
                                                          "first_name")),
                        "Ana");
    assert_string_equal(json_string_value(json_object_get(escaped,
                                                          "first_name")),
                        "Jos\xc3\xa9");
    json_decref(plain);
    json_decref(escaped);
    assert_null(stored_json_load("{\"first_name\":"));
}


/* Every prefix of every document, and every document with one byte
 * replaced, either leaves the subset or parses as json_loadb parses it. */
static void
mutations_match_jansson(void **state)
{
    static const char *const seeds[] = {
        "{\"type\":\"notice\",\"profile\":{\"email\":\"a@b.gov\"},"
        "\"properties\":{\"n\":-12,\"items\":[1,true,null,{}]}}",
        "[ {\"a\" : [ ] } , 0 , \"s\" , false ]",
    };
    static const char replacements[] = "{}[]\":, \n-0123456789.eEtfnulrsa\\";
    char buffer[256];

    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        size_t length = strlen(seeds[s]);

        for (size_t cut = 0; cut <= length; cut++)
            accepted_matches_jansson(seeds[s], cut);
        for (size_t at = 0; at < length; at++) {
            for (size_t r = 0; r < sizeof(replacements) - 1; r++) {
                memcpy(buffer, seeds[s], length);
                buffer[at] = replacements[r];
                accepted_matches_jansson(buffer, length);
            }
        }
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_documents),
        cmocka_unit_test(other_json_left_to_jansson),
        cmocka_unit_test(invalid_text_rejected),
        cmocka_unit_test(length_bounds_text),
        cmocka_unit_test(stored_load_either_way),
        cmocka_unit_test(mutations_match_jansson),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
