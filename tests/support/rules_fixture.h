/*
 * A fixture for tests that load rules, journeys and digests from a
 * config file: a temporary folder, the config written into it, the
 * template set it may name and the ruleset it gives. Errors are compared
 * whole, with the file, line and key.
 */
#ifndef CRIER_RULES_FIXTURE_H
#define CRIER_RULES_FIXTURE_H

#include "config/config.h"
#include "rules/rules.h"
#include "template/template.h"

struct fixture {
    char dir[64];
    char path[128];
    struct template_set *templates;
    struct config *cfg;
    struct ruleset *rules;
};

/* cmocka setup: makes the folder and loads the templates of
 * `templates_dir` into *state, a struct fixture. Returns 0 or -1. */
int rules_fixture_make(void **state, const char *templates_dir);

/* cmocka teardown: frees what rules_fixture_make and the loads made and
 * removes the folder. */
int rules_fixture_remove(void **state);

/* Reports "email" as the only configured channel. */
int channel_email(const char *name);

/* Writes `text` as the config, loads it and then the ruleset against
 * `set` and `channel_exists`. Returns what ruleset_load returned. */
int load(struct fixture *f, const char *text, const struct template_set *set,
         int (*channel_exists)(const char *));

/* Loads `text` with the fixture's templates and the channel "email",
 * failing the test on any error. */
void load_ok(struct fixture *f, const char *text);

/* Loads `text`, expects CRIER_ECONFIG and compares the error after the
 * file's path with `rest`. */
void expect_error(struct fixture *f, const char *text, const char *rest);

#endif
