/*
 * Delivery over SMTP on the channel's own sender threads: `connections`
 * threads, each running one transaction at a time with
 * curl_easy_perform on its own easy handle, which keeps that thread's
 * connection open for the next message. The loop queues transfers under
 * a mutex. A thread takes the next one, builds the MIME text, sends it
 * and puts the transfer on the finished list. One uv_async_t brings
 * every finished transfer back to the loop in one turn. The loop thus
 * pays a few memory copies and a list append per message, and wakes once
 * per batch rather than once per message.
 * The server's first error reply, or else its last reply, decides the
 * outcome and becomes the detail.
 *
 * Why not the core's multi handle, or one multi handle per thread:
 * libcurl 7.88.1 sends the end of the message in smtp_done and then waits
 * for the reply with a blocking poll, even on a multi handle. The poll is
 * smtp_block_statemach in curl's lib/smtp.c, and it waits for up to the
 * server response timeout. On the loop that wait would stall every HTTP request and every
 * other channel, and on a thread driving a multi handle it would stall
 * every other transaction of that thread. With one transaction per
 * thread only that connection waits, which is what a slow relay should
 * cost.
 *
 * Failover: with several servers, a transfer tries them in order on its
 * sender thread. It moves to the next one only while the message cannot
 * have been accepted, which server_down decides. A timeout after DATA
 * may hide an accepted message, so it is retried later like any failure,
 * from the first server again.
 * NOTE: failover remembers nothing, so while the first server is down
 * each message waits for its connect timeout there
 * (docs/KNOWN_LIMITS.md, "Email").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email.h"

/* A transfer lives from smtp_deliver until the loop reports it. The
 * sender thread that took it owns it until it is on the finished list. */
struct smtp_transfer {
    struct email_delivery *delivery;
    CURL *easy;                     /* the sender thread's handle */
    CURLcode result;
    int abandoned;                  /* never sent: stop came first */
    struct curl_slist *recipients;
    size_t offset;                  /* bytes of the message read so far */
    char command[8];                /* the last command sent: "RCPT" */
    char reply[256];                /* the server's reply line, see above */
    long code;                      /* the code of that reply */
    int reply_is_error;             /* a 4xx or 5xx reply arrived */
    char error[CURL_ERROR_SIZE];
    char detail[CURL_ERROR_SIZE + 320];
    char queue_id[64];              /* from the final reply, or "" */
    size_t server;                  /* the index of the last server tried */
    char skipped[CURL_ERROR_SIZE];  /* the error of the first server down */
};


static size_t
on_read(char *buffer, size_t size, size_t count, void *arg)
{
    struct smtp_transfer *t = arg;
    const GString *message = t->delivery->message;
    size_t n = message->len - t->offset;

    if (n > size * count)
        n = size * count;
    memcpy(buffer, message->str + t->offset, n);
    t->offset += n;
    return n;
}


/* Copies the last line of `data` into `buf`, without its line break and
 * cut to fit. */
static void
line_copy(char *buf, size_t size, const char *data, size_t len)
{
    const char *start;

    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    start = data + len;
    while (start > data && start[-1] != '\n')
        start--;
    len -= (size_t) (start - data);
    if (len >= size)
        len = size - 1;
    memcpy(buf, start, len);
    buf[len] = '\0';
}


/*
 * Keeps the command verb and the reply line for the outcome, up to the
 * first 4xx or 5xx reply: libcurl then ends the session with QUIT, whose
 * "221 Bye" must not hide the cause. AUTH sends credentials as command
 * lines too; only the first word is kept, and it is never logged.
 */
static int
on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *arg)
{
    struct smtp_transfer *t = arg;

    if (t->reply_is_error || strcmp(t->command, "QUIT") == 0)
        return 0;
    if (type == CURLINFO_HEADER_OUT) {
        size_t n = 0;

        while (n < size && strchr(" :\r\n", data[n]) == NULL)
            n++;
        line_copy(t->command, sizeof(t->command), data, n);
    } else if (type == CURLINFO_HEADER_IN) {
        line_copy(t->reply, sizeof(t->reply), data, size);
        t->code = strtol(t->reply, NULL, 10);
        t->reply_is_error = t->code >= 400 && t->code < 600;
    }
    return 0;
}


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


/*
 * Returns nonzero when the last command concerned this message rather
 * than the session, so that a 5xx reply is about the message. libcurl
 * 7.88 reports no command for the end of the message, so the reply to it
 * follows "DATA".
 */
static int
command_is_message(const char *command)
{
    return strcmp(command, "MAIL") == 0 || strcmp(command, "RCPT") == 0 ||
           strcmp(command, "DATA") == 0;
}


