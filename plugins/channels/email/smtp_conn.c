/*
 * One SMTP client connection, driven by libuv callbacks on the loop (see
 * smtp_conn.h). The session runs greeting, EHLO (HELO when EHLO gets a
 * 5xx), STARTTLS when the server's settings require it, then AUTH PLAIN
 * (LOGIN when only that is offered). A transaction then sends MAIL FROM,
 * RCPT TO and DATA in one write when the server offers PIPELINING
 * (RFC 2920), or one by one, and the message after the 354. The first
 * 4xx or 5xx reply decides the outcome; RSET then clears the
 * transaction, and a 421 closes the connection.
 *
 * One uv timer serves three deadlines in turn: connect_timeout_ms (at
 * most timeout_ms) from the lookup until the session is ready,
 * timeout_ms from MAIL FROM to the final reply, and IDLE_MS for an open
 * connection without a job.
 *
 * NOTE: timeout_ms includes the wait for the reply to the end of the
 * message, for which RFC 5321 suggests 10 minutes. A server that accepts
 * a message later than that gets it again with the retry
 * (docs/KNOWN_LIMITS.md, "Email").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smtp_conn.h"
#include "smtp_reply.h"

/* An idle connection is closed after this long, so that a quiet channel
 * ties up no connection slots of the server. */
#define IDLE_MS 60000

/* How long a closing connection waits for the reply to QUIT. */
#define QUIT_WAIT_MS 1000

enum conn_state {
    CONN_CLOSED,
    CONN_RESOLVING,
    CONN_CONNECTING,
    CONN_GREETING,
    CONN_EHLO,
    CONN_HELO,
    CONN_STARTTLS,
    CONN_HANDSHAKE,
    CONN_AUTH,                      /* AUTH PLAIN, or LOGIN's password */
    CONN_AUTH_LOGIN_USER,           /* AUTH LOGIN sent, awaiting 334 */
    CONN_AUTH_LOGIN_PASSWORD,       /* the user name sent, awaiting 334 */
    CONN_READY,                     /* open, no job */
    CONN_ENVELOPE,                  /* MAIL, RCPT and DATA replies */
    CONN_BODY,                      /* the message sent, final reply */
    CONN_RSET,
    CONN_QUIT,
};

struct smtp_conn {
    struct smtp_conn_env *env;
    enum conn_state state;
    uv_timer_t *timer;
    uv_tcp_t *tcp;                  /* NULL when closed */
    uv_getaddrinfo_t *resolve;      /* the lookup under way, or NULL */
    struct smtp_tls *tls;           /* NULL in the clear */
    struct smtp_parser parser;
    size_t server;                  /* where `tcp` goes */
    unsigned extensions;            /* from the last EHLO */
    int greeted;                    /* the 220 greeting came */
    int authenticated;
    int freeing;                    /* smtp_conn_free was called */
    int timer_closing;

    struct smtp_job *job;
    struct smtp_job *next;          /* its envelope sent after `job`'s body */
    int reused;                     /* the job found the connection open */
    int reopened;                   /* the job opened it a second time */
    int replies;                    /* replies to the job's commands */
    int pipelined;
    enum smtp_step steps[3];        /* commands awaiting a reply */
    int steps_sent;
    int steps_done;
    int body_sent;
    char read_buf[65536];
    char plain_buf[16384];          /* decrypted bytes */
};

static const char *const step_names[] = { "MAIL", "RCPT", "DATA" };

static void conn_close(struct smtp_conn *conn);
static void conn_connect(struct smtp_conn *conn);
static void session_next(struct smtp_conn *conn);
static void txn_start(struct smtp_conn *conn);
static void conn_on_timer(uv_timer_t *timer);


static void
pending_release(struct smtp_conn_env *env)
{
    if (--env->pending == 0 && env->released != NULL)
        env->released(env);
}


/* A write under way and the bytes it sends. */
struct conn_write_req {
    uv_write_t req;
    GBytes *message;                /* a reference, or NULL */
    GString *commands;              /* written after the message, or NULL */
};


static void
conn_on_write(uv_write_t *req, int status)
{
    struct conn_write_req *w = (struct conn_write_req *) req;
    struct smtp_conn_env *env = req->data;

    (void) status;                  /* a broken socket also fails reads */
    if (w->message != NULL)
        g_bytes_unref(w->message);
    if (w->commands != NULL)
        g_string_free(w->commands, TRUE);
    g_free(w);
    pending_release(env);
}


/* Encrypts `message` and `commands`, either of which may be NULL, and
 * returns the bytes for the socket. */
