/*
 * The parser of the expression language: recursive descent over the
 * grammar in docs/expressions.md, one function per level, with literals
 * and fields in expr_primary.c. Recursion only happens through '(', '!'
 * and '[', and each of those counts against EXPR_MAX_DEPTH, so hostile
 * input cannot exhaust the stack. '&&' and '||' chains become one node
 * with many children, so their length adds no depth to the tree either.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "rules/expr_int.h"


int
expr_token_is_word(const struct expr_token *token, const char *word)
{
    return token->kind == EXPR_TOKEN_NAME
           && token->length == strlen(word)
           && memcmp(token->text, word, token->length) == 0;
}


const char *
expr_token_describe(const struct expr_token *token, char *buffer,
                    size_t size)
{
    int shortened = token->length > EXPR_QUOTE_MAX;
    int length = shortened ? EXPR_QUOTE_MAX : (int) token->length;
    const char *ellipsis = shortened ? "..." : "";

    if (token->kind == EXPR_TOKEN_END) {
        snprintf(buffer, size, "the end of the expression");
    } else if (token->kind == EXPR_TOKEN_STRING) {
        /* A string's text already has its quotes. */
        snprintf(buffer, size, "%.*s%s", length, token->text, ellipsis);
    } else {
        snprintf(buffer, size, "'%.*s%s'", length, token->text, ellipsis);
    }
    return buffer;
}


void
expr_parser_fail(struct expr_parser *p, const struct expr_token *at,
                 const char *format, ...)
{
    va_list ap;

    p->err->line = at->line;
    p->err->col = at->col;

    va_start(ap, format);
    vsnprintf(p->err->message, sizeof(p->err->message), format, ap);
    va_end(ap);
}


int
expr_parser_advance(struct expr_parser *p)
{
    p->previous.kind = p->token.kind;
    p->previous.text = p->token.text;
    p->previous.length = p->token.length;
    p->previous.line = p->token.line;
    p->previous.col = p->token.col;

    return expr_lexer_next(&p->lexer, &p->token);
}


int
expr_parser_enter(struct expr_parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) {
        expr_parser_fail(p, &p->token,
                         "expression is nested too deeply: more than %d "
                         "levels of '(', '!' or '['", EXPR_MAX_DEPTH);
        return CRIER_EINVAL;
    }
    return 0;
}


/*
 * Explains a token that cannot follow a complete operand when it is a
 * common slip: arithmetic other than adding a duration, or a word
 * written for an operator. Returns 1 when it filled the error.
 */
static int
parser_explain_operator(struct expr_parser *p)
{
    const struct expr_token *token = &p->token;

    if (token->kind == EXPR_TOKEN_ARITHMETIC
        && !(token->length == 1 && token->text[0] == '+'))
    {
        expr_parser_fail(p, token,
                         "arithmetic ('%.*s') is not available yet",
                         (int) token->length, token->text);
        return 1;
    }
    if (expr_token_is_word(token, "and")) {
        expr_parser_fail(p, token, "unknown operator 'and'; use '&&'");
        return 1;
    }
    if (expr_token_is_word(token, "or")) {
        expr_parser_fail(p, token, "unknown operator 'or'; use '||'");
        return 1;
    }
    return 0;
}


void
expr_parser_fail_value(struct expr_parser *p)
{
    char found[EXPR_QUOTE_MAX + 8];
    char after[EXPR_QUOTE_MAX + 8];

    if (expr_token_is_word(&p->token, "not")) {
        expr_parser_fail(p, &p->token, "unknown operator 'not'; use '!'");
        return;
    }
    if (parser_explain_operator(p)) {
        return;
    }
    expr_token_describe(&p->token, found, sizeof(found));
    if (p->previous.text == NULL) {
        expr_parser_fail(p, &p->token, "expected a value, found %s",
                         found);
        return;
    }
    expr_token_describe(&p->previous, after, sizeof(after));
    expr_parser_fail(p, &p->token, "expected a value after %s, found %s",
                     after, found);
}


struct expr *
expr_node_new(struct expr_parser *p, enum expr_kind kind)
{
    struct expr *node = calloc(1, sizeof(*node));

    if (node == NULL) {
        expr_parser_fail(p, &p->token, "out of memory");
        return NULL;
    }
    node->kind = kind;
    return node;
}


/* Appends `child` to `node`, or frees `child` when out of memory. */
static int
node_append(struct expr_parser *p, struct expr *node, struct expr *child)
{
    struct expr **children;

    children = realloc(node->children,
                       (node->child_count + 1) * sizeof(*children));
    if (children == NULL) {
        expr_free(child);
        expr_parser_fail(p, &p->token, "out of memory");
        return CRIER_ENOMEM;
    }
    node->children = children;
    node->children[node->child_count++] = child;
    return 0;
}


