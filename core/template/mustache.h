/*
 * A Mustache engine: the spec's required modules (interpolation, sections,
 * inverted sections, comments, partials, set delimiters), over jansson
 * values.
 *
 * Not supported: lambdas (jansson has no functions), and the optional
 * modules (template inheritance: {{<parent}} and {{$block}} are syntax
 * errors; dynamic partial names).
 *
 * Data rules where the spec leaves a choice: null, false, the empty array
 * and a missing name are falsy; "", 0 and {} are truthy. Integers
 * interpolate without decimals, reals in the shortest form that reads back
 * the same ("1.21"), true and false as "true" and "false"; null, objects
 * and arrays interpolate as nothing.
 */
#ifndef CRIER_CORE_MUSTACHE_H
#define CRIER_CORE_MUSTACHE_H

#include <stddef.h>

#include <jansson.h>

struct mustache;

/*
 * Where a template is wrong: 1-based line and column in its source (the
 * column counts UTF-8 characters). Both are 0 when the error is not about
 * a place (out of memory, partials nested too deep).
 */
struct mustache_error {
    int line;
    int col;
    char message[160];
};

/*
 * Returns the source of partial `name`, NUL-terminated, or NULL when there
 * is none (the partial then renders as nothing, as the spec says). The
 * string must stay valid until mustache_render returns.
 */
typedef const char *(*mustache_partial_fn)(void *arg, const char *name);

/*
 * Compiles `src` (`len` bytes, need not be NUL-terminated); NULL on a
 * syntax error, with `err` filled. Sections nest at most 100 deep. The
 * result does not point into `src`; free it with mustache_free.
 */
struct mustache *mustache_compile(const char *src, size_t len,
                                  struct mustache_error *err);

/*
 * Renders `t` with `data` as the root context. `escape_html` chooses
 * whether {{name}} escapes (&, <, >, ", '); {{{name}}} and {{&name}} never
 * do. Returns a NUL-terminated string allocated with malloc (its length in
 * *len when len is not NULL), or NULL with `err` filled (a broken partial,
 * partials nested too deep). For a broken partial, line and col are in
 * the partial's source and the message names the partial.
 *
 * `data` may be NULL (every name is then missing). `partials` may be NULL
 * (no partials). Partials nest at most 32 deep, which stops a partial that
 * includes itself. Each partial is compiled on first use in a render and
 * reused within it. A compiled template is never changed by rendering, so
 * several threads may render it at once.
 */
char *mustache_render(const struct mustache *t, const json_t *data,
                      mustache_partial_fn partials, void *arg,
                      int escape_html, size_t *len,
                      struct mustache_error *err);

void mustache_free(struct mustache *t);

#endif
