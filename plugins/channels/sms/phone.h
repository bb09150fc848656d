/*
 * Phone numbers to E.164 ("+" and up to 15 digits), with a default region
 * for national numbers.
 *
 * Why a narrow parser and not libphonenumber: libphonenumber is C++ (with
 * protobuf and ICU behind it), is not installed on the build machines, and
 * would need a C shim and a C++ runtime inside a C plugin. The channel
 * needs less. It turns what a resident or an import typed into E.164 and
 * rejects what cannot be a number. It completes national numbers only for
 * the few regions in the table in phone.c. It does not know which ranges
 * a country has allocated, nor mobiles from landlines, so the provider
 * rejects such numbers (Twilio error 21211, invalid 'To').
 * docs/channels/sms.md lists the rows of GOV.UK Notify's test vectors
 * where the result differs.
 */
#ifndef CRIER_SMS_PHONE_H
#define CRIER_SMS_PHONE_H

#include <stddef.h>

#define PHONE_E164_MAX 16          /* "+" and 15 digits */

enum phone_error {
    PHONE_OK = 0,
    PHONE_UNKNOWN_CHARACTER,       /* a letter or a symbol */
    PHONE_TOO_SHORT,
    PHONE_TOO_LONG,
    PHONE_INVALID                  /* wrong length or form for its country */
};

/* One region a national number may belong to. */
struct phone_region {
    const char *code;              /* ISO 3166-1 alpha-2, "US" */
    const char *country_code;      /* "1" */
    const char *trunk_prefix;      /* dialled before a national number */
    const char *idd_prefix;        /* dialled before a country code */
    int nsn_min, nsn_max;          /* digits after the country code */
};

/* Returns the region of ISO code `code` (case ignored), or NULL. */
const struct phone_region *phone_region_find(const char *code);

/*
 * Writes `input` as E.164 into `out` (NUL-terminated). Spaces, dots,
 * dashes, slashes, brackets, a "(0)" after the country code and invisible
 * format characters are dropped. A number without "+" or `region`'s
 * international prefix is national to `region`, which may be NULL when
 * only international numbers are accepted.
 */
enum phone_error phone_to_e164(const char *input,
                               const struct phone_region *region,
                               char out[PHONE_E164_MAX + 1]);

/* Returns a short phrase for `error`, such as "is too long". */
const char *phone_error_text(enum phone_error error);

#endif
