/*
 * Tests of core/rules/rules.c: programs and rules read from a config file
 * written into a temporary folder. Errors are checked whole, with the
 * file, line and key, and for a `when` expression also the column.
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


/* Reports no configured channel. */
static int
channel_none(const char *name)
{
    (void) name;
    return 0;
}


static const struct rule *
rule_at(const struct fixture *f, guint i)
{
    assert_true(i < f->rules->rules->len);
    return g_ptr_array_index(f->rules->rules, i);
}


static void
program_default_stages(void **state)
{
    struct fixture *f = *state;
    const struct program *p;
    guint i;

    load_ok(f, "programs: { lead: {}; };\n");
    assert_int_equal(f->rules->programs->len, 1);
    assert_int_equal(f->rules->rules->len, 0);
    p = ruleset_program(f->rules, "lead");
    assert_non_null(p);
    assert_string_equal(p->name, "lead");
    for (i = 0; default_stages[i] != NULL; i++) {
        assert_true(i < p->stages->len);
        assert_string_equal(g_ptr_array_index(p->stages, i),
                            default_stages[i]);
    }
    assert_int_equal(p->stages->len, 5);
    assert_string_equal(default_stages[0], "awareness");
    assert_string_equal(default_stages[4], "advocacy");
    assert_true(program_has_stage(p, "adoption"));
    assert_false(program_has_stage(p, "enrolled"));
    assert_null(ruleset_program(f->rules, "other"));
}


static void
program_listed_stages(void **state)
{
    struct fixture *f = *state;
    const struct program *p;

    load_ok(f, "programs: {\n"
               "  lead: { stages = [ \"new\", \"enrolled\", \"done\" ]; };\n"
               "  safety: {};\n"
               "};\n");
    assert_int_equal(f->rules->programs->len, 2);
    p = ruleset_program(f->rules, "lead");
    assert_non_null(p);
    assert_int_equal(p->stages->len, 3);
    assert_string_equal(g_ptr_array_index(p->stages, 0), "new");
    assert_string_equal(g_ptr_array_index(p->stages, 1), "enrolled");
    assert_string_equal(g_ptr_array_index(p->stages, 2), "done");
    assert_false(program_has_stage(p, "awareness"));
    p = ruleset_program(f->rules, "safety");
    assert_non_null(p);
    assert_int_equal(p->stages->len, 5);
}


/* Neither programs nor rules is a valid, empty ruleset. */
static void
ruleset_empty(void **state)
{
    struct fixture *f = *state;

    load_ok(f, "listen = \"127.0.0.1:8080\";\n");
    assert_int_equal(f->rules->programs->len, 0);
    assert_int_equal(f->rules->rules->len, 0);
}


static void
program_errors(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "programs: {\n"
                    "  lead: { stages = [ \"a\", \"b\", \"a\" ]; };\n"
                    "};\n",
                 ":2: programs.lead.stages: stage \"a\" is listed twice");
    expect_error(f, "programs: {\n"
                    "  lead: { stages = []; };\n"
                    "};\n",
                 ":2: programs.lead.stages: must be a non-empty list of "
                 "stage names");
    expect_error(f, "programs: {\n"
                    "  lead: { stages = [ \"a\", \"\" ]; };\n"
                    "};\n",
                 ":2: programs.lead.stages: every stage must be a "
                 "non-empty string");
    expect_error(f, "programs: {\n"
                    "  lead = 5;\n"
                    "};\n",
                 ":2: programs.lead: must be a group: { stages = [...]; }");
    expect_error(f, "programs = ( \"lead\" );\n",
                 ":1: programs: must be a group of named programs");
    expect_error(f, "programs: {\n"
                    "  lead: { stages = [ \"a\", \"b\" ]; back = true;\n"
                    "    moves = { a = [ \"b\" ]; }; };\n"
                    "};\n",
                 ":3: programs.lead.moves: set back or moves, not both: "
                 "moves lists every allowed move");
    expect_error(f, "programs: {\n"
                    "  lead: { stages = [ \"a\", \"b\" ];\n"
                    "    moves = { }; };\n"
                    "};\n",
                 ":3: programs.lead.moves: is empty, so no stage could "
                 "move: list the allowed moves, or remove moves to allow "
                 "every forward move");
    expect_error(f, "programs: {\n"
                    "  lead: { stages = [ \"a\", \"b\" ];\n"
                    "    moves = { a = [ \"b\", \"a\" ]; }; };\n"
                    "};\n",
                 ":3: programs.lead.moves: a lists itself: a move goes to "
                 "another stage");
}