/* Builds a node of `kind` over two operands, and frees both on failure. */
static struct expr *
node_binary(struct expr_parser *p, enum expr_kind kind, struct expr *left,
            struct expr *right)
{
    struct expr *node = expr_node_new(p, kind);

    if (node == NULL) {
        expr_free(left);
        expr_free(right);
        return NULL;
    }
    if (node_append(p, node, left) != 0) {
        expr_free(right);
        expr_free(node);
        return NULL;
    }
    if (node_append(p, node, right) != 0) {
        expr_free(node);
        return NULL;
    }
    return node;
}


static struct expr *parse_or(struct expr_parser *p);


/* Parses a parenthesized expression, from its '('. */
static struct expr *
parse_group(struct expr_parser *p)
{
    struct expr_token open = p->token;
    char after[EXPR_QUOTE_MAX + 8];
    struct expr *inner;

    if (expr_parser_enter(p) != 0 || expr_parser_advance(p) != 0) {
        return NULL;
    }
    inner = parse_or(p);
    if (inner == NULL) {
        return NULL;
    }

    if (p->token.kind != EXPR_TOKEN_RPAREN) {
        if (!parser_explain_operator(p)) {
            expr_token_describe(&p->previous, after, sizeof(after));
            expr_parser_fail(p, &p->token,
                             "expected ')' after %s to close the '(' at "
                             "line %d, column %d", after, open.line,
                             open.col);
        }
        expr_free(inner);
        return NULL;
    }
    if (expr_parser_advance(p) != 0) {
        expr_free(inner);
        return NULL;
    }
    p->depth--;
    return inner;
}


struct expr *
expr_parse_expression(struct expr_parser *p)
{
    return parse_or(p);
}


static struct expr *
parse_primary(struct expr_parser *p)
{
    switch (p->token.kind) {
    case EXPR_TOKEN_NAME:
        return expr_parse_name(p);
    case EXPR_TOKEN_LPAREN:
        return parse_group(p);
    case EXPR_TOKEN_STRING:
    case EXPR_TOKEN_NUMBER:
    case EXPR_TOKEN_MINUS:
    case EXPR_TOKEN_LBRACKET:
        return expr_parse_literal(p);
    default:
        expr_parser_fail_value(p);
        return NULL;
    }
}


static struct expr *parse_unary(struct expr_parser *p);


/*
 * Parses `unary { ("+" | "-") duration }`: date and time arithmetic,
 * where the right side is always a literal duration such as 6 months.
 * A chain nests to the left, so its length is capped at EXPR_SHIFT_CHAIN
 * to keep evaluation from recursing deeply.
 */
static struct expr *
parse_additive(struct expr_parser *p)
{
    struct expr *node = parse_unary(p);
    struct expr *shift;
    struct expr_token sign;
    int links = 0;

    while (node != NULL
           && (p->token.kind == EXPR_TOKEN_MINUS
               || (p->token.kind == EXPR_TOKEN_ARITHMETIC
                   && p->token.text[0] == '+')))
    {
        sign = p->token;
        if (++links > EXPR_SHIFT_CHAIN) {
            expr_parser_fail(p, &sign, "more than %d durations added in "
                             "a row", EXPR_SHIFT_CHAIN);
            expr_free(node);
            return NULL;
        }
        if (expr_parser_advance(p) != 0) {
            expr_free(node);
            return NULL;
        }
        shift = expr_node_new(p, EXPR_SHIFT);
        if (shift == NULL || node_append(p, shift, node) != 0) {
            if (shift == NULL) {
                expr_free(node);
            }
            expr_free(shift);
            return NULL;
        }
        node = shift;
        if (expr_parse_shift(p, &sign, node) != 0) {
            expr_free(node);
            return NULL;
        }
    }
    return node;
}


static struct expr *
parse_unary(struct expr_parser *p)
{
    struct expr *node;
    struct expr *operand;

    if (p->token.kind != EXPR_TOKEN_NOT) {
        return parse_primary(p);
    }

    if (expr_parser_enter(p) != 0 || expr_parser_advance(p) != 0) {
        return NULL;
    }
    operand = parse_unary(p);
    if (operand == NULL) {
        return NULL;
    }
    p->depth--;

    node = expr_node_new(p, EXPR_NOT);
    if (node == NULL) {
        expr_free(operand);
        return NULL;
    }
    if (node_append(p, node, operand) != 0) {
        expr_free(node);
        return NULL;
    }
    return node;
}


