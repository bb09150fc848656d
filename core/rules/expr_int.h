/*
 * Internals of the expression language, shared by the lexer, the parser
 * and the evaluator. docs/expressions.md is the language reference.
 */
#ifndef CRIER_CORE_EXPR_INT_H
#define CRIER_CORE_EXPR_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <pcre2.h>

#include "rules/expr.h"
#include "time/civil.h"

#define EXPR_MAX_LENGTH 4096        /* bytes of source */
#define EXPR_MAX_DEPTH 64           /* nested '(', '!' and '[' */
#define EXPR_MATCH_LIMIT 100000     /* PCRE2 match limit, in steps */
#define EXPR_DEPTH_LIMIT 10000      /* PCRE2 backtracking depth limit */
#define EXPR_HEAP_LIMIT 8192        /* PCRE2 heap limit, in KiB */
#define EXPR_QUOTE_MAX 40           /* bytes of source a message quotes */
#define EXPR_ANY_MAX_ELEMENTS 1000  /* elements of a list any() examines */
#define EXPR_ANY_MAX_NESTING 2      /* any() inside the condition of any() */
#define EXPR_COUNT_MAX_WINDOW_MS (366LL * 24 * 3600 * 1000)  /* 366 days */
#define EXPR_SHIFT_MAX 1000000      /* the number of a `+ N unit` */
#define EXPR_SHIFT_CHAIN 16         /* durations added in a row */

enum expr_token_kind {
    EXPR_TOKEN_END,
    EXPR_TOKEN_NAME,
    EXPR_TOKEN_STRING,
    EXPR_TOKEN_NUMBER,
    EXPR_TOKEN_LPAREN,
    EXPR_TOKEN_RPAREN,
    EXPR_TOKEN_LBRACKET,
    EXPR_TOKEN_RBRACKET,
    EXPR_TOKEN_DOT,
    EXPR_TOKEN_COMMA,
    EXPR_TOKEN_EQ,
    EXPR_TOKEN_NE,
    EXPR_TOKEN_LT,
    EXPR_TOKEN_LE,
    EXPR_TOKEN_GT,
    EXPR_TOKEN_GE,
    EXPR_TOKEN_AND,
    EXPR_TOKEN_OR,
    EXPR_TOKEN_NOT,
    EXPR_TOKEN_MATCH,
    EXPR_TOKEN_MINUS,
    EXPR_TOKEN_ARITHMETIC           /* '+', '*', '/' or '%' */
};

struct expr_token {
    enum expr_token_kind kind;
    const char *text;               /* the token in the source */
    size_t length;
    int line;
    int col;
    json_t *value;                  /* owned, for STRING and NUMBER only */
};

struct expr_lexer {
    const char *src;
    size_t pos;                     /* byte offset of the next character */
    int line;
    int col;
    struct expr_error *err;
};

enum expr_kind {
    EXPR_CONSTANT,                  /* value */
    EXPR_FIELD,                     /* root and segments */
    EXPR_NOT,                       /* children[0] */
    EXPR_AND,                       /* children[0 .. child_count) */
    EXPR_OR,
    EXPR_COMPARE,                   /* children[0] op children[1] */
    EXPR_IN,                        /* children[0] in children[1] */
    EXPR_MATCH,                     /* children[0] ~ regex */
    EXPR_ANY,                       /* any(children[0], children[1]) */
    EXPR_AGE_MONTHS,                /* age_months(children[0]) */
    EXPR_COUNT,                     /* count(children[0], window_ms) */
    EXPR_SHIFT,                     /* children[0] + shift_amount unit */
    EXPR_NOW                        /* now() */
};

enum expr_compare {
    EXPR_EQ,
    EXPR_NE,
    EXPR_LT,
    EXPR_LE,
    EXPR_GT,
    EXPR_GE
};

enum expr_root {
    EXPR_ROOT_EVENT,
    EXPR_ROOT_PROFILE,
    EXPR_ROOT_CASE,
    EXPR_ROOT_ELEMENT               /* a bare name inside any() */
};

/* One step of a field path: a member name, or a list index when NULL. */
struct expr_segment {
    char *name;
    size_t index;
};

/* A node of the parsed tree; the root node is the whole expression. */
struct expr {
    enum expr_kind kind;
    enum expr_compare op;
    int negate;                     /* EXPR_IN written as `not in` */
    json_t *value;
    enum expr_root root;
    struct expr_segment *segments;
    size_t segment_count;
    struct expr **children;
    size_t child_count;
    pcre2_code *regex;
    pcre2_match_context *match_context;
    int64_t window_ms;              /* EXPR_COUNT: the window's length */
    int64_t shift_amount;           /* EXPR_SHIFT: negative for '-' */
    enum civil_unit shift_unit;
};

/* The parser's state, shared by expr_parse.c and expr_primary.c. */
struct expr_parser {
    struct expr_lexer lexer;
    struct expr_token token;        /* the current token */
    struct expr_token previous;     /* text and place only, no value */
    int depth;                      /* levels of '(', '!' and '[' open */
    int any_depth;                  /* conditions of any() open */
    int count_depth;                /* conditions of count() open */
    struct expr_error *err;
};

