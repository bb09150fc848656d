/*
 * Delivery over SMTP on the loop. Each message is built (MIME, DKIM) on
 * a libuv worker thread, together with the others that came in the same
 * loop turn (BUILD_BATCH_MAX), then waits in order for one of up to
 * `connections` connections (smtp_conn.c), which runs one transaction at
 * a time and stays open for the next. With PIPELINING a message costs
 * two writes and two reads on the loop: MAIL FROM, RCPT TO and DATA in
 * one write, the message in the second.
 *
 * Why a client of its own: no Debian-packaged library offers a
 * non-blocking SMTP client for an event loop. libcurl 7.88 waits for the
 * reply to the end of the message with a blocking poll even on a multi
 * handle (smtp_block_statemach in its lib/smtp.c), so it needed a thread
 * per connection. libesmtp and libetpan block as well.
 *
 * The server's first error reply, or else its last reply, decides the
 * outcome and becomes the detail.
 *
 * Failover: with several servers, a message tries them in order. It
 * moves to the next one only while it cannot have been accepted, which
 * server_down decides. A timeout after DATA may hide an accepted
 * message, so it is retried later like any failure, from the first
 * server again.
 * NOTE: failover remembers nothing, so while the first server is down
 * each message waits for its connect timeout there
 * (docs/KNOWN_LIMITS.md, "Email").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "email.h"
#include "smtp_conn.h"
#include "smtp_reply.h"

/* The maximum number of messages that one work item of the thread pool
 * builds. Each item wakes a worker thread and then the loop, so the
 * messages that reach smtp_deliver in one loop turn share items. */
#define BUILD_BATCH_MAX 16

/* The detail of a message that stop kept from its server. */
#define SHUTDOWN_DETAIL "SMTP: not sent before shutdown"

/* A message from smtp_deliver until the loop reports it. */
struct smtp_transfer {
    struct email_delivery *delivery;
    GList link;                     /* in one of the pool's queues */
    struct smtp_job job;
    char *from;                     /* the envelope sender */
    const char *unsafe;             /* why an address cannot be sent */
    char detail[640];
    char queue_id[64];
    char skipped[256];              /* the error of the first server down */
};

struct smtp_pool {
    struct email *email;
    struct smtp_conn_env env;
    struct smtp_conn *conns[SMTP_CONNECTIONS_MAX];   /* made on demand */
    GQueue unbuilt;                 /* transfers of this loop turn */
    GQueue waiting;                 /* built transfers, in order */
    GQueue finished;                /* transfers to report, see on_job_done */
    uv_check_t *turn_check;         /* runs on_turn_end; made on demand */
    uv_prepare_t *build_prepare;    /* runs on_build_prepare; made on
                                       demand */
    int stopping;
    crier_stop_cb stopped;
    void *stopped_arg;
};

/* Messages that one work item builds. */
struct build_batch {
    uv_work_t work;
    struct smtp_pool *pool;
    unsigned count;
    struct smtp_transfer *transfers[BUILD_BATCH_MAX];
};


/*
 * Copies the server's queue id from a 250 reply to the end of the message
 * into `out`, or leaves `out` empty. Postfix and Sendmail write "queued as
 * ID", Exim writes "id=ID"; other servers put no id in a known place.
 */
static void
queue_id_parse(const char *reply, char *out, size_t size)
{
    const char *marks[] = { "queued as ", "id=" };
    const char *start = NULL;
    size_t n;

    out[0] = '\0';
    for (size_t i = 0; i < G_N_ELEMENTS(marks) && start == NULL; i++) {
        start = strstr(reply, marks[i]);
        if (start != NULL)
            start += strlen(marks[i]);
    }
    if (start == NULL)
        return;
    n = strcspn(start, " \t<>()[],;");
    if (n == 0 || n >= size)
        return;
    memcpy(out, start, n);
    out[n] = '\0';
}


/*
 * Returns nonzero when a 5xx reply reports that the recipient address
 * itself is invalid: 550, 551 or 553 with an enhanced status code of class 5.1
 * (RFC 3463 addressing status), such as "550 5.1.1 No such user".
 */
static int
reply_is_invalid_address(const char *reply)
{
    char *enhanced;
    long code = strtol(reply, &enhanced, 10);

    if (code != 550 && code != 551 && code != 553)
        return 0;
    enhanced += strspn(enhanced, " -");
    return strncmp(enhanced, "5.1.", 4) == 0;
}


