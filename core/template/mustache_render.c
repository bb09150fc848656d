/*
 * The Mustache renderer: walks a compiled node array against a stack of
 * jansson values and appends to one growing buffer.
 *
 * Data rules (the spec leaves some to the implementation):
 *   - falsy: a missing name, null, false and the empty array; everything
 *     else, "" and 0 and {} included, is truthy;
 *   - an array section renders once per element, any other truthy value
 *     renders once with that value pushed on the context stack;
 *   - integers interpolate without decimals, and reals in the shortest
 *     form that reads back to the same double ("1.21", "0.1", "1e+300");
 *   - true and false interpolate as "true" and "false", while null,
 *     objects and arrays interpolate as nothing.
 *
 * Partials are compiled the first time a render needs them and reused for
 * the rest of that render, so a partial inside a long list costs one
 * compilation. They are not kept across renders, because the callback may
 * return different sources for different calls.
 *
 * NOTE: so each render compiles every partial it uses once more. Partials
 * are small and compile in microseconds; if that ever shows in a profile,
 * mustache.h needs a way to pass compiled partials in.
 */
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/mustache_internal.h"

struct partial_entry {
    char *name;
    struct mustache *t;         /* NULL: the callback has no such partial */
};

struct render {
    char *buf;
    size_t len;
    size_t cap;
    const json_t **ctx;         /* the context stack, top last */
    size_t nctx;
    size_t ctx_cap;
    mustache_partial_fn partials;
    void *arg;
    int escape;
    struct partial_entry *cache;
    size_t ncache;
    size_t cache_cap;
    int partial_depth;
    struct mustache_error *err;
};


static int
render_error(struct render *r, int line, int col, const char *fmt, ...)
{
    va_list ap;

    if (r->err != NULL) {
        r->err->line = line;
        r->err->col = col;
        va_start(ap, fmt);
        vsnprintf(r->err->message, sizeof(r->err->message), fmt, ap);
        va_end(ap);
    }
    return -1;
}


static int
grow(struct render *r, size_t more)
{
    size_t cap;
    char *p;

    if (r->cap - r->len > more) {
        return 0;
    }
    cap = r->cap ? r->cap : 256;
    while (cap - r->len <= more) {
        if (cap > ((size_t) -1) / 2) {
            return render_error(r, 0, 0, "out of memory");
        }
        cap *= 2;
    }
    p = realloc(r->buf, cap);
    if (p == NULL) {
        return render_error(r, 0, 0, "out of memory");
    }
    r->buf = p;
    r->cap = cap;
    return 0;
}


static int
append(struct render *r, const char *s, size_t len)
{
    if (len == 0) {
        return 0;
    }
    if (grow(r, len) < 0) {
        return -1;
    }
    memcpy(r->buf + r->len, s, len);
    r->len += len;
    return 0;
}


static int
append_escaped(struct render *r, const char *s, size_t len)
{
    size_t i;
    size_t from = 0;

    for (i = 0; i < len; i++) {
        const char *rep;

        switch (s[i]) {
        case '&':  rep = "&amp;";  break;
        case '<':  rep = "&lt;";   break;
        case '>':  rep = "&gt;";   break;
        case '"':  rep = "&quot;"; break;
        case '\'': rep = "&#39;";  break;
        default:   continue;
        }
        if (append(r, s + from, i - from) < 0
            || append(r, rep, strlen(rep)) < 0)
        {
            return -1;
        }
        from = i + 1;
    }
    return append(r, s + from, len - from);
}


/* Whole numbers up to this print as digits, because a double represents
 * each whole number up to 2^53 exactly. */
#define WHOLE_DIGITS_MAX 9007199254740992.0

/* Formats a double in the shortest form that reads back the same, and a
 * whole number as digits, which %g would write as 1e+02. */
static void
format_real(double d, char *out, size_t size)
{
    int prec;
    char *p;

    if (fabs(d) <= WHOLE_DIGITS_MAX && d == (double)(long long)d) {
        snprintf(out, size, "%.0f", d);
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d) {
            break;
        }
    }

    /*
     * %g writes only digits, signs, 'e' and the decimal point. Under a
     * locale with a decimal comma, put the point back.
     */
    for (p = out; *p != '\0'; p++) {
        if (strchr("0123456789+-e", *p) == NULL) {
            *p = '.';
        }
    }
}


