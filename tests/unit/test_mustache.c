/*
 * Tests of core/template/mustache.c and mustache_render.c.
 *
 * The first groups run the required modules of the Mustache spec, read at
 * run time from CRIER_SHARED_DIR/conformance/mustache/<module>.json; each
 * spec test is a cmocka test of its own, named "<module>: <test name>". A
 * missing or unreadable file is a failing test. The last group holds
 * crier's own cases: escaping off, syntax error positions, the partial
 * depth limit and the data rules the spec leaves open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "template/mustache.h"

static const char *const spec_modules[] = {
    "comments", "delimiters", "interpolation", "inverted", "partials",
    "sections",
};


/* Prints `s` on one line with control characters made visible. */
static void
print_visible(const char *label, const char *s, size_t len)
{
    size_t i;

    fprintf(stderr, "    %s \"", label);
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (ch == '\n') {
            fputs("\\n", stderr);
        } else if (ch == '\r') {
            fputs("\\r", stderr);
        } else if (ch == '\t') {
            fputs("\\t", stderr);
        } else if (ch == '"' || ch == '\\') {
            fprintf(stderr, "\\%c", ch);
        } else if (ch < 0x20 || ch == 0x7F) {
            fprintf(stderr, "\\x%02x", ch);
        } else {
            fputc(ch, stderr);
        }
    }
    fputs("\"\n", stderr);
}


/* The partial callback for spec tests: `arg` is the test's "partials". */
static const char *
json_partial(void *arg, const char *name)
{
    const json_t *partials = arg;

    return json_string_value(json_object_get(partials, name));
}


/* Renders `src` and returns the output; fails the test on an error. */
static char *
render_ok(const char *src, const json_t *data, mustache_partial_fn fn,
          void *arg, int escape)
{
    struct mustache_error err;
    struct mustache *t;
    char *out;
    size_t len;

    t = mustache_compile(src, strlen(src), &err);
    if (t == NULL) {
        fail_msg("compile failed at %d:%d: %s", err.line, err.col,
                 err.message);
    }
    out = mustache_render(t, data, fn, arg, escape, &len, &err);
    mustache_free(t);
    if (out == NULL) {
        fail_msg("render failed at %d:%d: %s", err.line, err.col,
                 err.message);
    }
    assert_int_equal(len, strlen(out));
    return out;
}


/* ---- the spec ---------------------------------------------------------- */

struct spec_case {
    char name[200];
    const json_t *test;         /* one entry of the file's "tests" */
    const char *load_error;     /* set for the "file is readable" case */
};


static void
run_spec_case(void **state)
{
    const struct spec_case *sc = *state;
    const json_t *t = sc->test;
    const char *src;
    const char *expected;
    struct mustache_error err;
    struct mustache *m;
    size_t len;
    char *out;

    if (sc->load_error != NULL) {
        fail_msg("%s", sc->load_error);
    }
    src = json_string_value(json_object_get(t, "template"));
    expected = json_string_value(json_object_get(t, "expected"));
    assert_non_null(src);
    assert_non_null(expected);

    memset(&err, 0, sizeof(err));
    m = mustache_compile(src, json_string_length(json_object_get(t,
                         "template")), &err);
    if (m == NULL) {
        fprintf(stderr, "[ spec   ] %s: compile failed at %d:%d: %s\n",
                sc->name, err.line, err.col, err.message);
        fail();
    }
    out = mustache_render(m, json_object_get(t, "data"), json_partial,
                          json_object_get(t, "partials"), 1, &len, &err);
    mustache_free(m);
    if (out == NULL) {
        fprintf(stderr, "[ spec   ] %s: render failed: %s\n", sc->name,
                err.message);
        fail();
    }
    if (len != strlen(expected) || memcmp(out, expected, len) != 0) {
        fprintf(stderr, "[ spec   ] %s: output differs\n", sc->name);
        print_visible("expected", expected, strlen(expected));
        print_visible("got     ", out, len);
        free(out);
        fail();
    }
    free(out);
}