/* Returns nonzero when the command concerned this message rather than
 * the session, so that a 5xx reply to it is about the message. The reply
 * to the end of the message follows "DATA". */
static int
command_is_message(const char *command)
{
    return strcmp(command, "MAIL") == 0 || strcmp(command, "RCPT") == 0 ||
           strcmp(command, "DATA") == 0;
}


/* Returns nonzero when the outcome points at the settings or the server
 * rather than at this message. */
static int
session_refused(const struct smtp_outcome *o)
{
    return o->error == SMTP_ELOGIN || o->error == SMTP_ETLS ||
           (o->code >= 500 && o->code < 600);
}


/* Appends the URL of the server tried last to the detail when the
 * channel has several servers, and returns the detail. */
static const char *
transfer_detail_via(struct smtp_transfer *t)
{
    const struct smtp_settings *s = &t->delivery->email->smtp;
    size_t len = strlen(t->detail);

    if (s->server_count > 1 && len < sizeof(t->detail))
        snprintf(t->detail + len, sizeof(t->detail) - len, " (%s)",
                 s->servers[t->job.server].url);
    return t->detail;
}


/*
 * Maps the outcome of the last try to the channel's result. A 5xx reply
 * to MAIL, RCPT or DATA is permanent. A 5xx reply in the session part
 * (greeting, EHLO, AUTH, STARTTLS) and a refused login point at the
 * configuration, which an operator can fix, so they are retried like
 * every other failure.
 */
static void
result_classify(struct smtp_transfer *t, struct crier_send_result *r)
{
    struct email *email = t->delivery->email;
    const struct smtp_outcome *o = &t->job.outcome;
    int code = o->code;

    if (t->job.server > 0)
        email_error_log(email, "SMTP server down; the message went to the "
                        "next one", "url=%s detail=\"%s\"",
                        email->smtp.servers[0].url, t->skipped);
    if (o->error == SMTP_OK) {
        r->outcome = CRIER_SEND_DONE;
        queue_id_parse(o->reply, t->queue_id, sizeof(t->queue_id));
        r->provider_id = t->queue_id[0] != '\0' ? t->queue_id
                                                : t->delivery->msg.message_id;
        snprintf(t->detail, sizeof(t->detail), "SMTP %s", o->reply);
        r->detail = transfer_detail_via(t);
        return;
    }

    if (code >= 400 && code < 600 && o->reply[0] != '\0')
        snprintf(t->detail, sizeof(t->detail), "SMTP %s", o->reply);
    else
        snprintf(t->detail, sizeof(t->detail), "SMTP: %s", o->text);
    r->detail = transfer_detail_via(t);

    if (code >= 500 && code < 600 && o->error != SMTP_ELOGIN &&
        command_is_message(o->command)) {
        r->outcome = CRIER_SEND_FAIL;
        /* A 550, 551 or 553 with an enhanced status 5.1.x (RFC 3463:
         * addressing status) rejects the address itself. The outbox marks
         * it, and the detail gives the reply. */
        r->address_invalid = reply_is_invalid_address(o->reply);
        if (r->address_invalid)
            snprintf(t->detail, sizeof(t->detail), "invalid address: "
                     "SMTP %s", o->reply);
        return;
    }
    r->outcome = CRIER_SEND_RETRY;

    /* A 4xx reply is the server's ordinary "later", as in greylisting. */
    if (code >= 400 && code < 500)
        return;
    email_error_log(email, "SMTP delivery failed; it will be retried",
                    "detail=\"%s\"%s", t->detail, session_refused(o)
                    ? " hint=\"check url, username, password, tls and "
                      "ca_file\"" : "");
}


/*
 * Returns nonzero when the last try shows the server down before it could
 * accept the message, so that the next server may take it without
 * sending it twice: a refused connection or unknown host, a 421 reply
 * (closing) at any step, or a timeout or broken connection before DATA.
 */
static int
server_down(const struct smtp_outcome *o)
{
    int before_data = strcmp(o->command, "DATA") != 0;

    switch (o->error) {
    case SMTP_ECONNECT:
    case SMTP_ERESOLVE:
        return 1;
    case SMTP_ETIMEDOUT:
    case SMTP_ECLOSED:
    case SMTP_EIO:
        return before_data || o->code == 421;
    default:
        return o->code == 421;
    }
}


/* A transfer is in at most one of the pool's queues at a time, so its
 * own link serves them all and queueing allocates nothing. */
