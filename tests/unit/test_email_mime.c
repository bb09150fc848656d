/*
 * Tests of the email channel's message builder. The source is included so
 * that its file-local helpers are in reach. The decoders below are the
 * test's own, written from RFC 2045 and RFC 2047, not taken from mime.c.
 */
#include "../../plugins/channels/email/mime.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MESSAGE_ID "<0f3c9a1b2d4e5f60718293a4b5c6d7e8@notify.example.gov>"
#define DATE_MS INT64_C(1736258580000)

static struct mime_address from_city = {
    .name = "City of Example",
    .address = "alerts@example.gov",
};


/* Decodes quoted-printable, turning CRLF into "\n". */
static char *
qp_decode(const char *in)
{
    GString *out = g_string_new(NULL);

    for (const char *p = in; *p != '\0'; p++) {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 2;
        } else if (p[0] == '=' && g_ascii_isxdigit(p[1]) &&
                   g_ascii_isxdigit(p[2])) {
            g_string_append_c(out, (char) (g_ascii_xdigit_value(p[1]) * 16 +
                                           g_ascii_xdigit_value(p[2])));
            p += 2;
        } else if (p[0] == '\r' && p[1] == '\n') {
            g_string_append_c(out, '\n');
            p++;
        } else {
            g_string_append_c(out, *p);
        }
    }
    return g_string_free(out, FALSE);
}


/* Returns the longest line of `text`, lines ending in CRLF. */
static size_t
line_max(const char *text)
{
    size_t max = 0;

    while (*text != '\0') {
        const char *end = strstr(text, "\r\n");
        size_t len = end ? (size_t) (end - text) : strlen(text);

        if (len > max)
            max = len;
        text += len + (end ? 2 : 0);
    }
    return max;
}


/* Returns nonzero when every CR is followed by LF and every LF follows
 * a CR. */
static int
crlf_only(const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\r' && p[1] != '\n')
            return 0;
        if (*p == '\n' && (p == text || p[-1] != '\r'))
            return 0;
    }
    return 1;
}


/* Returns the body of the header `name` in `message`, unfolded, or
 * NULL. Only the header section is searched. */
static char *
header_get(const char *message, const char *name)
{
    const char *end = strstr(message, "\r\n\r\n");
    size_t name_len = strlen(name);
    const char *p = message;
    GString *value;

    if (end == NULL)
        end = message + strlen(message);
    while (p < end) {
        if (g_ascii_strncasecmp(p, name, name_len) == 0 &&
            p[name_len] == ':')
            break;
        p = strstr(p, "\r\n") + 2;
    }
    if (p >= end)
        return NULL;
    p += name_len + 1;
    if (*p == ' ')
        p++;
    value = g_string_new(NULL);
    for (;;) {
        if (p[0] == '\r' && p[1] == '\n') {
            if (p[2] != ' ' && p[2] != '\t')
                break;
            p += 2;
            continue;
        }
        g_string_append_c(value, *p++);
    }
    return g_string_free(value, FALSE);
}


/* Decodes one encoded word at `p` into `out` and returns its length, or
 * 0 when `p` does not start one. */
static size_t
word_decode(const char *p, GString *out)
{
    const char *text, *end;
    char encoding;

    if (g_ascii_strncasecmp(p, "=?UTF-8?", 8) != 0)
        return 0;
    encoding = g_ascii_toupper(p[8]);
    if ((encoding != 'Q' && encoding != 'B') || p[9] != '?')
        return 0;
    text = p + 10;
    end = strstr(text, "?=");
    if (end == NULL)
        return 0;

    if (encoding == 'B') {
        char *b64 = g_strndup(text, (size_t) (end - text));
        gsize len;
        guchar *raw = g_base64_decode(b64, &len);

        g_string_append_len(out, (const char *) raw, (gssize) len);
        g_free(raw);
        g_free(b64);
    } else {
        for (const char *q = text; q < end; q++) {
            if (*q == '_') {
                g_string_append_c(out, ' ');
            } else if (*q == '=' && q + 2 < end) {
                g_string_append_c(out, (char) (g_ascii_xdigit_value(q[1]) *
                                               16 +
                                               g_ascii_xdigit_value(q[2])));
                q += 2;
            } else {
                g_string_append_c(out, *q);
            }
        }
    }
    return (size_t) (end + 2 - p);
}


