/*
 * The CSV parser behind profile imports. Debian's libcsv 3.0.3
 * (libcsv-dev) streams too, but it reports no line numbers and no
 * malformed record as such. It skips blank lines unless CSV_REPALL_NL is
 * set, and in strict mode (CSV_STRICT) the first malformed quote ends the
 * whole parse with CSV_EPARSE. An import must name the line of each bad
 * row and keep going, so crier parses records itself.
 */
#include "import/csv.h"

#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

static const unsigned char utf8_bom[3] = { 0xEF, 0xBB, 0xBF };

enum csv_state {
    FIELD_START,                /* before the first byte of a field */
    UNQUOTED,                   /* inside a field that has no quotes */
    QUOTED,                     /* inside "..." */
    QUOTE_IN_QUOTED,            /* after a quote inside "...": doubled or
                                   closing, the next byte decides */
    AFTER_CLOSE                 /* after a closing quote, before , or EOL */
};

struct csv_parser {
    csv_record_cb cb;
    void *arg;
    size_t max_record_bytes;
    enum csv_state state;
    size_t line;                /* line of the byte being parsed */
    int after_cr;               /* the previous byte was '\r' */
    int skip_lf;                /* a '\r' ended the record: skip one '\n' */
    size_t bom_matched;         /* bytes of the BOM seen at the start */
    int bom_done;

    /* The record being read. */
    int started;                /* a byte of the record has been seen */
    size_t record_line;
    char *buf;                  /* field bytes, each followed by a NUL */
    size_t len, cap;
    size_t starts[CSV_MAX_FIELDS + 1];  /* offset of each field in buf */
    size_t count;               /* fields ended so far */
    int overflow;               /* too many bytes or fields: drop them */
    const char *error;
    long error_field;
    const char *fields[CSV_MAX_FIELDS];
    size_t lengths[CSV_MAX_FIELDS];
};


struct csv_parser *
csv_parser_new(size_t max_record_bytes, csv_record_cb cb, void *arg)
{
    struct csv_parser *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->cb = cb;
    p->arg = arg;
    p->max_record_bytes = max_record_bytes;
    p->line = 1;
    p->error_field = -1;
    return p;
}


void
csv_parser_free(struct csv_parser *p)
{
    if (p == NULL)
        return;
    free(p->buf);
    free(p);
}


/* Keeps the first error of a record, since later ones often follow it. */
static void
record_fail(struct csv_parser *p, const char *error)
{
    if (p->error != NULL)
        return;
    p->error = error;
    p->error_field = p->overflow ? -1 : (long) p->count;
}


static int
buf_push(struct csv_parser *p, char c)
{
    if (p->overflow)
        return 0;
    if (p->len == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 256;
        char *buf = realloc(p->buf, cap);

        if (buf == NULL)
            return CRIER_ENOMEM;
        p->buf = buf;
        p->cap = cap;
    }
    p->buf[p->len++] = c;
    return 0;
}


/* Appends one byte of field text; the NULs between fields do not count
 * against max_record_bytes. */
static int
field_byte(struct csv_parser *p, char c)
{
    if (!p->overflow && p->len - p->count + 1 > p->max_record_bytes) {
        p->overflow = 1;
        p->error = NULL;
        record_fail(p, "the record is longer than the maximum size");
        return 0;
    }
    return buf_push(p, c);
}


static int
field_end(struct csv_parser *p)
{
    int rc;

    if (p->overflow)
        return 0;
    if (p->count == CSV_MAX_FIELDS) {
        p->overflow = 1;
        p->error = NULL;
        record_fail(p, "the record has more than 1024 fields");
        return 0;
    }
    if ((rc = buf_push(p, '\0')) != 0)
        return rc;
    p->count++;
    p->starts[p->count] = p->len;
    return 0;
}


static void
record_reset(struct csv_parser *p)
{
    p->started = 0;
    p->len = 0;
    p->count = 0;
    p->overflow = 0;
    p->error = NULL;
    p->error_field = -1;
    p->state = FIELD_START;
}


