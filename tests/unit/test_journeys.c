/*
 * Tests of core/journeys/config.c: journeys read from a config file
 * written into a temporary folder. Errors are checked whole, with the
 * file, line and key.
 * Templates come from the fixture set tests/data/templates/ok, which has
 * "welcome" and "receipt".
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
#include "journeys/journeys.h"
#include "rules/rules.h"
#include "rules_fixture.h"
#include "template/template.h"

#define TEMPLATES CRIER_SOURCE_DIR "/tests/data/templates/ok"

static int
fixture_make(void **state)
{
    return rules_fixture_make(state, TEMPLATES);
}


static int
fixture_remove(void **state)
{
    return rules_fixture_remove(state);
}


static const struct journey *
journey_at(const struct fixture *f, guint i)
{
    assert_true(i < f->rules->journeys->len);
    return g_ptr_array_index(f->rules->journeys, i);
}


static const struct journey_step *
step_at(const struct journey *j, guint i)
{
    assert_true(i < j->steps->len);
    return g_ptr_array_index(j->steps, i);
}


#define PROGRAMS "programs: { lead: { stages = [ \"new\", \"enrolled\" ]; " \
                 "}; };\n"


static void
journey_every_step_kind(void **state)
{
    struct fixture *f = *state;
    const struct journey *j;
    const struct journey_step *s;

    load_ok(f, PROGRAMS
            "journeys = ( {\n"
            "  name = \"apply\"; on = [ \"signup\", \"segment.entered\" ];\n"
            "  when = \"event.type == 'signup'\"; reentry = \"restart\";\n"
            "  exit = { when = \"profile.done\"; left_segment = \"active\"; "
            "};\n"
            "  steps = (\n"
            "    { name = \"hello\"; send = { channel = \"email\"; "
            "template = \"welcome\"; class = \"service\"; }; },\n"
            "    { name = \"pause\"; wait = \"3d\"; },\n"
            "    { name = \"morning\"; wait_until = \"09:00\"; },\n"
            "    { name = \"office\"; wait_window = \"Sun-Thu 09:00-17:00\"; "
            "},\n"
            "    { name = \"applied\"; wait_event = { on = \"application\"; "
            "within = \"14d\"; timeout = \"remind\"; }; },\n"
            "    { name = \"check\"; branch = { when = \"profile.vip\"; "
            "then = \"enroll\"; }; },\n"
            "    { name = \"remind\"; send = { channel = \"email\"; "
            "template = \"receipt\"; }; },\n"
            "    { name = \"enroll\"; stage = { program = \"lead\"; "
            "stage = \"enrolled\"; }; },\n"
            "    { name = \"done\"; exit = true; }\n"
            "  );\n"
            "} );\n");
    assert_int_equal(f->rules->journeys->len, 1);
    j = journey_at(f, 0);
    assert_ptr_equal(journey_find(f->rules->journeys, "apply"), j);
    assert_null(journey_find(f->rules->journeys, "other"));
    assert_string_equal(j->name, "apply");
    assert_int_equal(j->on->len, 2);
    assert_non_null(j->when);
    assert_int_equal(j->reentry, JOURNEY_REENTRY_RESTART);
    assert_non_null(j->exit_when);
    assert_string_equal(j->exit_segment, "active");
    assert_int_equal(j->steps->len, 9);

    s = step_at(j, 0);
    assert_int_equal(s->kind, JOURNEY_SEND);
    assert_string_equal(s->channel, "email");
    assert_string_equal(s->template_name, "welcome");
    assert_true(s->service);
    s = step_at(j, 1);
    assert_int_equal(s->kind, JOURNEY_WAIT);
    assert_int_equal(s->wait_ms, 3 * 86400000LL);
    s = step_at(j, 2);
    assert_int_equal(s->kind, JOURNEY_WAIT_UNTIL);
    assert_int_equal(s->until.hour, 9);
    s = step_at(j, 3);
    assert_int_equal(s->kind, JOURNEY_WAIT_WINDOW);
    assert_int_equal(s->window.days, 0x4f);
    s = step_at(j, 4);
    assert_int_equal(s->kind, JOURNEY_WAIT_EVENT);
    assert_int_equal(s->wait_ms, 14 * 86400000LL);
    assert_string_equal(g_ptr_array_index(s->on, 0), "application");
    assert_string_equal(s->timeout_step, "remind");
    s = step_at(j, 5);
    assert_int_equal(s->kind, JOURNEY_BRANCH);
    assert_non_null(s->when);
    assert_string_equal(s->then_step, "enroll");
    assert_null(s->else_step);
    s = step_at(j, 6);
    assert_false(s->service);
    s = step_at(j, 7);
    assert_int_equal(s->kind, JOURNEY_STAGE);
    assert_string_equal(s->program->name, "lead");
    assert_string_equal(s->stage, "enrolled");
    assert_int_equal(step_at(j, 8)->kind, JOURNEY_EXIT);
    assert_int_equal(journey_step_index(j, "check"), 5);
    assert_int_equal(journey_step_index(j, "gone"), -1);
}


static void
journey_reentry_default_never(void **state)
{
    struct fixture *f = *state;

    load_ok(f, "journeys = ( { name = \"a\"; on = \"signup\"; reentry = "
               "\"after_exit\"; steps = ( { name = \"w\"; wait = \"1h\"; } "
               "); }, { name = \"b\"; on = \"signup\"; steps = ( { name = "
               "\"w\"; wait = \"1h\"; } ); } );\n");
    assert_int_equal(journey_at(f, 0)->reentry, JOURNEY_REENTRY_AFTER_EXIT);
    assert_int_equal(journey_at(f, 1)->reentry, JOURNEY_REENTRY_NEVER);
    assert_null(journey_at(f, 1)->when);
    assert_null(journey_at(f, 1)->exit_when);
}


static void
journey_stage_entry(void **state)
{
    struct fixture *f = *state;
    const struct journey *j;

    load_ok(f, PROGRAMS
            "journeys = ( { name = \"a\"; stage_entered = { program = "
            "\"lead\"; stage = \"enrolled\"; }; steps = ( { name = "
            "\"w\"; wait = \"1h\"; } ); } );\n");
    j = journey_at(f, 0);
    assert_null(j->on);
    assert_non_null(j->entry_program);
    assert_string_equal(j->entry_program->name, "lead");
    assert_string_equal(j->entry_stage, "enrolled");
    assert_null(j->program);
}


/* A journey's program is kept, so goals of it credit its sends. */
static void
journey_program(void **state)
{
    struct fixture *f = *state;

    load_ok(f, PROGRAMS
            "journeys = ( { name = \"a\"; program = \"lead\"; on = "
            "\"signup\"; steps = ( { name = \"w\"; wait = \"1h\"; } "
            "); } );\n");
    assert_non_null(journey_at(f, 0)->program);
    assert_string_equal(journey_at(f, 0)->program->name, "lead");
}


