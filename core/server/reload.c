/*
 * Reloading plugins.conf in process. The steps, in order:
 *
 *   1. The pipeline stops at a batch boundary, retention pauses, and the
 *      outbox stops claiming and records every delivery under way
 *      (engine_stop, engine_drain). Triggers keep accepting events,
 *      which the store commits as usual.
 *   2. The file is read and checked as `crier check` does, and every
 *      instance whose block changed, or is new, is loaded and initialised
 *      beside the running ones. Templates, rules, segments and delivery
 *      settings are built from it. Any error undoes all of this, and the
 *      old config goes on running (step 5).
 *   3. New triggers take over the routes of the ones they replace at
 *      once, so a request never finds its path missing. The replaced and
 *      removed instances are then stopped one by one, each finishing or
 *      handing back its own work in flight.
 *   4. New channels start, and old instances are destroyed (never
 *      unloaded: their shared objects stay mapped).
 *   5. One loop iteration later (the pipeline's closed handles must be
 *      gone before it opens new ones) the pipeline, outbox and retention
 *      start again and the caller gets the outcome.
 */
#include "server/reload.h"

#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "base/log.h"
#include "http/http.h"
#include "pipeline/engine.h"
#include "schedule/schedule.h"
#include "server/server.h"
#include "time/civil.h"

/* One reload, from the request to its report. */
struct reload {
    struct config *cfg;          /* the new config */
    struct config *old_cfg;
    struct settings settings;    /* the new settings until swapped in */
    struct settings old_settings;
    int swapped;                 /* server.* contains the new settings */
    GPtrArray *channels;         /* the new lists: kept and new instances */
    GPtrArray *triggers;
    GPtrArray *old_channels;
    GPtrArray *old_triggers;
    GPtrArray *fresh;            /* the instances this reload created */
    GPtrArray *retiring;         /* old instances that the config dropped
                                    or changed, triggers first */
    guint next_stop;             /* the next of `retiring` to stop */
    guint defs_before;           /* schedule definitions before init */
    GPtrArray *detached;         /* the schedule definitions of `retiring`
                                    triggers, while the new ones init */
    int status;
    char error[1024];
    json_t *summary;
    reload_done_cb done;
    void *done_arg;
};

static struct {
    struct reload *running;
    GPtrArray *then;             /* void (*)(void), called after it ends */
    GPtrArray *configs;          /* configs that reloads read, freed at
                                    exit; the first one is the caller's */
    GPtrArray *settings;         /* replaced struct settings *, likewise */
    uv_timer_t hop;
    int hop_ready;
} rl;


int
reload_running(void)
{
    return rl.running != NULL;
}


void
reload_then(void (*fn)(void))
{
    if (rl.running == NULL) {
        fn();
        return;
    }
    if (rl.then == NULL)
        rl.then = g_ptr_array_new();
    g_ptr_array_add(rl.then, (gpointer) fn);
}


/* Returns the old instance at `key` in `list`, or NULL. */
static struct plugin_instance *
instance_find(GPtrArray *list, const char *key)
{
    for (guint i = 0; list != NULL && i < list->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(list, i);

        if (strcmp(p->key, key) == 0)
            return p;
    }
    return NULL;
}


static int
list_has(GPtrArray *list, const struct plugin_instance *p)
{
    for (guint i = 0; i < list->len; i++) {
        if (g_ptr_array_index(list, i) == p)
            return 1;
    }
    return 0;
}


/*
 * Builds the new list of one section: an old instance whose block is
 * unchanged is kept as it runs, any other block gets a new instance.
 * Old instances left out go to `retiring`.
 */
static int
section_build(struct reload *r, const char *section,
              enum crier_plugin_kind kind, GPtrArray *old, GPtrArray *into)
{
    json_t *group = json_object_get(r->cfg->root, section);
    const char *name;
    json_t *block;

    if (group != NULL && !json_is_object(group)) {
        config_fail(r->cfg, section, "must be a group of named blocks");
        return CRIER_ECONFIG;
    }
    json_object_foreach(group, name, block) {
        char *key = g_strdup_printf("%s.%s", section, name);
        struct plugin_instance *p = instance_find(old, key);
        int rc = 0;

        if (p != NULL && json_equal(p->config, block)) {
            json_array_append_new(json_object_get(r->summary, "unchanged"),
                                  json_string(key));
        } else {
            rc = server_instance_load(r->cfg, key, block, kind, &p);
            if (rc == 0)
                g_ptr_array_add(r->fresh, p);
        }
        g_free(key);
        if (rc != 0)
            return rc;
        g_ptr_array_add(into, p);
    }
    for (guint i = 0; i < old->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(old, i);

        if (!list_has(into, p)) {
            g_ptr_array_add(r->retiring, p);
            json_array_append_new(json_object_get(r->summary, "stopped"),
                                  json_string(p->key));
        }
    }
    return 0;
}


