/*
 * SMTP replies and commands as bytes (see smtp_reply.h). Nothing here
 * does I/O, so the unit tests and the fuzzer drive it directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"


void
smtp_parser_reset(struct smtp_parser *parser)
{
    memset(parser, 0, sizeof(*parser));
}


/* Returns nonzero when `word`, of length `len`, equals `keyword` without
 * regard to case. */
static int
word_is(const char *word, size_t len, const char *keyword)
{
    return strlen(keyword) == len && g_ascii_strncasecmp(word, keyword,
                                                         len) == 0;
}


/* Reads the mechanisms after "AUTH" on an EHLO line. */
static unsigned
auth_mechanisms_parse(const char *params)
{
    unsigned found = 0;

    while (*params != '\0') {
        size_t len;

        params += strspn(params, " ");
        len = strcspn(params, " ");
        if (word_is(params, len, "PLAIN"))
            found |= SMTP_EXT_AUTH_PLAIN;
        else if (word_is(params, len, "LOGIN"))
            found |= SMTP_EXT_AUTH_LOGIN;
        params += len;
    }
    return found;
}


/* Records the EHLO keyword that `text` (a line after its code) names. */
static void
extension_parse(struct smtp_reply *reply, const char *text)
{
    size_t len = strcspn(text, " =");
    const char *params = text + len + strspn(text + len, " =");

    if (word_is(text, len, "PIPELINING"))
        reply->extensions |= SMTP_EXT_PIPELINING;
    else if (word_is(text, len, "STARTTLS"))
        reply->extensions |= SMTP_EXT_STARTTLS;
    else if (word_is(text, len, "8BITMIME"))
        reply->extensions |= SMTP_EXT_8BITMIME;
    else if (word_is(text, len, "CHUNKING"))
        reply->extensions |= SMTP_EXT_CHUNKING;
    else if (word_is(text, len, "AUTH"))
        reply->extensions |= auth_mechanisms_parse(params);
    else if (word_is(text, len, "SIZE")) {
        reply->extensions |= SMTP_EXT_SIZE;
        reply->size_max = strtoul(params, NULL, 10);
    }
}


/*
 * Reads one whole line, without its line end. Returns 1 when it ends the
 * reply, 0 when more lines follow, -1 when it is not a reply line.
 */
static int
line_parse(struct smtp_parser *p)
{
    const char *line = p->line;
    int code;

    if (p->len < 3 || line[0] < '2' || line[0] > '5' ||
        line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9')
        return -1;
    if (p->len > 3 && line[3] != ' ' && line[3] != '-')
        return -1;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (p->lines > 0 && code != p->reply.code)
        return -1;

    /* The first line of an EHLO reply is the greeting, and the others
     * name extensions. */
    if (p->lines > 0 && p->len > 4)
        extension_parse(&p->reply, line + 4);
    p->reply.code = code;
    g_strlcpy(p->reply.text, line, sizeof(p->reply.text));
    p->lines++;
    return p->len == 3 || line[3] == ' ';
}


enum smtp_parse_status
smtp_reply_feed(struct smtp_parser *p, const char *data, size_t len,
                size_t *used, struct smtp_reply *out)
{
    size_t i = 0;

    while (i < len) {
        const char *end = memchr(data + i, '\n', len - i);
        size_t n = (end != NULL ? (size_t) (end - data) : len) - i;
        int last;

        /* Appends the bytes of the line that fit, so a long line is
         * cut. */
        if (!p->skipping) {
            size_t room = SMTP_LINE_MAX - p->len;
            size_t take = n < room ? n : room;

            memcpy(p->line + p->len, data + i, take);
            p->len += take;
            p->skipping = take < n;
        }
        i += n;
        if (end == NULL)
            break;
        i++;                        /* the LF */

        if (p->len > 0 && p->line[p->len - 1] == '\r')
            p->len--;
        p->line[p->len] = '\0';
        last = line_parse(p);
        p->len = 0;
        p->skipping = 0;
        if (last < 0) {
            *used = i;
            return SMTP_PARSE_ERROR;
        }
        if (last) {
            *out = p->reply;
            memset(&p->reply, 0, sizeof(p->reply));
            p->lines = 0;
            *used = i;
            return SMTP_PARSE_REPLY;
        }
    }
    *used = i;
    return SMTP_PARSE_MORE;
}


int
smtp_address_is_safe(const char *address)
{
    for (const unsigned char *c = (const unsigned char *) address; *c;
         c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '<' || *c == '>')
            return 0;
    }
    return 1;
}


