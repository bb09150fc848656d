/*
 * Tests of goals and experiments in the config (core/rules/goals.c,
 * core/rules/experiment.c) and of the statistics of experiment reports
 * (core/report/stats.c), against numbers worked out by hand.
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

#include "config/config.h"
#include "crier/error.h"
#include "report/report.h"
#include "rules/rules.h"
#include "template/template.h"

#define TEMPLATES CRIER_SOURCE_DIR "/tests/data/templates/ok"

struct fixture {
    char dir[64];
    char path[128];
    struct template_set *templates;
    struct config *cfg;
    struct ruleset *rules;
};


static int
channel_email(const char *name)
{
    return strcmp(name, "email") == 0;
}


static int
fixture_make(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct template_error err;

    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/crier-report-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/plugins.conf", f->dir);
    f->templates = template_set_load(TEMPLATES, &err);
    if (f->templates == NULL)
        return -1;
    *state = f;
    return 0;
}


static int
fixture_remove(void **state)
{
    struct fixture *f = *state;
    int rc = 0;

    ruleset_free(f->rules);
    config_free(f->cfg);
    template_set_free(f->templates);
    if (unlink(f->path) != 0 || rmdir(f->dir) != 0)
        rc = -1;
    free(f);
    return rc;
}


/* Writes `text` as the config and loads the ruleset. */
static int
load(struct fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");

    ruleset_free(f->rules);
    config_free(f->cfg);
    f->rules = NULL;
    f->cfg = NULL;
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    if (config_load(f->path, &f->cfg) != 0)
        fail_msg("config_load: %s", f->cfg->error);
    return ruleset_load(f->cfg, f->templates, channel_email, &f->rules);
}


static void
expect_error(struct fixture *f, const char *text, const char *part)
{
    assert_int_equal(load(f, text), CRIER_ECONFIG);
    if (strstr(f->cfg->error, part) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", f->cfg->error, part);
}


static void
rate_difference_known_values(void **state)
{
    struct rate_difference d;

    (void) state;
    /* 30/100 against 20/100: se = sqrt(.3*.7/100 + .2*.8/100)
     * = sqrt(.0037) = 0.0608276, and 1.959964 * se = 0.1192199. */
    assert_int_equal(report_rate_compare(30, 100, 20, 100, &d), 0);
    assert_float_equal(d.difference, 0.10, 1e-12);
    assert_float_equal(d.low, 0.10 - 0.1192199, 1e-6);
    assert_float_equal(d.high, 0.10 + 0.1192199, 1e-6);
    assert_false(d.too_small);

    /* 12/40 against 30/60: -0.2, se = sqrt(.3*.7/40 + .5*.5/60)
     * = sqrt(.00941667) = 0.0970395, times 1.959964 = 0.1901939. */
    assert_int_equal(report_rate_compare(12, 40, 30, 60, &d), 0);
    assert_float_equal(d.difference, -0.2, 1e-12);
    assert_float_equal(d.low, -0.2 - 0.1901939, 1e-6);
    assert_float_equal(d.high, -0.2 + 0.1901939, 1e-6);
}


static void
rate_difference_small_cells(void **state)
{
    struct rate_difference d;

    (void) state;
    /* 9 conversions, then 9 non-conversions, in either cell. */
    report_rate_compare(9, 100, 20, 100, &d);
    assert_true(d.too_small);
    report_rate_compare(91, 100, 20, 100, &d);
    assert_true(d.too_small);
    report_rate_compare(20, 100, 10, 19, &d);
    assert_true(d.too_small);
    report_rate_compare(10, 20, 10, 20, &d);
    assert_false(d.too_small);
    assert_int_equal(report_rate_compare(0, 0, 10, 20, &d), -1);
    assert_true(d.too_small);
}


static const char goal_config[] =
    "programs: { snap: { }; };\n"
    "goals = (\n"
    "  { name = \"enrolled\"; program = \"snap\"; on = \"case.closed\";\n"
    "    when = \"case.outcome == 'enrolled'\"; window = \"30 days\"; },\n"
    "  { name = \"applied\"; program = \"snap\";\n"
    "    on = [ \"form.submitted\", \"case.*\" ]; window = \"36h\"; }\n"
    ");\n";


static void
goals_load_windows(void **state)
{
    struct fixture *f = *state;
    const struct goal *g;

    assert_int_equal(load(f, goal_config), 0);
    assert_int_equal(f->rules->goals->len, 2);
    g = g_ptr_array_index(f->rules->goals, 0);
    assert_string_equal(g->name, "enrolled");
    assert_string_equal(g->program->name, "snap");
    assert_int_equal(g->window_ms, INT64_C(30) * 86400000);
    assert_non_null(g->when);
    assert_true(rules_type_matches(g->on, "case.closed"));
    assert_false(rules_type_matches(g->on, "case.opened"));
    g = g_ptr_array_index(f->rules->goals, 1);
    assert_int_equal(g->window_ms, INT64_C(36) * 3600000);
    assert_null(g->when);
    assert_true(rules_type_matches(g->on, "case.opened"));
}


static void
goals_reject_bad_settings(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "programs: { snap: { }; };\n"
                 "goals = ( { name = \"g\"; program = \"snap\";"
                 " on = \"x\"; window = \"a month\"; } );\n",
                 "goals[0].window: must be a duration");
    expect_error(f, "goals = ( { name = \"g\"; program = \"housing\";"
                 " on = \"x\"; window = \"2 days\"; } );\n",
                 "goals[0].program: program \"housing\" is not configured");
    expect_error(f, "programs: { snap: { }; };\n"
                 "goals = ( { name = \"g\"; program = \"snap\";"
                 " on = \"x\"; window = \"2 days\"; },\n"
                 " { name = \"g\"; program = \"snap\";"
                 " on = \"y\"; window = \"2 days\"; } );\n",
                 "goals[1].name: goal name \"g\" is used twice");
    expect_error(f, "programs: { snap: { }; };\n"
                 "goals = ( { name = \"g\"; program = \"snap\";"
                 " on = \"x\"; window = \"2 days\"; rule = \"r\"; } );\n",
                 "goals[0]");
}


