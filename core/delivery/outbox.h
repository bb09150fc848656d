/*
 * The outbox: the delivery worker. It claims due jobs under a lease,
 * renders each, marks it `sending`, hands it to its channel and records the
 * outcome: `sent`, a retry with backoff on the crier clock, `failed` for a
 * permanent error, or `dead` when the attempts run out. A job whose lease
 * ran out while `sending` (a crash in the hand-over) is sent again with
 * the same Message-ID.
 */
#ifndef CRIER_CORE_OUTBOX_H
#define CRIER_CORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "delivery/guard.h"

struct template_set;

/* A frequency cap: at most `max` messages of a class on a channel to one
 * profile in any `per_ms` window, counted from sent messages. */
struct outbox_cap {
    char channel[64];
    int lane;                   /* 0 service, 1 outreach, -1 both */
    int max;
    int64_t per_ms;
};

#define OUTBOX_CAPS_MAX 16
#define OUTBOX_QUIET_MAX 16

/* Quiet hours of one channel, in the resident's zone. */
struct outbox_quiet {
    char channel[64];
    struct quiet_window window;
};

/* The pace of every bulletin on one channel together (planner.c). */
struct outbox_bulletin_rate {
    char channel[64];
    int64_t per_hour;
};

struct outbox_settings {
    int max_attempts;           /* attempts before a job is dead; 8 */
    int64_t lease_ms;           /* how long a claim holds; 5 min */
    int64_t backoff_ms;         /* wait before the first retry; 30 s */
    int64_t max_backoff_ms;     /* the maximum wait between tries; 1 h */
    int64_t poll_ms;            /* how often due jobs are looked for; 1 s */
    int max_in_flight;          /* jobs claimed and not yet answered by
                                 * their channel; 64 */
    const char *message_id_domain;  /* right of the @ in Message-IDs */
    const char *link_secret;    /* signs tracked links, or NULL for none */
    struct outbox_cap caps[OUTBOX_CAPS_MAX];
    int cap_count;
    struct outbox_quiet quiet[OUTBOX_QUIET_MAX];
    int quiet_count;
    struct outbox_bulletin_rate bulletin_rates[OUTBOX_CAPS_MAX];
    int bulletin_rate_count;
};

/* Reads the `delivery` group; 0 or CRIER_ECONFIG. */
int outbox_settings_load(struct config *cfg, struct outbox_settings *s);

int outbox_start(const struct outbox_settings *s,
                 const struct template_set *templates);

/* Looks for due jobs now (new jobs were planned). */
void outbox_kick(void);

/* Stops claiming jobs; deliveries in flight go on. */
void outbox_pause(void);

/* Calls `done` once the deliveries in flight have finished. */
void outbox_drain(void (*done)(void *arg), void *arg);

/*
 * Writes the Message-ID of job `job_id`: "<", 12 hex digits of the job id,
 * the first 20 hex digits of SHA-256(key), "@", domain and ">". A message
 * that belongs to no job (a test send) has `job_id` 0 and 32 hex digits of
 * the hash. The same job always gives the same id, so a resend after a
 * crash repeats it. The id goes first so that Message-IDs grow with the
 * jobs: the store's index on them then takes each new one at its end,
 * where a hash alone would dirty a random page of it per message.
 */
void outbox_message_id(const char *key, int64_t job_id, const char *domain,
                       char *buf, size_t size);

/* The maximum length of delivery.message_id_domain (a DNS name's), and
 * the size of a Message-ID with such a domain, its terminating NUL
 * included. */
#define MESSAGE_ID_DOMAIN_MAX 253
#define OUTBOX_MESSAGE_ID_SIZE (1 + 32 + 1 + MESSAGE_ID_DOMAIN_MAX + 1 + 1)

/* Returns the domain of Message-IDs, from the running outbox's
 * settings. */
const char *outbox_message_id_domain(void);

/* Returns the messages per hour that all bulletins on `channel` share,
 * from the running outbox's settings (`delivery.bulletin_rates`), or 0
 * when the channel has no such limit. */
int64_t outbox_bulletin_rate(const char *channel);

/*
 * Returns the wait before retry number `attempt` (1 for the first):
 * `backoff` doubled per attempt up to `max_backoff`. `jitter` (0 to 1)
 * takes up to a quarter off, so that jobs that failed together do not
 * retry together.
 */
int64_t outbox_backoff_ms(const struct outbox_settings *s, int attempt,
                          double jitter);

#endif
