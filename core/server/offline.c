/* Running the store and the pipeline without the listener (offline
 * commands). */
#include "base/clock.h"
#include "base/log.h"
#include "pipeline/pipeline.h"
#include "server/server.h"


static void
close_any_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}


static void
on_store_stopped(void *arg)
{
    clock_close();
    uv_walk(server.loop, close_any_handle, NULL);
}


static void
after_pipeline(void *arg)
{
    server.stopping = 2;
    plugin_stop(server.store, on_store_stopped, NULL);
}


void
server_stop_offline(void)
{
    if (server.stopping)
        return;
    server.stopping = 1;
    pipeline_stop(after_pipeline, NULL);
}


int
server_run_offline(void (*work)(void *arg), void *arg)
{
    const struct settings *s = &server.settings;
    int rc;

    server.loop = uv_default_loop();
    clock_init(server.loop, s->test_clock, s->clock_start_ms);
    rc = plugin_start(server.store);
    if (rc == 0 && (rc = pipeline_start(server.rules, NULL)) != 0)
        after_pipeline(NULL);
    else if (rc != 0)
        on_store_stopped(NULL);
    else
        work(arg);
    uv_run(server.loop, UV_RUN_DEFAULT);
    uv_loop_close(server.loop);
    return rc;
}