/* Decodes an unfolded header body with encoded words (RFC 2047). Space
 * between two adjacent encoded words is not part of the text. */
static char *
header_decode(const char *value)
{
    GString *out = g_string_new(NULL);
    GString *scratch = g_string_new(NULL);
    const char *p = value;
    int after_word = 0;

    while (*p != '\0') {
        size_t spaces = strspn(p, " \t");
        size_t n;

        if (spaces > 0) {
            g_string_truncate(scratch, 0);
            if (!after_word || word_decode(p + spaces, scratch) == 0)
                g_string_append_len(out, p, (gssize) spaces);
            p += spaces;
            continue;
        }
        n = word_decode(p, out);
        after_word = n > 0;
        if (n == 0) {
            n = strcspn(p, " \t");
            g_string_append_len(out, p, (gssize) n);
        }
        p += n;
    }
    g_string_free(scratch, TRUE);
    return g_string_free(out, FALSE);
}


/*
 * Checks every encoded word in `header`, which may be folded: at most
 * MIME_WORD_MAX characters, and whole UTF-8 characters on its own.
 * Returns how many there were.
 */
static int
words_check(const char *header)
{
    int words = 0;

    for (const char *p = strstr(header, "=?"); p != NULL;
         p = strstr(p, "=?")) {
        GString *text = g_string_new(NULL);
        size_t n = word_decode(p, text);

        assert_true(n > 0);
        assert_true(n <= MIME_WORD_MAX);
        assert_true(g_utf8_validate(text->str, (gssize) text->len, NULL));
        g_string_free(text, TRUE);
        p += n;
        words++;
    }
    return words;
}


static char *
subject_written(const char *subject)
{
    GString *out = g_string_new(NULL);

    assert_int_equal(mime_header_append(out, "Subject", subject), 0);
    return g_string_free(out, FALSE);
}


/* Writes `subject`, checks the form of the lines and returns the decoded
 * value. */
static char *
subject_round_trip(const char *subject, int *words)
{
    char *raw = subject_written(subject);
    char *value, *decoded;

    assert_true(crlf_only(raw));
    assert_true(line_max(raw) <= MIME_LINE_MAX);
    *words = words_check(raw);
    value = header_get(raw, "Subject");
    assert_non_null(value);
    decoded = header_decode(value);
    g_free(value);
    g_free(raw);
    return decoded;
}


static struct crier_message
message_make(const char *subject, const char *text, const char *html)
{
    struct crier_message msg = {
        .size = sizeof(struct crier_message),
        .job_id = 7,
        .attempt = 1,
        .key = "rule:recall-cribs:profile:42",
        .message_id = MESSAGE_ID,
        .rule = "recall-cribs",
        .to = "resident@example.org",
        .subject = subject,
        .text = text,
        .html = html,
    };

    return msg;
}


static char *
message_built(const struct crier_message *msg,
              const struct mime_address *reply_to)
{
    struct mime_envelope envelope = {
        .from = &from_city,
        .reply_to = reply_to,
        .date_ms = DATE_MS,
    };
    const char *reason = NULL;
    GString *out = g_string_new(NULL);

    assert_int_equal(mime_message_build(out, msg, &envelope, &reason), 0);
    return g_string_free(out, FALSE);
}


/* Returns the part between two delimiters, from after `start`. */
static char *
part_between(const char *start, const char *boundary)
{
    char *delimiter = g_strdup_printf("\r\n--%s", boundary);
    const char *end = strstr(start, delimiter);
    char *part = end ? g_strndup(start, (size_t) (end - start)) : NULL;

    g_free(delimiter);
    return part;
}