static void
queue_push_tail(GQueue *queue, struct smtp_transfer *t)
{
    g_queue_push_tail_link(queue, &t->link);
}


static void
queue_push_head(GQueue *queue, struct smtp_transfer *t)
{
    g_queue_push_head_link(queue, &t->link);
}


static struct smtp_transfer *
queue_pop_head(GQueue *queue)
{
    GList *link = g_queue_pop_head_link(queue);

    return link != NULL ? link->data : NULL;
}


static void
transfer_free(struct smtp_transfer *t)
{
    if (t->job.message != NULL)
        g_bytes_unref(t->job.message);
    g_free(t->from);
    g_free(t);
}


/* Reports one finished transfer, or gives it back unsent with
 * `retry_detail` when that is not NULL: stop came first, or the build
 * could not start. */
static void
transfer_report(struct smtp_transfer *t, const char *retry_detail)
{
    struct email_delivery *d = t->delivery;
    struct crier_send_result r = { .outcome = CRIER_SEND_RETRY };

    if (retry_detail != NULL) {
        r.outcome = CRIER_SEND_RETURNED;
        r.detail = retry_detail;
    } else if (d->build_error != NULL) {
        r.outcome = CRIER_SEND_FAIL;
        r.detail = d->build_error;
    } else if (t->unsafe != NULL) {
        r.outcome = CRIER_SEND_FAIL;
        r.detail = t->unsafe;
    } else {
        result_classify(t, &r);
    }
    email_delivery_finish(d, &r);
    transfer_free(t);
}


/* Returns a free connection, an open one first so that its session is
 * reused, or NULL when all are busy. */
static struct smtp_conn *
conn_pick(struct smtp_pool *pool)
{
    unsigned count = pool->email->smtp.connections;
    struct smtp_conn *free_conn = NULL;

    for (unsigned i = 0; i < count; i++) {
        struct smtp_conn *conn = pool->conns[i];

        if (conn == NULL) {
            conn = pool->conns[i] = smtp_conn_new(&pool->env);
            if (conn == NULL)
                continue;
        }
        if (!smtp_conn_available(conn))
            continue;
        if (smtp_conn_is_open(conn))
            return conn;
        if (free_conn == NULL)
            free_conn = conn;
    }
    return free_conn;
}


/* Returns nonzero when `t` waited for a connection past its hand-over
 * time, after which another claim of its job may send it too. */
static int
transfer_expired(const struct smtp_pool *pool, const struct smtp_transfer *t)
{
    const struct email *email = pool->email;
    int64_t by = t->delivery->msg.hand_over_by_ms;

    return by > 0 && email->host->now_ms(email->ctx) > by;
}


/*
 * Hands back as retries the transfers at the head of the queue that
 * waited past their hand-over time. Transfers are queued in about the
 * order of their hand-overs, so the oldest are at the head.
 * NOTE: the queue is checked only when a connection takes the next
 * transfer, so a server that keeps every connection busy delays a hand-back
 * by up to the SMTP timeout (docs/KNOWN_LIMITS.md, "Email").
 */
static void
pool_expire(struct smtp_pool *pool)
{
    struct crier_send_result r = {
        .outcome = CRIER_SEND_RETURNED,
        .detail = "SMTP: the message waited for a connection past its "
                  "hand-over time (half of delivery.lease); it will be "
                  "retried",
    };
    struct smtp_transfer *t;

    while ((t = g_queue_peek_head(&pool->waiting)) != NULL &&
           transfer_expired(pool, t)) {
        queue_pop_head(&pool->waiting);
        email_delivery_finish(t->delivery, &r);
        transfer_free(t);
    }
}


/* Hands waiting transfers to free connections, in order. */
static void
pool_dispatch(struct smtp_pool *pool)
{
    struct smtp_transfer *t;
    struct smtp_conn *conn;

    pool_expire(pool);
    while (!g_queue_is_empty(&pool->waiting) &&
           (conn = conn_pick(pool)) != NULL) {
        t = queue_pop_head(&pool->waiting);
        smtp_conn_start(conn, &t->job);
    }
}


static void builds_queue(struct smtp_pool *pool);


/*
 * Runs once the loop has polled. It queues the messages that came in
 * this turn for building, and then reports the finished transfers, after
 * every connection with a reply in that poll has written its next
 * commands.
 */