static const char experiment_config[] =
    "programs: { snap: { }; };\n"
    "rules = ( { name = \"invite\"; program = \"snap\"; on = \"visit\";\n"
    "  send = { channel = \"email\"; };\n"
    "  variants = ( { template = \"welcome\"; weight = 50; },\n"
    "               { template = \"receipt\"; weight = 50; } );\n"
    "  holdout = 10; } );\n";


static void
experiment_assigns_stable_cells(void **state)
{
    struct fixture *f = *state;
    const struct rule *r;
    int holdout = 0, welcome = 0, receipt = 0;
    char id[64];

    assert_int_equal(load(f, experiment_config), 0);
    r = g_ptr_array_index(f->rules->rules, 0);
    assert_int_equal(r->holdout, 10);
    assert_int_equal(r->variants->len, 2);
    /* Without its own template the rule stands for the first variant. */
    assert_string_equal(r->template_name, "welcome");
    for (int i = 0; i < 10000; i++) {
        const char *cell;

        snprintf(id, sizeof(id), "p_%08d", i);
        cell = rule_assign(r, id);
        assert_string_equal(cell, rule_assign(r, id));
        if (strcmp(cell, HOLDOUT_TEMPLATE) == 0)
            holdout++;
        else if (strcmp(cell, "welcome") == 0)
            welcome++;
        else if (strcmp(cell, "receipt") == 0)
            receipt++;
        else
            fail_msg("unexpected cell %s", cell);
    }
    /* Expected 1000, 4500 and 4500; the bounds are more than 4 standard
     * deviations wide (30 and 50). */
    assert_in_range(holdout, 870, 1130);
    assert_in_range(welcome, 4290, 4710);
    assert_in_range(receipt, 4290, 4710);
}


static void
experiment_rejects_bad_settings(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "rules = ( { name = \"r\"; on = \"visit\";\n"
                 "  send = { channel = \"email\"; };\n"
                 "  variants = ( { template = \"nope\"; } ); } );\n",
                 "rules[0].variants[0]: template \"nope\" not found");
    expect_error(f, "rules = ( { name = \"r\"; on = \"visit\";\n"
                 "  send = { channel = \"email\"; template = \"welcome\"; };\n"
                 "  holdout = 95; } );\n",
                 "rules[0].holdout");
    expect_error(f, "rules = ( { name = \"r\"; on = \"visit\";\n"
                 "  variants = ( { template = \"welcome\"; } ); } );\n",
                 "an experiment needs a rule that sends");
    expect_error(f, "rules = ( { name = \"r\"; on = \"visit\";\n"
                 "  send = { channel = \"email\"; };\n"
                 "  variants = ( { template = \"welcome\"; weight = 0; } );"
                 " } );\n",
                 "rules[0].variants[0].weight");
}


static void
rule_without_experiment_keeps_template(void **state)
{
    struct fixture *f = *state;
    const struct rule *r;

    assert_int_equal(load(f, "rules = ( { name = \"r\"; on = \"visit\";\n"
                          "  send = { channel = \"email\";"
                          " template = \"welcome\"; }; } );\n"), 0);
    r = g_ptr_array_index(f->rules->rules, 0);
    assert_null(r->variants);
    assert_string_equal(rule_assign(r, "p_1"), "welcome");
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate_difference_known_values),
        cmocka_unit_test(rate_difference_small_cells),
        cmocka_unit_test_setup_teardown(goals_load_windows, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(goals_reject_bad_settings,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(experiment_assigns_stable_cells,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(experiment_rejects_bad_settings,
                                        fixture_make, fixture_remove),
        cmocka_unit_test_setup_teardown(rule_without_experiment_keeps_template,
                                        fixture_make, fixture_remove),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
