/*
 * The JSON mapping: reads the bodies of any case system through JSON
 * Pointers set in the config, so an agency connects its own system
 * without writing C. The `mapping` block names where the case id, its
 * status and the other values sit in a body, and `statuses` lists which
 * of the system's status values open, update or close a case.
 */
#ifndef CRIER_CASE_MAPPING_H
#define CRIER_CASE_MAPPING_H

#include <jansson.h>

#include <crier/host.h>

struct case_mapping;

/*
 * Reads and checks the `mapping` block of an instance's config into
 * *mapping. Every problem is reported through the host's config_error
 * with the key under "mapping" (such as "mapping.statuses.closed").
 * Returns 0, CRIER_ECONFIG or CRIER_ENOMEM.
 */
int mapping_read(struct crier_ctx *ctx, const struct crier_host *host,
                 const json_t *config, struct case_mapping **mapping);

/* Frees a mapping. NULL is allowed. */
void mapping_free(struct case_mapping *mapping);

/*
 * Builds the events of a body, one object or an array of them, into
 * *events, a new array. Returns 0, or CRIER_EINVAL with `err->field`
 * naming the JSON Pointer at fault and, for an array body, `err->index`.
 */
int mapping_events_build(const struct case_mapping *mapping,
                         const json_t *body, json_t **events,
                         struct crier_input_error *err);

#endif
