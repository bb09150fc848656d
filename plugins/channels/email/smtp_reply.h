/*
 * The SMTP wire format without any I/O. An incremental parser reads
 * server replies (RFC 5321 section 4.2, multi-line "250-" replies and
 * EHLO keywords). Builders write the commands and message data of a
 * transaction (RFC 2920 pipelining, RFC 5321 dot-stuffing).
 */
#ifndef CRIER_SMTP_REPLY_H
#define CRIER_SMTP_REPLY_H

#include <stddef.h>

#include <glib.h>

/* The longest reply line kept, where RFC 5321 allows 512 octets. Longer
 * lines are cut, not rejected, because only their start is ever read. */
#define SMTP_LINE_MAX 1000

/* Extensions from the EHLO reply. */
enum {
    SMTP_EXT_PIPELINING = 1 << 0,
    SMTP_EXT_STARTTLS = 1 << 1,
    SMTP_EXT_SIZE = 1 << 2,
    SMTP_EXT_8BITMIME = 1 << 3,
    SMTP_EXT_CHUNKING = 1 << 4,
    SMTP_EXT_AUTH_PLAIN = 1 << 5,
    SMTP_EXT_AUTH_LOGIN = 1 << 6,
};

/* One complete reply. */
struct smtp_reply {
    int code;                       /* 200 to 599 */
    char text[256];                 /* the last line, cut to fit */
    unsigned extensions;            /* SMTP_EXT_* named by its lines */
    size_t size_max;                /* SIZE's value, 0 when none */
};

/* The state kept between reads. Zero it, or call smtp_parser_reset, to
 * start. */
struct smtp_parser {
    char line[SMTP_LINE_MAX + 1];
    size_t len;                     /* bytes of `line` so far */
    int skipping;                   /* dropping the rest of a long line */
    int lines;                      /* lines of the current reply */
    struct smtp_reply reply;        /* the reply being read */
};

enum smtp_parse_status {
    SMTP_PARSE_MORE = 0,            /* all input used, no reply complete */
    SMTP_PARSE_REPLY = 1,           /* *out contains a whole reply */
    SMTP_PARSE_ERROR = -1,          /* not an SMTP reply */
};

void smtp_parser_reset(struct smtp_parser *parser);

/*
 * Reads `len` bytes of `data` up to the end of the next complete reply,
 * which it copies into *out, and sets *used to the bytes read. Call it
 * again with the rest. Lines end in CRLF or LF. A line that does not
 * start with a code from 200 to 599 followed by a space, a hyphen or the
 * line end, or whose code differs from the line before, is an error.
 */
enum smtp_parse_status smtp_reply_feed(struct smtp_parser *parser,
                                       const char *data, size_t len,
                                       size_t *used,
                                       struct smtp_reply *out);

/* The envelope of one message, for the commands of its transaction. */
struct smtp_envelope {
    const char *from;               /* reverse path, without <> */
    const char *to;                 /* the one recipient, without <> */
    size_t size;                    /* the message's length in bytes */
    int eight_bit;                  /* the message has non-ASCII bytes */
    unsigned extensions;            /* what the server offered */
};

/*
 * Appends MAIL FROM, RCPT TO and DATA to `out` for a server that offers
 * PIPELINING, or only MAIL FROM when `pipelined` is 0, and returns the
 * number of commands appended. MAIL FROM carries SIZE= and BODY=8BITMIME
 * when the server offers them.
 */
int smtp_envelope_append(GString *out, const struct smtp_envelope *env,
                         int pipelined);

/* Returns nonzero when `address` can go between "<" and ">" on a command
 * line: no CR, LF, other control character, "<" or ">". */
int smtp_address_is_safe(const char *address);

/* The commands of a transaction, in the order they are sent. */
enum smtp_step { SMTP_STEP_MAIL, SMTP_STEP_RCPT, SMTP_STEP_DATA };

/* Appends the one command of `step`, as smtp_envelope_append writes it. */
void smtp_command_append(GString *out, const struct smtp_envelope *env,
                         enum smtp_step step);

/*
 * Turns `message` in place into the bytes that follow DATA: every line
 * that starts with "." gets another "." in front (dot-stuffing), and
 * CRLF.CRLF ends it, with a CRLF added first when the message does not
 * end in one. The message's own line ends must already be CRLF.
 */
void smtp_data_prepare(GString *message);

/* Returns the base64 text of AUTH PLAIN for `user` and `password`, to
 * free with g_free. */
char *smtp_auth_plain(const char *user, const char *password);

#endif
