/*
 * One SMTP client connection on the libuv loop (smtp_conn.c): connect,
 * greeting, EHLO, STARTTLS, AUTH, then one transaction at a time, kept
 * open for the next. smtp.c owns the pool of connections and the queue.
 */
#ifndef CRIER_SMTP_CONN_H
#define CRIER_SMTP_CONN_H

#include <uv.h>

#include "email.h"
#include "smtp_tls.h"

/* The cause that ended a transaction. */
enum smtp_error {
    SMTP_OK = 0,
    SMTP_ERESOLVE,                  /* the host name did not resolve */
    SMTP_ECONNECT,                  /* the connection was refused */
    SMTP_ETIMEDOUT,                 /* connect_timeout_ms or timeout_ms */
    SMTP_ECLOSED,                   /* the server closed the connection */
    SMTP_EIO,                       /* a socket error */
    SMTP_ETLS,                      /* STARTTLS missing, handshake failed */
    SMTP_ELOGIN,                    /* AUTH rejected or not possible */
    SMTP_EREPLY,                    /* a 4xx or 5xx reply */
    SMTP_EPROTOCOL,                 /* a reply that is not SMTP */
};

/* The outcome of one try, which smtp.c classifies. */
struct smtp_outcome {
    enum smtp_error error;
    char command[8];                /* the command of `reply`, or the one
                                       awaited: "MAIL"; "" for the greeting */
    char reply[256];                /* the deciding reply line, or "" */
    int code;                       /* its code, or 0 */
    char text[256];                 /* what failed, when no reply did */
};

/* One transaction to run. smtp.c owns it, and the connection fills
 * `outcome`. */
struct smtp_job {
    const char *from;               /* reverse path, without <> */
    const char *to;
    GBytes *message;                /* dot-stuffed and ending in
                                       CRLF.CRLF (smtp_data_prepare) */
    size_t size;                    /* the message's length before
                                       dot-stuffing, for SIZE= */
    int eight_bit;                  /* the message has non-ASCII bytes */
    size_t server;                  /* the index of the server to use */
    struct smtp_outcome outcome;
    void *data;                     /* smtp.c's */
};

struct smtp_conn;

/* The state that the connections of one pool share. */
struct smtp_conn_env {
    uv_loop_t *loop;
    const struct smtp_settings *settings;
    SSL_CTX *tls;                   /* NULL when no server uses TLS */
    char helo_name[256];            /* this host's name for EHLO */
    unsigned pending;               /* handles and requests still open */
    /* A connection ended `job`. */
    void (*job_done)(struct smtp_conn_env *env, struct smtp_job *job);
    /* A connection can take a job (smtp_conn_available). */
    void (*ready)(struct smtp_conn_env *env);
    /* Returns the next waiting job for `server` to pipeline after a
     * message, or NULL. */
    struct smtp_job *(*next_job)(struct smtp_conn_env *env, size_t server);
    /* Takes back a job from next_job that the connection could not run.
     * Nothing of it reached the server. */
    void (*job_return)(struct smtp_conn_env *env, struct smtp_job *job);
    /* `pending` fell to 0. */
    void (*released)(struct smtp_conn_env *env);
    void *data;
};

/* Returns a closed connection, or NULL when its timer failed to start. */
struct smtp_conn *smtp_conn_new(struct smtp_conn_env *env);

/* Returns nonzero when the connection runs no job and is neither
 * resetting nor closing. */
int smtp_conn_available(const struct smtp_conn *conn);

/* Returns nonzero when the connection is open and ready for a job. */
int smtp_conn_is_open(const struct smtp_conn *conn);

/* Runs `job` on the connection, opening it first when it is closed or
 * goes to another server. Call only when smtp_conn_available. */
void smtp_conn_start(struct smtp_conn *conn, struct smtp_job *job);

/* Sends QUIT when the connection is open and idle, then closes and frees
 * it. Call only when it runs no job. env->pending counts what is left. */
void smtp_conn_free(struct smtp_conn *conn);

#endif
