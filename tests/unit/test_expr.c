/*
 * Tests of core/rules/expr_*.c, the rule expression language.
 *
 * Most tests are tables of an expression and its expected truthiness
 * against one JSON context. The rest check evaluated values, the exact
 * line, column and message of parse errors, and the limits: nesting
 * depth, source length and the regular expression match limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "rules/expr.h"

struct truth_case {
    const char *src;
    int expected;
};

struct error_case {
    const char *src;
    int line;
    int col;
    const char *message;
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char context_json[] =
    "{\"program\": \"child-safety\","
    " \"event\": {\"type\": \"page_view\", \"time\": 1767225600000,"
    "   \"properties\": {\"url\": \"https://agency.gov/recalls/cribs?id=7\","
    "     \"page-url\": \"/x\", \"count\": 3, \"ratio\": 0.5,"
    "     \"empty\": \"\", \"none\": null, \"flag\": true,"
    "     \"tags\": [\"crib\", \"recall\"], \"obj_empty\": {},"
    "     \"items\": [{\"sku\": \"A1\"}], \"same\": {\"sku\": \"A1\"},"
    "     \"zip\": \"20001\", \"in\": \"kw\", \"backslash\": \"a\\\\b\","
    "     \"multiline\": \"line\\nbreak\", \"regex_text\": \"\\\\d\"}},"
    " \"profile\": {\"id\": \"p_1\","
    "   \"attributes\": {\"first_name\": \"Ana\", \"opted_out\": false},"
    "   \"identities\": [{\"kind\": \"phone\", \"value\": \"+15550100\"},"
    "                    {\"kind\": \"email\","
    "                     \"value\": \"ana@example.gov\"},"
    "                    {\"kind\": \"email\","
    "                     \"value\": \"old@example.gov\"}],"
    "   \"stages\": {\"child-safety\": {\"stage\": \"awareness\","
    "                                   \"since\": 1767225600000},"
    "                \"lead\": \"enrolled\"}},"
    " \"case\": {\"status\": \"open\"}}";


static json_t *
context_load(const char *text)
{
    json_error_t jerr;
    json_t *ctx = json_loads(text, 0, &jerr);

    if (ctx == NULL) {
        fail_msg("bad test context at %d:%d: %s", jerr.line, jerr.column,
                 jerr.text);
    }
    return ctx;
}


/* Parses `src`, or fails the test with the parse error. */
static struct expr *
parse_ok(const char *src)
{
    struct expr_error err;
    struct expr *e = expr_parse(src, &err);

    if (e == NULL) {
        fail_msg("parse of \"%s\" failed at %d:%d: %s", src, err.line,
                 err.col, err.message);
    }
    return e;
}


static void
cases_check(const struct truth_case *cases, size_t count,
            const char *ctx_text)
{
    json_t *ctx = context_load(ctx_text);
    struct expr *e;
    int got;
    size_t i;

    for (i = 0; i < count; i++) {
        e = parse_ok(cases[i].src);
        got = expr_test(e, ctx);
        if (got != cases[i].expected) {
            print_error("expression: %s\n", cases[i].src);
        }
        assert_int_equal(got, cases[i].expected);
        expr_free(e);
    }
    json_decref(ctx);
}


