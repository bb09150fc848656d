/*
 * Upgrade in place (SIGUSR2): crier re-executes its own binary, which may
 * have been rebuilt since, hands it the listening socket and drains
 * itself. docs/reload.md describes the hand-over.
 */
#ifndef CRIER_CORE_UPGRADE_H
#define CRIER_CORE_UPGRADE_H

/* The variables that tell a new process it takes over: the inherited
 * listening socket, and its end of the hand-over socket pair. */
#define UPGRADE_LISTEN_FD_ENV "CRIER_LISTEN_FD"
#define UPGRADE_CHANNEL_FD_ENV "CRIER_UPGRADE_FD"

/* Records the path of the running binary; call once at start, before
 * it can be replaced on disk. */
void upgrade_init(void);

/*
 * Starts the new process. Once it has read and checked the config and
 * initialised its plugins, it reports ready and `drain` runs here: the
 * old process stops as on SIGTERM, and upgrade_store_closed signals the
 * new one to open the store. If the new process fails before it is
 * ready, this one goes on serving. Returns 0, or CRIER_EBUSY while an
 * upgrade runs.
 */
int upgrade_begin(void (*drain)(void));

/* Stops a new process that is not ready yet, because this one is
 * stopping for good (SIGTERM during an upgrade). */
void upgrade_cancel(void);

/* Tells the new process that this one has closed its store. */
void upgrade_store_closed(void);

/*
 * In a new process started by upgrade_begin: reports ready to the old
 * one and waits until it has closed its store. Returns at once in a
 * process started otherwise.
 */
void upgrade_take_over(void);

/* Returns the inherited listening socket, or -1 when there is none. */
int upgrade_listen_fd(void);

#endif
