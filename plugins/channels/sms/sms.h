/*
 * The SMS channel's shared state. config.c reads the block, sms.c checks
 * each message, and twilio.c sends it through the configured providers
 * in turn. inbound.c responds to replies (STOP, START, HELP and other
 * text).
 */
#ifndef CRIER_SMS_H
#define CRIER_SMS_H

#include <glib.h>

#include <crier/crier.h>

#include "phone.h"

/* One account at a provider that speaks the Twilio Messages API. */
struct sms_provider {
    char *base_url;               /* "https://api.twilio.com", no '/' */
    char *account_sid;
    char *auth_token;
    char *from;                   /* E.164 sender, or NULL */
    char *messaging_service_sid;  /* used when `from` is NULL */
    char *messages_url;           /* the Messages.json resource */
};

enum sms_signature {
    SMS_SIGNATURE_TWILIO = 0,     /* X-Twilio-Signature, HMAC-SHA1 */
    SMS_SIGNATURE_CRIER = 1       /* X-Crier-Signature, HMAC-SHA256 */
};

struct sms_inbound {
    char *path;                   /* the route, or NULL for none */
    char *url;                    /* the public URL Twilio signs */
    enum sms_signature signature;
    char **secrets;               /* for SMS_SIGNATURE_CRIER */
    size_t secret_count;
    int64_t tolerance_s;
    char *help_text;
    char *stop_text;
    char *start_text;
};

struct sms {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    struct sms_provider *providers;
    size_t provider_count;
    const struct phone_region *region;  /* NULL: E.164 only */
    int max_segments;
    long timeout_ms;
    long connect_timeout_ms;
    char *status_url;             /* StatusCallback base, or NULL */
    char *status_path;            /* its route */
    struct sms_inbound inbound;
    unsigned in_flight;           /* sends and inbound emits under way */
    uint64_t error_logged_ms;
    unsigned errors_unlogged;
    int stopping;
    crier_stop_cb stop_done;
    void *stop_arg;
};

/* Reads and checks the config block; frees nothing on failure (see
 * sms_config_free). */
int sms_config_read(struct sms *sms, const json_t *config);
void sms_config_free(struct sms *sms);

/*
 * Sends `body` to the E.164 number `to` through the providers in order
 * and reports once through `done`. Returns 0, or a negative code when it
 * could not start (nothing is then reported).
 */
int twilio_send(struct sms *sms, const char *to, const char *body,
                const char *message_id, crier_send_cb done, void *arg);

/* Adds the inbound and status routes, from start. */
int inbound_routes_add(struct sms *sms);

/* Counts one piece of work finished, and completes a pending stop. */
void sms_work_done(struct sms *sms);

/* Logs a delivery error at most once a minute, with the count since. */
void sms_error_log(struct sms *sms, const char *msg, const char *fields_fmt,
                   ...) CRIER_PRINTF(3, 4);

#endif
