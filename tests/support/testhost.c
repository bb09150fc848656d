/* A host table for plugin tests, described in testhost.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testhost.h"

struct crier_timer {
    struct crier_timer *next;
    int64_t due_ms;
    crier_timer_cb cb;
    void *arg;
};


static struct testhost *
host_of(struct crier_ctx *ctx)
{
    return (struct testhost *)ctx;
}


static const char *
level_name(enum crier_log_level level)
{
    static const char *const names[] = {
        "error", "warn", "notice", "info", "debug"
    };

    if ((unsigned)level >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[level];
}


static int
host_log_enabled(struct crier_ctx *ctx, enum crier_log_level level)
{
    return level <= host_of(ctx)->log_level;
}


static void
host_log(struct crier_ctx *ctx, enum crier_log_level level, const char *msg,
         const char *fields_fmt, ...)
{
    struct testhost *th = host_of(ctx);
    va_list args;

    if (level > th->log_level)
        return;
    fprintf(stderr, "%s %s: %s", level_name(level), th->name, msg);
    if (fields_fmt != NULL) {
        fputc(' ', stderr);
        va_start(args, fields_fmt);
        vfprintf(stderr, fields_fmt, args);
        va_end(args);
    }
    fputc('\n', stderr);
}


static void
host_config_error(struct crier_ctx *ctx, const char *key, const char *fmt,
                  ...)
{
    struct testhost *th = host_of(ctx);
    size_t used = strlen(th->config_errors);
    size_t room = sizeof(th->config_errors) - used;
    va_list args;
    int n;

    th->config_error_count++;
    n = snprintf(th->config_errors + used, room, "%s: ", key);
    if (n < 0 || (size_t)n >= room)
        return;
    used += (size_t)n;
    room -= (size_t)n;
    va_start(args, fmt);
    n = vsnprintf(th->config_errors + used, room, fmt, args);
    va_end(args);
    if (n >= 0 && (size_t)n + 1 < room)
        strcat(th->config_errors, "\n");
}


static char *
host_resolve_path(struct crier_ctx *ctx, const char *path)
{
    struct testhost *th = host_of(ctx);
    size_t size;
    char *resolved;

    if (path[0] == '/')
        return strdup(path);
    size = strlen(th->folder) + 1 + strlen(path) + 1;
    resolved = malloc(size);
    if (resolved != NULL)
        snprintf(resolved, size, "%s/%s", th->folder, path);
    return resolved;
}


static const char *
host_public_url(struct crier_ctx *ctx)
{
    return host_of(ctx)->public_url;
}


static const char *
host_instance_name(struct crier_ctx *ctx)
{
    return host_of(ctx)->name;
}


static uv_loop_t *
host_loop(struct crier_ctx *ctx)
{
    return &host_of(ctx)->loop;
}


static int64_t
host_now_ms(struct crier_ctx *ctx)
{
    return host_of(ctx)->now_ms;
}


/* Runs every timer that is due, earliest first. */
static void
timers_fire(uv_timer_t *handle)
{
    struct testhost *th = handle->data;
    struct crier_timer **link;
    struct crier_timer **earliest;
    struct crier_timer *timer;

    for (;;) {
        earliest = NULL;
        for (link = &th->timers; *link != NULL; link = &(*link)->next) {
            if ((*link)->due_ms <= th->now_ms
                && (earliest == NULL || (*link)->due_ms < (*earliest)->due_ms))
                earliest = link;
        }
        if (earliest == NULL)
            return;
        timer = *earliest;
        *earliest = timer->next;
        timer->cb(timer->arg);
        free(timer);
    }
}


/* Schedules timers_fire for the next loop turn. */
static void
timers_schedule(struct testhost *th)
{
    uv_timer_start(&th->fire, timers_fire, 0, 0);
}


static struct crier_timer *
host_timer_start(struct crier_ctx *ctx, int64_t delay_ms, crier_timer_cb cb,
                 void *arg)
{
    struct testhost *th = host_of(ctx);
    struct crier_timer *timer = calloc(1, sizeof(*timer));

    if (timer == NULL)
        return NULL;
    timer->due_ms = th->now_ms + (delay_ms > 0 ? delay_ms : 0);
    timer->cb = cb;
    timer->arg = arg;
    timer->next = th->timers;
    th->timers = timer;
    if (timer->due_ms <= th->now_ms)
        timers_schedule(th);
    return timer;
}


static void
host_timer_stop(struct crier_ctx *ctx, struct crier_timer *timer)
{
    struct testhost *th = host_of(ctx);
    struct crier_timer **link;

    for (link = &th->timers; *link != NULL; link = &(*link)->next) {
        if (*link == timer) {
            *link = timer->next;
            free(timer);
            return;
        }
    }
}


static int
host_route_add(struct crier_ctx *ctx, const char *method, const char *path,
               crier_http_handler handler, void *arg)
{
    return CRIER_ENOTSUP;
}


/* The testhost makes no requests, so these are never reached. */
static const char *
host_req_text(struct crier_http_req *req)
{
    return "";
}