static void
on_turn_end(uv_check_t *check)
{
    struct smtp_pool *pool = check->data;
    struct smtp_transfer *t;

    uv_check_stop(check);
    builds_queue(pool);
    while ((t = queue_pop_head(&pool->finished)) != NULL)
        transfer_report(t, NULL);
    /* The core may send again from a report. */
    builds_queue(pool);
}


/* Queues the builds of messages that came outside the loop's poll, such
 * as from a timer, before the loop waits in its next poll. */
static void
on_build_prepare(uv_prepare_t *prepare)
{
    builds_queue(prepare->data);
}


/* Starts the pool's prepare handle for on_build_prepare. Returns 0, or
 * -1 when it could not be made. */
static int
build_prepare_request(struct smtp_pool *pool)
{
    if (pool->build_prepare == NULL) {
        pool->build_prepare = g_new0(uv_prepare_t, 1);
        if (uv_prepare_init(pool->env.loop, pool->build_prepare) != 0) {
            g_free(pool->build_prepare);
            pool->build_prepare = NULL;
            return -1;
        }
        pool->build_prepare->data = pool;
    }
    uv_prepare_start(pool->build_prepare, on_build_prepare);
    return 0;
}


/* Starts the pool's check handle for on_turn_end. Returns 0, or -1 when
 * it could not be made. */
static int
turn_end_request(struct smtp_pool *pool)
{
    if (pool->turn_check == NULL) {
        pool->turn_check = g_new0(uv_check_t, 1);
        if (uv_check_init(pool->env.loop, pool->turn_check) != 0) {
            g_free(pool->turn_check);
            pool->turn_check = NULL;
            return -1;
        }
        pool->turn_check->data = pool;
    }
    uv_check_start(pool->turn_check, on_turn_end);
    return 0;
}


/* Queues a finished transfer for on_turn_end. The core's work on an
 * outcome would otherwise delay the writes of the connections whose
 * replies came in the same poll. */
static void
report_defer(struct smtp_pool *pool, struct smtp_transfer *t)
{
    if (turn_end_request(pool) != 0) {
        transfer_report(t, NULL);
        return;
    }
    queue_push_tail(&pool->finished, t);
}


/* A connection ended a job: the next server takes it when this one was
 * down, or else the outcome is reported. */
static void
on_job_done(struct smtp_conn_env *env, struct smtp_job *job)
{
    struct smtp_pool *pool = env->data;
    struct smtp_transfer *t = job->data;
    const struct smtp_outcome *o = &job->outcome;

    if (o->error != SMTP_OK && server_down(o) &&
        job->server + 1 < pool->email->smtp.server_count) {
        if (t->skipped[0] == '\0')
            snprintf(t->skipped, sizeof(t->skipped), "%s", o->code == 421
                     ? o->reply : o->text);
        job->server++;
        memset(&job->outcome, 0, sizeof(job->outcome));
        queue_push_head(&pool->waiting, t);
        pool_dispatch(pool);
        return;
    }
    report_defer(pool, t);
}


static void
on_conn_ready(struct smtp_conn_env *env)
{
    pool_dispatch(env->data);
}


/* NOTE: a message waiting here for a connection is sent even when a
 * pause began after the outbox handed it over (docs/KNOWN_LIMITS.md,
 * "Operations"). */
static struct smtp_job *
on_next_job(struct smtp_conn_env *env, size_t server)
{
    struct smtp_pool *pool = env->data;
    struct smtp_transfer *t;

    pool_expire(pool);
    t = g_queue_peek_head(&pool->waiting);
    if (t == NULL || t->job.server != server)
        return NULL;
    queue_pop_head(&pool->waiting);
    return &t->job;
}


static void
on_job_return(struct smtp_conn_env *env, struct smtp_job *job)
{
    struct smtp_pool *pool = env->data;

    queue_push_head(&pool->waiting, job->data);
    pool_dispatch(pool);
}


/* Everything the connections opened is closed: a stop completes. */
static void
on_released(struct smtp_conn_env *env)
{
    struct smtp_pool *pool = env->data;
    crier_stop_cb done = pool->stopped;

    if (!pool->stopping || done == NULL)
        return;
    pool->stopped = NULL;
    done(pool->stopped_arg);
}


/* Returns nonzero when `message` has a byte outside ASCII. It ORs eight
 * bytes at a time with no early exit, because almost every message is
 * ASCII. */
static int
message_is_eight_bit(const GString *message)
{
    uint64_t any = 0, word;
    size_t i = 0;

    for (; i + sizeof(word) <= message->len; i += sizeof(word)) {
        memcpy(&word, message->str + i, sizeof(word));
        any |= word;
    }
    for (; i < message->len; i++)
        any |= (unsigned char) message->str[i];
    return (any & UINT64_C(0x8080808080808080)) != 0;
}