/* Returns nonzero when `result` or `code` points at the settings or the
 * server rather than at this message. */
static int
session_refused(CURLcode result, long code)
{
    return result == CURLE_LOGIN_DENIED || result == CURLE_USE_SSL_FAILED ||
           (code >= 500 && code < 600);
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
                 s->servers[t->server].url);
    return t->detail;
}


/*
 * Maps libcurl's result to an outcome. A 5xx reply to MAIL, RCPT or DATA
 * is permanent. A 5xx reply in the session part (greeting, EHLO, AUTH,
 * STARTTLS) and a refused login point at the configuration, which an
 * operator can fix, so they are retried like every other failure.
 */
static void
result_classify(struct smtp_transfer *t, CURLcode result,
                struct crier_send_result *r)
{
    struct email *email = t->delivery->email;
    long code = t->code;

    if (t->server > 0)
        email_error_log(email, "SMTP server down; the message went to the "
                        "next one", "url=%s detail=\"%s\"",
                        email->smtp.servers[0].url, t->skipped);
    if (result == CURLE_OK) {
        r->outcome = CRIER_SEND_DONE;
        queue_id_parse(t->reply, t->queue_id, sizeof(t->queue_id));
        r->provider_id = t->queue_id[0] != '\0' ? t->queue_id
                                                : t->delivery->msg.message_id;
        snprintf(t->detail, sizeof(t->detail), "SMTP %s", t->reply);
        r->detail = transfer_detail_via(t);
        return;
    }

    if (code >= 400 && code < 600 && t->reply[0] != '\0')
        snprintf(t->detail, sizeof(t->detail), "SMTP %s", t->reply);
    else if (result == CURLE_ABORTED_BY_CALLBACK)
        snprintf(t->detail, sizeof(t->detail), "SMTP: interrupted by "
                 "shutdown");
    else
        snprintf(t->detail, sizeof(t->detail), "SMTP: %s%s%s",
                 curl_easy_strerror(result), t->error[0] ? ": " : "",
                 t->error);
    r->detail = transfer_detail_via(t);

    if (code >= 500 && code < 600 && result != CURLE_LOGIN_DENIED &&
        command_is_message(t->command)) {
        r->outcome = CRIER_SEND_FAIL;
        /* A 550, 551 or 553 with an enhanced status 5.1.x (RFC 3463:
         * addressing status) rejects the address itself. The outbox marks
         * it, and the detail gives the reply. */
        r->address_invalid = reply_is_invalid_address(t->reply);
        if (r->address_invalid)
            snprintf(t->detail, sizeof(t->detail), "invalid address: "
                     "SMTP %s", t->reply);
        return;
    }
    r->outcome = CRIER_SEND_RETRY;

    /* A 4xx reply is the server's ordinary "later", as in greylisting. */
    if (result == CURLE_ABORTED_BY_CALLBACK || (code >= 400 && code < 500))
        return;
    email_error_log(email, "SMTP delivery failed; it will be retried",
                    "detail=\"%s\"%s", t->detail,
                    session_refused(result, code)
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
server_down(const struct smtp_transfer *t)
{
    int before_data = strcmp(t->command, "DATA") != 0;

    switch (t->result) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return 1;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        return before_data || t->code == 421;
    default:
        return t->code == 421;
    }
}


/* Clears what one try leaves in the transfer and points it at server
 * `i`. */
static CURLcode
transfer_target(struct smtp_transfer *t, size_t i)
{
    const struct smtp_server *server = &t->delivery->email->smtp.servers[i];
    CURLcode rc;

    t->server = i;
    t->offset = 0;
    t->command[0] = '\0';
    t->reply[0] = '\0';
    t->code = 0;
    t->reply_is_error = 0;
    t->error[0] = '\0';
    rc = curl_easy_setopt(t->easy, CURLOPT_URL, server->url);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(t->easy, CURLOPT_USE_SSL, server->starttls
                              ? (long) CURLUSESSL_ALL
                              : (long) CURLUSESSL_NONE);
    return rc;
}



/* Sets the options of one transaction on the sender thread's handle. */
static CURLcode
transfer_setup(struct smtp_transfer *t)
{
    struct email *email = t->delivery->email;
    const struct smtp_settings *s = &email->smtp;
    char *rcpt = g_strdup_printf("<%s>", t->delivery->msg.to);
    char *verp = verp_address(email, t->delivery->msg.message_id);
    char *from = g_strdup_printf("<%s>", verp != NULL ? verp
                                                     : email->from.address);
    CURL *easy = t->easy;
    CURLcode rc = CURLE_OK;

    g_free(verp);
    t->recipients = curl_slist_append(NULL, rcpt);
    g_free(rcpt);
    if (t->recipients == NULL) {
        g_free(from);
        return CURLE_OUT_OF_MEMORY;
    }

    /* libcurl copies every string option. */
#define SET(option, value)                                                  \
    do {                                                                    \
        if (rc == CURLE_OK)                                                 \
            rc = curl_easy_setopt(easy, option, value);                     \
    } while (0)
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
    SET(CURLOPT_PROTOCOLS, (long) (CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
    SET(CURLOPT_MAIL_FROM, from);
    SET(CURLOPT_MAIL_RCPT, t->recipients);
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, on_read);
    SET(CURLOPT_READDATA, t);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t) t->delivery->message->len);
    SET(CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, s->timeout_ms);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, t->error);
    SET(CURLOPT_DEBUGFUNCTION, on_debug);
    SET(CURLOPT_DEBUGDATA, t);
    SET(CURLOPT_VERBOSE, 1L);
    if (s->ca_file != NULL)
        SET(CURLOPT_CAINFO, s->ca_file);
    if (s->username != NULL) {
        SET(CURLOPT_USERNAME, s->username);
        SET(CURLOPT_PASSWORD, s->password);
    }
