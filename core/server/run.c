/* Starting, running and stopping the server in order. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "net/transfer.h"
#include "ingest/ingest.h"
#include "pipeline/engine.h"
#include "server/reload.h"
#include "server/routes.h"
#include "server/upgrade.h"
#include "server/server.h"

static uv_signal_t sig_term, sig_int, sig_usr1, sig_usr2, sig_hup;

/* Stops a list of instances one after the other, then calls `then`. */
struct stop_chain {
    GPtrArray *list;
    guint next;
    void (*then)(void);
};

static void shutdown_begin(void);


static void
chain_step(void *arg)
{
    struct stop_chain *c = arg;

    if (c->next < c->list->len) {
        struct plugin_instance *p = g_ptr_array_index(c->list, c->next++);

        plugin_stop(p, chain_step, c);
        return;
    }
    c->then();
    free(c);
}


static void
stop_all(GPtrArray *list, void (*then)(void))
{
    struct stop_chain *c = calloc(1, sizeof(*c));

    c->list = list;
    c->then = then;
    chain_step(c);
}


static void
close_any_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}


static void
on_store_stopped(void *arg)
{
    log_notice("stopped", NULL);
    upgrade_store_closed();
    clock_close();
    uv_walk(server.loop, close_any_handle, NULL);
}


static void
after_drain(void *arg)
{
    transfer_close();
    plugin_stop(server.store, on_store_stopped, NULL);
}


/* Channels report what they abandoned; the outbox records it. */
static void
after_channels(void)
{
    engine_drain(after_drain, NULL);
}


static void
after_engine(void *arg)
{
    stop_all(server.channels, after_channels);
}


static void
after_triggers(void)
{
    engine_stop(after_engine, NULL);
}


static void
after_http(void *arg)
{
    server.stopping = 2;
    stop_all(server.triggers, after_triggers);
}


/*
 * SIGTERM: stop accepting, answer every request already read (those that
 * wait for a commit get it), stop the triggers, the pipeline and the
 * outbox's claims, stop the channels (they finish what is under way and
 * hand back what is not), record every outcome, and let the store flush
 * last.
 */
static void
shutdown_begin(void)
{
    if (server.stopping)
        return;
    if (reload_running()) {
        /* The reload ends first, so that its stopped instances and the
         * pipeline are in a known state. */
        reload_then(shutdown_begin);
        return;
    }
    upgrade_cancel();
    server.stopping = 1;
    log_notice("stopping", "pending_batches=%u", ingest_pending());
    http_server_drain(server.http, after_http, NULL);
}


/* A reload that SIGHUP started has logged its outcome already. */
static void
on_signal_reload_done(void *arg, int status, const char *error,
                      json_t *summary)
{
}


static void
on_signal(uv_signal_t *h, int signum)
{
    switch (signum) {
    case SIGTERM:
    case SIGINT:
        shutdown_begin();
        break;
    case SIGUSR1:
        if (log_reopen() != 0)
            log_error("log file could not be reopened", "path=%s",
                      server.settings.log_file);
        else if (server.settings.log_file != NULL)
            log_notice("log file reopened", "path=%s",
                       server.settings.log_file);
        break;
    case SIGUSR2:
        if (reload_running() || upgrade_begin(shutdown_begin) != 0)
            log_warn("SIGUSR2 ignored: an upgrade or reload is running, "
                     "or crier is stopping", NULL);
        break;
    case SIGHUP:
        if (reload_begin(on_signal_reload_done, NULL) != 0)
            log_warn("SIGHUP ignored: a reload is running or crier is "
                     "stopping", NULL);
        break;
    }
}


static void
signals_start(void)
{
    uv_signal_t *handles[] = { &sig_term, &sig_int, &sig_usr1, &sig_usr2,
                               &sig_hup };
    int nums[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP };

    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < G_N_ELEMENTS(nums); i++) {
        uv_signal_init(server.loop, handles[i]);
        uv_signal_start(handles[i], on_signal, nums[i]);
        uv_unref((uv_handle_t *) handles[i]);
    }
}


static int
start_http(void)
{
    struct http_limits limits = {
        .max_header_bytes = (size_t) server.settings.max_header_bytes,
        .max_body_bytes = (size_t) server.settings.max_body_bytes,
        .max_pending = 64,
        .idle_timeout_ms = 60000,
        .header_timeout_ms = (unsigned) server.settings.header_timeout_ms,
        .body_timeout_ms = (unsigned) server.settings.body_timeout_ms,
        .max_conns_per_peer =
            (unsigned) server.settings.max_connections_per_ip,
    };

    server.http = http_server_new(server.loop, &limits);
    if (server.http == NULL)
        return CRIER_ENOMEM;
    http_server_trust_proxies(server.http, server.settings.trusted_proxies);
    return routes_add_core(server.http);
}


static int
start_plugins(GPtrArray *list)
{
    for (guint i = 0; i < list->len; i++) {
        int rc = plugin_start(g_ptr_array_index(list, i));

        if (rc != 0)
            return rc;
    }
    return 0;
}


int
server_run(void)
{
    const struct settings *s = &server.settings;
    char tzdata[32];
    int inherited;
    int rc;

    server.loop = uv_default_loop();
    if (s->log_file != NULL) {
        char *dir = g_path_get_dirname(s->log_file);

        g_mkdir_with_parents(dir, 0750);
        g_free(dir);
    }
    if (s->log_file != NULL && log_open(s->log_file) != 0) {
        log_error("log file could not be opened", "path=%s", s->log_file);
        return CRIER_EIO;
    }
    clock_init(server.loop, s->test_clock, s->clock_start_ms);
    if ((rc = transfer_init(server.loop)) != 0 || (rc = start_http()) != 0)
        return rc;
    signals_start();

    if ((rc = plugin_start(server.store)) != 0 ||
        (rc = start_plugins(server.channels)) != 0 ||
        (rc = start_plugins(server.triggers)) != 0 ||
        (rc = engine_start()) != 0)
        return rc;

    inherited = upgrade_listen_fd();
    if (inherited >= 0)
        rc = http_server_listen_fd(server.http, inherited);
    else
        rc = http_server_listen(server.http, s->listen);
    if (rc != 0) {
        log_error("cannot listen", "addr=%s error=\"%s\"", s->listen,
                  uv_strerror(rc));
        return CRIER_EIO;
    }
    clock_tzdata_version(tzdata, sizeof(tzdata));
    log_notice("listening", "addr=%s clock=%s tzdata=%s time_zone=%s "
               "node=%s pid=%d inherited=%s", s->listen,
               s->test_clock ? "test" : "host", tzdata, s->time_zone,
               s->node, (int) getpid(), inherited >= 0 ? "yes" : "no");

    /* Signal handles are unreferenced, so the loop ends when the stop
     * sequence has closed everything else. */
    uv_run(server.loop, UV_RUN_DEFAULT);
    http_server_free(server.http);
    server.http = NULL;
    uv_loop_close(server.loop);
    return server.exit_code;
}
