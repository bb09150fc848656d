/*
 * Tests of event_normalize in core/ingest/event.c: the event form of
 * docs/events.md. One table contains events that pass with their normalised
 * form, another contains events that fail with the field and the message
 * the sender gets back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "crier/error.h"
#include "ingest/ingest.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-01-01T00:00:00.250Z: the default time of every case. */
#define NOW_MS INT64_C(1767225600250)

/* 128 and 129 characters of the type alphabet. */
#define TYPE_128                                                           \
    "a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9"         \
    "a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9a.b_c:d-E9xxxxxxxx"
#define TYPE_129 TYPE_128 "y"

struct good_case {
    const char *in;
    const char *out;            /* the normalised event */
    int64_t time_ms;
};

struct bad_case {
    const char *in;
    const char *field;
    const char *message;
};


static json_t *
parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

    if (v == NULL)
        fail_msg("bad test JSON at %d:%d: %s: %s", jerr.line, jerr.column,
                 jerr.text, text);
    return v;
}


static void
expect_good(const struct good_case *c)
{
    struct crier_input_error err;
    struct normalized_event out;
    json_t *in = parse(c->in);
    json_t *before = json_deep_copy(in);
    json_t *expected = parse(c->out);
    json_t *id;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = event_normalize(in, NOW_MS, &out, &err);
    if (rc != 0)
        fail_msg("%s: rejected: %s: %s", c->in, err.field, err.message);
    if (!json_equal(out.event, expected)) {
        char *got = json_dumps(out.event, JSON_SORT_KEYS);

        print_error("in:  %s\ngot: %s\n", c->in, got);
        free(got);
    }
    assert_true(json_equal(out.event, expected));
    assert_int_equal(out.time_ms, c->time_ms);
    assert_string_equal(out.type,
                        json_string_value(json_object_get(expected,
                                                          "type")));
    id = json_object_get(expected, "id");
    if (id == NULL)
        assert_null(out.id);
    else
        assert_string_equal(out.id, json_string_value(id));

    /* The input is left as it was. */
    assert_true(json_equal(in, before));
    json_decref(out.event);
    json_decref(expected);
    json_decref(before);
    json_decref(in);
}


static void
expect_bad(const struct bad_case *c)
{
    struct crier_input_error err;
    struct normalized_event out;
    json_t *in = parse(c->in);
    int rc;

    memset(&err, 0, sizeof(err));
    err.index = 7;
    rc = event_normalize(in, NOW_MS, &out, &err);
    if (rc != CRIER_EINVAL || strcmp(err.field, c->field) != 0 ||
        strcmp(err.message, c->message) != 0)
        print_error("in: %s\ngot %d, field \"%s\": %s\n", c->in, rc,
                    err.field, err.message);
    assert_int_equal(rc, CRIER_EINVAL);
    assert_string_equal(err.field, c->field);
    assert_string_equal(err.message, c->message);
    assert_int_equal(err.index, 7);
    assert_null(out.event);
    assert_null(out.type);
    json_decref(in);
}


static void
event_minimal(void **state)
{
    static const struct good_case cases[] = {
        {"{\"type\": \"page_view\", \"visitor\": \"v-1\"}",
         "{\"type\": \"page_view\", \"time\": \"2026-01-01T00:00:00.250Z\","
         " \"visitor\": \"v-1\", \"properties\": {}}", NOW_MS},
        {"{\"type\": \"" TYPE_128 "\", \"visitor\": \"v\"}",
         "{\"type\": \"" TYPE_128 "\", \"visitor\": \"v\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_good(&cases[i]);
}


static void
event_time(void **state)
{
    static const struct good_case cases[] = {
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2014-07-29T14:11:58-05:00\"}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2014-07-29T19:11:58.000Z\", \"properties\": {}}",
         INT64_C(1406661118000)},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-03-01T09:30:00.5+01:00\"}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-03-01T08:30:00.500Z\", \"properties\": {}}",
         INT64_C(1772353800500)},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-01-01T00:00:00Z\"}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-01-01T00:00:00.000Z\", \"properties\": {}}",
         INT64_C(1767225600000)},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_good(&cases[i]);
}