#undef SET
    g_free(from);
    return rc;
}


/* Sends the message to the servers in order while they are down. */
static void
servers_try(struct smtp_transfer *t)
{
    size_t count = t->delivery->email->smtp.server_count;

    for (size_t i = 0; i < count; i++) {
        t->result = transfer_target(t, i);
        if (t->result == CURLE_OK)
            t->result = curl_easy_perform(t->easy);
        if (t->result == CURLE_OK || !server_down(t) || i + 1 == count)
            break;
        if (t->skipped[0] == '\0')
            snprintf(t->skipped, sizeof(t->skipped), "%s", t->code == 421
                     ? t->reply : curl_easy_strerror(t->result));
    }
}


/*
 * Runs on a sender thread: builds the message and sends it. It touches
 * only the transfer, its delivery and the channel's read-only settings.
 */
static void
transfer_perform(struct smtp_transfer *t)
{
    if (email_delivery_build(t->delivery) != 0)
        return;
    if (t->easy == NULL) {
        t->result = CURLE_OUT_OF_MEMORY;
        return;
    }
    /* A reset keeps the handle's open connections and DNS cache. */
    curl_easy_reset(t->easy);
    t->result = transfer_setup(t);
    if (t->result == CURLE_OK)
        servers_try(t);
    /* The options point at the recipient list, which is freed with the
     * transfer on the loop. */
    curl_easy_setopt(t->easy, CURLOPT_MAIL_RCPT, NULL);
    t->easy = NULL;
}


/* Waits for the next transfer. Returns NULL once the threads are to
 * exit. */
static struct smtp_transfer *
sender_take(struct smtp_senders *senders)
{
    struct smtp_transfer *t;

    uv_mutex_lock(&senders->lock);
    while (g_queue_is_empty(&senders->waiting) && !senders->exiting)
        uv_cond_wait(&senders->wake, &senders->lock);
    t = g_queue_pop_head(&senders->waiting);
    uv_mutex_unlock(&senders->lock);
    return t;
}


/* Hands a transfer back to the loop. uv_async_send wakes the loop once
 * for all the transfers that finish before it runs. */
static void
sender_finish(struct smtp_senders *senders, struct smtp_transfer *t)
{
    uv_mutex_lock(&senders->lock);
    g_queue_push_tail(&senders->finished, t);
    uv_mutex_unlock(&senders->lock);
    uv_async_send(senders->finished_async);
}


static void
sender_main(void *arg)
{
    struct email *email = arg;
    CURL *easy = curl_easy_init();
    struct smtp_transfer *t;

    while ((t = sender_take(&email->senders)) != NULL) {
        t->easy = easy;
        transfer_perform(t);
        sender_finish(&email->senders, t);
    }
    if (easy != NULL)
        curl_easy_cleanup(easy);
}


static void
transfer_free(struct smtp_transfer *t)
{
    curl_slist_free_all(t->recipients);
    g_free(t);
}


/* Reports one finished transfer on the loop. */
static void
transfer_report(struct smtp_transfer *t)
{
    struct email_delivery *d = t->delivery;
    struct crier_send_result r = { .outcome = CRIER_SEND_RETRY };

    if (t->abandoned) {
        r.detail = "SMTP: not sent before shutdown";
    } else if (d->build_error != NULL) {
        r.outcome = CRIER_SEND_FAIL;
        r.detail = d->build_error;
    } else {
        result_classify(t, t->result, &r);
    }
    email_delivery_finish(d, &r);
    transfer_free(t);
}


