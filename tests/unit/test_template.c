/*
 * Tests of core/template/template.c against the fixtures in
 * tests/data/templates/: "ok" is a valid set (a "welcome" template with
 * all three parts, a "receipt" without HTML, a shared "footer" partial);
 * every other folder contains one kind of mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <jansson.h>

#include "crier/error.h"
#include "template/template.h"

#define FIXTURES CRIER_SOURCE_DIR "/tests/data/templates/"


static int
load_ok(void **state)
{
    struct template_error err;

    *state = template_set_load(FIXTURES "ok", &err);
    if (*state == NULL) {
        print_error("%s:%d:%d: %s\n", err.path, err.line, err.col,
                    err.message);
        return -1;
    }
    return 0;
}


static int
free_set(void **state)
{
    template_set_free(*state);
    return 0;
}


static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}


static json_t *
welcome_data(const char *name)
{
    return json_pack("{s:s,s:s,s:[{s:s},{s:s}]}", "site", "Crier & Co",
                     "name", name, "searches", "query", "cribs \"recall\"",
                     "query", "a & b");
}


static void
test_has(void **state)
{
    const struct template_set *set = *state;

    assert_true(template_set_has(set, "welcome"));
    assert_true(template_set_has(set, "receipt"));
    assert_false(template_set_has(set, "partials"));
    assert_false(template_set_has(set, ".hidden"));
    assert_false(template_set_has(set, "README.txt"));
    assert_false(template_set_has(set, "nope"));
}


/* Values are escaped in the HTML part only. */
static void
test_render_three_parts(void **state)
{
    struct rendered_message msg;
    struct template_error err;
    json_t *data = welcome_data("Ann <ann@example.org>");

    assert_int_equal(template_render(*state, "welcome", data, &msg, &err),
                     0);
    assert_string_equal(msg.subject,
                        "Welcome to Crier & Co, Ann <ann@example.org>!");
    assert_string_equal(msg.text,
                        "Hello Ann <ann@example.org>,\n"
                        "\n"
                        "Your saved searches:\n"
                        "  - cribs \"recall\"\n"
                        "  - a & b\n"
                        "\n"
                        "-- \n"
                        "The Crier & Co team\n");
    assert_string_equal(msg.html,
                        "<p>Hello Ann &lt;ann@example.org&gt;,</p>\n"
                        "<ul>\n"
                        "  <li>cribs &quot;recall&quot;</li>\n"
                        "  <li>a &amp; b</li>\n"
                        "</ul>\n"
                        "<footer>\n"
                        "  -- \n"
                        "  The Crier &amp; Co team\n"
                        "</footer>\n");
    rendered_message_clear(&msg);
    assert_null(msg.subject);
    assert_null(msg.text);
    assert_null(msg.html);

    /* The same compiled set renders again with other data. */
    json_object_set_new(data, "searches", json_array());
    assert_int_equal(template_render(*state, "welcome", data, &msg, &err),
                     0);
    assert_non_null(strstr(msg.text, "You have no saved searches yet.\n"));
    assert_non_null(strstr(msg.html, "<ul>\n</ul>\n"));
    rendered_message_clear(&msg);
    json_decref(data);
}


/* Without html.mustache, html is NULL. The subject's CRLF is dropped. */
static void
test_render_without_html(void **state)
{
    struct rendered_message msg;
    struct template_error err;
    json_t *data = json_pack("{s:i,s:f,s:s}", "number", 42, "total", 9.5,
                             "site", "Crier");

    assert_int_equal(template_render(*state, "receipt", data, &msg, &err),
                     0);
    assert_string_equal(msg.subject, "Receipt 42");
    assert_string_equal(msg.text, "Order 42: 9.5\n-- \nThe Crier team\n");
    assert_null(msg.html);
    rendered_message_clear(&msg);
    json_decref(data);
}


static void
expect_subject_refused(void **state, const char *name, const char *words)
{
    struct rendered_message msg;
    struct template_error err;
    json_t *data = welcome_data(name);

    assert_int_equal(template_render(*state, "welcome", data, &msg, &err),
                     CRIER_EINVAL);
    assert_null(msg.subject);
    assert_null(msg.text);
    assert_null(msg.html);
    assert_non_null(strstr(err.message, "template 'welcome'"));
    assert_non_null(strstr(err.message, words));
    assert_true(ends_with(err.path, "/ok/welcome"));
    json_decref(data);
}


