/*
 * Tests of core/pipeline/profile.c and core/pipeline/evaluate.c without a
 * store or a server: events are hand-built rows of events_read, known
 * profiles a hand-built result of profiles_load, and the rules come from
 * a config file written into a temporary folder. The test clock is set
 * to 2026-01-01 and never moves, so every planned job has a known due
 * time.
 *
 * No channel is loaded, so plan_job finds none through server_channel
 * and sends to the profile's "email" identity. One test puts a fake
 * "sms" channel into the global `server` to check its address kind.
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
#include "pipeline/profile.h"
#include "plugin/plugin.h"
#include "rules/rules.h"
#include "server/server.h"
#include "template/template.h"

#define TEMPLATES CRIER_SOURCE_DIR "/tests/data/templates/ok"
#define NOW_MS CLOCK_TEST_DEFAULT_START_MS
#define HOUR_MS INT64_C(3600000)

/* When the test events happened: ten minutes before the clock. */
#define EVENT_MS (NOW_MS - 600000)

static const char rules_text[] =
    "programs: {\n"
    "  lead: {};\n"
    "  safety: { stages = [ \"aware\", \"acting\" ]; };\n"
    "};\n"
    "rules = (\n"
    "  { name = \"welcome\"; program = \"lead\"; on = \"signup\";\n"
    "    send = { channel = \"email\"; template = \"welcome\";\n"
    "             delay = \"1h\"; };\n"
    "    stage = \"consideration\"; },\n"
    "  { name = \"big-order\"; program = \"lead\"; on = \"order\";\n"
    "    when = \"event.properties.total > 100\";\n"
    "    send = { channel = \"email\"; template = \"receipt\"; }; },\n"
    "  { name = \"considering\"; program = \"lead\"; on = \"page_view\";\n"
    "    when = \"profile.stage == 'awareness'\";\n"
    "    stage = \"consideration\"; },\n"
    "  { name = \"adopted\"; program = \"lead\"; on = \"page_view\";\n"
    "    when = \"profile.stage == 'consideration'\";\n"
    "    stage = \"adoption\"; },\n"
    "  { name = \"case-note\"; on = \"case.*\";\n"
    "    when = \"case.status == 'closed'\";\n"
    "    send = { channel = \"email\"; template = \"receipt\"; }; },\n"
    "  { name = \"alert\"; on = \"alert\";\n"
    "    send = { channel = \"sms\"; template = \"receipt\"; }; },\n"
    "  { name = \"newsletter\"; on = \"newsletter\";\n"
    "    when = \"profile.consent.email != 'revoked'\";\n"
    "    send = { channel = \"email\"; template = \"receipt\"; }; }\n"
    ");\n";

/* What the tests share: the loop of the test clock and the rules. */
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
    return strcmp(name, "email") == 0 || strcmp(name, "sms") == 0;
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
    snprintf(w->dir, sizeof(w->dir), "%s", "/tmp/crier-evaluate-XXXXXX");
    if (mkdtemp(w->dir) == NULL)
        return -1;
    snprintf(w->path, sizeof(w->path), "%s/plugins.conf", w->dir);
    fp = fopen(w->path, "w");
    if (fp == NULL)
        return -1;
    fputs(rules_text, fp);
    fclose(fp);
    w->templates = template_set_load(TEMPLATES, &terr);
    if (w->templates == NULL) {
        print_error("%s: %s\n", terr.path, terr.message);
        return -1;
    }
    if (config_load(w->path, &w->cfg) != 0 ||
        ruleset_load(w->cfg, w->templates, channel_exists, &w->rules) != 0) {
        print_error("%s\n", w->cfg->error);
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
    if (uv_loop_close(&w->loop) != 0) {
        print_error("the loop has handles left open\n");
        rc = -1;
    }
    free(w);
    return rc;
}


static json_t *
parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON at %d:%d: %s: %s", jerr.line, jerr.column,
                 jerr.text, text);
    return v;
}


/* Builds a row of events_read for the stored event `event_text`. */
static json_t *
row(long long seq, const char *event_text)
{
    json_t *event = parse(event_text);
    const char *type = json_string_value(json_object_get(event, "type"));

    return json_pack("{s:I,s:s,s:n,s:s,s:I,s:o}", "seq", (json_int_t) seq,
                     "source", "api", "id", "type", type, "time",
                     (json_int_t) EVENT_MS, "event", event);
}


static void
assert_json(const json_t *got, const char *expected_text)
{
    json_t *expected = parse(expected_text);

    if (!json_equal(got, expected)) {
        char *text = json_dumps(got, JSON_SORT_KEYS);

        print_error("expected %s\ngot      %s\n", expected_text, text);
        free(text);
    }
    assert_true(json_equal(got, expected));
    json_decref(expected);
}


static const char *
string_at(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    if (s == NULL)
        fail_msg("no string at \"%s\"", key);
    return s;
}


static long long
integer_at(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v))
        fail_msg("no integer at \"%s\"", key);
    return (long long) json_integer_value(v);
}


/* A profile id is a UUID in the version 7 layout, whose first 48 bits
 * are the time it was made, in ms. */
