/*
 * Tests of the pure parts of core/delivery/outbox.h: the retry backoff,
 * the Message-ID of a job and the `delivery` settings. The worker itself
 * needs a store and a channel and is left to the end-to-end tests.
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
#include "delivery/outbox.h"
#include "server/server.h"

#define SECOND INT64_C(1000)
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)

/* The size of the worker's Message-ID buffer. */
#define ID_SIZE 128


static void
backoff_doubles(void **state)
{
    struct outbox_settings s = {
        .backoff_ms = 30 * SECOND,
        .max_backoff_ms = HOUR,
    };

    assert_int_equal(outbox_backoff_ms(&s, 1, 0), 30 * SECOND);
    assert_int_equal(outbox_backoff_ms(&s, 2, 0), 60 * SECOND);
    assert_int_equal(outbox_backoff_ms(&s, 3, 0), 2 * MINUTE);
    assert_int_equal(outbox_backoff_ms(&s, 4, 0), 4 * MINUTE);
    assert_int_equal(outbox_backoff_ms(&s, 7, 0), 32 * MINUTE);
}


static void
backoff_caps(void **state)
{
    struct outbox_settings s = {
        .backoff_ms = 30 * SECOND,
        .max_backoff_ms = HOUR,
    };

    /* 30 s * 2^7 is 64 min, past the cap. */
    assert_int_equal(outbox_backoff_ms(&s, 8, 0), HOUR);
    assert_int_equal(outbox_backoff_ms(&s, 9, 0), HOUR);
    assert_int_equal(outbox_backoff_ms(&s, 100, 0), HOUR);
    assert_int_equal(outbox_backoff_ms(&s, 1000000, 0), HOUR);
}


static void
backoff_first_over_cap(void **state)
{
    struct outbox_settings s = {
        .backoff_ms = 2 * HOUR,
        .max_backoff_ms = HOUR,
    };

    assert_int_equal(outbox_backoff_ms(&s, 1, 0), HOUR);
    assert_int_equal(outbox_backoff_ms(&s, 5, 0), HOUR);
}


static int
is_hex_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
            return 0;
    return 1;
}


/* SHA-256("abc") is the test vector of FIPS 180-2. */
static void
message_id_known_key(void **state)
{
    char id[ID_SIZE];

    outbox_message_id("abc", 0, "crier.example.gov", id, sizeof(id));
    assert_string_equal(id,
                        "<ba7816bf8f01cfea414140de5dae2223"
                        "@crier.example.gov>");
}


/* A job's id, in 12 hex digits, goes before 20 digits of the hash. */
static void
message_id_job_form(void **state)
{
    char id[ID_SIZE];

    outbox_message_id("abc", 0x2a, "crier.example.gov", id, sizeof(id));
    assert_string_equal(id,
                        "<00000000002aba7816bf8f01cfea4141"
                        "@crier.example.gov>");
}


/* Later jobs sort after earlier ones, whatever their keys. */
static void
message_id_grows_with_job(void **state)
{
    char first[ID_SIZE];
    char next[ID_SIZE];

    outbox_message_id("rule:welcome/p_9/1", 9, "example.gov", first,
                      sizeof(first));
    outbox_message_id("rule:welcome/p_1/1", 10, "example.gov", next,
                      sizeof(next));
    assert_true(strcmp(first, next) < 0);
    outbox_message_id("rule:welcome/p_1/1", 0xfff, "example.gov", first,
                      sizeof(first));
    outbox_message_id("rule:welcome/p_0/1", 0x1000, "example.gov", next,
                      sizeof(next));
    assert_true(strcmp(first, next) < 0);
}


static void
message_id_form(void **state)
{
    const char *domain = "mail.example.gov";
    char id[ID_SIZE];

    outbox_message_id("rule:welcome/p_1/7", 0, domain, id, sizeof(id));
    assert_int_equal(strlen(id), 1 + 32 + 1 + strlen(domain) + 1);
    assert_int_equal(id[0], '<');
    assert_true(is_hex_digits(id + 1, 32));
    assert_int_equal(id[33], '@');
    assert_memory_equal(id + 34, domain, strlen(domain));
    assert_int_equal(id[strlen(id) - 1], '>');
    assert_memory_equal(id + 1, "00bdd3c6726503ca6c5a491bd3843758", 32);
}


static void
message_id_deterministic(void **state)
{
    char first[ID_SIZE];
    char again[ID_SIZE];

    outbox_message_id("rule:welcome/p_1/7", 7, "example.gov", first,
                      sizeof(first));
    outbox_message_id("rule:welcome/p_1/7", 7, "example.gov", again,
                      sizeof(again));
    assert_string_equal(first, again);
}


static void
message_id_differs_by_key(void **state)
{
    char a[ID_SIZE];
    char b[ID_SIZE];

    outbox_message_id("rule:welcome/p_1/7", 0, "example.gov", a, sizeof(a));
    outbox_message_id("rule:welcome/p_1/8", 0, "example.gov", b, sizeof(b));
    assert_string_not_equal(a, b);
    assert_memory_not_equal(a + 1, b + 1, 32);
}


