/*
 * Tests of the case trigger's JSON Pointers (plugins/triggers/case/
 * pointer.c) against the examples of RFC 6901 section 5, and of the JSON
 * mapping (mapping.c) that reads any case system's body through them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugins/triggers/case/case_event.c"
#include "../../plugins/triggers/case/mapping.c"
#include "../../plugins/triggers/case/pointer.c"

/* The document of RFC 6901 section 5. */
static const char rfc_document[] =
    "{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, "
    "\"e^f\": 3, \"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, "
    "\"m~n\": 8}";


static void
test_pointer_rfc_examples(void **state)
{
    static const struct {
        const char *pointer;
        const char *expected;   /* compact JSON */
    } cases[] = {
        {"/foo", "[\"bar\",\"baz\"]"}, {"/foo/0", "\"bar\""},
        {"/", "0"}, {"/a~1b", "1"}, {"/c%d", "2"}, {"/e^f", "3"},
        {"/g|h", "4"}, {"/i\\j", "5"}, {"/k\"l", "6"}, {"/ ", "7"},
        {"/m~0n", "8"},
    };
    json_t *doc = json_loads(rfc_document, 0, NULL);

    assert_non_null(doc);
    assert_ptr_equal(json_pointer_get(doc, ""), doc);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *value = json_pointer_get(doc, cases[i].pointer);
        char *text;

        if (value == NULL)
            fail_msg("%s names nothing", cases[i].pointer);
        text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
        if (strcmp(text, cases[i].expected) != 0)
            fail_msg("%s gave %s, expected %s", cases[i].pointer, text,
                     cases[i].expected);
        free(text);
    }
    json_decref(doc);
}


/* "~01" is "~1" escaped, so it names member "~1", not "/". */
static void
test_pointer_escape_order(void **state)
{
    json_t *doc = json_pack("{s:i,s:i}", "~1", 1, "/", 2);

    assert_int_equal(json_integer_value(json_pointer_get(doc, "/~01")), 1);
    assert_int_equal(json_integer_value(json_pointer_get(doc, "/~1")), 2);
    json_decref(doc);
}


static void
test_pointer_names_nothing(void **state)
{
    static const char *const pointers[] = {
        "/missing", "/foo/2", "/foo/-", "/foo/01", "/foo/+1", "/foo/1x",
        "/foo/0/deeper", "/a~1b/x", "foo", "/m~2n", "/m~",
        "/foo/99999999999999999999999",
    };
    json_t *doc = json_loads(rfc_document, 0, NULL);

    for (size_t i = 0; i < sizeof(pointers) / sizeof(pointers[0]); i++)
        if (json_pointer_get(doc, pointers[i]) != NULL)
            fail_msg("%s names a value", pointers[i]);
    assert_null(json_pointer_get(NULL, "/foo"));
    json_decref(doc);
}


static void
test_pointer_check(void **state)
{
    assert_null(json_pointer_check(""));
    assert_null(json_pointer_check("/case/number"));
    assert_null(json_pointer_check("/a~0b~1c"));
    assert_non_null(strstr(json_pointer_check("case/number"),
                           "start with '/'"));
    assert_non_null(strstr(json_pointer_check("/a~2"), "~0 and"));
    assert_non_null(json_pointer_check("/a~"));
}


/* What the fake host saw. */
static struct {
    char config_key[96];
    char config_message[256];
} seen;


static void
fake_config_error(struct crier_ctx *ctx, const char *key, const char *fmt,
                  ...)
{
    va_list ap;

    snprintf(seen.config_key, sizeof(seen.config_key), "%s", key);
    va_start(ap, fmt);
    vsnprintf(seen.config_message, sizeof(seen.config_message), fmt, ap);
    va_end(ap);
}


static const struct crier_host fake_host = {
    .size = sizeof(struct crier_host),
    .config_error = fake_config_error,
};

/* The mapping of a made-up case system, as in docs/triggers/case.md. */
static const char mapping_config[] =
    "{\"id\": \"/case/number\", \"status\": \"/case/state\", "
    "\"statuses\": {\"opened\": [\"new\"], \"updated\": [\"in review\", "
    "\"waiting\"], \"closed\": [\"decided\", \"withdrawn\"]}, "
    "\"opened\": \"/case/filed_at\", \"updated\": \"/case/modified_at\", "
    "\"closed\": \"/case/decided_at\", \"type\": \"/case/program\", "
    "\"outcome\": \"/case/decision\", \"email\": \"/applicant/email\", "
    "\"phone\": \"/applicant/phone\", "
    "\"attributes\": {\"first_name\": \"/applicant/name/given\"}, "
    "\"fields\": {\"office\": \"/case/office\", \"id\": \"/case/office\"}}";