static void
assert_profile_id(const char *id, int64_t made_ms)
{
    char hex[13];

    assert_int_equal(strlen(id), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(id[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", id[i]));
    }
    assert_int_equal(id[14], '7');
    assert_non_null(strchr("89ab", id[19]));
    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    hex[12] = '\0';
    assert_int_equal(strtoll(hex, NULL, 16), made_ms);
}


static const char known_profiles[] =
    "{\"profiles\": [{\"id\": \"p-ana\", \"created\": 1700000000000,"
    "  \"updated\": 1700000000000,"
    "  \"attributes\": {\"first_name\": \"Ana\", \"city\": \"Chicago\"},"
    "  \"identities\": [{\"kind\": \"email\", \"value\": \"ana@example.gov\"},"
    "                  {\"kind\": \"visitor\", \"value\": \"v-ana\"}],"
    "  \"stages\": {\"lead\": {\"stage\": \"consideration\","
    "                        \"since\": 1700000000000}}},"
    " {\"id\": \"p-anon\", \"created\": 1700000000000,"
    "  \"updated\": 1700000000000, \"attributes\": {},"
    "  \"identities\": [{\"kind\": \"visitor\", \"value\": \"v-anon\"}],"
    "  \"stages\": {}}]}";


static void
resolve_creates_profile(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse("{\"profiles\": []}");
    json_t *event = parse("{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"bo@example.gov\"},"
                          " \"visitor\": \"v-bo\","
                          " \"attributes\": {\"first_name\": \"Bo\"}}");
    json_t *p;

    profile_index_init(&idx, loaded);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_non_null(p);
    assert_profile_id(string_at(p, "id"), NOW_MS);
    assert_int_equal(integer_at(p, "created"), NOW_MS);
    assert_int_equal(integer_at(p, "updated"), NOW_MS);
    assert_true(json_is_true(json_object_get(p, "_dirty")));
    assert_json(json_object_get(p, "attributes"), "{\"first_name\": \"Bo\"}");
    assert_json(json_object_get(p, "identities"),
                "[{\"kind\": \"email\", \"value\": \"bo@example.gov\"},"
                " {\"kind\": \"visitor\", \"value\": \"v-bo\"}]");
    assert_json(json_object_get(p, "stages"), "{}");
    assert_int_equal(json_array_size(idx.profiles), 1);
    assert_ptr_equal(json_array_get(idx.profiles, 0), p);

    /* The visitor id alone now finds the same profile. */
    json_decref(event);
    event = parse("{\"type\": \"page_view\", \"visitor\": \"v-bo\"}");
    assert_ptr_equal(profile_resolve(&idx, event, 1, NOW_MS + 1), p);
    assert_int_equal(json_array_size(idx.profiles), 1);

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


static void
resolve_known_owner(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(known_profiles);
    json_t *event = parse("{\"type\": \"page_view\","
                          " \"profile\": {\"email\": \"ana@example.gov\"}}");
    json_t *p;

    profile_index_init(&idx, loaded);
    assert_int_equal(json_array_size(idx.profiles), 2);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_ptr_equal(p, json_array_get(idx.profiles, 0));
    assert_string_equal(string_at(p, "id"), "p-ana");

    /* Nothing changed, so the profile is not dirty. */
    assert_null(json_object_get(p, "_dirty"));
    assert_int_equal(integer_at(p, "updated"), 1700000000000);
    assert_int_equal(json_array_size(json_object_get(p, "identities")), 2);

    /* The index contains copies, so the loaded result is left alone. */
    assert_json(loaded, known_profiles);

    profile_index_clear(&idx);
    assert_null(idx.profiles);
    assert_null(idx.by_identity);
    json_decref(event);
    json_decref(loaded);
}


/* An event addressed by profile id finds that profile, or the one it
 * was merged into, and never creates one. */
static void
resolve_by_profile_id(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(known_profiles);
    json_t *event = parse("{\"type\": \"segment.entered\","
                          " \"profile_id\": \"p-ana\"}");

    json_object_set_new(loaded, "moved",
                        json_pack("{s:s}", "p-old", "p-anon"));
    profile_index_init(&idx, loaded);
    assert_ptr_equal(profile_resolve(&idx, event, 1, NOW_MS),
                     json_array_get(idx.profiles, 0));
    assert_null(json_object_get(json_array_get(idx.profiles, 0),
                                "_dirty"));

    json_object_set_new(event, "profile_id", json_string("p-old"));
    assert_ptr_equal(profile_resolve(&idx, event, 1, NOW_MS),
                     json_array_get(idx.profiles, 1));

    json_object_set_new(event, "profile_id", json_string("p-erased"));
    assert_null(profile_resolve(&idx, event, 1, NOW_MS));
    assert_int_equal(json_array_size(idx.profiles), 2);

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


static void
resolve_attaches_identities(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(known_profiles);
    json_t *event = parse("{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"ana@example.gov\","
                          "             \"phone\": \"+13125550100\"},"
                          " \"visitor\": \"v-ana2\"}");
    json_t *p;

    profile_index_init(&idx, loaded);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-ana");
    assert_true(json_is_true(json_object_get(p, "_dirty")));
    assert_int_equal(integer_at(p, "updated"), NOW_MS);
    assert_int_equal(integer_at(p, "created"), 1700000000000);
    assert_json(json_object_get(p, "identities"),
                "[{\"kind\": \"email\", \"value\": \"ana@example.gov\"},"
                " {\"kind\": \"visitor\", \"value\": \"v-ana\"},"
                " {\"kind\": \"phone\", \"value\": \"+13125550100\"},"
                " {\"kind\": \"visitor\", \"value\": \"v-ana2\"}]");

    /* The new phone now finds the same profile. */
    json_decref(event);
    event = parse("{\"type\": \"x\","
                  " \"profile\": {\"phone\": \"+13125550100\"}}");
    assert_ptr_equal(profile_resolve(&idx, event, 1, NOW_MS), p);
    assert_int_equal(json_array_size(idx.profiles), 2);

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


/* An event that carries the visitor id of an anonymous profile and the
 * email of a known one merges the anonymous profile into the known one:
 * its identities move, later visits under that visitor id reach the
 * known profile, and the merge is recorded for the store. */
static void
resolve_merges_anonymous_into_known(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(known_profiles);
    json_t *event = parse("{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"ana@example.gov\"},"
                          " \"visitor\": \"v-anon\"}");
    json_t *anon, *merge, *p;

    profile_index_init(&idx, loaded);
    anon = json_array_get(idx.profiles, 1);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-ana");
    assert_int_equal(json_array_size(json_object_get(p, "identities")), 3);
    assert_true(json_is_true(json_object_get(p, "_dirty")));
    assert_string_equal(string_at(anon, "_merged_into"), "p-ana");
    assert_int_equal(json_array_size(json_object_get(anon, "identities")),
                     0);
    assert_int_equal(json_array_size(idx.merges), 1);
    merge = json_array_get(idx.merges, 0);
    assert_string_equal(string_at(merge, "from"), "p-anon");
    assert_string_equal(string_at(merge, "into"), "p-ana");

    json_decref(event);
    event = parse("{\"type\": \"page_view\", \"visitor\": \"v-anon\"}");
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-ana");
    assert_int_equal(json_array_size(idx.merges), 1);

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


/* A known profile created in this batch merges into the stored anonymous
 * one instead, which keeps its id. */
static void
resolve_new_known_merges_into_stored(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(known_profiles);
    json_t *event = parse("{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"cy@example.gov\"}}");
    json_t *fresh, *p;

    profile_index_init(&idx, loaded);
    fresh = profile_resolve(&idx, event, 1, NOW_MS);
    json_decref(event);
    event = parse("{\"type\": \"signup\","
                  " \"profile\": {\"email\": \"cy@example.gov\"},"
                  " \"visitor\": \"v-anon\"}");
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-anon");
    assert_string_equal(string_at(fresh, "_merged_into"), "p-anon");
    assert_ptr_equal(profile_final(&idx, fresh), p);

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


static void
resolve_attributes(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(known_profiles);
    json_t *event = parse("{\"type\": \"x\","
                          " \"profile\": {\"email\": \"ana@example.gov\"},"
                          " \"attributes\": {\"city\": null,"
                          "                  \"first_name\": \"Ana Maria\","
                          "                  \"zip\": \"60601\"}}");
    json_t *p;

    profile_index_init(&idx, loaded);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-ana");
    assert_true(json_is_true(json_object_get(p, "_dirty")));
    assert_int_equal(integer_at(p, "updated"), NOW_MS);
    assert_json(json_object_get(p, "attributes"),
                "{\"first_name\": \"Ana Maria\", \"zip\": \"60601\"}");

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


static void
flatten_profile(void **state)
{
    json_t *stored = parse(
        "{\"id\": \"p-1\", \"created\": 1, \"updated\": 2,"
        " \"attributes\": {\"first_name\": \"Ana\","
        "                  \"email\": \"attribute@example.gov\","
        "                  \"id\": \"attribute-id\"},"
        " \"identities\": [{\"kind\": \"email\", \"value\": \"a@example.gov\"},"
        "                 {\"kind\": \"phone\", \"value\": \"+13125550100\"},"
        "                 {\"kind\": \"email\", \"value\": \"b@example.gov\"}],"
        " \"stages\": {\"lead\": {\"stage\": \"adoption\", \"since\": 5},"
        "              \"safety\": {\"stage\": \"aware\", \"since\": 6}},"
        " \"consent\": {\"email\": {\"state\": \"revoked\","
        "                          \"source\": \"api:x\", \"time\": 7},"
        "             \"sms\": {\"state\": \"granted\","
        "                        \"source\": \"api:x\", \"time\": 8}}}");
    json_t *flat = profile_flatten(stored);

    assert_json(flat,
                "{\"first_name\": \"Ana\", \"email\": \"a@example.gov\","
                " \"phone\": \"+13125550100\", \"id\": \"p-1\","
                " \"stages\": {\"lead\": \"adoption\","
                "              \"safety\": \"aware\"},"
                " \"consent\": {\"email\": \"revoked\","
                "              \"sms\": \"granted\"},"
                " \"dependents\": [], \"cases\": []}");
    assert_string_equal(profile_stage(stored, "lead"), "adoption");
    assert_null(profile_stage(stored, "other"));
    assert_string_equal(profile_identity(stored, "email"), "a@example.gov");
    assert_string_equal(profile_identity(stored, "phone"), "+13125550100");
    assert_null(profile_identity(stored, "visitor"));

    /* The stored profile is left alone. */
    assert_string_equal(
        string_at(json_object_get(stored, "attributes"), "email"),
        "attribute@example.gov");
    json_decref(flat);
    json_decref(stored);
}


static void
flatten_empty(void **state)
{
    json_t *stored = parse("{\"id\": \"p-2\", \"attributes\": {},"
                           " \"identities\": [], \"stages\": {}}");
    json_t *flat = profile_flatten(stored);

    assert_json(flat, "{\"id\": \"p-2\", \"stages\": {}, \"consent\": {},"
                      " \"dependents\": [], \"cases\": []}");
    json_decref(flat);
    json_decref(stored);
}


static void
identities_request(void **state)
{
    json_t *events = json_pack("[o,o,o]",
        row(1, "{\"type\": \"signup\","
               " \"profile\": {\"email\": \"bo@example.gov\","
               "              \"case_id\": \"14-1\"}}"),
        row(2, "{\"type\": \"page_view\", \"visitor\": \"v-1\"}"),
        row(3, "{\"type\": \"segment.left\", \"profile_id\": \"p-ana\","
               " \"properties\": {\"segment\": \"lima\"}}"));
    json_t *request = profile_identities_of(events);

    assert_json(request,
                "{\"identities\": ["
                " {\"kind\": \"email\", \"value\": \"bo@example.gov\"},"
                " {\"kind\": \"case_id\", \"value\": \"14-1\"},"
                " {\"kind\": \"visitor\", \"value\": \"v-1\"}],"
                " \"ids\": [\"p-ana\"]}");
    json_decref(request);
    json_decref(events);
}


static void
context_of_event(void **state)
{
    json_t *event = parse("{\"type\": \"case.closed\","
                          " \"properties\": {\"case\":"
                          "                  {\"status\": \"closed\"}}}");
    json_t *stored = parse("{\"id\": \"p-1\", \"attributes\": {\"a\": 1},"
                           " \"identities\": [], \"stages\": {}}");
    json_t *ctx = evaluation_context(event, stored);

    assert_json(ctx,
                "{\"event\": {\"type\": \"case.closed\","
                "             \"properties\": {\"case\":"
                "                              {\"status\": \"closed\"}}},"
                " \"profile\": {\"a\": 1, \"id\": \"p-1\", \"stages\": {},"
                "             \"consent\": {}, \"dependents\": [],"
                "             \"cases\": []},"
                " \"case\": {\"status\": \"closed\"}}");
    json_decref(ctx);

    ctx = evaluation_context(json_object_get(event, "properties"), NULL);
    assert_json(ctx,
                "{\"event\": {\"case\": {\"status\": \"closed\"}},"
                " \"profile\": {}, \"case\": null}");
    json_decref(ctx);
    json_decref(stored);
    json_decref(event);
}


/* One row per case: the candidate's state and time, the current entry's
 * (NULL state for none), and whether the candidate wins. */
static void
consent_rule_order(void **state)
{
    static const struct {
        const char *candidate;
        long long candidate_ms;
        const char *current;
        long long current_ms;
        int wins;
    } cases[] = {
        { "revoked", 1, NULL, 0, 1 },
        { "granted", 1, NULL, 0, 1 },
        { "revoked", 1, "granted", 9, 1 },
        { "granted", 9, "revoked", 1, 0 },
        { "revoked", 5, "revoked", 4, 1 },
        { "revoked", 4, "revoked", 5, 0 },
        { "granted", 5, "granted", 4, 1 },
        { "granted", 5, "granted", 5, 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *candidate = json_pack("{s:s,s:s,s:I}", "state",
                                      cases[i].candidate, "source", "api:x",
                                      "time", cases[i].candidate_ms);
        json_t *current = cases[i].current == NULL ? NULL
            : json_pack("{s:s,s:s,s:I}", "state", cases[i].current,
                        "source", "api:y", "time", cases[i].current_ms);

        if (profile_consent_wins(candidate, current) != cases[i].wins)
            fail_msg("case %zu: %s at %lld against %s at %lld", i,
                     cases[i].candidate, cases[i].candidate_ms,
                     cases[i].current ? cases[i].current : "none",
                     cases[i].current_ms);
        json_decref(candidate);
        json_decref(current);
    }
    assert_false(profile_consent_wins(NULL, NULL));
}


/* An event's consent sets one entry per kind, with the event's source
 * and type and its time, and a later event replaces an entry. */
static void
consent_apply_entries(void **state)
{
    json_t *profile = parse("{\"id\": \"p-1\", \"updated\": 1,"
                            " \"attributes\": {}, \"identities\": [],"
                            " \"stages\": {}}");
    json_t *revoke = parse("{\"type\": \"form.submitted\","
                           " \"consent\": {\"email\": \"revoked\","
                           "               \"sms\": \"granted\"}}");
    json_t *grant = parse("{\"type\": \"opt_in\","
                          " \"consent\": {\"email\": \"granted\"}}");
    json_t *plain = parse("{\"type\": \"page_view\"}");

    profile_consent_apply(profile, plain, "api", "page_view", 5, NOW_MS);
    assert_null(json_object_get(profile, "_dirty"));
    assert_null(json_object_get(profile, "consent"));

    profile_consent_apply(profile, revoke, "api", "form.submitted", 10,
                          NOW_MS);
    assert_true(json_is_true(json_object_get(profile, "_dirty")));
    assert_int_equal(integer_at(profile, "updated"), NOW_MS);
    assert_json(json_object_get(profile, "consent"),
                "{\"email\": {\"state\": \"revoked\","
                "             \"source\": \"api:form.submitted\","
                "             \"time\": 10},"
                " \"sms\": {\"state\": \"granted\","
                "           \"source\": \"api:form.submitted\","
                "           \"time\": 10}}");

    profile_consent_apply(profile, grant, "beacon", "opt_in", 20, NOW_MS);
    assert_json(json_object_get(json_object_get(profile, "consent"),
                                "email"),
                "{\"state\": \"granted\", \"source\": \"beacon:opt_in\","
                " \"time\": 20}");
    json_decref(plain);
    json_decref(grant);
    json_decref(revoke);
    json_decref(profile);
}


static const char consent_profiles[] =
    "{\"profiles\": [{\"id\": \"p-known\", \"created\": 1, \"updated\": 1,"
    "  \"attributes\": {},"
    "  \"consent\": {"
    "    \"sms\": {\"state\": \"revoked\", \"source\": \"api:a\","
    "             \"time\": 100},"
    "    \"email\": {\"state\": \"granted\", \"source\": \"api:a\","
    "               \"time\": 100},"
    "    \"webhook\": {\"state\": \"granted\", \"source\": \"api:a\","
    "                 \"time\": 300}},"
    "  \"identities\": [{\"kind\": \"email\", \"value\": \"k@example.gov\"}],"
    "  \"stages\": {}},"
    " {\"id\": \"p-anon\", \"created\": 1, \"updated\": 1,"
    "  \"attributes\": {},"
    "  \"consent\": {"
    "    \"sms\": {\"state\": \"granted\", \"source\": \"beacon:b\","
    "             \"time\": 500},"
    "    \"email\": {\"state\": \"granted\", \"source\": \"beacon:b\","
    "               \"time\": 200},"
    "    \"webhook\": {\"state\": \"granted\", \"source\": \"beacon:b\","
    "                 \"time\": 200},"
    "    \"push\": {\"state\": \"revoked\", \"source\": \"beacon:b\","
    "              \"time\": 50}},"
    "  \"identities\": [{\"kind\": \"visitor\", \"value\": \"v-anon\"}],"
    "  \"stages\": {}}]}";


/* A merge keeps, per kind, the more restrictive entry of the two
 * profiles, and the later one of two equal states. */
static void
merge_consent_restrictive(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(consent_profiles);
    json_t *event = parse("{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"k@example.gov\"},"
                          " \"visitor\": \"v-anon\"}");
    json_t *p;

    profile_index_init(&idx, loaded);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-known");
    assert_json(json_object_get(p, "consent"),
                "{\"sms\": {\"state\": \"revoked\", \"source\": \"api:a\","
                "           \"time\": 100},"
                " \"email\": {\"state\": \"granted\", \"source\": \"beacon:b\","
                "             \"time\": 200},"
                " \"webhook\": {\"state\": \"granted\", \"source\": \"api:a\","
                "               \"time\": 300},"
                " \"push\": {\"state\": \"revoked\", \"source\": \"beacon:b\","
                "            \"time\": 50}}");

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


static const char related_profiles[] =
    "{\"profiles\": [{\"id\": \"p-known\", \"created\": 1, \"updated\": 1,"
    "  \"attributes\": {}, \"consent\": {},"
    "  \"related\": {\"dependents\": {"
    "    \"c1\": {\"attributes\": {\"birth_date\": \"2025-06-01\","
    "                              \"name\": \"Io\"}, \"updated\": 1},"
    "    \"c2\": {\"attributes\": {}, \"updated\": 1}},"
    "   \"cases\": {\"k1\": {\"type\": \"SNAP\", \"status\": \"open\","
    "                        \"opened\": 5, \"closed\": null,"
    "                        \"outcome\": null, \"attributes\": {},"
    "                        \"updated\": 1}}},"
    "  \"identities\": [{\"kind\": \"email\", \"value\": \"k@example.gov\"}],"
    "  \"stages\": {}},"
    " {\"id\": \"p-anon\", \"created\": 1, \"updated\": 1,"
    "  \"attributes\": {}, \"consent\": {},"
    "  \"related\": {\"dependents\": {"
    "    \"c1\": {\"attributes\": {\"name\": \"other\"}, \"updated\": 2},"
    "    \"c3\": {\"attributes\": {\"name\": \"Ma\"}, \"updated\": 2}},"
    "   \"cases\": {}},"
    "  \"identities\": [{\"kind\": \"visitor\", \"value\": \"v-anon\"}],"
    "  \"stages\": {}}]}";


/* Entries upsert by id: attributes merge, null removes one, and "remove"
 * deletes the record. */
static void
related_upsert_remove(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(related_profiles);
    json_t *event = parse(
        "{\"type\": \"update\", \"profile\": {\"email\": \"k@example.gov\"},"
        " \"related\": {\"dependents\": ["
        "   {\"id\": \"c1\", \"attributes\": {\"name\": null, \"size\": 3}},"
        "   {\"id\": \"c2\", \"remove\": true},"
        "   {\"id\": \"c4\","
        "    \"attributes\": {\"birth_date\": \"2026-01-01\"}}],"
        "  \"cases\": [{\"id\": \"k1\", \"status\": \"closed\","
        "              \"closed_at\": \"1970-01-01T00:00:01Z\","
        "              \"outcome\": \"approved\"},"
        "             {\"id\": \"k2\", \"type\": \"pothole\"}]}}");
    json_t *p;

    profile_index_init(&idx, loaded);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    profile_related_apply(p, event, "update", NOW_MS);
    assert_true(json_is_true(json_object_get(p, "_dirty")));
    assert_int_equal(integer_at(p, "updated"), NOW_MS);
    assert_json(json_object_get(json_object_get(p, "related"), "dependents"),
                "{\"c1\": {\"attributes\": {\"birth_date\": \"2025-06-01\","
                "                           \"size\": 3},"
                "          \"updated\": 1767225600000},"
                " \"c4\": {\"attributes\": {\"birth_date\": \"2026-01-01\"},"
                "          \"updated\": 1767225600000}}");
    assert_json(json_object_get(json_object_get(p, "related"), "cases"),
                "{\"k1\": {\"type\": \"SNAP\", \"status\": \"closed\","
                "          \"opened\": 5, \"closed\": 1000,"
                "          \"outcome\": \"approved\", \"attributes\": {},"
                "          \"updated\": 1767225600000},"
                " \"k2\": {\"type\": \"pothole\", \"status\": null,"
                "          \"opened\": null, \"closed\": null,"
                "          \"outcome\": null, \"attributes\": {},"
                "          \"updated\": 1767225600000}}");

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


/* An event of the case trigger upserts the case from properties.case. */
static void
related_case_event(void **state)
{
    json_t *profile = parse("{\"id\": \"p-1\", \"attributes\": {}}");
    json_t *event = parse(
        "{\"type\": \"case.opened\", \"properties\": {\"case\":"
        "  {\"id\": \"14-00684314\", \"service_name\": \"Pothole\","
        "   \"status\": \"open\", \"opened_at\": \"1970-01-01T00:00:02Z\","
        "   \"status_notes\": \"queued\"}}}");

    profile_related_apply(profile, event, "page_view", NOW_MS);
    assert_null(json_object_get(profile, "related"));
    profile_related_apply(profile, event, "case.opened", NOW_MS);
    assert_json(json_object_get(profile, "related"),
                "{\"cases\": {\"14-00684314\": {\"type\": \"Pothole\","
                "  \"status\": \"open\", \"opened\": 2000,"
                "  \"closed\": null, \"outcome\": \"queued\","
                "  \"attributes\": {}, \"updated\": 1767225600000}}}");
    json_decref(event);
    json_decref(profile);
}


/* A merge gives the known profile the records under ids it lacks. */
static void
related_merge_fills(void **state)
{
    struct profile_index idx;
    json_t *loaded = parse(related_profiles);
    json_t *event = parse("{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"k@example.gov\"},"
                          " \"visitor\": \"v-anon\"}");
    json_t *dependents;
    json_t *p;

    profile_index_init(&idx, loaded);
    p = profile_resolve(&idx, event, 1, NOW_MS);
    assert_string_equal(string_at(p, "id"), "p-known");
    dependents = json_object_get(json_object_get(p, "related"),
                                 "dependents");
    assert_int_equal(json_object_size(dependents), 3);
    assert_string_equal(string_at(json_object_get(json_object_get(
        dependents, "c1"), "attributes"), "name"), "Io");
    assert_string_equal(string_at(json_object_get(json_object_get(
        dependents, "c3"), "attributes"), "name"), "Ma");

    profile_index_clear(&idx);
    json_decref(event);
    json_decref(loaded);
}


/* Rules see each record as an object with its id and attributes, and a
 * case with its case members too. */
static void
related_flatten(void **state)
{
    json_t *loaded = parse(related_profiles);
    json_t *flat = profile_flatten(json_array_get(json_object_get(loaded,
                                                                  "profiles"),
                                                  0));

    assert_json(json_object_get(flat, "dependents"),
                "[{\"id\": \"c1\", \"birth_date\": \"2025-06-01\","
                "  \"name\": \"Io\"}, {\"id\": \"c2\"}]");
    assert_json(json_object_get(flat, "cases"),
                "[{\"id\": \"k1\", \"type\": \"SNAP\", \"status\": \"open\","
                "  \"opened\": 5, \"closed\": null, \"outcome\": null}]");
    json_decref(flat);
    json_decref(loaded);
}


/* Runs one evaluation over `events` (stolen) and returns the batch. */
static json_t *
run(const struct world *w, json_t *events, const char *loaded_text)
{
    json_t *loaded = parse(loaded_text);
    struct evaluation *ev = evaluation_new(events);
    json_t *batch;

    json_decref(events);
    batch = evaluation_run(ev, loaded, w->rules, "pipeline");
    assert_non_null(batch);
    evaluation_free(ev);
    json_decref(loaded);
    return batch;
}


/* A new profile enters the program at its first stage, and the matching
 * rule moves it and plans its message an hour after the event. */
static void
run_signup(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o]", row(7, "{\"type\": \"signup\","
                                " \"profile\": {\"email\": \"bo@example.gov\"},"
                                " \"attributes\": {\"first_name\": \"Bo\"}}")),
        "{\"profiles\": []}");
    json_t *profiles = json_object_get(batch, "profiles");
    json_t *p = json_array_get(profiles, 0);
    const char *id;
    char expected[1024];

    assert_json(json_object_get(batch, "cursor"),
                "{\"name\": \"pipeline\", \"value\": 7}");
    assert_int_equal(json_array_size(profiles), 1);
    id = string_at(p, "id");
    assert_profile_id(id, NOW_MS);
    snprintf(expected, sizeof(expected),
             "{\"id\": \"%s\", \"created\": %lld, \"updated\": %lld,"
             " \"attributes\": {\"first_name\": \"Bo\"}, \"consent\": {},"
             " \"identities\": [{\"kind\": \"email\","
             "                   \"value\": \"bo@example.gov\"}]}",
             id, (long long) NOW_MS, (long long) NOW_MS);
    assert_json(p, expected);

    snprintf(expected, sizeof(expected),
             "[{\"profile\": \"%s\", \"program\": \"lead\", \"from\": null,"
             "  \"to\": \"awareness\", \"time\": %lld, \"event_seq\": 7,"
             "  \"rule\": null},"
             " {\"profile\": \"%s\", \"program\": \"lead\","
             "  \"from\": \"awareness\", \"to\": \"consideration\","
             "  \"time\": %lld, \"event_seq\": 7, \"rule\": \"welcome\"}]",
             id, (long long) EVENT_MS, id, (long long) EVENT_MS);
    assert_json(json_object_get(batch, "stages"), expected);

    snprintf(expected, sizeof(expected),
             "[{\"key\": \"rule:welcome/%s/7\", \"rule\": \"welcome\","
             "  \"program\": \"lead\", \"profile\": \"%s\","
             "  \"event_seq\": 7, \"channel\": \"email\","
             "  \"template\": \"welcome\", \"to\": \"bo@example.gov\","
             "  \"due\": %lld, \"lane\": 1, \"priority\": 0}]",
             id, id, (long long) (EVENT_MS + HOUR_MS));
    assert_json(json_object_get(batch, "jobs"), expected);
    json_decref(batch);
}


/* A false `when` plans nothing, but the profile still enters the
 * program. */
static void
run_when_false(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o]", row(3, "{\"type\": \"order\","
                                " \"profile\": {\"email\": \"bo@example.gov\"},"
                                " \"properties\": {\"total\": 50}}")),
        "{\"profiles\": []}");
    json_t *stages = json_object_get(batch, "stages");

    assert_int_equal(json_array_size(json_object_get(batch, "jobs")), 0);
    assert_int_equal(json_array_size(stages), 1);
    assert_true(json_is_null(json_object_get(json_array_get(stages, 0),
                                             "from")));
    assert_string_equal(string_at(json_array_get(stages, 0), "to"),
                        "awareness");
    json_decref(batch);
}


/* A known profile keeps its stage. Only the job is planned, and the
 * unchanged profile is not written back. */
static void
run_known_profile(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o]", row(12, "{\"type\": \"order\","
                                 " \"profile\": {\"email\":"
                                 "               \"ana@example.gov\"},"
                                 " \"properties\": {\"total\": 500}}")),
        known_profiles);
    char expected[1024];

    assert_json(json_object_get(batch, "profiles"), "[]");
    assert_json(json_object_get(batch, "stages"), "[]");
    snprintf(expected, sizeof(expected),
             "[{\"key\": \"rule:big-order/p-ana/12\", \"rule\": \"big-order\","
             "  \"program\": \"lead\", \"profile\": \"p-ana\","
             "  \"event_seq\": 12, \"channel\": \"email\","
             "  \"template\": \"receipt\", \"to\": \"ana@example.gov\","
             "  \"due\": %lld, \"lane\": 1, \"priority\": 0}]",
             (long long) NOW_MS);
    assert_json(json_object_get(batch, "jobs"), expected);
    json_decref(batch);
}


/* A profile with no email address gets no job, but its stage moves. */
static void
run_no_address(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o]", row(4, "{\"type\": \"signup\","
                                " \"profile\": {\"phone\":"
                                "               \"+13125550100\"}}")),
        "{\"profiles\": []}");
    json_t *stages = json_object_get(batch, "stages");

    assert_json(json_object_get(batch, "jobs"), "[]");
    assert_int_equal(json_array_size(stages), 2);
    assert_string_equal(string_at(json_array_get(stages, 1), "to"),
                        "consideration");
    json_decref(batch);
}