static const char *
host_req_header(struct crier_http_req *req, const char *name)
{
    return NULL;
}


static const char *
host_req_body(struct crier_http_req *req, size_t *len)
{
    *len = 0;
    return "";
}


static void
host_resp_header(struct crier_http_req *req, const char *name,
                 const char *value)
{
}


static void
host_respond(struct crier_http_req *req, int status,
             const char *content_type, const void *body, size_t len)
{
}


static void
host_respond_json(struct crier_http_req *req, int status, json_t *body)
{
    json_decref(body);
}


static int
host_emit(struct crier_ctx *ctx, json_t *events,
          struct crier_input_error *err, crier_emit_cb done, void *arg)
{
    return CRIER_ENOTSUP;
}


static int
host_transfer_start(struct crier_ctx *ctx, CURL *easy,
                    crier_transfer_cb done, void *arg)
{
    return CRIER_ENOTSUP;
}


static const struct crier_host host_table = {
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
    .req_method = host_req_text,
    .req_path = host_req_text,
    .req_query = host_req_text,
    .req_header = host_req_header,
    .req_body = host_req_body,
    .req_peer = host_req_text,
    .resp_header = host_resp_header,
    .respond = host_respond,
    .respond_json = host_respond_json,
    .emit = host_emit,
    .transfer_start = host_transfer_start
};


int
testhost_init(struct testhost *th, const char *name, const char *folder)
{
    int rc;

    memset(th, 0, sizeof(*th));
    th->host = host_table;
    snprintf(th->name, sizeof(th->name), "%s", name);
    snprintf(th->folder, sizeof(th->folder), "%s", folder);
    snprintf(th->public_url, sizeof(th->public_url),
             "http://127.0.0.1:8080");
    th->log_level = CRIER_LOG_WARN;
    th->now_ms = TESTHOST_EPOCH_MS;
    rc = uv_loop_init(&th->loop);
    if (rc != 0)
        return rc;
    uv_timer_init(&th->loop, &th->fire);
    uv_timer_init(&th->loop, &th->watchdog);
    th->fire.data = th;
    th->watchdog.data = th;
    return 0;
}


int
testhost_close(struct testhost *th)
{
    struct crier_timer *timer;

    while ((timer = th->timers) != NULL) {
        th->timers = timer->next;
        free(timer);
    }
    uv_close((uv_handle_t *)&th->fire, NULL);
    uv_close((uv_handle_t *)&th->watchdog, NULL);

    /* One turn that does not wait runs the close callbacks, and a handle
     * that a plugin left open cannot hang the test. */
    uv_run(&th->loop, UV_RUN_NOWAIT);
    return uv_loop_close(&th->loop);
}


struct crier_ctx *
testhost_ctx(struct testhost *th)
{
    return (struct crier_ctx *)th;
}


void
testhost_clock_set(struct testhost *th, int64_t now_ms)
{
    th->now_ms = now_ms;
    timers_schedule(th);
}


void
testhost_clock_advance(struct testhost *th, int64_t delta_ms)
{
    testhost_clock_set(th, th->now_ms + delta_ms);
}


static void
watchdog_expired(uv_timer_t *handle)
{
    struct testhost *th = handle->data;

    th->timed_out = 1;
}


int
testhost_run_until(struct testhost *th, const int *flag, int64_t timeout_ms)
{
    th->timed_out = 0;
    uv_timer_start(&th->watchdog, watchdog_expired, (uint64_t)timeout_ms, 0);
    while (!*flag && !th->timed_out)
        uv_run(&th->loop, UV_RUN_ONCE);
    uv_timer_stop(&th->watchdog);
    return *flag ? 0 : CRIER_ETIMEDOUT;
}


int
testhost_plugin_open(const char *path, struct testhost_plugin *out,
                     char *error, size_t size)
{
    const struct crier_plugin *plugin;

    memset(out, 0, sizeof(*out));
    if (lt_dlinit() != 0) {
        snprintf(error, size, "lt_dlinit failed: %s", lt_dlerror());
        return CRIER_EIO;
    }
    out->handle = lt_dlopen(path);
    if (out->handle == NULL) {
        snprintf(error, size, "%s: cannot load: %s", path, lt_dlerror());
        return CRIER_EIO;
    }
    plugin = lt_dlsym(out->handle, CRIER_PLUGIN_SYMBOL);
    if (plugin == NULL) {
        snprintf(error, size, "%s: no symbol %s; is it a crier plugin?",
                 path, CRIER_PLUGIN_SYMBOL);
        return CRIER_EINVAL;
    }
    if (plugin->abi_version != CRIER_ABI_VERSION) {
        snprintf(error, size, "%s: ABI version %u, expected %u", path,
                 (unsigned)plugin->abi_version, (unsigned)CRIER_ABI_VERSION);
        return CRIER_EABI;
    }
    out->plugin = plugin;
    return 0;
}


void *
testhost_plugin_symbol(const struct testhost_plugin *plugin,
                       const char *name)
{
    return lt_dlsym(plugin->handle, name);
}
