/*
 * Tests of core/config/config.c: plugins.conf read with libconfig into
 * one JSON tree, the line of every key path, ${NAME} expansion, and the
 * typed getters with their "file:line: key: message" errors. Each test
 * writes its config into a fresh folder under /tmp and removes it.
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

#define MAX_FILES 4

/* A temporary folder and the files a test wrote into it. */
struct folder {
    char dir[64];
    char files[MAX_FILES][128];
    int count;
};


static int
folder_make(void **state)
{
    struct folder *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/crier-config-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}


static int
folder_remove(void **state)
{
    struct folder *f = *state;
    int rc = 0;

    for (int i = 0; i < f->count; i++)
        if (unlink(f->files[i]) != 0)
            rc = -1;
    if (rmdir(f->dir) != 0)
        rc = -1;
    free(f);
    return rc;
}


/* Writes `text` to `name` in the folder and returns its path. */
static const char *
folder_write(struct folder *f, const char *name, const char *text)
{
    char path[sizeof(f->files[0])];
    FILE *fp;

    assert_true(f->count < MAX_FILES);
    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    memcpy(f->files[f->count], path, sizeof(path));
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    return f->files[f->count++];
}


/* Loads `text` as plugins.conf, or fails the test with the error. */
static struct config *
load_ok(struct folder *f, const char *text)
{
    const char *path = folder_write(f, "plugins.conf", text);
    struct config *cfg;

    if (config_load(path, &cfg) != 0)
        fail_msg("config_load: %s", cfg->error);
    return cfg;
}


/* Loads `text`, expects CRIER_ECONFIG and returns the config with its
 * error; the error must start with the file's path. */
static struct config *
load_error(struct folder *f, const char *text)
{
    const char *path = folder_write(f, "plugins.conf", text);
    struct config *cfg;

    assert_int_equal(config_load(path, &cfg), CRIER_ECONFIG);
    assert_non_null(cfg);
    assert_memory_equal(cfg->error, path, strlen(path));
    return cfg;
}


/* Checks that the error, after "<path>", reads `rest`. */
static void
assert_error_tail(const struct config *cfg, const char *rest)
{
    size_t n = strlen(cfg->path);

    assert_memory_equal(cfg->error, cfg->path, n);
    assert_string_equal(cfg->error + n, rest);
}


static const char tree_text[] =
    "# crier settings for the config tests\n"                       /* 1 */
    "listen = \"127.0.0.1:8080\";\n"                                /* 2 */
    "limits: { count = 10; big = 5000000000L; ratio = 0.5;\n"       /* 3 */
    "          on = true; };\n"                                     /* 4 */
    "triggers: {\n"                                                 /* 5 */
    "  cases: { plugin = \"case\";\n"                               /* 6 */
    "           secret = \"s3cret\"; };\n"                          /* 7 */
    "};\n"                                                          /* 8 */
    "rules = (\n"                                                   /* 9 */
    "  { name = \"first\"; on = \"page_view\"; },\n"                /* 10 */
    "  { name = \"second\";\n"                                      /* 11 */
    "    on = [ \"case.opened\", \"case.closed\" ];\n"              /* 12 */
    "    when = \"true\"; }\n"                                      /* 13 */
    ");\n";                                                         /* 14 */


static void
load_tree(void **state)
{
    struct config *cfg = load_ok(*state, tree_text);
    json_error_t jerr;
    json_t *expected = json_loads(
        "{\"listen\": \"127.0.0.1:8080\","
        " \"limits\": {\"count\": 10, \"big\": 5000000000, \"ratio\": 0.5,"
        "              \"on\": true},"
        " \"triggers\": {\"cases\": {\"plugin\": \"case\","
        "                            \"secret\": \"s3cret\"}},"
        " \"rules\": [{\"name\": \"first\", \"on\": \"page_view\"},"
        "             {\"name\": \"second\","
        "              \"on\": [\"case.opened\", \"case.closed\"],"
        "              \"when\": \"true\"}]}", 0, &jerr);

    assert_non_null(expected);
    assert_true(json_is_object(cfg->root));
    if (!json_equal(cfg->root, expected)) {
        char *got = json_dumps(cfg->root, JSON_SORT_KEYS);

        print_error("got %s\n", got);
        free(got);
        fail();
    }
    assert_string_equal(cfg->error, "");
    json_decref(expected);
    config_free(cfg);
}


/* The folder is absolute and the path is kept as given. */
static void
load_paths(void **state)
{
    struct folder *f = *state;
    struct config *cfg = load_ok(f, "a = 1;\n");

    assert_string_equal(cfg->dir, f->dir);
    assert_string_equal(cfg->path, f->files[0]);
    config_free(cfg);
}


