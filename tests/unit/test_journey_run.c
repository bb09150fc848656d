/*
 * Tests of core/pipeline/journey.c without a store or a server: events
 * are hand-built rows of events_read, each profile's journey places a
 * hand-built result of journeys_read, and the journeys come from a
 * config file written into a temporary folder. The test clock stays at
 * 2026-01-01.
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
#include <uv.h>

#include "base/clock.h"
#include "config/config.h"
#include "pipeline/evaluate.h"
#include "rules/rules.h"
#include "template/template.h"

#define TEMPLATES CRIER_SOURCE_DIR "/tests/data/templates/ok"
#define NOW_MS CLOCK_TEST_DEFAULT_START_MS
#define DAY_MS INT64_C(86400000)

static const char journeys_text[] =
    "journeys = (\n"
    "  { name = \"apply\"; on = \"started\"; reentry = \"restart\";\n"
    "    steps = (\n"
    "      { name = \"submitted\"; wait_event = { on = \"submitted\";\n"
    "          within = \"14d\"; timeout = \"remind\"; }; },\n"
    "      { name = \"done\"; exit = true; },\n"
    "      { name = \"remind\"; send = { channel = \"email\";\n"
    "                                  template = \"welcome\"; }; }\n"
    "    ); },\n"
    "  { name = \"once\"; on = \"signup\";\n"
    "    steps = ( { name = \"hello\"; send = { channel = \"email\";\n"
    "                                          template = \"welcome\"; }; }"
    " ); },\n"
    "  { name = \"loop\"; on = \"spin\";\n"
    "    steps = ( { name = \"again\"; branch = { when = \"true\";\n"
    "                                            then = \"again\"; }; } );"
    " }\n"
    ");\n";

static const char profile_text[] =
    "{\"profiles\": [{\"id\": \"p-ana\", \"created\": 1700000000000,"
    "  \"updated\": 1700000000000, \"attributes\": {},"
    "  \"identities\": [{\"kind\": \"email\", \"value\": \"ana@example.gov\"}],"
    "  \"stages\": {}}]}";

struct world {
    uv_loop_t loop;
    char dir[64];
    char path[128];
    struct template_set *templates;
    struct config *cfg;
    struct ruleset *rules;
};


static int
channel_exists(const char *name)
{
    return strcmp(name, "email") == 0;
}


static int
world_make(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    struct template_error terr;
    FILE *fp;

    if (w == NULL || uv_loop_init(&w->loop) != 0)
        return -1;
    clock_init(&w->loop, 1, NOW_MS);
    snprintf(w->dir, sizeof(w->dir), "%s", "/tmp/crier-journey-XXXXXX");
    if (mkdtemp(w->dir) == NULL)
        return -1;
    snprintf(w->path, sizeof(w->path), "%s/plugins.conf", w->dir);
    fp = fopen(w->path, "w");
    if (fp == NULL)
        return -1;
    fputs(journeys_text, fp);
    fclose(fp);
    w->templates = template_set_load(TEMPLATES, &terr);
    if (w->templates == NULL ||
        config_load(w->path, &w->cfg) != 0 ||
        ruleset_load(w->cfg, w->templates, channel_exists, &w->rules) != 0) {
        print_error("%s\n", w->cfg ? w->cfg->error : terr.message);
        return -1;
    }
    *state = w;
    return 0;
}


static int
world_remove(void **state)
{
    struct world *w = *state;
    int rc = 0;

    ruleset_free(w->rules);
    config_free(w->cfg);
    template_set_free(w->templates);
    if (unlink(w->path) != 0 || rmdir(w->dir) != 0)
        rc = -1;
    clock_close();
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w->loop) != 0)
        rc = -1;
    free(w);
    return rc;
}


static json_t *
parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return v;
}


/* Builds a row of events_read for Ana: an event of `type` with
 * `properties` (JSON text, or NULL). */
static json_t *
event_row(long long seq, const char *type, const char *properties)
{
    json_t *event = json_pack("{s:s,s:s}", "type", type, "profile_id",
                              "p-ana");

    if (properties != NULL)
        json_object_set_new(event, "properties", parse(properties));
    return json_pack("{s:I,s:s,s:n,s:s,s:I,s:o}", "seq", (json_int_t) seq,
                     "source", "crier", "id", "type", type, "time",
                     (json_int_t) NOW_MS, "event", event);
}


/* Runs the event over Ana's places `places` (JSON text of a journeys
 * list) and returns the commit batch. */
static json_t *
run(const struct world *w, json_t *event, const char *places)
{
    json_t *loaded = parse(profile_text);
    json_t *rows = json_pack("{s:o}", "p-ana", parse(places));
    json_t *events = json_pack("[o]", event);
    struct evaluation *ev = evaluation_new(events);
    json_t *batch;

    json_decref(events);
    evaluation_journeys_set(ev, rows);
    batch = evaluation_run(ev, loaded, w->rules, "pipeline");
    assert_non_null(batch);
    evaluation_free(ev);
    json_decref(rows);
    json_decref(loaded);
    return batch;
}


static const char waiting_place[] =
    "[{\"journey\": \"apply\", \"profile\": \"p-ana\", \"entry\": 5,"
    "  \"step\": \"submitted\", \"state\": \"active\", \"due\": null,"
    "  \"since\": 1, \"updated\": 1}]";


