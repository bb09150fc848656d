/* The bounce mailbox, read over IMAP on the loop (imap.c). */
#ifndef CRIER_EMAIL_IMAP_H
#define CRIER_EMAIL_IMAP_H

struct email;
struct imap_poll;

/* Starts polling when bounces.imap is set; the first poll runs at once.
 * Returns 0 or CRIER_ENOMEM. */
int imap_poll_start(struct email *email);

/* Stops the timer; a command under way ends the round when it
 * completes and counts in the channel's in_flight until then. */
void imap_poll_stop(struct imap_poll *poll);

void imap_poll_free(struct imap_poll *poll);

#endif
