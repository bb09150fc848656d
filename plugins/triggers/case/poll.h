/*
 * Polling for case systems that cannot call webhooks. Every interval the
 * trigger GETs an Open311 /requests.json with start_date and end_date and
 * emits the requests it gets. Then it records the end of that window in
 * a store cursor, so a restart resumes where the last committed window
 * ended.
 */
#ifndef CRIER_CASE_POLL_H
#define CRIER_CASE_POLL_H

#include <jansson.h>

#include <crier/host.h>
#include <crier/plugin.h>

#include "mapping.h"

struct case_poll;

/*
 * Reads and checks the `poll` block of an instance's config into *poll.
 * Problems go to the host's config_error under "poll.<key>". Returns 0,
 * CRIER_ECONFIG or CRIER_ENOMEM.
 */
int poll_read(struct crier_ctx *ctx, const struct crier_host *host,
              const json_t *config, struct case_poll **poll);

/*
 * Starts polling: reads the cursor, then fetches the first window at
 * once. Records are read through `mapping` when it is not NULL, else as
 * Open311 service requests. `mapping` must outlive the poll.
 */
int poll_start(struct case_poll *poll, const struct case_mapping *mapping);

/* Stops polling and calls `done` once no fetch, emit or cursor write is
 * under way. */
void poll_stop(struct case_poll *poll, crier_stop_cb done, void *arg);

/* Frees a stopped poll. NULL is allowed. */
void poll_free(struct case_poll *poll);

#endif