/* A relative path resolves against the folder of the config, not the
 * working directory of the moment. */
static void
load_relative_path(void **state)
{
    struct folder *f = *state;
    struct config *cfg;
    char cwd[512];
    char *got;

    folder_write(f, "plugins.conf", "a = 1;\n");
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->dir), 0);
    assert_int_equal(config_load("plugins.conf", &cfg), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(cfg->path, "plugins.conf");
    assert_true(cfg->dir[0] == '/');
    got = config_resolve(cfg, "var/crier.db");
    assert_non_null(strstr(got, "/var/crier.db"));
    assert_true(got[0] == '/');
    assert_memory_equal(got, cfg->dir, strlen(cfg->dir));
    free(got);
    config_free(cfg);
}


static void
line_of_keys(void **state)
{
    struct config *cfg = load_ok(*state, tree_text);

    assert_int_equal(config_line(cfg, "listen"), 2);
    assert_int_equal(config_line(cfg, "limits.count"), 3);
    assert_int_equal(config_line(cfg, "limits.on"), 4);
    assert_int_equal(config_line(cfg, "triggers.cases.plugin"), 6);
    assert_int_equal(config_line(cfg, "triggers.cases.secret"), 7);
    assert_int_equal(config_line(cfg, "rules[0].on"), 10);
    assert_int_equal(config_line(cfg, "rules[1].name"), 11);
    assert_int_equal(config_line(cfg, "rules[1].on"), 12);
    assert_int_equal(config_line(cfg, "rules[1].on[1]"), 12);
    assert_int_equal(config_line(cfg, "rules[1].when"), 13);
    config_free(cfg);
}


/* A key that is not in the file takes the line of its nearest parent. */
static void
line_of_parent(void **state)
{
    struct config *cfg = load_ok(*state, tree_text);

    assert_int_equal(config_line(cfg, "triggers.cases.path"),
                     config_line(cfg, "triggers.cases"));
    assert_int_equal(config_line(cfg, "triggers.cases.path.deeper"),
                     config_line(cfg, "triggers.cases"));
    assert_int_equal(config_line(cfg, "rules[1].stage"),
                     config_line(cfg, "rules[1]"));
    assert_int_equal(config_line(cfg, "rules[7].when"),
                     config_line(cfg, "rules"));
    assert_int_equal(config_line(cfg, "triggers.web"),
                     config_line(cfg, "triggers"));
    assert_true(config_line(cfg, "triggers.cases") >= 5);
    assert_true(config_line(cfg, "triggers.cases") <= 6);
    assert_true(config_line(cfg, "rules[1]") >= 11);
    assert_true(config_line(cfg, "rules[1]") <= 12);
    assert_int_equal(config_line(cfg, "nothing"), 0);
    assert_int_equal(config_line(cfg, "nothing.deeper"), 0);
    config_free(cfg);
}


static void
env_expansion(void **state)
{
    struct config *cfg;
    json_t *root;

    assert_int_equal(setenv("CRIER_TEST_SECRET", "from-env", 1), 0);
    assert_int_equal(setenv("CRIER_TEST_EMPTY", "", 1), 0);
    assert_int_equal(unsetenv("CRIER_TEST_UNSET"), 0);
    cfg = load_ok(*state,
                  "plain = \"${CRIER_TEST_SECRET}\";\n"
                  "set = \"${CRIER_TEST_SECRET:-fallback}\";\n"
                  "unset = \"${CRIER_TEST_UNSET:-fallback}\";\n"
                  "empty = \"${CRIER_TEST_EMPTY:-fallback}\";\n"
                  "blank = \"${CRIER_TEST_UNSET:-}\";\n"
                  "mixed = \"a-${CRIER_TEST_SECRET}-${CRIER_TEST_UNSET:-b}"
                  "-c\";\n"
                  "literal = \"$HOME and $ {x} stay\";\n"
                  "list = [ \"${CRIER_TEST_SECRET}\" ];\n");
    root = cfg->root;
    assert_string_equal(json_string_value(json_object_get(root, "plain")),
                        "from-env");
    assert_string_equal(json_string_value(json_object_get(root, "set")),
                        "from-env");
    assert_string_equal(json_string_value(json_object_get(root, "unset")),
                        "fallback");
    assert_string_equal(json_string_value(json_object_get(root, "empty")),
                        "fallback");
    assert_string_equal(json_string_value(json_object_get(root, "blank")),
                        "");
    assert_string_equal(json_string_value(json_object_get(root, "mixed")),
                        "a-from-env-b-c");
    assert_string_equal(json_string_value(json_object_get(root,
                                                          "literal")),
                        "$HOME and $ {x} stay");
    assert_string_equal(json_string_value(
                            json_array_get(json_object_get(root, "list"),
                                           0)),
                        "from-env");
    config_free(cfg);
    unsetenv("CRIER_TEST_SECRET");
    unsetenv("CRIER_TEST_EMPTY");
}