static void
expr_truthiness(void **state)
{
    static const struct truth_case cases[] = {
        {"true", 1},
        {"false", 0},
        {"null", 0},
        {"0", 0},
        {"0.0", 0},
        {"1", 1},
        {"-1", 1},
        {"0.5", 1},
        {"''", 0},
        {"'x'", 1},
        {"'false'", 1},
        {"'0'", 1},
        {"[]", 0},
        {"[0]", 1},
        {"[[]]", 1},
        {"event.properties.empty", 0},
        {"event.properties.obj_empty", 0},
        {"event.properties", 1},
        {"event.properties.tags", 1},
        {"event.properties.none", 0},
        {"event.properties.flag", 1},
        {"event.missing", 0},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_string_literals(void **state)
{
    static const struct truth_case cases[] = {
        {"\"dq\" == 'dq'", 1},
        {"'it\\'s' == \"it's\"", 1},
        {"\"say \\\"hi\\\"\" == 'say \"hi\"'", 1},
        {"'a\\\\b' == event.properties.backslash", 1},
        {"'line\\nbreak' == event.properties.multiline", 1},
        {"'\\d' == event.properties.regex_text", 1},
        {"'\\/' == '/'", 1},
        {"'\\t' == '\t'", 1},
        {"'\\u00e9' == '\xc3\xa9'", 1},
        {"'\\ud83d\\ude00' == '\xf0\x9f\x98\x80'", 1},
        {"'a' == 'A'", 0},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_numbers(void **state)
{
    static const struct truth_case cases[] = {
        {"1 == 1.0", 1},
        {"1.5e3 == 1500", 1},
        {"2E-1 == 0.2", 1},
        {"-7 < 0", 1},
        {"- 7 == -7", 1},
        {"-0.0 == 0", 1},
        {"event.properties.count == 3", 1},
        {"event.properties.ratio == 0.5", 1},
        {"event.properties.count > 2.5", 1},
        {"9007199254740993 > 9007199254740992", 1},
        {"event.time == 1767225600000", 1},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_fields(void **state)
{
    static const struct truth_case cases[] = {
        {"event.type == 'page_view'", 1},
        {"event.properties['page-url'] == '/x'", 1},
        {"event[\"properties\"][\"page-url\"] == '/x'", 1},
        {"event . properties . count == 3", 1},
        {"event.properties.items[0].sku == 'A1'", 1},
        {"event.properties.items[0]['sku'] == 'A1'", 1},
        {"event.properties.items[1] == null", 1},
        {"event.properties.in == 'kw'", 1},
        {"event.missing.deeper == null", 1},
        {"event.type.length == null", 1},
        {"event.properties.tags.first == null", 1},
        {"event.properties[0] == null", 1},
        {"event.properties.missing != null", 0},
        {"case.status == 'open'", 1},
        {"case == null", 0},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_profile_fields(void **state)
{
    static const struct truth_case cases[] = {
        {"profile.stage == 'awareness'", 1},
        {"profile.stages['child-safety'] == 'awareness'", 1},
        {"profile.stages['child-safety'].since == 1767225600000", 1},
        {"profile.stages['child-safety'].stage == 'awareness'", 1},
        {"profile.stages.lead == 'enrolled'", 1},
        {"profile.stages.unknown == null", 1},
        {"profile.email == 'ana@example.gov'", 1},
        {"profile.phone == '+15550100'", 1},
        {"profile.fax == null", 1},
        {"profile.first_name == 'Ana'", 1},
        {"profile.attributes.first_name == 'Ana'", 1},
        {"profile.id == 'p_1'", 1},
        {"profile.opted_out", 0},
        {"'@example.gov' in profile.email", 1},
        {"profile.identities[1].value == profile.email", 1},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_profile_lookup_order(void **state)
{
    static const struct truth_case no_program[] = {
        {"profile.stage == null", 1},
        {"profile.stages.lead == 'enrolled'", 1},
    };
    static const struct truth_case precedence[] = {
        {"profile.stage == 'direct'", 1},
        {"profile.email == 'attribute@example.gov'", 1},
        {"profile.phone == null", 1},
    };

    cases_check(no_program, COUNT(no_program),
                "{\"profile\": {\"stages\": {\"lead\": \"enrolled\"}}}");

    /* A member of the profile itself wins over the program's stage, and
     * an attribute wins over an identity. */
    cases_check(precedence, COUNT(precedence),
                "{\"program\": \"lead\", \"profile\": {\"stage\": \"direct\","
                " \"stages\": {\"lead\": \"enrolled\"},"
                " \"attributes\": {\"email\": \"attribute@example.gov\"},"
                " \"identities\": [{\"kind\": \"email\","
                "                   \"value\": \"identity@example.gov\"}]}}");
}


static void
expr_comparisons(void **state)
{
    static const struct truth_case cases[] = {
        {"1 == 1", 1},
        {"1 == 2", 0},
        {"1 != 2", 1},
        {"1 != 1", 0},
        {"2 < 3", 1},
        {"3 < 3", 0},
        {"3 <= 3", 1},
        {"4 <= 3", 0},
        {"3 > 2", 1},
        {"2 > 2", 0},
        {"2 >= 2", 1},
        {"1 >= 2", 0},
        {"'a' < 'b'", 1},
        {"'B' < 'a'", 1},
        {"'ab' < 'abc'", 1},
        {"'b' <= 'b'", 1},
        {"'b' > 'a'", 1},
        {"'b' >= 'c'", 0},
        {"'Crib' == 'crib'", 0},
        {"null == null", 1},
        {"event.missing == null", 1},
        {"event.missing != null", 0},
        {"true == true", 1},
        {"true == false", 0},
        {"[1, 'a'] == [1.0, 'a']", 1},
        {"[1] == [1, 2]", 0},
        {"[1, 2] == [2, 1]", 0},
        {"event.properties.tags == ['crib', 'recall']", 1},
        {"event.properties.items[0] == event.properties.same", 1},
        {"event.properties.items[0] == event.properties", 0},
        {"event.properties.obj_empty != event.properties.same", 1},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_type_mismatches(void **state)
{
    static const struct truth_case cases[] = {
        {"1 == '1'", 0},
        {"1 != '1'", 1},
        {"0 == false", 0},
        {"'' == null", 0},
        {"null == false", 0},
        {"[] == null", 0},
        {"event.properties.count == '3'", 0},
        {"2 < '10'", 0},
        {"2 > '10'", 0},
        {"2 >= '10'", 0},
        {"'10' <= 2", 0},
        {"null < 1", 0},
        {"null >= 1", 0},
        {"null <= null", 0},
        {"event.missing < 5", 0},
        {"event.missing > 5", 0},
        {"true < false", 0},
        {"true > false", 0},
        {"[1] < [2]", 0},
        {"event.properties.same >= event.properties.same", 0},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_logic(void **state)
{
    static const struct truth_case cases[] = {
        {"true && true", 1},
        {"true && false", 0},
        {"false && true", 0},
        {"false || true", 1},
        {"true || false", 1},
        {"false || false", 0},
        {"!true", 0},
        {"!false", 1},
        {"!!true", 1},
        {"!event.missing", 1},
        {"!0", 1},
        {"!''", 1},
        {"![]", 1},
        {"!'x'", 0},
        {"1 && 'x'", 1},
        {"1 && ''", 0},
        {"null || 0", 0},
        {"false || false || false || true", 1},
        {"true && true && true && false", 0},
        {"event.properties.count >= 3 && !profile.opted_out", 1},
        {"!(event.properties.url ~ 'cribs')", 0},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_precedence(void **state)
{
    static const struct truth_case cases[] = {
        /* && binds tighter than ||: each is false the other way round. */
        {"true || false && false", 1},
        {"false && false || true", 1},
        {"(true || false) && false", 0},
        {"false && (false || true)", 0},
        /* ! binds tighter than ==: (!0) == 1 compares true with 1. */
        {"!0 == 1", 0},
        {"!(0 == 1)", 1},
        /* Comparisons bind tighter than && and ||. */
        {"1 == 1 && 2 == 2", 1},
        {"1 == 2 || 'a' in ['a']", 1},
        {"((((true))))", 1},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_in(void **state)
{
    static const struct truth_case cases[] = {
        {"'crib' in event.properties.tags", 1},
        {"'cot' in event.properties.tags", 0},
        {"'crib' not in event.properties.tags", 0},
        {"'cot' not in event.properties.tags", 1},
        {"case.status in ['open', 'pending']", 1},
        {"case.status in ['closed']", 0},
        {"case.status not in ['closed',]", 1},
        {"3 in [1, 2, 3.0]", 1},
        {"'3' in [3]", 0},
        {"null in [null]", 1},
        {"[1] in [[1], 2]", 1},
        {"'x' in []", 0},
        {"'/recalls/' in event.properties.url", 1},
        {"'/recall/' in event.properties.url", 0},
        {"'' in 'abc'", 1},
        {"'' in ''", 1},
        {"'abc' in 'ab'", 0},
        {"1 in '123'", 0},
        {"'a' in event.missing", 0},
        {"'a' not in event.missing", 1},
        {"'url' in event.properties", 0},
        {"'a' in 5", 0},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static void
expr_regex(void **state)
{
    static const struct truth_case cases[] = {
        {"event.properties.url ~ '/recalls/cribs'", 1},
        {"event.properties.url ~ '^https://'", 1},
        {"event.properties.url ~ '^/recalls'", 0},
        {"event.properties.url ~ 'RECALLS'", 0},
        {"event.properties.url ~ '(?i)RECALLS'", 1},
        {"event.properties.zip ~ '^\\d{5}$'", 1},
        {"event.properties.zip ~ '^\\d{4}$'", 0},
        {"event.properties.url ~ 'id=\\d+$'", 1},
        {"event.properties.count ~ '3'", 0},
        {"event.missing ~ '.*'", 0},
        {"'\xc3\xa9' ~ '^.$'", 1},
        {"'' ~ '^$'", 1},
        {"event.properties.url ~ \"cribs\" && profile.stage == 'awareness'",
         1},
    };

    cases_check(cases, COUNT(cases), context_json);
}


static double
seconds_since(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double) (now.tv_sec - start->tv_sec)
           + (double) (now.tv_nsec - start->tv_nsec) / 1e9;
}


static void
expr_regex_backtracking_limit(void **state)
{
    char ctx_text[256];
    char run[64];
    struct timespec start;
    struct expr *e;
    json_t *ctx;
    int got;

    /* Without the match limit, (a+)+$ tries about 2^40 ways to split the
     * run of 'a' before it gives up: hours, by estimate. */
    memset(run, 'a', 40);
    run[40] = '\0';
    snprintf(ctx_text, sizeof(ctx_text),
             "{\"event\": {\"bad\": \"%sb\", \"good\": \"%s\"}}", run, run);
    ctx = context_load(ctx_text);

    e = parse_ok("event.bad ~ '(a+)+$'");
    clock_gettime(CLOCK_MONOTONIC, &start);
    got = expr_test(e, ctx);
    assert_int_equal(got, 0);
    assert_true(seconds_since(&start) < 1.0);
    expr_free(e);

    e = parse_ok("event.good ~ '(a+)+$'");
    assert_int_equal(expr_test(e, ctx), 1);
    expr_free(e);

    json_decref(ctx);
}


static void
expr_eval_values(void **state)
{
    json_t *ctx = context_load(context_json);
    struct expr *e;
    json_t *v;

    e = parse_ok("event.properties.count");
    v = expr_eval(e, ctx);
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), 3);
    json_decref(v);
    expr_free(e);

    e = parse_ok("-0.25");
    v = expr_eval(e, ctx);
    assert_true(json_is_real(v));
    assert_true(json_real_value(v) == -0.25);
    json_decref(v);
    expr_free(e);

    e = parse_ok("'x'");
    v = expr_eval(e, ctx);
    assert_string_equal(json_string_value(v), "x");
    json_decref(v);
    expr_free(e);

    e = parse_ok("event.missing.deeper");
    v = expr_eval(e, ctx);
    assert_true(json_is_null(v));
    json_decref(v);
    expr_free(e);

    e = parse_ok("1 < 2 && 'a'");
    v = expr_eval(e, ctx);
    assert_true(json_is_true(v));
    json_decref(v);
    expr_free(e);

    e = parse_ok("'crib' not in event.properties.tags");
    v = expr_eval(e, ctx);
    assert_true(json_is_false(v));
    json_decref(v);
    expr_free(e);

    e = parse_ok("profile.stages['child-safety']");
    v = expr_eval(e, ctx);
    assert_string_equal(json_string_value(v), "awareness");
    json_decref(v);
    expr_free(e);

    json_decref(ctx);
}


static void
expr_eval_literal_copy(void **state)
{
    struct expr *e = parse_ok("[1, 'a']");
    json_t *v;

    /* Changing a result must not change the literal in the tree. */
    v = expr_eval(e, NULL);
    assert_int_equal(json_array_size(v), 2);
    json_array_append_new(v, json_integer(3));
    json_decref(v);

    v = expr_eval(e, NULL);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    expr_free(e);
}


static void
expr_null_context(void **state)
{
    struct expr *e = parse_ok("event.type == null && profile.stage == null");

    assert_int_equal(expr_test(e, NULL), 1);
    expr_free(e);
}


static void
error_cases_check(const struct error_case *cases, size_t count)
{
    struct expr_error err;
    struct expr *e;
    size_t i;

    for (i = 0; i < count; i++) {
        e = expr_parse(cases[i].src, &err);
        if (e != NULL || err.line != cases[i].line
            || err.col != cases[i].col
            || strcmp(err.message, cases[i].message) != 0)
        {
            print_error("expression: %s\ngot %d:%d: %s\n", cases[i].src,
                        err.line, err.col, err.message);
        }
        assert_null(e);
        assert_int_equal(err.line, cases[i].line);
        assert_int_equal(err.col, cases[i].col);
        assert_string_equal(err.message, cases[i].message);
    }
}


static void
expr_parse_errors(void **state)
{
    static const struct error_case cases[] = {
        {"event.type = 'x'", 1, 12,
         "unknown operator '='; use '==' to compare"},
        {"event.type == 'x", 1, 15,
         "unterminated string; close it with ' on the same line"},
        {"(event.type == 'x'", 1, 19,
         "expected ')' after 'x' to close the '(' at line 1, column 1"},
        {"event.type == 'x' and case.status == 'open'", 1, 19,
         "unknown operator 'and'; use '&&'"},
        {"event.x or true", 1, 9, "unknown operator 'or'; use '||'"},
        {"1 < event.x < 5", 1, 13,
         "comparisons cannot be chained; join them with '&&'"},
        {"1 == 1 in [true]", 1, 8,
         "comparisons cannot be chained; join them with '&&'"},
        {"evnt.type == 'x'", 1, 1,
         "unknown name 'evnt'; a field starts with event., profile. or "
         "case."},
        {"event.x ~ '(cribs'", 1, 11,
         "invalid regular expression: missing closing parenthesis "
         "(at offset 6)"},
        {"event.x ~ '\\C'", 1, 11,
         "invalid regular expression: using \\C is disabled by the "
         "application (at offset 2)"},
        {"", 1, 1, "expression is empty"},
        {"   \n  ", 2, 3, "expression is empty"},
        {"event.x &", 1, 9, "unknown operator '&'; use '&&'"},
        {"event.x | true", 1, 9, "unknown operator '|'; use '||'"},
        {"event.x =~ 'a'", 1, 9, "unknown operator '=~'; use '~'"},
        {"event.x == ", 1, 12,
         "expected a value after '==', found the end of the expression"},
        {")", 1, 1, "expected a value, found ')'"},
        {"event.", 1, 7, "expected a field name after '.'"},
        {"event.x['a'", 1, 12, "expected ']' after 'a'"},
        {"event.x[1.5]", 1, 9,
         "expected a quoted key or a list index after '['"},
        {"event.x ~ event.y", 1, 11,
         "the right side of '~' must be a quoted regular expression"},
        {"event.time + 6", 1, 15,
         "expected a unit of the duration (minutes, hours, days, weeks, "
         "months or years), found the end of the expression"},
        {"event.time - 6 fortnights", 1, 16,
         "expected a unit of the duration (minutes, hours, days, weeks, "
         "months or years), found 'fortnights'"},
        {"event.time + event.x", 1, 14,
         "expected a duration such as 6 months after '+', found 'event'"},
        {"event.time - 1.5 days", 1, 14,
         "a duration is a whole number from 0 to 1000000 and a unit, such "
         "as 6 months"},
        {"event.time + 1000001 days", 1, 14,
         "a duration is a whole number from 0 to 1000000 and a unit, such "
         "as 6 months"},
        {"event.time * 6", 1, 12, "arithmetic ('*') is not available yet"},
        {"event.time / 6", 1, 12, "arithmetic ('/') is not available yet"},
        {"-event.x", 1, 1,
         "'-' can only come before a number here; subtract a duration "
         "after a value, such as x - 2 weeks"},
        {"event.x in [event.y]", 1, 13,
         "list elements must be literals: strings, numbers, true, false, "
         "null or lists"},
        {"[1 2]", 1, 4, "expected ',' or ']' after '1'"},
        {"[1,,2]", 1, 4, "expected a value after ',', found ','"},
        {"007 == 7", 1, 1, "invalid number '007'"},
        {"1.2.3", 1, 1, "invalid number '1.2.3'"},
        {"6months", 1, 1, "invalid number '6months'"},
        {"99999999999999999999 > 1", 1, 1,
         "number '99999999999999999999' is out of range"},
        {"'\\u00zz'", 1, 2,
         "invalid \\u escape; write four hex digits other than 0000, and "
         "a surrogate pair above U+FFFF"},
        {"'\\u0000'", 1, 2,
         "invalid \\u escape; write four hex digits other than 0000, and "
         "a surrogate pair above U+FFFF"},
        {"'\\ud83d'", 1, 2,
         "invalid \\u escape; write four hex digits other than 0000, and "
         "a surrogate pair above U+FFFF"},
        {"'a' # 'b'", 1, 5, "unexpected character '#'"},
        {"true \x01", 1, 6, "unexpected control character 0x01"},
        {"true \xc2\xa7", 1, 6, "unexpected character '\xc2\xa7'"},
        {"event.x == 1)", 1, 13, "unexpected ')' with no matching '('"},
        {"event.x 'y'", 1, 9,
         "unexpected 'y' after 'x'; expected an operator such as '==' or "
         "'&&'"},
        {"not event.x", 1, 1, "unknown operator 'not'; use '!'"},
        {"event.x not 'a'", 1, 13, "expected 'in' after 'not'"},
        {"'\xff'", 1, 2, "invalid UTF-8 byte 0xff"},
        {"'\xc3\xa9' = 1", 1, 5, "unknown operator '='; use '==' to compare"},
        {"\"open", 1, 1,
         "unterminated string; close it with \" on the same line"},
    };

    error_cases_check(cases, COUNT(cases));
}


static void
expr_parse_errors_multiline(void **state)
{
    static const struct error_case cases[] = {
        {"event.type == 'page_view' &&\n"
         "    profile.stage = 'awareness'", 2, 19,
         "unknown operator '='; use '==' to compare"},
        {"(event.type == 'a'\n"
         " || event.type == 'b'", 2, 22,
         "expected ')' after 'b' to close the '(' at line 1, column 1"},
        {"event.type == 'a' ||\n"
         "\tevent.type == 'b\n"
         "'", 2, 16,
         "unterminated string; close it with ' on the same line"},
        {"event.type == 'a'\n"
         "\n"
         "  && all(profile.dependents, true)", 3, 6,
         "function 'all' is not available yet"},
    };

    error_cases_check(cases, COUNT(cases));
}


static void
expr_unknown_functions(void **state)
{
    static const struct error_case cases[] = {
        {"event.time < now(1)", 1, 18, "now() takes no arguments"},
        {"!age_years(profile.birth_date)", 1, 2,
         "function 'age_years' is not available yet"},
        {"foo(1)", 1, 1, "unknown function 'foo'"},
        {"event.x == lower (event.y)", 1, 12, "unknown function 'lower'"},
        {"event(1)", 1, 1, "unknown function 'event'"},
    };

    error_cases_check(cases, COUNT(cases));
}


/* Returns `depth` copies of `left`, then `middle`, then `depth` copies of
 * `right`, in a new string. */
static char *
nested_build(const char *left, const char *middle, const char *right,
             int depth)
{
    size_t left_length = strlen(left);
    size_t middle_length = strlen(middle);
    size_t right_length = strlen(right);
    size_t size = middle_length + 1
                  + (size_t) depth * (left_length + right_length);
    char *s = malloc(size);
    char *end = s;
    int i;

    assert_non_null(s);
    for (i = 0; i < depth; i++) {
        memcpy(end, left, left_length);
        end += left_length;
    }
    memcpy(end, middle, middle_length);
    end += middle_length;
    for (i = 0; i < depth; i++) {
        memcpy(end, right, right_length);
        end += right_length;
    }
    *end = '\0';
    return s;
}


static void
depth_check(const char *left, const char *middle, const char *right)
{
    struct expr_error err;
    struct expr *e;
    char *src;

    src = nested_build(left, middle, right, 64);
    e = parse_ok(src);
    expr_free(e);
    free(src);

    src = nested_build(left, middle, right, 65);
    e = expr_parse(src, &err);
    assert_null(e);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 65);
    assert_string_equal(err.message, "expression is nested too deeply: "
                        "more than 64 levels of '(', '!' or '['");
    free(src);
}


/* 2026-01-01T00:00:00Z is 1767225600000 ms. */
static const char related_json[] =
    "{\"now\": 1767225600000,"
    " \"event\": {\"type\": \"x\"},"
    " \"profile\": {\"id\": \"p_1\","
    "   \"dependents\": [{\"id\": \"c1\", \"birth_date\": \"2023-06-01\"},"
    "                    {\"id\": \"c2\", \"birth_date\": \"2025-03-01\"},"
    "                    {\"id\": \"c3\"}],"
    "   \"cases\": [{\"id\": \"k1\", \"type\": \"SNAP\","
    "                \"status\": \"closed\","
    "                \"notes\": [\"a\", \"b\"]},"
    "              {\"id\": \"k2\", \"type\": \"pothole\","
    "               \"status\": \"open\"}],"
    "   \"none\": [], \"text\": \"abc\"}}";


static void
expr_any(void **state)
{
    static const struct truth_case cases[] = {
        {"any(profile.dependents, age_months(birth_date) < 24)", 1},
        {"any(profile.dependents, age_months(birth_date) < 9)", 0},
        {"any(profile.dependents, id == 'c3')", 1},
        {"any(profile.dependents, birth_date == null)", 1},
        {"any(profile.dependents, missing == 'x')", 0},
        {"any(profile.cases, type == 'SNAP' && status == 'open')", 0},
        {"any(profile.cases, type == 'pothole' && status == 'open')", 1},
        {"any(profile.cases, status == 'open') && event.type == 'x'", 1},
        {"!any(profile.cases, status == 'void')", 1},
        {"any(profile.cases, any(notes, true))", 1},
        {"any(profile.cases, 'b' in notes)", 1},
        {"any(profile.none, true)", 0},
        {"any(profile.text, true)", 0},
        {"any(profile.absent, true)", 0},
        {"any(profile.cases, event.type == 'x')", 1},
        {"any([1, 2], true)", 1},
        {"any([], true)", 0},
    };

    cases_check(cases, COUNT(cases), related_json);
}


static void
expr_any_limits(void **state)
{
    json_t *ctx = json_pack("{s:{s:[]}}", "profile", "items");
    json_t *items = json_object_get(json_object_get(ctx, "profile"),
                                    "items");
    struct expr *e;
    size_t i;

    /* Only the first 1000 elements are examined. */
    for (i = 0; i < 1001; i++) {
        json_array_append_new(items, json_pack("{s:i}", "n", (int) i));
    }
    e = parse_ok("any(profile.items, n == 999)");
    assert_int_equal(expr_test(e, ctx), 1);
    expr_free(e);
    e = parse_ok("any(profile.items, n == 1000)");
    assert_int_equal(expr_test(e, ctx), 0);
    expr_free(e);
    json_decref(ctx);
}


static void
expr_any_errors(void **state)
{
    static const struct error_case cases[] = {
        {"any(profile.cases)", 1, 18, "expected ',' in any(list, condition)"},
        {"any(profile.cases, true, 1)", 1, 24,
         "expected ')' in any(list, condition)"},
        {"any(cases, true)", 1, 5,
         "unknown name 'cases'; a field starts with event., profile. or "
         "case."},
        {"any(profile.a, any(b, any(c, true)))", 1, 23,
         "any() is nested too deeply: more than 2 levels"},
        {"age_months()", 1, 12, "expected a value after '(', found ')'"},
        {"age_months(1, 2)", 1, 13, "expected ')' in age_months(date)"},
    };

    error_cases_check(cases, COUNT(cases));
}


/* Returns age_months(date) at `now_ms`, or -1000 when it is null. */
static long
age_months_at(const char *date, long long now_ms)
{
    json_t *ctx = json_pack("{s:I,s:{s:s}}", "now", (json_int_t) now_ms,
                            "event", "date", date);
    struct expr *e = parse_ok("age_months(event.date)");
    json_t *value = expr_eval(e, ctx);
    long months = json_is_integer(value) ? (long) json_integer_value(value)
                                         : -1000;

    json_decref(value);
    expr_free(e);
    json_decref(ctx);
    return months;
}


/* Returns the milliseconds of midnight UTC on a civil date. */
static long long
day_ms(int year, int month, int day)
{
    struct tm civil = { 0 };

    civil.tm_year = year - 1900;
    civil.tm_mon = month - 1;
    civil.tm_mday = day;
    return (long long) timegm(&civil) * 1000;
}


static void
expr_age_months_month_ends(void **state)
{
    assert_int_equal(age_months_at("2024-01-31", day_ms(2024, 2, 29)), 0);
    assert_int_equal(age_months_at("2024-01-31", day_ms(2024, 3, 1)), 1);
    assert_int_equal(age_months_at("2024-01-31", day_ms(2024, 3, 31)), 2);
    assert_int_equal(age_months_at("2024-01-15", day_ms(2024, 2, 14)), 0);
    assert_int_equal(age_months_at("2024-01-15", day_ms(2024, 2, 15)), 1);
    assert_int_equal(age_months_at("2024-02-29", day_ms(2025, 2, 28)), 11);
    assert_int_equal(age_months_at("2024-02-29", day_ms(2025, 3, 1)), 12);
    assert_int_equal(age_months_at("2024-02-29", day_ms(2028, 2, 29)), 48);
    assert_int_equal(age_months_at("2023-12-31", day_ms(2024, 1, 1)), 0);
    assert_int_equal(age_months_at("2024-03-01", day_ms(2024, 3, 1)), 0);
    assert_int_equal(age_months_at("2025-06-01", day_ms(2024, 3, 1)), -15);
    /* The last millisecond of a day still counts as that day. */
    assert_int_equal(age_months_at("2024-01-15",
                                   day_ms(2024, 2, 15) - 1), 0);
}


static void
expr_age_months_invalid(void **state)
{
    static const char *const dates[] = {
        "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10",
        "2024-1-01", "2024-01-01T00:00:00Z", "20240101", "", "abcd-ef-gh",
    };
    size_t i;

    for (i = 0; i < COUNT(dates); i++) {
        if (age_months_at(dates[i], day_ms(2026, 1, 1)) != -1000) {
            print_error("date: %s\n", dates[i]);
        }
        assert_int_equal(age_months_at(dates[i], day_ms(2026, 1, 1)),
                         -1000);
    }
}


static void
expr_age_months_clock(void **state)
{
    json_t *ctx = context_load(related_json);
    struct expr *e = parse_ok("age_months(profile.missing) == null "
                              "&& age_months(1) == null");
    json_t *value;

    assert_int_equal(expr_test(e, ctx), 1);
    expr_free(e);

    /* Without the context's "now", there is no time to count to. */
    json_object_del(ctx, "now");
    e = parse_ok("age_months('2020-01-01')");
    value = expr_eval(e, ctx);
    assert_true(json_is_null(value));
    json_decref(value);

    json_object_set_new(ctx, "now", json_integer(day_ms(2020, 3, 1)));
    value = expr_eval(e, ctx);
    assert_true(json_is_integer(value));
    assert_int_equal(json_integer_value(value), 2);
    json_decref(value);
    expr_free(e);
    json_decref(ctx);
}


static void
expr_depth_limit(void **state)
{
    depth_check("(", "true", ")");
    depth_check("!", "true", "");
    depth_check("[", "1", "]");
}


static void
expr_depth_hostile(void **state)
{
    struct expr_error err;
    struct expr *e;
    char *src;

    /* Nesting far past the limit is rejected: by the length limit when
     * the source is long, else at the first level too many. */
    src = nested_build("(", "true", ")", 100000);
    e = expr_parse(src, &err);
    assert_null(e);
    assert_int_equal(err.col, 1);
    assert_string_equal(err.message, "expression is too long: 200004 bytes, "
                        "the limit is 4096");
    free(src);

    src = nested_build("!(", "true", ")", 1000);
    e = expr_parse(src, &err);
    assert_null(e);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 65);
    free(src);
}


static void
expr_long_chain(void **state)
{
    json_t *ctx = context_load(context_json);
    char src[4096];
    struct expr *e;
    size_t i;

    /* A long '||' chain adds no nesting, so only the length limits it. */
    src[0] = '\0';
    for (i = 0; i < 400; i++) {
        strcat(src, "false || ");
    }
    strcat(src, "true");
    e = parse_ok(src);
    assert_int_equal(expr_test(e, ctx), 1);
    expr_free(e);
    json_decref(ctx);
}


static void
expr_length_limit(void **state)
{
    struct expr_error err;
    struct expr *e;
    char src[4098];

    /* A string literal that fills exactly 4096 bytes. */
    memset(src, 'a', sizeof(src));
    src[0] = '\'';
    src[4095] = '\'';
    src[4096] = '\0';
    e = parse_ok(src);
    expr_free(e);

    src[4095] = 'a';
    src[4096] = '\'';
    src[4097] = '\0';
    e = expr_parse(src, &err);
    assert_null(e);
    assert_int_equal(err.line, 1);
    assert_int_equal(err.col, 1);
    assert_string_equal(err.message,
                        "expression is too long: 4097 bytes, the limit is "
                        "4096");
}


static void
expr_missing_source(void **state)
{
    struct expr_error err;

    assert_null(expr_parse(NULL, &err));
    assert_string_equal(err.message, "expression is missing");
    assert_null(expr_parse("(", NULL));
    expr_free(NULL);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expr_truthiness),
        cmocka_unit_test(expr_string_literals),
        cmocka_unit_test(expr_numbers),
        cmocka_unit_test(expr_fields),
        cmocka_unit_test(expr_profile_fields),
        cmocka_unit_test(expr_profile_lookup_order),
        cmocka_unit_test(expr_comparisons),
        cmocka_unit_test(expr_type_mismatches),
        cmocka_unit_test(expr_logic),
        cmocka_unit_test(expr_precedence),
        cmocka_unit_test(expr_in),
        cmocka_unit_test(expr_regex),
        cmocka_unit_test(expr_regex_backtracking_limit),
        cmocka_unit_test(expr_eval_values),
        cmocka_unit_test(expr_eval_literal_copy),
        cmocka_unit_test(expr_null_context),
        cmocka_unit_test(expr_parse_errors),
        cmocka_unit_test(expr_parse_errors_multiline),
        cmocka_unit_test(expr_unknown_functions),
        cmocka_unit_test(expr_any),
        cmocka_unit_test(expr_any_limits),
        cmocka_unit_test(expr_any_errors),
        cmocka_unit_test(expr_age_months_month_ends),
        cmocka_unit_test(expr_age_months_invalid),
        cmocka_unit_test(expr_age_months_clock),
        cmocka_unit_test(expr_depth_limit),
        cmocka_unit_test(expr_depth_hostile),
        cmocka_unit_test(expr_long_chain),
        cmocka_unit_test(expr_length_limit),
        cmocka_unit_test(expr_missing_source),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