/* A rule without a program plans for "case.*" and moves nothing. */
static void
run_case_rule(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o,o]",
                  row(20, "{\"type\": \"case.opened\","
                          " \"profile\": {\"email\": \"ana@example.gov\"},"
                          " \"properties\": {\"case\":"
                          "                  {\"status\": \"open\"}}}"),
                  row(21, "{\"type\": \"case.closed\","
                          " \"profile\": {\"email\": \"ana@example.gov\"},"
                          " \"properties\": {\"case\":"
                          "                  {\"status\": \"closed\"}}}")),
        known_profiles);
    json_t *jobs = json_object_get(batch, "jobs");

    assert_json(json_object_get(batch, "stages"), "[]");
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(string_at(json_array_get(jobs, 0), "key"),
                        "rule:case-note/p-ana/21");
    assert_true(json_is_null(json_object_get(json_array_get(jobs, 0),
                                             "program")));
    json_decref(batch);
}


/* Rules see the stage the profile had when the event arrived: one
 * page_view moves awareness to consideration, not on to adoption. The
 * next page_view moves it on. */
static void
run_stage_per_event(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o,o]",
                  row(30, "{\"type\": \"page_view\", \"visitor\": \"v-9\"}"),
                  row(31, "{\"type\": \"page_view\", \"visitor\": \"v-9\"}")),
        "{\"profiles\": []}");
    json_t *stages = json_object_get(batch, "stages");

    assert_int_equal(json_array_size(stages), 3);
    assert_string_equal(string_at(json_array_get(stages, 0), "to"),
                        "awareness");
    assert_int_equal(integer_at(json_array_get(stages, 0), "event_seq"), 30);
    assert_string_equal(string_at(json_array_get(stages, 1), "from"),
                        "awareness");
    assert_string_equal(string_at(json_array_get(stages, 1), "to"),
                        "consideration");
    assert_int_equal(integer_at(json_array_get(stages, 1), "event_seq"), 30);
    assert_string_equal(string_at(json_array_get(stages, 2), "from"),
                        "consideration");
    assert_string_equal(string_at(json_array_get(stages, 2), "to"),
                        "adoption");
    assert_int_equal(integer_at(json_array_get(stages, 2), "event_seq"), 31);
    json_decref(batch);
}


