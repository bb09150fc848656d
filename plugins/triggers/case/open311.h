/*
 * Mapping of case-system webhook bodies to crier events. Two forms are
 * understood: Open311 GeoReport v2 service requests (one object, or an
 * array as GET /requests.json returns it) and crier's generic case form
 * {"case": {...}, "event": "...", "person": {...}, "time": "..."}.
 *
 * Every event gets the type case.opened, case.updated or case.closed, the
 * case under properties.case, and a dedupe id "<case id>/<type>/<time>",
 * so a retried webhook is stored once while each real change is stored.
 */
#ifndef CRIER_CASE_OPEN311_H
#define CRIER_CASE_OPEN311_H

#include <jansson.h>

#include <crier/host.h>

/*
 * Builds the events of a webhook body into *events, a new array with one
 * event per case. Returns 0, or CRIER_EINVAL with `err` naming the field
 * at fault and, for an array body, the index of the element.
 */
int case_events_build(const json_t *body, json_t **events,
                      struct crier_input_error *err);

/*
 * Builds the event of one Open311 service request into *event, a new
 * reference. Returns 0, or CRIER_EINVAL with `err` filled except for
 * `err->index`, which is left alone.
 */
int open311_event_build(const json_t *request, json_t **event,
                        struct crier_input_error *err);

/* Builds the event of one generic case body, as open311_event_build. */
int generic_event_build(const json_t *body, json_t **event,
                        struct crier_input_error *err);

#endif
