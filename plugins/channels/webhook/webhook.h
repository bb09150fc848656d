/*
 * The webhook channel's shared state. config.c reads the instance's
 * block, webhook.c queues messages and paces them, and request.c builds,
 * signs and sends each request and turns the response into an outcome. The
 * config reference and the request body are in docs/channels/webhook.md.
 */
#ifndef CRIER_WEBHOOK_H
#define CRIER_WEBHOOK_H

#include <glib.h>

#include <crier/crier.h>

#include "pace.h"

/* Bytes of a response body kept for the job's error and the provider id. */
#define WEBHOOK_RESPONSE_MAX 4096

/* Bytes of the response body quoted in a job's error. */
#define WEBHOOK_DETAIL_BODY_MAX 200

/* The wait asked for when a message finds the queue full. */
#define WEBHOOK_QUEUE_FULL_RETRY_MS 1000

/* The name of the instance's destination among the store's pacing slots.
 * Every recipient of an instance shares it, as they share `pace`. */
#define WEBHOOK_PACE_NAME "destination"

/* How long a shared slot outlives the request's timeout_ms, so that only
 * a node that died, never a slow request, loses its slot. */
#define WEBHOOK_LEASE_MARGIN_MS 5000

/* The wait before asking again when other nodes hold every in-flight
 * slot: their releases do not wake this node. */
#define WEBHOOK_SLOT_POLL_MS 50

/* The wait before asking again after a store call failed. */
#define WEBHOOK_SLOT_RETRY_MS 1000

struct webhook {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char *url;                  /* the fixed destination, or NULL */
    char *secret;
    char *id_header;            /* response header with the provider id */
    long timeout_ms;            /* for each whole request */
    unsigned max_waiting;       /* messages queued for pacing, at most */
    struct pace pace;           /* this node's share, the first gate */
    GQueue waiting;             /* struct webhook_delivery *, in order */
    uv_timer_t pace_timer;      /* wakes the queue when the rate allows */
    int pace_timer_open;
    int shared_pace;            /* nonzero: a slot from the store, too */
    int acquiring;              /* a pace_acquire is under way */
    unsigned releases;          /* pace_release calls under way */
    unsigned slot_failures;     /* store failures in a row, for the log */
    unsigned deliveries;        /* accepted, not yet reported */
    int stopping;
    crier_stop_cb stop_done;
    void *stop_arg;
};

/* One message on its way out. Nothing in it points into the core's
 * struct crier_message, which is only valid until `done` runs. */
struct webhook_delivery {
    struct webhook *webhook;
    char *url;
    char *message_id;
    char *body;                 /* the JSON body, NUL-terminated */
    size_t body_len;
    CURL *easy;
    struct curl_slist *headers;
    GString *response;          /* the first bytes of the response body */
    char *retry_after;          /* the Retry-After header, or NULL */
    char *provider_id;          /* the id_header value, or NULL */
    char error[CURL_ERROR_SIZE];
    int64_t slot;               /* the store's pacing slot, or 0 */
    int64_t hand_over_by_ms;    /* crier clock; 0 for no limit */
    crier_send_cb done;
    void *arg;
};

/* Reads and checks the config block into `webhook`. Returns 0 or
 * CRIER_ECONFIG after reporting the key at fault. */
int webhook_config_read(struct webhook *webhook, const json_t *config);

/* Returns NULL when `text` is an http:// or https:// URL without
 * credentials, or else the reason it is not. */
const char *webhook_url_problem(const char *text);

/*
 * Returns the JSON request body for `msg`, allocated with malloc, or NULL
 * when out of memory. `channel` is the instance name.
 */
char *webhook_body_build(const struct crier_message *msg,
                         const char *channel);

/*
 * Builds the signature headers for `body` signed at `timestamp` (Unix
 * seconds) with `secret`, and appends them with the message id to
 * `headers`. Returns the new list, or NULL when out of memory.
 */
struct curl_slist *webhook_headers_sign(struct curl_slist *headers,
                                        const char *secret, int64_t timestamp,
                                        const char *body, size_t body_len,
                                        const char *message_id);

/*
 * Turns a finished request into an outcome: `result` is libcurl's, and
 * `status` the HTTP status (0 when none came). `detail` receives the
 * text for the job record, and `now_s` is the Unix time that a
 * Retry-After given as a date is measured from.
 */
void webhook_response_classify(CURLcode result, long status,
                             const char *retry_after, const char *curl_error,
                             const GString *response, int64_t now_s,
                             struct crier_send_result *r, char *detail,
                             size_t size);

/*
 * Prepares the easy handle of `d` and hands it to the core. Returns 0, or
 * a negative code (nothing is then reported and `d` keeps its handle for
 * webhook_delivery_free).
 */
int webhook_request_start(struct webhook_delivery *d);

/* Reports the outcome of `d` to the core, frees it and lets the next
 * queued message go. */
void webhook_delivery_finish(struct webhook_delivery *d,
                             const struct crier_send_result *result);

/* Starts the first queued message with the shared `slot` it was granted
 * (0 when pacing is local). */
void webhook_delivery_start(struct webhook *webhook, int64_t slot);

/* Starts queued messages in order while pacing allows. */
void webhook_queue_run(struct webhook *webhook);

/* Wakes the queue after `delay_ms`, unless the instance is stopping. */
void webhook_timer_set(struct webhook *webhook, uint64_t delay_ms);

/* Calls the stop callback once nothing is queued, running or open. */
void webhook_stop_check(struct webhook *webhook);

/*
 * Asks the store for a shared slot for the first queued message
 * (slot.c). Returns 1 when the queue must wait for the store's callback
 * or for a retry, and 0 when pacing is this node's alone (the store has
 * no shared pacing), so the message may start now.
 */
int webhook_slot_acquire(struct webhook *webhook);

/* Gives a shared slot back to the store, and runs the queue once the
 * store has it. */
void webhook_slot_release(struct webhook *webhook, int64_t slot);

void webhook_delivery_free(struct webhook_delivery *d);

#endif