/* Two events of one new identity resolve to one profile, and the cursor
 * is the last event's seq. */
static void
run_same_identity(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o,o,o]",
                  row(40, "{\"type\": \"signup\","
                          " \"profile\": {\"email\": \"cy@example.gov\"}}"),
                  row(41, "{\"type\": \"noise\", \"visitor\": \"v-other\"}"),
                  row(45, "{\"type\": \"order\","
                          " \"profile\": {\"email\": \"cy@example.gov\"},"
                          " \"properties\": {\"total\": 101}}")),
        "{\"profiles\": []}");
    json_t *profiles = json_object_get(batch, "profiles");
    json_t *jobs = json_object_get(batch, "jobs");
    const char *id;
    char key[128];

    assert_int_equal(integer_at(json_object_get(batch, "cursor"), "value"),
                     45);
    assert_int_equal(json_array_size(profiles), 2);
    id = string_at(json_array_get(profiles, 0), "id");
    assert_string_not_equal(id,
                            string_at(json_array_get(profiles, 1), "id"));
    assert_int_equal(json_array_size(jobs), 2);
    snprintf(key, sizeof(key), "rule:welcome/%s/40", id);
    assert_string_equal(string_at(json_array_get(jobs, 0), "key"), key);
    snprintf(key, sizeof(key), "rule:big-order/%s/45", id);
    assert_string_equal(string_at(json_array_get(jobs, 1), "key"), key);
    assert_string_equal(string_at(json_array_get(jobs, 1), "profile"), id);
    json_decref(batch);
}