static GString *
tls_wire(struct smtp_tls *tls, GBytes *message, const GString *commands)
{
    GString *wire = g_string_sized_new(256);
    int rc = 0;

    if (message != NULL) {
        gsize len;
        const char *data = g_bytes_get_data(message, &len);

        rc = smtp_tls_write(tls, data, len);
    }
    if (rc == 0 && commands != NULL)
        smtp_tls_write(tls, commands->str, commands->len);
    smtp_tls_output_take(tls, wire);
    return wire;
}


/*
 * Writes what the socket takes of `bufs` at once, and returns nonzero
 * when that was all of it or the socket is broken. Otherwise the buffers
 * left are moved to the front of `bufs` and counted in *count.
 *
 * A write that completes at once then needs no request: libuv completes
 * a request on the next loop turn, and that turn rewrites the socket's
 * epoll registration even though nothing in it changed, a system call
 * per message. uv_try_write refuses while earlier writes are queued, so
 * the bytes stay in order.
 */
static int
conn_try_write(struct smtp_conn *conn, uv_buf_t *bufs, unsigned *count)
{
    int written = uv_try_write((uv_stream_t *) conn->tcp, bufs, *count);
    unsigned whole = 0;             /* buffers written to their end */
    size_t rest;

    if (written == UV_EAGAIN)
        return 0;
    if (written < 0)
        return 1;                   /* a broken socket also fails reads */
    rest = (size_t) written;
    while (whole < *count && rest >= bufs[whole].len)
        rest -= bufs[whole++].len;
    if (whole == *count)
        return 1;
    bufs[whole].base += rest;
    bufs[whole].len -= rest;
    memmove(bufs, bufs + whole, (*count - whole) * sizeof(*bufs));
    *count -= whole;
    return 0;
}


/*
 * Writes `message` and then `commands`, through TLS when it is on.
 * Either may be NULL. The write takes a reference to `message`, so its
 * bytes go out unchanged, and frees `commands`.
 */
static void
conn_write_message(struct smtp_conn *conn, GBytes *message,
                   GString *commands)
{
    struct conn_write_req *w;
    uv_buf_t bufs[2];
    unsigned count = 0;

    if (conn->tcp == NULL) {
        if (commands != NULL)
            g_string_free(commands, TRUE);
        return;
    }
    if (conn->tls != NULL) {
        GString *wire = tls_wire(conn->tls, message, commands);

        if (commands != NULL)
            g_string_free(commands, TRUE);
        message = NULL;
        commands = wire;
    }
    if (message != NULL) {
        gsize len;
        const char *data = g_bytes_get_data(message, &len);

        bufs[count++] = uv_buf_init((char *) data, (unsigned) len);
    }
    if (commands != NULL && commands->len > 0)
        bufs[count++] = uv_buf_init(commands->str,
                                    (unsigned) commands->len);
    if (count == 0) {
        if (commands != NULL)
            g_string_free(commands, TRUE);
        return;
    }

    if (conn_try_write(conn, bufs, &count)) {
        if (commands != NULL)
            g_string_free(commands, TRUE);
        return;
    }
    w = g_new(struct conn_write_req, 1);
    w->message = message != NULL ? g_bytes_ref(message) : NULL;
    w->commands = commands;
    w->req.data = conn->env;
    conn->env->pending++;
    if (uv_write(&w->req, (uv_stream_t *) conn->tcp, bufs, count,
                 conn_on_write) != 0)
        conn_on_write(&w->req, -1);
}


/* Writes `plain`, through TLS when it is on, and frees it. */
static void
conn_write(struct smtp_conn *conn, GString *plain)
{
    conn_write_message(conn, NULL, plain);
}


/* Writes one command line, adding the CRLF. */
static void
conn_command(struct smtp_conn *conn, const char *line)
{
    GString *out = g_string_sized_new(strlen(line) + 2);

    g_string_append(out, line);
    g_string_append(out, "\r\n");
    conn_write(conn, out);
}


static void
timer_arm(struct smtp_conn *conn, long ms)
{
    uv_timer_start(conn->timer, conn_on_timer, (uint64_t) ms, 0);
}


/* Returns the limit of the session before the first transaction:
 * connect_timeout_ms, but never more than timeout_ms, which bounds a
 * whole delivery. */
static long
session_timeout_ms(const struct smtp_settings *s)
{
    return s->connect_timeout_ms < s->timeout_ms ? s->connect_timeout_ms
                                                 : s->timeout_ms;
}


static void
outcome_set(struct smtp_outcome *o, enum smtp_error error, const char *fmt,
            ...) CRIER_PRINTF(3, 4);


static void
outcome_set(struct smtp_outcome *o, enum smtp_error error, const char *fmt,
            ...)
{
    va_list ap;

    if (o->error != SMTP_OK)
        return;                     /* the first error is the cause */
    o->error = error;
    va_start(ap, fmt);
    vsnprintf(o->text, sizeof(o->text), fmt, ap);
    va_end(ap);
}


