/*
 * Bounces and complaints of the email channel (docs/deliverability.md):
 * the VERP envelope sender that ties an asynchronous bounce to its
 * message, the provider event webhook, and the events that report a
 * delivery status to the core.
 */
#ifndef CRIER_EMAIL_BOUNCES_H
#define CRIER_EMAIL_BOUNCES_H

#include <stddef.h>

#include <jansson.h>

struct email;

/* The hex digits of a Message-ID's left part ("<hex@domain>"). */
#define VERP_ID_LEN 32
/* The hex digits of the token's MAC: 48 bits, enough that a forged
 * bounce cannot guess one, short enough for a 64-octet local part. */
#define VERP_MAC_LEN 12

struct bounce_settings {
    char *local;              /* "bounces" of bounces@mail.example.gov */
    char *domain;             /* "mail.example.gov" */
    char *key;                /* HMAC key of VERP tokens, or NULL */
    char *message_id_domain;  /* right of the @ in crier's Message-IDs */
    char *webhook_path;       /* provider events route, or NULL */
    char *webhook_password;   /* HTTP basic auth password of that route */
    char *imap_url;           /* the bounce mailbox, or NULL */
    char *imap_username;
    char *imap_password;
    long imap_poll_ms;        /* between two reads of the mailbox */
};

/* Reads the `bounces` group of the channel's config. Returns 0 or
 * CRIER_ECONFIG after a config error. */
int bounces_config_read(struct email *email, const json_t *config);

/* Frees the settings, wiping the secrets. */
void bounces_clear(struct bounce_settings *settings);

/*
 * Returns the envelope sender for the message `message_id`:
 * "local+<id>.<mac>@domain" when VERP is set up, else NULL. Free with
 * g_free.
 */
char *verp_address(const struct email *email, const char *message_id);

/*
 * Returns the Message-ID that a VERP address (any case, with or
 * without angle brackets) names, when its MAC is valid, else NULL. Free
 * with g_free.
 */
char *verp_message_id(const struct email *email, const char *address);

/*
 * Builds the event of a delivery status: `type` ("email.bounced", ...)
 * for the message `message_id` to `recipient`, with the provider's code
 * and text (each may be NULL) and `permanent` for a hard bounce. A
 * complaint also revokes email consent, as an unsubscribe does. `id`,
 * when not NULL, makes a repeat of the same report a duplicate.
 */
json_t *bounce_event_build(const char *type, const char *message_id,
                           const char *recipient, const char *code,
                           const char *text, int permanent, const char *id);

/* Adds the provider event route when `bounces.webhook` is set. */
int bounce_webhook_route_add(struct email *email);

/* Compares two strings in time that does not depend on where they
 * differ. */
int secret_equal(const char *a, const char *b);

#endif