/* A channel's address kind picks the identity a job goes to. */
static void
run_channel_address_kind(void **state)
{
    static const struct crier_channel_ops sms_ops = {
        .size = sizeof(struct crier_channel_ops),
        .address_kind = "phone",
    };
    static const struct crier_plugin sms_plugin = {
        .kind = CRIER_PLUGIN_CHANNEL,
        .name = "fake-sms",
        .ops = &sms_ops,
    };
    struct plugin_instance sms = {
        .name = "sms",
        .desc = &sms_plugin,
    };
    json_t *batch;
    json_t *jobs;

    server.channels = g_ptr_array_new();
    g_ptr_array_add(server.channels, &sms);
    batch = run(*state,
        json_pack("[o,o]",
                  row(50, "{\"type\": \"alert\","
                          " \"profile\": {\"email\": \"dee@example.gov\","
                          "              \"phone\": \"+13125550100\"}}"),
                  row(51, "{\"type\": \"alert\","
                          " \"profile\": {\"email\": \"eve@example.gov\"}}")),
        "{\"profiles\": []}");
    g_ptr_array_free(server.channels, TRUE);
    server.channels = NULL;

    jobs = json_object_get(batch, "jobs");
    assert_int_equal(json_array_size(jobs), 1);
    assert_string_equal(string_at(json_array_get(jobs, 0), "channel"),
                        "sms");
    assert_string_equal(string_at(json_array_get(jobs, 0), "to"),
                        "+13125550100");
    assert_int_equal(integer_at(json_array_get(jobs, 0), "event_seq"), 50);
    json_decref(batch);
}


