/*
 * Tests of core/admin/auth.c: the bearer token check against SHA-256
 * digests, and the admin.tokens setting with its file:line errors.
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
#include <glib.h>

#include "admin/admin.h"
#include "config/config.h"
#include "crier/error.h"
#include "server/server.h"

/* printf %s s3cret | sha256sum */
#define SECRET_HEX \
    "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
/* printf %s other | sha256sum */
#define OTHER_HEX \
    "d9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa"


static void
matches_single_digest(void **state)
{
    const char *digests[] = { SECRET_HEX, NULL };

    assert_int_equal(admin_token_matches("s3cret", digests), 1);
}


static void
matches_any_of_several(void **state)
{
    const char *first[] = { SECRET_HEX, OTHER_HEX, NULL };
    const char *last[] = { OTHER_HEX, SECRET_HEX, NULL };

    assert_int_equal(admin_token_matches("s3cret", first), 1);
    assert_int_equal(admin_token_matches("s3cret", last), 1);
    assert_int_equal(admin_token_matches("other", first), 1);
}


static void
rejects_wrong_token(void **state)
{
    const char *digests[] = { SECRET_HEX, OTHER_HEX, NULL };

    assert_int_equal(admin_token_matches("s3cre", digests), 0);
    assert_int_equal(admin_token_matches("s3cret ", digests), 0);
    assert_int_equal(admin_token_matches("S3CRET", digests), 0);
    assert_int_equal(admin_token_matches("", digests), 0);
    /* The digest itself is not a token. */
    assert_int_equal(admin_token_matches(SECRET_HEX, digests), 0);
}


static void
rejects_without_digests(void **state)
{
    const char *none[] = { NULL };

    assert_int_equal(admin_token_matches("s3cret", none), 0);
    assert_int_equal(admin_token_matches("s3cret", NULL), 0);
}


/* Loads `text` as plugins.conf in a new folder and runs settings_load.
 * The config's error, if any, is copied to `error`. */
static int
load_settings(const char *text, struct settings *s, char *error,
              size_t size)
{
    char dir[] = "/tmp/crier-admin-XXXXXX";
    char path[64];
    struct config *cfg;
    FILE *fp;
    int rc;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/plugins.conf", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    rc = config_load(path, &cfg);
    if (rc == 0)
        rc = settings_load(cfg, s);
    snprintf(error, size, "%s", cfg->error);
    config_free(cfg);
    unlink(path);
    rmdir(dir);
    return rc;
}


static void
settings_read_digests(void **state)
{
    struct settings s;
    char error[1024];

    assert_int_equal(load_settings("admin: { tokens = [ \"sha256:"
                                   SECRET_HEX "\", \"SHA256:\" ]; };\n",
                                   &s, error, sizeof(error)),
                     CRIER_ECONFIG);
    settings_clear(&s);
    assert_int_equal(load_settings("admin: { tokens = [ \"sha256:"
                                   SECRET_HEX "\",\n \"sha256:"
                                   "D9298A10D1B0735837DC4BD85DAC641B0F3CEF27"
                                   "A47E5D53A54F2F3F5B2FCFFA\" ]; };\n",
                                   &s, error, sizeof(error)), 0);
    assert_non_null(s.admin_tokens);
    assert_string_equal(s.admin_tokens[0], SECRET_HEX);
    /* Upper-case hex is accepted and stored lowercase. */
    assert_string_equal(s.admin_tokens[1], OTHER_HEX);
    assert_null(s.admin_tokens[2]);
    assert_int_equal(admin_token_matches(
        "other", (const char *const *) s.admin_tokens), 1);
    settings_clear(&s);
}


static void
settings_without_admin(void **state)
{
    struct settings s;
    char error[1024];

    assert_int_equal(load_settings("log_level = \"info\";\n", &s, error,
                                   sizeof(error)), 0);
    assert_null(s.admin_tokens);
    settings_clear(&s);
}