/* Each bad journey and the error after the file's path. */
static void
journey_errors(void **state)
{
    static const char *const cases[][2] = {
        { "journeys = { a = 1; };\n",
          ":1: journeys: must be a list: ( { ... }, { ... } )" },
        { "journeys = ( { name = \"a\"; program = \"gone\"; on = \"x\"; "
          "steps = ( { name = \"s\"; exit = true; } ); } );\n" PROGRAMS,
          ":1: journeys[0].program: program \"gone\" is not configured "
          "under programs" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = (); } );\n",
          ":1: journeys[0].steps: must be a non-empty list: ( { name = "
          "...; send = ...; }, ... )" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; wait = \"soon\"; } ); } );\n",
          ":1: journeys[0].steps[0].wait: must be a duration such as "
          "\"3d\"" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; wait = \"1h\"; exit = true; } ); } );\n",
          ":1: journeys[0].steps[0]: sets both wait and exit: a step does "
          "one thing" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; } ); } );\n",
          ":1: journeys[0].steps[0]: needs one of send, wait, wait_until, "
          "wait_window, wait_date, wait_event, branch, stage or exit" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; wait_window = \"Fri-Sat 18:00-02:00\"; } ); } );\n",
          ":1: journeys[0].steps[0].wait_window: must be days and hours "
          "such as \"Sun-Thu 09:00-17:00\", the end later than the "
          "start" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; wait_event = { on = \"y\"; within = \"2d\"; timeout = "
          "\"t\"; }; } ); } );\n",
          ":1: journeys[0].steps[0].wait_event.timeout: step \"t\" is not "
          "a step of journey \"a\"" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; wait = \"1h\"; }, { name = \"s\"; exit = true; } ); } "
          ");\n",
          ":1: journeys[0].steps[1]: step name \"s\" is used twice; names "
          "keep a resident's place across restarts" },
        { "journeys = ( { name = \"a\"; on = \"x\"; reentry = \"often\"; "
          "steps = ( { name = \"s\"; exit = true; } ); } );\n",
          ":1: journeys[0].reentry: must be \"never\", \"after_exit\" or "
          "\"restart\"" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; send = { channel = \"sms\"; template = \"welcome\"; }; } "
          "); } );\n",
          ":1: journeys[0].steps[0].send: channel \"sms\" is not "
          "configured under channels" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; send = { channel = \"email\"; template = \"nope\"; }; } "
          "); } );\n",
          ":1: journeys[0].steps[0].send: template \"nope\" not found in "
          "the templates folder" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; stage = { program = \"lead\"; stage = \"gone\"; }; } ); "
          "} );\n" PROGRAMS,
          ":1: journeys[0].steps[0].stage: \"gone\" is not a stage of "
          "program \"lead\"" },
        { "journeys = ( { name = \"a\"; on = \"x\"; steps = ( { name = "
          "\"s\"; exit = true; } ); }, { name = \"a\"; on = \"x\"; steps = "
          "( { name = \"s\"; exit = true; } ); } );\n",
          ":1: journeys[1].name: journey name \"a\" is used twice; names "
          "key each resident's place" },
        { "journeys = ( { name = \"a\"; steps = ( { name = \"s\"; exit "
          "= true; } ); } );\n",
          ":1: journeys[0]: needs on, stage_entered or both: the events "
          "or the stage move that start the journey" },
        { "journeys = ( { name = \"a\"; stage_entered = { program = "
          "\"gone\"; stage = \"x\"; }; steps = ( { name = \"s\"; exit "
          "= true; } ); } );\n",
          ":1: journeys[0].stage_entered: program \"gone\" is not "
          "configured under programs" },
        { "journeys = ( { name = \"a\"; on = \"x\"; colour = 1; steps = "
          "( { name = \"s\"; exit = true; } ); } );\n", NULL },
    };
    struct fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i][1] != NULL) {
            expect_error(f, cases[i][0], cases[i][1]);
            continue;
        }
        /* An unknown key: the message lists the valid ones. */
        assert_int_equal(load(f, cases[i][0], f->templates, channel_email),
                         CRIER_ECONFIG);
        assert_non_null(strstr(f->cfg->error, "journeys[0].colour"));
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(journey_every_step_kind, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(journey_reentry_default_never,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(journey_program, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(journey_stage_entry, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(journey_errors, fixture_make,
                                        fixture_remove),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
