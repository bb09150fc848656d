/* The host table: the core's entries for plugins, one thin wrapper each. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "ingest/internal.h"
#include "net/transfer.h"
#include "plugin/plugin.h"
#include "schedule/schedule.h"
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
    rc = http_route_add_owned(server.http, ctx->instance, method, path,
                              handler, arg);
    if (rc == 0)
        log_debug("route added", "instance=%s method=%s path=%s",
                  ctx->instance->key, method, path);
    return rc;
}


/* Returns nonzero when `event` reports a delivery status, which only a
 * channel plugin may emit. */
static int
event_is_delivery(const json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));

    return type != NULL && delivery_event_status(type) != NULL;
}


static int
host_emit(struct crier_ctx *ctx, json_t *events,
          struct crier_input_error *err, crier_emit_cb done, void *arg)
{
    size_t n = json_is_array(events) ? json_array_size(events) : 1;

    for (size_t i = 0; ctx->instance->desc->kind != CRIER_PLUGIN_CHANNEL
                       && i < n; i++) {
        const json_t *event = json_is_array(events)
                              ? json_array_get(events, i) : events;

        if (!event_is_delivery(event))
            continue;
        err->index = json_is_array(events) ? (long) i : -1;
        snprintf(err->field, sizeof(err->field), "type");
        snprintf(err->message, sizeof(err->message), "type %s is reserved "
                 "for the delivery statuses that channel plugins report; "
                 "use another type",
                 json_string_value(json_object_get(event, "type")));
        return CRIER_EINVAL;
    }
    return ingest_emit(ctx->instance->name, events, err, done, arg);
}


static int
host_transfer_start(struct crier_ctx *ctx, CURL *easy,
                    crier_transfer_cb done, void *arg)
{
    return transfer_start(easy, done, arg);
}


/* A cursor read or write on its way to the store. */
struct cursor_call {
    crier_cursor_cb done;
    void *arg;
    int64_t value;      /* the value written, for cursor_set */
};


/* Returns the store's name of an instance's cursor, "plugin:<instance>:
 * <name>", so a plugin can reach neither the core's cursors nor another
 * instance's. Free with g_free. */
static char *
cursor_store_name(struct crier_ctx *ctx, const char *name)
{
    return g_strdup_printf("plugin:%s:%s", ctx->instance->name, name);
}


static void
on_cursor_read(void *arg, int status, json_t *result)
{
    struct cursor_call *call = arg;
    int64_t value = 0;

    if (status == 0)
        value = json_integer_value(json_object_get(result, "value"));
    call->done(call->arg, status, value);
    free(call);
}


static void
on_cursor_written(void *arg, int status, json_t *result)
{
    struct cursor_call *call = arg;

    call->done(call->arg, status, status == 0 ? call->value : 0);
    free(call);
}


/* Checks a cursor call and allocates its record, or returns an error. */
static int
cursor_call_new(const char *name, crier_cursor_cb done, void *arg,
                struct cursor_call **call)
{
    if (name == NULL || name[0] == '\0' || done == NULL)
        return CRIER_EINVAL;
    if (server.store_ops == NULL)
        return CRIER_ENOTSUP;
    *call = calloc(1, sizeof(**call));
    if (*call == NULL)
        return CRIER_ENOMEM;
    (*call)->done = done;
    (*call)->arg = arg;
    return 0;
}


static int
host_cursor_get(struct crier_ctx *ctx, const char *name,
                crier_cursor_cb done, void *arg)
{
    struct cursor_call *call;
    char *full;
    int rc = cursor_call_new(name, done, arg, &call);

    if (rc != 0)
        return rc;
    full = cursor_store_name(ctx, name);
    rc = server.store_ops->cursor_get(server.store->state, full,
                                      on_cursor_read, call);
    g_free(full);
    if (rc != 0)
        free(call);
    return rc;
}


/* Writes the cursor through the store's commit, which applies a batch
 * that holds only a cursor in a transaction of its own. */
static int
host_cursor_set(struct crier_ctx *ctx, const char *name, int64_t value,
                crier_cursor_cb done, void *arg)
{
    struct cursor_call *call;
    json_t *batch;
    char *full;
    int rc;

    if (value < 0)
        return CRIER_EINVAL;
    if ((rc = cursor_call_new(name, done, arg, &call)) != 0)
        return rc;
    call->value = value;
    full = cursor_store_name(ctx, name);
    batch = json_pack("{s:{s:s,s:I}}", "cursor", "name", full, "value",
                      (json_int_t) value);
    g_free(full);
    rc = server.store_ops->commit(server.store->state, batch,
                                  on_cursor_written, call);
    json_decref(batch);
    if (rc != 0)
        free(call);
    return rc;
}


static int
host_schedule_add(struct crier_ctx *ctx, const json_t *schedule,
                  struct crier_input_error *err)
{
    return schedule_define(ctx->instance->name, schedule, err);
}


/* The largest `limit` of schedules_fire, that of the store's claim. */
#define SCHEDULES_FIRE_MAX 1000

static int
host_schedules_fire(struct crier_ctx *ctx, size_t limit, crier_fire_cb done,
                    void *arg)
{
    if (limit < 1 || limit > SCHEDULES_FIRE_MAX || done == NULL)
        return CRIER_EINVAL;
    return schedule_fire(ctx->instance->name, limit, done, arg);
}


/* Returns 1 when `listen` ("a.b.c.d:port" or "[v6]:port", as the
 * settings check) names 127.0.0.0/8 or ::1. */
static int
host_listen_is_loopback(struct crier_ctx *ctx)
{
    const char *listen = server.settings.listen;
    const char *colon = strrchr(listen, ':');
    unsigned char bin[16];
    char host[64];
    size_t len = colon != NULL ? (size_t) (colon - listen) : 0;

    if (len >= 2 && listen[0] == '[' && listen[len - 1] == ']') {
        if (len - 2 >= sizeof(host))
            return 0;
        memcpy(host, listen + 1, len - 2);
        host[len - 2] = '\0';
        return inet_pton(AF_INET6, host, bin) == 1 &&
               memcmp(bin, &in6addr_loopback, sizeof(bin)) == 0;
    }
    if (len == 0 || len >= sizeof(host))
        return 0;
    memcpy(host, listen, len);
    host[len] = '\0';
    return inet_pton(AF_INET, host, bin) == 1 && bin[0] == 127;
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
    .cursor_get = host_cursor_get,
    .cursor_set = host_cursor_set,
    .schedule_add = host_schedule_add,
    .schedules_fire = host_schedules_fire,
    .listen_is_loopback = host_listen_is_loopback,
    .pace_acquire = plugin_pace_acquire,
    .pace_release = plugin_pace_release,
};
