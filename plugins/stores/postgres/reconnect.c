/*
 * Reconnects the pool after PostgreSQL went away, for example for a
 * restart or a failover.
 *
 * A lost connection is closed at once (pool.c), and the requests that
 * need it fail with CRIER_EIO while it is down. One timer per store
 * retries every lost connection, first after RECONNECT_FIRST_MS and
 * then twice as long after each failed attempt, up to RECONNECT_MAX_MS.
 * The first connection that fails ends an attempt, since the others would
 * fail alike.
 *
 * NOTE: an attempt connects and prepares the statements with libpq's
 * blocking calls, as start does, so it blocks the loop until the server
 * replies. A refused connection returns at once; an unreachable host
 * holds the loop until libpq's connect_timeout (set it in `url`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postgres.h"

#define RECONNECT_FIRST_MS 100
#define RECONNECT_MAX_MS 2000


/* Opens lost connection `conn` again, with its prepared statements. The
 * schema was migrated at start, so a reconnect does not migrate. */
static int
connection_reopen(struct pg_conn *conn, char *message, size_t size)
{
    int rc;

    conn->pg = connection_open(conn->store, message, size);
    if (conn->pg == NULL)
        return CRIER_EIO;
    rc = schema_prepare(conn->pg, message, size);
    if (rc == 0)
        rc = connection_watch(conn, message, size);
    if (rc < 0) {
        PQfinish(conn->pg);
        conn->pg = NULL;
        return rc;
    }
    conn->broken = 0;
    return 0;
}


/* Logs a failed attempt on attempts 1, 2, 4, 8 and so on, so that a long
 * outage does not fill the log. */
static void
attempt_log_failure(struct pg_store *store, const char *message)
{
    unsigned n = store->reconnect_attempts;

    if ((n & (n - 1)) != 0)
        return;
    store->host->log(store->ctx, CRIER_LOG_WARN,
                     "cannot reconnect to PostgreSQL",
                     "attempt=%u retry_ms=%llu error=\"%s\"", n,
                     (unsigned long long)store->reconnect_delay_ms, message);
}


static void
reconnect_cb(uv_timer_t *timer)
{
    struct pg_store *store = timer->data;
    uv_loop_t *loop = store->host->loop(store->ctx);
    char message[512] = "";
    size_t i;
    int rc = 0;

    if (store->state != PG_RUNNING)
        return;
    store->reconnect_attempts++;
    for (i = 0; rc == 0 && i < store->connection_count; i++)
        if (store->conns[i].broken)
            rc = connection_reopen(&store->conns[i], message,
                                   sizeof(message));
    if (rc < 0) {
        store->reconnect_delay_ms *= 2;
        if (store->reconnect_delay_ms > RECONNECT_MAX_MS)
            store->reconnect_delay_ms = RECONNECT_MAX_MS;
        message[strcspn(message, "\n")] = '\0';
        attempt_log_failure(store, message);
        uv_timer_start(timer, reconnect_cb, store->reconnect_delay_ms, 0);
        return;
    }
    store->host->log(store->ctx, CRIER_LOG_NOTICE,
                     "reconnected to PostgreSQL",
                     "attempts=%u down_ms=%llu", store->reconnect_attempts,
                     (unsigned long long)(uv_now(loop) - store->lost_at));
    store->lost_at = 0;
    for (i = 0; i < store->connection_count; i++)
        connection_dispatch(&store->conns[i]);
}


/* Starts the timer for a lost connection, unless it runs already. */
void
reconnect_schedule(struct pg_store *store)
{
    uv_loop_t *loop = store->host->loop(store->ctx);

    if (store->state != PG_RUNNING || store->reconnect_timer == NULL
        || uv_is_active((uv_handle_t *)store->reconnect_timer))
        return;
    if (store->lost_at == 0) {
        store->lost_at = uv_now(loop);
        store->reconnect_attempts = 0;
        store->reconnect_delay_ms = RECONNECT_FIRST_MS;
    }
    uv_timer_start(store->reconnect_timer, reconnect_cb,
                   store->reconnect_delay_ms, 0);
}


/* Creates the store's two timers: the reconnect timer and the one that
 * fails requests while a connection is lost. */
int
reconnect_init(struct pg_store *store)
{
    uv_loop_t *loop = store->host->loop(store->ctx);

    store->fail_timer = malloc(sizeof(*store->fail_timer));
    store->reconnect_timer = malloc(sizeof(*store->reconnect_timer));
    if (store->fail_timer == NULL || store->reconnect_timer == NULL) {
        free(store->fail_timer);
        free(store->reconnect_timer);
        store->fail_timer = NULL;
        store->reconnect_timer = NULL;
        return CRIER_ENOMEM;
    }
    uv_timer_init(loop, store->fail_timer);
    uv_timer_init(loop, store->reconnect_timer);
    store->fail_timer->data = store;
    store->reconnect_timer->data = store;
    store->open_handles += 2;
    return 0;
}
