/*
 * OpenSSL behind memory BIOs for smtp_conn.c (see smtp_tls.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "smtp_tls.h"

struct smtp_tls {
    SSL *ssl;
    BIO *in;                        /* bytes from the server */
    BIO *out;                       /* bytes for the server */
};


SSL_CTX *
smtp_tls_context_new(const char *ca_file, char *error, size_t size)
{
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    int loaded;

    if (context == NULL) {
        snprintf(error, size, "TLS context not created");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    loaded = ca_file != NULL
             ? SSL_CTX_load_verify_locations(context, ca_file, NULL)
             : SSL_CTX_set_default_verify_paths(context);
    if (loaded != 1) {
        snprintf(error, size, "certificates not loaded from %s",
                 ca_file != NULL ? ca_file : "the system store");
        SSL_CTX_free(context);
        return NULL;
    }
    return context;
}


/* Sets the name or address the certificate must match, and SNI for a
 * name (RFC 6066 allows no IP address there). */
static int
peer_name_set(SSL *ssl, const char *host)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1)
        return 1;
    return SSL_set_tlsext_host_name(ssl, host) == 1 &&
           SSL_set1_host(ssl, host) == 1;
}


struct smtp_tls *
smtp_tls_new(SSL_CTX *context, const char *host)
{
    struct smtp_tls *tls = g_new0(struct smtp_tls, 1);

    tls->ssl = SSL_new(context);
    tls->in = BIO_new(BIO_s_mem());
    tls->out = BIO_new(BIO_s_mem());
    if (tls->ssl == NULL || tls->in == NULL || tls->out == NULL) {
        BIO_free(tls->in);
        BIO_free(tls->out);
        SSL_free(tls->ssl);
        g_free(tls);
        return NULL;
    }
    /* The session owns both BIOs from here. */
    SSL_set_bio(tls->ssl, tls->in, tls->out);
    SSL_set_connect_state(tls->ssl);
    if (!peer_name_set(tls->ssl, host)) {
        smtp_tls_free(tls);
        return NULL;
    }
    return tls;
}


void
smtp_tls_free(struct smtp_tls *tls)
{
    if (tls == NULL)
        return;
    SSL_free(tls->ssl);
    g_free(tls);
}


void
smtp_tls_feed(struct smtp_tls *tls, const char *data, size_t len)
{
    BIO_write(tls->in, data, (int) len);
}


int
smtp_tls_handshake(struct smtp_tls *tls, char *error, size_t size)
{
    int rc = SSL_do_handshake(tls->ssl);
    long verify;

    if (rc == 1)
        return 1;
    if (SSL_get_error(tls->ssl, rc) == SSL_ERROR_WANT_READ)
        return 0;
    verify = SSL_get_verify_result(tls->ssl);
    if (verify != X509_V_OK)
        snprintf(error, size, "TLS handshake failed: server certificate "
                 "not trusted: %s", X509_verify_cert_error_string(verify));
    else
        snprintf(error, size, "TLS handshake failed: %s",
                 ERR_reason_error_string(ERR_peek_last_error())
                 ? ERR_reason_error_string(ERR_peek_last_error())
                 : "connection closed");
    ERR_clear_error();
    return -1;
}


ssize_t
smtp_tls_read(struct smtp_tls *tls, char *buf, size_t size)
{
    int rc = SSL_read(tls->ssl, buf, (int) size);

    if (rc > 0)
        return rc;
    if (SSL_get_error(tls->ssl, rc) == SSL_ERROR_WANT_READ)
        return 0;
    ERR_clear_error();
    return -1;
}


int
smtp_tls_write(struct smtp_tls *tls, const char *data, size_t len)
{
    /* A memory BIO grows as needed, so the write does not wait for the
     * socket. */
    if (len == 0)
        return 0;
    if (SSL_write(tls->ssl, data, (int) len) != (int) len) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}


void
smtp_tls_output_take(struct smtp_tls *tls, GString *out)
{
    size_t pending = BIO_ctrl_pending(tls->out);

    if (pending == 0)
        return;
    g_string_set_size(out, out->len + pending);
    BIO_read(tls->out, out->str + out->len - pending, (int) pending);
}
