/*
 * Channel plugins deliver rendered messages.
 *
 * The core's delivery worker claims a job, checks it, renders it and calls
 * `send`. The channel hands the message to its provider and reports one of
 * three outcomes. A job is marked `sending` before `send` is called, so a
 * crash inside the hand-over resends the message with the same
 * `message_id`. A channel passes that id to the provider, so that the
 * receiver can recognise a repeat.
 */
#ifndef CRIER_CHANNEL_H
#define CRIER_CHANNEL_H

#include <stdint.h>

/*
 * One message, owned by the core and valid until `done` is called. New
 * fields are only added at the end, and `size` shows which exist.
 */
struct crier_message {
    uint32_t size;            /* sizeof(struct crier_message) in the core */
    int64_t job_id;           /* the job's id in the store */
    int attempt;              /* 1 for the first hand-over */
    const char *key;          /* the job's idempotency key */
    const char *message_id;   /* "<hex@domain>", derived from `key` */
    const char *rule;         /* the rule that planned it */
    const char *to;           /* address: email, E.164 phone, URL */
    const char *subject;      /* rendered, no CR or LF; may be "" */
    const char *text;         /* rendered text part */
    const char *html;         /* rendered HTML part, or NULL */
    const char *profile;      /* the profile's id; check `size` first */
    /* "service" (statutory or transactional) or "outreach", from the
     * rule; check `size` first. An email channel adds its one-click
     * unsubscribe header to outreach only. */
    const char *message_class;
    /*
     * The crier clock time (host now_ms) by which the message must be
     * handed over: after it the job's lease may end and another claim
     * may send the message again. A channel that queues messages reports
     * CRIER_SEND_RETURNED (CRIER_SEND_RETRY before ABI minor 7) for one
     * that is still queued then. 0 for none; check `size` first. Added
     * in ABI minor 6.
     */
    int64_t hand_over_by_ms;
};

/* What a channel reports for one send. */
enum crier_send_outcome {
    CRIER_SEND_DONE = 0,      /* handed over; the job becomes `sent` */
    CRIER_SEND_RETRY = 1,     /* a temporary failure; try again later */
    CRIER_SEND_FAIL = 2,      /* a permanent error: the job is `failed` */
    /* Given back unsent, never offered to the provider (it waited past
     * hand_over_by_ms, or the channel stopped first): the job is planned
     * again without counting an attempt. Added in ABI minor 7; a core
     * before it takes it as CRIER_SEND_RETRY. */
    CRIER_SEND_RETURNED = 3
};

/* The outcome of one send, filled in by the channel. */
struct crier_send_result {
    enum crier_send_outcome outcome;
    const char *provider_id;  /* the provider's reference, or NULL */
    const char *detail;       /* the provider's reply, for the job record */
    int64_t retry_after_ms;   /* a provider's requested wait, or 0 */

    /*
     * Nonzero with CRIER_SEND_FAIL when the provider rejected the
     * recipient itself for good (SMTP 550 5.1.1, an unknown number): the
     * core then marks the address invalid, and later messages to it are
     * suppressed. Added in ABI minor 2; the core reads it only from a
     * channel whose descriptor's abi_minor is at least 2, so a plugin
     * built before it, whose result ends before this member, keeps
     * working.
     */
    int address_invalid;
};

/* Reports the outcome of one send; the core copies the strings. */
typedef void (*crier_send_cb)(void *arg, const struct crier_send_result *r);

/* The operation table of a channel plugin (`ops` of its descriptor). */
struct crier_channel_ops {
    uint32_t size;            /* sizeof(struct crier_channel_ops) */

    /* The identity kind a message goes to: "email", "phone" or "url". */
    const char *address_kind;

    /*
     * Starts delivering `msg` and calls `done` exactly once, at once or
     * later. Returns 0, or a negative code when it could not start (the
     * job is then retried, and `done` is not called).
     */
    int (*send)(void *state, const struct crier_message *msg,
                crier_send_cb done, void *arg);
};

#endif