/* Compiles the regular expression in the current STRING token. */
static int
parse_regex(struct expr_parser *p, struct expr *node)
{
    const json_t *pattern = p->token.value;
    PCRE2_UCHAR reason[120];
    PCRE2_SIZE offset;
    int code;

    node->regex = pcre2_compile((PCRE2_SPTR) json_string_value(pattern),
                                json_string_length(pattern),
                                PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &code,
                                &offset, NULL);
    if (node->regex == NULL) {
        pcre2_get_error_message(code, reason, sizeof(reason));
        expr_parser_fail(p, &p->token,
                         "invalid regular expression: %s (at offset %zu)",
                         (const char *) reason, (size_t) offset);
        return CRIER_EINVAL;
    }

    node->match_context = pcre2_match_context_create(NULL);
    if (node->match_context == NULL) {
        expr_parser_fail(p, &p->token, "out of memory");
        return CRIER_ENOMEM;
    }
    pcre2_set_match_limit(node->match_context, EXPR_MATCH_LIMIT);
    pcre2_set_depth_limit(node->match_context, EXPR_DEPTH_LIMIT);
    pcre2_set_heap_limit(node->match_context, EXPR_HEAP_LIMIT);
    return expr_parser_advance(p);
}


/* Parses `~ 'pattern'` after its left operand. */
static struct expr *
parse_match(struct expr_parser *p, struct expr *left)
{
    struct expr *node;

    if (expr_parser_advance(p) != 0) {
        expr_free(left);
        return NULL;
    }
    if (p->token.kind != EXPR_TOKEN_STRING) {
        expr_parser_fail(p, &p->token, "the right side of '~' must be "
                         "a quoted regular expression");
        expr_free(left);
        return NULL;
    }

    node = expr_node_new(p, EXPR_MATCH);
    if (node == NULL) {
        expr_free(left);
        return NULL;
    }
    if (node_append(p, node, left) != 0 || parse_regex(p, node) != 0) {
        expr_free(node);
        return NULL;
    }
    return node;
}


/* Parses `in` or `not in` and its right operand. */
static struct expr *
parse_in(struct expr_parser *p, struct expr *left)
{
    int negate = expr_token_is_word(&p->token, "not");
    struct expr *right;
    struct expr *node;

    if (expr_parser_advance(p) != 0) {
        expr_free(left);
        return NULL;
    }
    if (negate) {
        if (!expr_token_is_word(&p->token, "in")) {
            expr_parser_fail(p, &p->token, "expected 'in' after 'not'");
            expr_free(left);
            return NULL;
        }
        if (expr_parser_advance(p) != 0) {
            expr_free(left);
            return NULL;
        }
    }

    right = parse_unary(p);
    if (right == NULL) {
        expr_free(left);
        return NULL;
    }
    node = node_binary(p, EXPR_IN, left, right);
    if (node != NULL) {
        node->negate = negate;
    }
    return node;
}


/* Returns 1 when `token` is a comparison operator, and sets `*op`. */
static int
token_is_comparison(const struct expr_token *token, enum expr_compare *op)
{
    static const enum expr_compare ops[] = {
        [EXPR_TOKEN_EQ] = EXPR_EQ, [EXPR_TOKEN_NE] = EXPR_NE,
        [EXPR_TOKEN_LT] = EXPR_LT, [EXPR_TOKEN_LE] = EXPR_LE,
        [EXPR_TOKEN_GT] = EXPR_GT, [EXPR_TOKEN_GE] = EXPR_GE
    };

    if (token->kind >= EXPR_TOKEN_EQ && token->kind <= EXPR_TOKEN_GE) {
        *op = ops[token->kind];
        return 1;
    }
    return 0;
}


static struct expr *
parse_comparison(struct expr_parser *p)
{
    struct expr *left = parse_additive(p);
    struct expr *right;
    struct expr *node;
    enum expr_compare op;

    if (left == NULL) {
        return NULL;
    }

    if (token_is_comparison(&p->token, &op)) {
        if (expr_parser_advance(p) != 0) {
            expr_free(left);
            return NULL;
        }
        right = parse_additive(p);
        if (right == NULL) {
            expr_free(left);
            return NULL;
        }
        node = node_binary(p, EXPR_COMPARE, left, right);
        if (node != NULL) {
            node->op = op;
        }
    } else if (p->token.kind == EXPR_TOKEN_MATCH) {
        node = parse_match(p, left);
    } else if (expr_token_is_word(&p->token, "in")
               || expr_token_is_word(&p->token, "not"))
    {
        node = parse_in(p, left);
    } else {
        return left;
    }

    if (node != NULL
        && (token_is_comparison(&p->token, &op)
            || p->token.kind == EXPR_TOKEN_MATCH
            || expr_token_is_word(&p->token, "in")
            || expr_token_is_word(&p->token, "not")))
    {
        expr_parser_fail(p, &p->token, "comparisons cannot be chained; "
                         "join them with '&&'");
        expr_free(node);
        return NULL;
    }
    return node;
}