/* Runs on the loop when sender threads have finished transfers: reports
 * all of them, in the order they finished. */
static void
on_finished(uv_async_t *handle)
{
    struct email *email = handle->data;
    GQueue batch = G_QUEUE_INIT;
    struct smtp_transfer *t;

    uv_mutex_lock(&email->senders.lock);
    batch = email->senders.finished;
    g_queue_init(&email->senders.finished);
    uv_mutex_unlock(&email->senders.lock);

    while ((t = g_queue_pop_head(&batch)) != NULL)
        transfer_report(t);
}


int
smtp_deliver(struct email_delivery *d)
{
    struct smtp_senders *senders = &d->email->senders;
    struct smtp_transfer *t = g_new0(struct smtp_transfer, 1);

    t->delivery = d;
    uv_mutex_lock(&senders->lock);
    g_queue_push_tail(&senders->waiting, t);
    uv_cond_signal(&senders->wake);
    uv_mutex_unlock(&senders->lock);
    return 0;
}


void
smtp_abandon_waiting(struct email *email)
{
    struct smtp_senders *senders = &email->senders;
    GQueue waiting = G_QUEUE_INIT;
    struct smtp_transfer *t;

    if (!senders->started)
        return;
    uv_mutex_lock(&senders->lock);
    waiting = senders->waiting;
    g_queue_init(&senders->waiting);
    uv_mutex_unlock(&senders->lock);

    while ((t = g_queue_pop_head(&waiting)) != NULL) {
        t->abandoned = 1;
        transfer_report(t);
    }
}


/* Frees the handle once libuv has closed it, and reports the stop. */
static void
on_async_closed(uv_handle_t *handle)
{
    struct email *email = handle->data;
    crier_stop_cb done = email->senders.closed;

    g_free(handle);
    email->senders.closed = NULL;
    done(email->senders.closed_arg);
}


static void
on_async_freed(uv_handle_t *handle)
{
    g_free(handle);
}


/* Undoes a start that failed part way: ends the threads started so far
 * and closes the handle, which then reports nothing. */
static void
senders_abort(struct email *email)
{
    struct smtp_senders *senders = &email->senders;

    smtp_senders_join(email);
    uv_close((uv_handle_t *) senders->finished_async, on_async_freed);
    senders->finished_async = NULL;
    uv_cond_destroy(&senders->wake);
    uv_mutex_destroy(&senders->lock);
    senders->started = 0;
}


int
smtp_senders_start(struct email *email)
{
    struct smtp_senders *senders = &email->senders;
    uv_loop_t *loop = email->host->loop(email->ctx);

    g_queue_init(&senders->waiting);
    g_queue_init(&senders->finished);
    if (uv_mutex_init(&senders->lock) != 0)
        return CRIER_ENOMEM;
    if (uv_cond_init(&senders->wake) != 0) {
        uv_mutex_destroy(&senders->lock);
        return CRIER_ENOMEM;
    }
    senders->finished_async = g_new0(uv_async_t, 1);
    if (uv_async_init(loop, senders->finished_async, on_finished) != 0) {
        g_free(senders->finished_async);
        senders->finished_async = NULL;
        uv_cond_destroy(&senders->wake);
        uv_mutex_destroy(&senders->lock);
        return CRIER_EIO;
    }
    senders->finished_async->data = email;
    senders->started = 1;

    for (unsigned i = 0; i < email->smtp.connections; i++) {
        if (uv_thread_create(&senders->threads[i], sender_main,
                             email) != 0) {
            senders_abort(email);
            return CRIER_ENOMEM;
        }
        senders->thread_count++;
    }
    return 0;
}


void
smtp_senders_join(struct email *email)
{
    struct smtp_senders *senders = &email->senders;

    if (!senders->started)
        return;
    uv_mutex_lock(&senders->lock);
    senders->exiting = 1;
    uv_cond_broadcast(&senders->wake);
    uv_mutex_unlock(&senders->lock);
    for (unsigned i = 0; i < senders->thread_count; i++)
        uv_thread_join(&senders->threads[i]);
    senders->thread_count = 0;
}


void
smtp_senders_stop(struct email *email, crier_stop_cb done, void *arg)
{
    struct smtp_senders *senders = &email->senders;

    if (!senders->started) {
        done(arg);
        return;
    }
    /* No transfer is in flight, so each thread is waiting in sender_take
     * or about to, and leaves at once. */
    smtp_senders_join(email);
    senders->closed = done;
    senders->closed_arg = arg;
    uv_close((uv_handle_t *) senders->finished_async, on_async_closed);
    senders->finished_async = NULL;
    uv_cond_destroy(&senders->wake);
    uv_mutex_destroy(&senders->lock);
    senders->started = 0;
}
