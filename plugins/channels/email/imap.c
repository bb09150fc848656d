/*
 * The bounce mailbox: every `bounces.imap.poll_ms` the channel reads the
 * messages of an IMAP mailbox that it has not processed, with libcurl on
 * the core's loop, one command at a time:
 *
 *   UID SEARCH UNKEYWORD CrierProcessed   the messages not yet processed
 *   <url>;UID=n                           fetch one (libcurl's FETCH)
 *   (dsn.c turns it into events, which the core stores)
 *   UID STORE n +FLAGS (\Seen CrierProcessed)
 *
 * A keyword marks a processed message, not \Seen alone, because the
 * fetch itself sets \Seen. It is set only after the message's events
 * are stored, so a crash in between reads the message again, and the
 * events' ids (the report's Message-ID and recipient) make that second
 * reading a duplicate. A message that is no report is marked as well and
 * stays in the mailbox for a person to read. NOTE: a server that allows
 * no keywords (no \* in PERMANENTFLAGS) rejects the STORE, so every
 * round reads the same messages again (docs/KNOWN_LIMITS.md, "Email").
 */
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "email.h"
#include "imap.h"

/* The largest message fetched; the transfer of a bigger one fails, so
 * the round ends and the next poll tries it again. */
#define IMAP_MESSAGE_MAX (4 * 1024 * 1024)

struct imap_poll {
    struct email *email;
    struct crier_timer *timer;
    CURL *easy;
    GString *response;
    GArray *uids;             /* guint64 of the current round */
    guint next;               /* index in uids */
    int busy;                 /* a step is under way */
    int stopping;
    uint64_t error_logged_ms;
};

static void poll_round(void *arg);
static void uid_next(struct imap_poll *poll);


static size_t
on_write(char *data, size_t size, size_t count, void *arg)
{
    struct imap_poll *poll = arg;

    if (poll->response->len + size * count > IMAP_MESSAGE_MAX)
        return 0;
    g_string_append_len(poll->response, data, (gssize) (size * count));
    return size * count;
}


/* Ends a round and waits for the next poll. */
static void
round_end(struct imap_poll *poll)
{
    struct email *email = poll->email;

    g_array_set_size(poll->uids, 0);
    poll->next = 0;
    if (poll->busy) {
        poll->busy = 0;
        email_work_done(email);
    }
    if (!poll->stopping)
        poll->timer = email->host->timer_start(email->ctx,
                                               email->bounces.imap_poll_ms,
                                               poll_round, poll);
}


/* Logs a failed IMAP command at most once a minute; the round ends. */
static void
command_failed(struct imap_poll *poll, const char *command, CURLcode rc)
{
    struct email *email = poll->email;
    uint64_t now = uv_now(email->host->loop(email->ctx));

    if (poll->error_logged_ms == 0 || now - poll->error_logged_ms >= 60000) {
        email->host->log(email->ctx, CRIER_LOG_ERROR, "bounce mailbox "
                         "command failed; trying again at the next poll",
                         "command=\"%s\" error=\"%s\"", command,
                         curl_easy_strerror(rc));
        poll->error_logged_ms = now != 0 ? now : 1;
    }
    round_end(poll);
}


#define PROCESSED_KEYWORD "CrierProcessed"


/* Starts one IMAP command on the mailbox URL, or with `command` NULL
 * fetches the message `uid`. */
static int
command_start(struct imap_poll *poll, const char *command, guint64 uid,
              crier_transfer_cb done)
{
    struct email *email = poll->email;
    const struct bounce_settings *b = &email->bounces;
    CURL *easy = poll->easy;
    char *url = command != NULL
                ? g_strdup(b->imap_url)
                : g_strdup_printf("%s;UID=%" G_GUINT64_FORMAT, b->imap_url,
                                  uid);
    int rc;

    curl_easy_reset(easy);
    g_string_truncate(poll->response, 0);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    g_free(url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "imap,imaps");
#else
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
                     (long) (CURLPROTO_IMAP | CURLPROTO_IMAPS));
#endif
    if (b->imap_username != NULL)
        curl_easy_setopt(easy, CURLOPT_USERNAME, b->imap_username);
    if (b->imap_password != NULL)
        curl_easy_setopt(easy, CURLOPT_PASSWORD, b->imap_password);
    if (command != NULL)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, command);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, poll);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    rc = email->host->transfer_start(email->ctx, easy, done, poll);
    return rc;
}


static void
on_stored(void *arg, CURL *easy, CURLcode rc)
{
    struct imap_poll *poll = arg;

    (void) easy;
    if (rc != CURLE_OK) {
        command_failed(poll, "UID STORE", rc);
        return;
    }
    poll->next++;
    uid_next(poll);
}


/* Marks the current message \Seen and CrierProcessed, then goes on
 * with the next. */
