/*
 * Tests of the SMTP client's reply parser and command builders
 * (plugins/channels/email/smtp_reply.c), which do no I/O.
 */
#include "../../plugins/channels/email/smtp_reply.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>


/* Feeds `text` in pieces of `chunk` bytes and returns the number of
 * replies read into `out` (at most `max`), or -1 on a parse error. */
static int
replies_parse(const char *text, size_t chunk, struct smtp_reply *out,
              int max)
{
    struct smtp_parser parser;
    size_t len = strlen(text), offset = 0;
    int count = 0;

    smtp_parser_reset(&parser);
    while (offset < len) {
        size_t piece = len - offset < chunk ? len - offset : chunk;
        size_t used = 0;

        while (piece > 0) {
            enum smtp_parse_status status;

            status = smtp_reply_feed(&parser, text + offset, piece, &used,
                                     &out[count < max ? count : max - 1]);
            if (status == SMTP_PARSE_ERROR)
                return -1;
            if (status == SMTP_PARSE_REPLY)
                count++;
            offset += used;
            piece -= used;
        }
    }
    return count;
}


static void
test_reply_single_line(void **state)
{
    struct smtp_reply r[2];

    (void) state;
    assert_int_equal(replies_parse("250 2.1.0 Ok\r\n", 100, r, 2), 1);
    assert_int_equal(r[0].code, 250);
    assert_string_equal(r[0].text, "250 2.1.0 Ok");
}


static void
test_reply_code_only(void **state)
{
    struct smtp_reply r[2];

    (void) state;
    assert_int_equal(replies_parse("354\r\n", 100, r, 2), 1);
    assert_int_equal(r[0].code, 354);
    assert_string_equal(r[0].text, "354");
}


static void
test_reply_bare_lf(void **state)
{
    struct smtp_reply r[2];

    (void) state;
    assert_int_equal(replies_parse("421 closing\n", 100, r, 2), 1);
    assert_int_equal(r[0].code, 421);
    assert_string_equal(r[0].text, "421 closing");
}


static const char ehlo_reply[] =
    "250-mx.example.gov\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 10240000\r\n"
    "250-8BITMIME\r\n"
    "250-auth login\r\n"
    "250-STARTTLS\r\n"
    "250-ENHANCEDSTATUSCODES\r\n"
    "250 CHUNKING\r\n";


static void
test_reply_ehlo_extensions(void **state)
{
    struct smtp_reply r[2];
    unsigned want = SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
                    SMTP_EXT_AUTH_LOGIN | SMTP_EXT_STARTTLS |
                    SMTP_EXT_CHUNKING;

    (void) state;
    assert_int_equal(replies_parse(ehlo_reply, 1000, r, 2), 1);
    assert_int_equal(r[0].code, 250);
    assert_int_equal(r[0].extensions, want);
    assert_int_equal(r[0].size_max, 10240000);
    assert_string_equal(r[0].text, "250 CHUNKING");
}


/* The same reply one byte at a time gives the same result. */
static void
test_reply_byte_by_byte(void **state)
{
    struct smtp_reply r[2];

    (void) state;
    assert_int_equal(replies_parse(ehlo_reply, 1, r, 2), 1);
    assert_int_equal(r[0].extensions & SMTP_EXT_PIPELINING,
                     SMTP_EXT_PIPELINING);
    assert_int_equal(r[0].size_max, 10240000);
}


/* The greeting line names no extension even when it looks like one. */
static void
test_reply_first_line_not_extension(void **state)
{
    struct smtp_reply r[2];

    (void) state;
    assert_int_equal(replies_parse("250-PIPELINING\r\n250 8BITMIME\r\n",
                                   100, r, 2), 1);
    assert_int_equal(r[0].extensions, SMTP_EXT_8BITMIME);
}


static void
test_reply_auth_mechanisms(void **state)
{
    struct smtp_reply r[2];

    (void) state;
    assert_int_equal(replies_parse("250-x\r\n250-AUTH=LOGIN\r\n"
                                   "250 AUTH CRAM-MD5 PLAIN\r\n", 100, r, 2),
                     1);
    assert_int_equal(r[0].extensions,
                     SMTP_EXT_AUTH_LOGIN | SMTP_EXT_AUTH_PLAIN);
}


/* Pipelined replies that arrive in one read come out one by one. */
static void
test_reply_pipelined(void **state)
{
    struct smtp_reply r[4];

    (void) state;
    assert_int_equal(replies_parse("250 2.1.0 Ok\r\n"
                                   "550 5.1.1 <x@example.org>: no\r\n"
                                   "554 5.5.1 Error: no valid recipients\r\n",
                                   7, r, 4), 3);
    assert_int_equal(r[0].code, 250);
    assert_int_equal(r[1].code, 550);
    assert_string_equal(r[1].text, "550 5.1.1 <x@example.org>: no");
    assert_int_equal(r[2].code, 554);
}


static void
test_reply_errors(void **state)
{
    static const char *const bad[] = {
        "hello\r\n",
        "25 short\r\n",
        "250x no separator\r\n",
        "199 not a reply code\r\n",
        "600 not a reply code\r\n",
        "250-first\r\n251 other code\r\n",
        "\r\n",
    };
    struct smtp_reply r[2];

    (void) state;
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
        assert_int_equal(replies_parse(bad[i], 100, r, 2), -1);
}


/* A line longer than SMTP_LINE_MAX is cut, and the next one still
 * parses. */
