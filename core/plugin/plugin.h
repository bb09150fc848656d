/*
 * Plugin instances: one per block of plugins.conf that names a plugin.
 * The loader finds the shared object with libltdl, checks its descriptor
 * and runs its lifecycle; plugins are never unloaded.
 */
#ifndef CRIER_CORE_PLUGIN_H
#define CRIER_CORE_PLUGIN_H

#include <crier/crier.h>

#include "config/config.h"

struct plugin_instance;

/* The opaque context a plugin receives; it leads to its instance. */
struct crier_ctx {
    struct plugin_instance *instance;
};

struct plugin_instance {
    struct crier_ctx ctx;
    char *key;                  /* config path of the block: "triggers.web" */
    char *name;                 /* instance name: "web"; "store" */
    char *file;                 /* the shared object that was loaded */
    const struct crier_plugin *desc;
    struct config *cfg;         /* for config errors during init */
    json_t *config;             /* the block, borrowed from cfg->root */
    void *state;
    int started;
};

/*
 * Finds plugin `name` in `dirs` (NULL-terminated), checks its ABI version
 * and kind, and returns a new instance for the block at `key`. Records a
 * config error naming the file and what to do on failure.
 */
int plugin_load(struct config *cfg, const char *const *dirs, const char *key,
                const char *name, const json_t *block,
                enum crier_plugin_kind kind, struct plugin_instance **out);

/* Runs the descriptor's init with the host table. */
int plugin_init(struct plugin_instance *p);

int plugin_start(struct plugin_instance *p);
void plugin_stop(struct plugin_instance *p, crier_stop_cb done, void *arg);
void plugin_destroy(struct plugin_instance *p);

/* Calls `fn` for every plugin found in `dirs`; the descriptor is NULL for
 * a file that failed to load, and `why` then says what went wrong. */
typedef void (*plugin_found_fn)(void *arg, const char *file,
                                const struct crier_plugin *desc,
                                const char *why);
void plugin_list(const char *const *dirs, plugin_found_fn fn, void *arg);

/* Returns the name of a plugin kind: "trigger", "channel", "store". */
const char *plugin_kind_name(uint32_t kind);

/* The one host table every plugin receives. */
extern const struct crier_host host_table;

/* pace.c: the host table's pace_acquire and pace_release, and whether
 * the store offers the operations behind them. */
int plugin_pace_offered(void);
int plugin_pace_acquire(struct crier_ctx *ctx, const char *name,
                        unsigned max_per_second, unsigned max_in_flight,
                        int64_t lease_ms, crier_pace_cb done, void *arg);
int plugin_pace_release(struct crier_ctx *ctx, const char *name,
                        int64_t slot, crier_pace_cb done, void *arg);

#endif
