#ifndef CRIER_STORES_PLAIN_JSON_H
#define CRIER_STORES_PLAIN_JSON_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parses `length` bytes of JSON text that uses only objects, arrays,
 * integers, true, false, null and strings of printable ASCII without
 * escapes. Returns a new reference, or NULL for other text, which the
 * caller then gives to json_loadb.
 */
json_t *plain_json_load(const char *text, size_t length);

/* Parses NUL-terminated JSON text with plain_json_load, or with
 * json_loads and JSON_DECODE_ANY when it is not plain. Returns a new
 * reference, or NULL for text that is not JSON. */
json_t *stored_json_load(const char *text);

#endif