/* Parses a chain joined by '&&' (EXPR_AND) or '||' (EXPR_OR). */
static struct expr *
parse_logical(struct expr_parser *p, enum expr_kind kind)
{
    enum expr_token_kind joiner = kind == EXPR_OR ? EXPR_TOKEN_OR
                                                  : EXPR_TOKEN_AND;
    struct expr *operand;
    struct expr *node;

    operand = kind == EXPR_OR ? parse_logical(p, EXPR_AND)
                              : parse_comparison(p);
    if (operand == NULL || p->token.kind != joiner) {
        return operand;
    }

    node = expr_node_new(p, kind);
    if (node == NULL) {
        expr_free(operand);
        return NULL;
    }
    if (node_append(p, node, operand) != 0) {
        expr_free(node);
        return NULL;
    }

    while (p->token.kind == joiner) {
        if (expr_parser_advance(p) != 0) {
            expr_free(node);
            return NULL;
        }
        operand = kind == EXPR_OR ? parse_logical(p, EXPR_AND)
                                  : parse_comparison(p);
        if (operand == NULL || node_append(p, node, operand) != 0) {
            expr_free(node);
            return NULL;
        }
    }
    return node;
}


static struct expr *
parse_or(struct expr_parser *p)
{
    return parse_logical(p, EXPR_OR);
}


/* Fails on a token left over after a complete expression. */
static void
parser_fail_trailing(struct expr_parser *p)
{
    char found[EXPR_QUOTE_MAX + 8];
    char after[EXPR_QUOTE_MAX + 8];

    if (parser_explain_operator(p)) {
        return;
    }
    if (p->token.kind == EXPR_TOKEN_RPAREN) {
        expr_parser_fail(p, &p->token,
                         "unexpected ')' with no matching '('");
        return;
    }
    expr_token_describe(&p->token, found, sizeof(found));
    expr_token_describe(&p->previous, after, sizeof(after));
    expr_parser_fail(p, &p->token, "unexpected %s after %s; expected an "
                     "operator such as '==' or '&&'", found, after);
}


struct expr *
expr_parse(const char *src, struct expr_error *err)
{
    struct expr_error ignored;
    struct expr_parser p;
    struct expr *root = NULL;

    if (err == NULL) {
        err = &ignored;
    }
    memset(err, 0, sizeof(*err));
    if (src == NULL) {
        expr_error_set(err, 1, 1, "expression is missing");
        return NULL;
    }
    if (expr_source_check(src, err) != 0) {
        return NULL;
    }

    memset(&p, 0, sizeof(p));
    p.err = err;
    expr_lexer_init(&p.lexer, src, err);
    if (expr_parser_advance(&p) != 0) {
        goto done;
    }
    if (p.token.kind == EXPR_TOKEN_END) {
        expr_parser_fail(&p, &p.token, "expression is empty");
        goto done;
    }

    root = parse_or(&p);
    if (root != NULL && p.token.kind != EXPR_TOKEN_END) {
        parser_fail_trailing(&p);
        expr_free(root);
        root = NULL;
    }

done:
    expr_token_clear(&p.token);
    return root;
}


int
expr_reads_clock(const struct expr *e)
{
    if (e == NULL)
        return 0;
    /* A count() window slides with the clock, so a count can fall as
     * time passes with no new event. */
    if (e->kind == EXPR_AGE_MONTHS || e->kind == EXPR_COUNT ||
        e->kind == EXPR_NOW)
        return 1;
    for (size_t i = 0; i < e->child_count; i++)
        if (expr_reads_clock(e->children[i]))
            return 1;
    return 0;
}


void
expr_free(struct expr *e)
{
    size_t i;

    if (e == NULL) {
        return;
    }
    for (i = 0; i < e->child_count; i++) {
        expr_free(e->children[i]);
    }
    for (i = 0; i < e->segment_count; i++) {
        free(e->segments[i].name);
    }
    free(e->children);
    free(e->segments);
    json_decref(e->value);
    pcre2_code_free(e->regex);
    pcre2_match_context_free(e->match_context);
    free(e);
}
