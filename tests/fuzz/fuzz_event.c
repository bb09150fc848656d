/*
 * Fuzzes event validation (core/ingest/event.c): the input is parsed as
 * JSON, as the api trigger does with a request body, and each object (the
 * whole input or each element of an array) goes through event_normalize.
 */
#include <jansson.h>

#include <crier/error.h>
#include <crier/host.h>

#include "fuzz.h"
#include "ingest/ingest.h"

#define FUZZ_NOW_MS 1767225600000   /* 2026-01-01T00:00:00Z */


/* Validates one event and checks what a valid result promises. */
static void
event_check(const json_t *in)
{
    struct normalized_event out = {0};
    struct crier_input_error err = {0};

    if (event_normalize(in, FUZZ_NOW_MS, &out, &err) != 0) {
        if (err.message[0] == '\0')
            __builtin_trap();       /* a rejection must have a message */
        return;
    }
    if (out.event == NULL || out.type == NULL)
        __builtin_trap();
    json_decref(out.event);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    size_t i;
    json_t *item;

    if (root == NULL)
        return 0;
    if (json_is_array(root)) {
        json_array_foreach(root, i, item)
            event_check(item);
    } else {
        event_check(root);
    }
    json_decref(root);
    return 0;
}
