/*
 * Fuzzes the stores' plain JSON parser (plugins/stores/common/plain_json.c)
 * against jansson: whatever input the plain parser accepts, json_loadb
 * with JSON_DECODE_ANY must accept too, with an equal value and the same
 * order of members.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "plain_json.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *plain = plain_json_load((const char *)data, size);
    json_t *expected;
    char *plain_text;
    char *expected_text;

    if (plain == NULL)
        return 0;
    expected = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (expected == NULL || !json_equal(plain, expected))
        __builtin_trap();
    plain_text = json_dumps(plain, DUMP_FLAGS);
    expected_text = json_dumps(expected, DUMP_FLAGS);
    if (plain_text == NULL || expected_text == NULL
        || strcmp(plain_text, expected_text) != 0)
        __builtin_trap();
    free(plain_text);
    free(expected_text);
    json_decref(plain);
    json_decref(expected);
    return 0;
}