/* Runs one spec module as a cmocka group; returns the failure count. */
static int
run_spec_module(const char *module)
{
    char path[1024];
    char load_error[1400];
    struct CMUnitTest *tests;
    struct spec_case *cases;
    json_error_t jerr;
    json_t *doc;
    json_t *list;
    size_t n;
    size_t i;
    int failed;

    snprintf(path, sizeof(path), "%s/conformance/mustache/%s.json",
             CRIER_SHARED_DIR, module);
    doc = json_load_file(path, 0, &jerr);
    list = json_object_get(doc, "tests");
    n = json_array_size(list);
    if (n == 0) {
        /* A missing, broken or empty file is one failing test. */
        snprintf(load_error, sizeof(load_error), "%s: %s", path,
                 doc == NULL ? jerr.text : "no \"tests\" array");
        n = 1;
    } else {
        load_error[0] = '\0';
    }

    tests = calloc(n, sizeof(*tests));
    cases = calloc(n, sizeof(*cases));
    assert_true(tests != NULL && cases != NULL);
    for (i = 0; i < n; i++) {
        const json_t *t = json_array_get(list, i);

        if (load_error[0] != '\0') {
            snprintf(cases[i].name, sizeof(cases[i].name),
                     "%s: spec file is readable", module);
            cases[i].load_error = load_error;
        } else {
            snprintf(cases[i].name, sizeof(cases[i].name), "%s: %s",
                     module, json_string_value(json_object_get(t, "name")));
            cases[i].test = t;
        }
        tests[i].name = cases[i].name;
        tests[i].test_func = run_spec_case;
        tests[i].initial_state = &cases[i];
    }

    snprintf(path, sizeof(path), "mustache spec: %s", module);
    failed = _cmocka_run_group_tests(path, tests, n, NULL, NULL);
    free(tests);
    free(cases);
    json_decref(doc);
    return failed;
}


/* ---- crier's own cases ------------------------------------------------- */

static void
test_escape_html_off(void **state)
{
    json_t *data = json_pack("{s:s}", "v", "<a href=\"x\">&'</a>");
    char *out;

    out = render_ok("{{v}}|{{{v}}}|{{&v}}", data, NULL, NULL, 0);
    assert_string_equal(out, "<a href=\"x\">&'</a>|<a href=\"x\">&'</a>|"
                             "<a href=\"x\">&'</a>");
    free(out);

    out = render_ok("{{v}}|{{{v}}}", data, NULL, NULL, 1);
    assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
                             "&lt;/a&gt;|<a href=\"x\">&'</a>");
    free(out);
    json_decref(data);
}


/* Compiles `src`, expecting a syntax error at line:col. */
static void
expect_syntax_error(const char *src, int line, int col, const char *words)
{
    struct mustache_error err;
    struct mustache *t;

    memset(&err, 0, sizeof(err));
    t = mustache_compile(src, strlen(src), &err);
    if (t != NULL) {
        mustache_free(t);
        fail_msg("compiled without error: \"%s\"", src);
    }
    if (err.line != line || err.col != col
        || strstr(err.message, words) == NULL)
    {
        fail_msg("\"%s\": got %d:%d \"%s\", expected %d:%d with \"%s\"",
                 src, err.line, err.col, err.message, line, col, words);
    }
}


static void
test_syntax_errors(void **state)
{
    expect_syntax_error("line one\n  {{#items}}\n{{name}}\n", 2, 3,
                        "'items' is never closed");
    expect_syntax_error("{{#a}}{{#b}}\n{{/b}}\n", 1, 1,
                        "'a' is never closed");
    expect_syntax_error("{{#a}}\nx {{/b}}\n", 2, 3,
                        "'b' does not match section 'a' opened at line 1");
    expect_syntax_error("ok\n\n{{/a}}", 3, 1, "'a' has no open section");
    expect_syntax_error("ab\ncd {{name\nef", 2, 4, "never closed");
    expect_syntax_error("{{{name}}", 1, 1, "never closed with '}}}'");
    expect_syntax_error("x {{=<% %>=}}\n<%#a%>", 2, 1,
                        "'a' is never closed");
    expect_syntax_error("{{=<% %>=}}\n<% name", 2, 1, "with '%>'");
    expect_syntax_error("\xc3\xa9t\xc3\xa9 {{#a}}", 1, 5,
                        "'a' is never closed");
    expect_syntax_error("a\r\nb{{}}", 2, 2, "empty tag");
    expect_syntax_error("{{a b}}", 1, 1, "cannot contain spaces");
    expect_syntax_error("{{a..b}}", 1, 1, "empty part");
    expect_syntax_error("{{=<%=}}", 1, 1, "exactly two delimiters");
    expect_syntax_error("x\n {{<parent}}{{/parent}}", 2, 2,
                        "not supported");
}