/*
 * Rejects a change that this process cannot apply: the listener, the
 * clock, the log file, the node name, the HTTP limits and the store
 * are set up once at start. Restart crier or upgrade it (docs/reload.md).
 */
static int
fixed_settings_check(struct reload *r)
{
    const struct settings *now = &server.settings;
    const struct settings *next = &r->settings;
    const char *key = NULL;

    if (strcmp(now->listen, next->listen) != 0)
        key = "listen";
    else if (strcmp(now->node, next->node) != 0)
        key = "node";
    else if (now->test_clock != next->test_clock ||
             (now->test_clock && now->clock_start_ms != next->clock_start_ms))
        key = "clock";
    else if (g_strcmp0(now->log_file, next->log_file) != 0)
        key = "log_file";
    else if (now->max_body_bytes != next->max_body_bytes)
        key = "max_body_bytes";
    else if (now->max_header_bytes != next->max_header_bytes)
        key = "max_header_bytes";
    else if (!json_equal(json_object_get(r->old_cfg->root, "store"),
                         json_object_get(r->cfg->root, "store")))
        key = "store";
    if (key == NULL)
        return 0;
    config_fail(r->cfg, key, strcmp(key, "listen") == 0
                ? "cannot change by reload or upgrade (SIGUSR2), which keeps "
                  "the listening socket; restart crier"
                : "cannot change by reload; restart crier or upgrade it in "
                  "place (SIGUSR2)");
    return CRIER_ECONFIG;
}


/* Puts the new settings and lists in server.*, keeping the old ones. */
static void
swap_in(struct reload *r)
{
    r->old_settings = server.settings;
    server.settings = r->settings;
    memset(&r->settings, 0, sizeof(r->settings));
    r->old_channels = server.channels;
    r->old_triggers = server.triggers;
    server.channels = r->channels;
    server.triggers = r->triggers;
    r->swapped = 1;
    log_set_level(server.settings.log_level);
}


static int
init_fresh(struct reload *r)
{
    for (guint i = 0; i < r->fresh->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(r->fresh, i);
        int rc = plugin_init(p);

        if (rc != 0)
            return rc;
        json_array_append_new(json_object_get(r->summary, "started"),
                              json_string(p->key));
    }
    return 0;
}


/* Step 2: everything that can fail, with nothing stopped yet. */
static int
prepare(struct reload *r)
{
    int rc = config_load(r->old_cfg->path, &r->cfg);

    if (rc != 0)
        return rc;
    if (settings_load(r->cfg, &r->settings) != 0 ||
        fixed_settings_check(r) != 0)
        return CRIER_ECONFIG;
    r->channels = g_ptr_array_new();
    r->triggers = g_ptr_array_new();
    if (section_build(r, "channels", CRIER_PLUGIN_CHANNEL, server.channels,
                      r->channels) != 0 ||
        section_build(r, "triggers", CRIER_PLUGIN_TRIGGER, server.triggers,
                      r->triggers) != 0)
        return CRIER_ECONFIG;

    /* Plugins read the settings (public_url) and rules look up channels
     * in server.*, so the new ones go in before init. */
    swap_in(r);
    for (guint i = 0; i < r->retiring->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(r->retiring, i);

        if (p->desc->kind == CRIER_PLUGIN_TRIGGER)
            schedule_defs_detach(p->name, r->detached);
    }
    r->defs_before = schedule_defs_count();
    if (init_fresh(r) != 0 || engine_reload(r->cfg, r->old_cfg) != 0)
        return CRIER_ECONFIG;
    return 0;
}


