/*
 * Signed webhooks. The sender puts the Unix time in seconds in
 * X-Crier-Timestamp and "sha256=" followed by the lowercase hex
 * HMAC-SHA256 of the timestamp, a '.' and the raw body in
 * X-Crier-Signature, keyed with the secret both sides share.
 */
#ifndef CRIER_CASE_SIGNATURE_H
#define CRIER_CASE_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include <crier/host.h>

#define SIGNATURE_TIMESTAMP_HEADER "X-Crier-Timestamp"
#define SIGNATURE_HEADER "X-Crier-Signature"
#define SIGNATURE_PREFIX "sha256="
#define SIGNATURE_HEX_LEN 64

/* The parts of a request that its signature covers or carries. */
struct signed_request {
    const char *timestamp;      /* X-Crier-Timestamp, or NULL */
    const char *signature;      /* X-Crier-Signature, or NULL */
    const char *body;
    size_t body_len;
};

/*
 * Writes the lowercase hex HMAC-SHA256 of `timestamp` "." `body`, keyed
 * with `secret`, into `hex` as a NUL-terminated string.
 */
void signature_compute(const char *secret, const char *timestamp,
                       const char *body, size_t body_len,
                       char hex[SIGNATURE_HEX_LEN + 1]);

/*
 * Returns nonzero when the first `len` bytes of `a` and `b` are equal.
 * It reads every byte whatever the contents, so the time it takes does
 * not show where two digests differ.
 */
int signature_equal(const char *a, const char *b, size_t len);

/*
 * Checks `request` against each of the `secret_count` secrets, so that a
 * case system may sign with any secret of a rotation. The timestamp must
 * lie within `tolerance_s` seconds of `now_ms` (milliseconds since the
 * Unix epoch) in either direction. Returns 0 when the request is
 * authentic, or CRIER_EINVAL with `err->field` naming the header at fault
 * and `err->message` saying why.
 */
int signature_verify(const char *const *secrets, size_t secret_count,
                     int64_t tolerance_s, int64_t now_ms,
                     const struct signed_request *request,
                     struct crier_input_error *err);

#endif