/* Records a 4xx or 5xx reply as the outcome, unless one came first. */
static void
outcome_reply(struct smtp_outcome *o, const struct smtp_reply *reply)
{
    if (o->error != SMTP_OK)
        return;
    o->error = SMTP_EREPLY;
    o->code = reply->code;
    g_strlcpy(o->reply, reply->text, sizeof(o->reply));
}


/*
 * Ends the job and hands it back. The connection stays as it is: the
 * caller has already closed it, reset it or made it ready. A ready
 * connection takes its next job first, so that the report, which the
 * core handles at some length, does not delay the next write.
 */
static void
job_end(struct smtp_conn *conn)
{
    struct smtp_job *job = conn->job;

    conn->job = NULL;
    if (smtp_conn_available(conn))
        conn->env->ready(conn->env);
    if (job != NULL)
        conn->env->job_done(conn->env, job);
}


static void
conn_on_tcp_closed(uv_handle_t *handle)
{
    struct smtp_conn_env *env = handle->data;

    g_free(handle);
    pending_release(env);
}


static void
conn_on_timer_closed(uv_handle_t *handle)
{
    struct smtp_conn *conn = handle->data;
    struct smtp_conn_env *env = conn->env;

    g_free(handle);
    g_free(conn);
    pending_release(env);
}


/* Drops the socket, TLS and any lookup, but keeps the job. */
static void
conn_close(struct smtp_conn *conn)
{
    uv_timer_stop(conn->timer);
    if (conn->resolve != NULL) {
        /* conn_on_resolved frees a lookup that no connection owns. */
        conn->resolve->data = NULL;
        uv_cancel((uv_req_t *) conn->resolve);
        conn->resolve = NULL;
    }
    if (conn->tcp != NULL) {
        conn->tcp->data = conn->env;
        uv_close((uv_handle_t *) conn->tcp, conn_on_tcp_closed);
        conn->tcp = NULL;
    }
    if (conn->next != NULL) {
        /* Its MAIL FROM got no reply, so nothing of it can have been
         * accepted: another connection takes it as if it were new. */
        struct smtp_job *next = conn->next;

        conn->next = NULL;
        conn->env->job_return(conn->env, next);
    }
    smtp_tls_free(conn->tls);
    conn->tls = NULL;
    smtp_parser_reset(&conn->parser);
    conn->extensions = 0;
    conn->greeted = 0;
    conn->authenticated = 0;
    conn->state = CONN_CLOSED;
    if (conn->freeing && !conn->timer_closing) {
        conn->timer_closing = 1;
        conn->env->pending++;
        uv_close((uv_handle_t *) conn->timer, conn_on_timer_closed);
    }
}


/*
 * Fails the job with `error` and closes the connection. A job on a
 * connection it found open, with no reply yet and no byte of the message
 * sent, is retried once on a new connection instead: the server may have
 * closed the idle connection just before the job came, and it cannot
 * have accepted the message.
 */
static void
conn_fail(struct smtp_conn *conn, enum smtp_error error, const char *text)
{
    struct smtp_job *job = conn->job;

    conn_close(conn);
    if (job == NULL) {
        if (smtp_conn_available(conn))
            conn->env->ready(conn->env);
        return;
    }
    if ((error == SMTP_ECLOSED || error == SMTP_EIO) && conn->reused &&
        !conn->reopened && conn->replies == 0 && !conn->body_sent) {
        conn->reopened = 1;
        memset(&job->outcome, 0, sizeof(job->outcome));
        conn_connect(conn);
        return;
    }
    outcome_set(&job->outcome, error, "%s", text);
    job_end(conn);
}


/* Fails the job on a 4xx or 5xx reply outside a transaction, and closes
 * the connection. */
static void
conn_fail_reply(struct smtp_conn *conn, const char *command,
                const struct smtp_reply *reply, enum smtp_error error)
{
    if (conn->job != NULL) {
        struct smtp_outcome *o = &conn->job->outcome;

        g_strlcpy(o->command, command, sizeof(o->command));
        outcome_reply(o, reply);
        o->error = error;
    }
    conn_close(conn);
    job_end(conn);
}


/* Becomes idle: no job, the idle timer running. */
static void
conn_idle(struct smtp_conn *conn)
{
    conn->state = CONN_READY;
    timer_arm(conn, IDLE_MS);
}


/* --- the session ------------------------------------------------------ */


static void
ehlo_send(struct smtp_conn *conn, const char *verb)
{
    char line[300];

    snprintf(line, sizeof(line), "%s %s", verb, conn->env->helo_name);
    conn->state = verb[0] == 'E' ? CONN_EHLO : CONN_HELO;
    conn_command(conn, line);
}