static void
test_subject_line_break_refused(void **state)
{
    expect_subject_refused(state, "Bob\r\nBcc: all@example.org",
                           "would contain a line break");
    expect_subject_refused(state, "Bob\nBcc: all@example.org",
                           "would contain a line break");
    expect_subject_refused(state, "Bob\r", "would contain a line break");
}


/* "Welcome to , " and "!" are 14 bytes: names of 984 fit, 985 do not. */
static void
test_subject_length(void **state)
{
    struct rendered_message msg;
    struct template_error err;
    char name[990];
    json_t *data;

    memset(name, 'a', sizeof(name));
    name[984] = '\0';
    data = json_pack("{s:s,s:s}", "site", "", "name", name);
    assert_int_equal(template_render(*state, "welcome", data, &msg, &err),
                     0);
    assert_int_equal(strlen(msg.subject), 998);
    rendered_message_clear(&msg);
    json_decref(data);

    name[984] = 'a';
    name[985] = '\0';
    data = json_pack("{s:s,s:s}", "site", "", "name", name);
    assert_int_equal(template_render(*state, "welcome", data, &msg, &err),
                     CRIER_EINVAL);
    assert_null(msg.subject);
    assert_non_null(strstr(err.message, "999 bytes, more than 998"));
    json_decref(data);
}


/* The text part may carry line breaks from values. */
static void
test_text_keeps_line_breaks(void **state)
{
    struct rendered_message msg;
    struct template_error err;
    json_t *data = json_pack("{s:s,s:s,s:[{s:s}]}", "site", "X", "name",
                             "Ann", "searches", "query", "two\nlines");

    assert_int_equal(template_render(*state, "welcome", data, &msg, &err),
                     0);
    assert_non_null(strstr(msg.text, "  - two\nlines\n"));
    rendered_message_clear(&msg);
    json_decref(data);
}


static void
test_missing_template(void **state)
{
    struct rendered_message msg;
    struct template_error err;

    assert_int_equal(template_render(*state, "nope", NULL, &msg, &err),
                     CRIER_ENOTFOUND);
    assert_null(msg.subject);
    assert_non_null(strstr(err.message, "no template named 'nope'"));
    assert_int_equal(template_render(*state, "partials", NULL, &msg, &err),
                     CRIER_ENOTFOUND);
}


/* Loads a broken fixture folder and checks the error. */
static void
expect_load_error(const char *folder, const char *path_end, int line,
                  int col, const char *words)
{
    struct template_error err;
    struct template_set *set;

    memset(&err, 0, sizeof(err));
    set = template_set_load(folder, &err);
    if (set != NULL) {
        template_set_free(set);
        fail_msg("%s loaded without error", folder);
    }
    if (!ends_with(err.path, path_end) || err.line != line
        || err.col != col || strstr(err.message, words) == NULL)
    {
        fail_msg("got %s:%d:%d: %s; expected ...%s:%d:%d with \"%s\"",
                 err.path, err.line, err.col, err.message, path_end, line,
                 col, words);
    }
}


static void
test_syntax_error(void **state)
{
    expect_load_error(FIXTURES "broken-syntax",
                      "/broken-syntax/welcome/text.mustache", 3, 3,
                      "section 'searches' is never closed");
}


static void
test_missing_subject(void **state)
{
    expect_load_error(FIXTURES "missing-subject",
                      "/missing-subject/welcome/subject.mustache", 0, 0,
                      "template 'welcome' has no subject.mustache");
}


static void
test_broken_partial(void **state)
{
    expect_load_error(FIXTURES "broken-partial",
                      "/broken-partial/partials/footer.mustache", 3, 1,
                      "'b' does not match section 'a'");
}


static void
test_bad_utf8(void **state)
{
    expect_load_error(FIXTURES "bad-utf8", "/bad-utf8/welcome/text.mustache",
                      2, 5, "not valid UTF-8");
}


static void
test_missing_folder(void **state)
{
    expect_load_error(FIXTURES "does-not-exist", "/does-not-exist", 0, 0,
                      "cannot open the template folder");
}


static void
test_bad_language_folder(void **state)
{
    expect_load_error(FIXTURES "bad-language",
                      "/bad-language/notice/spanish", 0, 0,
                      "is not a BCP 47 language tag");
}


static void
test_language_folder_case(void **state)
{
    expect_load_error(FIXTURES "bad-case", "/bad-case/notice/es-mx", 0, 0,
                      "must be named in canonical case, es-MX");
}


static void
test_bad_required_name(void **state)
{
    expect_load_error(FIXTURES "bad-required",
                      "/bad-required/notice/required.txt", 2, 1,
                      "'profile..id' is not a field name");
}


