#ifndef CRIER_STORES_STORED_JSON_H
#define CRIER_STORES_STORED_JSON_H

#include <stddef.h>

#include <jansson.h>

/*
 * Parses `len` bytes of JSON that a store wrote itself, any value at the
 * top, as json_loadb with JSON_DECODE_ANY would (stored_json.c explains how).
 * Returns a new reference, or NULL for text that is not JSON.
 */
json_t *stored_json_loadb(const char *text, size_t len);

/* Parses NUL-terminated text as stored_json_loadb does. */
json_t *stored_json_load(const char *text);

/* Parses with yajl alone, for the tests: returns NULL for text that
 * stored_json_loadb leaves to json_loadb. */
json_t *stored_json_yajl_load(const char *text, size_t len);

#endif