/* Returns the decoded body of a part or message: after the blank line. */
static char *
body_decoded(const char *entity)
{
    const char *body = strstr(entity, "\r\n\r\n");

    assert_non_null(body);
    return qp_decode(body + 4);
}


static void
test_address_valid(void **state)
{
    char long_local[80], long_total[300];

    memset(long_local, 'a', 65);
    strcpy(long_local + 65, "@example.org");
    memset(long_total, 'a', 60);
    long_total[60] = '@';
    for (int i = 61; i < 255; i += 2) {
        long_total[i] = 'b';
        long_total[i + 1] = '.';
    }
    strcpy(long_total + 255, "org");

    assert_true(mime_address_valid("a@b.co"));
    assert_true(mime_address_valid("first.last+tag@sub.example.gov"));
    assert_false(mime_address_valid(""));
    assert_false(mime_address_valid("resident"));
    assert_false(mime_address_valid("@example.org"));
    assert_false(mime_address_valid("resident@"));
    assert_false(mime_address_valid("resident@localhost"));
    assert_false(mime_address_valid("a@@example.org"));
    assert_false(mime_address_valid("a@b@example.org"));
    assert_false(mime_address_valid("a b@example.org"));
    assert_false(mime_address_valid("a@.example.org"));
    assert_false(mime_address_valid("a@example.org."));
    assert_false(mime_address_valid("a@example..org"));
    assert_false(mime_address_valid("<a@example.org>"));
    assert_false(mime_address_valid("a@example.org\r\nBcc: x@y.z"));
    assert_false(mime_address_valid("a,b@example.org"));
    assert_false(mime_address_valid("r\xc3\xa9sident@example.org"));
    assert_false(mime_address_valid(long_local));
    assert_false(mime_address_valid(long_total));
}


static void
test_address_parse(void **state)
{
    struct mime_address a;
    const char *reason = NULL;

    assert_int_equal(mime_address_parse("City of Example "
                                        "<alerts@example.gov>", &a,
                                        &reason), 0);
    assert_string_equal(a.name, "City of Example");
    assert_string_equal(a.address, "alerts@example.gov");
    mime_address_clear(&a);

    assert_int_equal(mime_address_parse("  \"Example, City of\"   "
                                        "<alerts@example.gov>  ", &a,
                                        &reason), 0);
    assert_string_equal(a.name, "Example, City of");
    mime_address_clear(&a);

    assert_int_equal(mime_address_parse("\"The \\\"Desk\\\"\" <d@ex.org>",
                                        &a, &reason), 0);
    assert_string_equal(a.name, "The \"Desk\"");
    mime_address_clear(&a);

    assert_int_equal(mime_address_parse("<alerts@example.gov>", &a,
                                        &reason), 0);
    assert_null(a.name);
    assert_string_equal(a.address, "alerts@example.gov");
    mime_address_clear(&a);

    assert_int_equal(mime_address_parse("alerts@example.gov", &a, &reason),
                     0);
    assert_null(a.name);
    mime_address_clear(&a);
}


static void
test_address_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "City of Example",
        "City <alerts>",
        "City alerts@example.gov>",
        "\"City <alerts@example.gov>",
        "Ci\"ty <alerts@example.gov>",
        "City <alerts@example.gov>\r\nBcc: x@example.org",
        "City <a@example.gov> <b@example.gov>",
        "\xff\xfe <alerts@example.gov>",
    };
    struct mime_address a;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        const char *reason = NULL;

        if (mime_address_parse(bad[i], &a, &reason) != CRIER_EINVAL)
            fail_msg("case %zu accepted", i);
        assert_non_null(reason);
        assert_null(a.name);
        assert_null(a.address);
    }
}


static void
test_date_format(void **state)
{
    char buf[64];

    mime_date_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 +0000");
    mime_date_format(DATE_MS, buf, sizeof(buf));
    assert_string_equal(buf, "Tue, 07 Jan 2025 14:03:00 +0000");
    mime_date_format(DATE_MS + 999, buf, sizeof(buf));
    assert_string_equal(buf, "Tue, 07 Jan 2025 14:03:00 +0000");
}


