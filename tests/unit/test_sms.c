/*
 * Tests of the SMS channel's pure parts: segment counting
 * (core/template/sms_segments.c), reply keywords, form decoding and
 * Twilio's signature (plugins/channels/sms/keyword.c) and E.164
 * (plugins/channels/sms/phone.c). The GOV.UK Notify vectors are read
 * from the shared data folder. The rows where crier differs by design
 * are listed in tests/data/sms/, each with the reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../plugins/channels/sms/keyword.c"
#include "../../plugins/channels/sms/phone.c"
#include "template/sms_segments.h"

#define VECTORS CRIER_SHARED_DIR "/data/sms/"
#define DIFFERENCES CRIER_SOURCE_DIR "/tests/data/sms/"


static json_t *
json_file(const char *path)
{
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);

    if (root == NULL)
        fail_msg("%s:%d: %s", path, error.line, error.text);
    return root;
}


static struct sms_segments
count(const char *text)
{
    struct sms_segments s;

    assert_int_equal(sms_segments_count(text, strlen(text), &s), 0);
    return s;
}


static char *
repeat(const char *piece, size_t times)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < times; i++)
        g_string_append(s, piece);
    return g_string_free(s, FALSE);
}


/* Counts `piece` repeated `times` and returns the parts. */
static size_t
parts_of_repeat(const char *piece, size_t times)
{
    char *text = repeat(piece, times);
    size_t parts = count(text).parts;

    g_free(text);
    return parts;
}


static void
segments_gsm7_boundaries(void **state)
{
    struct sms_segments s = count("Your request 14-00684314 is closed.");

    assert_int_equal(s.encoding, SMS_ENCODING_GSM7);
    assert_int_equal(s.units, 35);
    assert_int_equal(s.parts, 1);
    assert_int_equal(parts_of_repeat("a", 160), 1);
    assert_int_equal(parts_of_repeat("a", 161), 2);
    assert_int_equal(parts_of_repeat("a", 306), 2);
    assert_int_equal(parts_of_repeat("a", 307), 3);
    assert_int_equal(count("").parts, 0);
}


static void
segments_extension_counts_two(void **state)
{
    char *text = repeat("€", 80);
    struct sms_segments s = count(text);

    assert_int_equal(s.encoding, SMS_ENCODING_GSM7);
    assert_int_equal(s.units, 160);
    assert_int_equal(s.parts, 1);
    g_free(text);
    assert_int_equal(parts_of_repeat("{", 81), 2);
    assert_int_equal(count("a\fb").units, 4);
}


static void
segments_escape_not_split(void **state)
{
    /* 152 septets, then an escape pair that does not fit in the 153rd
     * septet: it moves whole to the second part, which then overflows. */
    char *a = repeat("a", 152);
    char *text = g_strdup_printf("%s[%s", a, a);
    struct sms_segments s = count(text);

    assert_int_equal(s.units, 306);
    assert_int_equal(s.parts, 3);
    assert_int_equal(s.units_last_part, 1);
    g_free(a);
    g_free(text);
}


static void
segments_ucs2_and_emoji(void **state)
{
    struct sms_segments s = count("Café ÿ");

    assert_int_equal(s.encoding, SMS_ENCODING_UCS2);
    assert_int_equal(s.units, 6);
    assert_int_equal(parts_of_repeat("ÿ", 70), 1);
    assert_int_equal(parts_of_repeat("ÿ", 71), 2);
    assert_int_equal(parts_of_repeat("ÿ", 134), 2);
    assert_int_equal(parts_of_repeat("ÿ", 135), 3);
    s = count("🚀");
    assert_int_equal(s.encoding, SMS_ENCODING_UCS2);
    assert_int_equal(s.units, 2);
    assert_int_equal(parts_of_repeat("🚀", 35), 1);
    assert_int_equal(parts_of_repeat("🚀", 36), 2);
    /* A tick is not GSM-7 either. */
    assert_int_equal(count("`").encoding, SMS_ENCODING_UCS2);
}


static void
segments_invalid_utf8(void **state)
{
    struct sms_segments s;

    assert_int_equal(sms_segments_count("\xff", 1, &s), -1);
}


/* Returns the row of `differences` whose `key` is `value`, or NULL. */
static json_t *
difference_find(json_t *differences, const char *key, const char *value)
{
    size_t i;
    json_t *row;

    json_array_foreach(differences, i, row) {
        if (g_strcmp0(json_string_value(json_object_get(row, key)),
                      value) == 0)
            return row;
    }
    return NULL;
}


/*
 * Every Notify row either agrees with crier, or is listed as a
 * difference whose recorded results both still hold, so the table can
 * neither hide a new disagreement nor keep a stale row.
 */
