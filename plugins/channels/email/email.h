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

/* One SMTP server of the channel. */
struct smtp_server {
    char *url;                /* smtp:// or smtps://, without credentials */
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
    CURLSH *smtp_share;             /* connections kept for reuse */
    uv_mutex_t smtp_share_locks[CURL_LOCK_DATA_LAST];
    unsigned smtp_running;          /* transfers on worker threads */
    GQueue smtp_waiting;            /* struct smtp_transfer *, in order */
    GQueue smtp_idle;               /* CURL * kept for the next message */
    unsigned in_flight;             /* deliveries started, not finished */
    uint64_t error_logged_ms;       /* loop time of the last error log */
    unsigned errors_unlogged;       /* errors since, not logged */
    int stopping;
    crier_stop_cb stop_done;
    void *stop_arg;
};

/* One message on its way out. Nothing in it points into the core's
 * struct crier_message, which is only valid until `done` runs. */
struct email_delivery {
    struct email *email;
    GString *message;         /* the whole message, CRLF line ends */
    char *message_id;         /* "<hex@domain>" */
    char *to;
    crier_send_cb done;
    void *arg;
};

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
 * Writes the message into the outbox on a libuv worker thread. Returns 0,
 * or a negative code when it could not start (nothing is then reported).
 */
int maildir_deliver(struct email_delivery *delivery);

/* Sends the message with libcurl on the core's multi handle. Returns as
 * maildir_deliver does. */
int smtp_deliver(struct email_delivery *delivery);

/* Reports every transfer that waits for a connection as a retry. */
void smtp_abandon_waiting(struct email *email);

/* Prepares and frees the SMTP side: the share handle and its locks. */
int smtp_share_open(struct email *email);
void smtp_share_close(struct email *email);

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
