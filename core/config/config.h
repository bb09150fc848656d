/*
 * plugins.conf: parsed with libconfig, with ${NAME} and ${NAME:-default}
 * taken from the environment, and turned into one jansson tree. The line
 * of every setting is kept by its key path ("triggers.cases.secret",
 * "rules[0].when"), so any later check can point at file and line.
 */
#ifndef CRIER_CORE_CONFIG_H
#define CRIER_CORE_CONFIG_H

#include <stdarg.h>

#include <crier/error.h>
#include <crier/host.h>
#include <glib.h>
#include <jansson.h>

struct config {
    char *path;             /* the file as given */
    char *dir;              /* the folder holding it, absolute */
    json_t *root;
    GHashTable *lines;      /* key path -> line number */
    GHashTable *files;      /* key path -> included file, when not `path` */
    char error[1024];       /* the first error, "file:line: key: message" */
};

/*
 * Reads and parses `path`. Returns 0, or CRIER_ECONFIG with the first
 * error in (*out)->error; *out is set in both cases and freed by the
 * caller. A file that cannot be read gives CRIER_EIO.
 */
int config_load(const char *path, struct config **out);

void config_free(struct config *cfg);

/* Returns the line of `key`, or of its nearest parent that has one. */
int config_line(const struct config *cfg, const char *key);

/* Returns the file that contains `key`: cfg->path or an @include'd file. */
const char *config_file(const struct config *cfg, const char *key);

/* Records an error at `key` unless one is recorded already. */
void config_fail(struct config *cfg, const char *key, const char *fmt, ...)
    CRIER_PRINTF(3, 4);
void config_vfail(struct config *cfg, const char *key, const char *fmt,
                  va_list ap);

/*
 * Records an error for the first member of `obj` not in `known` (a
 * NULL-terminated list), naming the valid ones. Returns 0 or CRIER_ECONFIG.
 */
int config_check_keys(struct config *cfg, const json_t *obj,
                      const char *prefix, const char *const *known);

/* Returns `path` resolved against cfg->dir, allocated with malloc. */
char *config_resolve(const struct config *cfg, const char *path);

/* Helpers that read a typed member of `obj` or record an error at
 * `prefix.name`. Each returns 0, or CRIER_ECONFIG; a missing optional
 * member leaves *out alone. */
int config_get_string(struct config *cfg, const json_t *obj,
                      const char *prefix, const char *name, int required,
                      const char **out);
int config_get_int(struct config *cfg, const json_t *obj, const char *prefix,
                   const char *name, long long min, long long max,
                   long long *out);

#endif
