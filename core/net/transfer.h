/*
 * Outgoing transfers: the core's one libcurl multi handle, driven by the
 * loop through the multi socket API (a uv_poll_t per socket and one
 * uv_timer_t). Plugins hand in prepared easy handles; completions come
 * back through CURLOPT_PRIVATE. Network timeouts run on real time, not on
 * the crier clock.
 */
#ifndef CRIER_CORE_TRANSFER_H
#define CRIER_CORE_TRANSFER_H

#include <crier/host.h>

int transfer_init(uv_loop_t *loop);

/* Adds `easy` to the multi handle; `done` runs when it finishes. */
int transfer_start(CURL *easy, crier_transfer_cb done, void *arg);

/* Returns the number of transfers still running. */
unsigned transfer_active(void);

/* Aborts what still runs (each gets CURLE_ABORTED_BY_CALLBACK) and frees
 * the multi handle. */
void transfer_close(void);

#endif
