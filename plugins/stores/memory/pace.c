/* Pacing slots, kept in the store's memory like everything else. */
#include "memory.h"


int
memory_pace_acquire(void *state, json_t *request, crier_store_cb done,
                    void *arg)
{
    struct memory_store *store = state;
    struct pace_request parsed;
    int rc = pace_acquire_parse(request, &parsed);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        pace_request_clear(&parsed);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0,
                     pace_table_acquire(&store->pace, &parsed));
    pace_request_clear(&parsed);
    return 0;
}


int
memory_pace_release(void *state, json_t *request, crier_store_cb done,
                    void *arg)
{
    struct memory_store *store = state;
    struct pace_request parsed;
    int rc = pace_release_parse(request, &parsed);

    if (rc < 0)
        return rc;
    if (store->state != MEMORY_RUNNING) {
        pace_request_clear(&parsed);
        return CRIER_ECLOSED;
    }
    completion_queue(store, done, arg, 0,
                     pace_table_release(&store->pace, &parsed));
    pace_request_clear(&parsed);
    return 0;
}