static void
test_subject_ascii(void **state)
{
    char *raw = subject_written("Your 311 request is closed");

    assert_string_equal(raw, "Subject: Your 311 request is closed\r\n");
    g_free(raw);
    raw = subject_written("");
    assert_string_equal(raw, "Subject: \r\n");
    g_free(raw);
}


static void
test_subject_utf8(void **state)
{
    static const char subject[] =
        "R\xc3\xa9sum\xc3\xa9 of your 311 request \xe2\x80\x93 "
        "closed \xe2\x9c\x93";
    char *raw = subject_written(subject);
    char *decoded;
    int words;

    assert_non_null(strstr(raw, "=?UTF-8?"));
    for (const char *p = raw; *p != '\0'; p++)
        assert_true((unsigned char) *p < 0x80);
    g_free(raw);

    decoded = subject_round_trip(subject, &words);
    assert_string_equal(decoded, subject);
    assert_true(words >= 1);
    g_free(decoded);
}


/* Mostly non-ASCII text takes B encoding; no word splits a character. */
static void
test_subject_utf8_long(void **state)
{
    GString *subject = g_string_new(NULL);
    char *raw, *decoded;
    int words;

    for (int i = 0; i < 40; i++)
        g_string_append(subject, "\xce\x91\xce\xb8\xce\xae\xce\xbd\xce\xb1 "
                        "\xe2\x9c\x93\xf0\x9f\x93\xac");
    raw = subject_written(subject->str);
    assert_non_null(strstr(raw, "=?UTF-8?B?"));
    assert_null(strstr(raw, "=?UTF-8?Q?"));
    g_free(raw);

    decoded = subject_round_trip(subject->str, &words);
    assert_string_equal(decoded, subject->str);
    assert_true(words > 5);
    g_free(decoded);
    g_string_free(subject, TRUE);
}


static void
test_subject_ascii_folds(void **state)
{
    GString *subject = g_string_new("Reminder:");
    char *raw, *decoded;
    int words;

    for (int i = 0; i < 30; i++)
        g_string_append_printf(subject, " inspection%d", i);
    raw = subject_written(subject->str);
    assert_non_null(strstr(raw, "\r\n "));
    assert_null(strstr(raw, "=?"));
    g_free(raw);

    decoded = subject_round_trip(subject->str, &words);
    assert_string_equal(decoded, subject->str);
    assert_int_equal(words, 0);
    g_free(decoded);
    g_string_free(subject, TRUE);
}


/* Text that plain words cannot carry is encoded: a word longer than a
 * line, doubled or edge spaces, a tab, and "=?" that looks encoded. */
static void
test_subject_ascii_encoded(void **state)
{
    char long_word[121];
    const char *cases[] = {
        long_word,
        "two  spaces",
        " leading space",
        "trailing space ",
        "tab\there",
        "=?UTF-8?Q?not_encoded?=",
    };

    memset(long_word, 'x', 120);
    long_word[120] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *decoded;
        int words;

        decoded = subject_round_trip(cases[i], &words);
        assert_string_equal(decoded, cases[i]);
        if (words == 0)
            fail_msg("case %zu written without encoded words", i);
        g_free(decoded);
    }
}


static void
test_subject_rejects_crlf(void **state)
{
    GString *out = g_string_new("kept");

    assert_int_equal(mime_header_append(out, "Subject", "a\r\nBcc: x@y.z"),
                     CRIER_EINVAL);
    assert_int_equal(mime_header_append(out, "Subject", "a\nb"),
                     CRIER_EINVAL);
    assert_int_equal(mime_header_append(out, "Subject", "a\rb"),
                     CRIER_EINVAL);
    assert_int_equal(mime_header_append(out, "Subject", "bad \xc3("),
                     CRIER_EINVAL);
    assert_string_equal(out->str, "kept");
    g_string_free(out, TRUE);
}