static void
rule_fields(void **state)
{
    struct fixture *f = *state;
    const struct rule *r;

    load_ok(f, "programs: { lead: {}; };\n"
               "rules = (\n"
               "  { name = \"plain\"; on = \"page_view\"; },\n"
               "  { name = \"full\";\n"
               "    program = \"lead\";\n"
               "    on = [ \"case.opened\", \"signup\" ];\n"
               "    when = \"event.properties.count > 2\";\n"
               "    send = { channel = \"email\"; template = \"welcome\";\n"
               "             delay = \"2h\"; };\n"
               "    stage = \"consideration\"; }\n"
               ");\n");
    assert_int_equal(f->rules->rules->len, 2);

    r = rule_at(f, 0);
    assert_string_equal(r->name, "plain");
    assert_null(r->program);
    assert_int_equal(r->on->len, 1);
    assert_string_equal(g_ptr_array_index(r->on, 0), "page_view");
    assert_null(r->when);
    assert_null(r->channel);
    assert_null(r->template_name);
    assert_null(r->stage);
    assert_int_equal(r->delay_ms, 0);

    r = rule_at(f, 1);
    assert_string_equal(r->name, "full");
    assert_ptr_equal(r->program, ruleset_program(f->rules, "lead"));
    assert_int_equal(r->on->len, 2);
    assert_string_equal(g_ptr_array_index(r->on, 0), "case.opened");
    assert_string_equal(g_ptr_array_index(r->on, 1), "signup");
    assert_non_null(r->when);
    assert_string_equal(r->channel, "email");
    assert_string_equal(r->template_name, "welcome");
    assert_string_equal(r->stage, "consideration");
    assert_int_equal(r->delay_ms, 2 * 3600 * 1000);
}


static void
rule_reacts(void **state)
{
    struct fixture *f = *state;
    const struct rule *r;

    load_ok(f, "rules = (\n"
               "  { name = \"cases\"; on = \"case.*\"; },\n"
               "  { name = \"list\"; on = [ \"signup\", \"page_view\" ]; },\n"
               "  { name = \"all\"; on = \"*\"; }\n"
               ");\n");

    r = rule_at(f, 0);
    assert_true(rule_reacts_to(r, "case.opened"));
    assert_true(rule_reacts_to(r, "case.closed"));
    assert_true(rule_reacts_to(r, "case.status.changed"));
    assert_false(rule_reacts_to(r, "case"));
    assert_false(rule_reacts_to(r, "cases.opened"));
    assert_false(rule_reacts_to(r, "showcase.opened"));
    assert_false(rule_reacts_to(r, "page_view"));

    r = rule_at(f, 1);
    assert_true(rule_reacts_to(r, "signup"));
    assert_true(rule_reacts_to(r, "page_view"));
    assert_false(rule_reacts_to(r, "page_view2"));
    assert_false(rule_reacts_to(r, "page"));
    assert_false(rule_reacts_to(r, "case.opened"));

    r = rule_at(f, 2);
    assert_true(rule_reacts_to(r, "page_view"));
    assert_true(rule_reacts_to(r, "case.opened"));
}


static void
rule_errors(void **state)
{
    struct fixture *f = *state;
    static const char on_message[] =
        "must name an event type, such as \"page_view\" or \"case.*\", "
        "or a list of them; types are letters, digits, '.', '_', ':' and "
        "'-'";
    char expected[256];

    expect_error(f, "rules = (\n"
                    "  { on = \"x\"; }\n"
                    ");\n",
                 ":2: rules[0].name: missing; this setting is required");
    snprintf(expected, sizeof(expected), ":3: rules[1].on: %s", on_message);
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\"; },\n"
                    "  { name = \"b\"; }\n"
                    ");\n", expected);
    snprintf(expected, sizeof(expected), ":2: rules[0].on: %s", on_message);
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"\"; }\n"
                    ");\n", expected);
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = []; }\n"
                    ");\n", expected);
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = 5; }\n"
                    ");\n", expected);
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = ( \"x\", 5 ); }\n"
                    ");\n", expected);
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\"; program = \"lead\"; }\n"
                    ");\n",
                 ":2: rules[0].program: program \"lead\" is not configured "
                 "under programs");
    expect_error(f, "programs: { lead: { stages = [ \"new\", \"done\" ]; };"
                    " };\n"
                    "rules = (\n"
                    "  { name = \"a\"; on = \"x\"; program = \"lead\";\n"
                    "    stage = \"awareness\"; }\n"
                    ");\n",
                 ":4: rules[0].stage: \"awareness\" is not a stage of "
                 "program \"lead\"");
    expect_error(f, "programs: { lead: {}; };\n"
                    "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    stage = \"awareness\"; }\n"
                    ");\n",
                 ":4: rules[0].stage: a rule that moves a stage needs a "
                 "program");
    expect_error(f, "rules = (\n"
                    "  { name = \"twice\"; on = \"x\"; },\n"
                    "  { name = \"other\"; on = \"y\"; },\n"
                    "  { name = \"twice\"; on = \"z\"; }\n"
                    ");\n",
                 ":4: rules[2].name: rule name \"twice\" is used twice; "
                 "names key the messages a rule planned");
    expect_error(f, "rules = { a = 1; };\n",
                 ":1: rules: must be a list: ( { ... }, { ... } )");
    expect_error(f, "rules = ( \"a\" );\n",
                 ":1: rules[0]: must be a group: { name = ...; on = ...; }");
}


