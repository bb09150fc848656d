/*
 * Tests of core/server/settings.c for the `time_zone` key: its default,
 * a valid zone that becomes core/time's default, and the error for an
 * unknown one, which names the file, line and key.
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

#include "config/config.h"
#include "crier/error.h"
#include "server/server.h"
#include "time/civil.h"

#define JULY_2026_MS 1782864000000LL    /* 2026-07-01T00:00:00Z */


/* Loads `text` as plugins.conf in a new folder and runs settings_load.
 * The config's error, if any, is copied to `error`. The config is freed,
 * so the strings of `s` that point into it are not valid afterwards. */
static int
load_settings(const char *text, struct settings *s, char *error,
              size_t size)
{
    char dir[] = "/tmp/crier-settings-XXXXXX";
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
time_zone_defaults_to_utc(void **state)
{
    struct settings s;
    char error[1024];

    (void) state;
    assert_int_equal(load_settings("listen = \"127.0.0.1:8080\";\n", &s,
                                   error, sizeof(error)), 0);
    assert_string_equal(s.time_zone, "UTC");
    assert_int_equal(civil_offset_at(civil_zone_default(), JULY_2026_MS),
                     0);
    settings_clear(&s);
}


static void
time_zone_sets_default(void **state)
{
    struct settings s;
    char error[1024];

    (void) state;
    assert_int_equal(load_settings("time_zone = \"America/Chicago\";\n",
                                   &s, error, sizeof(error)), 0);
    assert_int_equal(civil_offset_at(civil_zone_default(), JULY_2026_MS),
                     -5 * 3600);
    settings_clear(&s);
}


static void
time_zone_rejects_unknown(void **state)
{
    static const char *const invalid[] = {
        "America/Chicgo", "UTC+5", "+05:00", "america/chicago",
        "posixrules", NULL
    };
    struct settings s;
    char text[128];
    char error[1024];

    (void) state;
    for (size_t i = 0; invalid[i] != NULL; i++) {
        snprintf(text, sizeof(text), "\n\ntime_zone = \"%s\";\n",
                 invalid[i]);
        assert_int_equal(load_settings(text, &s, error, sizeof(error)),
                         CRIER_ECONFIG);
        assert_non_null(strstr(error, "plugins.conf:3: time_zone: "
                                      "unknown time zone"));
        assert_non_null(strstr(error, invalid[i]));
        settings_clear(&s);
    }
    assert_int_equal(load_settings("time_zone = \"\";\n", &s, error,
                                   sizeof(error)), CRIER_ECONFIG);
    assert_non_null(strstr(error, "time_zone: must not be empty"));
    settings_clear(&s);
    assert_int_equal(load_settings("time_zone = 5;\n", &s, error,
                                   sizeof(error)), CRIER_ECONFIG);
    assert_non_null(strstr(error, "time_zone"));
    settings_clear(&s);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_zone_defaults_to_utc),
        cmocka_unit_test(time_zone_sets_default),
        cmocka_unit_test(time_zone_rejects_unknown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