static void
due_event_for_old_entry_ignored(void **state)
{
    json_t *batch = run(*state, event_row(9, "journey.due",
                                          "{\"journey\": \"apply\","
                                          " \"entry\": 4, \"step\":"
                                          " \"submitted\"}"),
                        waiting_place);

    assert_int_equal(json_array_size(json_object_get(batch, "journeys")), 0);
    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 0);
    json_decref(batch);
}


static void
due_event_runs_timeout_step(void **state)
{
    json_t *batch = run(*state, event_row(9, "journey.due",
                                          "{\"journey\": \"apply\","
                                          " \"entry\": 5, \"step\":"
                                          " \"submitted\"}"),
                        waiting_place);
    json_t *place = json_array_get(json_object_get(batch, "journeys"), 0);
    json_t *job = json_array_get(json_object_get(batch, "jobs"), 0);

    assert_int_equal(json_array_size(json_object_get(batch, "journeys")), 1);
    assert_string_equal(json_string_value(json_object_get(place, "step")),
                        "remind");
    assert_string_equal(json_string_value(json_object_get(place, "state")),
                        "ended");
    assert_null(json_object_get(place, "_dirty"));
    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 1);
    assert_string_equal(json_string_value(json_object_get(job, "key")),
                        "journey:apply/remind/p-ana/5");
    assert_string_equal(json_string_value(json_object_get(job, "rule")),
                        "journey:apply/remind");
    assert_string_equal(json_string_value(json_object_get(job, "to")),
                        "ana@example.gov");
    json_decref(batch);
}


static void
awaited_event_goes_to_next_step(void **state)
{
    json_t *batch = run(*state, event_row(9, "submitted", NULL),
                        waiting_place);
    json_t *place = json_array_get(json_object_get(batch, "journeys"), 0);

    assert_string_equal(json_string_value(json_object_get(place, "step")),
                        "done");
    assert_string_equal(json_string_value(json_object_get(place, "state")),
                        "ended");
    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 0);
    json_decref(batch);
}


static void
restart_replaces_entry(void **state)
{
    json_t *batch = run(*state, event_row(9, "started", NULL),
                        waiting_place);
    json_t *place = json_array_get(json_object_get(batch, "journeys"), 0);

    assert_int_equal(json_integer_value(json_object_get(place, "entry")), 9);
    assert_string_equal(json_string_value(json_object_get(place, "step")),
                        "submitted");
    assert_string_equal(json_string_value(json_object_get(place, "state")),
                        "active");
    assert_int_equal(json_integer_value(json_object_get(place, "due")),
                     NOW_MS + 14 * DAY_MS);
    assert_int_equal(json_integer_value(json_object_get(place, "since")),
                     NOW_MS);
    json_decref(batch);
}


static void
never_reentry_after_end(void **state)
{
    json_t *batch = run(*state, event_row(9, "signup", NULL),
                        "[{\"journey\": \"once\", \"profile\": \"p-ana\","
                        "  \"entry\": 2, \"step\": \"hello\", \"state\":"
                        "  \"ended\", \"due\": null, \"since\": 1,"
                        "  \"updated\": 1}]");

    assert_int_equal(json_array_size(json_object_get(batch, "journeys")), 0);
    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 0);
    json_decref(batch);

    batch = run(*state, event_row(9, "signup", NULL), "[]");
    assert_int_equal(json_array_size(json_object_get(batch, "journeys")), 1);
    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 1);
    json_decref(batch);
}


static void
removed_step_ends_at_wake(void **state)
{
    json_t *batch = run(*state, event_row(9, "journey.due",
                                          "{\"journey\": \"apply\","
                                          " \"entry\": 5, \"step\":"
                                          " \"renamed\"}"),
                        "[{\"journey\": \"apply\", \"profile\": \"p-ana\","
                        "  \"entry\": 5, \"step\": \"renamed\", \"state\":"
                        "  \"active\", \"due\": null, \"since\": 1,"
                        "  \"updated\": 1}]");
    json_t *place = json_array_get(json_object_get(batch, "journeys"), 0);

    assert_string_equal(json_string_value(json_object_get(place, "step")),
                        "renamed");
    assert_string_equal(json_string_value(json_object_get(place, "state")),
                        "ended");
    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 0);
    json_decref(batch);
}


static void
branch_loop_ends_journey(void **state)
{
    json_t *batch = run(*state, event_row(9, "spin", NULL), "[]");
    json_t *place = json_array_get(json_object_get(batch, "journeys"), 0);

    assert_string_equal(json_string_value(json_object_get(place, "journey")),
                        "loop");
    assert_string_equal(json_string_value(json_object_get(place, "state")),
                        "ended");
    json_decref(batch);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(due_event_for_old_entry_ignored),
        cmocka_unit_test(due_event_runs_timeout_step),
        cmocka_unit_test(awaited_event_goes_to_next_step),
        cmocka_unit_test(restart_replaces_entry),
        cmocka_unit_test(never_reentry_after_end),
        cmocka_unit_test(removed_step_ends_at_wake),
        cmocka_unit_test(branch_loop_ends_journey),
    };

    return cmocka_run_group_tests(tests, world_make, world_remove);
}
