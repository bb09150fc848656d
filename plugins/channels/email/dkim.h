/* DKIM signing of outgoing mail with libopendkim (dkim.c). */
#ifndef CRIER_EMAIL_DKIM_H
#define CRIER_EMAIL_DKIM_H

#include <glib.h>
#include <jansson.h>

struct email;
struct dkim_signer;

/* Reads the `dkim` group and its key file. *out stays NULL when the
 * group is absent. Returns 0 or CRIER_ECONFIG after a config error. */
int dkim_config_read(struct email *email, const json_t *config,
                     struct dkim_signer **out);

void dkim_signer_free(struct dkim_signer *signer);

/*
 * Prepends a DKIM-Signature header to `message`, a whole message with
 * CRLF line ends. `job` names the message in the library's own logs.
 * Returns 0, or CRIER_EINVAL with *reason set.
 */
int dkim_message_sign(struct dkim_signer *signer, const char *job,
                      GString *message, const char **reason);

#endif