static void
segments_notify_vectors(void **state)
{
    json_t *vectors = json_file(VECTORS
                                "govuk_notify_sms_fragment_vectors.json");
    json_t *differences = json_file(DIFFERENCES "fragment_differences.json");
    size_t i, listed = 0, agreed = 0;
    json_t *v;

    json_array_foreach(json_object_get(vectors, "vectors"), i, v) {
        const char *text = json_string_value(json_object_get(
            v, "template_content"));
        const char *expr = json_string_value(json_object_get(
            v, "content_expr"));
        json_t *row = difference_find(differences, "content_expr", expr);
        struct sms_segments s = count(text);
        json_int_t notify, crier;

        if (json_object_get(v, "expected_non_gsm_characters") != NULL) {
            notify = json_array_size(json_object_get(
                v, "expected_non_gsm_characters")) == 0 ? SMS_ENCODING_GSM7
                                                         : SMS_ENCODING_UCS2;
            crier = s.encoding;
        } else {
            notify = json_integer_value(json_object_get(
                v, "expected_sms_fragment_count"));
            crier = (json_int_t) s.parts;
        }
        if (getenv("SMS_VECTORS_PRINT") != NULL && notify != crier)
            printf("DIFF %s notify=%lld crier=%lld\n", expr,
                   (long long) notify, (long long) crier);
        if (row == NULL) {
            if (notify != crier)
                fail_msg("%s: Notify %lld, crier %lld, and not listed",
                         expr, (long long) notify, (long long) crier);
            agreed++;
            continue;
        }
        listed++;
        assert_int_equal(json_integer_value(json_object_get(row, "notify")),
                         notify);
        assert_int_equal(json_integer_value(json_object_get(row, "crier")),
                         crier);
    }
    assert_int_equal(listed, json_array_size(differences));
    assert_true(agreed > listed);
    json_decref(vectors);
    json_decref(differences);
}


static void
keywords_opt_out(void **state)
{
    const char *stop[] = {
        "STOP", "stop", "  Stop\n", "STOP ALL", "stop all", "STOPALL",
        "UNSUBSCRIBE", "Cancel", "end", "QUIT", "\tquit \r\n",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(stop); i++)
        assert_int_equal(sms_keyword_parse(stop[i]), SMS_KEYWORD_STOP);
}


static void
keywords_opt_in_and_help(void **state)
{
    assert_int_equal(sms_keyword_parse("START"), SMS_KEYWORD_START);
    assert_int_equal(sms_keyword_parse(" unstop "), SMS_KEYWORD_START);
    assert_int_equal(sms_keyword_parse("Yes"), SMS_KEYWORD_START);
    assert_int_equal(sms_keyword_parse("help"), SMS_KEYWORD_HELP);
}


static void
keywords_ordinary_text(void **state)
{
    const char *text[] = {
        "Please stop the noise on Elm St", "STOP!", "STOP  ALL", "stop it",
        "", "   ", "HELP ME", "yes please", "S T O P",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(text); i++)
        assert_int_equal(sms_keyword_parse(text[i]), SMS_KEYWORD_NONE);
}


static void
form_decodes_fields(void **state)
{
    const char body[] = "From=%2B13125550100&Body=Stop+the+noise%21&Empty"
                        "&&To=%2B1312555";
    GPtrArray *fields = form_parse(body, strlen(body));

    assert_non_null(fields);
    assert_string_equal(form_get(fields, "From"), "+13125550100");
    assert_string_equal(form_get(fields, "Body"), "Stop the noise!");
    assert_string_equal(form_get(fields, "Empty"), "");
    assert_string_equal(form_get(fields, "To"), "+1312555");
    assert_null(form_get(fields, "MessageSid"));
    g_ptr_array_unref(fields);
    assert_null(form_parse("Body=%zz", 8));
    assert_null(form_parse("Body=%00", 8));
}