/* An event that revokes email consent stores the entry in the batch's
 * profile, and the rule whose `when` reads it plans nothing. */
static void
run_consent_revoke(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o]", row(60, "{\"type\": \"newsletter\","
                                 " \"profile\": {\"email\":"
                                 "               \"ana@example.gov\"},"
                                 " \"consent\": {\"email\": \"revoked\"}}")),
        known_profiles);
    json_t *p = json_array_get(json_object_get(batch, "profiles"), 0);
    char expected[256];

    assert_string_equal(string_at(p, "id"), "p-ana");
    snprintf(expected, sizeof(expected),
             "{\"email\": {\"state\": \"revoked\","
             "             \"source\": \"api:newsletter\", \"time\": %lld}}",
             (long long) EVENT_MS);
    assert_json(json_object_get(p, "consent"), expected);
    assert_json(json_object_get(batch, "jobs"), "[]");
    json_decref(batch);
}


/* Without a revoke (unknown, or granted again later) the rule plans its
 * email. */
static void
run_consent_unknown_or_granted(void **state)
{
    json_t *batch = run(*state,
        json_pack("[o,o,o]",
                  row(61, "{\"type\": \"newsletter\","
                          " \"profile\": {\"email\": \"ana@example.gov\"}}"),
                  row(62, "{\"type\": \"newsletter\","
                          " \"profile\": {\"email\": \"ana@example.gov\"},"
                          " \"consent\": {\"email\": \"revoked\"}}"),
                  row(63, "{\"type\": \"newsletter\","
                          " \"profile\": {\"email\": \"ana@example.gov\"},"
                          " \"consent\": {\"email\": \"granted\"}}")),
        known_profiles);
    json_t *jobs = json_object_get(batch, "jobs");
    json_t *p = json_array_get(json_object_get(batch, "profiles"), 0);

    assert_int_equal(json_array_size(jobs), 2);
    assert_int_equal(integer_at(json_array_get(jobs, 0), "event_seq"), 61);
    assert_int_equal(integer_at(json_array_get(jobs, 1), "event_seq"), 63);
    assert_string_equal(string_at(json_object_get(json_object_get(p,
                                      "consent"), "email"), "state"),
                        "granted");
    json_decref(batch);
}


