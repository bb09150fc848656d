/*
 * Delivery over SMTP: one libcurl easy handle per message, run with
 * curl_easy_perform on libuv's thread pool, at most `connections` at a
 * time; a share handle keeps the connections open for reuse across them.
 * The server's first error reply, or else its last reply, decides the
 * outcome and becomes the detail.
 *
 * Failover: with several servers, a transfer tries them in order on its
 * worker thread. It moves to the next one only while the message cannot
 * have been accepted, which server_down decides. A timeout after DATA may hide an accepted
 * message, so it is retried later like any failure, from the first
 * server again.
 * NOTE: failover remembers nothing, so while the first server is down
 * each message waits for its connect timeout there
 * (docs/KNOWN_LIMITS.md, "Email").
 *
 * Why not the core's multi handle: libcurl 7.88 waits for the reply to the
 * end of the message with a blocking poll (smtp_done runs the state
 * machine in blocking mode), which would stall the whole event loop for as
 * long as the server takes to answer. On a worker thread only that worker
 * waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "email.h"

#ifdef CRIER_EMAIL_LIBCRYPTO
#include <openssl/crypto.h>
#endif

struct smtp_transfer {
    uv_work_t work;
    struct email_delivery *delivery;
    CURL *easy;
    CURLcode result;                /* set on the worker thread */
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


/*
 * Frees the transfer and keeps its easy handle, reset, for the next
 * message. curl_easy_perform builds a multi handle (with a socket pair)
 * inside each easy handle on first use, so a reused handle saves that
 * work for every message.
 */