/* Undoes a failed step 2: the old config and instances stay. */
static void
undo(struct reload *r)
{
    if (r->swapped) {
        schedule_defs_truncate(r->defs_before);
        schedule_defs_attach(r->detached);
        r->settings = server.settings;
        server.settings = r->old_settings;
        server.channels = r->old_channels;
        server.triggers = r->old_triggers;
        log_set_level(server.settings.log_level);
    }
    civil_zone_set_default(server.settings.time_zone);
    for (guint i = 0; r->fresh != NULL && i < r->fresh->len; i++)
        plugin_destroy(g_ptr_array_index(r->fresh, i));
    if (r->channels != NULL)
        g_ptr_array_free(r->channels, TRUE);
    if (r->triggers != NULL)
        g_ptr_array_free(r->triggers, TRUE);
    r->channels = r->triggers = NULL;
    settings_clear(&r->settings);
    config_free(r->cfg);
    r->cfg = NULL;
}


static void
reload_free(struct reload *r)
{
    if (r->fresh != NULL)
        g_ptr_array_free(r->fresh, TRUE);
    if (r->retiring != NULL)
        g_ptr_array_free(r->retiring, TRUE);
    if (r->detached != NULL)
        g_ptr_array_free(r->detached, TRUE);
    json_decref(r->summary);
    free(r);
}


/* Step 5: the engine starts again and the caller gets the outcome. */
static void
on_hop(uv_timer_t *timer)
{
    struct reload *r = rl.running;
    GPtrArray *then = rl.then;
    int rc = engine_start();

    if (rc != 0) {
        log_error("pipeline failed to start after a reload",
                  "error=%s", crier_errname(rc));
        if (r->status == 0) {
            r->status = rc;
            snprintf(r->error, sizeof(r->error), "the pipeline failed to "
                     "start again: %s", crier_strerror(rc));
        }
    }
    if (r->status == 0)
        log_notice("config reloaded", "config=%s started=%zu stopped=%zu "
                   "unchanged=%zu", server.cfg->path,
                   json_array_size(json_object_get(r->summary, "started")),
                   json_array_size(json_object_get(r->summary, "stopped")),
                   json_array_size(json_object_get(r->summary,
                                                   "unchanged")));
    r->done(r->done_arg, r->status, r->status ? r->error : NULL,
            r->summary);
    rl.running = NULL;
    rl.then = NULL;
    reload_free(r);
    for (guint i = 0; then != NULL && i < then->len; i++)
        ((void (*)(void)) g_ptr_array_index(then, i))();
    if (then != NULL)
        g_ptr_array_free(then, TRUE);
}


static void
engine_restart_later(void)
{
    if (!rl.hop_ready) {
        uv_timer_init(server.loop, &rl.hop);
        uv_unref((uv_handle_t *) &rl.hop);
        rl.hop_ready = 1;
    }
    uv_timer_start(&rl.hop, on_hop, 0, 0);
}


/* Step 4: new channels start and old instances are destroyed. */
static void
after_stops(struct reload *r)
{
    for (guint i = 0; i < r->fresh->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(r->fresh, i);

        if (p->desc->kind == CRIER_PLUGIN_CHANNEL && plugin_start(p) != 0) {
            r->status = CRIER_EIO;
            snprintf(r->error, sizeof(r->error), "%s: the plugin failed to "
                     "start; see the log", p->key);
        }
    }
    for (guint i = 0; i < r->retiring->len; i++)
        plugin_destroy(g_ptr_array_index(r->retiring, i));
    engine_restart_later();
}


/* Step 3, one instance at a time. */
static void
stop_next(void *arg)
{
    struct reload *r = arg;

    if (r->next_stop < r->retiring->len) {
        struct plugin_instance *p =
            g_ptr_array_index(r->retiring, r->next_stop++);

        log_info("stopping instance for reload", "instance=%s", p->key);
        plugin_stop(p, stop_next, r);
        return;
    }
    after_stops(r);
}


/*
 * Retires the old config and settings. NOTE: both stay allocated until
 * exit, because running instances and settings point into them, so each
 * reload keeps one more config in memory (docs/KNOWN_LIMITS.md).
 */
static void
retire_old(struct reload *r)
{
    struct settings *old = malloc(sizeof(*old));

    if (rl.configs == NULL) {
        rl.configs = g_ptr_array_new();
        rl.settings = g_ptr_array_new();
        g_ptr_array_add(rl.configs, r->old_cfg);
    }
    g_ptr_array_add(rl.configs, r->cfg);
    if (old != NULL) {
        *old = r->old_settings;
        g_ptr_array_add(rl.settings, old);
    }
    g_ptr_array_free(r->old_channels, TRUE);
    g_ptr_array_free(r->old_triggers, TRUE);
    r->old_channels = r->old_triggers = NULL;
}