static void
seen_mark(struct imap_poll *poll)
{
    char command[64];

    snprintf(command, sizeof(command), "UID STORE %" G_GUINT64_FORMAT
             " +FLAGS (\\Seen " PROCESSED_KEYWORD ")",
             g_array_index(poll->uids, guint64, poll->next));
    if (poll->stopping || command_start(poll, command, 0, on_stored) != 0)
        round_end(poll);
}


static void
on_events_stored(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct imap_poll *poll = arg;

    if (status != 0) {
        poll->email->host->log(poll->email->ctx, CRIER_LOG_ERROR, "bounce "
                               "report not stored; reading it again at the "
                               "next poll", "error=%s",
                               crier_errname(status));
        round_end(poll);
        return;
    }
    CRIER_LOG(poll->email->host, poll->email->ctx, CRIER_LOG_INFO,
              "bounce report stored", "accepted=%zu duplicates=%zu",
              accepted, duplicates);
    seen_mark(poll);
}


static void
on_fetched(void *arg, CURL *easy, CURLcode rc)
{
    struct imap_poll *poll = arg;
    struct email *email = poll->email;
    struct crier_input_error err = { .index = -1 };
    json_t *events;
    int emitted;

    (void) easy;
    if (rc != CURLE_OK) {
        command_failed(poll, "UID FETCH", rc);
        return;
    }
    events = json_array();
    dsn_events_add(email, poll->response->str, poll->response->len,
                   events);
    if (json_array_size(events) == 0) {
        json_decref(events);
        seen_mark(poll);
        return;
    }
    emitted = email->host->emit(email->ctx, events, &err, on_events_stored,
                                poll);
    json_decref(events);
    if (emitted != 0) {
        /* An invalid report (an address the core rejects) would fail
         * again, so it is marked processed. Any other error waits for the
         * next poll. */
        email->host->log(email->ctx, CRIER_LOG_WARN, "bounce report "
                         "rejected", "error=\"%s\" field=%s",
                         err.message, err.field);
        if (emitted == CRIER_EINVAL)
            seen_mark(poll);
        else
            round_end(poll);
    }
}


static void
uid_next(struct imap_poll *poll)
{
    if (poll->stopping || poll->next >= poll->uids->len) {
        round_end(poll);
        return;
    }
    if (command_start(poll, NULL, g_array_index(poll->uids, guint64,
                                                poll->next),
                      on_fetched) != 0)
        round_end(poll);
}


/* Reads the UIDs of "* SEARCH 4 7 9" into the round. */
static void
uids_parse(struct imap_poll *poll)
{
    const char *p = strstr(poll->response->str, "* SEARCH");

    if (p == NULL)
        return;
    p += strlen("* SEARCH");
    while (*p == ' ') {
        char *end;
        guint64 uid = g_ascii_strtoull(p + 1, &end, 10);

        if (end == p + 1 || uid == 0)
            break;
        g_array_append_val(poll->uids, uid);
        p = end;
    }
}


static void
on_searched(void *arg, CURL *easy, CURLcode rc)
{
    struct imap_poll *poll = arg;

    (void) easy;
    if (rc != CURLE_OK) {
        command_failed(poll, "UID SEARCH", rc);
        return;
    }
    uids_parse(poll);
    poll->next = 0;
    uid_next(poll);
}


static void
poll_round(void *arg)
{
    struct imap_poll *poll = arg;

    poll->timer = NULL;
    if (poll->stopping)
        return;
    poll->busy = 1;
    poll->email->in_flight++;
    if (command_start(poll, "UID SEARCH UNKEYWORD " PROCESSED_KEYWORD, 0,
                      on_searched) != 0)
        round_end(poll);
}


int
imap_poll_start(struct email *email)
{
    struct imap_poll *poll;

    if (email->bounces.imap_url == NULL)
        return 0;
    poll = g_new0(struct imap_poll, 1);
    poll->email = email;
    poll->easy = curl_easy_init();
    poll->response = g_string_new(NULL);
    poll->uids = g_array_new(FALSE, FALSE, sizeof(guint64));
    if (poll->easy == NULL) {
        imap_poll_free(poll);
        return CRIER_ENOMEM;
    }
    email->imap = poll;
    email->host->log(email->ctx, CRIER_LOG_INFO, "reading bounces from an "
                     "IMAP mailbox", "url=%s poll_ms=%ld",
                     email->bounces.imap_url, email->bounces.imap_poll_ms);
    poll->timer = email->host->timer_start(email->ctx, 0, poll_round, poll);
    return 0;
}


void
imap_poll_stop(struct imap_poll *poll)
{
    if (poll == NULL)
        return;
    poll->stopping = 1;
    if (poll->timer != NULL) {
        poll->email->host->timer_stop(poll->email->ctx, poll->timer);
        poll->timer = NULL;
    }
}


void
imap_poll_free(struct imap_poll *poll)
{
    if (poll == NULL)
        return;
    if (poll->easy != NULL)
        curl_easy_cleanup(poll->easy);
    g_string_free(poll->response, TRUE);
    g_array_free(poll->uids, TRUE);
    g_free(poll);
}
