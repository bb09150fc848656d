/*
 * Building an Internet message (RFC 5322 with MIME, RFC 2045-2047) from a
 * rendered crier message. Pure functions: the same input gives the same
 * bytes, so a resend of a message is byte-identical to the first send.
 */
#ifndef CRIER_EMAIL_MIME_H
#define CRIER_EMAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include <crier/channel.h>

/* Header lines are folded to at most this many characters. */
#define MIME_LINE_MAX 78

/* An encoded word ("=?UTF-8?B?...?=") is at most this long (RFC 2047). */
#define MIME_WORD_MAX 75

/* A quoted-printable line is at most this long, soft break included. */
#define MIME_QP_LINE_MAX 76

/* A mailbox: an optional display name and an address. */
struct mime_address {
    char *name;               /* UTF-8 display name, or NULL */
    char *address;            /* "local@domain" */
};

/*
 * Parses "Name <local@domain>", "\"Name, Title\" <local@domain>",
 * "<local@domain>" or a bare "local@domain" into `out`, whose strings are
 * then allocated with g_malloc. Returns 0, or CRIER_EINVAL with `out`
 * left empty and *reason set to a static message.
 */
int mime_address_parse(const char *text, struct mime_address *out,
                       const char **reason);

/* Frees the strings of `address` and empties it. */
void mime_address_clear(struct mime_address *address);

/* Returns nonzero when `address` is one SMTP can carry unmodified, as
 * email_address_valid (core/ingest/email_address.h) defines it. */
int mime_address_valid(const char *address);

/* Writes an RFC 5322 date for `ms` since the epoch, in UTC, into `buf`. */
void mime_date_format(int64_t ms, char *buf, size_t size);

/*
 * Appends the header "name: value" with `value` as unstructured text:
 * ASCII words folded at spaces, or else UTF-8 encoded words (RFC 2047).
 * Returns 0, or CRIER_EINVAL when `value` contains CR or LF or is not
 * valid UTF-8.
 */
int mime_header_append(GString *out, const char *name, const char *value);

/*
 * Appends the header "name: Display Name <local@domain>", encoding a
 * non-ASCII name. Returns 0 or CRIER_EINVAL as mime_header_append does.
 */
int mime_address_header_append(GString *out, const char *name,
                               const struct mime_address *address);

/*
 * Appends `len` bytes as quoted-printable (RFC 2045, section 6.7). A line
 * break in the input ("\n" or "\r\n") becomes CRLF; the output ends with
 * CRLF only when the input ends with a line break.
 */
void mime_qp_append(GString *out, const char *data, size_t len);

/* Writes the multipart boundary for `message_id` into `buf`: "=_crier_"
 * and the Message-ID's letters and digits, the same on every resend.
 * Quoted-printable never writes "=_", so no body line can match it. */
void mime_boundary_format(const char *message_id, char *buf, size_t size);

/* The sender fields and date, which struct crier_message lacks. */
struct mime_envelope {
    const struct mime_address *from;
    const struct mime_address *reply_to;   /* or NULL */
    int64_t date_ms;                       /* for the Date header */
    const char *unsubscribe_url;           /* one-click URL, or NULL */
};

/*
 * Appends the whole message for `msg` to `out`: headers, then a
 * text/plain body, or a multipart/alternative body when msg->html is set.
 * Lines end in CRLF. Returns 0, or CRIER_EINVAL with *reason set to a
 * static message when a header value is unusable; `out` is then left as
 * it was.
 */
int mime_message_build(GString *out, const struct crier_message *msg,
                       const struct mime_envelope *envelope,
                       const char **reason);

#endif