static int
interpolate(struct render *r, const json_t *v, int escape)
{
    char num[64];
    const char *s;
    size_t len;

    if (v == NULL) {
        return 0;
    }
    switch (json_typeof(v)) {
    case JSON_STRING:
        s = json_string_value(v);
        len = json_string_length(v);
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        s = num;
        len = strlen(num);
        break;
    case JSON_REAL:
        format_real(json_real_value(v), num, sizeof(num));
        s = num;
        len = strlen(num);
        break;
    case JSON_TRUE:
        s = "true";
        len = 4;
        break;
    case JSON_FALSE:
        s = "false";
        len = 5;
        break;
    default:
        return 0;
    }
    return escape ? append_escaped(r, s, len) : append(r, s, len);
}


static int
push_ctx(struct render *r, const json_t *v)
{
    if (r->nctx == r->ctx_cap) {
        size_t cap = r->ctx_cap ? r->ctx_cap * 2 : 16;
        const json_t **p = realloc(r->ctx, cap * sizeof(*p));

        if (p == NULL) {
            return render_error(r, 0, 0, "out of memory");
        }
        r->ctx = p;
        r->ctx_cap = cap;
    }
    r->ctx[r->nctx++] = v;
    return 0;
}


/*
 * Resolves a name as the spec describes. "." is the top of the stack.
 * Otherwise the first part is looked up from the top of the stack down,
 * and the remaining parts only inside what the first part found.
 */
static const json_t *
lookup(const struct render *r, const struct mustache *t,
       const struct mustache_node *n)
{
    const char *part;
    const json_t *v = NULL;
    size_t i;
    unsigned k;

    /* A template whose only names are "." has no string pool at all. */
    if (n->nparts == 0) {
        return r->nctx > 0 ? r->ctx[r->nctx - 1] : NULL;
    }
    part = t->pool + n->str;
    for (i = r->nctx; i-- > 0;) {
        if (json_is_object(r->ctx[i])) {
            v = json_object_get(r->ctx[i], part);
            if (v != NULL) {
                break;
            }
        }
    }
    for (k = 1; v != NULL && k < n->nparts; k++) {
        part += strlen(part) + 1;
        v = json_is_object(v) ? json_object_get(v, part) : NULL;
    }
    return v;
}


static int
truthy(const json_t *v)
{
    if (v == NULL || json_is_null(v) || json_is_false(v)) {
        return 0;
    }
    return !json_is_array(v) || json_array_size(v) > 0;
}


/*
 * Returns the compiled partial `name` in *out (NULL when the callback has
 * none), compiling it on first use in this render. -1 on a syntax error
 * in the partial or out of memory.
 */
static int
get_partial(struct render *r, const char *name, struct mustache **out)
{
    struct mustache_error perr;
    struct partial_entry *e;
    const char *src;
    size_t i;

    for (i = 0; i < r->ncache; i++) {
        if (strcmp(r->cache[i].name, name) == 0) {
            *out = r->cache[i].t;
            return 0;
        }
    }

    if (r->ncache == r->cache_cap) {
        size_t cap = r->cache_cap ? r->cache_cap * 2 : 8;
        struct partial_entry *p = realloc(r->cache, cap * sizeof(*p));

        if (p == NULL) {
            return render_error(r, 0, 0, "out of memory");
        }
        r->cache = p;
        r->cache_cap = cap;
    }
    e = &r->cache[r->ncache];
    e->name = strdup(name);
    if (e->name == NULL) {
        return render_error(r, 0, 0, "out of memory");
    }
    e->t = NULL;
    r->ncache++;

    src = r->partials != NULL ? r->partials(r->arg, name) : NULL;
    if (src != NULL) {
        e->t = mustache_compile(src, strlen(src), &perr);
        if (e->t == NULL) {
            return render_error(r, perr.line, perr.col,
                                "in partial '%.40s': %.110s", name,
                                perr.message);
        }
    }
    *out = e->t;
    return 0;
}


static int render_nodes(struct render *r, const struct mustache *t,
                        size_t from, size_t to, const char *indent,
                        size_t indent_len);


