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

/* The maximum of `connections`: one sender thread each. */
#define SMTP_CONNECTIONS_MAX 16

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

/*
 * The SMTP sender threads (smtp.c): the loop queues transfers, each thread
 * runs one transaction at a time, and finished transfers come back to the
 * loop in batches through one uv_async_t.
 */
struct smtp_senders {
    uv_mutex_t lock;                /* guards the queues and `exiting` */
    uv_cond_t wake;                 /* a transfer was queued, or exiting */
    GQueue waiting;                 /* struct smtp_transfer *, in order */
    GQueue finished;                /* transfers for the loop to report */
    int exiting;                    /* the threads leave when set */
    uv_async_t *finished_async;     /* wakes the loop for `finished` */
    uv_thread_t threads[SMTP_CONNECTIONS_MAX];
    unsigned thread_count;          /* threads started, not yet joined */
    int started;                    /* the lock, cond and async are set up */
    crier_stop_cb closed;           /* called once the async is closed */
    void *closed_arg;
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
    struct smtp_senders senders;
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
 * worker or sender thread can build the message off the loop.
 */
struct email_delivery {
    struct email *email;
    struct crier_message msg;       /* its strings are owned copies */
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

/* Queues the message for a sender thread, which builds and sends it.
 * Returns 0; the outcome is reported on a later loop turn. */
int smtp_deliver(struct email_delivery *delivery);

/* Reports every transfer that waits for a sender thread as a retry. */
void smtp_abandon_waiting(struct email *email);

/* Starts `connections` sender threads and the handle that brings their
 * results to the loop. Returns 0 or a negative code. */
int smtp_senders_start(struct email *email);

/*
 * Ends the idle sender threads and closes the loop handle, then calls
 * `done` on a later loop turn. Call it once no delivery is in flight.
 */
void smtp_senders_stop(struct email *email, crier_stop_cb done, void *arg);

/* Joins threads that smtp_senders_stop did not, for destroy after a
 * failed start. */
void smtp_senders_join(struct email *email);

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
