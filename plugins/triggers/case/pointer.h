/*
 * JSON Pointers (RFC 6901): "/case/number" names member "number" of member
 * "case"; "~1" stands for '/' and "~0" for '~' inside a reference token,
 * and a token under an array is a decimal index. jansson 2.14 has no
 * pointer lookup, so the trigger carries this small one.
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
 * when it names nothing: a missing member, an index that is not a
 * decimal without leading zeros or is past the end, "-", a token under a
 * scalar, or invalid syntax.
 */
json_t *json_pointer_get(const json_t *root, const char *pointer);

#endif