static const char closed_body[] =
    "{\"case\": {\"number\": 7731, \"state\": \"decided\", "
    "\"filed_at\": \"2026-01-05T09:00:00-05:00\", "
    "\"modified_at\": \"2026-02-10T16:30:00-05:00\", "
    "\"decided_at\": \"2026-02-10T16:30:00-05:00\", "
    "\"program\": \"childcare\", \"decision\": \"approved\", "
    "\"office\": \"North\"}, "
    "\"applicant\": {\"email\": \"ana@example.gov\", "
    "\"phone\": \"+13125550100\", \"name\": {\"given\": \"Ana\"}}}";


static struct case_mapping *
mapping_load(const char *text)
{
    json_t *config = json_loads(text, 0, NULL);
    struct case_mapping *mapping = NULL;

    assert_non_null(config);
    assert_int_equal(mapping_read(NULL, &fake_host, config, &mapping), 0);
    json_decref(config);
    return mapping;
}


/* Builds the events of `body_text`, which must succeed. */
static json_t *
events_of(const struct case_mapping *mapping, const char *body_text)
{
    json_t *body = json_loads(body_text, 0, NULL);
    struct crier_input_error err;
    json_t *events = NULL;
    int rc;

    assert_non_null(body);
    rc = mapping_events_build(mapping, body, &events, &err);
    if (rc != 0)
        fail_msg("rejected: %s %s", err.field, err.message);
    json_decref(body);
    return events;
}


static const char *
string_at(const json_t *root, const char *pointer)
{
    return json_string_value(json_pointer_get(root, pointer));
}


static void
test_mapping_closed_case(void **state)
{
    struct case_mapping *mapping = mapping_load(mapping_config);
    json_t *events = events_of(mapping, closed_body);

    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(string_at(events, "/0/type"), "case.closed");
    assert_string_equal(string_at(events, "/0/time"),
                        "2026-02-10T16:30:00-05:00");
    assert_int_equal(strncmp(string_at(events, "/0/id"),
                             "7731/case.closed/2026-02-10T16:30:00-05:00/",
                             43), 0);
    assert_string_equal(string_at(events, "/0/profile/case_id"), "7731");
    assert_string_equal(string_at(events, "/0/profile/email"),
                        "ana@example.gov");
    assert_string_equal(string_at(events, "/0/profile/phone"),
                        "+13125550100");
    assert_string_equal(string_at(events, "/0/attributes/first_name"),
                        "Ana");
    assert_string_equal(string_at(events, "/0/properties/case/id"), "7731");
    assert_string_equal(string_at(events, "/0/properties/case/status"),
                        "decided");
    assert_string_equal(string_at(events, "/0/properties/case/type"),
                        "childcare");
    assert_string_equal(string_at(events, "/0/properties/case/outcome"),
                        "approved");
    assert_string_equal(string_at(events, "/0/properties/case/office"),
                        "North");
    assert_string_equal(string_at(events, "/0/properties/case/opened_at"),
                        "2026-01-05T09:00:00-05:00");
    assert_string_equal(string_at(events, "/0/properties/case/closed_at"),
                        "2026-02-10T16:30:00-05:00");
    assert_string_equal(string_at(events, "/0/properties/source_format"),
                        "mapping");
    json_decref(events);
    mapping_free(mapping);
}


/* An opening without an update time takes the opening time. */
static void
test_mapping_opened_case(void **state)
{
    struct case_mapping *mapping = mapping_load(mapping_config);
    json_t *events = events_of(mapping, "[{\"case\": {\"number\": \"A-1\", "
                               "\"state\": \"new\", \"filed_at\": "
                               "\"2026-01-05T09:00:00-05:00\"}}]");

    assert_string_equal(string_at(events, "/0/type"), "case.opened");
    assert_string_equal(string_at(events, "/0/time"),
                        "2026-01-05T09:00:00-05:00");
    assert_null(json_pointer_get(events, "/0/profile/email"));
    assert_null(json_pointer_get(events, "/0/attributes"));
    json_decref(events);
    mapping_free(mapping);
}