static void
test_from_header(void **state)
{
    struct mime_address comma = { "Example, City of", "a@example.gov" };
    struct mime_address bare = { NULL, "a@example.gov" };
    struct mime_address accented = { "Ville de Qu\xc3\xa9""bec",
                                     "avis@quebec.example" };
    GString *out = g_string_new(NULL);
    char *value, *decoded;

    mime_address_header_append(out, "From", &from_city);
    assert_string_equal(out->str, "From: City of Example "
                        "<alerts@example.gov>\r\n");
    g_string_truncate(out, 0);
    mime_address_header_append(out, "From", &comma);
    assert_string_equal(out->str, "From: \"Example, City of\" "
                        "<a@example.gov>\r\n");
    g_string_truncate(out, 0);
    mime_address_header_append(out, "From", &bare);
    assert_string_equal(out->str, "From: <a@example.gov>\r\n");
    g_string_truncate(out, 0);

    assert_int_equal(mime_address_header_append(out, "From", &accented), 0);
    assert_non_null(strstr(out->str, "=?UTF-8?"));
    value = header_get(out->str, "From");
    decoded = header_decode(value);
    assert_string_equal(decoded, "Ville de Qu\xc3\xa9""bec "
                        "<avis@quebec.example>");
    g_free(decoded);
    g_free(value);
    g_string_free(out, TRUE);
}


static void
test_from_header_long_name(void **state)
{
    struct mime_address office = {
        "D\xc3\xa9partement des travaux publics et de l'environnement de "
        "la Ville de Qu\xc3\xa9""bec, bureau des avis",
        "avis@quebec.example",
    };
    GString *out = g_string_new(NULL);
    char *value, *decoded, *expected;

    assert_int_equal(mime_address_header_append(out, "From", &office), 0);
    assert_true(line_max(out->str) <= MIME_LINE_MAX);
    assert_true(words_check(out->str) >= 2);
    value = header_get(out->str, "From");
    decoded = header_decode(value);
    expected = g_strdup_printf("%s <%s>", office.name, office.address);
    assert_string_equal(decoded, expected);
    g_free(expected);
    g_free(decoded);
    g_free(value);
    g_string_free(out, TRUE);
}


static char *
qp_written(const char *text)
{
    GString *out = g_string_new(NULL);

    mime_qp_append(out, text, strlen(text));
    return g_string_free(out, FALSE);
}


static void
test_qp_literals(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "plain text", "plain text" },
        { "a=b", "a=3Db" },
        { "caf\xc3\xa9", "caf=C3=A9" },
        { "end  \nnext\t\nlast ", "end =20\r\nnext=09\r\nlast=20" },
        { "a\r\nb\nc\n", "a\r\nb\r\nc\r\n" },
        { "lone\rcr", "lone=0Dcr" },
        { "From the city\nFrom", "=46rom the city\r\nFrom" },
        { "", "" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *out = qp_written(cases[i].in);

        assert_string_equal(out, cases[i].out);
        g_free(out);
    }
}


/* A line of exactly MIME_QP_LINE_MAX characters needs no soft break;
 * one more character does. */
static void
test_qp_line_limits(void **state)
{
    char line[MIME_QP_LINE_MAX + 2];
    char *out;

    memset(line, 'a', MIME_QP_LINE_MAX);
    line[MIME_QP_LINE_MAX] = '\0';
    out = qp_written(line);
    assert_string_equal(out, line);
    g_free(out);

    line[MIME_QP_LINE_MAX] = 'b';
    line[MIME_QP_LINE_MAX + 1] = '\0';
    out = qp_written(line);
    assert_int_equal(strlen(out), MIME_QP_LINE_MAX + 1 + 3);
    assert_memory_equal(out + MIME_QP_LINE_MAX - 1, "=\r\nab", 5);
    g_free(out);
}


/* Long lines of every kind decode back, no line passes the limit, and
 * no "=XX" is cut by a soft break. */
