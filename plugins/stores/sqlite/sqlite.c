/*
 * The sqlite store plugin: its descriptor, configuration and lifecycle.
 *
 *     store = { plugin = "sqlite"; path = "var/crier.db"; };
 *
 * `path` is resolved against the config file's folder, and missing parent
 * folders are created. `busy_timeout_ms` (default 5000) bounds the wait for
 * a lock that another process holds. `max_batch` (default 256) is the
 * maximum number of mutations that share one transaction. `cache_mb`
 * (default 2) sets each connection's page cache. Start fails with
 * CRIER_EBUSY while another process has the same database open (lock.c).
 * docs/stores/sqlite.md has the details.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sqlite.h"

#define BUSY_TIMEOUT_DEFAULT 5000
#define BUSY_TIMEOUT_MAX 600000
#define MAX_BATCH_DEFAULT 256
#define MAX_BATCH_MAX 65536
#define CACHE_MB_DEFAULT 2
#define CACHE_MB_MAX 65536

/* Reads are short, and taking a few at once only saves wake-ups. */
#define READER_TAKE_MAX 32

/* The requests that the writer waits for under load (worker.c), or
 * max_batch when that is smaller. */
#define WRITER_GATHER_MIN 64


/* Reads an integer setting in [min, max], or reports it and fails. */
static int
config_integer(struct sqlite_store *store, const char *key,
               const json_t *value, int64_t min, int64_t max, int64_t *out)
{
    if (!json_is_integer(value) || json_integer_value(value) < min
        || json_integer_value(value) > max) {
        store->host->config_error(store->ctx, key,
                                  "must be an integer from %lld to %lld",
                                  (long long)min, (long long)max);
        return CRIER_ECONFIG;
    }
    *out = json_integer_value(value);
    return 0;
}


static int
config_path(struct sqlite_store *store, const json_t *value)
{
    if (!json_is_string(value) || json_string_length(value) == 0) {
        store->host->config_error(store->ctx, "path",
                                  "must be the database file's path, "
                                  "for example \"var/crier.db\"");
        return CRIER_ECONFIG;
    }
    store->path = store->host->resolve_path(store->ctx,
                                            json_string_value(value));
    return store->path == NULL ? CRIER_ENOMEM : 0;
}


/* Reads one setting. `plugin` belongs to the core and is skipped. */
static int
config_setting(struct sqlite_store *store, const char *key,
              const json_t *value)
{
    int64_t number;
    int rc;

    if (strcmp(key, "plugin") == 0)
        return 0;
    if (strcmp(key, "path") == 0)
        return config_path(store, value);
    if (strcmp(key, "busy_timeout_ms") == 0) {
        rc = config_integer(store, key, value, 0, BUSY_TIMEOUT_MAX, &number);
        store->busy_timeout_ms = (int)number;
        return rc;
    }
    if (strcmp(key, "max_batch") == 0) {
        rc = config_integer(store, key, value, 1, MAX_BATCH_MAX, &number);
        store->max_batch = (size_t)number;
        return rc;
    }
    if (strcmp(key, "cache_mb") == 0) {
        rc = config_integer(store, key, value, 1, CACHE_MB_MAX, &number);
        store->cache_mb = (int)number;
        return rc;
    }
    store->host->config_error(store->ctx, key, "unknown setting; valid "
                              "settings are path, busy_timeout_ms, "
                              "max_batch and cache_mb");
    return CRIER_ECONFIG;
}


/* Reads every setting, reporting each bad one before failing. */
static int
config_read(struct sqlite_store *store, const json_t *config)
{
    const char *key;
    json_t *value;
    int failed = 0;
    int rc;

    if (!json_is_object(config)) {
        store->host->config_error(store->ctx, "", "must be a block");
        return CRIER_ECONFIG;
    }
    json_object_foreach((json_t *)config, key, value) {
        rc = config_setting(store, key, value);
        if (rc == CRIER_ENOMEM)
            return rc;
        failed |= rc < 0;
    }
    if (store->path == NULL && !failed) {
        store->host->config_error(store->ctx, "path",
                                  "missing; set the database file, "
                                  "for example \"var/crier.db\"");
        failed = 1;
    }
    return failed ? CRIER_ECONFIG : 0;
}


static int
sqlite_init(struct crier_ctx *ctx, const struct crier_host *host,
            const json_t *config, void **state)
{
    struct sqlite_store *store = calloc(1, sizeof(*store));
    int rc;

    if (store == NULL)
        return CRIER_ENOMEM;
    store->ctx = ctx;
    store->host = host;
    store->lock_fd = -1;
    store->busy_timeout_ms = BUSY_TIMEOUT_DEFAULT;
    store->max_batch = MAX_BATCH_DEFAULT;
    store->cache_mb = CACHE_MB_DEFAULT;
    pace_table_init(&store->pace);
    rc = config_read(store, config);
    if (rc < 0) {
        free(store->path);
        free(store);
        return rc;
    }
    store->writer.store = store;
    store->writer.run = writer_run;
    store->writer.take_max = store->max_batch;
    store->writer.gather_min = store->max_batch < WRITER_GATHER_MIN
                               ? store->max_batch : WRITER_GATHER_MIN;
    store->reader.store = store;
    store->reader.run = reader_run;
    store->reader.take_max = READER_TAKE_MAX;
    *state = store;
    return 0;
}


