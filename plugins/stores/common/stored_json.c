/*
 * Parsing of the JSON that a store reads back from its own rows: event
 * bodies, attribute, consent and related maps. Every claimed job loads
 * its event and profile this way, and json_loadb reads text one
 * character at a time through a callback, which made parsing the
 * largest cost of loading a claimed job. yajl's lexer scans the text in
 * bulk, and its callbacks build the same jansson values here.
 *
 * jansson stays the judge of what is JSON: text that yajl rejects, or
 * that jansson would read differently (an escaped \u sequence, a NUL in
 * a string, deep nesting), goes to json_loadb, so the result is always
 * what json_loadb returns. tests/unit/test_stored_json.c and
 * tests/fuzz/fuzz_stored_json.c compare the two.
 */
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "stored_json.h"

/* Deeper text goes to jansson, whose own limit is higher. */
#define NESTING_MAX 64

/* The values under construction: the open arrays and objects, and the
 * key that the next value of the innermost object takes. */
struct builder {
    json_t *root;
    json_t *open[NESTING_MAX];
    int depth;
    char *key;
    size_t key_len;
    char key_buf[64];
};


static void
key_clear(struct builder *b)
{
    if (b->key != b->key_buf)
        free(b->key);
    b->key = NULL;
}


/* Adds `value` to the innermost open value, or makes it the root.
 * Returns 1 to go on, 0 to cancel the parse. */
static int
value_add(struct builder *b, json_t *value)
{
    json_t *parent;
    int rc;

    if (value == NULL)
        return 0;
    if (b->depth == 0) {
        b->root = value;
        return 1;
    }
    parent = b->open[b->depth - 1];
    if (json_is_array(parent))
        return json_array_append_new(parent, value) == 0;
    /* yajl checked that the key is UTF-8, and on_key that it has no NUL. */
    rc = json_object_setn_new_nocheck(parent, b->key, b->key_len, value);
    key_clear(b);
    return rc == 0;
}


static int
on_null(void *ctx)
{
    return value_add(ctx, json_null());
}


static int
on_boolean(void *ctx, int value)
{
    return value_add(ctx, json_boolean(value));
}


static int
on_integer(void *ctx, long long value)
{
    return value_add(ctx, json_integer((json_int_t)value));
}


static int
on_double(void *ctx, double value)
{
    return value_add(ctx, json_real(value));
}


/* A NUL in a string makes json_loadb fail without JSON_ALLOW_NUL, so such
 * text goes to it. */
static int
on_string(void *ctx, const unsigned char *text, size_t len)
{
    if (memchr(text, '\0', len) != NULL)
        return 0;
    return value_add(ctx, json_stringn_nocheck((const char *)text, len));
}


static int
on_key(void *ctx, const unsigned char *text, size_t len)
{
    struct builder *b = ctx;

    if (memchr(text, '\0', len) != NULL)
        return 0;
    key_clear(b);
    b->key = len < sizeof(b->key_buf) ? b->key_buf : malloc(len + 1);
    if (b->key == NULL)
        return 0;
    memcpy(b->key, text, len);
    b->key[len] = '\0';
    b->key_len = len;
    return 1;
}


/* Adds a new array or object and makes it the innermost open value. */
static int
container_open(struct builder *b, json_t *container)
{
    if (container == NULL || b->depth == NESTING_MAX) {
        json_decref(container);
        return 0;
    }
    json_incref(container);
    if (!value_add(b, container)) {
        json_decref(container);
        return 0;
    }
    b->open[b->depth++] = container;
    return 1;
}


static int
container_close(void *ctx)
{
    struct builder *b = ctx;

    json_decref(b->open[--b->depth]);
    return 1;
}


static int
on_start_map(void *ctx)
{
    return container_open(ctx, json_object());
}


static int
on_start_array(void *ctx)
{
    return container_open(ctx, json_array());
}


static const yajl_callbacks builder_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_integer = on_integer,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = container_close,
    .yajl_start_array = on_start_array,
    .yajl_end_array = container_close,
};


/*
 * Returns nonzero when yajl reads `text` as jansson would. Three cases
 * differ, and they go to jansson. yajl decodes an escaped lone surrogate
 * (\ud800), which jansson rejects. yajl takes vertical tab and form feed
 * for white space. yajl also accepts a complete value followed by a
 * string that never closes, which leaves an odd count of unescaped
 * quotes.
 */
static int
yajl_suits(const char *text, size_t len)
{
    size_t quotes = 0;

    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\') {
            if (i + 1 < len && text[i + 1] == 'u')
                return 0;
            i++;                    /* the escaped character */
        } else if (text[i] == '"') {
            quotes++;
        } else if (text[i] == '\v' || text[i] == '\f') {
            return 0;
        }
    }
    return quotes % 2 == 0;
}


json_t *
stored_json_yajl_load(const char *text, size_t len)
{
    struct builder b = { 0 };
    yajl_handle parser;
    yajl_status status;

    if (!yajl_suits(text, len))
        return NULL;
    parser = yajl_alloc(&builder_callbacks, NULL, &b);
    if (parser == NULL)
        return NULL;
    status = yajl_parse(parser, (const unsigned char *)text, len);
    if (status == yajl_status_ok)
        status = yajl_complete_parse(parser);
    yajl_free(parser);
    while (b.depth > 0)
        json_decref(b.open[--b.depth]);
    key_clear(&b);
    if (status != yajl_status_ok) {
        json_decref(b.root);
        return NULL;
    }
    return b.root;
}


json_t *
stored_json_loadb(const char *text, size_t len)
{
    json_t *value = stored_json_yajl_load(text, len);

    if (value == NULL)
        value = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    return value;
}


json_t *
stored_json_load(const char *text)
{
    return stored_json_loadb(text, strlen(text));
}
