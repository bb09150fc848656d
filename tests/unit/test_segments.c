/*
 * Tests of core/segments: segments read from a config file written into a
 * temporary folder, with errors checked whole (file, line, key and, for a
 * `when` expression, the column), and membership evaluated for a profile.
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
#include "segments/segments.h"

/* One test's folder, config and segments. */
struct fixture {
    char dir[64];
    char path[128];
    struct config *cfg;
    struct segment_set *set;
};


static int
fixture_make(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/crier-segments-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/plugins.conf", f->dir);
    *state = f;
    return 0;
}


static int
fixture_remove(void **state)
{
    struct fixture *f = *state;
    int rc = 0;

    segment_set_free(f->set);
    config_free(f->cfg);
    if (unlink(f->path) != 0 || rmdir(f->dir) != 0)
        rc = -1;
    free(f);
    return rc;
}


/* Writes `text` as the config and loads its segments. */
static int
load(struct fixture *f, const char *text)
{
    FILE *fp;

    segment_set_free(f->set);
    config_free(f->cfg);
    f->set = NULL;
    f->cfg = NULL;
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    if (config_load(f->path, &f->cfg) != 0)
        fail_msg("config_load: %s", f->cfg->error);
    return segment_set_load(f->cfg, &f->set);
}


/* Loads `text`, expects CRIER_ECONFIG and compares the error after the
 * file's path with `rest`. */
static void
expect_error(struct fixture *f, const char *text, const char *rest)
{
    size_t n = strlen(f->path);

    assert_int_equal(load(f, text), CRIER_ECONFIG);
    assert_memory_equal(f->cfg->error, f->path, n);
    assert_string_equal(f->cfg->error + n, rest);
}


static void
segments_load_ok(void **state)
{
    struct fixture *f = *state;
    const struct segment *s;

    assert_int_equal(load(f, "segments = (\n"
                             "  { name = \"toddler-parents\";\n"
                             "    when = \"any(profile.dependents, "
                             "age_months(birth_date) < 24)\"; },\n"
                             "  { name = \"city_2\";\n"
                             "    when = \"profile.city == 'Lima'\"; }\n"
                             ");\n"), 0);
    assert_int_equal(f->set->segments->len, 2);
    s = segment_set_find(f->set, "city_2");
    assert_non_null(s);
    assert_string_equal(s->source, "profile.city == 'Lima'");
    assert_null(segment_set_find(f->set, "other"));
}


static void
segments_absent_ok(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "rules = ();\n"), 0);
    assert_int_equal(f->set->segments->len, 0);
}


static void
segments_errors(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "segments = (\n"
                    "  { name = \"a\";\n"
                    "    when = \"profile.city = 'x'\"; }\n"
                    ");\n",
                 ":3:26: segments[0].when: unknown operator '='; use '==' "
                 "to compare");
    expect_error(f, "segments = (\n"
                    "  { name = \"a\"; when = \"true\"; },\n"
                    "  { name = \"a\"; when = \"true\"; }\n"
                    ");\n",
                 ":3: segments[1].name: segment name \"a\" is used twice");
    expect_error(f, "segments = ( { name = \"Big\"; when = \"true\"; } );\n",
                 ":1: segments[0].name: \"Big\" is not a valid segment "
                 "name: use up to 64 lowercase letters, digits, '-' and "
                 "'_'");
    expect_error(f, "segments = ( { name = \"a\"; } );\n",
                 ":1: segments[0].when: is missing: a segment needs a "
                 "condition");
    expect_error(f, "segments = ( { name = \"a\"; when = \"true\"; "
                    "on = \"x\"; } );\n",
                 ":1: segments[0].on: unknown setting; valid settings are "
                 "name and when");
    expect_error(f, "segments = { a = 1; };\n",
                 ":1: segments: must be a list: ( { ... }, { ... } )");
    expect_error(f, "segments_refresh = \"soon\";\n",
                 ":1: segments_refresh: \"soon\" is not a duration from 1s "
                 "to 30d, such as \"1h\" or \"15m\"");
    expect_error(f, "segments_refresh = \"500ms\";\n",
                 ":1: segments_refresh: \"500ms\" is not a duration from "
                 "1s to 30d, such as \"1h\" or \"15m\"");
    expect_error(f, "segments_refresh = \"31d\";\n",
                 ":1: segments_refresh: \"31d\" is not a duration from "
                 "1s to 30d, such as \"1h\" or \"15m\"");
}


/* The interval defaults to an hour, and only age_months() makes a
 * segment read the clock. */
static void
segments_refresh_setting(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(load(f, "segments = (\n"
                             "  { name = \"lima\";\n"
                             "    when = \"profile.city == 'Lima'\"; }\n"
                             ");\n"), 0);
    assert_int_equal(f->set->refresh_ms, SEGMENTS_REFRESH_DEFAULT_MS);
    assert_int_equal(f->set->reads_clock, 0);

    assert_int_equal(load(f, "segments_refresh = \"15m\";\n"
                             "segments = (\n"
                             "  { name = \"lima\";\n"
                             "    when = \"profile.city == 'Lima'\"; },\n"
                             "  { name = \"toddler-parents\";\n"
                             "    when = \"profile.x == 1 || "
                             "any(profile.dependents, "
                             "age_months(birth_date) < 24)\"; }\n"
                             ");\n"), 0);
    assert_int_equal(f->set->refresh_ms, 15 * 60 * 1000);
    assert_int_equal(f->set->reads_clock, 1);
    assert_int_equal(segment_set_find(f->set, "lima")->reads_clock, 0);
    assert_int_equal(segment_set_find(f->set,
                                      "toddler-parents")->reads_clock, 1);
}