static void
test_section_nesting_limit(void **state)
{
    char src[2048];
    size_t len = 0;
    int i;

    for (i = 0; i < 101; i++) {
        len += (size_t) snprintf(src + len, sizeof(src) - len, "{{#a}}");
    }
    expect_syntax_error(src, 1, 601, "nested deeper than 100");
}


static const char *
self_partial(void *arg, const char *name)
{
    if (strcmp(name, "loop") == 0) {
        return "x{{>loop}}";
    }
    if (strcmp(name, "node") == 0) {
        return "({{#child}}{{>node}}{{/child}})";
    }
    if (strcmp(name, "broken") == 0) {
        return "line\n  {{#open}}";
    }
    return NULL;
}


/*
 * Returns {"child": {"child": ... {"child": false}}} with `depth` objects
 * above the innermost. The false stops the lookup from finding a "child"
 * further down the context stack.
 */
static json_t *
nested(int depth)
{
    json_t *v = json_pack("{s:b}", "child", 0);
    int i;

    for (i = 0; i < depth; i++) {
        v = json_pack("{s:o}", "child", v);
    }
    return v;
}


static void
test_partial_depth_limit(void **state)
{
    struct mustache_error err;
    struct mustache *t;
    json_t *data;
    char *out;

    /* A partial that includes itself fails instead of crashing. */
    t = mustache_compile("{{>loop}}", 9, &err);
    assert_non_null(t);
    out = mustache_render(t, NULL, self_partial, NULL, 1, NULL, &err);
    assert_null(out);
    assert_non_null(strstr(err.message, "nested deeper than 32"));
    assert_non_null(strstr(err.message, "'loop'"));
    mustache_free(t);

    /* Data-driven recursion: 32 levels of partials render, 33 do not. */
    t = mustache_compile("{{>node}}", 9, &err);
    assert_non_null(t);
    data = nested(31);
    out = mustache_render(t, data, self_partial, NULL, 1, NULL, &err);
    assert_non_null(out);
    assert_int_equal(strlen(out), 64);
    free(out);
    json_decref(data);

    data = nested(32);
    out = mustache_render(t, data, self_partial, NULL, 1, NULL, &err);
    assert_null(out);
    assert_non_null(strstr(err.message, "nested deeper than 32"));
    json_decref(data);
    mustache_free(t);
}


static void
test_broken_partial(void **state)
{
    struct mustache_error err;
    struct mustache *t;
    char *out;

    t = mustache_compile("a {{>broken}}", 13, &err);
    assert_non_null(t);
    out = mustache_render(t, NULL, self_partial, NULL, 1, NULL, &err);
    assert_null(out);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 3);
    assert_non_null(strstr(err.message, "in partial 'broken'"));
    assert_non_null(strstr(err.message, "'open' is never closed"));
    mustache_free(t);
}


static void
test_missing_partials(void **state)
{
    char *out = render_ok("[{{>nope}}]", NULL, NULL, NULL, 1);

    assert_string_equal(out, "[]");
    free(out);
}


static const char *
indent_partial(void *arg, const char *name)
{
    if (strcmp(name, "outer") == 0) {
        return "o1\n  {{>inner}}\no2 {{>inner}}\n";
    }
    if (strcmp(name, "inner") == 0) {
        return "i1\n{{#list}}\n{{.}}\n{{/list}}\n";
    }
    return NULL;
}


static void
test_nested_indentation(void **state)
{
    json_t *data = json_pack("{s:[s,s]}", "list", "a\nb", "c");
    char *out;

    /* Indentation adds up; values and inline partials are not indented. */
    out = render_ok("x\n  {{>outer}}\ny\n", data, indent_partial, NULL, 1);
    assert_string_equal(out, "x\n"
                             "  o1\n"
                             "    i1\n"
                             "    a\nb\n"
                             "    c\n"
                             "  o2 i1\n"
                             "a\nb\n"
                             "c\n"
                             "\n"
                             "y\n");
    free(out);
    json_decref(data);
}