/* Writes `text` as plugins.conf in a new temporary folder and loads it. */
static struct config *
config_from_text(const char *text, char *dir, size_t size)
{
    struct config *cfg;
    char path[512];
    FILE *f;
    int rc;

    snprintf(dir, size, "%s", "/tmp/crier-outbox-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/plugins.conf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    rc = config_load(path, &cfg);
    if (rc != 0)
        fail_msg("config_load: %s", cfg->error);
    return cfg;
}


static void
config_remove(struct config *cfg, const char *dir)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/plugins.conf", dir);
    config_free(cfg);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}


/* outbox_settings_load takes its default domain from the public URL in
 * the global `server`, so these tests set it. */
static void
settings_defaults(void **state)
{
    struct outbox_settings s;
    struct config *cfg;
    char dir[64];

    server.settings.public_url = "https://crier.example.gov:8443/base";
    cfg = config_from_text("listen = \"127.0.0.1:8080\";\n", dir,
                           sizeof(dir));
    assert_int_equal(outbox_settings_load(cfg, &s), 0);
    assert_int_equal(s.max_attempts, 8);
    assert_int_equal(s.lease_ms, 5 * MINUTE);
    assert_int_equal(s.backoff_ms, 30 * SECOND);
    assert_int_equal(s.max_backoff_ms, HOUR);
    assert_int_equal(s.poll_ms, SECOND);
    assert_int_equal(s.max_in_flight, 64);
    assert_string_equal(s.message_id_domain, "crier.example.gov");
    config_remove(cfg, dir);
    server.settings.public_url = NULL;
}


static void
settings_from_group(void **state)
{
    struct outbox_settings s;
    struct config *cfg;
    char dir[64];

    server.settings.public_url = "http://127.0.0.1:8080";
    cfg = config_from_text("delivery: {\n"
                           "  max_attempts = 3;\n"
                           "  max_in_flight = 2;\n"
                           "  lease = \"2m\";\n"
                           "  backoff = \"10s\";\n"
                           "  max_backoff = \"15m\";\n"
                           "  poll = \"250ms\";\n"
                           "  message_id_domain = \"mail.example.gov\";\n"
                           "};\n", dir, sizeof(dir));
    assert_int_equal(outbox_settings_load(cfg, &s), 0);
    assert_int_equal(s.max_attempts, 3);
    assert_int_equal(s.max_in_flight, 2);
    assert_int_equal(s.lease_ms, 2 * MINUTE);
    assert_int_equal(s.backoff_ms, 10 * SECOND);
    assert_int_equal(s.max_backoff_ms, 15 * MINUTE);
    assert_int_equal(s.poll_ms, 250);
    assert_string_equal(s.message_id_domain, "mail.example.gov");
    config_remove(cfg, dir);
    server.settings.public_url = NULL;
}


/* The channels that the settings of these tests may name, after the
 * text of each test so that its line numbers stay as written. */
#define TEST_CHANNELS                                                       \
    "channels: { email: { plugin = \"email\"; };"                          \
    " sms: { plugin = \"sms\"; }; };\n"