/* An empty event type never matches, so a list may not contain one
 * either, as `on = ""` may not. */
static void
rule_on_list_empty_type(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = [ \"x\", \"\" ]; }\n"
                    ");\n",
                 ":2: rules[0].on: must name an event type, such as "
                 "\"page_view\" or \"case.*\", or a list of them; types "
                 "are letters, digits, '.', '_', ':' and '-'");
}


/* A type in a namespace crier reserves must be one crier records, so a
 * typo such as "segment.entred" fails at load and not silently. */
static void
rule_on_reserved_type(void **state)
{
    struct fixture *f = *state;

    load_ok(f, "rules = (\n"
               "  { name = \"a\";\n"
               "    on = [ \"segment.entered\", \"segment.left\",\n"
               "    \"segment.*\", \"profile.updated\", \"profile.merged\",\n"
               "    \"date.birthday\", \"date.*\", \"profile.viewed\" ]; }\n"
               ");\n");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"segment.entred\"; }\n"
                    ");\n",
                 ":2: rules[0].on: names \"segment.entred\", which crier "
                 "never records: use segment.entered, segment.left, "
                 "profile.updated or profile.merged");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\";\n"
                    "    on = [ \"page_view\", \"segment.left.*\" ]; }\n"
                    ");\n",
                 ":3: rules[0].on: names \"segment.left.*\", which "
                 "crier never records: use segment.entered, segment.left, "
                 "profile.updated or profile.merged");
}


static void
when_error_one_line(void **state)
{
    struct fixture *f = *state;

    /* The value starts at column 13 of line 5, and the '=' is its 12th
     * character, so it is in column 24 of the file. */
    expect_error(f, "programs: { lead: {}; };\n"
                    "rules = (\n"
                    "  { name = \"ok\"; on = \"x\"; },\n"
                    "  { name = \"bad\"; on = \"x\";\n"
                    "    when = \"event.type = 'x'\"; }\n"
                    ");\n",
                 ":5:24: rules[1].when: unknown operator '='; use '==' to "
                 "compare");
}


static void
when_error_multi_line(void **state)
{
    struct fixture *f = *state;

    /* The error is on the expression's second line, which is line 6 of
     * the file, where the '=' is in column 19. */
    expect_error(f, "programs: { lead: {}; };\n"
                    "rules = (\n"
                    "  { name = \"ok\"; on = \"x\"; },\n"
                    "  { name = \"bad\"; on = \"x\";\n"
                    "    when = \"event.type == 'page_view' &&\n"
                    "    profile.stage = 'awareness'\"; }\n"
                    ");\n",
                 ":6:19: rules[1].when: unknown operator '='; use '==' to "
                 "compare");
}


/* The column counts characters of the file, so an escaped quote before
 * the error counts twice. The '=' is in column 66 of line 2. */
static void
when_error_after_escape(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\"; when = \"event.type == "
                    "\\\"x\\\" && event.y = 1\"; }\n"
                    ");\n",
                 ":2:66: rules[0].when: unknown operator '='; use '==' to "
                 "compare");
}


/* The column is found after the `when` key, not after an earlier
 * "when" in the same line, such as in the rule's name. */
static void
when_error_name_contains_when(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"when-opened\"; on = \"x\";"
                    " when = \"event.x = 1\"; }\n"
                    ");\n",
                 ":2:53: rules[0].when: unknown operator '='; use '==' to "
                 "compare");
}


/* libconfig joins adjacent strings, the usual way to keep a long
 * expression within 80 columns. The '=' is on line 4, column 21. */
static void
when_error_joined_strings(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    when = \"event.type == 'a' && \"\n"
                    "           \"event.y = 1\"; }\n"
                    ");\n",
                 ":4:21: rules[0].when: unknown operator '='; use '==' to "
                 "compare");
}


/* The value may start on the line after its key. The '=' is on line 4,
 * column 16. */