static int
render_partial(struct render *r, const struct mustache *t,
               const struct mustache_node *n, const char *indent,
               size_t indent_len)
{
    const char *name = t->pool + n->str;
    struct mustache *pt = NULL;
    char *own = NULL;
    const char *ind = NULL;
    size_t ind_len = 0;
    int rc;

    if (get_partial(r, name, &pt) < 0) {
        return -1;
    }
    if (pt == NULL) {
        return 0;
    }
    if (r->partial_depth == MUSTACHE_MAX_PARTIAL_DEPTH) {
        return render_error(r, 0, 0, "partials nested deeper than %d "
                            "levels (at partial '%.40s'); is a partial "
                            "including itself?", MUSTACHE_MAX_PARTIAL_DEPTH,
                            name);
    }

    /*
     * A standalone partial indents each of its lines by the whitespace
     * before its tag, added to the indentation of the partial it is in.
     * An inline partial is not indented at all.
     */
    if (n->standalone) {
        ind_len = indent_len + n->len;
        if (n->len == 0) {
            ind = indent;
        } else if (indent_len == 0) {
            ind = t->pool + n->aux;
        } else {
            own = malloc(ind_len);
            if (own == NULL) {
                return render_error(r, 0, 0, "out of memory");
            }
            memcpy(own, indent, indent_len);
            memcpy(own + indent_len, t->pool + n->aux, n->len);
            ind = own;
        }
    }

    r->partial_depth++;
    rc = render_nodes(r, pt, 0, pt->nnodes, ind, ind_len);
    r->partial_depth--;
    free(own);
    return rc;
}


static int
render_section(struct render *r, const struct mustache *t, size_t i,
               const char *indent, size_t indent_len)
{
    const struct mustache_node *n = &t->nodes[i];
    const json_t *v = lookup(r, t, n);
    size_t k;

    if (n->op == MUSTACHE_INVERTED) {
        return truthy(v) ? 0 : render_nodes(r, t, i + 1, n->end, indent,
                                            indent_len);
    }
    if (!truthy(v)) {
        return 0;
    }
    if (!json_is_array(v)) {
        if (push_ctx(r, v) < 0
            || render_nodes(r, t, i + 1, n->end, indent, indent_len) < 0)
        {
            return -1;
        }
        r->nctx--;
        return 0;
    }
    for (k = 0; k < json_array_size(v); k++) {
        if (push_ctx(r, json_array_get(v, k)) < 0
            || render_nodes(r, t, i + 1, n->end, indent, indent_len) < 0)
        {
            return -1;
        }
        r->nctx--;
    }
    return 0;
}


static int
render_nodes(struct render *r, const struct mustache *t, size_t from,
             size_t to, const char *indent, size_t indent_len)
{
    size_t i = from;

    while (i < to) {
        const struct mustache_node *n = &t->nodes[i];
        int rc = 0;

        switch ((enum mustache_op) n->op) {
        case MUSTACHE_TEXT:
            rc = append(r, t->pool + n->str, n->len);
            break;
        case MUSTACHE_INDENT:
            rc = append(r, indent, indent_len);
            break;
        case MUSTACHE_VAR:
            rc = interpolate(r, lookup(r, t, n), n->escape && r->escape);
            break;
        case MUSTACHE_SECTION:
        case MUSTACHE_INVERTED:
            if (render_section(r, t, i, indent, indent_len) < 0) {
                return -1;
            }
            i = n->end;
            continue;
        case MUSTACHE_PARTIAL:
            rc = render_partial(r, t, n, indent, indent_len);
            break;
        }
        if (rc < 0) {
            return -1;
        }
        i++;
    }
    return 0;
}


char *
mustache_render(const struct mustache *t, const json_t *data,
                mustache_partial_fn partials, void *arg, int escape_html,
                size_t *len, struct mustache_error *err)
{
    struct render r;
    size_t i;
    int rc;

    memset(&r, 0, sizeof(r));
    r.partials = partials;
    r.arg = arg;
    r.escape = escape_html;
    r.err = err;

    if (t == NULL) {
        render_error(&r, 0, 0, "no template to render");
        return NULL;
    }
    rc = data != NULL ? push_ctx(&r, data) : 0;
    if (rc == 0) {
        rc = render_nodes(&r, t, 0, t->nnodes, NULL, 0);
    }
    if (rc == 0) {
        rc = grow(&r, 1);
    }

    for (i = 0; i < r.ncache; i++) {
        free(r.cache[i].name);
        mustache_free(r.cache[i].t);
    }
    free(r.cache);
    free(r.ctx);
    if (rc < 0) {
        free(r.buf);
        return NULL;
    }

    r.buf[r.len] = '\0';
    if (len != NULL) {
        *len = r.len;
    }
    return r.buf;
}
