/*
 * The email channel's message builder. Header lines are folded at
 * MIME_LINE_MAX columns, and text that plain ASCII words cannot carry
 * becomes UTF-8 encoded words. Both body parts are quoted-printable, and
 * every line ends in CRLF.
 */
#include "mime.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <crier/error.h>

#include "email_address.h"


/* The fixed parts of an encoded word: "=?UTF-8?Q?" and "?=". */
#define WORD_PREFIX "=?UTF-8?"
#define WORD_OVERHEAD 12

/* Room for the longest UTF-8 character in Q encoding, "=XX" per byte. */
#define WORD_CHAR_MAX 12

/* A header being written: where its current line starts, for folding. */
struct header_writer {
    GString *out;
    size_t line_start;
    unsigned tokens;          /* tokens written after "Name:" */
};


int
mime_address_valid(const char *address)
{
    /* NOTE: non-ASCII addresses (SMTPUTF8, RFC 6531) are rejected; see
     * "Limits" in docs/channels/email.md. */
    return email_address_valid(address);
}


static void
span_trim(const char **start, const char **end)
{
    while (*start < *end && (**start == ' ' || **start == '\t'))
        (*start)++;
    while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
}


/* Returns the display name in [start, end) without quotes, or NULL when
 * it is malformed. */
static char *
display_name_parse(const char *start, const char *end)
{
    GString *name;
    size_t len = (size_t) (end - start);

    if (len < 2 || start[0] != '"' || end[-1] != '"') {
        if (memchr(start, '"', len) != NULL)
            return NULL;
        return g_strndup(start, len);
    }

    name = g_string_sized_new(len);
    for (const char *p = start + 1; p < end - 1; p++) {
        if (*p == '\\' && p + 1 < end - 1) {
            p++;
        } else if (*p == '"' || *p == '\\') {
            g_string_free(name, TRUE);
            return NULL;
        }
        g_string_append_c(name, *p);
    }
    return g_string_free(name, FALSE);
}


int
mime_address_parse(const char *text, struct mime_address *out,
                   const char **reason)
{
    const char *start = text, *end = text + strlen(text), *open;
    const char *name_end;

    memset(out, 0, sizeof(*out));
    if (strpbrk(text, "\r\n") != NULL) {
        *reason = "contains CR or LF";
        return CRIER_EINVAL;
    }
    span_trim(&start, &end);

    if (end > start && end[-1] == '>') {
        open = end - 1;
        while (open > start && *open != '<')
            open--;
        if (*open != '<') {
            *reason = "has '>' without '<'";
            return CRIER_EINVAL;
        }
        name_end = open;
        span_trim(&start, &name_end);
        if (name_end > start) {
            out->name = display_name_parse(start, name_end);
            if (out->name == NULL ||
                strpbrk(out->name, "<>") != NULL ||
                !g_utf8_validate(out->name, -1, NULL)) {
                mime_address_clear(out);
                *reason = "has an invalid display name: an unpaired "
                          "quote, '<' or '>', or bytes that are not UTF-8";
                return CRIER_EINVAL;
            }
        }
        start = open + 1;
        end--;
    }

    out->address = g_strndup(start, (size_t) (end - start));
    if (!mime_address_valid(out->address)) {
        mime_address_clear(out);
        *reason = "is not a valid address; write local@domain or "
                  "Name <local@domain>";
        return CRIER_EINVAL;
    }
    return 0;
}


void
mime_address_clear(struct mime_address *address)
{
    g_free(address->name);
    g_free(address->address);
    address->name = NULL;
    address->address = NULL;
}


void
mime_date_format(int64_t ms, char *buf, size_t size)
{
    static const char days[7][4] = {
        "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
    };
    static const char months[12][4] = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun",
        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
    };
    time_t seconds = (time_t) (ms / 1000);
    struct tm tm;

    /* Names come from tables: strftime would follow the locale. */
    gmtime_r(&seconds, &tm);
    snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}


static void
header_start(struct header_writer *w, GString *out, const char *name)
{
    w->out = out;
    w->line_start = out->len;
    w->tokens = 0;
    g_string_append(out, name);
    g_string_append_c(out, ':');
}


static size_t
header_column(const struct header_writer *w)
{
    return w->out->len - w->line_start;
}