/* Turns the built message into the job's DATA bytes, which the
 * connection then writes without a copy. */
static void
job_data_prepare(struct smtp_job *job, struct email_delivery *d)
{
    GString *message = d->message;

    d->message = NULL;
    job->size = message->len;
    job->eight_bit = message_is_eight_bit(message);
    smtp_data_prepare(message);
    job->message = g_string_free_to_bytes(message);
}


/* Runs on a worker thread: builds the message, its DATA bytes and the
 * envelope sender. It reads only the delivery and the channel's
 * settings. */
static void
transfer_build(struct smtp_transfer *t)
{
    struct email_delivery *d = t->delivery;
    struct email *email = d->email;
    char *verp;

    if (email_delivery_build(d) != 0)
        return;
    job_data_prepare(&t->job, d);
    verp = verp_address(email, d->msg.message_id);
    t->from = g_strdup(verp != NULL ? verp : email->from.address);
    g_free(verp);
    if (!smtp_address_is_safe(d->msg.to) || !smtp_address_is_safe(t->from))
        t->unsafe = "SMTP: address contains a control character or an "
                    "angle bracket";
}


static void
on_build(uv_work_t *req)
{
    struct build_batch *batch = req->data;

    for (unsigned i = 0; i < batch->count; i++)
        transfer_build(batch->transfers[i]);
}


/* Queues a built message for a connection, or reports it. */
static void
transfer_built(struct smtp_pool *pool, struct smtp_transfer *t)
{
    struct email *email = pool->email;

    if (email->stopping) {
        transfer_report(t, SHUTDOWN_DETAIL);
        return;
    }
    if (t->delivery->build_error != NULL || t->unsafe != NULL) {
        transfer_report(t, NULL);
        return;
    }
    t->job.from = t->from;
    t->job.to = t->delivery->msg.to;
    t->job.data = t;
    queue_push_tail(&pool->waiting, t);
}


static void
on_built(uv_work_t *req, int status)
{
    struct build_batch *batch = req->data;
    struct smtp_pool *pool = batch->pool;

    (void) status;                  /* nothing cancels the build */
    for (unsigned i = 0; i < batch->count; i++)
        transfer_built(pool, batch->transfers[i]);
    g_free(batch);
    pool_dispatch(pool);
}


/*
 * Hands the transfers of this loop turn to the thread pool, in work
 * items of up to BUILD_BATCH_MAX messages.
 * NOTE: every message handed over is built at once, and waits built for
 * a connection, so memory grows with max_in_flight times the size of a
 * message (docs/KNOWN_LIMITS.md, "Delivery"). A DKIM signature takes about
 * 0.25 ms (docs/KNOWN_LIMITS.md, "Email"), far more than the wake-up an
 * item costs, so a signing channel queues one message per item and the
 * worker threads sign side by side.
 */
static void
builds_queue(struct smtp_pool *pool)
{
    unsigned batch_max = pool->email->dkim != NULL ? 1 : BUILD_BATCH_MAX;

    if (pool->build_prepare != NULL)
        uv_prepare_stop(pool->build_prepare);
    while (!g_queue_is_empty(&pool->unbuilt)) {
        struct build_batch *batch = g_new(struct build_batch, 1);

        batch->pool = pool;
        batch->count = 0;
        batch->work.data = batch;
        while (batch->count < batch_max &&
               !g_queue_is_empty(&pool->unbuilt)) {
            batch->transfers[batch->count++] =
                queue_pop_head(&pool->unbuilt);
        }
        if (uv_queue_work(pool->env.loop, &batch->work, on_build,
                          on_built) != 0) {
            for (unsigned i = 0; i < batch->count; i++)
                transfer_report(batch->transfers[i], "SMTP: the message "
                                "could not be queued for building");
            g_free(batch);
        }
    }
}


int
smtp_deliver(struct email_delivery *d)
{
    struct smtp_pool *pool = d->email->pool;
    struct smtp_transfer *t = g_new0(struct smtp_transfer, 1);

    t->delivery = d;
    t->link.data = t;
    queue_push_tail(&pool->unbuilt, t);
    /* The check handle runs after a poll, where the core's sends come
     * from store results, and the prepare handle catches the others. */
    if (turn_end_request(pool) != 0 || build_prepare_request(pool) != 0)
        builds_queue(pool);
    return 0;
}


