/*
 * TLS for the SMTP client over memory BIOs: OpenSSL never touches the
 * socket. The connection feeds it the bytes it reads and sends the bytes
 * it produces, so TLS runs on the uv stream like plain text does.
 */
#ifndef CRIER_SMTP_TLS_H
#define CRIER_SMTP_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include <glib.h>
#include <openssl/ssl.h>

struct smtp_tls;

/*
 * Returns a client context that verifies servers against the PEM file
 * `ca_file`, or the system's certificates when it is NULL, or NULL with
 * the reason in `error`.
 */
SSL_CTX *smtp_tls_context_new(const char *ca_file, char *error,
                              size_t size);

/* Starts a session that checks the certificate against `host` (a name,
 * or an IP address without brackets) and sends a name as SNI. */
struct smtp_tls *smtp_tls_new(SSL_CTX *context, const char *host);

void smtp_tls_free(struct smtp_tls *tls);

/* Hands `len` bytes read from the socket to OpenSSL. */
void smtp_tls_feed(struct smtp_tls *tls, const char *data, size_t len);

/*
 * Advances the handshake with the bytes fed so far. Returns 1 once it is
 * done, 0 while it needs more input, -1 on failure with the reason in
 * `error` (a failed certificate check names it).
 */
int smtp_tls_handshake(struct smtp_tls *tls, char *error, size_t size);

/* Decrypts into `buf`. Returns the bytes read, 0 when it needs more
 * input, -1 when the session failed or the server closed it. */
ssize_t smtp_tls_read(struct smtp_tls *tls, char *buf, size_t size);

/* Encrypts `len` bytes for sending. Returns 0 or -1. */
int smtp_tls_write(struct smtp_tls *tls, const char *data, size_t len);

/* Moves the bytes OpenSSL produced for the socket to the end of `out`. */
void smtp_tls_output_take(struct smtp_tls *tls, GString *out);

#endif
