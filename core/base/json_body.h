/*
 * Request bodies as JSON. jansson keeps the last value of a key given
 * twice, so {"type": "ok", "type": "dup"} would pass as "dup"; every
 * route that reads a JSON body parses it here and rejects such a body.
 * Trigger plugins compile json_body.c themselves, because a plugin
 * cannot link the core's symbols.
 */
#ifndef CRIER_CORE_JSON_BODY_H
#define CRIER_CORE_JSON_BODY_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parses `len` bytes of `text` with jansson's `flags` plus
 * JSON_REJECT_DUPLICATES. Returns the value, or NULL with `error` set.
 * For a repeated key, error->text is `duplicate key "<key>"` with the key
 * as a JSON string, and json_body_duplicate(error) returns 1.
 */
json_t *json_body_load(const char *text, size_t len, size_t flags,
                       json_error_t *error);

/* Returns 1 when `error` is from a key given twice in one object. */
int json_body_duplicate(const json_error_t *error);

#endif
