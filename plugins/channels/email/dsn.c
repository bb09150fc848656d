/*
 * Bounce and complaint reports, parsed with GMime. A report is a
 * multipart/report message:
 *
 * - a delivery status notification (RFC 3464) has a message/delivery-
 *   status part: a block of per-message fields, then one block per
 *   recipient with Final-Recipient, Action, Status and Diagnostic-Code;
 * - an abuse report (RFC 5965) has a message/feedback-report part with
 *   Feedback-Type and Original-Rcpt-To.
 *
 * Both may quote the original message (message/rfc822) or its header
 * (text/rfc822-headers). GMime splits the MIME structure; the status
 * fields, which GMime leaves as text, are read here line by line.
 */
#include <string.h>

#include <gmime/gmime.h>

#include "bounces.h"
#include "dsn.h"
#include "email.h"

static unsigned library_users;

/* The parts of one report, gathered in one walk. */
struct report {
    char *status_fields;      /* message/delivery-status text */
    char *feedback_fields;    /* message/feedback-report text */
    char *original_id;        /* Message-ID of the quoted original */
    char *original_to;        /* its To address */
};


void
dsn_library_open(void)
{
    if (library_users++ == 0)
        g_mime_init();
}


void
dsn_library_close(void)
{
    if (library_users > 0 && --library_users == 0)
        g_mime_shutdown();
}


/* Returns the decoded content of a leaf part as text. Free with
 * g_free. */
static char *
part_text(GMimeObject *part)
{
    GMimeDataWrapper *content;
    GMimeStream *mem;
    GByteArray *bytes;
    char *text;

    if (!GMIME_IS_PART(part))
        return NULL;
    content = g_mime_part_get_content(GMIME_PART(part));
    if (content == NULL)
        return NULL;
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    text = g_strndup((const char *) bytes->data, bytes->len);
    g_object_unref(mem);
    return text;
}


/* Returns the first address of a header value, lowercased, or NULL. */
static char *
address_first(const char *value)
{
    InternetAddressList *list;
    InternetAddress *first;
    char *out = NULL;

    if (value == NULL)
        return NULL;
    list = internet_address_list_parse(NULL, value);
    if (list == NULL)
        return NULL;
    first = internet_address_list_length(list) > 0
            ? internet_address_list_get_address(list, 0) : NULL;
    if (first != NULL && INTERNET_ADDRESS_IS_MAILBOX(first))
        out = g_ascii_strdown(internet_address_mailbox_get_addr(
            INTERNET_ADDRESS_MAILBOX(first)), -1);
    g_object_unref(list);
    return out;
}


/* Reads the Message-ID and To of the quoted original: a whole message,
 * or only its header, which parses as a message with no body. */
static void
original_read(struct report *r, GMimeMessage *original)
{
    const char *id;

    if (original == NULL || r->original_id != NULL)
        return;
    id = g_mime_message_get_message_id(original);
    if (id != NULL && id[0] != '\0')
        r->original_id = g_strdup_printf("<%s>", id);
    r->original_to = address_first(g_mime_object_get_header(
        GMIME_OBJECT(original), "To"));
}


static GMimeMessage *
message_parse(const char *data, size_t len)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *message = g_mime_parser_construct_message(parser, NULL);

    g_object_unref(parser);
    g_object_unref(stream);
    return message;
}


static void
part_visit(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    struct report *r = data;
    GMimeContentType *type = g_mime_object_get_content_type(part);

    (void) parent;
    if (g_mime_content_type_is_type(type, "message", "delivery-status") &&
        r->status_fields == NULL) {
        r->status_fields = part_text(part);
    } else if (g_mime_content_type_is_type(type, "message",
                                           "feedback-report") &&
               r->feedback_fields == NULL) {
        r->feedback_fields = part_text(part);
    } else if (GMIME_IS_MESSAGE_PART(part)) {
        original_read(r, g_mime_message_part_get_message(
            GMIME_MESSAGE_PART(part)));
    } else if (g_mime_content_type_is_type(type, "text", "rfc822-headers")) {
        char *text = part_text(part);

        if (text != NULL) {
            GMimeMessage *header = message_parse(text, strlen(text));

            original_read(r, header);
            if (header != NULL)
                g_object_unref(header);
            g_free(text);
        }
    }
}


/*
 * Returns the value of field `name` in one block of status fields,
 * without its type prefix ("rfc822; ana@example.gov" gives
 * "ana@example.gov" when `typed`), unfolded and trimmed. Free with
 * g_free.
 */
static char *
field_get(const char *block, const char *name, int typed)
{
    size_t len = strlen(name);
    const char *line = block;

    while (line != NULL && *line != '\0') {
        const char *next = strchr(line, '\n');

        if (g_ascii_strncasecmp(line, name, len) == 0 && line[len] == ':') {
            GString *value = g_string_new(NULL);
            const char *p = line + len + 1;
            char *semicolon;

            /* The value, with its folded continuation lines. */
            for (;;) {
                const char *end = strchr(p, '\n');

                g_string_append_len(value, p, end ? end - p : (long) strlen(p));
                if (end == NULL || (end[1] != ' ' && end[1] != '\t'))
                    break;
                p = end + 1;
            }
            g_strdelimit(value->str, "\r\t", ' ');
            semicolon = typed ? strchr(value->str, ';') : NULL;
            if (semicolon != NULL)
                g_string_erase(value, 0, semicolon + 1 - value->str);
            return g_strstrip(g_string_free(value, FALSE));
        }
        line = next != NULL ? next + 1 : NULL;
    }
    return NULL;
}