/* Returns how many characters fit after a space on the current line. */
static size_t
header_room(const struct header_writer *w)
{
    size_t column = header_column(w);

    return column + 1 < MIME_LINE_MAX ? MIME_LINE_MAX - column - 1 : 0;
}


static void
header_fold(struct header_writer *w)
{
    g_string_append(w->out, "\r\n");
    w->line_start = w->out->len;
}


/*
 * Appends a space and `token`, folding before the space when the line
 * would pass MIME_LINE_MAX. The first token stays on the name's line.
 */
static void
header_token_append(struct header_writer *w, const char *token, size_t len)
{
    if (w->tokens > 0 && header_column(w) + 1 + len > MIME_LINE_MAX)
        header_fold(w);
    g_string_append_c(w->out, ' ');
    g_string_append_len(w->out, token, len);
    w->tokens++;
}


static void
header_end(struct header_writer *w)
{
    g_string_append(w->out, "\r\n");
}


/*
 * Returns nonzero when `value` can be written as ASCII words: printable,
 * words parted by single spaces, no "=?" that a reader could take for an
 * encoded word, and every word short enough to fit a folded line.
 */
static int
text_is_plain(const char *value, size_t first_room)
{
    size_t word = 0, words = 0;

    if (value[0] == ' ' || strstr(value, "=?") != NULL)
        return 0;
    for (const char *p = value;; p++) {
        unsigned char c = (unsigned char) *p;

        if (c == ' ' || c == '\0') {
            if (word == 0 && c == ' ')
                return 0;
            if (word > (words == 0 ? first_room : MIME_LINE_MAX - 1))
                return 0;
            if (c == '\0')
                return word > 0 || words == 0;
            words++;
            word = 0;
        } else if (c < 0x21 || c > 0x7e) {
            return 0;
        } else {
            word++;
        }
    }
}


static void
header_words_append(struct header_writer *w, const char *value)
{
    const char *p = value;

    while (*p != '\0') {
        size_t len = strcspn(p, " ");

        header_token_append(w, p, len);
        p += len;
        if (*p == ' ')
            p++;
    }
}


/* Returns nonzero when byte `c` may stand for itself in a Q-encoded word
 * in any header, phrases included (RFC 2047, section 5). */
static int
q_literal(unsigned char c)
{
    return g_ascii_isalnum(c) || strchr("!*+-/", c) != NULL;
}


static size_t
q_length(const char *p, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) p[i];

        n += (q_literal(c) || c == ' ') ? 1 : 3;
    }
    return n;
}


static size_t
b_length(size_t len)
{
    return (len + 2) / 3 * 4;
}


static void
q_encode_append(GString *out, const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) p[i];

        if (c == ' ')
            g_string_append_c(out, '_');
        else if (q_literal(c))
            g_string_append_c(out, (char) c);
        else
            g_string_append_printf(out, "=%02X", c);
    }
}


/*
 * Returns how many bytes of [p, end) fit, in whole UTF-8 characters, in
 * an encoded word of at most `room` characters.
 */
static size_t
word_fill(const char *p, const char *end, size_t room, int use_q)
{
    size_t fitted = 0;

    while (p + fitted < end) {
        const char *next = g_utf8_next_char(p + fitted);
        size_t take = (size_t) (next - p);
        size_t encoded = use_q ? q_length(p, take) : b_length(take);

        if (WORD_OVERHEAD + encoded > room)
            break;
        fitted = take;
    }
    return fitted;
}


/*
 * Appends `value` as UTF-8 encoded words, Q or B, whichever is shorter.
 * Each word contains whole characters only and fits its line.
 */
static void
header_encoded_append(struct header_writer *w, const char *value)
{
    size_t len = strlen(value);
    const char *p = value, *end = value + len;
    int use_q = q_length(value, len) <= b_length(len);
    GString *word = g_string_sized_new(MIME_WORD_MAX + 1);

    while (p < end) {
        size_t room = header_room(w);
        size_t take;

        if (room < WORD_OVERHEAD + WORD_CHAR_MAX) {
            header_fold(w);
            room = MIME_LINE_MAX - 1;
        }
        if (room > MIME_WORD_MAX)
            room = MIME_WORD_MAX;
        take = word_fill(p, end, room, use_q);

        g_string_assign(word, WORD_PREFIX);
        g_string_append(word, use_q ? "Q?" : "B?");
        if (use_q) {
            q_encode_append(word, p, take);
        } else {
            gchar *b64 = g_base64_encode((const guchar *) p, take);

            g_string_append(word, b64);
            g_free(b64);
        }
        g_string_append(word, "?=");
        header_token_append(w, word->str, word->len);
        p += take;
    }
    g_string_free(word, TRUE);
}


