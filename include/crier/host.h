/*
 * The host table: everything a plugin may ask of the core.
 *
 * The core passes one const table to each plugin's init. A plugin calls the
 * core only through it, never through symbols of the crier binary. The
 * table only grows: new entries go at the end, marked with the minor ABI
 * version that added them, and `size` and `minor` at its head tell a plugin
 * what the running core offers. Every entry below was added in minor 0
 * unless its comment names a later one.
 *
 * Threads: every entry must be called on the loop thread, from init, start,
 * stop, a callback the core made, or a libuv callback of the plugin's own.
 */
#ifndef CRIER_HOST_H
#define CRIER_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>
#include <uv.h>

/* Lets the compiler check printf-style arguments of the host's entries. */
#if defined(__GNUC__)
#define CRIER_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CRIER_PRINTF(fmt, args)
#endif

/* One plugin instance: the core's record of a block of plugins.conf. */
struct crier_ctx;

/* One HTTP request on the core's listener, valid until its response. */
struct crier_http_req;

/* A one-shot timer on the crier clock. */
struct crier_timer;

/* Log levels, most severe first; `log_level` in plugins.conf picks the
 * least severe one written. */
enum crier_log_level {
    CRIER_LOG_ERROR = 0,
    CRIER_LOG_WARN = 1,
    CRIER_LOG_NOTICE = 2,
    CRIER_LOG_INFO = 3,
    CRIER_LOG_DEBUG = 4
};

/*
 * The reason an event or a request body was rejected, for a 400 response:
 * `message` states what is wrong with `field` (a JSON key such as "type" or
 * "profile.email"), and `index` is the event's position in a batch, or -1.
 */
struct crier_input_error {
    char message[192];
    char field[96];
    long index;
};

/* Called once when a timer fires, with the `arg` given to timer_start. */
typedef void (*crier_timer_cb)(void *arg);

/* Handles one request to a route, with the `arg` given to route_add. */
typedef void (*crier_http_handler)(void *arg, struct crier_http_req *req);

/*
 * Reports an emitted batch: status 0 when every event of it is committed
 * to the store (`accepted` new ones, `duplicates` already stored), or a
 * negative code when none of it is.
 */
typedef void (*crier_emit_cb)(void *arg, int status, size_t accepted,
                              size_t duplicates);

/* Reports a finished transfer with libcurl's result for the easy handle. */
typedef void (*crier_transfer_cb)(void *arg, CURL *easy, CURLcode result);

/* Reports a firing of schedules: status 0 and how many occurrences
 * fired, or a negative code (and 0) when nothing of it was stored. */
typedef void (*crier_fire_cb)(void *arg, int status, size_t fired);

/* Reports a cursor read or write: status 0 and the cursor's value, or a
 * negative code (and value 0) when the store failed. */
typedef void (*crier_cursor_cb)(void *arg, int status, int64_t value);

/*
 * Reports a pacing call. For pace_acquire, status 0 and `slot` above 0
 * mean a slot was granted. Status 0 and `slot` 0 mean it was refused:
 * `wait_ms` is then the wait until the rate allows the next slot, or 0
 * when max_in_flight slots are held and only a release frees one. A
 * negative status (with `slot` and `wait_ms` 0) means the store failed.
 * For pace_release: the status, the slot, and `wait_ms` 0.
 */
typedef void (*crier_pace_cb)(void *arg, int status, int64_t slot,
                              int64_t wait_ms);

struct crier_host {
    uint32_t size;   /* sizeof(struct crier_host) in the running core */
    uint32_t minor;  /* CRIER_ABI_MINOR of the running core */

    /* Logging. */

    /* Returns nonzero when a record of `level` would be written. */
    int (*log_enabled)(struct crier_ctx *ctx, enum crier_log_level level);

    /*
     * Writes one log record: the time, the level, the instance name, `msg`
     * and the key=value fields that `fields_fmt` formats, for instance
     * ("listening", "addr=%s port=%d", addr, port). `fields_fmt` may be NULL.
     */
    void (*log)(struct crier_ctx *ctx, enum crier_log_level level,
                const char *msg, const char *fields_fmt, ...)
        CRIER_PRINTF(4, 5);

    /* Configuration. */

