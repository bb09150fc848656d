/*
 * Fuzzes Mustache templates (core/template): the input is compiled as a
 * template and, when it compiles, rendered twice (escaped and not) with a
 * data object, and with partials that are the input itself, so partial
 * nesting and recursion are reached too.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "template/mustache.h"

static const char data_text[] =
    "{\"name\": \"Ana <b>&amp;\", \"count\": 2, \"ok\": true, \"no\": false,"
    " \"list\": [{\"item\": \"one\"}, {\"item\": \"two\"}, \"three\"],"
    " \"person\": {\"first\": \"Ana\", \"address\": {\"city\": \"X\"}},"
    " \"empty\": [], \"nil\": null}";

static json_t *data_root;


/* Every partial is the template itself, so nesting ends at its limit. */
static const char *
partial_self(void *arg, const char *name)
{
    return name[0] == 's' ? arg : NULL;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mustache_error err = {0};
    struct mustache *t;
    char *src = fuzz_string(data, size);

    if (data_root == NULL)
        data_root = json_loads(data_text, 0, NULL);
    t = mustache_compile(src, size, &err);
    if (t == NULL) {
        if (err.message[0] == '\0')
            __builtin_trap();       /* a syntax error must have a message */
        free(src);
        return 0;
    }
    for (int escape = 0; escape < 2; escape++) {
        size_t len = 0;
        char *out = mustache_render(t, data_root, partial_self, src, escape,
                                    &len, &err);

        if (out != NULL && strlen(out) > len)
            __builtin_trap();       /* *len must cover the output */
        free(out);
    }
    mustache_free(t);
    free(src);
    return 0;
}