/* Starts lexing `src`, which must be valid UTF-8 and NUL-terminated. */
void expr_lexer_init(struct expr_lexer *lexer, const char *src,
                     struct expr_error *err);

/*
 * Reads the next token into `token`. Returns 0, or CRIER_EINVAL or
 * CRIER_ENOMEM with the lexer's error filled.
 */
int expr_lexer_next(struct expr_lexer *lexer, struct expr_token *token);

/* Frees the value a token owns, if any. */
void expr_token_clear(struct expr_token *token);

/*
 * Checks that `src` is valid UTF-8 and fits EXPR_MAX_LENGTH. Returns 0 or
 * CRIER_EINVAL with `err` filled.
 */
int expr_source_check(const char *src, struct expr_error *err);

/* Fills `err` with a message at `line` and `col`, as printf formats it. */
void expr_error_set(struct expr_error *err, int line, int col,
                    const char *format, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns 1 when `token` is the name `word`, such as a keyword. */
int expr_token_is_word(const struct expr_token *token, const char *word);

/*
 * Writes how a message names `token` into `buffer` and returns it: the
 * token's text in quotes, or "the end of the expression".
 */
const char *expr_token_describe(const struct expr_token *token,
                                char *buffer, size_t size);

/* Fills the parser's error with a message at the place of `at`. */
void expr_parser_fail(struct expr_parser *p, const struct expr_token *at,
                      const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails on the current token, where a value must start. */
void expr_parser_fail_value(struct expr_parser *p);

/* Moves to the next token. Returns 0 or a negative CRIER_E* code. */
int expr_parser_advance(struct expr_parser *p);

/*
 * Counts one more level of nesting. Returns 0, or CRIER_EINVAL past
 * EXPR_MAX_DEPTH. The caller decrements `depth` when the level closes.
 */
int expr_parser_enter(struct expr_parser *p);

/* Allocates a node of `kind`, or returns NULL with the error filled. */
struct expr *expr_node_new(struct expr_parser *p, enum expr_kind kind);

/* Parses a literal from its first token into a constant node. */
struct expr *expr_parse_literal(struct expr_parser *p);

/*
 * Parses a primary that starts with a name: true, false, null, a field
 * or a function call. Inside the condition of any(), a name that is not
 * a root is a field of the list's element.
 */
struct expr *expr_parse_name(struct expr_parser *p);

/*
 * The state of one evaluation: the context, the list element that bare
 * names read inside any(), the past event that `event` reads inside
 * count() (NULL elsewhere), and the values that functions computed,
 * which live until the evaluation ends.
 */
struct expr_scope {
    const json_t *ctx;
    const json_t *element;
    json_t *computed;
    const json_t *event;
};

/*
 * Parses a whole expression from the current token, up to a token that
 * no operator takes, such as ')' or ','.
 */
struct expr *expr_parse_expression(struct expr_parser *p);

/*
 * Parses a function call whose name is `name` and whose '(' is the
 * current token. Unknown and planned functions fail here.
 */
struct expr *expr_parse_call(struct expr_parser *p,
                             const struct expr_token *name);

/*
 * Returns the field's value in the scope: borrowed, json_null() when
 * absent.
 */
const json_t *expr_field_resolve(const struct expr *field,
                                 const struct expr_scope *scope);

/* Returns a node's value as a borrowed reference, never NULL. */
const json_t *expr_eval_borrowed(const struct expr *e,
                                 const struct expr_scope *scope);

/* Evaluates any(list, condition) as a boolean. */
int expr_any_test(const struct expr *e, const struct expr_scope *scope);

/* Evaluates age_months(date): a borrowed integer, or json_null(). */
const json_t *expr_age_months(const struct expr *e,
                              const struct expr_scope *scope);

/* Evaluates count(condition, window): a borrowed integer. */
const json_t *expr_count(const struct expr *e,
                         const struct expr_scope *scope);

/* Returns 1 when `token` names a duration unit, such as `months`, and
 * sets `*unit`. */
int expr_unit_lookup(const struct expr_token *token, enum civil_unit *unit);

/* Returns the length of an elapsed unit (minutes to weeks) in ms, or 0
 * for months and years, whose length varies. */
int64_t expr_unit_ms(enum civil_unit unit);

/*
 * Parses the duration after the `+` or `-` token `sign` into the shift
 * of `node`. Returns 0 or CRIER_EINVAL with the parser's error filled.
 */
int expr_parse_shift(struct expr_parser *p, const struct expr_token *sign,
                     struct expr *node);

/* Evaluates `value + duration`: a borrowed date string, instant or null. */
const json_t *expr_shift(const struct expr *e,
                         const struct expr_scope *scope);

/* Evaluates now(): the context's "now", borrowed, or json_null(). */
const json_t *expr_now(const struct expr_scope *scope);

/*
 * Orders a date string against an instant (ms), with the date read as
 * 00:00 of its day in the profile's zone. Returns 1 and sets `*order`
 * (negative, zero or positive, as strcmp does) when one side is a date
 * and the other an integer, else 0.
 */
int expr_date_instant_order(const json_t *a, const json_t *b,
                            const struct expr_scope *scope, int *order);

/* Returns 1 when `value` is truthy, as docs/expressions.md defines it. */
int expr_value_truthy(const json_t *value);

#endif