static void
expect_settings_error(const char *text, const char *words)
{
    struct outbox_settings s;
    struct config *cfg;
    char dir[64];
    char *full = g_strconcat(text, TEST_CHANNELS, NULL);

    server.settings.public_url = "http://127.0.0.1:8080";
    cfg = config_from_text(full, dir, sizeof(dir));
    g_free(full);
    assert_int_equal(outbox_settings_load(cfg, &s), CRIER_ECONFIG);
    if (strstr(cfg->error, words) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", cfg->error, words);
    config_remove(cfg, dir);
    server.settings.public_url = NULL;
}


static void
settings_errors(void **state)
{
    expect_settings_error("delivery = 5;\n",
                          ":1: delivery: must be a group");
    expect_settings_error("delivery: {\n  max_attempts = 0;\n};\n",
                          ":2: delivery.max_attempts: must be between 1 "
                          "and 100, not 0");
    expect_settings_error("delivery: {\n  lease = \"0s\";\n};\n",
                          ":2: delivery.lease: must be a duration");
    expect_settings_error("delivery: {\n  backoff = \"soon\";\n};\n",
                          ":2: delivery.backoff: must be a duration");
    expect_settings_error("delivery: {\n  poll = 5;\n};\n",
                          ":2: delivery.poll: must be a string");
    expect_settings_error("delivery: {\n  quiet_hours = { sms = "
                          "\"21:00\"; };\n};\n",
                          ":2: delivery.quiet_hours.sms: must be a window");
    expect_settings_error("delivery: {\n  caps = ( { channel = \"email\";"
                          " max = 2; per = \"often\"; } );\n};\n",
                          ":2: delivery.caps[0].per: must be a duration");
    expect_settings_error("delivery: {\n  caps = ( { channel = \"email\";"
                          " per = \"7d\"; } );\n};\n",
                          "delivery.caps[0]: max is missing");
    expect_settings_error("delivery: {\n  caps = ( { channel = \"email\";"
                          " class = \"bulk\"; max = 1; per = \"7d\"; } );"
                          "\n};\n", ":2: delivery.caps[0].class: must be "
                          "\"service\" or");
    expect_settings_error("delivery: {\n  caps = ( { channel = \"emial\";"
                          " max = 2; per = \"7d\"; } );\n};\n",
                          ":2: delivery.caps[0].channel: \"emial\" is not "
                          "configured under channels");
    expect_settings_error("delivery: {\n  quiet_hours = { sms2 = "
                          "\"21:00-08:00\"; };\n};\n",
                          ":2: delivery.quiet_hours.sms2: channel \"sms2\" "
                          "is not configured under channels");
    expect_settings_error("delivery: {\n  message_id_domain = \"a>b c\";"
                          "\n};\n", ":2: delivery.message_id_domain: "
                          "\"a>b c\" is not a domain name");
    expect_settings_error("delivery: {\n  message_id_domain = "
                          "\"mail..example.gov\";\n};\n",
                          "is not a domain name");
}


/* A domain name of the maximum length fits a Message-ID whole. */
static void
message_id_longest_domain(void **state)
{
    char domain[MESSAGE_ID_DOMAIN_MAX + 1];
    char id[OUTBOX_MESSAGE_ID_SIZE];

    memset(domain, 'a', MESSAGE_ID_DOMAIN_MAX);
    domain[MESSAGE_ID_DOMAIN_MAX] = '\0';
    outbox_message_id("k", 7, domain, id, sizeof(id));
    assert_int_equal(strlen(id), 1 + 32 + 1 + MESSAGE_ID_DOMAIN_MAX + 1);
    assert_int_equal(id[strlen(id) - 1], '>');
}


/* Caps and quiet hours read into the settings. */
static void
settings_caps_and_quiet_hours(void **state)
{
    struct outbox_settings s;
    struct config *cfg;
    char dir[64];

    server.settings.public_url = "http://127.0.0.1:8080";
    cfg = config_from_text("delivery: {\n"
                           "  quiet_hours = { sms = \"21:00-08:00\"; };\n"
                           "  caps = ( { channel = \"email\";"
                           " class = \"outreach\"; max = 2;"
                           " per = \"7d\"; },\n"
                           "    { channel = \"sms\"; max = 1;"
                           " per = \"1d\"; } );\n"
                           "};\n" TEST_CHANNELS, dir, sizeof(dir));
    assert_int_equal(outbox_settings_load(cfg, &s), 0);
    assert_int_equal(s.quiet_count, 1);
    assert_string_equal(s.quiet[0].channel, "sms");
    assert_int_equal(s.quiet[0].window.start.hour, 21);
    assert_int_equal(s.cap_count, 2);
    assert_string_equal(s.caps[0].channel, "email");
    assert_int_equal(s.caps[0].lane, 1);
    assert_int_equal(s.caps[0].max, 2);
    assert_int_equal(s.caps[0].per_ms, 7 * 24 * HOUR);
    assert_int_equal(s.caps[1].lane, -1);
    config_remove(cfg, dir);
    server.settings.public_url = NULL;
}


/* Jitter shortens a wait by at most a quarter, never below it. */
static void
backoff_jitter_bounds(void **state)
{
    struct outbox_settings s = { .backoff_ms = 40 * SECOND,
                                 .max_backoff_ms = HOUR };

    assert_int_equal(outbox_backoff_ms(&s, 1, 0), 40 * SECOND);
    assert_int_equal(outbox_backoff_ms(&s, 1, 1), 30 * SECOND);
    assert_int_equal(outbox_backoff_ms(&s, 1, 0.5), 35 * SECOND);
    assert_int_equal(outbox_backoff_ms(&s, 2, 1), 60 * SECOND);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles),
        cmocka_unit_test(backoff_caps),
        cmocka_unit_test(backoff_first_over_cap),
        cmocka_unit_test(message_id_known_key),
        cmocka_unit_test(message_id_job_form),
        cmocka_unit_test(message_id_longest_domain),
        cmocka_unit_test(message_id_grows_with_job),
        cmocka_unit_test(message_id_form),
        cmocka_unit_test(message_id_deterministic),
        cmocka_unit_test(message_id_differs_by_key),
        cmocka_unit_test(settings_defaults),
        cmocka_unit_test(settings_from_group),
        cmocka_unit_test(settings_errors),
        cmocka_unit_test(settings_caps_and_quiet_hours),
        cmocka_unit_test(backoff_jitter_bounds),
    };

    return cmocka_run_group_tests_name("outbox", tests, NULL, NULL);
}