/* Ends the current field and hands the record to the callback. */
static int
record_end(struct csv_parser *p)
{
    struct csv_record r;
    int rc = field_end(p);

    if (rc != 0)
        return rc;
    if (p->overflow)
        p->count = 0;
    for (size_t i = 0; i < p->count; i++) {
        p->fields[i] = p->buf + p->starts[i];
        p->lengths[i] = p->starts[i + 1] - p->starts[i] - 1;
    }
    r.line = p->record_line;
    r.count = p->count;
    r.fields = p->fields;
    r.lengths = p->lengths;
    r.error = p->error;
    r.error_field = p->error_field;
    rc = p->cb(p->arg, &r);
    record_reset(p);
    return rc;
}


/* Handles a line break outside quotes: ends the record, or skips a blank
 * line and the '\n' of a CRLF. */
static int
line_break(struct csv_parser *p, char c)
{
    if (c == '\n' && p->skip_lf) {
        p->skip_lf = 0;
        return 0;
    }
    p->skip_lf = c == '\r';
    if (!p->started)
        return 0;
    return record_end(p);
}


static int
byte_unquoted(struct csv_parser *p, char c)
{
    if (c == ',') {
        p->state = FIELD_START;
        return field_end(p);
    }
    if (c == '"')
        record_fail(p, "a quote inside an unquoted field: quote the whole "
                    "field and double the quote");
    p->state = UNQUOTED;
    return field_byte(p, c);
}


static int
byte_quoted(struct csv_parser *p, char c)
{
    if (p->state == QUOTED) {
        if (c == '"')
            p->state = QUOTE_IN_QUOTED;
        else
            return field_byte(p, c);
        return 0;
    }
    /* QUOTE_IN_QUOTED: a second quote is a literal one. */
    if (c == '"') {
        p->state = QUOTED;
        return field_byte(p, c);
    }
    if (c == ',') {
        p->state = FIELD_START;
        return field_end(p);
    }
    record_fail(p, "text after a closing quote: quote the whole field");
    p->state = AFTER_CLOSE;
    return field_byte(p, c);
}


/* Counts lines: LF, CRLF and a lone CR each end one, inside quotes too. */
static void
line_count(struct csv_parser *p, char c)
{
    if (c == '\n' && p->after_cr)
        p->after_cr = 0;
    else if (c == '\n')
        p->line++;
    else if (c == '\r') {
        p->line++;
        p->after_cr = 1;
    } else
        p->after_cr = 0;
}


static int
parse_byte(struct csv_parser *p, char c)
{
    int in_quotes = p->state == QUOTED;
    size_t line = p->line;

    line_count(p, c);
    if (!in_quotes && (c == '\n' || c == '\r'))
        return line_break(p, c);
    p->skip_lf = 0;
    if (!p->started) {
        p->started = 1;
        p->record_line = line;
        p->starts[0] = 0;
    }
    switch (p->state) {
    case FIELD_START:
        if (c == '"') {
            p->state = QUOTED;
            return 0;
        }
        return byte_unquoted(p, c);
    case UNQUOTED:
    case AFTER_CLOSE:
        return byte_unquoted(p, c);
    case QUOTED:
    case QUOTE_IN_QUOTED:
        return byte_quoted(p, c);
    }
    return 0;
}


/* Feeds the part of the BOM matched so far as data: the input did not
 * start with a whole BOM after all. */
static int
bom_replay(struct csv_parser *p)
{
    size_t n = p->bom_matched;
    int rc = 0;

    p->bom_done = 1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = parse_byte(p, (char) utf8_bom[i]);
    return rc;
}


int
csv_parser_feed(struct csv_parser *p, const char *data, size_t len)
{
    size_t i = 0;
    int rc = 0;

    while (!p->bom_done && i < len) {
        if ((unsigned char) data[i] != utf8_bom[p->bom_matched]) {
            if ((rc = bom_replay(p)) != 0)
                return rc;
            break;
        }
        i++;
        if (++p->bom_matched == sizeof(utf8_bom))
            p->bom_done = 1;
    }
    for (; rc == 0 && i < len; i++)
        rc = parse_byte(p, data[i]);
    return rc;
}


int
csv_parser_finish(struct csv_parser *p)
{
    int rc = 0;

    if (!p->bom_done && (rc = bom_replay(p)) != 0)
        return rc;
    if (p->state == QUOTED)
        record_fail(p, "a quoted field is not closed before the end of the "
                    "file");
    if (p->started)
        rc = record_end(p);
    return rc;
}
