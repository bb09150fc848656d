/* The host table: the core's entries for plugins, one thin wrapper each. */
#include <stdio.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "net/transfer.h"
#include "plugin/plugin.h"
#include "server/server.h"


static int
host_log_enabled(struct crier_ctx *ctx, enum crier_log_level level)
{
    return log_enabled(level);
}


static void
host_log(struct crier_ctx *ctx, enum crier_log_level level, const char *msg,
         const char *fields_fmt, ...)
{
    va_list ap;

    if (!log_enabled(level))
        return;
    va_start(ap, fields_fmt);
    log_vwrite(level, ctx->instance->name, msg, fields_fmt, ap);
    va_end(ap);
}


static void
host_config_error(struct crier_ctx *ctx, const char *key, const char *fmt,
                  ...)
{
    struct plugin_instance *p = ctx->instance;
    char *full = g_strdup_printf("%s.%s", p->key, key);
    va_list ap;

    va_start(ap, fmt);
    config_vfail(p->cfg, full, fmt, ap);
    va_end(ap);
    g_free(full);
}


static char *
host_resolve_path(struct crier_ctx *ctx, const char *path)
{
    return config_resolve(ctx->instance->cfg, path);
}


static const char *
host_public_url(struct crier_ctx *ctx)
{
    return server.settings.public_url;
}


static const char *
host_instance_name(struct crier_ctx *ctx)
{
    return ctx->instance->name;
}


static uv_loop_t *
host_loop(struct crier_ctx *ctx)
{
    return server.loop;
}


static int64_t
host_now_ms(struct crier_ctx *ctx)
{
    return clock_now_ms();
}


static struct crier_timer *
host_timer_start(struct crier_ctx *ctx, int64_t delay_ms, crier_timer_cb cb,
                 void *arg)
{
    return timer_start(delay_ms, cb, arg);
}


static void
host_timer_stop(struct crier_ctx *ctx, struct crier_timer *timer)
{
    timer_stop(timer);
}


static int
host_route_add(struct crier_ctx *ctx, const char *method, const char *path,
               crier_http_handler handler, void *arg)
{
    int rc;

    if (server.http == NULL)
        return CRIER_ENOTSUP;
    rc = http_route_add(server.http, method, path, handler, arg);
    if (rc == 0)
        log_debug("route added", "instance=%s method=%s path=%s",
                  ctx->instance->key, method, path);
    return rc;
}


static int
host_emit(struct crier_ctx *ctx, json_t *events,
          struct crier_input_error *err, crier_emit_cb done, void *arg)
{
    return ingest_emit(ctx->instance->name, events, err, done, arg);
}


static int
host_transfer_start(struct crier_ctx *ctx, CURL *easy,
                    crier_transfer_cb done, void *arg)
{
    return transfer_start(easy, done, arg);
}


const struct crier_host host_table = {
    .size = sizeof(struct crier_host),
    .minor = CRIER_ABI_MINOR,
    .log_enabled = host_log_enabled,
    .log = host_log,
    .config_error = host_config_error,
    .resolve_path = host_resolve_path,
    .public_url = host_public_url,
    .instance_name = host_instance_name,
    .loop = host_loop,
    .now_ms = host_now_ms,
    .timer_start = host_timer_start,
    .timer_stop = host_timer_stop,
    .route_add = host_route_add,
    .req_method = http_req_method,
    .req_path = http_req_path,
    .req_query = http_req_query,
    .req_header = http_req_header,
    .req_body = http_req_body,
    .req_peer = http_req_peer,
    .resp_header = http_resp_header,
    .respond = http_respond,
    .respond_json = http_respond_json,
    .emit = host_emit,
    .transfer_start = host_transfer_start,
};