/* NOTE: only PLAIN and LOGIN are spoken (docs/KNOWN_LIMITS.md,
 * "Email"). */
static void
auth_send(struct smtp_conn *conn)
{
    const struct smtp_settings *s = conn->env->settings;

    if (conn->extensions & SMTP_EXT_AUTH_PLAIN) {
        char *token = smtp_auth_plain(s->username, s->password);
        char *line = g_strdup_printf("AUTH PLAIN %s", token);

        conn->state = CONN_AUTH;
        conn_command(conn, line);
        memset(line, 0, strlen(line));
        memset(token, 0, strlen(token));
        g_free(line);
        g_free(token);
        return;
    }
    conn->state = CONN_AUTH_LOGIN_USER;
    conn_command(conn, "AUTH LOGIN");
}


/* Sends the base64 of `secret` for AUTH LOGIN. */
static void
auth_login_send(struct smtp_conn *conn, const char *secret)
{
    char *token = g_base64_encode((const guchar *) secret, strlen(secret));

    conn_command(conn, token);
    memset(token, 0, strlen(token));
    g_free(token);
}


/* Takes the next session step after EHLO, STARTTLS or AUTH. */
static void
session_next(struct smtp_conn *conn)
{
    const struct smtp_settings *s = conn->env->settings;
    const struct smtp_server *server = &s->servers[conn->server];

    if (server->starttls && conn->tls == NULL) {
        if (!(conn->extensions & SMTP_EXT_STARTTLS)) {
            conn_fail(conn, SMTP_ETLS, "STARTTLS required but not "
                      "offered by the server");
            return;
        }
        conn->state = CONN_STARTTLS;
        conn_command(conn, "STARTTLS");
        return;
    }
    if (s->username != NULL && !conn->authenticated) {
        if (!(conn->extensions &
              (SMTP_EXT_AUTH_PLAIN | SMTP_EXT_AUTH_LOGIN))) {
            conn_fail(conn, SMTP_ELOGIN, "login required but the server "
                      "offers neither AUTH PLAIN nor AUTH LOGIN");
            return;
        }
        auth_send(conn);
        return;
    }
    txn_start(conn);
}


/* Starts TLS: at once for smtps://, after "220" to STARTTLS. */
static int
tls_begin(struct smtp_conn *conn)
{
    const struct smtp_server *server =
        &conn->env->settings->servers[conn->server];
    char error[256];
    GString *out;
    int rc;

    if (conn->env->tls == NULL ||
        (conn->tls = smtp_tls_new(conn->env->tls, server->host)) == NULL) {
        conn_fail(conn, SMTP_ETLS, "TLS session not created");
        return -1;
    }
    conn->state = CONN_HANDSHAKE;
    rc = smtp_tls_handshake(conn->tls, error, sizeof(error));
    out = g_string_new(NULL);
    smtp_tls_output_take(conn->tls, out);
    /* The handshake bytes go as they are, since conn_write would
     * encrypt them again. */
    if (out->len > 0) {
        struct smtp_tls *tls = conn->tls;

        conn->tls = NULL;
        conn_write(conn, out);
        conn->tls = tls;
    } else {
        g_string_free(out, TRUE);
    }
    if (rc < 0) {
        conn_fail(conn, SMTP_ETLS, error);
        return -1;
    }
    return 0;
}


/* Handles a reply before the session is ready. */
static void
session_reply(struct smtp_conn *conn, const struct smtp_reply *r)
{
    switch (conn->state) {
    case CONN_GREETING:
        conn->greeted = r->code == 220;
        if (r->code != 220)
            conn_fail_reply(conn, "", r, SMTP_EREPLY);
        else
            ehlo_send(conn, "EHLO");
        return;
    case CONN_EHLO:
        if (r->code >= 500 && r->code != 421) {
            ehlo_send(conn, "HELO");
            return;
        }
        conn->extensions = r->extensions;
        /* fall through */
    case CONN_HELO:
        if (r->code != 250)
            conn_fail_reply(conn, "EHLO", r, SMTP_EREPLY);
        else
            session_next(conn);
        return;
    case CONN_STARTTLS:
        if (r->code != 220)
            conn_fail_reply(conn, "STARTTLS", r, SMTP_ETLS);
        else
            tls_begin(conn);
        return;
    case CONN_AUTH_LOGIN_USER:
    case CONN_AUTH_LOGIN_PASSWORD:
        if (r->code != 334) {
            conn_fail_reply(conn, "AUTH", r, SMTP_ELOGIN);
            return;
        }
        auth_login_send(conn, conn->state == CONN_AUTH_LOGIN_USER
                        ? conn->env->settings->username
                        : conn->env->settings->password);
        conn->state = conn->state == CONN_AUTH_LOGIN_USER
                      ? CONN_AUTH_LOGIN_PASSWORD : CONN_AUTH;
        return;
    case CONN_AUTH:
        if (r->code != 235) {
            conn_fail_reply(conn, "AUTH", r, SMTP_ELOGIN);
            return;
        }
        conn->authenticated = 1;
        session_next(conn);
        return;
    default:
        conn_fail(conn, SMTP_EPROTOCOL, "reply before any command");
    }
}


