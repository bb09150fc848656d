/*
 * The postgres store plugin: its descriptor, configuration and lifecycle.
 *
 *     store = { plugin = "postgres";
 *               url = "postgresql://crier@127.0.0.1:5432/crier";
 *               connections = 4; };
 *
 * `url` is a libpq connection string or URI. `connections` (default 4)
 * sizes the pool: connection 0 runs every mutation in call order, the
 * others run reads. `schema` (optional) puts crier's tables in that
 * PostgreSQL schema, created when missing, so that several deployments
 * or test runs share one database. docs/stores/postgres.md has the
 * details.
 */
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define CONNECTIONS_DEFAULT 4
#define CONNECTIONS_MAX 64


static int
config_string(struct pg_store *store, const char *key, const json_t *value,
              const char *example, char **out)
{
    if (!json_is_string(value) || json_string_length(value) == 0) {
        store->host->config_error(store->ctx, key, "must be a string, for "
                                  "example \"%s\"", example);
        return CRIER_ECONFIG;
    }
    free(*out);
    *out = strdup(json_string_value(value));
    return *out == NULL ? CRIER_ENOMEM : 0;
}


/* Reads one setting. `plugin` belongs to the core and is skipped. */
static int
config_setting(struct pg_store *store, const char *key, const json_t *value)
{
    if (strcmp(key, "plugin") == 0)
        return 0;
    if (strcmp(key, "url") == 0)
        return config_string(store, key, value,
                             "postgresql://crier@127.0.0.1/crier",
                             &store->url);
    if (strcmp(key, "schema") == 0)
        return config_string(store, key, value, "crier", &store->schema);
    if (strcmp(key, "connections") == 0) {
        if (!json_is_integer(value) || json_integer_value(value) < 1
            || json_integer_value(value) > CONNECTIONS_MAX) {
            store->host->config_error(store->ctx, key, "must be an integer "
                                      "from 1 to %d", CONNECTIONS_MAX);
            return CRIER_ECONFIG;
        }
        store->connection_count = (size_t)json_integer_value(value);
        return 0;
    }
    store->host->config_error(store->ctx, key, "unknown setting; valid "
                              "settings are url, connections and schema");
    return CRIER_ECONFIG;
}


/* Reads every setting, reporting each bad one before failing. */
static int
config_read(struct pg_store *store, const json_t *config)
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
    if (store->url == NULL && !failed) {
        store->host->config_error(store->ctx, "url", "missing; set the "
                                  "server, for example "
                                  "\"postgresql://crier@127.0.0.1/crier\"");
        failed = 1;
    }
    return failed ? CRIER_ECONFIG : 0;
}


static void
store_free(struct pg_store *store)
{
    free(store->conns);
    free(store->url);
    free(store->schema);
    free(store);
}


static int
postgres_init(struct crier_ctx *ctx, const struct crier_host *host,
              const json_t *config, void **state)
{
    struct pg_store *store = calloc(1, sizeof(*store));
    int rc;

    if (store == NULL)
        return CRIER_ENOMEM;
    store->ctx = ctx;
    store->host = host;
    store->connection_count = CONNECTIONS_DEFAULT;
    rc = config_read(store, config);
    if (rc < 0) {
        store_free(store);
        return rc;
    }
    *state = store;
    return 0;
}


/*
 * Connects the pool and brings the schema up to date.
 *
 * NOTE: the connections and the migration are made with libpq's blocking
 * calls, so start blocks the loop until the server responds or libpq's
 * connect_timeout (set it in `url`) passes. Start runs before the
 * listeners open, so no request waits on it.
 */
static int
postgres_start(void *state)
{
    struct pg_store *store = state;
    int rc = pool_open(store);

    if (rc < 0)
        return rc;
    store->state = PG_RUNNING;
    CRIER_LOG(store->host, store->ctx, CRIER_LOG_INFO, "store opened",
              "connections=%zu schema=%s", store->connection_count,
              store->schema != NULL ? store->schema : "(search_path)");
    return 0;
}


/* Lets the queued requests finish, then closes the pool and reports
 * through `done`. */
static void
postgres_stop(void *state, crier_stop_cb done, void *arg)
{
    struct pg_store *store = state;

    if (store->state != PG_RUNNING) {
        done(arg);
        return;
    }
    store->state = PG_STOPPING;
    store->stop_done = done;
    store->stop_arg = arg;
    if (pool_idle(store))
        pool_close(store);
}


static void
postgres_destroy(void *state)
{
    store_free(state);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_STORE,
    .name = "postgres",
    .version = "0.1.0",
    .summary = "shared store on PostgreSQL, for several crier nodes",
    .init = postgres_init,
    .start = postgres_start,
    .stop = postgres_stop,
    .destroy = postgres_destroy,
    .ops = &postgres_store_ops
};
