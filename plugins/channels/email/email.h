/*
 * The email channel's shared state. email.c reads the config and builds
 * each message; maildir.c or smtp.c then delivers it and reports through
 * email_delivery_finish.
 */
#ifndef CRIER_EMAIL_H
#define CRIER_EMAIL_H

#include <glib.h>

#include <crier/crier.h>

#include "bounces.h"
#include "dkim.h"
#include "dsn.h"
#include "imap.h"
#include "mime.h"

/* The maximum number of SMTP servers in `urls`. */
#define SMTP_SERVERS_MAX 8

/* The maximum of `connections`: SMTP connections open at once. */
#define SMTP_CONNECTIONS_MAX 16

/* One SMTP server of the channel. */
struct smtp_server {
    char *url;                /* smtp:// or smtps://, without credentials */
    char *host;               /* a name or an address, without [] */
    unsigned port;            /* 25 or 465 when the URL gives none */
    int implicit_tls;         /* smtps://: TLS from the first byte */
    int starttls;             /* require STARTTLS on smtp:// */
};

struct smtp_settings {
    /* In the order of failover: a message goes to the next server when
     * one is down (see smtp.c). */
    struct smtp_server servers[SMTP_SERVERS_MAX];
    size_t server_count;      /* 0 for a Maildir outbox */
    char *username;           /* NULL when the server needs no login */
    char *password;
    char *ca_file;            /* PEM certificates to trust, or NULL */
    long timeout_ms;          /* for the whole transaction */
    long connect_timeout_ms;
    unsigned connections;     /* SMTP transactions at once */
};

struct email {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    struct mime_address from;
    struct mime_address reply_to;   /* address is NULL when not set */
    char *outbox;                   /* absolute path, or NULL for SMTP */
    char *unsubscribe_key;          /* HMAC key of unsubscribe tokens */
    struct smtp_settings smtp;
    struct bounce_settings bounces; /* VERP and provider events */
    struct dkim_signer *dkim;       /* NULL when crier does not sign */
    struct imap_poll *imap;         /* the bounce mailbox, or NULL */
    struct smtp_pool *pool;         /* SMTP connections, or NULL */
    unsigned in_flight;             /* deliveries started, not finished */
    uint64_t error_logged_ms;       /* loop time of the last error log */
    unsigned errors_unlogged;       /* errors since, not logged */
    int stopping;
    crier_stop_cb stop_done;
    void *stop_arg;
};

/*
 * One message on its way out. Nothing in it points into the core's
 * struct crier_message, which is only valid until `done` runs: `msg`
 * contains copies of the fields that the MIME builder reads, so that a
 * libuv worker thread can build the message off the loop.
 */
struct email_delivery {
    struct email *email;
    struct crier_message msg;       /* its strings are copies stored
                                       after the struct */
    int64_t date_ms;                /* the crier clock at `send` */
    char *unsubscribe_url;          /* one-click URL, or NULL */
    GString *message;               /* built by email_delivery_build */
    const char *build_error;        /* why the build failed, or NULL */
    crier_send_cb done;
    void *arg;
};

/*
 * Builds the whole message into delivery->message, CRLF line ends.
 * Returns 0, or CRIER_EINVAL with delivery->build_error set when a header
 * value is unusable. It reads only the delivery and the channel's
 * settings, so any thread may call it.
 */
int email_delivery_build(struct email_delivery *delivery);

/*
 * Reports the outcome of `delivery` to the core and frees it. Called once
 * for every delivery that maildir_deliver or smtp_deliver accepted.
 */
void email_delivery_finish(struct email_delivery *delivery,
                           const struct crier_send_result *result);

/* Ends one piece of work counted in `in_flight` (a delivery, a webhook
 * request), and completes a stop that waited for it. */
void email_work_done(struct email *email);

/*
 * Logs a delivery error at most once a minute, with the number of errors
 * left unlogged since the last one: an outage fails every job in turn,
 * and the core already logs each job's retry.
 */
void email_error_log(struct email *email, const char *msg,
                     const char *fields_fmt, ...) CRIER_PRINTF(3, 4);

/*
 * Creates the outbox and its tmp, new and cur folders if missing.
 * Returns 0, or CRIER_EIO with errno telling why. Safe on any thread.
 */
int maildir_prepare(const char *outbox);

/*
 * Builds the message and writes it into the outbox on a libuv worker
 * thread. Returns 0, or a negative code when it could not start (nothing
 * is then reported).
 */
int maildir_deliver(struct email_delivery *delivery);

/* Builds the message on a libuv worker thread, then queues it for an
 * SMTP connection. Returns 0, and the outcome is reported on a later
 * loop turn. */
int smtp_deliver(struct email_delivery *delivery);

/* Reports every delivery that waits for a connection as a retry. */
void smtp_abandon_waiting(struct email *email);

/* Creates the connection pool. Returns 0 or a negative code. */
int smtp_pool_start(struct email *email);

/*
 * Closes the pool's connections, with QUIT on each idle one, then calls
 * `done` on a later loop turn. Call it once no delivery is in flight.
 */
void smtp_pool_stop(struct email *email, crier_stop_cb done, void *arg);

/* Frees what smtp_pool_stop left, for destroy after a failed start. */
void smtp_pool_free(struct email *email);

/* Returns the HMAC key of unsubscribe tokens for the configured secret;
 * free with g_free. */
char *unsubscribe_key_derive(const char *secret);

/*
 * Returns the one-click unsubscribe URL for the job `key` and `address`,
 * to free with g_free, or NULL when the token would be too long.
 */
char *unsubscribe_url_build(struct email *email, const char *key,
                            const char *address);

/* Adds GET and POST /u/{token}. Returns 0 or the code of route_add. */
int unsubscribe_routes_add(struct email *email);

#endif
