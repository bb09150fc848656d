#include "net/transfer.h"

#include <stdlib.h>

#include <crier/error.h>

#include "base/log.h"

struct transfer {
    CURL *easy;
    crier_transfer_cb done;
    void *arg;
    struct transfer *prev, *next;   /* running transfers, for close */
};

struct socket_watch {
    uv_poll_t poll;
    curl_socket_t fd;
};

static struct {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timeout;
    unsigned active;
    int closing;
    struct transfer *running;
} xfer;


static void
running_unlink(struct transfer *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        xfer.running = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    xfer.active--;
}


static void
finish_done_transfers(void)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(xfer.multi, &left)) != NULL) {
        struct transfer *t = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &t);
        curl_multi_remove_handle(xfer.multi, msg->easy_handle);
        if (t != NULL) {
            running_unlink(t);
            t->done(t->arg, t->easy, msg->data.result);
            free(t);
        }
    }
}


static void
on_poll(uv_poll_t *handle, int status, int events)
{
    struct socket_watch *w = handle->data;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(xfer.multi, w->fd, flags, &running);
    finish_done_transfers();
}


static void
on_watch_closed(uv_handle_t *handle)
{
    free(handle->data);
}


static int
on_socket(CURL *easy, curl_socket_t fd, int action, void *userp,
          void *socketp)
{
    struct socket_watch *w = socketp;
    int events = 0;

    if (action == CURL_POLL_REMOVE) {
        if (w != NULL) {
            uv_poll_stop(&w->poll);
            uv_close((uv_handle_t *) &w->poll, on_watch_closed);
            curl_multi_assign(xfer.multi, fd, NULL);
        }
        return 0;
    }
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL)
            return -1;
        w->fd = fd;
        w->poll.data = w;
        if (uv_poll_init_socket(xfer.loop, &w->poll, fd) != 0) {
            free(w);
            return -1;
        }
        curl_multi_assign(xfer.multi, fd, w);
    }
    if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&w->poll, events, on_poll);
    return 0;
}


static void
on_timeout(uv_timer_t *handle)
{
    int running;

    curl_multi_socket_action(xfer.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    finish_done_transfers();
}


static int
on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    if (timeout_ms < 0)
        uv_timer_stop(&xfer.timeout);
    else
        uv_timer_start(&xfer.timeout, on_timeout, (uint64_t) timeout_ms, 0);
    return 0;
}


int
transfer_init(uv_loop_t *loop)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CRIER_EIO;
    xfer.loop = loop;
    xfer.closing = 0;
    xfer.multi = curl_multi_init();
    if (xfer.multi == NULL)
        return CRIER_ENOMEM;
    uv_timer_init(loop, &xfer.timeout);
    curl_multi_setopt(xfer.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(xfer.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    return 0;
}


int
transfer_start(CURL *easy, crier_transfer_cb done, void *arg)
{
    struct transfer *t;

    if (xfer.multi == NULL || xfer.closing)
        return CRIER_ECLOSED;
    t = malloc(sizeof(*t));
    if (t == NULL)
        return CRIER_ENOMEM;
    t->easy = easy;
    t->done = done;
    t->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(xfer.multi, easy) != CURLM_OK) {
        free(t);
        return CRIER_EINVAL;
    }
    t->prev = NULL;
    t->next = xfer.running;
    if (xfer.running != NULL)
        xfer.running->prev = t;
    xfer.running = t;
    xfer.active++;
    return 0;
}


unsigned
transfer_active(void)
{
    return xfer.active;
}


void
transfer_close(void)
{
    if (xfer.multi == NULL)
        return;
    xfer.closing = 1;
    while (xfer.running != NULL) {
        struct transfer *t = xfer.running;

        curl_multi_remove_handle(xfer.multi, t->easy);
        running_unlink(t);
        t->done(t->arg, t->easy, CURLE_ABORTED_BY_CALLBACK);
        free(t);
    }
    curl_multi_cleanup(xfer.multi);
    xfer.multi = NULL;
    uv_close((uv_handle_t *) &xfer.timeout, NULL);
}