/* --- the transaction -------------------------------------------------- */


static void
envelope_get(const struct smtp_conn *conn, const struct smtp_job *job,
             struct smtp_envelope *env)
{
    env->from = job->from;
    env->to = job->to;
    env->size = job->size;
    env->extensions = conn->extensions;
    env->eight_bit = job->eight_bit;
}


/* Records the command awaited next, for the outcome. */
static void
command_note(struct smtp_conn *conn, const char *command)
{
    struct smtp_outcome *o = &conn->job->outcome;

    if (o->error == SMTP_OK)
        g_strlcpy(o->command, command, sizeof(o->command));
}


/* Sets up the replies that `steps_sent` commands of the job's envelope
 * will bring, and starts the transaction's timer. */
static void
txn_begin(struct smtp_conn *conn, int steps_sent)
{
    conn->pipelined = (conn->extensions & SMTP_EXT_PIPELINING) != 0;
    conn->steps_sent = steps_sent;
    conn->steps_done = 0;
    for (int i = 0; i < 3; i++)
        conn->steps[i] = (enum smtp_step) i;
    conn->state = CONN_ENVELOPE;
    command_note(conn, "MAIL");
    timer_arm(conn, conn->env->settings->timeout_ms);
}


/* Sends MAIL FROM, and RCPT TO and DATA with it when pipelining. */
static void
txn_start(struct smtp_conn *conn)
{
    struct smtp_envelope env;
    GString *out = g_string_sized_new(256);
    int pipelined = (conn->extensions & SMTP_EXT_PIPELINING) != 0;

    envelope_get(conn, conn->job, &env);
    txn_begin(conn, smtp_envelope_append(out, &env, pipelined));
    conn_write(conn, out);
}


/* Sends the message after "354". */
static void
body_send(struct smtp_conn *conn)
{
    GString *next_envelope = NULL;

    conn->state = CONN_BODY;
    conn->body_sent = 1;

    /* RFC 2920 lets the message content open a group of commands, so
     * the next job's envelope goes in the same write, and each message
     * then costs one round trip.
     * NOTE: a stop lets that next message finish too, so a stop can wait
     * for two transactions, up to twice timeout_ms (docs/KNOWN_LIMITS.md,
     * "Email"). */
    if (conn->pipelined &&
        (conn->next = conn->env->next_job(conn->env, conn->server))) {
        struct smtp_envelope env;

        next_envelope = g_string_sized_new(256);
        envelope_get(conn, conn->next, &env);
        smtp_envelope_append(next_envelope, &env, 1);
    }
    conn_write_message(conn, conn->job->message, next_envelope);
}


/* Makes the job whose envelope went after the last message the current
 * one, its MAIL FROM reply awaited next. */
static void
next_promote(struct smtp_conn *conn)
{
    conn->job = conn->next;
    conn->next = NULL;
    conn->reused = 1;
    conn->reopened = 0;
    conn->replies = 0;
    conn->body_sent = 0;
    txn_begin(conn, 3);
}


/* Ends a failed transaction: RSET keeps the connection for the next
 * one, unless the server is closing (421). */
static void
txn_fail(struct smtp_conn *conn, int code)
{
    uv_timer_stop(conn->timer);
    if (code == 421) {
        conn_close(conn);
    } else {
        conn->state = CONN_RSET;
        timer_arm(conn, conn->env->settings->timeout_ms);
        conn_command(conn, "RSET");
    }
    job_end(conn);
}