/* Each bad entry must fail at its own line, naming the key path. */
static void
settings_reject_bad_digests(void **state)
{
    static const char *const cases[][2] = {
        { "admin: {\n tokens = [ \"" SECRET_HEX "\" ]; };\n",
          "plugins.conf:2: admin.tokens[0]" },
        { "admin: {\n tokens = [\n \"sha256:" SECRET_HEX "\",\n"
          " \"sha256:abc\" ]; };\n", "plugins.conf:4: admin.tokens[1]" },
        { "admin: {\n tokens = [ \"sha256:" SECRET_HEX "0\" ]; };\n",
          "plugins.conf:2: admin.tokens[0]" },
        { "admin: {\n tokens = [ \"sha256:" OTHER_HEX "\" ];\n"
          " };\n", NULL },
        { "admin: {\n tokens = \"sha256:" SECRET_HEX "\"; };\n",
          "plugins.conf:2: admin.tokens" },
        { "admin: {\n token = [ ]; };\n", "plugins.conf:2: admin.token" },
        { "admin = \"on\";\n", "plugins.conf:1: admin" },
        { "admin: {\n tokens = [ ]; };\n",
          "plugins.conf:2: admin.tokens: is empty: remove the admin group" },
        { "admin: {\n tokens = [\n \"sha256:" SECRET_HEX "\",\n"
          " \"sha256:" OTHER_HEX "\",\n \"sha256:" SECRET_HEX "\" ]; };\n",
          "plugins.conf:5: admin.tokens[2]: lists the same digest" },
    };
    char bad_hex[] = "admin: { tokens = [ \"sha256:" SECRET_HEX "\" ]; };\n";
    struct settings s;
    char error[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_settings(cases[i][0], &s, error, sizeof(error));

        settings_clear(&s);
        if (cases[i][1] == NULL) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, CRIER_ECONFIG);
        if (strstr(error, cases[i][1]) == NULL)
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i, cases[i][1],
                     error);
    }
    /* A non-hex digit in the right length is rejected too. */
    *strstr(bad_hex, "1ec1") = 'g';
    assert_int_equal(load_settings(bad_hex, &s, error, sizeof(error)),
                     CRIER_ECONFIG);
    assert_non_null(strstr(error, "sha256sum"));
    settings_clear(&s);
}


/* admin.test_recipients: whole addresses and exact "@domain" entries. */
static void
test_recipients_allowed(void **state)
{
    struct settings s;
    char error[1024];

    assert_int_equal(load_settings("admin: {\n test_recipients = [ "
                                   "\"@Example.gov\", \"ana@city.org\" "
                                   "]; };\n", &s, error, sizeof(error)), 0);
    assert_string_equal(s.test_recipients[0], "@example.gov");
    assert_true(admin_test_recipient_allowed("bo@example.gov",
                                             s.test_recipients));
    assert_true(admin_test_recipient_allowed("BO@EXAMPLE.GOV",
                                             s.test_recipients));
    assert_true(admin_test_recipient_allowed("ana@city.org",
                                             s.test_recipients));
    assert_false(admin_test_recipient_allowed("eve@city.org",
                                              s.test_recipients));
    assert_false(admin_test_recipient_allowed("bo@mail.example.gov",
                                              s.test_recipients));
    assert_false(admin_test_recipient_allowed("bo@example.gov.evil.com",
                                              s.test_recipients));
    assert_false(admin_test_recipient_allowed("a@b@example.gov",
                                              s.test_recipients));
    assert_false(admin_test_recipient_allowed("@example.gov",
                                              s.test_recipients));
    assert_false(admin_test_recipient_allowed("bo@example.gov", NULL));
    settings_clear(&s);
}


static void
test_recipients_reject_bad_entries(void **state)
{
    static const char *const cases[][2] = {
        { "admin: {\n test_recipients = [ ]; };\n",
          "plugins.conf:2: admin.test_recipients: must be a list" },
        { "admin: {\n test_recipients = [\n \"@example.gov\",\n"
          " \"example.gov\" ]; };\n",
          "plugins.conf:4: admin.test_recipients[1]" },
        { "admin: {\n test_recipients = [ \"@\" ]; };\n",
          "admin.test_recipients[0]" },
        { "admin: {\n test_recipients = \"@example.gov\"; };\n",
          "admin.test_recipients: must be a list" },
    };
    struct settings s;
    char error[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_settings(cases[i][0], &s, error, sizeof(error));

        settings_clear(&s);
        assert_int_equal(rc, CRIER_ECONFIG);
        if (strstr(error, cases[i][1]) == NULL)
            fail_msg("case %zu: expected \"%s\" in \"%s\"", i,
                     cases[i][1], error);
    }
}


/* default_language is stored in canonical case; a bad tag names the key. */
static void
default_language_setting(void **state)
{
    struct settings s;
    char error[1024];

    assert_int_equal(load_settings("default_language = \"es-mx\";\n", &s,
                                   error, sizeof(error)), 0);
    assert_string_equal(s.default_language, "es-MX");
    settings_clear(&s);
    assert_int_equal(load_settings("log_level = \"info\";\n"
                                   "default_language = \"spanish!\";\n", &s,
                                   error, sizeof(error)), CRIER_ECONFIG);
    settings_clear(&s);
    if (strstr(error, "plugins.conf:2: default_language") == NULL)
        fail_msg("expected the file, line and key in \"%s\"", error);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_single_digest),
        cmocka_unit_test(matches_any_of_several),
        cmocka_unit_test(rejects_wrong_token),
        cmocka_unit_test(rejects_without_digests),
        cmocka_unit_test(settings_read_digests),
        cmocka_unit_test(settings_without_admin),
        cmocka_unit_test(settings_reject_bad_digests),
        cmocka_unit_test(test_recipients_allowed),
        cmocka_unit_test(test_recipients_reject_bad_entries),
        cmocka_unit_test(default_language_setting),
    };

    return cmocka_run_group_tests_name("admin auth", tests, NULL, NULL);
}
