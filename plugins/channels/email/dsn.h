/*
 * Reading bounce and complaint reports (dsn.c): delivery status
 * notifications (RFC 3464) and abuse feedback reports (RFC 5965), parsed
 * with GMime.
 */
#ifndef CRIER_EMAIL_DSN_H
#define CRIER_EMAIL_DSN_H

#include <stddef.h>

#include <jansson.h>

struct email;

/* Sets GMime up and shuts it down; counted, so instances may nest. */
void dsn_library_open(void);
void dsn_library_close(void);

/*
 * Parses one message of the bounce mailbox and appends an event for each
 * recipient it reports on (email.bounced, email.delivered or
 * email.complained). The event names crier's message by the VERP address
 * the report was sent to. Without one, it names the Message-ID of the
 * original message that the report quotes. A message that is no report,
 * or names no message, adds nothing. Returns the number of events added.
 */
size_t dsn_events_add(const struct email *email, const char *data,
                      size_t len, json_t *events);

#endif