/* Handles the reply to MAIL, RCPT or DATA. */
static void
envelope_reply(struct smtp_conn *conn, const struct smtp_reply *r)
{
    enum smtp_step step = conn->steps[conn->steps_done++];
    struct smtp_outcome *o = &conn->job->outcome;
    int ok = step == SMTP_STEP_DATA ? r->code == 354
                                    : r->code >= 200 && r->code < 300;
    int failed;

    command_note(conn, step_names[step]);
    if (!ok && r->code < 400)
        outcome_set(o, SMTP_EPROTOCOL, "unexpected reply to %s: %s",
                    step_names[step], r->text);
    else if (!ok)
        outcome_reply(o, r);
    else if (o->error == SMTP_OK)
        g_strlcpy(o->reply, r->text, sizeof(o->reply));
    failed = o->error != SMTP_OK;

    if (step == SMTP_STEP_DATA) {
        if (!failed) {
            body_send(conn);
        } else if (r->code == 354) {
            /* A server that rejected the recipient yet takes DATA: the
             * message must not go, and only closing ends the DATA. */
            conn_close(conn);
            job_end(conn);
        } else {
            txn_fail(conn, r->code);
        }
        return;
    }
    if (failed && (!conn->pipelined || r->code == 421)) {
        txn_fail(conn, r->code);
        return;
    }
    if (!conn->pipelined) {
        GString *out = g_string_sized_new(128);
        struct smtp_envelope env;

        envelope_get(conn, conn->job, &env);
        smtp_command_append(out, &env, step + 1);
        conn->steps_sent++;
        command_note(conn, step_names[step + 1]);
        conn_write(conn, out);
    }
}


/* Handles the reply to the end of the message. */
static void
body_reply(struct smtp_conn *conn, const struct smtp_reply *r)
{
    struct smtp_outcome *o = &conn->job->outcome;

    if (r->code < 200 || r->code >= 300) {
        if (r->code < 400)
            outcome_set(o, SMTP_EPROTOCOL, "unexpected reply to the "
                        "message: %s", r->text);
        outcome_reply(o, r);
        /* The reply to the end of the message ends the transaction even
         * when it fails, so the next envelope needs no RSET first. */
        if (conn->next != NULL && r->code != 421) {
            struct smtp_job *done = conn->job;

            uv_timer_stop(conn->timer);
            next_promote(conn);
            conn->env->job_done(conn->env, done);
            return;
        }
        txn_fail(conn, r->code);
        return;
    }
    g_strlcpy(o->reply, r->text, sizeof(o->reply));
    o->code = r->code;
    uv_timer_stop(conn->timer);
    if (conn->next != NULL) {
        struct smtp_job *done = conn->job;

        next_promote(conn);
        conn->env->job_done(conn->env, done);
        return;
    }
    conn_idle(conn);
    job_end(conn);
}


static void
reply_dispatch(struct smtp_conn *conn, const struct smtp_reply *r)
{
    if (conn->job != NULL)
        conn->replies++;
    switch (conn->state) {
    case CONN_ENVELOPE:
        envelope_reply(conn, r);
        return;
    case CONN_BODY:
        body_reply(conn, r);
        return;
    case CONN_RSET:
        if (r->code != 250) {
            conn_close(conn);
        } else {
            uv_timer_stop(conn->timer);
            conn_idle(conn);
        }
        if (smtp_conn_available(conn))
            conn->env->ready(conn->env);
        return;
    case CONN_QUIT:
        conn_close(conn);
        return;
    case CONN_READY:
        /* Only a 421 comes unasked: the server is closing. */
        conn_close(conn);
        if (smtp_conn_available(conn))
            conn->env->ready(conn->env);
        return;
    default:
        session_reply(conn, r);
    }
}


/* --- reading ---------------------------------------------------------- */


/* Parses plain text from the server and acts on each whole reply. */
static void
plain_read(struct smtp_conn *conn, const char *data, size_t len)
{
    uv_tcp_t *tcp = conn->tcp;

    while (len > 0 && conn->tcp == tcp) {
        struct smtp_reply reply;
        size_t used;
        enum smtp_parse_status status;

        status = smtp_reply_feed(&conn->parser, data, len, &used, &reply);
        data += used;
        len -= used;
        if (status == SMTP_PARSE_ERROR) {
            conn_fail(conn, SMTP_EPROTOCOL, "the server sent a line that "
                      "is not an SMTP reply");
            return;
        }
        if (status == SMTP_PARSE_MORE)
            return;
        reply_dispatch(conn, &reply);
        /* Bytes after the reply to STARTTLS would be plain text inside
         * the TLS session, so they are dropped (RFC 3207 section 5). */
        if (conn->state == CONN_HANDSHAKE)
            return;
    }
}


/* Advances the handshake with new bytes, and sends EHLO again once it is
 * done. */
static void
handshake_continue(struct smtp_conn *conn)
{
    char error[256];
    GString *out = g_string_new(NULL);
    int rc = smtp_tls_handshake(conn->tls, error, sizeof(error));
    struct smtp_tls *tls = conn->tls;

    smtp_tls_output_take(tls, out);
    conn->tls = NULL;
    if (out->len > 0)
        conn_write(conn, out);
    else
        g_string_free(out, TRUE);
    conn->tls = tls;
    if (rc < 0) {
        conn_fail(conn, SMTP_ETLS, error);
    } else if (rc == 1 && conn->greeted) {
        conn->extensions = 0;
        ehlo_send(conn, "EHLO");
    } else if (rc == 1) {
        conn->state = CONN_GREETING;    /* smtps:// greets inside TLS */
    }
}