static void
transfer_free(struct email *email, struct smtp_transfer *t)
{
    if (t->easy != NULL && email->smtp_idle.length <
                           email->smtp.connections) {
        curl_easy_reset(t->easy);
        g_queue_push_tail(&email->smtp_idle, t->easy);
    } else if (t->easy != NULL) {
        curl_easy_cleanup(t->easy);
    }
    curl_slist_free_all(t->recipients);
    g_free(t);
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
                                                : t->delivery->message_id;
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


static void smtp_start_waiting(struct email *email);


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


/* Runs on a worker thread: it touches only the transfer. It tries the
 * servers in order while they are down. */
static void
smtp_work(uv_work_t *work)
{
    struct smtp_transfer *t = work->data;
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
#ifdef CRIER_EMAIL_LIBCRYPTO
    /* OpenSSL 3 allocates error and other state for each thread that
     * uses it and frees it only when the thread ends. libuv's pool
     * threads outlive the plugin, so the state is freed here; OpenSSL
     * makes it again on the next use. */
    OPENSSL_thread_stop();
#endif
}


static void
smtp_work_done(uv_work_t *work, int status)
{
    struct smtp_transfer *t = work->data;
    struct email *email = t->delivery->email;
    struct crier_send_result r = { .outcome = CRIER_SEND_RETRY };

    email->smtp_running--;
    result_classify(t, status == 0 ? t->result : CURLE_ABORTED_BY_CALLBACK,
                    &r);
    email_delivery_finish(t->delivery, &r);
    transfer_free(email, t);
    smtp_start_waiting(email);
}


static int
transfer_run(struct smtp_transfer *t)
{
    struct email *email = t->delivery->email;
    int rc;

    t->work.data = t;
    rc = uv_queue_work(email->host->loop(email->ctx), &t->work, smtp_work,
                       smtp_work_done);
    if (rc != 0)
        return CRIER_EIO;
    email->smtp_running++;
    return 0;
}


/* Starts waiting transfers while fewer than `connections` run. */
static void
smtp_start_waiting(struct email *email)
{
    while (email->smtp_running < email->smtp.connections &&
           !g_queue_is_empty(&email->smtp_waiting)) {
        struct smtp_transfer *t = g_queue_pop_head(&email->smtp_waiting);

        if (transfer_run(t) != 0) {
            struct crier_send_result r = {
                .outcome = CRIER_SEND_RETRY,
                .detail = "SMTP: no worker thread could be started",
            };

            email_delivery_finish(t->delivery, &r);
            transfer_free(email, t);
        }
    }
}


static int
transfer_setup(struct smtp_transfer *t)
{
    struct email *email = t->delivery->email;
    const struct smtp_settings *s = &email->smtp;
    char *rcpt = g_strdup_printf("<%s>", t->delivery->to);
    char *verp = verp_address(email, t->delivery->message_id);
    char *from = g_strdup_printf("<%s>", verp != NULL ? verp
                                                     : email->from.address);
    CURL *easy = t->easy;
    CURLcode rc = CURLE_OK;

    g_free(verp);
    t->recipients = curl_slist_append(NULL, rcpt);
    g_free(rcpt);
    if (t->recipients == NULL) {
        g_free(from);
        return CRIER_ENOMEM;
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
    SET(CURLOPT_SHARE, email->smtp_share);
    /* curl_easy_perform's own multi handle keeps at most this many idle
     * connections in the shared cache (libcurl's default is 4 per easy
     * handle), so more running transactions would close and reopen them. */
    SET(CURLOPT_MAXCONNECTS, (long) s->connections);
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
    return rc == CURLE_OK ? 0 : CRIER_EINVAL;
}


int
smtp_deliver(struct email_delivery *d)
{
    struct email *email = d->email;
    struct smtp_transfer *t = g_new0(struct smtp_transfer, 1);
    int rc;

    t->delivery = d;
    t->easy = g_queue_pop_head(&email->smtp_idle);
    if (t->easy == NULL)
        t->easy = curl_easy_init();
    if (t->easy == NULL) {
        transfer_free(email, t);
        return CRIER_ENOMEM;
    }
    rc = transfer_setup(t);
    if (rc != 0) {
        transfer_free(email, t);
        return rc;
    }
    g_queue_push_tail(&email->smtp_waiting, t);
    smtp_start_waiting(email);
    return 0;
}


void
smtp_abandon_waiting(struct email *email)
{
    struct smtp_transfer *t;

    while ((t = g_queue_pop_head(&email->smtp_waiting)) != NULL) {
        struct crier_send_result r = {
            .outcome = CRIER_SEND_RETRY,
            .detail = "SMTP: not sent before shutdown",
        };

        email_delivery_finish(t->delivery, &r);
        transfer_free(email, t);
    }
}


static void
on_share_lock(CURL *easy, curl_lock_data data, curl_lock_access access,
              void *arg)
{
    struct email *email = arg;

    uv_mutex_lock(&email->smtp_share_locks[data]);
}


static void
on_share_unlock(CURL *easy, curl_lock_data data, void *arg)
{
    struct email *email = arg;

    uv_mutex_unlock(&email->smtp_share_locks[data]);
}


int
smtp_share_open(struct email *email)
{
    g_queue_init(&email->smtp_waiting);
    g_queue_init(&email->smtp_idle);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        if (uv_mutex_init(&email->smtp_share_locks[i]) != 0)
            return CRIER_ENOMEM;
    email->smtp_share = curl_share_init();
    if (email->smtp_share == NULL)
        return CRIER_ENOMEM;
    curl_share_setopt(email->smtp_share, CURLSHOPT_LOCKFUNC, on_share_lock);
    curl_share_setopt(email->smtp_share, CURLSHOPT_UNLOCKFUNC,
                      on_share_unlock);
    curl_share_setopt(email->smtp_share, CURLSHOPT_USERDATA, email);
    curl_share_setopt(email->smtp_share, CURLSHOPT_SHARE,
                      CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(email->smtp_share, CURLSHOPT_SHARE,
                      CURL_LOCK_DATA_DNS);
    return 0;
}


void
smtp_share_close(struct email *email)
{
    CURL *easy;

    if (email->smtp_share == NULL)
        return;
    /* A share handle in use by an easy handle cannot be cleaned up. */
    while ((easy = g_queue_pop_head(&email->smtp_idle)) != NULL)
        curl_easy_cleanup(easy);
    curl_share_cleanup(email->smtp_share);
    email->smtp_share = NULL;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        uv_mutex_destroy(&email->smtp_share_locks[i]);
}
