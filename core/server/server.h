/*
 * The running server: one per process. Subsystems reach each other
 * through this one structure, as the loop thread is the only one that
 * touches it.
 */
#ifndef CRIER_CORE_SERVER_H
#define CRIER_CORE_SERVER_H

#include <stdint.h>

#include <crier/crier.h>
#include <glib.h>
#include <uv.h>

#include "config/config.h"
#include "plugin/plugin.h"

struct http_server;
struct template_set;
struct ruleset;
struct segment_set;
struct pipeline;
struct outbox;

/* The core's own settings from plugins.conf, after checking. */
struct settings {
    const char *listen;          /* "127.0.0.1:8080" */
    const char *public_url;      /* no trailing '/' */
    const char *node;            /* this node's name, for job leases */
    char *plugin_dir;            /* resolved against the config's folder */
    char *templates_dir;         /* resolved, or NULL */
    int test_clock;
    int64_t clock_start_ms;
    const char *time_zone;       /* the agency's default IANA zone */
    char *default_language;      /* canonical BCP 47 tag, or NULL */
    int log_level;
    char *log_file;              /* resolved, or NULL for stderr */
    long long max_body_bytes;
    long long max_header_bytes;
    long long header_timeout_ms;    /* request line and headers; 30 s */
    long long body_timeout_ms;      /* body after the headers; 60 s */
    long long max_connections_per_ip; /* 0 for no limit */
    const char **trusted_proxies;  /* NULL-terminated */
    char **admin_tokens;         /* SHA-256 hex digests, NULL-terminated;
                                    NULL or empty: the admin API is off */
    char **report_tokens;        /* digests of tokens that may only read
                                    reports, NULL-terminated, or NULL */
    char **test_recipients;      /* addresses and "@domain" entries that
                                    test sends may go to; NULL-terminated,
                                    NULL when none is allowed */
    GHashTable *attribute_types; /* attribute name -> enum attribute_type,
                                    or NULL when none is declared */
};

struct server {
    uv_loop_t *loop;
    struct config *cfg;
    struct settings settings;
    struct http_server *http;
    struct plugin_instance *store;
    const struct crier_store_ops *store_ops;
    GPtrArray *triggers;         /* struct plugin_instance * */
    GPtrArray *channels;         /* struct plugin_instance * */
    struct template_set *templates;
    struct ruleset *rules;
    struct segment_set *segments;
    struct pipeline *pipeline;
    struct outbox *outbox;
    int stopping;
    int exit_code;
};

extern struct server server;

/* Reads the core's settings into server.settings; 0 or CRIER_ECONFIG. */
int settings_load(struct config *cfg, struct settings *s);
void settings_clear(struct settings *s);

/*
 * Loads everything the config names (plugins, templates, rules) and runs
 * every plugin's init. Used by `serve` and by `check`. Returns 0, or
 * CRIER_ECONFIG with the first error in cfg->error.
 */
int server_prepare(struct config *cfg);

/* Starts listening and every plugin, then runs the loop until stopped. */
int server_run(void);

/*
 * Runs the loop with only the store and the pipeline started, for offline
 * commands such as `crier profiles import`: no listener, triggers,
 * channels or outbox, so nothing is sent. Calls `work` once both have
 * started; `work` ends with server_stop_offline. Returns 0 after the stop,
 * or the error that kept the store from starting (CRIER_EBUSY while
 * another crier process has the database open).
 */
int server_run_offline(void (*work)(void *arg), void *arg);

/* Lets the pipeline finish its batch, stops the store and ends the loop
 * that server_run_offline runs. */
void server_stop_offline(void);

/* Loads the plugin that the block at `key` names and returns a new
 * instance, not yet initialised; 0 or an error recorded in cfg. */
int server_instance_load(struct config *cfg, const char *key,
                         const json_t *block, enum crier_plugin_kind kind,
                         struct plugin_instance **out);

/* Returns the channel instance called `name`, or NULL. */
struct plugin_instance *server_channel(const char *name);

/* Returns the trigger instance called `name`, or NULL. */
struct plugin_instance *server_trigger(const char *name);

/* Frees what server_prepare built. */
void server_release(void);

/*
 * Opens the store offline, which applies its missing schema migrations,
 * and prints the version found and the version now. Returns the exit
 * code of `crier migrate`.
 */
int migrate_command(void);

/* The exit status of `crier migrate --status` when migrations are
 * pending; 0 means up to date and 1 an error. */
#define MIGRATE_EXIT_PENDING 3

/*
 * Prints the store's schema version, the latest one and each pending
 * migration without changing the store: the store is initialized but
 * not started. Returns the exit code of `crier migrate --status`.
 */
int migrate_status_command(void);

/* Runs `crier migrate --from KIND:WHERE --to KIND:WHERE`; returns only
 * when the copy program could not start, with the exit code. */
int migrate_copy_command(int argc, char **argv);

#endif
