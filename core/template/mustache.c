/*
 * The Mustache compiler: source text to the flat node array described in
 * mustache_internal.h. Rendering is in mustache_render.c.
 *
 * The compiler scans for the opening delimiter, reads one tag at a time
 * and decides whether the tag is standalone (alone on its line apart from
 * spaces and tabs). The spec removes the whole line of a standalone
 * section, inverted section, closing tag, comment, partial or
 * set-delimiter tag. Interpolation tags are never standalone.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/mustache_internal.h"

struct open_section {
    size_t node;                /* index of the SECTION/INVERTED node */
    size_t tag;                 /* offset of its tag, for messages */
    const char *name;           /* its name in the source */
    size_t name_len;
};

struct compiler {
    const char *src;
    size_t len;
    char otag[MUSTACHE_MAX_DELIM + 1];
    size_t olen;
    char ctag[MUSTACHE_MAX_DELIM + 1];
    size_t clen;
    struct mustache_node *nodes;
    size_t nnodes;
    size_t nodes_cap;
    char *pool;
    size_t pool_len;
    size_t pool_cap;
    struct open_section open[MUSTACHE_MAX_NESTING];
    int depth;
    int bol;                    /* nothing emitted yet on this line */
    struct mustache_error *err;
};

/* One tag, as read from the source. */
struct tag {
    size_t start;               /* offset of the opening delimiter */
    size_t end;                 /* offset just after the closing one */
    char sigil;                 /* '#', '^', '/', '!', '>', '=', '{', '&' */
    const char *body;           /* the content, whitespace trimmed */
    size_t body_len;
};


/* Fills in the 1-based line and column (in characters) of `off`. */
static void
locate(const char *src, size_t off, int *line, int *col)
{
    size_t i;
    int l = 1;
    int c = 1;

    for (i = 0; i < off; i++) {
        if (src[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char) src[i] & 0xC0) != 0x80) {
            /* Count UTF-8 lead bytes only, so "é" is one column. */
            c++;
        }
    }
    *line = l;
    *col = c;
}


static void
compile_error(struct compiler *c, size_t off, const char *fmt, ...)
{
    va_list ap;

    if (c->err == NULL) {
        return;
    }
    locate(c->src, off, &c->err->line, &c->err->col);
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
}


static void
oom_error(struct compiler *c)
{
    if (c->err != NULL) {
        c->err->line = 0;
        c->err->col = 0;
        snprintf(c->err->message, sizeof(c->err->message), "out of memory");
    }
}


static struct mustache_node *
push_node(struct compiler *c, enum mustache_op op)
{
    struct mustache_node *n;

    if (c->nnodes == c->nodes_cap) {
        size_t cap = c->nodes_cap ? c->nodes_cap * 2 : 32;
        struct mustache_node *p = realloc(c->nodes, cap * sizeof(*p));

        if (p == NULL) {
            oom_error(c);
            return NULL;
        }
        c->nodes = p;
        c->nodes_cap = cap;
    }
    n = &c->nodes[c->nnodes++];
    memset(n, 0, sizeof(*n));
    n->op = (unsigned char) op;
    return n;
}


/* Copies `len` bytes into the pool. Returns their offset, or -1. */
static long long
pool_add(struct compiler *c, const char *s, size_t len, int nul)
{
    size_t need = c->pool_len + len + (nul ? 1 : 0);
    size_t off = c->pool_len;

    if (need > c->pool_cap) {
        size_t cap = c->pool_cap ? c->pool_cap : 256;
        char *p;

        while (cap < need) {
            cap *= 2;
        }
        p = realloc(c->pool, cap);
        if (p == NULL) {
            oom_error(c);
            return -1;
        }
        c->pool = p;
        c->pool_cap = cap;
    }
    memcpy(c->pool + off, s, len);
    if (nul) {
        c->pool[off + len] = '\0';
    }
    c->pool_len = need;
    return (long long) off;
}


/* Marks the start of a line that produces output, once per line. */
static int
emit_bol(struct compiler *c)
{
    if (!c->bol) {
        return 0;
    }
    c->bol = 0;
    return push_node(c, MUSTACHE_INDENT) == NULL ? -1 : 0;
}


