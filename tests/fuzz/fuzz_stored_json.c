/*
 * Fuzzes the stores' JSON parsing (plugins/stores/common/stored_json.c)
 * against jansson: for every input, stored_json_loadb and json_loadb with
 * JSON_DECODE_ANY must both fail, or return equal values with the same
 * order of members.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "stored_json.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *stored = stored_json_loadb((const char *)data, size);
    json_t *expected = json_loadb((const char *)data, size, JSON_DECODE_ANY,
                                  NULL);
    char *stored_text;
    char *expected_text;

    if ((stored == NULL) != (expected == NULL))
        __builtin_trap();
    if (stored == NULL)
        return 0;
    if (!json_equal(stored, expected))
        __builtin_trap();
    stored_text = json_dumps(stored, DUMP_FLAGS);
    expected_text = json_dumps(expected, DUMP_FLAGS);
    if (stored_text == NULL || expected_text == NULL
        || strcmp(stored_text, expected_text) != 0)
        __builtin_trap();
    free(stored_text);
    free(expected_text);
    json_decref(stored);
    json_decref(expected);
    return 0;
}
