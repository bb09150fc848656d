/*
 * Reloading plugins.conf in process, on SIGHUP or POST /v1/admin/reload.
 * docs/reload.md describes what changes and in what order.
 */
#ifndef CRIER_CORE_RELOAD_H
#define CRIER_CORE_RELOAD_H

#include <jansson.h>

struct http_server;

/*
 * Reports the end of a reload: status 0 and a summary
 * {"started": [...], "stopped": [...], "unchanged": [...]} of instance
 * keys, or a negative code and an error ("file:line: key: message", or
 * why no reload could begin). The summary is borrowed.
 */
typedef void (*reload_done_cb)(void *arg, int status, const char *error,
                               json_t *summary);

/*
 * Reads the config file again and, when it is valid, applies it: the
 * pipeline stops at a batch boundary, changed plugin instances are
 * replaced, templates, rules, segments and delivery settings are
 * swapped, and the pipeline starts again. A bad config changes nothing.
 * Returns CRIER_EBUSY while a reload runs or crier is stopping, and
 * `done` is then not called.
 */
int reload_begin(reload_done_cb done, void *arg);

/* Returns 1 while a reload runs. */
int reload_running(void);

/* Calls `fn` once no reload runs: at once, or when the reload ends. */
void reload_then(void (*fn)(void));

/* Adds POST /v1/admin/reload. */
int reload_route_add(struct http_server *http);

/* Frees the configs and settings that reloads replaced, at exit. */
void reload_release(void);

#endif