/* Emits source bytes [from, to) as text nodes, one per line. */
static int
emit_text(struct compiler *c, size_t from, size_t to)
{
    while (from < to) {
        const char *nl = memchr(c->src + from, '\n', to - from);
        size_t stop = nl ? (size_t) (nl - c->src) + 1 : to;
        struct mustache_node *n;
        long long off;

        if (emit_bol(c) < 0) {
            return -1;
        }
        off = pool_add(c, c->src + from, stop - from, 0);
        if (off < 0 || (n = push_node(c, MUSTACHE_TEXT)) == NULL) {
            return -1;
        }
        n->str = (size_t) off;
        n->len = stop - from;
        if (nl != NULL) {
            c->bol = 1;
        }
        from = stop;
    }
    return 0;
}


static int
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'
           || ch == '\v' || ch == '\f';
}


/* Finds `needle` (len >= 1) in `hay`, as memmem does without _GNU_SOURCE. */
static const char *
find(const char *hay, size_t hay_len, const char *needle, size_t len)
{
    const char *end = hay + hay_len;
    const char *p = hay;

    while ((size_t) (end - p) >= len) {
        p = memchr(p, needle[0], (size_t) (end - p) - len + 1);
        if (p == NULL) {
            return NULL;
        }
        if (memcmp(p, needle, len) == 0) {
            return p;
        }
        p++;
    }
    return NULL;
}


/*
 * Reads the tag that starts at `start`. Returns 0, or -1 with the error
 * set when the tag is never closed or is of a kind crier does not support.
 */
static int
read_tag(struct compiler *c, size_t start, struct tag *t)
{
    size_t p = start + c->olen;
    char close[MUSTACHE_MAX_DELIM + 2];
    size_t close_len;
    const char *hit;
    const char *b;
    const char *e;

    /* The sigil may follow padding: "{{ #name }}" opens a section. */
    while (p < c->len && (c->src[p] == ' ' || c->src[p] == '\t')) {
        p++;
    }
    t->start = start;
    t->sigil = p < c->len ? c->src[p] : '\0';
    switch (t->sigil) {
    case '#': case '^': case '/': case '!': case '>': case '=': case '{':
    case '&':
        p++;
        break;
    case '<': case '$':
        compile_error(c, start, "parent and block tags (template "
                      "inheritance) are not supported");
        return -1;
    default:
        t->sigil = '\0';
        break;
    }

    /* A triple mustache ends with "}" and a set-delimiter tag with "=". */
    close_len = 0;
    if (t->sigil == '{' || t->sigil == '=') {
        close[close_len++] = t->sigil == '{' ? '}' : '=';
    }
    memcpy(close + close_len, c->ctag, c->clen);
    close_len += c->clen;
    hit = find(c->src + p, c->len - p, close, close_len);
    if (hit == NULL) {
        compile_error(c, start, "tag opened with '%s' is never closed "
                      "with '%.*s'", c->otag, (int) close_len, close);
        return -1;
    }
    t->end = (size_t) (hit - c->src) + close_len;

    b = c->src + p;
    e = hit;
    while (b < e && is_space(*b)) {
        b++;
    }
    while (e > b && is_space(e[-1])) {
        e--;
    }
    t->body = b;
    t->body_len = (size_t) (e - b);
    return 0;
}


/*
 * Decides whether a tag of a standalone kind is alone on its line. If so,
 * sets `*line_start` to where its line begins and `*next` to where the
 * following line begins (or the end of the source).
 */
static int
standalone(const struct compiler *c, const struct tag *t,
           size_t *line_start, size_t *next)
{
    size_t i = t->start;
    size_t j = t->end;

    while (i > 0 && (c->src[i - 1] == ' ' || c->src[i - 1] == '\t')) {
        i--;
    }
    if (i > 0 && c->src[i - 1] != '\n') {
        return 0;
    }
    while (j < c->len && (c->src[j] == ' ' || c->src[j] == '\t')) {
        j++;
    }
    if (j == c->len) {
        *next = j;
    } else if (c->src[j] == '\n') {
        *next = j + 1;
    } else if (c->src[j] == '\r' && j + 1 < c->len
               && c->src[j + 1] == '\n')
    {
        *next = j + 2;
    } else {
        return 0;
    }
    *line_start = i;
    return 1;
}