/* ---- language variants, against tests/data/templates/lang ---- */

static int
load_lang(void **state)
{
    struct template_error err;

    *state = template_set_load(FIXTURES "lang", &err);
    if (*state == NULL) {
        print_error("%s:%d:%d: %s\n", err.path, err.line, err.col,
                    err.message);
        return -1;
    }
    return 0;
}


/* Each case: the resident's language, the default language, the variant
 * expected ("" for the untagged parts). */
static void
test_language_chain(void **state)
{
    static const char *const cases[][3] = {
        { "es-MX", NULL, "es" },            /* drops the region */
        { "es", NULL, "es" },
        { "fr-CA", NULL, "fr-CA" },
        { "fr", NULL, "" },                 /* never a longer tag */
        { "zh-Hant-TW", NULL, "zh-Hant" },
        { "ES-mx", NULL, "es" },            /* any case */
        { "de", "fr-CA", "fr-CA" },         /* the default language */
        { "de-AT", "es-MX", "es" },         /* the default, shortened */
        { NULL, "es", "es" },               /* no language of its own */
        { "", "es", "es" },
        { "de", "it", "" },                 /* neither has a variant */
        { NULL, NULL, "" },
    };
    struct template_set *set = *state;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got;

        template_set_language(set, cases[i][1]);
        got = template_language_pick(set, "notice", cases[i][0]);
        if (got == NULL || strcmp(got, cases[i][2]) != 0)
            fail_msg("language %s, default %s: got variant '%s', expected "
                     "'%s'", cases[i][0] ? cases[i][0] : "(none)",
                     cases[i][1] ? cases[i][1] : "(none)",
                     got ? got : "(null)", cases[i][2]);
    }
    template_set_language(set, NULL);
    assert_null(template_language_pick(set, "nope", "es"));
    assert_string_equal(template_language_pick(set, "bare", "es"), "");
}


static void
test_render_variant(void **state)
{
    struct template_set *set = *state;
    json_t *data = json_pack("{s:{s:s}}", "profile", "first_name", "Ana");
    struct template_error err;
    struct rendered_message msg;

    assert_int_equal(template_render_language(set, "notice", "es-MX", data,
                                              &msg, &err), 0);
    assert_string_equal(msg.subject, "Aviso para Ana");
    assert_string_equal(msg.text, "Hola Ana.\n");
    assert_null(msg.html);
    assert_string_equal(msg.language, "es");
    rendered_message_clear(&msg);

    /* A variant never borrows the HTML part of another. */
    assert_int_equal(template_render_language(set, "notice", "fr-CA", data,
                                              &msg, &err), 0);
    assert_string_equal(msg.html, "<p>Bonjour Ana.</p>\n");
    assert_string_equal(msg.language, "fr-CA");
    rendered_message_clear(&msg);

    assert_int_equal(template_render(set, "notice", data, &msg, &err), 0);
    assert_string_equal(msg.subject, "Notice for Ana");
    assert_null(msg.language);
    rendered_message_clear(&msg);
    json_decref(data);
}


/* A field in required.txt that is absent, null or "" fails the render
 * and names the field. */
static void
test_required_field_missing(void **state)
{
    struct template_set *set = *state;
    const char *const bodies[] = {
        "{\"profile\": {}}",
        "{\"profile\": {\"first_name\": null}}",
        "{\"profile\": {\"first_name\": \"\"}}",
        "{}",
    };
    struct template_error err;
    struct rendered_message msg;
    size_t i;

    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *data = json_loads(bodies[i], 0, NULL);

        assert_int_equal(template_render_language(set, "notice", "es", data,
                                                  &msg, &err), CRIER_EINVAL);
        assert_null(msg.subject);
        assert_string_equal(err.field, "profile.first_name");
        assert_string_equal(err.message, "missing profile.first_name");
        json_decref(data);
    }
}


/* Without required.txt a missing name renders as nothing, and an
 * inverted section gives the fallback text. */
static void
test_inverted_section_fallback(void **state)
{
    struct template_set *set = *state;
    json_t *data = json_pack("{s:{}}", "profile");
    struct template_error err;
    struct rendered_message msg;

    assert_int_equal(template_render_language(set, "bare", NULL, data, &msg,
                                              &err), 0);
    assert_string_equal(msg.text, "Dear resident.\n");
    rendered_message_clear(&msg);
    json_decref(data);
}