static void
env_unset_error(void **state)
{
    struct config *cfg;

    assert_int_equal(unsetenv("CRIER_TEST_UNSET"), 0);
    cfg = load_error(*state,
                     "listen = \"127.0.0.1:8080\";\n"
                     "triggers: {\n"
                     "  cases: { plugin = \"case\";\n"
                     "           secret = \"${CRIER_TEST_UNSET}\"; };\n"
                     "};\n");
    assert_error_tail(cfg, ":4: triggers.cases.secret: environment "
                      "variable CRIER_TEST_UNSET is not set; set it or "
                      "write ${CRIER_TEST_UNSET:-default}");
    config_free(cfg);
}


static void
env_unterminated(void **state)
{
    struct config *cfg = load_error(*state, "a = 1;\nb = \"x${NAME\";\n");

    assert_error_tail(cfg, ":2: b: unterminated ${ in \"x${NAME\"");
    config_free(cfg);
}


static void
syntax_error(void **state)
{
    struct config *cfg = load_error(*state,
                                    "a = 1;\n"
                                    "b = 2;\n"
                                    "c = = 3;\n");
    size_t n = strlen(cfg->path);

    assert_memory_equal(cfg->error + n, ":3: syntax: ", 12);
    assert_true(strlen(cfg->error) > n + 12);
    config_free(cfg);
}


static void
missing_file(void **state)
{
    struct folder *f = *state;
    struct config *cfg;
    char path[128];

    snprintf(path, sizeof(path), "%s/absent.conf", f->dir);
    assert_int_equal(config_load(path, &cfg), CRIER_EIO);
    assert_non_null(cfg);
    assert_non_null(strstr(cfg->error, "absent.conf: cannot read: "));
    assert_null(cfg->root);
    config_free(cfg);
}


/*
 * A setting read through @include lives in another file, so its errors
 * must name that file and the line there.
 */
static void
include_error_names_file(void **state)
{
    struct folder *f = *state;
    struct config *cfg;
    char expected[256];
    char got[sizeof(cfg->error)];

    folder_write(f, "triggers.conf",
                 "triggers: {\n"
                 "  cases: { plugin = \"case\"; path = 5; };\n"
                 "};\n");
    cfg = load_ok(f, "listen = \"127.0.0.1:8080\";\n"
                     "\n"
                     "\n"
                     "@include \"triggers.conf\"\n");
    config_fail(cfg, "triggers.cases.path", "must be a string");
    snprintf(got, sizeof(got), "%s", cfg->error);
    config_free(cfg);
    snprintf(expected, sizeof(expected),
             "%s/triggers.conf:2: triggers.cases.path: must be a string",
             f->dir);
    assert_string_equal(got, expected);
}


/* Only the first error is kept. */
static void
fail_keeps_first(void **state)
{
    struct config *cfg = load_ok(*state, tree_text);

    config_fail(cfg, "limits.count", "must be %d or less", 5);
    config_fail(cfg, "listen", "second");
    assert_error_tail(cfg, ":3: limits.count: must be 5 or less");
    config_free(cfg);
}


static void
resolve_paths(void **state)
{
    struct folder *f = *state;
    struct config *cfg = load_ok(f, "a = 1;\n");
    char expected[128];
    char *got;

    got = config_resolve(cfg, "var/crier.db");
    snprintf(expected, sizeof(expected), "%s/var/crier.db", f->dir);
    assert_string_equal(got, expected);
    free(got);

    got = config_resolve(cfg, "/srv/crier/templates");
    assert_string_equal(got, "/srv/crier/templates");
    free(got);
    config_free(cfg);
}


static const char getters_text[] =
    "name = \"crier\";\n"           /* 1 */
    "empty = \"\";\n"               /* 2 */
    "number = 42;\n"                /* 3 */
    "text = \"42\";\n"              /* 4 */
    "ratio = 0.5;\n"                /* 5 */
    "big = 5000000000L;\n"          /* 6 */
    "group: {\n"                    /* 7 */
    "  port = 70000;\n"             /* 8 */
    "  host = 8080;\n"              /* 9 */
    "};\n";                         /* 10 */