static void
test_qp_round_trip(void **state)
{
    GString *eq = g_string_new(NULL), *mixed = g_string_new(NULL);
    GString *spaces = g_string_new(NULL);
    const char *cases[4];

    for (int i = 0; i < 100; i++) {
        g_string_append_c(eq, '=');
        g_string_append(mixed, i % 3 ? "r\xc3\xa9sum\xc3\xa9 " : "a=b\t");
        g_string_append_c(spaces, ' ');
    }
    g_string_append(spaces, "\nnext");
    cases[0] = eq->str;
    cases[1] = mixed->str;
    cases[2] = spaces->str;
    cases[3] = "Line one\nFrom here on\n\n. a dot\n";

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *out = qp_written(cases[i]);
        char *decoded = qp_decode(out);

        assert_true(line_max(out) <= MIME_QP_LINE_MAX);
        assert_true(crlf_only(out));
        assert_string_equal(decoded, cases[i]);
        for (const char *p = strchr(out, '='); p != NULL;
             p = strchr(p + 1, '='))
            assert_true((p[1] == '\r' && p[2] == '\n') ||
                        (g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])));
        for (const char *p = strstr(out, " \r\n"); p != NULL;
             p = strstr(p + 1, " \r\n"))
            fail_msg("trailing space before a line break");
        g_free(decoded);
        g_free(out);
    }
    g_string_free(eq, TRUE);
    g_string_free(mixed, TRUE);
    g_string_free(spaces, TRUE);
}


static void
test_message_text_only(void **state)
{
    struct crier_message msg = message_make("Your request is closed",
                                            "Hello,\nyour request 311-42 "
                                            "is closed.\n", NULL);
    char *out = message_built(&msg, NULL);
    char *value, *body;

    assert_true(crlf_only(out));
    assert_true(line_max(out) <= MIME_LINE_MAX);

#define HEADER_IS(name, expected)                                           \
    do {                                                                    \
        value = header_get(out, name);                                      \
        assert_non_null(value);                                             \
        assert_string_equal(value, expected);                               \
        g_free(value);                                                      \
    } while (0)
    HEADER_IS("Date", "Tue, 07 Jan 2025 14:03:00 +0000");
    HEADER_IS("From", "City of Example <alerts@example.gov>");
    HEADER_IS("To", "resident@example.org");
    HEADER_IS("Subject", "Your request is closed");
    HEADER_IS("Message-ID", MESSAGE_ID);
    HEADER_IS("MIME-Version", "1.0");
    HEADER_IS("Auto-Submitted", "auto-generated");
    HEADER_IS("X-Crier-Rule", "recall-cribs");
    HEADER_IS("Content-Type", "text/plain; charset=utf-8");
    HEADER_IS("Content-Transfer-Encoding", "quoted-printable");
#undef HEADER_IS
    assert_null(header_get(out, "Reply-To"));
    assert_null(strstr(out, "multipart"));

    body = body_decoded(out);
    assert_string_equal(body, msg.text);
    g_free(body);
    g_free(out);
}


static void
test_message_reply_to(void **state)
{
    struct mime_address desk = { "Help Desk", "help@example.gov" };
    struct crier_message msg = message_make("Closed", "Closed.", NULL);
    char *out = message_built(&msg, &desk);
    char *value = header_get(out, "Reply-To");

    assert_non_null(value);
    assert_string_equal(value, "Help Desk <help@example.gov>");
    assert_true(out[strlen(out) - 2] == '\r');
    assert_true(out[strlen(out) - 1] == '\n');
    g_free(value);
    g_free(out);
}