/* Splits status fields into blocks at blank lines. Free with
 * g_strfreev. */
static char **
blocks_split(const char *fields)
{
    char *unix_text = g_strdup(fields);
    GPtrArray *blocks = g_ptr_array_new();
    char **parts;

    /* CRLF to LF, so that a blank line is "\n\n". */
    for (char *s = unix_text, *d = unix_text;; s++) {
        if (*s != '\r')
            *d++ = *s;
        if (*s == '\0')
            break;
    }
    parts = g_strsplit(unix_text, "\n\n", -1);
    for (size_t i = 0; parts[i] != NULL; i++)
        if (g_strstrip(parts[i])[0] != '\0')
            g_ptr_array_add(blocks, g_strdup(parts[i]));
    g_ptr_array_add(blocks, NULL);
    g_strfreev(parts);
    g_free(unix_text);
    return (char **) g_ptr_array_free(blocks, FALSE);
}


/* Returns the id that makes a second reading of the same report a
 * duplicate: the report's own Message-ID and the recipient. */
static char *
event_id(GMimeMessage *message, const char *recipient)
{
    const char *id = g_mime_message_get_message_id(message);

    return id != NULL ? g_strdup_printf("report/%.200s/%.40s", id,
                                        recipient)
                      : NULL;
}


/* Adds an event for each recipient block of a DSN. The first block
 * holds the per-message fields. */
static size_t
status_events_add(GMimeMessage *message, const struct report *r,
                  const char *message_id, json_t *events)
{
    char **blocks = blocks_split(r->status_fields);
    size_t added = 0;

    for (size_t i = 1; blocks[0] != NULL && blocks[i] != NULL; i++) {
        char *to = field_get(blocks[i], "Final-Recipient", 1);
        char *action = field_get(blocks[i], "Action", 0);
        char *status = field_get(blocks[i], "Status", 0);
        char *text = field_get(blocks[i], "Diagnostic-Code", 1);
        const char *type = NULL;
        char *id;

        if (action != NULL && g_ascii_strcasecmp(action, "failed") == 0)
            type = "email.bounced";
        else if (action != NULL &&
                 (g_ascii_strcasecmp(action, "delivered") == 0 ||
                  g_ascii_strcasecmp(action, "relayed") == 0))
            type = "email.delivered";
        /* "delayed" and "expanded" are not final. */
        if (type != NULL && to != NULL) {
            char *lower = g_ascii_strdown(to, -1);

            id = event_id(message, lower);
            json_array_append_new(events, bounce_event_build(
                type, message_id, lower, status, text,
                status != NULL && status[0] == '5', id));
            g_free(id);
            g_free(lower);
            added++;
        }
        g_free(to);
        g_free(action);
        g_free(status);
        g_free(text);
    }
    g_strfreev(blocks);
    return added;
}


static size_t
feedback_events_add(GMimeMessage *message, const struct report *r,
                    const char *message_id, json_t *events)
{
    char *kind = field_get(r->feedback_fields, "Feedback-Type", 0);
    char *rcpt = field_get(r->feedback_fields, "Original-Rcpt-To", 0);
    char *to = rcpt != NULL ? address_first(rcpt) : NULL;
    size_t added = 0;

    if (to == NULL && r->original_to != NULL)
        to = g_strdup(r->original_to);
    /* Every feedback type but "not-spam" is a complaint of the reader. */
    if (to != NULL && (kind == NULL ||
                       g_ascii_strcasecmp(kind, "not-spam") != 0)) {
        char *id = event_id(message, to);

        json_array_append_new(events, bounce_event_build(
            "email.complained", message_id, to, NULL, kind, 0, id));
        g_free(id);
        added = 1;
    }
    g_free(kind);
    g_free(rcpt);
    g_free(to);
    return added;
}


/* Returns the Message-ID that a VERP address among the report's
 * recipient headers names, or NULL. */
static char *
verp_find(const struct email *email, GMimeMessage *message)
{
    static const char *const headers[] = {
        "Delivered-To", "X-Original-To", "To", NULL
    };

    for (size_t i = 0; headers[i] != NULL; i++) {
        char *address = address_first(g_mime_object_get_header(
            GMIME_OBJECT(message), headers[i]));
        char *id = verp_message_id(email, address);

        g_free(address);
        if (id != NULL)
            return id;
    }
    return NULL;
}


size_t
dsn_events_add(const struct email *email, const char *data, size_t len,
               json_t *events)
{
    GMimeMessage *message = message_parse(data, len);
    struct report r = { 0 };
    char *message_id;
    size_t added = 0;

    if (message == NULL)
        return 0;
    g_mime_message_foreach(message, part_visit, &r);
    /* The signed VERP address is trusted before the quoted Message-ID,
     * which anyone can copy into a report. */
    message_id = verp_find(email, message);
    if (message_id == NULL && r.original_id != NULL)
        message_id = g_strdup(r.original_id);
    if (message_id != NULL && r.status_fields != NULL)
        added = status_events_add(message, &r, message_id, events);
    else if (message_id != NULL && r.feedback_fields != NULL)
        added = feedback_events_add(message, &r, message_id, events);
    g_free(message_id);
    g_free(r.status_fields);
    g_free(r.feedback_fields);
    g_free(r.original_id);
    g_free(r.original_to);
    g_object_unref(message);
    return added;
}