static void
event_id(void **state)
{
    static const struct good_case cases[] = {
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": 42}",
         "{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"42\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": -9007199254740993}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"id\": \"-9007199254740993\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"e-1\"}",
         "{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"e-1\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_good(&cases[i]);
}


static void
event_profile(void **state)
{
    static const struct good_case cases[] = {
        {"{\"type\": \"t\", \"profile\": {\"email\": \"Ana@Example.GOV\"}}",
         "{\"type\": \"t\", \"profile\": {\"email\": \"ana@example.gov\"},"
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+1 (312) 555-0100\"}}",
         "{\"type\": \"t\", \"profile\": {\"phone\": \"+13125550100\"},"
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+44.20.7946.0958\"}}",
         "{\"type\": \"t\", \"profile\": {\"phone\": \"+442079460958\"},"
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        /* 15 digits is the longest E.164 number. */
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+123456789012345\"}}",
         "{\"type\": \"t\", \"profile\": {\"phone\": \"+123456789012345\"},"
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        {"{\"type\": \"t\", \"profile\": {\"case_id\": \"14-00684314\","
         " \"k9\": \"Mixed Case\"}, \"visitor\": \"v-3f9c2a\"}",
         "{\"type\": \"t\", \"profile\": {\"case_id\": \"14-00684314\","
         " \"k9\": \"Mixed Case\"}, \"visitor\": \"v-3f9c2a\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        /* An empty profile is dropped when a visitor id is given. */
        {"{\"type\": \"t\", \"profile\": {}, \"visitor\": \"v\"}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_good(&cases[i]);
}


/* The example of docs/events.md. */
static void
event_full(void **state)
{
    static const struct good_case c = {
        "{\"type\": \"case.closed\","
        " \"id\": \"14-00684314/case.closed/2014-07-29T14:11:58-05:00\","
        " \"time\": \"2014-07-29T14:11:58-05:00\","
        " \"profile\": {\"email\": \"ana@example.com\","
        "              \"case_id\": \"14-00684314\"},"
        " \"visitor\": \"v-3f9c2a\","
        " \"properties\": {\"case\": {\"id\": \"14-00684314\","
        "                            \"status\": \"closed\"}},"
        " \"attributes\": {\"first_name\": \"Ana\", \"nickname\": null}}",
        "{\"type\": \"case.closed\","
        " \"id\": \"14-00684314/case.closed/2014-07-29T14:11:58-05:00\","
        " \"time\": \"2014-07-29T19:11:58.000Z\","
        " \"profile\": {\"email\": \"ana@example.com\","
        "              \"case_id\": \"14-00684314\"},"
        " \"visitor\": \"v-3f9c2a\","
        " \"properties\": {\"case\": {\"id\": \"14-00684314\","
        "                            \"status\": \"closed\"}},"
        " \"attributes\": {\"first_name\": \"Ana\", \"nickname\": null}}",
        INT64_C(1406661118000),
    };

    expect_good(&c);
}


static void
reject_shape(void **state)
{
    static const struct bad_case cases[] = {
        {"[]", "", "an event must be a JSON object"},
        {"\"page_view\"", "", "an event must be a JSON object"},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"propertes\": {}}",
         "propertes", "propertes is not a field of an event"},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"seq\": 4}",
         "seq", "seq is not a field of an event"},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"properties\": \"x\"}",
         "properties", "properties must be an object"},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"properties\": null}",
         "properties", "properties must be an object"},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"attributes\": []}",
         "attributes", "attributes must be an object"},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


static void
reject_type(void **state)
{
    static const char charset[] =
        "type may hold only letters, digits, '.', '_', ':' and '-'";
    static const char length[] = "type must be 1 to 128 characters long";
    static const struct bad_case cases[] = {
        {"{\"visitor\": \"v\"}", "type", "type is required"},
        {"{\"type\": 5, \"visitor\": \"v\"}", "type",
         "type must be a string"},
        {"{\"type\": null, \"visitor\": \"v\"}", "type",
         "type must be a string"},
        {"{\"type\": \"\", \"visitor\": \"v\"}", "type", length},
        {"{\"type\": \"" TYPE_129 "\", \"visitor\": \"v\"}", "type",
         length},
        {"{\"type\": \"page view\", \"visitor\": \"v\"}", "type", charset},
        {"{\"type\": \"page/view\", \"visitor\": \"v\"}", "type", charset},
        {"{\"type\": \"caf\\u00e9\", \"visitor\": \"v\"}", "type", charset},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


static void
reject_time_and_id(void **state)
{
    static const char time_message[] =
        "time must be an RFC 3339 timestamp with an offset from "
        "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, such as "
        "2026-03-01T09:30:00Z";
    static const char id_message[] =
        "id must be a string of 1 to 256 characters or a whole number";
    static const struct bad_case cases[] = {
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-03-01T09:30:00\"}", "time", time_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"time\": \"2026-03-01\"}",
         "time", time_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"time\": 1767225600000}",
         "time", time_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"time\": \"yesterday\"}",
         "time", time_message},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"9999-12-31T23:59:59-14:00\"}", "time", time_message},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2016-06-15T10:00:61Z\"}", "time", time_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"\"}", "id",
         id_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": 1.5}", "id",
         id_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": true}", "id",
         id_message},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"id\": null}", "id",
         id_message},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


static void
reject_long_id(void **state)
{
    char text[512];
    char id[258];
    struct bad_case c = {
        text, "id",
        "id must be a string of 1 to 256 characters or a whole number",
    };
    struct good_case ok = {text, NULL, NOW_MS};
    char expected[512];

    memset(id, 'x', 256);
    id[256] = '\0';
    snprintf(text, sizeof(text),
             "{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"%s\"}", id);
    snprintf(expected, sizeof(expected),
             "{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"%s\","
             " \"time\": \"2026-01-01T00:00:00.250Z\","
             " \"properties\": {}}", id);
    ok.out = expected;
    expect_good(&ok);

    id[256] = 'x';
    id[257] = '\0';
    snprintf(text, sizeof(text),
             "{\"type\": \"t\", \"visitor\": \"v\", \"id\": \"%s\"}", id);
    expect_bad(&c);
}


/* Writes `count` copies of U+1F600, four bytes each in UTF-8. */
static char *
emoji_text(size_t count)
{
    char *text = malloc(count * 4 + 1);

    for (size_t i = 0; i < count; i++)
        memcpy(text + i * 4, "\xF0\x9F\x98\x80", 4);
    text[count * 4] = '\0';
    return text;
}


/* Runs event_normalize on a visitor event with `member` set to `count`
 * emoji and returns its result code. */
static int
normalize_emoji_member(const char *member, size_t count,
                       struct crier_input_error *err)
{
    struct normalized_event out;
    char *emoji = emoji_text(count);
    json_t *in = json_pack("{s:s,s:s}", "type", "t", "visitor", "v");
    int rc;

    if (strcmp(member, "profile.case_id") == 0)
        json_object_set_new(in, "profile",
                            json_pack("{s:s}", "case_id", emoji));
    else
        json_object_set_new(in, member, json_string(emoji));
    rc = event_normalize(in, NOW_MS, &out, err);
    if (rc == 0)
        json_decref(out.event);
    json_decref(in);
    free(emoji);
    return rc;
}


/* Length limits count characters: four-byte emoji up to the limit pass. */
static void
length_counts_characters(void **state)
{
    static const struct {
        const char *member;
        size_t max;
        const char *message;
    } cases[] = {
        {"visitor", 128, "visitor must be a string of 1 to 128 characters"},
        {"id", 256,
         "id must be a string of 1 to 256 characters or a whole number"},
        {"profile.case_id", 320,
         "profile.case_id must be a string of 1 to 320 characters"},
    };

    for (size_t i = 0; i < COUNT(cases); i++) {
        struct crier_input_error err;

        memset(&err, 0, sizeof(err));
        assert_int_equal(normalize_emoji_member(cases[i].member,
                                                cases[i].max, &err), 0);
        assert_int_equal(normalize_emoji_member(cases[i].member,
                                                cases[i].max + 1, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, cases[i].member);
        assert_string_equal(err.message, cases[i].message);
    }
}


/* A type of emoji is rejected for its characters, not its byte count. */
static void
reject_type_emoji(void **state)
{
    char *emoji = emoji_text(33);
    char text[256];
    struct bad_case c = {
        text, "type", "type may hold only letters, digits, '.', '_', ':' "
        "and '-'",
    };

    snprintf(text, sizeof(text), "{\"type\": \"%s\", \"visitor\": \"v\"}",
             emoji);
    expect_bad(&c);
    free(emoji);
}


/* Every reserved namespace is named, and the message is not cut. */
static void
reject_reserved_type(void **state)
{
    static const char message[] =
        "type is reserved for the events crier records itself: "
        "segment.*, profile.updated, profile.merged, journey.due, "
        "digest.due and date.*";
    static const struct bad_case cases[] = {
        {"{\"type\": \"date.x\", \"visitor\": \"v\"}", "type", message},
        {"{\"type\": \"segment.entered\", \"visitor\": \"v\"}", "type",
         message},
        {"{\"type\": \"profile.updated\", \"visitor\": \"v\"}", "type",
         message},
        {"{\"type\": \"profile.merged\", \"visitor\": \"v\"}", "type",
         message},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


static void
reject_profile(void **state)
{
    static const char email[] = "profile.email is not a valid email address";
    static const char phone[] =
        "profile.phone must be an E.164 number such as +13125550100";
    static const struct bad_case cases[] = {
        {"{\"type\": \"t\", \"profile\": \"ana@example.gov\"}", "profile",
         "profile must be an object of identities, such as "
         "{\"email\": \"ana@example.gov\"}"},
        {"{\"type\": \"t\", \"profile\": {\"email\": \"ana.example.gov\"}}",
         "profile.email", email},
        {"{\"type\": \"t\", \"profile\": {\"email\": \"@example.gov\"}}",
         "profile.email", email},
        {"{\"type\": \"t\", \"profile\": {\"email\": \"ana@\"}}",
         "profile.email", email},
        {"{\"type\": \"t\", \"profile\": {\"email\": \"ana@localhost\"}}",
         "profile.email", email},
        {"{\"type\": \"t\", \"profile\": {\"email\": \"an a@example.gov\"}}",
         "profile.email", email},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"3125550100\"}}",
         "profile.phone", phone},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+0 312 555 0100\"}}",
         "profile.phone", phone},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+1234567890123456\"}}",
         "profile.phone", phone},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+1 555 01\"}}",
         "profile.phone", phone},
        {"{\"type\": \"t\", \"profile\": {\"phone\": \"+1 312 CALL NOW\"}}",
         "profile.phone", phone},
        {"{\"type\": \"t\", \"profile\": {\"Email\": \"a@example.gov\"}}",
         "profile.Email", "profile.Email is not an identity kind: use "
         "lowercase letters, digits and '_'"},
        {"{\"type\": \"t\", \"profile\": {\"case-id\": \"1\"}}",
         "profile.case-id", "profile.case-id is not an identity kind: use "
         "lowercase letters, digits and '_'"},
        {"{\"type\": \"t\", \"profile\": {\"9lives\": \"1\"}}",
         "profile.9lives", "profile.9lives is not an identity kind: use "
         "lowercase letters, digits and '_'"},
        {"{\"type\": \"t\", \"profile\": {\"case_id\": 14}}",
         "profile.case_id", "profile.case_id must be a string of 1 to 320 "
         "characters"},
        {"{\"type\": \"t\", \"profile\": {\"case_id\": \"\"}}",
         "profile.case_id", "profile.case_id must be a string of 1 to 320 "
         "characters"},
        /* The first bad identity is reported, after good ones. */
        {"{\"type\": \"t\", \"profile\": {\"email\": \"a@example.gov\","
         " \"phone\": \"911\"}}", "profile.phone", phone},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


static void
reject_no_identity(void **state)
{
    static const char missing[] =
        "profile is missing: an event needs profile identities or a "
        "visitor id";
    static const char visitor[] =
        "visitor must be a string of 1 to 128 characters";
    static const struct bad_case cases[] = {
        {"{\"type\": \"t\"}", "profile", missing},
        {"{\"type\": \"t\", \"profile\": {}}", "profile", missing},
        {"{\"type\": \"t\", \"properties\": {}}", "profile", missing},
        {"{\"type\": \"t\", \"visitor\": \"\"}", "visitor", visitor},
        {"{\"type\": \"t\", \"visitor\": 5}", "visitor", visitor},
        {"{\"type\": \"t\", \"visitor\": null}", "visitor", visitor},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


static void
event_consent(void **state)
{
    static const struct good_case cases[] = {
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"email\": \"revoked\", \"sms\": \"granted\","
         "               \"webhook\": \"granted\", \"push_2\": \"revoked\"}}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"email\": \"revoked\", \"sms\": \"granted\","
         "               \"webhook\": \"granted\", \"push_2\": \"revoked\"},"
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
        /* An empty object changes nothing and is dropped. */
        {"{\"type\": \"t\", \"visitor\": \"v\", \"consent\": {}}",
         "{\"type\": \"t\", \"visitor\": \"v\","
         " \"time\": \"2026-01-01T00:00:00.250Z\", \"properties\": {}}",
         NOW_MS},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_good(&cases[i]);
}


static void
reject_consent(void **state)
{
#define STATE " must be \"granted\" or \"revoked\""
#define KIND " is not a channel kind: use lowercase letters, digits and '_'"
    static const char shape[] = "consent must be an object of channel "
        "kind to state, such as {\"email\": \"revoked\"}";
    static const struct bad_case cases[] = {
        {"{\"type\": \"t\", \"visitor\": \"v\", \"consent\": [\"email\"]}",
         "consent", shape},
        {"{\"type\": \"t\", \"visitor\": \"v\", \"consent\": null}",
         "consent", shape},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"email\": \"yes\"}}",
         "consent.email", "consent.email" STATE},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"sms\": \"Granted\"}}",
         "consent.sms", "consent.sms" STATE},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"sms\": true}}",
         "consent.sms", "consent.sms" STATE},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"email\": null}}",
         "consent.email", "consent.email" STATE},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"Email\": \"revoked\"}}",
         "consent.Email", "consent.Email" KIND},
        {"{\"type\": \"t\", \"visitor\": \"v\","
         " \"consent\": {\"e-mail\": \"revoked\"}}",
         "consent.e-mail", "consent.e-mail" KIND},
    };
#undef STATE
#undef KIND

    for (size_t i = 0; i < COUNT(cases); i++)
        expect_bad(&cases[i]);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_minimal),
        cmocka_unit_test(event_time),
        cmocka_unit_test(event_id),
        cmocka_unit_test(event_profile),
        cmocka_unit_test(event_full),
        cmocka_unit_test(reject_shape),
        cmocka_unit_test(reject_type),
        cmocka_unit_test(reject_time_and_id),
        cmocka_unit_test(reject_long_id),
        cmocka_unit_test(length_counts_characters),
        cmocka_unit_test(reject_type_emoji),
        cmocka_unit_test(reject_reserved_type),
        cmocka_unit_test(reject_profile),
        cmocka_unit_test(reject_no_identity),
        cmocka_unit_test(event_consent),
        cmocka_unit_test(reject_consent),
    };

    return cmocka_run_group_tests_name("event_normalize", tests, NULL,
                                       NULL);
}