static void
when_error_value_next_line(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    when =\n"
                    "      \"event.y = 1\"; }\n"
                    ");\n",
                 ":4:16: rules[0].when: unknown operator '='; use '==' to "
                 "compare");
}


static void
when_not_string(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    when = true; }\n"
                    ");\n",
                 ":3: rules[0].when: must be an expression in double "
                 "quotes");
}


static void
send_unknown_channel(void **state)
{
    struct fixture *f = *state;
    static const char text[] =
        "rules = (\n"
        "  { name = \"a\"; on = \"x\";\n"
        "    send = { channel = \"sms\"; template = \"welcome\"; }; }\n"
        ");\n";
    size_t n = strlen(f->path);

    assert_int_equal(load(f, text, f->templates, channel_none),
                     CRIER_ECONFIG);
    assert_string_equal(f->cfg->error + n,
                        ":3: rules[0].send: channel \"sms\" is not "
                        "configured under channels");
    expect_error(f, text,
                 ":3: rules[0].send: channel \"sms\" is not configured "
                 "under channels");
}


static void
send_missing_template(void **state)
{
    struct fixture *f = *state;
    static const char welcome[] =
        "rules = (\n"
        "  { name = \"a\"; on = \"x\";\n"
        "    send = { channel = \"email\"; template = \"welcome\"; }; }\n"
        ");\n";
    size_t n = strlen(f->path);

    /* Without a template folder no rule may send. */
    assert_int_equal(load(f, welcome, NULL, channel_email), CRIER_ECONFIG);
    assert_string_equal(f->cfg->error + n,
                        ":3: rules[0].send: template \"welcome\" not found "
                        "in the templates folder");

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { channel = \"email\";"
                    " template = \"goodbye\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send: template \"goodbye\" not found in the "
                 "templates folder");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { channel = \"email\";"
                    " template = \"partials\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send: template \"partials\" not found in the "
                 "templates folder");
    load_ok(f, welcome);
    assert_string_equal(rule_at(f, 0)->template_name, "welcome");
}


static void
send_errors(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = \"email\"; }\n"
                    ");\n",
                 ":3: rules[0].send: must be a group: { channel = "
                 "\"email\"; template = \"...\"; }");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { template = \"welcome\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send.channel: missing; this setting is "
                 "required");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { channel = \"email\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send.template: missing; this setting is "
                 "required");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { channel = \"email\"; template = \"welcome\";"
                    "\n"
                    "             delay = \"soon\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send: delay must be a duration such as "
                 "\"2h\"");
}


static void
send_at_fields_and_errors(void **state)
{
    struct fixture *f = *state;
    const struct rule *r;

    load_ok(f, "rules = (\n"
               "  { name = \"noon\"; on = \"page_view\";\n"
               "    send = { channel = \"email\"; template = \"welcome\";\n"
               "             at = \"12:00\"; delay = \"1 day\"; }; },\n"
               "  { name = \"same-day\"; on = \"page_view\";\n"
               "    send = { channel = \"email\"; template = \"welcome\";\n"
               "             at = \"09:30\"; }; }\n"
               ");\n");
    r = rule_at(f, 0);
    assert_true(r->has_at);
    assert_int_equal(r->at.hour, 12);
    assert_int_equal(r->at.minute, 0);
    assert_int_equal(r->delay_days, 1);
    assert_int_equal(r->delay_ms, 0);
    r = rule_at(f, 1);
    assert_true(r->has_at);
    assert_int_equal(r->at.hour, 9);
    assert_int_equal(r->at.minute, 30);
    assert_int_equal(r->delay_days, 0);

    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { channel = \"email\"; template = \"welcome\";"
                    "\n"
                    "             at = \"noon\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send: at must be a wall time HH:MM such as "
                 "\"12:00\"");
    expect_error(f, "rules = (\n"
                    "  { name = \"a\"; on = \"x\";\n"
                    "    send = { channel = \"email\"; template = \"welcome\";"
                    "\n"
                    "             at = \"12:00\"; delay = \"22h\"; }; }\n"
                    ");\n",
                 ":3: rules[0].send: delay with at must be whole days, such "
                 "as \"1 day\" or \"2 days\"");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(program_default_stages,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(program_listed_stages,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(ruleset_empty, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(program_errors, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(send_at_fields_and_errors,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(rule_fields, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(rule_reacts, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(rule_errors, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(rule_on_reserved_type,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(rule_on_list_empty_type,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(when_error_one_line, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(when_error_multi_line,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(when_error_after_escape,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(when_error_name_contains_when,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(when_error_joined_strings,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(when_error_value_next_line,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(when_not_string, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(send_unknown_channel, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(send_missing_template,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(send_errors, fixture_make,
                                        fixture_remove),
    };

    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
