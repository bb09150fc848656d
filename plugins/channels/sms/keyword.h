/*
 * Reply keywords and Twilio's request signature, kept apart from the
 * route so the unit tests can reach them.
 */
#ifndef CRIER_SMS_KEYWORD_H
#define CRIER_SMS_KEYWORD_H

#include <stddef.h>

#include <glib.h>

enum sms_keyword {
    SMS_KEYWORD_NONE = 0,         /* ordinary text: an inbound message */
    SMS_KEYWORD_STOP,
    SMS_KEYWORD_START,
    SMS_KEYWORD_HELP
};

/*
 * Returns the keyword that the whole of `body` is, after trimming white
 * space and ignoring case. STOP, STOP ALL, STOPALL, UNSUBSCRIBE, CANCEL,
 * END and QUIT opt out, START, UNSTOP and YES opt in, and HELP requests
 * help. Text that only contains a keyword ("Please stop the noise")
 * gives SMS_KEYWORD_NONE.
 */
enum sms_keyword sms_keyword_parse(const char *body);

/* One field of an application/x-www-form-urlencoded body, decoded. */
struct form_field {
    char *name;
    char *value;
};

/*
 * Decodes a form body into a GPtrArray of struct form_field *, which
 * frees its fields. Returns NULL when a percent escape is invalid.
 */
GPtrArray *form_parse(const char *body, size_t len);

/* Returns the value of the first field `name`, or NULL. */
const char *form_get(GPtrArray *fields, const char *name);

/*
 * Returns Twilio's signature of a request: the base64 HMAC-SHA1, keyed
 * with the auth token, of `url` followed by each POST field's name and
 * value, fields sorted by name. Free with g_free.
 */
char *twilio_signature_compute(const char *auth_token, const char *url,
                               GPtrArray *fields);

#endif
