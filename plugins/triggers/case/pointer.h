/*
 * JSON Pointers (RFC 6901). "/case/number" names member "number" of member
 * "case". Inside a reference token "~1" is '/' and "~0" is '~', and a
 * token under an array is a decimal index. jansson 2.14 has no pointer
 * lookup, so the trigger carries this small one.
 */
#ifndef CRIER_CASE_POINTER_H
#define CRIER_CASE_POINTER_H

#include <jansson.h>

/*
 * Returns NULL when `pointer` is valid syntax: "" or '/' followed by
 * tokens in which every '~' is followed by '0' or '1'. Otherwise returns
 * a static message saying what is wrong.
 */
const char *json_pointer_check(const char *pointer);

/*
 * Returns the value that `pointer` names in `root` (borrowed), or NULL
 * when it names nothing. That is a missing member, an index past the end
 * or not a decimal without leading zeros, "-", a token under a scalar, or
 * invalid syntax.
 */
json_t *json_pointer_get(const json_t *root, const char *pointer);

#endif