static void
test_values(void **state)
{
    json_t *data = json_pack("{s:f,s:f,s:f,s:f,s:I,s:I,s:b,s:b,s:n,"
                             "s:[i],s:{s:i}}",
                             "r1", 1.5, "r2", 0.1, "r3", 1e300, "r4", 2.0,
                             "i1", (json_int_t) -3,
                             "i2", (json_int_t) 9007199254740993LL,
                             "t", 1, "f", 0, "n", "a", 1, "o", "k", 1);
    char *out;

    out = render_ok("{{r1}} {{r2}} {{r3}} {{r4}} {{i1}} {{i2}}", data, NULL,
                    NULL, 1);
    assert_string_equal(out, "1.5 0.1 1e+300 2 -3 9007199254740993");
    free(out);
    json_object_set_new(data, "r5", json_real(100.0));
    json_object_set_new(data, "r6", json_real(1500.0));
    json_object_set_new(data, "r7", json_real(1e15));
    json_object_set_new(data, "r8", json_real(-120.0));
    out = render_ok("{{r5}} {{r6}} {{r7}} {{r8}}", data, NULL, NULL, 1);
    assert_string_equal(out, "100 1500 1000000000000000 -120");
    free(out);

    out = render_ok("[{{t}}|{{f}}|{{n}}|{{a}}|{{o}}|{{missing}}]", data,
                    NULL, NULL, 1);
    assert_string_equal(out, "[true|false||||]");
    free(out);
    json_decref(data);
}


static void
test_truthiness(void **state)
{
    json_t *data = json_pack("{s:s,s:i,s:{},s:b,s:n,s:[]}", "empty", "",
                             "zero", 0, "obj", "f", 0, "n", "list");
    char *out;

    out = render_ok("{{#empty}}E{{/empty}}{{#zero}}Z{{.}}{{/zero}}"
                    "{{#obj}}O{{/obj}}{{#f}}F{{/f}}{{#n}}N{{/n}}"
                    "{{#list}}L{{/list}}{{#missing}}M{{/missing}}|"
                    "{{^empty}}E{{/empty}}{{^zero}}Z{{/zero}}"
                    "{{^obj}}O{{/obj}}{{^f}}F{{/f}}{{^n}}N{{/n}}"
                    "{{^list}}L{{/list}}{{^missing}}M{{/missing}}",
                    data, NULL, NULL, 1);
    assert_string_equal(out, "EZ0O|FNLM");
    free(out);
    json_decref(data);
}


static void
test_custom_delimiter_triple(void **state)
{
    json_t *data = json_pack("{s:s}", "x", "<b>");
    char *out;

    out = render_ok("{{=<% %>=}}<%{x}%> <%x%> {{x}}", data, NULL, NULL, 1);
    assert_string_equal(out, "<b> &lt;b&gt; {{x}}");
    free(out);
    json_decref(data);
}


/* One compiled template renders many times, with any data. */
static void
test_compile_once_render_many(void **state)
{
    struct mustache_error err;
    struct mustache *t;
    const char *src;
    json_t *list = json_array();
    json_t *data;
    char *out;
    size_t len;
    int i;

    src = "{{#items}}<{{n}}>\n{{/items}}";
    t = mustache_compile(src, strlen(src), &err);
    assert_non_null(t);

    for (i = 0; i < 100000; i++) {
        json_array_append_new(list, json_pack("{s:i}", "n", i % 10));
    }
    data = json_pack("{s:o}", "items", list);
    out = mustache_render(t, data, NULL, NULL, 0, &len, &err);
    assert_non_null(out);
    assert_int_equal(len, 100000 * 4);
    assert_memory_equal(out, "<0>\n<1>\n", 8);
    free(out);
    json_decref(data);

    data = json_pack("{s:[{s:s}]}", "items", "n", "x");
    out = mustache_render(t, data, NULL, NULL, 0, &len, &err);
    assert_string_equal(out, "<x>\n");
    free(out);
    json_decref(data);

    out = mustache_render(t, NULL, NULL, NULL, 0, &len, &err);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    free(out);
    mustache_free(t);
}


int
main(void)
{
    const struct CMUnitTest own[] = {
        cmocka_unit_test(test_escape_html_off),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_section_nesting_limit),
        cmocka_unit_test(test_partial_depth_limit),
        cmocka_unit_test(test_broken_partial),
        cmocka_unit_test(test_missing_partials),
        cmocka_unit_test(test_nested_indentation),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_truthiness),
        cmocka_unit_test(test_custom_delimiter_triple),
        cmocka_unit_test(test_compile_once_render_many),
    };
    size_t i;
    int failed = 0;

    for (i = 0; i < sizeof(spec_modules) / sizeof(spec_modules[0]); i++) {
        failed += run_spec_module(spec_modules[i]);
    }
    failed += cmocka_run_group_tests_name("mustache", own, NULL, NULL);
    return failed > 0;
}