/*
 * Checks a name and stores it in the pool as NUL-separated parts. "." is
 * the implicit iterator and has no parts. With `dotted` 0 (partials) the
 * whole name is one part.
 */
static int
add_name(struct compiler *c, const struct tag *t, int dotted,
         struct mustache_node *n)
{
    size_t i;
    size_t parts = 1;
    long long off;

    if (t->body_len == 0) {
        compile_error(c, t->start, "empty tag");
        return -1;
    }
    for (i = 0; i < t->body_len; i++) {
        if (is_space(t->body[i])) {
            compile_error(c, t->start, "invalid name '%.*s': names "
                          "cannot contain spaces", (int) (t->body_len > 60
                          ? 60 : t->body_len), t->body);
            return -1;
        }
    }
    if (dotted && t->body_len == 1 && t->body[0] == '.') {
        n->nparts = 0;
        return 0;
    }
    if (dotted) {
        for (i = 0; i < t->body_len; i++) {
            if (t->body[i] != '.') {
                continue;
            }
            if (i == 0 || i + 1 == t->body_len || t->body[i + 1] == '.') {
                compile_error(c, t->start, "invalid name '%.*s': empty "
                              "part in a dotted name", (int) (t->body_len
                              > 60 ? 60 : t->body_len), t->body);
                return -1;
            }
            parts++;
        }
        if (parts > 0xFFFF) {
            compile_error(c, t->start, "name has too many parts");
            return -1;
        }
    }

    off = pool_add(c, t->body, t->body_len, 1);
    if (off < 0) {
        return -1;
    }
    if (dotted) {
        for (i = 0; i < t->body_len; i++) {
            if (c->pool[off + i] == '.') {
                c->pool[off + i] = '\0';
            }
        }
    }
    n->str = (size_t) off;
    n->len = t->body_len;
    n->nparts = (unsigned short) parts;
    return 0;
}


/* Applies "{{=<% %>=}}": the body is "<% %>" (trimmed, "=" removed). */
static int
set_delimiters(struct compiler *c, const struct tag *t)
{
    const char *p = t->body;
    const char *end = t->body + t->body_len;
    const char *o = p;
    size_t olen;
    const char *cl;
    size_t clen;

    while (p < end && !is_space(*p)) {
        p++;
    }
    olen = (size_t) (p - o);
    while (p < end && is_space(*p)) {
        p++;
    }
    cl = p;
    while (p < end && !is_space(*p)) {
        p++;
    }
    clen = (size_t) (p - cl);
    if (olen == 0 || clen == 0 || p != end) {
        compile_error(c, t->start, "a set-delimiter tag needs exactly two "
                      "delimiters, as in {{=<%% %%>=}}");
        return -1;
    }
    if (olen > MUSTACHE_MAX_DELIM || clen > MUSTACHE_MAX_DELIM) {
        compile_error(c, t->start, "delimiters are limited to %d bytes",
                      MUSTACHE_MAX_DELIM);
        return -1;
    }
    memcpy(c->otag, o, olen);
    c->otag[olen] = '\0';
    c->olen = olen;
    memcpy(c->ctag, cl, clen);
    c->ctag[clen] = '\0';
    c->clen = clen;
    return 0;
}


static int
open_section(struct compiler *c, const struct tag *t)
{
    struct mustache_node *n;
    struct open_section *s;

    if (c->depth == MUSTACHE_MAX_NESTING) {
        compile_error(c, t->start, "sections nested deeper than %d levels",
                      MUSTACHE_MAX_NESTING);
        return -1;
    }
    n = push_node(c, t->sigil == '#' ? MUSTACHE_SECTION
                                     : MUSTACHE_INVERTED);
    if (n == NULL || add_name(c, t, 1, n) < 0) {
        return -1;
    }
    s = &c->open[c->depth++];
    s->node = c->nnodes - 1;
    s->tag = t->start;
    s->name = t->body;
    s->name_len = t->body_len;
    return 0;
}


