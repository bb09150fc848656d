#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <crier/error.h>

#include "signature.h"

/* Unix seconds have 10 digits until the year 2286. Twelve leave room and
 * keep the value far from overflow when turned into milliseconds. */
#define TIMESTAMP_MAX_DIGITS 12

/* Unit tests define this to count the bytes signature_equal reads. */
#ifndef SIGNATURE_PROBE
#define SIGNATURE_PROBE() ((void) 0)
#endif


static int
reject(struct crier_input_error *err, const char *field, const char *message)
{
    snprintf(err->field, sizeof(err->field), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", message);
    err->index = -1;
    return CRIER_EINVAL;
}


void
signature_compute(const char *secret, const char *timestamp,
                  const char *body, size_t body_len,
                  char hex[SIGNATURE_HEX_LEN + 1])
{
    GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *) secret,
                             strlen(secret));

    g_hmac_update(hmac, (const guchar *) timestamp, -1);
    g_hmac_update(hmac, (const guchar *) ".", 1);
    g_hmac_update(hmac, (const guchar *) body, (gssize) body_len);
    snprintf(hex, SIGNATURE_HEX_LEN + 1, "%s", g_hmac_get_string(hmac));
    g_hmac_unref(hmac);
}


int
signature_equal(const char *a, const char *b, size_t len)
{
    volatile unsigned char diff = 0;

    for (size_t i = 0; i < len; i++) {
        SIGNATURE_PROBE();
        diff |= (unsigned char) (a[i] ^ b[i]);
    }
    return diff == 0;
}


/* Parses whole Unix seconds: digits only, no sign, no spaces. */
static int
timestamp_parse(const char *text, int64_t *seconds)
{
    size_t len = strlen(text);
    int64_t value = 0;

    if (len == 0 || len > TIMESTAMP_MAX_DIGITS)
        return CRIER_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return CRIER_EINVAL;
        value = value * 10 + (text[i] - '0');
    }
    *seconds = value;
    return 0;
}


/*
 * Writes a positive duration in milliseconds as seconds, with only the
 * digits of the fraction that are needed: 301000 as "301", 300500 as
 * "300.5". The clock has milliseconds and the timestamp whole seconds, so
 * the difference can have a fraction, and rounding it could print a number
 * within the tolerance for a request that is outside it.
 */
static void
seconds_format(int64_t ms, char *buf, size_t size)
{
    int64_t fraction = ms % 1000;
    int digits = 3;

    if (fraction == 0) {
        snprintf(buf, size, "%lld", (long long) (ms / 1000));
        return;
    }
    while (fraction % 10 == 0) {
        fraction /= 10;
        digits--;
    }
    snprintf(buf, size, "%lld.%0*lld", (long long) (ms / 1000), digits,
             (long long) fraction);
}


static int
timestamp_check(const char *text, int64_t tolerance_s, int64_t now_ms,
                struct crier_input_error *err)
{
    int64_t seconds, skew_ms;
    char message[sizeof(err->message)];
    char skew[32];

    if (text == NULL)
        return reject(err, SIGNATURE_TIMESTAMP_HEADER, "is missing; send "
                      "the Unix time in seconds at which the request was "
                      "signed");
    if (timestamp_parse(text, &seconds) != 0)
        return reject(err, SIGNATURE_TIMESTAMP_HEADER, "must be the Unix "
                      "time in whole seconds, such as 1767225600");

    skew_ms = now_ms - seconds * 1000;
    if (skew_ms > tolerance_s * 1000) {
        seconds_format(skew_ms, skew, sizeof(skew));
        snprintf(message, sizeof(message), "is %s s old, more than the "
                 "%lld s allowed; sign each request when it is sent", skew,
                 (long long) tolerance_s);
        return reject(err, SIGNATURE_TIMESTAMP_HEADER, message);
    }
    if (-skew_ms > tolerance_s * 1000) {
        seconds_format(-skew_ms, skew, sizeof(skew));
        snprintf(message, sizeof(message), "is %s s in the future, more "
                 "than the %lld s allowed; check the sender's clock", skew,
                 (long long) tolerance_s);
        return reject(err, SIGNATURE_TIMESTAMP_HEADER, message);
    }
    return 0;
}


/* Returns the hex digest of a "sha256=<hex>" header, or NULL when the
 * header does not have that form. */
static const char *
signature_digest(const char *header)
{
    size_t prefix_len = strlen(SIGNATURE_PREFIX);
    const char *hex;

    if (strncmp(header, SIGNATURE_PREFIX, prefix_len) != 0)
        return NULL;
    hex = header + prefix_len;
    if (strlen(hex) != SIGNATURE_HEX_LEN)
        return NULL;
    for (size_t i = 0; i < SIGNATURE_HEX_LEN; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') ||
              (hex[i] >= 'a' && hex[i] <= 'f')))
            return NULL;
    return hex;
}


int
signature_verify(const char *const *secrets, size_t secret_count,
                 int64_t tolerance_s, int64_t now_ms,
                 const struct signed_request *request,
                 struct crier_input_error *err)
{
    char expected[SIGNATURE_HEX_LEN + 1];
    const char *digest;
    int matches = 0;
    int rc;

    if (request->signature == NULL)
        return reject(err, SIGNATURE_HEADER, "is missing; send "
                      "sha256=<hex HMAC-SHA256 of the timestamp, '.' and "
                      "the body>");
    if (strncmp(request->signature, SIGNATURE_PREFIX,
                strlen(SIGNATURE_PREFIX)) != 0)
        return reject(err, SIGNATURE_HEADER, "must start with \"sha256=\"");
    digest = signature_digest(request->signature);
    if (digest == NULL)
        return reject(err, SIGNATURE_HEADER, "must be \"sha256=\" followed "
                      "by 64 lowercase hex digits");

    rc = timestamp_check(request->timestamp, tolerance_s, now_ms, err);
    if (rc != 0)
        return rc;

    /* Every secret is tried, also after a match, so the time taken does
     * not show which secret of the list signed the request. */
    for (size_t i = 0; i < secret_count; i++) {
        signature_compute(secrets[i], request->timestamp, request->body,
                          request->body_len, expected);
        matches |= signature_equal(digest, expected, SIGNATURE_HEX_LEN);
    }
    if (!matches)
        return reject(err, SIGNATURE_HEADER, "does not match; sign the "
                      "timestamp, a '.' and the raw body with the shared "
                      "secret");
    return 0;
}
