/*
 * One process per database. Two crier processes on one file would each
 * run a pipeline and an outbox over the same jobs, so the store holds an
 * exclusive flock on "<path>.lock" from start until its stop has finished.
 * NOTE: several nodes on one database are not supported yet (the Stores
 * section of docs/KNOWN_LIMITS.md), and until they are this lock rejects a
 * second process.
 *
 * The lock file is never deleted: removing it while another process waits
 * to open it would let two processes lock two different files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "sqlite.h"

#define LOCK_SUFFIX ".lock"


/*
 * Takes the lock without waiting. Returns 0, CRIER_EBUSY when another
 * process holds it, CRIER_EIO when the lock file cannot be opened or
 * locked, or CRIER_ENOMEM. Every failure except CRIER_ENOMEM is logged
 * with the path.
 */
int
store_lock_take(struct sqlite_store *store)
{
    size_t size = strlen(store->path) + sizeof(LOCK_SUFFIX);
    char *lock_path = malloc(size);
    char message[PATH_MAX + 96];
    int fd;

    if (lock_path == NULL)
        return CRIER_ENOMEM;
    snprintf(lock_path, size, "%s" LOCK_SUFFIX, store->path);
    fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        store->host->log(store->ctx, CRIER_LOG_ERROR,
                         "cannot open the lock file",
                         "path=%s error=\"%s\"", lock_path, strerror(errno));
        free(lock_path);
        return CRIER_EIO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int error = errno;

        close(fd);
        if (error != EWOULDBLOCK) {
            store->host->log(store->ctx, CRIER_LOG_ERROR,
                             "cannot lock the database",
                             "path=%s error=\"%s\"", lock_path,
                             strerror(error));
            free(lock_path);
            return CRIER_EIO;
        }
        snprintf(message, sizeof(message), "another crier process uses %s; "
                 "stop it or point this one at another database",
                 store->path);
        store->host->log(store->ctx, CRIER_LOG_ERROR, message, "lock=%s",
                         lock_path);
        free(lock_path);
        return CRIER_EBUSY;
    }
    free(lock_path);
    store->lock_fd = fd;
    return 0;
}


/* Releases the lock, if held. Closing the descriptor drops the flock. */
void
store_lock_release(struct sqlite_store *store)
{
    if (store->lock_fd < 0)
        return;
    close(store->lock_fd);
    store->lock_fd = -1;
}