static int
close_section(struct compiler *c, const struct tag *t)
{
    struct open_section *s;
    int line;
    int col;
    int name_shown = (int) (t->body_len > 40 ? 40 : t->body_len);

    if (t->body_len == 0) {
        compile_error(c, t->start, "empty closing tag");
        return -1;
    }
    if (c->depth == 0) {
        compile_error(c, t->start, "closing tag '%.*s' has no open "
                      "section", name_shown, t->body);
        return -1;
    }
    s = &c->open[c->depth - 1];
    if (s->name_len != t->body_len
        || memcmp(s->name, t->body, t->body_len) != 0)
    {
        locate(c->src, s->tag, &line, &col);
        compile_error(c, t->start, "closing tag '%.*s' does not match "
                      "section '%.*s' opened at line %d, col %d",
                      name_shown,
                      t->body, (int) (s->name_len > 40 ? 40 : s->name_len),
                      s->name, line, col);
        return -1;
    }
    c->nodes[s->node].end = c->nnodes;
    c->depth--;
    return 0;
}


/* Adds the node for one tag. Standalone tags also pass their indentation. */
static int
handle_tag(struct compiler *c, const struct tag *t, int is_standalone,
           size_t indent_from, size_t indent_len)
{
    struct mustache_node *n;
    long long off;

    switch (t->sigil) {
    case '!':
        return 0;
    case '=':
        return set_delimiters(c, t);
    case '#':
    case '^':
        return open_section(c, t);
    case '/':
        return close_section(c, t);
    case '>':
        n = push_node(c, MUSTACHE_PARTIAL);
        if (n == NULL || add_name(c, t, 0, n) < 0) {
            return -1;
        }
        n->standalone = (unsigned char) is_standalone;
        n->len = 0;
        if (is_standalone && indent_len > 0) {
            off = pool_add(c, c->src + indent_from, indent_len, 0);
            if (off < 0) {
                return -1;
            }
            n->aux = (size_t) off;
            n->len = indent_len;
        }
        return 0;
    default:
        n = push_node(c, MUSTACHE_VAR);
        if (n == NULL || add_name(c, t, 1, n) < 0) {
            return -1;
        }
        n->escape = t->sigil == '\0';
        return 0;
    }
}


static int
compile(struct compiler *c)
{
    size_t pos = 0;

    for (;;) {
        const char *hit = find(c->src + pos, c->len - pos, c->otag,
                               c->olen);
        struct tag t;
        size_t line_start;
        size_t next;
        int can_stand;

        if (hit == NULL) {
            return emit_text(c, pos, c->len);
        }
        if (read_tag(c, (size_t) (hit - c->src), &t) < 0) {
            return -1;
        }

        /* Interpolation tags never stand alone; every other kind can. */
        can_stand = t.sigil != '\0' && t.sigil != '{' && t.sigil != '&';
        if (can_stand && standalone(c, &t, &line_start, &next)) {
            if (emit_text(c, pos, line_start) < 0
                || handle_tag(c, &t, 1, line_start,
                              t.start - line_start) < 0)
            {
                return -1;
            }
            pos = next;
            c->bol = 1;
            continue;
        }

        if (emit_text(c, pos, t.start) < 0 || emit_bol(c) < 0
            || handle_tag(c, &t, 0, 0, 0) < 0)
        {
            return -1;
        }
        pos = t.end;
    }
}


struct mustache *
mustache_compile(const char *src, size_t len, struct mustache_error *err)
{
    struct compiler c;
    struct mustache *t;

    memset(&c, 0, sizeof(c));
    c.src = src != NULL ? src : "";
    c.len = src != NULL ? len : 0;
    memcpy(c.otag, "{{", 3);
    c.olen = 2;
    memcpy(c.ctag, "}}", 3);
    c.clen = 2;
    c.bol = 1;
    c.err = err;

    if (compile(&c) < 0) {
        goto fail;
    }
    if (c.depth > 0) {
        const struct open_section *s = &c.open[c.depth - 1];

        compile_error(&c, s->tag, "section '%.*s' is never closed",
                      (int) (s->name_len > 60 ? 60 : s->name_len),
                      s->name);
        goto fail;
    }

    t = malloc(sizeof(*t));
    if (t == NULL) {
        oom_error(&c);
        goto fail;
    }
    t->nodes = c.nodes;
    t->nnodes = c.nnodes;
    t->pool = c.pool;
    t->pool_len = c.pool_len;
    return t;

fail:
    free(c.nodes);
    free(c.pool);
    return NULL;
}


void
mustache_free(struct mustache *t)
{
    if (t == NULL) {
        return;
    }
    free(t->nodes);
    free(t->pool);
    free(t);
}