static void
test_message_multipart(void **state)
{
    static const char html[] =
        "<p>Your request is <b>closed</b> &#10003;</p>\n";
    struct crier_message msg = message_make("Closed", "Your request is "
                                            "closed \xe2\x9c\x93\n", html);
    char *out = message_built(&msg, NULL);
    char boundary[64], *expected, *value, *text, *part, *decoded;
    const char *p;

    mime_boundary_format(MESSAGE_ID, boundary, sizeof(boundary));
    expected = g_strdup_printf("multipart/alternative; boundary=\"%s\"",
                               boundary);
    value = header_get(out, "Content-Type");
    assert_string_equal(value, expected);
    g_free(value);
    g_free(expected);
    assert_true(crlf_only(out));
    assert_true(line_max(out) <= MIME_LINE_MAX);

    /* The text part comes first, then the HTML part, then the end. */
    expected = g_strdup_printf("\r\n--%s\r\n", boundary);
    p = strstr(out, expected);
    assert_non_null(p);
    text = part_between(p + strlen(expected), boundary);
    assert_non_null(text);
    assert_non_null(strstr(text, "Content-Type: text/plain; charset=utf-8"));
    assert_non_null(strstr(text, "Content-Transfer-Encoding: "
                           "quoted-printable"));
    decoded = body_decoded(text);
    assert_string_equal(decoded, msg.text);
    g_free(decoded);

    p = strstr(p + strlen(expected), expected);
    assert_non_null(p);
    part = part_between(p + strlen(expected), boundary);
    assert_non_null(part);
    assert_non_null(strstr(part, "Content-Type: text/html; charset=utf-8"));
    decoded = body_decoded(part);
    assert_string_equal(decoded, html);
    g_free(decoded);
    g_free(expected);

    expected = g_strdup_printf("\r\n--%s--\r\n", boundary);
    p = strstr(out, expected);
    assert_non_null(p);
    assert_string_equal(p + strlen(expected), "");
    g_free(expected);
    g_free(part);
    g_free(text);
    g_free(out);
}


/* Bodies that quote the boundary cannot end a part early. */
static void
test_boundary_not_in_bodies(void **state)
{
    char boundary[64], *hostile, *out, *delimiter;
    struct crier_message msg;
    int count = 0;

    mime_boundary_format(MESSAGE_ID, boundary, sizeof(boundary));
    hostile = g_strdup_printf("--%s\n--%s--\n", boundary, boundary);
    msg = message_make("Closed", hostile, hostile);
    out = message_built(&msg, NULL);

    delimiter = g_strdup_printf("--%s", boundary);
    for (const char *p = strstr(out, delimiter); p != NULL;
         p = strstr(p + 1, delimiter))
        count++;
    assert_int_equal(count, 3);
    assert_null(strstr(strstr(out, "\r\n\r\n"), "\r\n" "=_crier_"));
    g_free(delimiter);
    g_free(out);
    g_free(hostile);
}


static void
test_boundary_from_message_id(void **state)
{
    char boundary[128];
    char small[12];
    char *id = g_strdup_printf("<%s@notify.example.gov>",
                               "0123456789abcdef0123456789abcdef"
                               "0123456789abcdef0123456789abcdef");

    mime_boundary_format(MESSAGE_ID, boundary, sizeof(boundary));
    assert_string_equal(boundary, "=_crier_0f3c9a1b2d4e5f60718293a4b5c6d7e8"
                                  "notifyexamplegov");
    /* 60 characters of the id at most, so 68 in all (RFC 2046: 70). */
    mime_boundary_format(id, boundary, sizeof(boundary));
    assert_int_equal(strlen(boundary), 68);
    assert_true(g_str_has_prefix(boundary, "=_crier_0123456789abcdef"));
    /* A small buffer gets what fits. */
    mime_boundary_format(MESSAGE_ID, small, sizeof(small));
    assert_string_equal(small, "=_crier_0f3");
    g_free(id);
    (void) state;
}


static void
test_message_repeatable(void **state)
{
    struct crier_message msg = message_make("Closed", "text", "<p>html</p>");
    struct crier_message other = msg;
    char *first = message_built(&msg, NULL);
    char *second = message_built(&msg, NULL);
    char a[64], b[64];

    assert_string_equal(first, second);
    other.message_id = "<1111@notify.example.gov>";
    mime_boundary_format(msg.message_id, a, sizeof(a));
    mime_boundary_format(other.message_id, b, sizeof(b));
    assert_string_not_equal(a, b);
    assert_true(strlen(a) <= 70);
    g_free(first);
    g_free(second);
}