static int
header_value_check(const char *value)
{
    if (strpbrk(value, "\r\n") != NULL)
        return CRIER_EINVAL;
    if (!g_utf8_validate(value, -1, NULL))
        return CRIER_EINVAL;
    return 0;
}


int
mime_header_append(GString *out, const char *name, const char *value)
{
    struct header_writer w;

    if (header_value_check(value) != 0)
        return CRIER_EINVAL;
    header_start(&w, out, name);
    if (value[0] == '\0')
        g_string_append_c(out, ' ');
    else if (text_is_plain(value, header_room(&w)))
        header_words_append(&w, value);
    else
        header_encoded_append(&w, value);
    header_end(&w);
    return 0;
}


/* Returns nonzero when every character of `name` is atext or a space, so
 * that it is a phrase without quotes (RFC 5322, section 3.2.3). */
static int
name_is_atoms(const char *name)
{
    for (const char *p = name; *p != '\0'; p++) {
        if (!g_ascii_isalnum(*p) && strchr(" !#$%&'*+-/=?^_`{|}~", *p) == NULL)
            return 0;
    }
    return 1;
}


static char *
name_quote(const char *name)
{
    GString *quoted = g_string_new("\"");

    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_c(quoted, '\\');
        g_string_append_c(quoted, *p);
    }
    g_string_append_c(quoted, '"');
    return g_string_free(quoted, FALSE);
}


int
mime_address_header_append(GString *out, const char *name,
                           const struct mime_address *address)
{
    struct header_writer w;
    char *bracketed;

    if (address->name != NULL && header_value_check(address->name) != 0)
        return CRIER_EINVAL;
    if (!mime_address_valid(address->address))
        return CRIER_EINVAL;
    header_start(&w, out, name);

    if (address->name != NULL && address->name[0] != '\0') {
        char *phrase = name_is_atoms(address->name)
                       ? g_strdup(address->name)
                       : name_quote(address->name);

        if (text_is_plain(phrase, header_room(&w)))
            header_words_append(&w, phrase);
        else
            header_encoded_append(&w, address->name);
        g_free(phrase);
    }

    /* NOTE: an address longer than a line is written unfolded, as RFC
     * 5322 allows up to 998 characters; see docs/channels/email.md. */
    bracketed = g_strdup_printf("<%s>", address->address);
    header_token_append(&w, bracketed, strlen(bracketed));
    g_free(bracketed);
    header_end(&w);
    return 0;
}


/* Returns nonzero when the bytes at `p` start a line that mbox files
 * would mark by prefixing '>'. */
static int
starts_from_line(const char *p, const char *end)
{
    return end - p >= 5 && memcmp(p, "From ", 5) == 0;
}


/* Returns the length of the line break at `p`, or 0 when none is. */
static size_t
line_break_length(const char *p, const char *end)
{
    if (p < end && *p == '\n')
        return 1;
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        return 2;
    return 0;
}


/* Returns nonzero when byte `c` may stand for itself anywhere on a
 * quoted-printable line: printable ASCII other than '=' (RFC 2045,
 * section 6.7, rule 2). Space, tab and a line-opening "From " have rules
 * of their own. */
static int
qp_is_literal(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '=';
}


/*
 * Writes the quoted-printable form of the byte at `p` into `token` and
 * returns its length: 1 for a literal, 3 for "=XX".
 */
static size_t
qp_token(const char *p, const char *end, size_t column, char *token)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char c = (unsigned char) *p;
    int line_end = line_break_length(p + 1, end) > 0 || p + 1 == end;
    int literal;

    if (c == ' ' || c == '\t')
        literal = !line_end;
    else if (c == 'F' && column == 0)
        literal = !starts_from_line(p, end);
    else
        literal = qp_is_literal(c);

    if (literal) {
        token[0] = (char) c;
        return 1;
    }
    token[0] = '=';
    token[1] = hex[c >> 4];
    token[2] = hex[c & 0x0f];
    return 3;
}


