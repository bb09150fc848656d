/*
 * The parser's function calls: any(list, condition) and age_months(date).
 * Other names before '(' are rejected here, at parse time, never at
 * evaluation.
 */
#include <stdlib.h>

#include <crier/error.h>

#include "rules/expr_int.h"

/* Function names reserved for later parts, as docs/expressions.md lists. */
static const char *const planned_functions[] = {
    "all", "count", "now", "age_years", NULL
};


static int
function_is_planned(const struct expr_token *name)
{
    size_t i;

    for (i = 0; planned_functions[i] != NULL; i++) {
        if (expr_token_is_word(name, planned_functions[i])) {
            return 1;
        }
    }
    return 0;
}


/*
 * Parses one argument into the next child of `call`, and the ',' or ')'
 * after it, which `last` chooses. `usage` shows the call's form in the
 * message for a wrong number of arguments.
 */
static int
call_argument(struct expr_parser *p, struct expr *call, int last,
              const char *usage)
{
    enum expr_token_kind after = last ? EXPR_TOKEN_RPAREN
                                      : EXPR_TOKEN_COMMA;
    struct expr *argument = expr_parse_expression(p);

    if (argument == NULL) {
        return CRIER_EINVAL;
    }
    call->children[call->child_count++] = argument;

    if (p->token.kind != after) {
        expr_parser_fail(p, &p->token, "expected '%s' in %s",
                         last ? ")" : ",", usage);
        return CRIER_EINVAL;
    }
    return expr_parser_advance(p);
}


/* Allocates a call node for `count` arguments and moves past its '('. */
static struct expr *
call_open(struct expr_parser *p, enum expr_kind kind, size_t count)
{
    struct expr *call;

    if (expr_parser_enter(p) != 0) {
        return NULL;
    }
    call = expr_node_new(p, kind);
    if (call == NULL) {
        return NULL;
    }
    call->children = calloc(count, sizeof(*call->children));
    if (call->children == NULL) {
        expr_parser_fail(p, &p->token, "out of memory");
        expr_free(call);
        return NULL;
    }
    if (expr_parser_advance(p) != 0) {
        expr_free(call);
        return NULL;
    }
    return call;
}


/* Parses any(list, condition); bare names in the condition are fields of
 * the list's element. */
static struct expr *
parse_any(struct expr_parser *p, const struct expr_token *name)
{
    static const char usage[] = "any(list, condition)";
    struct expr *call;
    int rc;

    if (p->any_depth >= EXPR_ANY_MAX_NESTING) {
        expr_parser_fail(p, name, "any() is nested too deeply: more than "
                         "%d levels", EXPR_ANY_MAX_NESTING);
        return NULL;
    }
    call = call_open(p, EXPR_ANY, 2);
    if (call == NULL) {
        return NULL;
    }

    rc = call_argument(p, call, 0, usage);
    if (rc == 0) {
        p->any_depth++;
        rc = call_argument(p, call, 1, usage);
        p->any_depth--;
    }
    if (rc != 0) {
        expr_free(call);
        return NULL;
    }
    p->depth--;
    return call;
}


static struct expr *
parse_age_months(struct expr_parser *p)
{
    struct expr *call = call_open(p, EXPR_AGE_MONTHS, 1);

    if (call == NULL) {
        return NULL;
    }
    if (call_argument(p, call, 1, "age_months(date)") != 0) {
        expr_free(call);
        return NULL;
    }
    p->depth--;
    return call;
}


struct expr *
expr_parse_call(struct expr_parser *p, const struct expr_token *name)
{
    if (expr_token_is_word(name, "any")) {
        return parse_any(p, name);
    }
    if (expr_token_is_word(name, "age_months")) {
        return parse_age_months(p);
    }

    if (function_is_planned(name)) {
        expr_parser_fail(p, name, "function '%.*s' is not available yet",
                         (int) name->length, name->text);
    } else {
        expr_parser_fail(p, name, "unknown function '%.*s'",
                         (int) name->length, name->text);
    }
    return NULL;
}
