/*
 * Fuzzes the case trigger's body mapping (plugins/triggers/case): the
 * input is parsed as JSON, as the webhook route does, and mapped as an
 * Open311 service request, an array of them, or a generic case body.
 * Each event built must then pass the core's event validation.
 */
#include <jansson.h>

#include <crier/error.h>
#include <crier/host.h>

#include "../../plugins/triggers/case/open311.h"
#include "fuzz.h"
#include "ingest/ingest.h"

#define FUZZ_NOW_MS 1767225600000   /* 2026-01-01T00:00:00Z */


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    struct crier_input_error err = {0};
    json_t *events = NULL, *event;
    size_t i;

    if (body == NULL)
        return 0;
    if (case_events_build(body, &events, &err) != 0) {
        if (err.message[0] == '\0' || events != NULL)
            __builtin_trap();       /* a rejection must have a message */
        json_decref(body);
        return 0;
    }
    json_array_foreach(events, i, event) {
        struct normalized_event out = {0};
        struct crier_input_error verr = {0};

        if (event_normalize(event, FUZZ_NOW_MS, &out, &verr) == 0)
            json_decref(out.event);
    }
    json_decref(events);
    json_decref(body);
    return 0;
}
