/*
 * The postgres store's internals.
 *
 * Every operation is one call of a PL/pgSQL function that the schema
 * installs (the files in sql/), so an operation is one round trip and one
 * transaction. The loop thread checks the request with the parsers in
 * ../common, queues it, and a connection of the pool sends it with
 * libpq's asynchronous API; a uv_poll_t on the connection's socket wakes
 * the loop when the reply arrives.
 *
 * Mutations go, in call order, to connection 0 only, so they take effect
 * in the order they were called. Reads go to the other connections, or to
 * connection 0 when the pool has one connection, and so do the pacing
 * operations, whose order does not matter (ops.c).
 *
 * A connection that fails is closed and reopened later (reconnect.c).
 * Until then the requests that need it fail with CRIER_EIO on the next
 * turn of the loop.
 */
#ifndef CRIER_POSTGRES_STORE_H
#define CRIER_POSTGRES_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

#include <crier/crier.h>

#include "model.h"

/* One operation on its way to the server, and its callback. */
struct pg_request {
    struct pg_request *next;
    const char *name;         /* the operation, and its prepared statement */
    char *param;              /* the request as JSON text */
    int write;                /* nonzero: a mutation */
    crier_store_cb done;
    crier_append_cb append_done;
    void *arg;
};

/* A FIFO of requests. */
struct pg_queue {
    struct pg_request *head;
    struct pg_request *tail;
};

struct pg_store;

/* One pooled connection and the request it is running. */
struct pg_conn {
    struct pg_store *store;
    PGconn *pg;
    uv_poll_t *poll;          /* allocated apart: uv_close frees it */
    int events;               /* what `poll` waits for now */
    int broken;               /* lost: `pg` and `poll` are NULL until a
                               * reconnect opens them again */
    struct pg_request *current;
    PGresult *result;         /* the current request's first result */
};

enum pg_state {
    PG_IDLE,
    PG_RUNNING,
    PG_STOPPING,
    PG_STOPPED
};

struct pg_store {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char *url;
    char *schema;             /* NULL: the server's search_path */
    size_t connection_count;
    enum pg_state state;

    struct pg_conn *conns;
    struct pg_queue writes;   /* for conns[0] */
    struct pg_queue reads;    /* for the others */
    struct pg_queue failed;   /* to fail with CRIER_EIO from fail_timer */
    size_t open_handles;      /* polls and timers not yet closed */

    uv_timer_t *fail_timer;   /* allocated apart, as the polls are */
    uv_timer_t *reconnect_timer;
    uint64_t reconnect_delay_ms;  /* the wait before the next attempt */
    unsigned reconnect_attempts;  /* since the first connection was lost */
    uint64_t lost_at;         /* loop time of that loss, 0 when none */

    crier_stop_cb stop_done;
    void *stop_arg;

    int schema_found;         /* the schema version that start found */
};

/* pool.c */
int pool_open(struct pg_store *store);
int pool_submit(struct pg_store *store, struct pg_request *req);
void pool_close(struct pg_store *store);
int pool_idle(const struct pg_store *store);
PGconn *connection_open(const struct pg_store *store, char *message,
                        size_t size);
PGconn *connection_open_schema(const struct pg_store *store,
                               int create_schema, char *message,
                               size_t size);
int connection_watch(struct pg_conn *conn, char *message, size_t size);
void connection_dispatch(struct pg_conn *conn);
void handle_released(struct pg_store *store);

/* reconnect.c */
int reconnect_init(struct pg_store *store);
void reconnect_schedule(struct pg_store *store);

/* schema.c */
int schema_migrate(PGconn *pg, int *found, char *message, size_t size);
int schema_latest(void);
const char *schema_title(int version);
int schema_peek(PGconn *pg, int *version, char *message, size_t size);
int schema_prepare(PGconn *pg, char *message, size_t size);
extern const char *const pg_operations[];

/* ops.c */
extern const struct crier_store_ops postgres_store_ops;

#endif