/* With clock_only, only segments that read the clock are evaluated. */
static void
segments_evaluate_clock_only(void **state)
{
    struct fixture *f = *state;
    json_t *profile = json_pack("{s:s,s:{s:s},s:[],s:{},s:{s:{s:{s:{s:s}}}}}",
                                "id", "p1", "attributes", "city", "Lima",
                                "identities", "stages", "related",
                                "dependents", "c1", "attributes",
                                "birth_date", "2025-06-01");
    json_t *changes = json_array();

    assert_int_equal(load(f, "segments = (\n"
                             "  { name = \"lima\";\n"
                             "    when = \"profile.city == 'Lima'\"; },\n"
                             "  { name = \"toddler-parents\";\n"
                             "    when = \"any(profile.dependents, "
                             "age_months(birth_date) < 24)\"; }\n"
                             ");\n"), 0);
    /* 2026-01-01: the child is 7 months old. */
    segments_evaluate(f->set, profile, NULL, INT64_C(1767225600000), 1, changes);
    assert_int_equal(json_array_size(changes), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(changes, 0), "segment")),
                        "toddler-parents");

    /* 2027-07-01: 25 months old, so the profile leaves. */
    segments_evaluate(f->set, profile, NULL, INT64_C(1814486400000), 1, changes);
    assert_int_equal(json_array_size(changes), 2);
    assert_true(json_is_false(json_object_get(json_array_get(changes, 1),
                                              "member")));
    json_decref(changes);
    json_decref(profile);
}


/* Each change becomes an event addressed by profile id. */
static void
segments_events_of_changes(void **state)
{
    json_t *changes = json_pack("[{s:s,s:s,s:b,s:I},{s:s,s:s,s:b,s:I}]",
                                "segment", "lima", "profile", "p1",
                                "member", 1, "time",
                                (json_int_t) INT64_C(1767225600000),
                                "segment", "lima", "profile", "p1",
                                "member", 0, "time",
                                (json_int_t) INT64_C(1767225601000));
    json_t *events = segments_events(changes);
    json_t *expected = json_loads(
        "[{\"source\": \"crier\", \"type\": \"segment.entered\","
        "  \"time\": 1767225600000,"
        "  \"event\": {\"type\": \"segment.entered\","
        "             \"time\": \"2026-01-01T00:00:00.000Z\","
        "             \"profile_id\": \"p1\","
        "             \"properties\": {\"segment\": \"lima\"}}},"
        " {\"source\": \"crier\", \"type\": \"segment.left\","
        "  \"time\": 1767225601000,"
        "  \"event\": {\"type\": \"segment.left\","
        "             \"time\": \"2026-01-01T00:00:01.000Z\","
        "             \"profile_id\": \"p1\","
        "             \"properties\": {\"segment\": \"lima\"}}}]",
        0, NULL);

    (void) state;
    assert_non_null(expected);
    assert_true(json_equal(events, expected));
    json_decref(expected);
    json_decref(events);
    json_decref(changes);
}


static void
segments_evaluate_changes(void **state)
{
    struct fixture *f = *state;
    json_t *profile = json_pack("{s:s,s:{s:s},s:[],s:{},s:[s]}", "id", "p1",
                                "attributes", "city", "Lima",
                                "identities", "stages", "segments",
                                "gone");
    json_t *changes = json_array();
    json_t *change;

    assert_int_equal(load(f, "segments = (\n"
                             "  { name = \"lima\";\n"
                             "    when = \"profile.city == 'Lima'\"; },\n"
                             "  { name = \"gone\"; when = \"false\"; },\n"
                             "  { name = \"evented\";\n"
                             "    when = \"event.type == 'x'\"; }\n"
                             ");\n"), 0);
    segments_evaluate(f->set, profile, NULL, 1000, 0, changes);
    assert_int_equal(json_array_size(changes), 2);
    change = json_array_get(changes, 0);
    assert_string_equal(json_string_value(json_object_get(change,
                                                          "segment")),
                        "lima");
    assert_true(json_is_true(json_object_get(change, "member")));
    assert_int_equal(json_integer_value(json_object_get(change, "time")),
                     1000);
    change = json_array_get(changes, 1);
    assert_string_equal(json_string_value(json_object_get(change,
                                                          "segment")),
                        "gone");
    assert_true(json_is_false(json_object_get(change, "member")));

    /* A second evaluation finds nothing new. */
    segments_evaluate(f->set, profile, NULL, 2000, 0, changes);
    assert_int_equal(json_array_size(changes), 2);
    json_decref(changes);
    json_decref(profile);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(segments_load_ok, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(segments_absent_ok, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(segments_errors, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(segments_evaluate_changes,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(segments_refresh_setting,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(segments_evaluate_clock_only,
                                        fixture_make, fixture_remove),
        cmocka_unit_test(segments_events_of_changes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