/* Step 3: new triggers take the routes, then the old instances stop. */
static void
commit(struct reload *r)
{
    server.cfg = r->cfg;
    schedule_defs_retire(r->detached);
    http_server_trust_proxies(server.http, server.settings.trusted_proxies);
    retire_old(r);
    for (guint i = 0; i < r->retiring->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(r->retiring, i);

        if (p->desc->kind == CRIER_PLUGIN_TRIGGER)
            http_routes_remove(server.http, p);
    }
    for (guint i = 0; i < r->fresh->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(r->fresh, i);

        if (p->desc->kind == CRIER_PLUGIN_TRIGGER && plugin_start(p) != 0) {
            r->status = CRIER_EIO;
            snprintf(r->error, sizeof(r->error), "%s: the plugin failed to "
                     "start; see the log", p->key);
        }
    }
    stop_next(r);
}


static void
on_drained(void *arg)
{
    struct reload *r = arg;
    char quoted[2 * sizeof(r->error)];

    if (prepare(r) == 0) {
        commit(r);
        return;
    }
    r->status = CRIER_ECONFIG;
    snprintf(r->error, sizeof(r->error), "%s",
             r->cfg != NULL && r->cfg->error[0] != '\0'
                 ? r->cfg->error : "the config could not be read");
    log_error("reload failed; the running config stays",
              "error=\"%s\"", log_escape(r->error, quoted, sizeof(quoted)));
    undo(r);
    engine_restart_later();
}


static void
on_engine_stopped(void *arg)
{
    engine_drain(on_drained, arg);
}


/*
 * NOTE: while the pipeline is stopped, admin merges and profile changes
 * get a 503 response, and a segment refresh or replan pass already in
 * flight runs on beside the new one (docs/KNOWN_LIMITS.md,
 * "Configuration").
 */
int
reload_begin(reload_done_cb done, void *arg)
{
    struct reload *r;

    if (rl.running != NULL || server.stopping || server.store == NULL ||
        !server.store->started)
        return CRIER_EBUSY;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CRIER_ENOMEM;
    r->old_cfg = server.cfg;
    r->fresh = g_ptr_array_new();
    r->retiring = g_ptr_array_new();
    r->detached = g_ptr_array_new();
    r->summary = json_pack("{s:[],s:[],s:[]}", "started", "stopped",
                           "unchanged");
    r->done = done;
    r->done_arg = arg;
    rl.running = r;
    log_notice("reloading config", "config=%s", server.cfg->path);
    engine_stop(on_engine_stopped, r);
    return 0;
}


static void
on_reloaded(void *arg, int status, const char *error, json_t *summary)
{
    struct crier_http_req *req = arg;

    if (status == 0) {
        json_t *body = json_deep_copy(summary);

        json_object_set_new(body, "status", json_string("reloaded"));
        http_respond_json(req, 200, body);
    } else {
        admin_respond_error(req, status == CRIER_ECONFIG ? 400 : 500, NULL,
                            error);
    }
}


static void
on_reload_post(void *arg, struct crier_http_req *req)
{
    int rc;

    if (!admin_authorize(req))
        return;
    rc = reload_begin(on_reloaded, req);
    if (rc == CRIER_EBUSY)
        admin_respond_error(req, 409, NULL, server.stopping
                            ? "crier is stopping"
                            : "a reload is already running; try again");
    else if (rc != 0)
        admin_respond_error(req, 500, NULL, crier_strerror(rc));
}


int
reload_route_add(struct http_server *http)
{
    return http_route_add(http, "POST", "/v1/admin/reload", on_reload_post,
                          NULL);
}


void
reload_release(void)
{
    /* The first config is the one the caller of server_prepare frees. */
    for (guint i = 1; rl.configs != NULL && i < rl.configs->len; i++)
        config_free(g_ptr_array_index(rl.configs, i));
    for (guint i = 0; rl.settings != NULL && i < rl.settings->len; i++) {
        settings_clear(g_ptr_array_index(rl.settings, i));
        free(g_ptr_array_index(rl.settings, i));
    }
    if (rl.configs != NULL) {
        g_ptr_array_free(rl.configs, TRUE);
        g_ptr_array_free(rl.settings, TRUE);
    }
    memset(&rl, 0, sizeof(rl));
}