static void
tls_read(struct smtp_conn *conn, const char *data, size_t len)
{
    uv_tcp_t *tcp = conn->tcp;

    smtp_tls_feed(conn->tls, data, len);
    if (conn->state == CONN_HANDSHAKE) {
        handshake_continue(conn);
        if (conn->tcp != tcp || conn->state == CONN_HANDSHAKE)
            return;
    }
    while (conn->tcp == tcp && conn->tls != NULL) {
        ssize_t n = smtp_tls_read(conn->tls, conn->plain_buf,
                                  sizeof(conn->plain_buf));

        if (n == 0)
            return;
        if (n < 0) {
            conn_fail(conn, SMTP_ECLOSED, "TLS session ended by the "
                      "server");
            return;
        }
        plain_read(conn, conn->plain_buf, (size_t) n);
    }
}


static void
conn_on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
    struct smtp_conn *conn = handle->data;

    (void) hint;
    *buf = uv_buf_init(conn->read_buf, sizeof(conn->read_buf));
}


static void
conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct smtp_conn *conn = stream->data;

    if (nread == 0)
        return;
    if (nread < 0) {
        if (conn->state == CONN_QUIT || conn->state == CONN_READY) {
            conn_close(conn);
            if (smtp_conn_available(conn))
                conn->env->ready(conn->env);
        } else if (nread == UV_EOF) {
            conn_fail(conn, SMTP_ECLOSED, "connection closed by the "
                      "server");
        } else {
            char text[128];

            snprintf(text, sizeof(text), "connection failed: %s",
                     uv_strerror((int) nread));
            conn_fail(conn, SMTP_EIO, text);
        }
        return;
    }
    if (conn->tls != NULL)
        tls_read(conn, buf->base, (size_t) nread);
    else
        plain_read(conn, buf->base, (size_t) nread);
}


/* --- connecting ------------------------------------------------------- */


static void
conn_on_connected(uv_connect_t *req, int status)
{
    struct smtp_conn *conn = req->data;
    uv_tcp_t *tcp = (uv_tcp_t *) req->handle;
    char text[300];

    g_free(req);
    if (status == UV_ECANCELED || conn->tcp != tcp)
        return;                     /* closed meanwhile */
    if (status != 0) {
        snprintf(text, sizeof(text), "could not connect to %s: %s",
                 conn->env->settings->servers[conn->server].url,
                 uv_strerror(status));
        conn_fail(conn, status == UV_ETIMEDOUT ? SMTP_ETIMEDOUT
                                               : SMTP_ECONNECT, text);
        return;
    }
    uv_tcp_nodelay(tcp, 1);
    uv_read_start((uv_stream_t *) tcp, conn_on_alloc, conn_on_read);
    conn->state = CONN_GREETING;
    if (conn->env->settings->servers[conn->server].implicit_tls)
        tls_begin(conn);
}


/* Connects to the first address of the lookup.
 * NOTE: the other addresses are not tried, so a host whose first address
 * is down counts as down (docs/KNOWN_LIMITS.md, "Email"). */
static void
tcp_connect(struct smtp_conn *conn, const struct sockaddr *addr)
{
    uv_connect_t *req = g_new0(uv_connect_t, 1);
    int rc;

    conn->tcp = g_new0(uv_tcp_t, 1);
    uv_tcp_init(conn->env->loop, conn->tcp);
    conn->env->pending++;
    conn->tcp->data = conn;
    req->data = conn;
    conn->state = CONN_CONNECTING;
    rc = uv_tcp_connect(req, conn->tcp, addr, conn_on_connected);
    if (rc != 0) {
        char text[300];

        g_free(req);
        snprintf(text, sizeof(text), "could not connect to %s: %s",
                 conn->env->settings->servers[conn->server].url,
                 uv_strerror(rc));
        conn_fail(conn, SMTP_ECONNECT, text);
    }
}


static void
conn_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    struct smtp_conn *conn = req->data;
    struct smtp_conn_env *env = conn != NULL ? conn->env : NULL;

    if (conn == NULL) {
        /* conn_close gave the lookup up, and the connection may be
         * gone. */
        uv_freeaddrinfo(res);
        env = *(struct smtp_conn_env **) (req + 1);
        g_free(req);
        pending_release(env);
        return;
    }
    conn->resolve = NULL;
    if (status != 0 || res == NULL) {
        char text[300];

        snprintf(text, sizeof(text), "could not resolve the host of %s: "
                 "%s", env->settings->servers[conn->server].url,
                 uv_strerror(status));
        conn_fail(conn, SMTP_ERESOLVE, text);
    } else {
        tcp_connect(conn, res->ai_addr);
    }
    uv_freeaddrinfo(res);
    g_free(req);
    pending_release(env);
}