static void
decimal_append(GString *out, size_t value)
{
    char digits[24];
    size_t start = sizeof(digits);

    do {
        digits[--start] = (char) ('0' + value % 10);
        value /= 10;
    } while (value > 0);
    g_string_append_len(out, digits + start,
                        (gssize) (sizeof(digits) - start));
}


void
smtp_command_append(GString *out, const struct smtp_envelope *env,
                    enum smtp_step step)
{
    /* The commands use plain appends in place of printf, because they
     * are written on the loop for every message. */
    switch (step) {
    case SMTP_STEP_MAIL:
        g_string_append(out, "MAIL FROM:<");
        g_string_append(out, env->from);
        g_string_append_c(out, '>');
        if (env->extensions & SMTP_EXT_SIZE) {
            g_string_append(out, " SIZE=");
            decimal_append(out, env->size);
        }
        if (env->eight_bit && (env->extensions & SMTP_EXT_8BITMIME))
            g_string_append(out, " BODY=8BITMIME");
        g_string_append(out, "\r\n");
        break;
    case SMTP_STEP_RCPT:
        g_string_append(out, "RCPT TO:<");
        g_string_append(out, env->to);
        g_string_append(out, ">\r\n");
        break;
    case SMTP_STEP_DATA:
        g_string_append(out, "DATA\r\n");
        break;
    }
}


int
smtp_envelope_append(GString *out, const struct smtp_envelope *env,
                     int pipelined)
{
    smtp_command_append(out, env, SMTP_STEP_MAIL);
    if (!pipelined)
        return 1;
    smtp_command_append(out, env, SMTP_STEP_RCPT);
    smtp_command_append(out, env, SMTP_STEP_DATA);
    return 3;
}


/* Returns the number of lines in `text` that start with ".". */
static size_t
line_dots_count(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t dots = len > 0 && text[0] == '.';

    while ((p = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        p++;
        if (p < end && *p == '.')
            dots++;
    }
    return dots;
}


void
smtp_data_prepare(GString *message)
{
    size_t dots = line_dots_count(message->str, message->len);

    /* Moves the bytes back from the end, doubling each leading dot on
     * the way, so that the bytes before the first such dot stay put. */
    if (dots > 0) {
        size_t from = message->len, to = message->len + dots;
        char *s;

        g_string_set_size(message, to);
        s = message->str;
        while (dots > 0) {
            s[--to] = s[--from];
            if (s[from] == '.' && (from == 0 || s[from - 1] == '\n')) {
                s[--to] = '.';
                dots--;
            }
        }
    }
    if (message->len < 2 || message->str[message->len - 2] != '\r' ||
        message->str[message->len - 1] != '\n')
        g_string_append(message, "\r\n");
    g_string_append(message, ".\r\n");
}


char *
smtp_auth_plain(const char *user, const char *password)
{
    size_t ulen = strlen(user), plen = strlen(password);
    size_t n = ulen + plen + 2;
    guchar *raw = g_malloc(n);
    char *text;

    /* The authorization identity stays empty: the server derives it. */
    raw[0] = '\0';
    memcpy(raw + 1, user, ulen);
    raw[1 + ulen] = '\0';
    memcpy(raw + 2 + ulen, password, plen);
    text = g_base64_encode(raw, n);
    memset(raw, 0, n);
    g_free(raw);
    return text;
}
