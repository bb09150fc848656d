/*
 * schema_status on a store that was only initialized, as `crier migrate
 * --status` calls it. It changes nothing: a worker thread reads the
 * stored version through a read-only connection, and the result lists
 * the migrations that start would apply. It needs no store lock, so it
 * works beside a serving crier.
 */
#include <stdlib.h>

#include "sqlite.h"

struct status_job {
    uv_work_t work;
    struct sqlite_store *store;
    crier_store_cb done;
    void *arg;
    int status;
    int version;
    char message[200];
};


static void
status_read(uv_work_t *work)
{
    struct status_job *job = work->data;

    job->status = schema_peek(job->store->path,
                              job->store->busy_timeout_ms, &job->version,
                              job->message, sizeof(job->message));
}


static void
status_after(uv_work_t *work, int status)
{
    struct status_job *job = work->data;
    json_t *result = NULL;

    (void)status;
    if (job->status == 0) {
        result = schema_status_result("sqlite", job->version,
                                      schema_latest(), schema_title);
        if (result == NULL)
            job->status = CRIER_ENOMEM;
    } else {
        job->store->host->log(job->store->ctx, CRIER_LOG_ERROR,
                              "cannot read the schema version",
                              "path=%s error=\"%s\"", job->store->path,
                              job->message);
        result = json_pack("{s:s}", "error", job->message);
    }
    job->done(job->arg, job->status, result);
    json_decref(result);
    free(job);
}


int
schema_status_offline(struct sqlite_store *store, crier_store_cb done,
                      void *arg)
{
    struct status_job *job = calloc(1, sizeof(*job));

    if (job == NULL)
        return CRIER_ENOMEM;
    job->work.data = job;
    job->store = store;
    job->done = done;
    job->arg = arg;
    if (uv_queue_work(store->host->loop(store->ctx), &job->work,
                      status_read, status_after) != 0) {
        free(job);
        return CRIER_EIO;
    }
    return 0;
}