/* Returns nonzero when the byte at `p` is written as itself and cannot
 * end its line: a literal, or a space that a byte above CR follows,
 * which rules out CR and LF. The callers check for a line-opening 'F',
 * which may start "From ". */
static int
qp_is_plain(const char *p, const char *end)
{
    unsigned char c = (unsigned char) *p;

    return qp_is_literal(c) ||
           (c == ' ' && end - p > 1 && (unsigned char) p[1] > '\r');
}


/* Output collects in a stack buffer and goes to the GString a chunk at a
 * time, because one GString call per byte cost more than the encoding.
 * One step of the loop writes at most a whole line, QP_STEP_MAX bytes. */
#define QP_CHUNK 1024
#define QP_STEP_MAX (MIME_QP_LINE_MAX + 2)


void
mime_qp_append(GString *out, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    size_t column = 0, used = 0;
    char chunk[QP_CHUNK];

    while (p < end) {
        size_t brk, n, limit;

        if (used > QP_CHUNK - QP_STEP_MAX) {
            g_string_append_len(out, chunk, (gssize) used);
            used = 0;
        }

        /* Most bytes are literals in the middle of a line. The run of
         * them up to column MIME_QP_LINE_MAX - 1 is copied at once. */
        if (column < MIME_QP_LINE_MAX - 1 && (column > 0 || *p != 'F') &&
            qp_is_plain(p, end)) {
            const char *run = p;
            size_t room = MIME_QP_LINE_MAX - 1 - column;
            const char *stop = (size_t) (end - p) > room ? p + room : end;

            p++;
            while (p < stop && qp_is_plain(p, end))
                p++;
            memcpy(chunk + used, run, (size_t) (p - run));
            used += (size_t) (p - run);
            column += (size_t) (p - run);
            continue;
        }

        brk = line_break_length(p, end);
        if (brk > 0) {
            chunk[used++] = '\r';
            chunk[used++] = '\n';
            column = 0;
            p += brk;
            continue;
        }

        /* The last character of a line may use the column that a soft
         * break's '=' would take. */
        limit = MIME_QP_LINE_MAX - 1;
        if (p + 1 == end || line_break_length(p + 1, end) > 0)
            limit = MIME_QP_LINE_MAX;
        n = qp_token(p, end, column, chunk + used);
        if (column + n > limit) {
            memcpy(chunk + used, "=\r\n", 3);
            used += 3;
            column = 0;
            n = qp_token(p, end, column, chunk + used);
        }
        used += n;
        column += n;
        p++;
    }
    g_string_append_len(out, chunk, (gssize) used);
}


/* The maximum number of Message-ID characters in a boundary. With the
 * prefix, a boundary stays within the 70 characters that RFC 2046 allows. */
#define BOUNDARY_ID_MAX 60

void
mime_boundary_format(const char *message_id, char *buf, size_t size)
{
    static const char prefix[] = "=_crier_";
    size_t len = sizeof(prefix) - 1;
    size_t copied = 0;

    if (size <= len) {
        if (size > 0)
            buf[0] = '\0';
        return;
    }
    memcpy(buf, prefix, len);
    /* Letters and digits need no quoting in the Content-Type parameter.
     * The Message-ID is already unique per message, so no digest of it
     * is needed. */
    for (const char *p = message_id; *p != '\0' && copied < BOUNDARY_ID_MAX
                                     && len + 1 < size; p++) {
        if (g_ascii_isalnum(*p)) {
            buf[len++] = *p;
            copied++;
        }
    }
    buf[len] = '\0';
}


static int
message_id_valid(const char *id)
{
    size_t len = strlen(id);

    if (len < 3 || id[0] != '<' || id[len - 1] != '>' ||
        strchr(id, '@') == NULL)
        return 0;
    for (const char *p = id; *p != '\0'; p++) {
        if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
            return 0;
    }
    return 1;
}


/*
 * Appends List-Unsubscribe with `url` and List-Unsubscribe-Post, which
 * lets a mail client unsubscribe with one POST to the URL (RFC 8058). A URL cannot be folded inside its angle brackets, so a long one
 * goes alone on a continuation line, which RFC 5322 allows up to 998
 * characters.
 */
