/*
 * The config fixture of rules_fixture.h.
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

#include "crier/error.h"
#include "rules_fixture.h"


int
channel_email(const char *name)
{
    return strcmp(name, "email") == 0;
}


int
rules_fixture_make(void **state, const char *templates_dir)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct template_error err;

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/crier-rules-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/plugins.conf", f->dir);
    f->templates = template_set_load(templates_dir, &err);
    if (f->templates == NULL) {
        print_error("%s:%d:%d: %s\n", err.path, err.line, err.col,
                    err.message);
        rmdir(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}


int
rules_fixture_remove(void **state)
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


int
load(struct fixture *f, const char *text, const struct template_set *set,
     int (*channel_exists)(const char *))
{
    FILE *fp;

    ruleset_free(f->rules);
    config_free(f->cfg);
    f->rules = NULL;
    f->cfg = NULL;
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    if (config_load(f->path, &f->cfg) != 0)
        fail_msg("config_load: %s", f->cfg->error);
    return ruleset_load(f->cfg, set, channel_exists, &f->rules);
}


void
load_ok(struct fixture *f, const char *text)
{
    if (load(f, text, f->templates, channel_email) != 0)
        fail_msg("ruleset_load: %s", f->cfg->error);
    assert_string_equal(f->cfg->error, "");
}


void
expect_error(struct fixture *f, const char *text, const char *rest)
{
    size_t n = strlen(f->path);
    int rc = load(f, text, f->templates, channel_email);

    if (rc != CRIER_ECONFIG)
        print_error("loaded with %d, expected an error ending \"%s\"\n",
                    rc, rest);
    assert_int_equal(rc, CRIER_ECONFIG);
    assert_memory_equal(f->cfg->error, f->path, n);
    assert_string_equal(f->cfg->error + n, rest);
}