static void
test_reply_long_line(void **state)
{
    GString *text = g_string_new("250-");
    struct smtp_reply r[2];

    (void) state;
    for (int i = 0; i < 3000; i++)
        g_string_append_c(text, 'x');
    g_string_append(text, "\r\n250 SIZE 100\r\n");
    assert_int_equal(replies_parse(text->str, 512, r, 2), 1);
    assert_int_equal(r[0].code, 250);
    assert_int_equal(r[0].extensions, SMTP_EXT_SIZE);
    assert_int_equal(r[0].size_max, 100);
    g_string_free(text, TRUE);
}


static void
test_envelope_pipelined(void **state)
{
    struct smtp_envelope env = {
        .from = "bounce+x@example.gov",
        .to = "ana@example.org",
        .size = 1234,
        .extensions = SMTP_EXT_PIPELINING | SMTP_EXT_SIZE,
    };
    GString *out = g_string_new(NULL);

    (void) state;
    assert_int_equal(smtp_envelope_append(out, &env, 1), 3);
    assert_string_equal(out->str,
                        "MAIL FROM:<bounce+x@example.gov> SIZE=1234\r\n"
                        "RCPT TO:<ana@example.org>\r\n"
                        "DATA\r\n");
    g_string_free(out, TRUE);
}


/* SIZE= carries every digit of the size, zero included. */
static void
test_envelope_size_digits(void **state)
{
    static const struct {
        size_t size;
        const char *line;
    } cases[] = {
        { 0, "MAIL FROM:<a@example.gov> SIZE=0\r\n" },
        { 7, "MAIL FROM:<a@example.gov> SIZE=7\r\n" },
        { 1000000, "MAIL FROM:<a@example.gov> SIZE=1000000\r\n" },
        { SIZE_MAX, NULL },
    };
    char max_line[64];

    (void) state;
    snprintf(max_line, sizeof(max_line), "MAIL FROM:<a@example.gov> "
             "SIZE=%zu\r\n", (size_t) SIZE_MAX);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct smtp_envelope env = {
            .from = "a@example.gov",
            .to = "b@example.org",
            .size = cases[i].size,
            .extensions = SMTP_EXT_SIZE,
        };
        GString *out = g_string_new(NULL);

        smtp_command_append(out, &env, SMTP_STEP_MAIL);
        assert_string_equal(out->str, cases[i].line ? cases[i].line
                                                    : max_line);
        g_string_free(out, TRUE);
    }
}


static void
test_envelope_one_by_one(void **state)
{
    struct smtp_envelope env = {
        .from = "a@example.gov",
        .to = "b@example.org",
        .eight_bit = 1,
        .extensions = SMTP_EXT_8BITMIME,
    };
    GString *out = g_string_new(NULL);

    (void) state;
    assert_int_equal(smtp_envelope_append(out, &env, 0), 1);
    assert_string_equal(out->str, "MAIL FROM:<a@example.gov> "
                        "BODY=8BITMIME\r\n");
    g_string_truncate(out, 0);
    smtp_command_append(out, &env, SMTP_STEP_RCPT);
    smtp_command_append(out, &env, SMTP_STEP_DATA);
    assert_string_equal(out->str, "RCPT TO:<b@example.org>\r\nDATA\r\n");
    g_string_free(out, TRUE);
}


static void
test_address_safe(void **state)
{
    (void) state;
    assert_true(smtp_address_is_safe("ana@example.org"));
    assert_true(smtp_address_is_safe("\"a b\"@example.org"));
    assert_false(smtp_address_is_safe("a@example.org>\r\nRCPT TO:<b"));
    assert_false(smtp_address_is_safe("a\n@example.org"));
    assert_false(smtp_address_is_safe("a<@example.org"));
}


static void
data_check(const char *message, const char *expected)
{
    GString *out = g_string_new(message);

    smtp_data_prepare(out);
    assert_string_equal(out->str, expected);
    g_string_free(out, TRUE);
}


static void
test_data_dot_stuffing(void **state)
{
    (void) state;
    data_check("Subject: x\r\n\r\n.\r\n..two\r\nmid.dot\r\n",
               "Subject: x\r\n\r\n..\r\n...two\r\nmid.dot\r\n.\r\n");
    data_check(".first\r\n", "..first\r\n.\r\n");
    data_check(".\r\n.\r\n.", "..\r\n..\r\n..\r\n.\r\n");
    data_check("a\r\n.", "a\r\n..\r\n.\r\n");
    data_check("no dots\r\n", "no dots\r\n.\r\n");
}


static void
test_data_final_crlf(void **state)
{
    (void) state;
    data_check("no line end", "no line end\r\n.\r\n");
    data_check("", "\r\n.\r\n");
}


static void
test_auth_plain(void **state)
{
    char *token = smtp_auth_plain("crier", "s3cret");

    (void) state;
    /* base64 of "\0crier\0s3cret" */
    assert_string_equal(token, "AGNyaWVyAHMzY3JldA==");
    g_free(token);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_single_line),
        cmocka_unit_test(test_reply_code_only),
        cmocka_unit_test(test_reply_bare_lf),
        cmocka_unit_test(test_reply_ehlo_extensions),
        cmocka_unit_test(test_reply_byte_by_byte),
        cmocka_unit_test(test_reply_first_line_not_extension),
        cmocka_unit_test(test_reply_auth_mechanisms),
        cmocka_unit_test(test_reply_pipelined),
        cmocka_unit_test(test_reply_errors),
        cmocka_unit_test(test_reply_long_line),
        cmocka_unit_test(test_envelope_pipelined),
        cmocka_unit_test(test_envelope_size_digits),
        cmocka_unit_test(test_envelope_one_by_one),
        cmocka_unit_test(test_address_safe),
        cmocka_unit_test(test_data_dot_stuffing),
        cmocka_unit_test(test_data_final_crlf),
        cmocka_unit_test(test_auth_plain),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
