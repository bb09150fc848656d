/*
 * The backup operation: SQLite's online backup API copies the database
 * into a new file while other connections, in this process or in a
 * serving crier, keep writing. It needs neither the store's lock nor its
 * workers, so `crier backup` runs it on a store that was only
 * initialized. The copy is one consistent snapshot, because a single
 * sqlite3_backup_step(-1) reads in one read transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlite.h"

/* The suffix of the file being written, renamed once it is complete. */
#define BACKUP_PARTIAL_SUFFIX ".partial"

/* Pause between tries while a writer holds a lock the copy needs. */
#define BACKUP_RETRY_MS 50

struct backup_job {
    uv_work_t work;
    struct sqlite_store *store;
    char *path;
    char *partial;
    crier_store_cb done;
    void *arg;
    int status;
    int pages;
    char message[200];
};


/* Copies the store's database into job->partial; runs on a libuv worker
 * thread. */
/* Creates `path` empty with mode 0600, or empties it and sets that mode.
 * Returns 0 or -1 with errno set. */
static int
partial_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc;

    if (fd < 0)
        return -1;
    rc = fchmod(fd, 0600);
    close(fd);
    return rc;
}


static int
backup_copy(struct backup_job *job)
{
    sqlite3 *source = NULL, *target = NULL;
    sqlite3_backup *copy;
    int waited = 0, rc;

    rc = sqlite3_open_v2(job->store->path, &source,
                         SQLITE_OPEN_READONLY, NULL);
    /* The copy contains residents' data, so it is created readable by its
     * owner only before SQLite opens it, because SQLite follows the umask. */
    if (rc == SQLITE_OK && partial_create(job->partial) != 0) {
        snprintf(job->message, sizeof(job->message), "cannot create %s: %s",
                 job->partial, strerror(errno));
        rc = SQLITE_CANTOPEN;
        goto out;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_open_v2(job->partial, &target, SQLITE_OPEN_READWRITE |
                             SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        snprintf(job->message, sizeof(job->message), "%s",
                 sqlite3_errmsg(target != NULL ? target : source));
        goto out;
    }
    copy = sqlite3_backup_init(target, "main", source, "main");
    if (copy == NULL) {
        rc = sqlite3_errcode(target);
        snprintf(job->message, sizeof(job->message), "%s",
                 sqlite3_errmsg(target));
        goto out;
    }
    do {
        rc = sqlite3_backup_step(copy, -1);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_sleep(BACKUP_RETRY_MS);
            waited += BACKUP_RETRY_MS;
        }
    } while ((rc == SQLITE_BUSY || rc == SQLITE_LOCKED) &&
             waited < job->store->busy_timeout_ms);
    job->pages = sqlite3_backup_pagecount(copy);
    sqlite3_backup_finish(copy);
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    else
        snprintf(job->message, sizeof(job->message), "%s",
                 sqlite3_errstr(rc));
out:
    sqlite3_close(target);
    sqlite3_close(source);
    return rc;
}


static void
backup_run(uv_work_t *work)
{
    struct backup_job *job = work->data;
    int rc = backup_copy(job);

    if (rc != SQLITE_OK) {
        job->status = store_error(rc);
        unlink(job->partial);
        return;
    }
    /* link(2) fails when the file appeared meanwhile, where rename(2)
     * would replace it. */
    if (link(job->partial, job->path) != 0) {
        job->status = errno == EEXIST ? CRIER_EEXIST : CRIER_EIO;
        snprintf(job->message, sizeof(job->message), "%s", strerror(errno));
    }
    unlink(job->partial);
}


static void
backup_after(uv_work_t *work, int status)
{
    struct backup_job *job = work->data;
    json_t *result = NULL;

    if (job->status == 0) {
        result = json_pack("{s:s,s:i}", "path", job->path, "pages",
                           job->pages);
    } else {
        job->store->host->log(job->store->ctx, CRIER_LOG_ERROR,
                              "backup failed", "path=%s error=\"%s\"",
                              job->path, job->message);
        /* The status alone, such as CRIER_EIO, hides the cause. */
        if (job->message[0] != '\0')
            result = json_pack("{s:s}", "error", job->message);
    }
    job->done(job->arg, job->status, result);
    json_decref(result);
    free(job->path);
    free(job->partial);
    free(job);
}


/* Returns 0 when `path` does not exist, or the error to report. */
static int
backup_target_free(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return CRIER_EEXIST;
    return errno == ENOENT ? 0 : CRIER_EIO;
}


int
store_backup(void *state, json_t *request, crier_store_cb done, void *arg)
{
    struct sqlite_store *store = state;
    const char *path = json_string_value(json_object_get(request, "path"));
    struct backup_job *job;
    int rc;

    if (path == NULL || path[0] == '\0')
        return CRIER_EINVAL;
    if ((rc = backup_target_free(path)) != 0)
        return rc;
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return CRIER_ENOMEM;
    job->work.data = job;
    job->store = store;
    job->done = done;
    job->arg = arg;
    job->path = strdup(path);
    job->partial = malloc(strlen(path) + sizeof(BACKUP_PARTIAL_SUFFIX));
    if (job->path == NULL || job->partial == NULL) {
        free(job->path);
        free(job->partial);
        free(job);
        return CRIER_ENOMEM;
    }
    sprintf(job->partial, "%s" BACKUP_PARTIAL_SUFFIX, path);
    rc = backup_target_free(job->partial);
    if (rc == 0 && uv_queue_work(store->host->loop(store->ctx), &job->work,
                                 backup_run, backup_after) != 0)
        rc = CRIER_EIO;
    if (rc != 0) {
        free(job->path);
        free(job->partial);
        free(job);
    }
    return rc;
}
