/*
 * The compiled form of a Mustache template, shared by the compiler
 * (mustache.c) and the renderer (mustache_render.c). Only those two files
 * include this header; everyone else sees struct mustache as opaque.
 *
 * A template compiles to one flat array of nodes. A section node is
 * followed by its children and records where they end, so rendering walks
 * the array with no tree of pointers to build or free.
 */
#ifndef CRIER_CORE_MUSTACHE_INTERNAL_H
#define CRIER_CORE_MUSTACHE_INTERNAL_H

#include <stddef.h>

#include "template/mustache.h"

/* Sections nested deeper than this in one template are a syntax error. */
#define MUSTACHE_MAX_NESTING        100

/* Partials nested deeper than this fail the render (recursion guard). */
#define MUSTACHE_MAX_PARTIAL_DEPTH  32

/* A set-delimiter tag may choose delimiters up to this many bytes long. */
#define MUSTACHE_MAX_DELIM          16

enum mustache_op {
    /* Copy `len` bytes at `str`. A text node never spans two lines. */
    MUSTACHE_TEXT,
    /*
     * A line of the source starts here. Writes the indentation of the
     * standalone partial being rendered, if any, so that every line of an
     * indented partial is indented, as the spec asks.
     */
    MUSTACHE_INDENT,
    /* Interpolate a name; `escape` is 1 for {{name}}. */
    MUSTACHE_VAR,
    /* {{#name}}: children run from the next node up to `end`. */
    MUSTACHE_SECTION,
    /* {{^name}}: as a section, rendered once when the value is falsy. */
    MUSTACHE_INVERTED,
    /*
     * {{>name}}: the name is at `str`. A standalone partial tag also has
     * `standalone` set and its indentation (`len` bytes at `aux`).
     */
    MUSTACHE_PARTIAL
};

struct mustache_node {
    unsigned char op;           /* enum mustache_op */
    unsigned char escape;       /* VAR: HTML-escape when asked to */
    unsigned char standalone;   /* PARTIAL: the tag stood on its own line */
    unsigned short nparts;      /* VAR, SECTION, INVERTED: 0 means "." */
    size_t str;                 /* offset in the pool, see the ops above */
    size_t len;
    size_t aux;
    size_t end;                 /* SECTION, INVERTED: first node after */
};

/*
 * A name with parts "a.b.c" is stored in the pool as "a\0b\0c\0", so a
 * lookup walks the parts without splitting at render time.
 */
struct mustache {
    struct mustache_node *nodes;
    size_t nnodes;
    char *pool;                 /* text, names and indentation */
    size_t pool_len;
};

#endif
