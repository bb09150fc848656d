#include <stdlib.h>
#include <string.h>

#include "pointer.h"


const char *
json_pointer_check(const char *pointer)
{
    if (pointer[0] != '\0' && pointer[0] != '/')
        return "must be empty or start with '/', such as \"/case/number\"";
    for (const char *p = pointer; *p != '\0'; p++)
        if (p[0] == '~' && p[1] != '0' && p[1] != '1')
            return "has a '~' that is not followed by 0 or 1; write '~' "
                   "as ~0 and '/' as ~1";
    return NULL;
}


/* Decodes the token of `len` bytes at `token` into `out` (~1 to '/', ~0
 * to '~'). `out` has room for len + 1 bytes. */
static void
token_decode(const char *token, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (token[i] == '~' && i + 1 < len) {
            out[o++] = token[i + 1] == '1' ? '/' : '~';
            i++;
        }
        else
            out[o++] = token[i];
    }
    out[o] = '\0';
}


/* Parses an array index: "0" or digits without a leading zero. */
static int
index_parse(const char *token, size_t *index)
{
    size_t value = 0;

    if (token[0] == '\0' || (token[0] == '0' && token[1] != '\0'))
        return -1;
    for (const char *p = token; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || value > ((size_t) -1 - 9) / 10)
            return -1;
        value = value * 10 + (size_t) (*p - '0');
    }
    *index = value;
    return 0;
}


/* Returns the child of `node` that the decoded `token` names, or NULL. */
static json_t *
child_get(const json_t *node, const char *token)
{
    size_t index;

    if (json_is_object(node))
        return json_object_get(node, token);
    if (json_is_array(node) && index_parse(token, &index) == 0)
        return json_array_get(node, index);
    return NULL;
}


json_t *
json_pointer_get(const json_t *root, const char *pointer)
{
    json_t *node = (json_t *) root;
    const char *p = pointer;
    char *token;

    if (root == NULL || json_pointer_check(pointer) != NULL)
        return NULL;
    token = malloc(strlen(pointer) + 1);
    if (token == NULL)
        return NULL;
    while (node != NULL && *p == '/') {
        size_t len = strcspn(p + 1, "/");

        token_decode(p + 1, len, token);
        node = child_get(node, token);
        p += 1 + len;
    }
    free(token);
    return node;
}
