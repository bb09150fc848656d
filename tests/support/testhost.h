/*
 * A host table for plugin tests: one plugin instance on its own loop.
 *
 * The table logs to stderr, keeps a test clock that moves only when the
 * test moves it, captures config_error reports in a buffer and resolves
 * relative paths against a folder the test chooses. Routes, requests,
 * emit and transfers return CRIER_ENOTSUP; a test that needs them replaces
 * the entries in `host` before it calls the plugin's init.
 */
#ifndef CRIER_TESTHOST_H
#define CRIER_TESTHOST_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <ltdl.h>
#include <uv.h>

#include <crier/crier.h>

/* 2026-01-01T00:00:00Z, where the test clock starts. */
#define TESTHOST_EPOCH_MS INT64_C(1767225600000)

struct testhost {
    /* The table passed to init. It is the first member, so the instance
     * pointer doubles as the plugin's `struct crier_ctx *`. */
    struct crier_host host;

    uv_loop_t loop;
    char name[64];
    char folder[PATH_MAX];
    char public_url[256];
    enum crier_log_level log_level;
    int64_t now_ms;

    /* Every config_error report, one "key: message\n" line each. */
    char config_errors[2048];
    size_t config_error_count;

    struct crier_timer *timers;   /* pending, in no order */
    uv_timer_t fire;              /* runs due timers on the next turn */
    uv_timer_t watchdog;          /* ends testhost_run_until */
    int timed_out;
};

/* A loaded plugin and the libltdl handle of its shared object. */
struct testhost_plugin {
    lt_dlhandle handle;
    const struct crier_plugin *plugin;
};

/*
 * Prepares `th` for an instance called `name` whose relative paths resolve
 * against `folder`. Returns 0 or a negative libuv code.
 */
int testhost_init(struct testhost *th, const char *name, const char *folder);

/*
 * Drops pending timers, closes the host's handles and the loop. Returns 0,
 * or UV_EBUSY when a plugin left a handle open.
 */
int testhost_close(struct testhost *th);

struct crier_ctx *testhost_ctx(struct testhost *th);

/* Moves the test clock and runs, on the next loop turn, the timers that
 * became due. */
void testhost_clock_set(struct testhost *th, int64_t now_ms);
void testhost_clock_advance(struct testhost *th, int64_t delta_ms);

/*
 * Runs the loop until *flag is nonzero or `timeout_ms` of real time pass.
 * Returns 0, or CRIER_ETIMEDOUT.
 */
int testhost_run_until(struct testhost *th, const int *flag,
                       int64_t timeout_ms);

/*
 * Loads the plugin at `path`, finds its descriptor and checks its ABI
 * version. On failure returns a negative code and writes why into `error`.
 * The object stays loaded for the life of the process, as in the core.
 */
int testhost_plugin_open(const char *path, struct testhost_plugin *out,
                         char *error, size_t size);

/* Looks up a symbol in the plugin or in a library it loaded. */
void *testhost_plugin_symbol(const struct testhost_plugin *plugin,
                             const char *name);

#endif
