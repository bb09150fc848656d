#include "server/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "dashboard/dashboard.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "metrics/metrics.h"
#include "net/transfer.h"
#include "pipeline/engine.h"
#include "server/reload.h"

struct server server;


static const char *const *
plugin_dirs(void)
{
    static const char *dirs[3];

    dirs[0] = server.settings.plugin_dir;
    dirs[1] = CRIER_PLUGIN_INSTALL_DIR;
    dirs[2] = NULL;
    return dirs;
}


int
server_instance_load(struct config *cfg, const char *key,
                     const json_t *block, enum crier_plugin_kind kind,
                     struct plugin_instance **out)
{
    const char *name = NULL;

    if (!json_is_object(block)) {
        config_fail(cfg, key, "must be a group: { plugin = \"...\"; ... }");
        return CRIER_ECONFIG;
    }
    if (config_get_string(cfg, block, key, "plugin", 1, &name) != 0)
        return CRIER_ECONFIG;
    return plugin_load(cfg, plugin_dirs(), key, name, block, kind, out);
}


/* Loads every instance of one section ("triggers", "channels"). */
static int
load_section(struct config *cfg, const char *section,
             enum crier_plugin_kind kind, GPtrArray *into)
{
    json_t *group = json_object_get(cfg->root, section);
    const char *name;
    json_t *block;

    if (group == NULL)
        return 0;
    if (!json_is_object(group)) {
        config_fail(cfg, section, "must be a group of named blocks");
        return CRIER_ECONFIG;
    }
    json_object_foreach(group, name, block) {
        struct plugin_instance *p;
        char *key = g_strdup_printf("%s.%s", section, name);
        int rc = server_instance_load(cfg, key, block, kind, &p);

        g_free(key);
        if (rc != 0)
            return rc;
        g_ptr_array_add(into, p);
    }
    return 0;
}


static int
init_all(void)
{
    int rc = plugin_init(server.store);

    for (guint i = 0; rc == 0 && i < server.channels->len; i++)
        rc = plugin_init(g_ptr_array_index(server.channels, i));
    for (guint i = 0; rc == 0 && i < server.triggers->len; i++)
        rc = plugin_init(g_ptr_array_index(server.triggers, i));
    return rc;
}


int
server_prepare(struct config *cfg)
{
    json_t *store;
    int rc;

    server.cfg = cfg;
    server.triggers = g_ptr_array_new();
    server.channels = g_ptr_array_new();
    if (settings_load(cfg, &server.settings) != 0)
        return CRIER_ECONFIG;
    log_set_level(server.settings.log_level);

    store = json_object_get(cfg->root, "store");
    if (store == NULL) {
        config_fail(cfg, "store", "missing; name a store plugin, such as "
                    "store: { plugin = \"sqlite\"; path = \"var/crier.db\"; }");
        return CRIER_ECONFIG;
    }
    rc = server_instance_load(cfg, "store", store, CRIER_PLUGIN_STORE,
                              &server.store);
    if (rc == 0)
        rc = load_section(cfg, "channels", CRIER_PLUGIN_CHANNEL,
                          server.channels);
    if (rc == 0)
        rc = load_section(cfg, "triggers", CRIER_PLUGIN_TRIGGER,
                          server.triggers);
    if (rc == 0)
        rc = engine_prepare(cfg);
    if (rc == 0)
        rc = init_all();
    if (rc != 0)
        return CRIER_ECONFIG;
    server.store_ops = server.store->desc->ops;
    return 0;
}


struct plugin_instance *
server_channel(const char *name)
{
    for (guint i = 0; server.channels && i < server.channels->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(server.channels, i);

        if (strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}


struct plugin_instance *
server_trigger(const char *name)
{
    for (guint i = 0; server.triggers && i < server.triggers->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(server.triggers, i);

        if (strcmp(p->name, name) == 0)
            return p;
    }
    return NULL;
}


static void
destroy_instance(gpointer p, gpointer unused)
{
    plugin_destroy(p);
}


void
server_release(void)
{
    engine_release();
    if (server.triggers != NULL) {
        g_ptr_array_foreach(server.triggers, destroy_instance, NULL);
        g_ptr_array_free(server.triggers, TRUE);
    }
    if (server.channels != NULL) {
        g_ptr_array_foreach(server.channels, destroy_instance, NULL);
        g_ptr_array_free(server.channels, TRUE);
    }
    plugin_destroy(server.store);
    settings_clear(&server.settings);
    reload_release();
    metrics_reset();
    dashboard_sessions_clear();
    memset(&server, 0, sizeof(server));
}