    /*
     * Reports a bad value in the plugin's config block, from init only.
     * `key` is the path inside the block ("secret", "limits.max").
     * The core prints `file:line: section.instance.key: message` and init
     * should then return CRIER_ECONFIG.
     */
    void (*config_error)(struct crier_ctx *ctx, const char *key,
                         const char *fmt, ...) CRIER_PRINTF(3, 4);

    /*
     * Returns a path resolved against the folder of the config file (an
     * absolute path is returned as is), allocated with malloc.
     */
    char *(*resolve_path)(struct crier_ctx *ctx, const char *path);

    /* Returns the configured base of links in messages, no trailing '/'. */
    const char *(*public_url)(struct crier_ctx *ctx);

    /* Returns the instance's name: the key of its block in the config. */
    const char *(*instance_name)(struct crier_ctx *ctx);

    /* The loop, the clock and timers. */

    /* Returns the core's one event loop, for a plugin's own handles. */
    uv_loop_t *(*loop)(struct crier_ctx *ctx);

    /*
     * Returns the crier clock in milliseconds since the Unix epoch. Use it
     * for every schedule, lease and retry: under `clock = "test"` it moves
     * only when a test moves it.
     */
    int64_t (*now_ms)(struct crier_ctx *ctx);

    /*
     * Calls `cb` once the crier clock has advanced by `delay_ms`. The core
     * frees the timer after the callback returns; stop it only before.
     * Returns NULL when out of memory.
     */
    struct crier_timer *(*timer_start)(struct crier_ctx *ctx, int64_t delay_ms,
                                       crier_timer_cb cb, void *arg);

    /* Cancels a timer that has not fired yet. */
    void (*timer_stop)(struct crier_ctx *ctx, struct crier_timer *timer);

    /* HTTP: routes on the core's one listener. */

    /*
     * Adds a route, from start only. `method` is "GET", "POST", ...;
     * `path` is exact ("/v1/events"), or a prefix route: a path ending in
     * a slash and a star, such as "/c/" followed by "*", matches every
     * path under "/c/".
     * The handler must respond to every request it gets exactly once, at
     * once or later. Returns CRIER_EEXIST when the route is taken.
     */
    int (*route_add)(struct crier_ctx *ctx, const char *method,
                     const char *path, crier_http_handler handler, void *arg);

    /* Return the request's method, its decoded path and its raw query
     * string ("" when none). */
    const char *(*req_method)(struct crier_http_req *req);
    const char *(*req_path)(struct crier_http_req *req);    /* decoded */
    const char *(*req_query)(struct crier_http_req *req);   /* raw, or "" */

    /* Returns a request header's value (name compared without case). */
    const char *(*req_header)(struct crier_http_req *req, const char *name);

    /* Returns the body; *len receives its length. Never NULL. */
    const char *(*req_body)(struct crier_http_req *req, size_t *len);

    /* Returns the client address, after `trusted_proxies` are applied. */
    const char *(*req_peer)(struct crier_http_req *req);

    /* Adds a response header; call before the answer. */
    void (*resp_header)(struct crier_http_req *req, const char *name,
                        const char *value);

    /*
     * Answers the request; the core copies the body. After this call `req`
     * is no longer valid. If the client has gone, the answer is dropped.
     */
    void (*respond)(struct crier_http_req *req, int status,
                    const char *content_type, const void *body, size_t len);

    /* Answers with a JSON body; takes over the reference to `body`. */
    void (*respond_json)(struct crier_http_req *req, int status, json_t *body);

    /* Events. */

    /*
     * Validates one event object or an array of them (at most 1000) and
     * queues them for the store. On success returns 0 and calls `done` once
     * the batch is committed or has failed as a whole. On invalid input
     * returns CRIER_EINVAL, fills `err`, stores nothing and never calls
     * `done`. The event form is documented in docs/events.md.
     */
    int (*emit)(struct crier_ctx *ctx, json_t *events,
                struct crier_input_error *err, crier_emit_cb done, void *arg);

    /* Outgoing transfers on the core's libcurl multi handle. */

    /*
     * Runs a prepared easy handle on the loop and calls `done` when it ends.
     * The core sets CURLOPT_PRIVATE; the plugin keeps the handle and cleans
     * it up after `done`. Returns CRIER_ECLOSED while shutting down.
     */
    int (*transfer_start)(struct crier_ctx *ctx, CURL *easy,
                          crier_transfer_cb done, void *arg);

    /* Durable progress. Added in minor 1. */