void
smtp_abandon_waiting(struct email *email)
{
    struct smtp_pool *pool = email->pool;
    GQueue waiting = G_QUEUE_INIT;
    struct smtp_transfer *t;

    if (pool == NULL)
        return;
    while ((t = queue_pop_head(&pool->unbuilt)) != NULL)
        transfer_report(t, SHUTDOWN_DETAIL);
    waiting = pool->waiting;
    g_queue_init(&pool->waiting);
    while ((t = queue_pop_head(&waiting)) != NULL)
        transfer_report(t, SHUTDOWN_DETAIL);
}


/* Returns nonzero when a server of the channel speaks TLS. */
static int
servers_use_tls(const struct smtp_settings *s)
{
    for (size_t i = 0; i < s->server_count; i++) {
        if (s->servers[i].implicit_tls || s->servers[i].starttls)
            return 1;
    }
    return 0;
}


/* Sets the name sent with EHLO: this host's name, or "localhost". */
static void
helo_name_set(char *name, size_t size)
{
    if (gethostname(name, size) != 0 || name[0] == '\0' ||
        !smtp_address_is_safe(name) || strchr(name, ' ') != NULL)
        snprintf(name, size, "localhost");
    name[size - 1] = '\0';
}


int
smtp_pool_start(struct email *email)
{
    struct smtp_pool *pool = g_new0(struct smtp_pool, 1);
    char error[512];

    pool->email = email;
    g_queue_init(&pool->unbuilt);
    g_queue_init(&pool->waiting);
    g_queue_init(&pool->finished);
    pool->env.loop = email->host->loop(email->ctx);
    pool->env.settings = &email->smtp;
    pool->env.job_done = on_job_done;
    pool->env.ready = on_conn_ready;
    pool->env.next_job = on_next_job;
    pool->env.job_return = on_job_return;
    pool->env.released = on_released;
    pool->env.data = pool;
    helo_name_set(pool->env.helo_name, sizeof(pool->env.helo_name));
    if (servers_use_tls(&email->smtp)) {
        pool->env.tls = smtp_tls_context_new(email->smtp.ca_file, error,
                                             sizeof(error));
        if (pool->env.tls == NULL) {
            email->host->log(email->ctx, CRIER_LOG_ERROR, "SMTP TLS "
                             "not set up", "error=\"%s\" hint=\"check "
                             "ca_file\"", error);
            g_free(pool);
            return CRIER_ECONFIG;
        }
    }
    email->pool = pool;
    return 0;
}


static void
on_pool_handle_closed(uv_handle_t *handle)
{
    struct smtp_pool *pool = handle->data;

    g_free(handle);
    if (--pool->env.pending == 0)
        on_released(&pool->env);
}


void
smtp_pool_stop(struct email *email, crier_stop_cb done, void *arg)
{
    struct smtp_pool *pool = email->pool;
    int opened = 0;

    if (pool == NULL) {
        done(arg);
        return;
    }
    pool->stopping = 1;
    pool->stopped = done;
    pool->stopped_arg = arg;
    /* No delivery is in flight, so nothing waits for a build or a
     * report. */
    if (pool->turn_check != NULL) {
        pool->env.pending++;
        uv_close((uv_handle_t *) pool->turn_check, on_pool_handle_closed);
        pool->turn_check = NULL;
        opened = 1;
    }
    if (pool->build_prepare != NULL) {
        pool->env.pending++;
        uv_close((uv_handle_t *) pool->build_prepare,
                 on_pool_handle_closed);
        pool->build_prepare = NULL;
        opened = 1;
    }
    /* No delivery is in flight, so every connection is free. */
    for (unsigned i = 0; i < SMTP_CONNECTIONS_MAX; i++) {
        if (pool->conns[i] != NULL) {
            smtp_conn_free(pool->conns[i]);
            pool->conns[i] = NULL;
            opened = 1;
        }
    }
    if (!opened) {
        pool->stopped = NULL;
        done(arg);
    }
}


void
smtp_pool_free(struct email *email)
{
    struct smtp_pool *pool = email->pool;

    if (pool == NULL)
        return;
    /* Open handles point at the pool, so it stays when a stop never
     * ran. The process is ending then. */
    if (pool->env.pending != 0)
        return;
    if (pool->env.tls != NULL)
        SSL_CTX_free(pool->env.tls);
    g_free(pool);
    email->pool = NULL;
}