/* Opens the connection to the job's server. */
static void
conn_connect(struct smtp_conn *conn)
{
    const struct smtp_server *server =
        &conn->env->settings->servers[conn->job->server];
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_protocol = IPPROTO_TCP,
    };
    uv_getaddrinfo_t *req;
    char port[8];
    int rc;

    conn->server = conn->job->server;
    conn->state = CONN_RESOLVING;
    timer_arm(conn, session_timeout_ms(conn->env->settings));
    /* The env pointer behind the request outlives the connection. */
    req = g_malloc0(sizeof(*req) + sizeof(struct smtp_conn_env *));
    *(struct smtp_conn_env **) (req + 1) = conn->env;
    req->data = conn;
    snprintf(port, sizeof(port), "%u", server->port);
    conn->env->pending++;
    conn->resolve = req;
    rc = uv_getaddrinfo(conn->env->loop, req, conn_on_resolved, server->host,
                        port, &hints);
    if (rc != 0) {
        char text[300];

        conn->resolve = NULL;
        g_free(req);
        pending_release(conn->env);
        snprintf(text, sizeof(text), "could not resolve the host of %s: "
                 "%s", server->url, uv_strerror(rc));
        conn_fail(conn, SMTP_ERESOLVE, text);
    }
}


static const char *
state_awaited(enum conn_state state)
{
    switch (state) {
    case CONN_RESOLVING:
    case CONN_CONNECTING:
        return "the connection";
    case CONN_GREETING:
        return "the greeting";
    case CONN_HANDSHAKE:
        return "the TLS handshake";
    case CONN_BODY:
        return "the reply to the message";
    default:
        return "the reply";
    }
}


static void
conn_on_timer(uv_timer_t *timer)
{
    struct smtp_conn *conn = timer->data;
    const struct smtp_settings *s = conn->env->settings;
    char text[160];

    switch (conn->state) {
    case CONN_READY:
        conn->state = CONN_QUIT;
        timer_arm(conn, QUIT_WAIT_MS);
        conn_command(conn, "QUIT");
        return;
    case CONN_QUIT:
    case CONN_RSET:
        conn_close(conn);
        if (smtp_conn_available(conn))
            conn->env->ready(conn->env);
        return;
    default:
        break;
    }
    snprintf(text, sizeof(text), "timed out after %ld ms waiting for %s",
             conn->state == CONN_ENVELOPE || conn->state == CONN_BODY
             ? s->timeout_ms : session_timeout_ms(s),
             state_awaited(conn->state));
    conn_fail(conn, SMTP_ETIMEDOUT, text);
}


/* --- the interface ---------------------------------------------------- */


struct smtp_conn *
smtp_conn_new(struct smtp_conn_env *env)
{
    struct smtp_conn *conn = g_new0(struct smtp_conn, 1);

    conn->env = env;
    conn->timer = g_new0(uv_timer_t, 1);
    if (uv_timer_init(env->loop, conn->timer) != 0) {
        g_free(conn->timer);
        g_free(conn);
        return NULL;
    }
    conn->timer->data = conn;
    conn->state = CONN_CLOSED;
    return conn;
}


int
smtp_conn_available(const struct smtp_conn *conn)
{
    return conn->job == NULL && !conn->freeing &&
           (conn->state == CONN_CLOSED || conn->state == CONN_READY);
}


int
smtp_conn_is_open(const struct smtp_conn *conn)
{
    return conn->state == CONN_READY;
}


void
smtp_conn_start(struct smtp_conn *conn, struct smtp_job *job)
{
    conn->job = job;
    conn->replies = 0;
    conn->reopened = 0;
    conn->body_sent = 0;
    conn->reused = conn->state == CONN_READY && conn->server == job->server;
    if (conn->reused) {
        txn_start(conn);
        return;
    }
    if (conn->state != CONN_CLOSED)
        conn_close(conn);
    conn_connect(conn);
}


void
smtp_conn_free(struct smtp_conn *conn)
{
    conn->freeing = 1;
    if (conn->state == CONN_READY) {
        /* Sends QUIT and waits a moment for "221". The close follows on
         * that reply, the server's close or the timer. */
        conn->state = CONN_QUIT;
        timer_arm(conn, QUIT_WAIT_MS);
        conn_command(conn, "QUIT");
        return;
    }
    conn_close(conn);
}
