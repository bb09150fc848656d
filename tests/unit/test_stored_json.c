/*
 * Tests of the stores' JSON parsing (plugins/stores/common/stored_json.c):
 * it must build exactly what json_loadb builds, members in the same
 * order, for every text, and yajl must parse the usual stored text
 * itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stored_json.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)


/* Checks that `length` bytes of `text` parse as json_loadb parses them,
 * compared by value and by compact text, which shows the order of
 * members, or fail alike. */
static void
matches_jansson(const char *text, size_t length)
{
    json_t *stored = stored_json_loadb(text, length);
    json_t *expected = json_loadb(text, length, JSON_DECODE_ANY, NULL);
    char *stored_text;
    char *expected_text;

    if ((stored == NULL) != (expected == NULL))
        fail_msg("not parsed alike: %.*s", (int)length, text);
    if (stored == NULL)
        return;
    assert_true(json_equal(stored, expected));
    stored_text = json_dumps(stored, DUMP_FLAGS);
    expected_text = json_dumps(expected, DUMP_FLAGS);
    assert_string_equal(stored_text, expected_text);
    free(stored_text);
    free(expected_text);
    json_decref(stored);
    json_decref(expected);
}


/* Stored text of the usual kinds: yajl parses it, as jansson does. */
static void
usual_documents_by_yajl(void **state)
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
        "{\"a\":1.5,\"b\":-1e3,\"c\":1E-2,\"d\":0.1}",
        "{\"name\":\"Jos\xc3\xa9 \xf0\x9f\x9a\xa7\",\"q\":\"a\\\"b\\\\c\\n\"}",
        "\"top\"",
        "42",
        "null",
        "{\"sym\":\"!#$%&'()*+,-./:;<=>?@[]^_`{|}~\"}",
        "{\"a key that is longer than sixty-four bytes, so it is copied "
        "apart\":true}",
    };

    for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++) {
        json_t *fast = stored_json_yajl_load(documents[i],
                                             strlen(documents[i]));

        if (fast == NULL)
            fail_msg("not parsed by yajl: %s", documents[i]);
        json_decref(fast);
        matches_jansson(documents[i], strlen(documents[i]));
    }
}


/* Text that yajl rejects, or reads differently from jansson, goes to
 * jansson. */
static void
differences_left_to_jansson(void **state)
{
    static const char *const documents[] = {
        "{\"a\":\"\\u00e9\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"nul\\u0000\"}",
        "{\"a\\u0000\":1}",
        "{\"max\":9223372036854775807,\"min\":-9223372036854775808}",
        /* 80 levels, past the 64 that the builder keeps. */
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };

    for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++) {
        assert_null(stored_json_yajl_load(documents[i],
                                          strlen(documents[i])));
        matches_jansson(documents[i], strlen(documents[i]));
    }
}


/* Text that is not JSON fails in both, so that jansson decides. */
static void
invalid_text_rejected(void **state)
{
    static const char *const texts[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}",
        "{\"a\":1} x", "tru", "nul", "falsey", "-", "+1", "01", "-01",
        "\"open", "{\"a\":\"\x01\"}", "[1 2]", "{\"a\":1\"b\":2}", "[-]",
        "{,}", "[,]", "\xef\xbb\xbf{}", "{\"a\":\"\xff\"}",
        "false\"", "{}\"", "[1]\"x", "[1,\x0b""2]", "[1,\f2]", "{\"a\":\"b\\\\\"}\"",
        "{\"a\":99999999999999999999}", "{\"a\":1e999}", "[1]]",
    };

    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        assert_null(stored_json_loadb(texts[i], strlen(texts[i])));
        matches_jansson(texts[i], strlen(texts[i]));
    }
}


/* The length bounds the text: a longer buffer is not read past it. */
static void
length_bounds_text(void **state)
{
    const char text[] = "{\"n\":12}trailing";
    json_t *value = stored_json_loadb(text, 8);

    assert_non_null(value);
    assert_int_equal(json_integer_value(json_object_get(value, "n")), 12);
    json_decref(value);
    assert_null(stored_json_loadb(text, 7));
    value = stored_json_loadb("123456", 3);
    assert_int_equal(json_integer_value(value), 123);
    json_decref(value);
    value = stored_json_load("{\"first_name\":\"Jos\\u00e9\"}");
    assert_string_equal(json_string_value(json_object_get(value,
                                                          "first_name")),
                        "Jos\xc3\xa9");
    json_decref(value);
}


/* Every prefix of every seed, and every seed with one byte replaced,
 * parses as json_loadb parses it, or fails alike. */
static void
mutations_match_jansson(void **state)
{
    static const char *const seeds[] = {
        "{\"type\":\"notice\",\"profile\":{\"email\":\"a@b.gov\"},"
        "\"properties\":{\"n\":-12,\"items\":[1.5,true,null,{}]}}",
        "[ {\"a\" : [ ] } , 0 , \"s\\n\" , false ]",
    };
    static const char replacements[] =
        "{}[]\":, \n-0123456789.eEtfnulrsa\\\x80\xc3";
    char buffer[256];

    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        size_t length = strlen(seeds[s]);

        for (size_t cut = 0; cut <= length; cut++)
            matches_jansson(seeds[s], cut);
        for (size_t at = 0; at < length; at++) {
            for (size_t r = 0; r < sizeof(replacements) - 1; r++) {
                memcpy(buffer, seeds[s], length);
                buffer[at] = replacements[r];
                matches_jansson(buffer, length);
            }
        }
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usual_documents_by_yajl),
        cmocka_unit_test(differences_left_to_jansson),
        cmocka_unit_test(invalid_text_rejected),
        cmocka_unit_test(length_bounds_text),
        cmocka_unit_test(mutations_match_jansson),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