/* Creates the missing folders above the file `path`, like mkdir -p. */
static int
parents_create(const char *path)
{
    char *copy = strdup(path);
    char *slash;
    int rc = 0;

    if (copy == NULL)
        return ENOMEM;
    for (slash = strchr(copy + 1, '/'); slash != NULL && rc == 0;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST)
            rc = errno;
        *slash = '/';
    }
    free(copy);
    return rc;
}


/*
 * Turns off SQLite's memory statistics, which the store never reads. With
 * them on, every SQLite allocation takes one global mutex, which the
 * writer and the reader share. SQLite accepts the setting only before it
 * initializes, so in a process where something else opened a database
 * first, the call fails with SQLITE_MISUSE and changes nothing.
 */
static void
memory_statistics_off(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}


/* Opens both connections and brings the schema up to date. */
static int
connections_open(struct sqlite_store *store)
{
    static uv_once_t statistics_once = UV_ONCE_INIT;
    char message[256] = "";
    int rc;

    uv_once(&statistics_once, memory_statistics_off);
    rc = connection_open(&store->writer.conn, store->path, 1,
                         store->busy_timeout_ms, message, sizeof(message));
    if (rc == 0)
        rc = connection_cache_set(&store->writer.conn, store->cache_mb,
                                  message, sizeof(message));
    if (rc == 0)
        rc = schema_migrate(&store->writer.conn, &store->schema_found,
                            &store->schema_version, message,
                            sizeof(message));
    if (rc == 0)
        rc = connection_open(&store->reader.conn, store->path, 0,
                             store->busy_timeout_ms, message,
                             sizeof(message));
    if (rc == 0)
        rc = connection_cache_set(&store->reader.conn, store->cache_mb,
                                  message, sizeof(message));
    if (rc < 0)
        store->host->log(store->ctx, CRIER_LOG_ERROR,
                         "cannot open the database",
                         "path=%s error=\"%s\"", store->path, message);
    return rc;
}


/* Undoes a start that failed part way, before any request was queued. */
static void
start_undo(struct sqlite_store *store)
{
    worker_stop(&store->writer);
    worker_stop(&store->reader);
    worker_join(&store->writer);
    worker_join(&store->reader);
    if (store->completion != NULL)
        completions_abandon(store);
    store_lock_release(store);
}


static int
sqlite_start(void *state)
{
    struct sqlite_store *store = state;
    int rc;

    rc = parents_create(store->path);
    if (rc != 0) {
        store->host->log(store->ctx, CRIER_LOG_ERROR,
                         "cannot create the database folder",
                         "path=%s error=\"%s\"", store->path, strerror(rc));
        return CRIER_EIO;
    }
    rc = store_lock_take(store);
    if (rc < 0)
        return rc;
    rc = connections_open(store);
    if (rc == 0)
        rc = completions_start(store);
    if (rc == 0)
        rc = worker_start(&store->writer);
    if (rc == 0)
        rc = worker_start(&store->reader);
    if (rc < 0) {
        start_undo(store);
        return rc;
    }
    store->state = STORE_RUNNING;
    CRIER_LOG(store->host, store->ctx, CRIER_LOG_INFO, "store opened",
              "path=%s max_batch=%zu cache_mb=%d", store->path,
              store->max_batch, store->cache_mb);
    return 0;
}


/*
 * Lets both workers finish their queues, then reports through `done` once
 * every callback has run and the threads and connections are closed.
 */
static void
sqlite_stop(void *state, crier_stop_cb done, void *arg)
{
    struct sqlite_store *store = state;

    if (store->state != STORE_RUNNING) {
        done(arg);
        return;
    }
    store->state = STORE_STOPPING;
    store->stop_done = done;
    store->stop_arg = arg;
    worker_stop(&store->writer);
    worker_stop(&store->reader);
}


static void
sqlite_destroy(void *state)
{
    struct sqlite_store *store = state;

    store_lock_release(store);
    pace_table_free(&store->pace);
    free(store->path);
    free(store);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_STORE,
    .name = "sqlite",
    .version = "0.1.0",
    .summary = "durable store in one SQLite file, with group commit",
    .init = sqlite_init,
    .start = sqlite_start,
    .stop = sqlite_stop,
    .destroy = sqlite_destroy,
    .ops = &sqlite_store_ops
};