static void
get_string_ok(void **state)
{
    struct config *cfg = load_ok(*state, getters_text);
    const char *out = "unchanged";

    assert_int_equal(config_get_string(cfg, cfg->root, "", "name", 1, &out),
                     0);
    assert_string_equal(out, "crier");

    /* A missing optional member leaves *out alone. */
    out = "unchanged";
    assert_int_equal(config_get_string(cfg, cfg->root, "", "absent", 0,
                                       &out), 0);
    assert_string_equal(out, "unchanged");
    assert_string_equal(cfg->error, "");
    config_free(cfg);
}


/* Reads one string member that must fail and checks the error. */
static void
expect_string_error(struct folder *f, const char *prefix, const char *name,
                    int required, const char *rest)
{
    struct config *cfg = load_ok(f, getters_text);
    const json_t *obj = cfg->root;
    const char *out = "unchanged";

    if (prefix[0] != '\0')
        obj = json_object_get(cfg->root, prefix);
    assert_int_equal(config_get_string(cfg, obj, prefix, name, required,
                                       &out), CRIER_ECONFIG);
    assert_string_equal(out, "unchanged");
    assert_error_tail(cfg, rest);
    config_free(cfg);
    assert_int_equal(unlink(f->files[--f->count]), 0);
}


static void
get_string_errors(void **state)
{
    expect_string_error(*state, "", "number", 1,
                        ":3: number: must be a string in double quotes");
    expect_string_error(*state, "", "empty", 0,
                        ":2: empty: must not be empty");
    expect_string_error(*state, "", "absent", 1,
                        ": absent: missing; this setting is required");
    expect_string_error(*state, "group", "host", 1,
                        ":9: group.host: must be a string in double "
                        "quotes");
    expect_string_error(*state, "group", "path", 1,
                        ":7: group.path: missing; this setting is "
                        "required");
}


static void
get_int_ok(void **state)
{
    struct config *cfg = load_ok(*state, getters_text);
    long long out = -1;

    assert_int_equal(config_get_int(cfg, cfg->root, "", "number", 1, 100,
                                    &out), 0);
    assert_int_equal(out, 42);
    assert_int_equal(config_get_int(cfg, cfg->root, "", "big", 0,
                                    INT64_C(10000000000), &out), 0);
    assert_int_equal(out, INT64_C(5000000000));

    /* Both bounds are included. */
    assert_int_equal(config_get_int(cfg, cfg->root, "", "number", 42, 42,
                                    &out), 0);
    assert_int_equal(out, 42);

    out = -1;
    assert_int_equal(config_get_int(cfg, cfg->root, "", "absent", 1, 100,
                                    &out), 0);
    assert_int_equal(out, -1);
    assert_string_equal(cfg->error, "");
    config_free(cfg);
}


static void
expect_int_error(struct folder *f, const char *prefix, const char *name,
                 long long min, long long max, const char *rest)
{
    struct config *cfg = load_ok(f, getters_text);
    const json_t *obj = cfg->root;
    long long out = -1;

    if (prefix[0] != '\0')
        obj = json_object_get(cfg->root, prefix);
    assert_int_equal(config_get_int(cfg, obj, prefix, name, min, max,
                                    &out), CRIER_ECONFIG);
    assert_int_equal(out, -1);
    assert_error_tail(cfg, rest);
    config_free(cfg);
    assert_int_equal(unlink(f->files[--f->count]), 0);
}


static void
get_int_errors(void **state)
{
    expect_int_error(*state, "", "text", 0, 100,
                     ":4: text: must be a whole number");
    expect_int_error(*state, "", "ratio", 0, 100,
                     ":5: ratio: must be a whole number");
    expect_int_error(*state, "", "number", 43, 100,
                     ":3: number: must be between 43 and 100, not 42");
    expect_int_error(*state, "", "number", 0, 41,
                     ":3: number: must be between 0 and 41, not 42");
    expect_int_error(*state, "", "big", 0, INT32_MAX,
                     ":6: big: must be between 0 and 2147483647, not "
                     "5000000000");
    expect_int_error(*state, "group", "port", 1, 65535,
                     ":8: group.port: must be between 1 and 65535, not "
                     "70000");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(load_tree, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(load_paths, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(load_relative_path, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(line_of_keys, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(line_of_parent, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(env_expansion, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(env_unset_error, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(env_unterminated, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(syntax_error, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(missing_file, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(include_error_names_file,
                                        folder_make, folder_remove),
        cmocka_unit_test_setup_teardown(fail_keeps_first, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(resolve_paths, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(get_string_ok, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(get_string_errors, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(get_int_ok, folder_make,
                                        folder_remove),
        cmocka_unit_test_setup_teardown(get_int_errors, folder_make,
                                        folder_remove),
    };

    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