    /*
     * Reads the instance's cursor `name` from the store and calls `done`
     * with its value, 0 for a cursor never written. Each instance has its
     * own cursors, so two instances may use the same name. Returns
     * CRIER_EINVAL for an empty name, CRIER_ENOTSUP without a store and
     * CRIER_ECLOSED while shutting down; `done` is then not called.
     */
    int (*cursor_get)(struct crier_ctx *ctx, const char *name,
                      crier_cursor_cb done, void *arg);

    /*
     * Writes the instance's cursor `name` (a value of 0 or more) and calls
     * `done` once the write is durable. Writes take effect in the order
     * they are called and after every batch whose emit callback has run,
     * so a plugin that writes from its emit callback never records
     * progress ahead of the events it covers. Returns as cursor_get, and
     * CRIER_EINVAL for a negative value.
     */
    int (*cursor_set)(struct crier_ctx *ctx, const char *name, int64_t value,
                      crier_cursor_cb done, void *arg);

    /* Date-relative schedules. Added in minor 3. */

    /*
     * Checks one schedule, a group of the instance's config with `name`,
     * `date`, `offset`, `at`, `repeat` and `catch_up`
     * (docs/triggers/schedule.md), and registers it for the instance.
     * Call it from init only: the pipeline plans every registered
     * schedule for each profile it writes. Returns 0, or CRIER_EINVAL
     * with `err->field` naming the bad key and `err->message` saying
     * why, for the plugin to pass to config_error.
     */
    int (*schedule_add)(struct crier_ctx *ctx, const json_t *schedule,
                        struct crier_input_error *err);

    /*
     * Fires up to `limit` (1 to 1000) due occurrences of the instance's
     * schedules: in one store transaction each gets its event (type
     * "date.<name>", addressed to the profile) and moves to its next
     * occurrence, so each occurrence fires exactly once. Calls `done`
     * with the number fired; a plugin that gets `limit` back calls
     * again for the rest. Returns CRIER_EINVAL for a bad limit,
     * CRIER_ENOTSUP for a store without schedules and CRIER_ECLOSED
     * while shutting down; `done` is then not called.
     */
    int (*schedules_fire)(struct crier_ctx *ctx, size_t limit,
                          crier_fire_cb done, void *arg);

    /* The listener. Added in minor 4. */

    /* Returns 1 when crier listens on a loopback address (127.0.0.0/8 or
     * ::1), so only this machine reaches its routes, else 0. */
    int (*listen_is_loopback)(struct crier_ctx *ctx);

    /* Pacing shared by every node on the store. Added in minor 6. */

    /*
     * Takes a slot of the instance's destination `name` when fewer than
     * `max_per_second` slots of it were taken in the last 1000 ms and
     * fewer than `max_in_flight` are held, counting the slots of every
     * node on the store, and calls `done`. A slot is held until
     * pace_release, or for `lease_ms` at most, so that a node that dies
     * holding one gives it back. Set `lease_ms` above the longest a
     * request can take. Times are the system's real-time clock, also
     * under `clock = "test"`, because pacing protects a real receiver.
     * Returns CRIER_EINVAL for an empty name or a limit out of range
     * (max_per_second 1 to 100000, max_in_flight 1 to 10000, lease_ms 1
     * to 86400000). Returns CRIER_ENOTSUP for a store without pacing and
     * CRIER_ECLOSED while shutting down. `done` is then not called.
     */
    int (*pace_acquire)(struct crier_ctx *ctx, const char *name,
                        unsigned max_per_second, unsigned max_in_flight,
                        int64_t lease_ms, crier_pace_cb done, void *arg);

    /*
     * Ends the hold of a slot that pace_acquire granted for `name`. Its
     * start still counts toward the rate for 1000 ms. `done` may be NULL,
     * and the core then logs a failure itself. Returns as pace_acquire,
     * and CRIER_EINVAL for a slot below 1.
     */
    int (*pace_release)(struct crier_ctx *ctx, const char *name,
                        int64_t slot, crier_pace_cb done, void *arg);
};


/* Logs only when the level is enabled, so disabled records cost one call. */
#define CRIER_LOG(host, ctx, level, msg, ...)                                \
    do {                                                                    \
        if ((host)->log_enabled((ctx), (level)))                            \
            (host)->log((ctx), (level), (msg), __VA_ARGS__);                \
    } while (0)

#endif