static void
unsubscribe_headers_append(GString *out, const char *url)
{
    const char *name = "List-Unsubscribe:";

    if (strlen(name) + strlen(url) + 3 <= MIME_LINE_MAX)
        g_string_append_printf(out, "%s <%s>\r\n", name, url);
    else
        g_string_append_printf(out, "%s\r\n <%s>\r\n", name, url);
    g_string_append(out, "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
                    "\r\n");
}


/* Appends `prefix`, `value` and `suffix`. The fixed lines of a message
 * use it in place of printf, which took a quarter of the instructions
 * of building a message. */
static void
affixed_append(GString *out, const char *prefix, const char *value,
               const char *suffix)
{
    g_string_append(out, prefix);
    g_string_append(out, value);
    g_string_append(out, suffix);
}


static int
headers_append(GString *out, const struct crier_message *msg,
               const struct mime_envelope *envelope, const char **reason)
{
    char date[64];

    mime_date_format(envelope->date_ms, date, sizeof(date));
    affixed_append(out, "Date: ", date, "\r\n");
    if (mime_address_header_append(out, "From", envelope->from) != 0) {
        *reason = "invalid From address";
        return CRIER_EINVAL;
    }
    if (envelope->reply_to != NULL &&
        mime_address_header_append(out, "Reply-To", envelope->reply_to)
        != 0) {
        *reason = "invalid Reply-To address";
        return CRIER_EINVAL;
    }
    if (msg->to == NULL || !mime_address_valid(msg->to)) {
        *reason = "invalid address";
        return CRIER_EINVAL;
    }
    affixed_append(out, "To: ", msg->to, "\r\n");
    if (mime_header_append(out, "Subject",
                           msg->subject ? msg->subject : "") != 0) {
        *reason = "invalid subject: it contains CR or LF or is not UTF-8";
        return CRIER_EINVAL;
    }
    if (msg->message_id == NULL || !message_id_valid(msg->message_id)) {
        *reason = "invalid Message-ID";
        return CRIER_EINVAL;
    }
    affixed_append(out, "Message-ID: ", msg->message_id, "\r\n");
    g_string_append(out, "MIME-Version: 1.0\r\n");

    /* RFC 3834: out-of-office responders should not reply to this. */
    g_string_append(out, "Auto-Submitted: auto-generated\r\n");
    if (msg->rule != NULL && msg->rule[0] != '\0' &&
        mime_header_append(out, "X-Crier-Rule", msg->rule) != 0) {
        *reason = "invalid rule name for X-Crier-Rule";
        return CRIER_EINVAL;
    }
    if (envelope->unsubscribe_url != NULL)
        unsubscribe_headers_append(out, envelope->unsubscribe_url);
    return 0;
}


static void
part_append(GString *out, const char *type, const char *body)
{
    affixed_append(out, "Content-Type: ", type, "; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    mime_qp_append(out, body, strlen(body));
}


static void
body_append(GString *out, const struct crier_message *msg)
{
    const char *text = msg->text ? msg->text : "";
    char boundary[64];

    if (msg->html == NULL) {
        part_append(out, "text/plain", text);
        if (out->len < 2 || strcmp(out->str + out->len - 2, "\r\n") != 0)
            g_string_append(out, "\r\n");
        return;
    }

    mime_boundary_format(msg->message_id, boundary, sizeof(boundary));
    affixed_append(out, "Content-Type: multipart/alternative;\r\n"
                   " boundary=\"", boundary, "\"\r\n\r\n");
    affixed_append(out, "--", boundary, "\r\n");
    part_append(out, "text/plain", text);
    affixed_append(out, "\r\n--", boundary, "\r\n");
    part_append(out, "text/html", msg->html);
    affixed_append(out, "\r\n--", boundary, "--\r\n");
}


int
mime_message_build(GString *out, const struct crier_message *msg,
                   const struct mime_envelope *envelope, const char **reason)
{
    size_t start = out->len;
    int rc = headers_append(out, msg, envelope, reason);

    if (rc != 0) {
        g_string_truncate(out, start);
        return rc;
    }
    body_append(out, msg);
    return 0;
}
