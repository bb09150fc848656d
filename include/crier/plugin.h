/*
 * The plugin descriptor: the one symbol a plugin exports.
 *
 * A plugin is a shared object loaded with libltdl. It exports a const
 * `struct crier_plugin` named `crier_plugin` (use CRIER_PLUGIN_EXPORT). The
 * core reads `abi_version` before anything else and refuses the plugin when
 * it differs from the core's CRIER_ABI_VERSION. The core never writes into
 * the descriptor and never unloads a plugin.
 *
 * Lifecycle, on the loop thread:
 *   init     parse the config block, allocate state; no handles, no routes.
 *   start    register routes and timers, open connections.
 *   stop     finish or abandon work in flight, close handles, then call
 *            `done` (at once or later); no new work starts after it.
 *   destroy  free the state. The loop has stopped running the plugin.
 */
#ifndef CRIER_PLUGIN_H
#define CRIER_PLUGIN_H

#include <stdint.h>

#include <jansson.h>

#include "abi.h"
#include "host.h"

/* What a plugin is: the section of plugins.conf it goes in, and the
 * operation table that `ops` points to. */
enum crier_plugin_kind {
    CRIER_PLUGIN_TRIGGER = 1,
    CRIER_PLUGIN_CHANNEL = 2,
    CRIER_PLUGIN_STORE = 3
};

/* Reports that a plugin's stop has finished, with the core's `arg`. */
typedef void (*crier_stop_cb)(void *arg);

/* The descriptor. The core reads it and never writes into it. */
struct crier_plugin {
    uint32_t abi_version;     /* CRIER_ABI_VERSION; always the first field */
    uint32_t abi_minor;       /* CRIER_ABI_MINOR the plugin was built with */
    uint32_t kind;            /* enum crier_plugin_kind */
    const char *name;         /* the name plugins.conf uses: "sqlite" */
    const char *version;      /* the plugin's own version: "1.2.0" */
    const char *summary;      /* one line for `crier plugins` */

    /*
     * Reads the instance's config block and allocates its state into
     * *state. Reports bad values with host->config_error and returns
     * CRIER_ECONFIG. On failure init frees what it allocated: the core
     * then ignores *state and never calls destroy for it. `host` stays
     * valid for the life of the process.
     */
    int (*init)(struct crier_ctx *ctx, const struct crier_host *host,
                const json_t *config, void **state);

    /* Registers routes and timers; 0 or a negative code. May be NULL. */
    int (*start)(void *state);

    /* Finishes or hands back work in flight, closes handles and calls
     * `done` once, at once or later. May be NULL. */
    void (*stop)(void *state, crier_stop_cb done, void *arg);

    /* Frees the state that init allocated. May be NULL. */
    void (*destroy)(void *state);

    /* The kind's operation table: struct crier_trigger_ops, ...; or NULL
     * for a trigger that needs none. */
    const void *ops;
};

/* The name of the one symbol the core looks up in a plugin. */
#define CRIER_PLUGIN_SYMBOL "crier_plugin"

/* Declares the exported descriptor: `CRIER_PLUGIN_EXPORT = { ... };`. */
#define CRIER_PLUGIN_EXPORT                                                  \
    __attribute__((visibility("default"))) const struct crier_plugin        \
        crier_plugin

#endif
