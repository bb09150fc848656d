#include "json_body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * Returns the offset of the opening quote of the string that ends just
 * before `end`. Inside a string a quote is escaped when an odd number of
 * backslashes precede it, so the first unescaped quote going back is the
 * opening one. Returns `end` when there is none.
 */
static size_t
string_start(const char *text, size_t end)
{
    size_t i = end - 1;

    while (i-- > 0) {
        size_t slashes = 0;

        if (text[i] != '"')
            continue;
        while (slashes < i && text[i - 1 - slashes] == '\\')
            slashes++;
        if (slashes % 2 == 0)
            return i;
    }
    return end;
}


/* Rewrites error->text to name the key that jansson found twice: its
 * position is just after the key's closing quote. */
static void
duplicate_name(const char *text, size_t len, json_error_t *error)
{
    size_t end = (size_t) error->position;
    size_t start;
    json_t *key;
    char *quoted = NULL;

    if (end < 2 || end > len || text[end - 1] != '"')
        return;
    start = string_start(text, end);
    if (start == end)
        return;
    key = json_loadb(text + start, end - start, JSON_DECODE_ANY, NULL);
    if (json_is_string(key))
        quoted = json_dumps(key, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    /* jansson keeps the error code in the last byte of text. */
    if (quoted != NULL)
        snprintf(error->text, sizeof(error->text) - 1, "duplicate key %s",
                 quoted);
    free(quoted);
    json_decref(key);
}


json_t *
json_body_load(const char *text, size_t len, size_t flags,
               json_error_t *error)
{
    json_t *value = json_loadb(text, len, flags | JSON_REJECT_DUPLICATES,
                               error);

    if (value == NULL && json_body_duplicate(error))
        duplicate_name(text, len, error);
    return value;
}


int
json_body_duplicate(const json_error_t *error)
{
    return json_error_code(error) == json_error_duplicate_key;
}
