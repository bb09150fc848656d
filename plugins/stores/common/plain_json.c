/*
 * A parser for plain JSON text: objects, arrays, integers, true, false,
 * null and strings of printable ASCII without escapes. Stored events and
 * profile maps whose strings are such ASCII and whose numbers are integers
 * are plain. json_loadb reads text one character at a time through several
 * calls, and under callgrind on bench/email its parse of the event body
 * took 21k of the 58k instructions that loading a claimed job cost. This
 * parser builds the same values with the same jansson calls in one pass,
 * in about a quarter of the instructions on the same bench.
 *
 * Text outside that subset, and text that is not JSON, returns NULL, and
 * the caller then parses it with json_loadb, which decides. So where this
 * parser returns a value, json_loadb with JSON_DECODE_ANY returns an equal
 * one: tests/unit/test_plain_json.c compares the two.
 */
#include <string.h>

#include "plain_json.h"

/* Deeper text is left to jansson, whose own limit is 2048 (jansson
 * 2.14, JSON_PARSER_MAX_DEPTH). */
#define PLAIN_DEPTH_MAX 32

/* The largest count of digits that always fits in a json_int_t. */
#define PLAIN_DIGITS_MAX 18

struct reader {
    const char *at;
    const char *end;
};

static json_t *value_read(struct reader *r, int depth);


static void
space_skip(struct reader *r)
{
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\n'
                              || *r->at == '\r' || *r->at == '\t'))
        r->at++;
}


/* Returns nonzero when the text at the reader starts with `word`. */
static int
word_match(struct reader *r, const char *word, size_t length)
{
    if ((size_t)(r->end - r->at) < length
        || memcmp(r->at, word, length) != 0)
        return 0;
    r->at += length;
    return 1;
}


/* Reads a string that opens at the reader and sets *start and *length to
 * its content. Returns -1 for an escape, a byte outside printable ASCII
 * or a string that does not close. */
static int
string_read(struct reader *r, const char **start, size_t *length)
{
    const char *p = r->at + 1;

    while (p < r->end && *p != '"') {
        unsigned char c = (unsigned char)*p;

        if (c < 0x20 || c > 0x7e || c == '\\')
            return -1;
        p++;
    }
    if (p == r->end)
        return -1;
    *start = r->at + 1;
    *length = (size_t)(p - *start);
    r->at = p + 1;
    return 0;
}


/* Reads an integer of at most PLAIN_DIGITS_MAX digits. Returns NULL for
 * a fraction, an exponent, a leading zero or a longer number. */
static json_t *
integer_read(struct reader *r)
{
    const char *p = r->at;
    json_int_t value = 0;
    int negative = 0;
    int digits = 0;

    if (*p == '-') {
        negative = 1;
        p++;
    }
    while (p < r->end && *p >= '0' && *p <= '9') {
        if (++digits > PLAIN_DIGITS_MAX)
            return NULL;
        value = value * 10 + (*p - '0');
        p++;
    }
    if (digits == 0 || (digits > 1 && p[-digits] == '0'))
        return NULL;
    if (p < r->end && (*p == '.' || *p == 'e' || *p == 'E'))
        return NULL;
    r->at = p;
    return json_integer(negative ? -value : value);
}


static json_t *
string_value_read(struct reader *r)
{
    const char *start;
    size_t length;

    if (string_read(r, &start, &length) < 0)
        return NULL;
    return json_stringn_nocheck(start, length);
}


/* Reads the members of an object whose '{' the reader is past. */
static json_t *
object_read(struct reader *r, int depth)
{
    json_t *object = json_object();
    const char *key;
    size_t length;
    json_t *value;

    space_skip(r);
    if (object != NULL && r->at < r->end && *r->at == '}') {
        r->at++;
        return object;
    }
    while (object != NULL) {
        if (r->at == r->end || *r->at != '"'
            || string_read(r, &key, &length) < 0)
            break;
        space_skip(r);
        if (r->at == r->end || *r->at != ':')
            break;
        r->at++;
        value = value_read(r, depth + 1);
        /* A repeated key replaces the value and keeps its place, as
         * jansson's parser does. */
        if (json_object_setn_new_nocheck(object, key, length, value) < 0)
            break;
        space_skip(r);
        if (r->at < r->end && *r->at == '}') {
            r->at++;
            return object;
        }
        if (r->at == r->end || *r->at != ',')
            break;
        r->at++;
        space_skip(r);
    }
    json_decref(object);
    return NULL;
}


/* Reads the items of an array whose '[' the reader is past. */
static json_t *
array_read(struct reader *r, int depth)
{
    json_t *array = json_array();

    space_skip(r);
    if (array != NULL && r->at < r->end && *r->at == ']') {
        r->at++;
        return array;
    }
    while (array != NULL) {
        if (json_array_append_new(array, value_read(r, depth + 1)) < 0)
            break;
        space_skip(r);
        if (r->at < r->end && *r->at == ']') {
            r->at++;
            return array;
        }
        if (r->at == r->end || *r->at != ',')
            break;
        r->at++;
    }
    json_decref(array);
    return NULL;
}


static json_t *
value_read(struct reader *r, int depth)
{
    space_skip(r);
    if (r->at == r->end || depth > PLAIN_DEPTH_MAX)
        return NULL;
    switch (*r->at) {
    case '{':
        r->at++;
        return object_read(r, depth);
    case '[':
        r->at++;
        return array_read(r, depth);
    case '"':
        return string_value_read(r);
    case 't':
        return word_match(r, "true", 4) ? json_true() : NULL;
    case 'f':
        return word_match(r, "false", 5) ? json_false() : NULL;
    case 'n':
        return word_match(r, "null", 4) ? json_null() : NULL;
    default:
        return integer_read(r);
    }
}


json_t *
plain_json_load(const char *text, size_t length)
{
    struct reader r = { text, text + length };
    json_t *value = value_read(&r, 0);

    space_skip(&r);
    if (value != NULL && r.at != r.end) {
        json_decref(value);
        return NULL;
    }
    return value;
}


json_t *
stored_json_load(const char *text)
{
    json_t *value = plain_json_load(text, strlen(text));

    if (value == NULL)
        value = json_loads(text, JSON_DECODE_ANY, NULL);
    return value;
}