/* Without rules, profiles are still resolved and the cursor moves. */
static void
run_without_rules(void **state)
{
    json_t *loaded = parse("{\"profiles\": []}");
    json_t *events = json_pack("[o]",
        row(2, "{\"type\": \"signup\","
               " \"profile\": {\"email\": \"bo@example.gov\"}}"));
    struct evaluation *ev = evaluation_new(events);
    json_t *batch;

    assert_int_equal(ev->count, 1);
    assert_int_equal(ev->last_seq, 2);
    batch = evaluation_run(ev, loaded, NULL, "pipeline");
    assert_int_equal(json_array_size(json_object_get(batch, "profiles")), 1);
    assert_json(json_object_get(batch, "stages"), "[]");
    assert_json(json_object_get(batch, "jobs"), "[]");
    assert_json(json_object_get(batch, "cursor"),
                "{\"name\": \"pipeline\", \"value\": 2}");
    json_decref(batch);
    evaluation_free(ev);
    json_decref(events);
    json_decref(loaded);
}


int
main(void)
{
    const struct CMUnitTest profiles[] = {
        cmocka_unit_test(resolve_creates_profile),
        cmocka_unit_test(resolve_known_owner),
        cmocka_unit_test(resolve_by_profile_id),
        cmocka_unit_test(resolve_attaches_identities),
        cmocka_unit_test(resolve_merges_anonymous_into_known),
        cmocka_unit_test(resolve_new_known_merges_into_stored),
        cmocka_unit_test(resolve_attributes),
        cmocka_unit_test(flatten_profile),
        cmocka_unit_test(flatten_empty),
        cmocka_unit_test(identities_request),
        cmocka_unit_test(context_of_event),
        cmocka_unit_test(consent_rule_order),
        cmocka_unit_test(consent_apply_entries),
        cmocka_unit_test(merge_consent_restrictive),
        cmocka_unit_test(related_upsert_remove),
        cmocka_unit_test(related_case_event),
        cmocka_unit_test(related_merge_fills),
        cmocka_unit_test(related_flatten),
    };
    const struct CMUnitTest evaluation[] = {
        cmocka_unit_test(run_signup),
        cmocka_unit_test(run_when_false),
        cmocka_unit_test(run_known_profile),
        cmocka_unit_test(run_no_address),
        cmocka_unit_test(run_case_rule),
        cmocka_unit_test(run_stage_per_event),
        cmocka_unit_test(run_same_identity),
        cmocka_unit_test(run_channel_address_kind),
        cmocka_unit_test(run_without_rules),
        cmocka_unit_test(run_consent_revoke),
        cmocka_unit_test(run_consent_unknown_or_granted),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("profile", profiles, NULL, NULL);
    failed += cmocka_run_group_tests_name("evaluation", evaluation,
                                          world_make, world_remove);
    return failed > 0;
}