/* A body without a required value is rejected naming the pointer. */
static void
test_mapping_rejects_name_pointer(void **state)
{
    static const struct {
        const char *body;
        const char *field;
        const char *message;
        long index;
    } cases[] = {
        {"{\"case\": {\"state\": \"new\"}}", "/case/number", "is required",
         -1},
        {"{\"case\": {\"number\": \"A-1\"}}", "/case/state", "is required",
         -1},
        {"{\"case\": {\"number\": \"A-1\", \"state\": \"lost\"}}",
         "/case/state", "\"lost\" is not a status listed", -1},
        {"{\"case\": {\"number\": true, \"state\": \"new\"}}",
         "/case/number", "non-empty string or a whole number", -1},
        {"{\"case\": {\"number\": \"A-1\", \"state\": \"new\", "
         "\"modified_at\": \"yesterday\"}}", "/case/modified_at",
         "RFC 3339", -1},
        {"{\"case\": {\"number\": \"A-1\", \"state\": \"new\"}, "
         "\"applicant\": {\"email\": [1]}}", "/applicant/email",
         "non-empty string", -1},
        {"[{\"case\": {\"number\": \"A-1\", \"state\": \"new\"}}, 5]", "",
         "must be a JSON object", 1},
        {"[]", "", "holds no cases", -1},
        {"\"text\"", "", "object or array", -1},
    };
    struct case_mapping *mapping = mapping_load(mapping_config);

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *body = json_loads(cases[i].body, JSON_DECODE_ANY, NULL);
        struct crier_input_error err;
        json_t *events = NULL;

        assert_non_null(body);
        assert_int_equal(mapping_events_build(mapping, body, &events, &err),
                         CRIER_EINVAL);
        assert_null(events);
        assert_string_equal(err.field, cases[i].field);
        assert_int_equal(err.index, cases[i].index);
        if (strstr(err.message, cases[i].message) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].body,
                     err.message, cases[i].message);
        json_decref(body);
    }
    mapping_free(mapping);
}


static void
test_mapping_config_errors(void **state)
{
    static const struct {
        const char *config;
        const char *key;
        const char *message;
    } cases[] = {
        {"5", "mapping", "must be a group"},
        {"{\"status\": \"/s\", \"statuses\": {\"closed\": [\"x\"]}}",
         "mapping.id", "is required"},
        {"{\"id\": \"/i\", \"statuses\": {\"closed\": [\"x\"]}}",
         "mapping.status", "is required"},
        {"{\"id\": \"/i\", \"status\": \"/s\"}", "mapping.statuses",
         "is required"},
        {"{\"id\": \"case/number\", \"status\": \"/s\", "
         "\"statuses\": {\"closed\": [\"x\"]}}", "mapping.id",
         "start with '/'"},
        {"{\"id\": \"/i\", \"status\": 5, \"statuses\": {\"closed\": "
         "[\"x\"]}}", "mapping.status", "must be a JSON Pointer string"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"closed\": "
         "[\"x\"]}, \"email\": \"/a~2\"}", "mapping.email", "~0 and"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"done\": "
         "[\"x\"]}}", "mapping.statuses.done", "unknown setting"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"closed\": "
         "[]}}", "mapping.statuses.closed", "non-empty list"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"closed\": "
         "[\"x\", 3]}}", "mapping.statuses.closed", "entry 2"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"opened\": "
         "[\"x\"], \"closed\": [\"x\"]}}", "mapping.statuses.closed",
         "listed twice"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"closed\": "
         "[\"x\"]}, \"attributes\": {\"name\": \"n\"}}",
         "mapping.attributes.name", "start with '/'"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"closed\": "
         "[\"x\"]}, \"fields\": [\"/f\"]}", "mapping.fields",
         "name = pointer pairs"},
        {"{\"id\": \"/i\", \"status\": \"/s\", \"statuses\": {\"closed\": "
         "[\"x\"]}, \"person\": \"/p\"}", "mapping.person",
         "unknown setting"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *config = json_loads(cases[i].config, JSON_DECODE_ANY, NULL);
        struct case_mapping *mapping = NULL;

        assert_non_null(config);
        seen.config_key[0] = '\0';
        assert_int_equal(mapping_read(NULL, &fake_host, config, &mapping),
                         CRIER_ECONFIG);
        assert_null(mapping);
        assert_string_equal(seen.config_key, cases[i].key);
        if (strstr(seen.config_message, cases[i].message) == NULL)
            fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].config,
                     seen.config_message, cases[i].message);
        json_decref(config);
    }
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointer_rfc_examples),
        cmocka_unit_test(test_pointer_escape_order),
        cmocka_unit_test(test_pointer_names_nothing),
        cmocka_unit_test(test_pointer_check),
        cmocka_unit_test(test_mapping_closed_case),
        cmocka_unit_test(test_mapping_opened_case),
        cmocka_unit_test(test_mapping_rejects_name_pointer),
        cmocka_unit_test(test_mapping_config_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
