/*
 * Email click and open tracking: the events of GET /c/{token} and of
 * GET /b.gif?m={token}, built from a verified link token (see
 * core/template/link_token.h for its form).
 */
#ifndef CRIER_BEACON_LINKS_H
#define CRIER_BEACON_LINKS_H

#include <jansson.h>

#include "link_token.h"

/* The URL prefix of click links; the token follows it. */
#define LINKS_CLICK_PREFIX "/c/"

/*
 * Builds the event `type` (email.clicked or email.opened) for a verified
 * token payload: the recipient identity as `profile`, and the message
 * reference, the URL of a click and `user_agent` (may be NULL) in
 * properties. Returns a new event.
 */
json_t *links_event_build(const json_t *payload, const char *type,
                          const char *user_agent);

#endif