/* The example of Twilio's security documentation (token "12345"). */
static void
twilio_signature_example(void **state)
{
    const char body[] = "CallSid=CA1234567890ABCDE&Caller=%2B14158675310"
                        "&Digits=1234&From=%2B14158675310"
                        "&To=%2B18005551212";
    GPtrArray *fields = form_parse(body, strlen(body));
    char *sig = twilio_signature_compute(
        "12345", "https://mycompany.com/myapp.php?foo=1&bar=2", fields);

    assert_string_equal(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
    g_free(sig);
    sig = twilio_signature_compute(
        "12346", "https://mycompany.com/myapp.php?foo=1&bar=2", fields);
    assert_string_not_equal(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
    g_free(sig);
    g_ptr_array_unref(fields);
}


static void
phone_e164_forms(void **state)
{
    const struct phone_region *us = phone_region_find("us");
    char out[PHONE_E164_MAX + 1];

    assert_non_null(us);
    assert_int_equal(phone_to_e164("(312) 555-0100", us, out), PHONE_OK);
    assert_string_equal(out, "+13125550100");
    assert_int_equal(phone_to_e164("1 312 555 0100", us, out), PHONE_OK);
    assert_string_equal(out, "+13125550100");
    assert_int_equal(phone_to_e164("011 44 7723 456789", us, out),
                     PHONE_OK);
    assert_string_equal(out, "+447723456789");
    assert_int_equal(phone_to_e164("+1 312.555.0100", NULL, out), PHONE_OK);
    assert_string_equal(out, "+13125550100");
    assert_int_equal(phone_to_e164("3125550100", NULL, out), PHONE_INVALID);
    assert_int_equal(phone_to_e164("(012) 555-0100", us, out),
                     PHONE_INVALID);
    assert_int_equal(phone_to_e164("312 555 010", us, out),
                     PHONE_TOO_SHORT);
    assert_int_equal(phone_to_e164("+1 312 555 01000", NULL, out),
                     PHONE_TOO_LONG);
    assert_int_equal(phone_to_e164("+0 312 555 0100", NULL, out),
                     PHONE_INVALID);
    assert_int_equal(phone_to_e164("312-CALL-NOW", us, out),
                     PHONE_UNKNOWN_CHARACTER);
    assert_int_equal(phone_to_e164("+1 312 +555 0100", us, out),
                     PHONE_UNKNOWN_CHARACTER);
    assert_null(phone_region_find("XX"));
}


/* Notify's name for a result of phone_to_e164. */
static const char *
notify_code(enum phone_error e)
{
    switch (e) {
    case PHONE_OK:
        return "valid";
    case PHONE_TOO_LONG:
        return "TOO_LONG";
    case PHONE_UNKNOWN_CHARACTER:
        return "UNKNOWN_CHARACTER";
    case PHONE_TOO_SHORT:
    case PHONE_INVALID:
    default:
        return "INVALID_NUMBER";
    }
}


/* Checks one Notify row: `expected` is "valid" or Notify's error code. */
static void
phone_vector_check(json_t *differences, const char *input,
                   const char *expected, size_t *listed)
{
    const struct phone_region *gb = phone_region_find("GB");
    char out[PHONE_E164_MAX + 1];
    const char *crier = notify_code(phone_to_e164(input, gb, out));
    json_t *row = difference_find(differences, "input", input);

    if (getenv("SMS_VECTORS_PRINT") != NULL && strcmp(crier, expected) != 0)
        printf("DIFF %s notify=%s crier=%s\n", input, expected, crier);
    if (row == NULL) {
        if (strcmp(crier, expected) != 0)
            fail_msg("\"%s\": Notify %s, crier %s, and not listed", input,
                     expected, crier);
        return;
    }
    (*listed)++;
    assert_string_equal(json_string_value(json_object_get(row, "notify")),
                        expected);
    assert_string_equal(json_string_value(json_object_get(row, "crier")),
                        crier);
}


/*
 * Notify's recipient vectors, read with the UK as the default region.
 * The lists of mobile numbers only are left out, because crier does not
 * tell mobiles from landlines and accepts both.
 */
static void
phone_notify_vectors(void **state)
{
    static const char *const valid[] = {
        "valid_uk_mobile_phone_numbers", "valid_international_phone_numbers",
        "valid_channel_island_numbers", "valid_uk_landlines",
    };
    static const char *const invalid[] = {
        "invalid_uk_mobile_phone_numbers", "invalid_international_numbers",
    };
    json_t *vectors = json_file(VECTORS
                                "govuk_notify_recipient_vectors.json");
    json_t *phone = json_object_get(vectors, "phone");
    json_t *differences = json_file(DIFFERENCES
                                    "recipient_differences.json");
    size_t i, listed = 0;
    json_t *v;

    for (size_t k = 0; k < G_N_ELEMENTS(valid); k++) {
        json_array_foreach(json_object_get(phone, valid[k]), i, v)
            phone_vector_check(differences, json_string_value(v), "valid",
                               &listed);
    }
    for (size_t k = 0; k < G_N_ELEMENTS(invalid); k++) {
        json_array_foreach(json_object_get(phone, invalid[k]), i, v)
            phone_vector_check(differences, json_string_value(
                                   json_array_get(v, 0)),
                               json_string_value(json_array_get(v, 1)),
                               &listed);
    }
    json_array_foreach(json_object_get(phone, "invalid_uk_landlines"), i, v)
        phone_vector_check(differences, json_string_value(v),
                           "INVALID_NUMBER", &listed);
    /* A listed row may occur in two lists, so count at least once each. */
    assert_true(listed >= json_array_size(differences));
    json_decref(vectors);
    json_decref(differences);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segments_gsm7_boundaries),
        cmocka_unit_test(segments_extension_counts_two),
        cmocka_unit_test(segments_escape_not_split),
        cmocka_unit_test(segments_ucs2_and_emoji),
        cmocka_unit_test(segments_invalid_utf8),
        cmocka_unit_test(segments_notify_vectors),
        cmocka_unit_test(keywords_opt_out),
        cmocka_unit_test(keywords_opt_in_and_help),
        cmocka_unit_test(keywords_ordinary_text),
        cmocka_unit_test(form_decodes_fields),
        cmocka_unit_test(twilio_signature_example),
        cmocka_unit_test(phone_e164_forms),
        cmocka_unit_test(phone_notify_vectors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