/* Writes `text` to dir/name, creating the folders on the way. */
static void
file_write(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    char *parent = g_path_get_dirname(path);

    assert_int_equal(g_mkdir_with_parents(parent, 0755), 0);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    g_free(parent);
    g_free(path);
}


/* Loads the set in `dir`, renders template "notice" and copies its
 * version into `out`. */
static void
version_of(const char *dir, const char *language, char *out)
{
    struct template_error err;
    struct template_set *set = template_set_load(dir, &err);
    struct rendered_message msg;
    json_t *data = json_object();

    if (set == NULL)
        fail_msg("%s: %s", err.path, err.message);
    assert_int_equal(template_render_language(set, "notice", language, data,
                                              &msg, &err), 0);
    assert_int_equal(strlen(msg.version), TEMPLATE_VERSION_SIZE - 1);
    assert_true(strspn(msg.version, "0123456789abcdef")
                == TEMPLATE_VERSION_SIZE - 1);
    strcpy(out, msg.version);
    rendered_message_clear(&msg);
    json_decref(data);
    template_set_free(set);
}


/* The version follows the variant's files and the partials, and nothing
 * else. */
static void
test_version_follows_files(void **state)
{
    char *dir = g_dir_make_tmp("crier-template-XXXXXX", NULL);
    char first[TEMPLATE_VERSION_SIZE];
    char again[TEMPLATE_VERSION_SIZE];
    char spanish[TEMPLATE_VERSION_SIZE];
    char changed[TEMPLATE_VERSION_SIZE];
    static const char *const files[] = {
        "notice/es/subject.mustache", "notice/es/text.mustache",
        "notice/es", "notice/subject.mustache", "notice/text.mustache",
        "notice", "partials/footer.mustache", "partials", "",
    };

    assert_non_null(dir);
    file_write(dir, "notice/subject.mustache", "Notice");
    file_write(dir, "notice/text.mustache", "Hello.\n{{> footer}}");
    file_write(dir, "notice/es/subject.mustache", "Aviso");
    file_write(dir, "notice/es/text.mustache", "Hola.\n{{> footer}}");
    file_write(dir, "partials/footer.mustache", "City of Example");

    version_of(dir, NULL, first);
    version_of(dir, NULL, again);
    assert_string_equal(first, again);
    version_of(dir, "es", spanish);
    assert_string_not_equal(first, spanish);

    file_write(dir, "notice/text.mustache", "Hello!\n{{> footer}}");
    version_of(dir, NULL, changed);
    assert_string_not_equal(changed, first);
    strcpy(first, changed);

    /* Text moved from the text part to the subject is a change too. */
    file_write(dir, "notice/subject.mustache", "NoticeHello!");
    file_write(dir, "notice/text.mustache", "\n{{> footer}}");
    version_of(dir, NULL, changed);
    assert_string_not_equal(changed, first);
    strcpy(first, changed);

    file_write(dir, "partials/footer.mustache", "City of Example, 311");
    version_of(dir, NULL, changed);
    assert_string_not_equal(changed, first);

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *path = g_build_filename(dir, files[i], NULL);

        assert_int_equal(g_remove(path), 0);
        g_free(path);
    }
    g_free(dir);
}


int
main(void)
{
    const struct CMUnitTest loaded[] = {
        cmocka_unit_test(test_has),
        cmocka_unit_test(test_render_three_parts),
        cmocka_unit_test(test_render_without_html),
        cmocka_unit_test(test_subject_line_break_refused),
        cmocka_unit_test(test_subject_length),
        cmocka_unit_test(test_text_keeps_line_breaks),
        cmocka_unit_test(test_missing_template),
    };
    const struct CMUnitTest broken[] = {
        cmocka_unit_test(test_version_follows_files),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_missing_subject),
        cmocka_unit_test(test_broken_partial),
        cmocka_unit_test(test_bad_utf8),
        cmocka_unit_test(test_missing_folder),
        cmocka_unit_test(test_bad_language_folder),
        cmocka_unit_test(test_language_folder_case),
        cmocka_unit_test(test_bad_required_name),
    };
    const struct CMUnitTest languages[] = {
        cmocka_unit_test(test_language_chain),
        cmocka_unit_test(test_render_variant),
        cmocka_unit_test(test_required_field_missing),
        cmocka_unit_test(test_inverted_section_fallback),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("template set", loaded, load_ok,
                                          free_set);
    failed += cmocka_run_group_tests_name("template load errors", broken,
                                          NULL, NULL);
    failed += cmocka_run_group_tests_name("template languages", languages,
                                          load_lang, free_set);
    return failed > 0;
}
