/*
 * Pacing slots. They live in the store's memory, not in the database,
 * because only one process uses a database (start takes its lock), so
 * that process has every slot. A slot also lasts no longer than a
 * request, so a write per slot would buy nothing. The loop thread
 * applies each request at once and hands it to the completions as a
 * worker would, so the callback runs on a later turn and never waits
 * behind a long read.
 */
#include <stdlib.h>

#include "sqlite.h"


/* Applies a pacing request to the slots and queues its callback. */
static int
pace_answer(struct sqlite_store *store, struct request *req)
{
    if (store->state != STORE_RUNNING) {
        request_free(req);
        return CRIER_ECLOSED;
    }
    if (req->kind == REQUEST_PACE_ACQUIRE)
        req->result = pace_table_acquire(&store->pace, &req->input.pace);
    else
        req->result = pace_table_release(&store->pace, &req->input.pace);
    req->status = req->result != NULL ? 0 : CRIER_ENOMEM;
    req->next = NULL;
    completions_push(store, req);
    return 0;
}


int
store_pace_acquire(void *state, json_t *json, crier_store_cb done,
                   void *arg)
{
    struct request *req = request_new(REQUEST_PACE_ACQUIRE, done, arg);
    int rc;

    if (req == NULL)
        return CRIER_ENOMEM;
    rc = pace_acquire_parse(json, &req->input.pace);
    if (rc < 0) {
        free(req);
        return rc;
    }
    return pace_answer(state, req);
}


int
store_pace_release(void *state, json_t *json, crier_store_cb done,
                   void *arg)
{
    struct request *req = request_new(REQUEST_PACE_RELEASE, done, arg);
    int rc;

    if (req == NULL)
        return CRIER_ENOMEM;
    rc = pace_release_parse(json, &req->input.pace);
    if (rc < 0) {
        free(req);
        return rc;
    }
    return pace_answer(state, req);
}