static void
test_message_rejects(void **state)
{
    static const struct {
        const char *subject, *to, *message_id, *reason;
    } cases[] = {
        { "a\r\nBcc: x@example.org", "r@example.org", MESSAGE_ID,
          "invalid subject: it contains CR or LF or is not UTF-8" },
        { "ok", "not an address", MESSAGE_ID, "invalid address" },
        { "ok", "r@example.org\r\nBcc: x@example.org", MESSAGE_ID,
          "invalid address" },
        { "ok", "r@example.org", "<a@b>\r\nBcc: x@example.org",
          "invalid Message-ID" },
        { "ok", "r@example.org", "no-brackets@example.org",
          "invalid Message-ID" },
    };
    struct mime_envelope envelope = { &from_city, NULL, DATE_MS, NULL };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct crier_message msg = message_make(cases[i].subject, "t", NULL);
        GString *out = g_string_new("kept");
        const char *reason = NULL;

        msg.to = cases[i].to;
        msg.message_id = cases[i].message_id;
        assert_int_equal(mime_message_build(out, &msg, &envelope, &reason),
                         CRIER_EINVAL);
        assert_string_equal(reason, cases[i].reason);
        assert_string_equal(out->str, "kept");
        g_string_free(out, TRUE);
    }
}


/* A short unsubscribe URL shares the header line; a long one goes alone
 * on a continuation line, since it cannot be folded. */
static void
test_unsubscribe_headers(void **state)
{
    struct crier_message msg = message_make("Notice", "t", NULL);
    struct mime_envelope envelope = {
        .from = &from_city,
        .date_ms = DATE_MS,
        .unsubscribe_url = "https://c.example.gov/u/abc.def",
    };
    char *long_url = g_strdup_printf("https://notify.example.gov/u/%0120d",
                                     0);
    const char *reason = NULL;
    GString *out = g_string_new(NULL);

    assert_int_equal(mime_message_build(out, &msg, &envelope, &reason), 0);
    assert_non_null(strstr(out->str, "\r\nList-Unsubscribe: "
                           "<https://c.example.gov/u/abc.def>\r\n"
                           "List-Unsubscribe-Post: List-Unsubscribe="
                           "One-Click\r\n"));

    g_string_truncate(out, 0);
    envelope.unsubscribe_url = long_url;
    assert_int_equal(mime_message_build(out, &msg, &envelope, &reason), 0);
    assert_non_null(strstr(out->str, "\r\nList-Unsubscribe:\r\n <"));
    assert_non_null(strstr(out->str, long_url));

    g_string_truncate(out, 0);
    envelope.unsubscribe_url = NULL;
    assert_int_equal(mime_message_build(out, &msg, &envelope, &reason), 0);
    assert_null(strstr(out->str, "List-Unsubscribe"));
    g_string_free(out, TRUE);
    g_free(long_url);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_valid),
        cmocka_unit_test(test_address_parse),
        cmocka_unit_test(test_address_parse_invalid),
        cmocka_unit_test(test_date_format),
        cmocka_unit_test(test_subject_ascii),
        cmocka_unit_test(test_subject_utf8),
        cmocka_unit_test(test_subject_utf8_long),
        cmocka_unit_test(test_subject_ascii_folds),
        cmocka_unit_test(test_subject_ascii_encoded),
        cmocka_unit_test(test_subject_rejects_crlf),
        cmocka_unit_test(test_from_header),
        cmocka_unit_test(test_from_header_long_name),
        cmocka_unit_test(test_qp_literals),
        cmocka_unit_test(test_qp_line_limits),
        cmocka_unit_test(test_qp_round_trip),
        cmocka_unit_test(test_message_text_only),
        cmocka_unit_test(test_message_reply_to),
        cmocka_unit_test(test_message_multipart),
        cmocka_unit_test(test_boundary_not_in_bodies),
        cmocka_unit_test(test_boundary_from_message_id),
        cmocka_unit_test(test_message_repeatable),
        cmocka_unit_test(test_message_rejects),
        cmocka_unit_test(test_unsubscribe_headers),
    };

    return cmocka_run_group_tests_name("email_mime", tests, NULL, NULL);
}
