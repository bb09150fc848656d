/*
 * The parser's function calls: any(list, condition), age_months(date),
 * count(condition, window) and now(). Other names before '(' are rejected
 * here, at parse time, never at evaluation.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "rules/expr_int.h"

/* Function names reserved for later parts, as docs/expressions.md lists. */
static const char *const planned_functions[] = {
    "all", "age_years", NULL
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


/* Returns the length in ms of the elapsed unit `token` names, or 0 for
 * months, years and any other token. */
static int64_t
window_unit_ms(const struct expr_token *token)
{
    enum civil_unit unit;

    if (token->kind != EXPR_TOKEN_NAME || !expr_unit_lookup(token, &unit)) {
        return 0;
    }
    return expr_unit_ms(unit);
}


/* Rejects a window unit other than minutes to weeks, naming the fix. */
static void
window_unit_fail(struct expr_parser *p, const struct expr_token *unit)
{
    static const char *const calendar[] = {
        "month", "months", "year", "years", NULL
    };
    char found[EXPR_QUOTE_MAX + 32];

    for (size_t i = 0; calendar[i] != NULL; i++) {
        if (expr_token_is_word(unit, calendar[i])) {
            expr_parser_fail(p, unit, "a count() window cannot be in "
                             "months or years, which vary in length; "
                             "write days or weeks, such as 30 days");
            return;
        }
    }
    expr_parser_fail(p, unit, "expected a unit of the count() window "
                     "(minutes, hours, days or weeks), found %s",
                     expr_token_describe(unit, found, sizeof(found)));
}


/*
 * Parses the window of count(): a whole number of at least 1 and a
 * unit, such as `30 days`, no longer than EXPR_COUNT_MAX_WINDOW_MS.
 * Sets the call's window_ms.
 */
static int
parse_window(struct expr_parser *p, struct expr *call)
{
    struct expr_token number = p->token;
    char found[EXPR_QUOTE_MAX + 32];
    json_int_t amount;
    int64_t unit_ms;

    if (number.kind != EXPR_TOKEN_NUMBER) {
        expr_parser_fail(p, &number, "expected a window such as 30 days "
                         "in count(condition, window), found %s",
                         expr_token_describe(&number, found,
                                             sizeof(found)));
        return CRIER_EINVAL;
    }
    if (!json_is_integer(number.value)
        || json_integer_value(number.value) < 1)
    {
        expr_parser_fail(p, &number, "a count() window is a whole number "
                         "of at least 1 and a unit, such as 30 days");
        return CRIER_EINVAL;
    }
    amount = json_integer_value(number.value);
    if (expr_parser_advance(p) != 0) {
        return CRIER_EINVAL;
    }

    unit_ms = window_unit_ms(&p->token);
    if (unit_ms == 0) {
        window_unit_fail(p, &p->token);
        return CRIER_EINVAL;
    }
    if (amount > EXPR_COUNT_MAX_WINDOW_MS / unit_ms) {
        expr_parser_fail(p, &number, "a count() window is at most 366 "
                         "days");
        return CRIER_EINVAL;
    }
    call->window_ms = (int64_t) amount * unit_ms;
    return expr_parser_advance(p);
}


/*
 * Parses count(condition, window). In the condition, `event` is a past
 * event, and neither a bare name (any()'s element) nor another count()
 * is allowed, so the condition reads one event and one profile.
 */
static struct expr *
parse_count(struct expr_parser *p, const struct expr_token *name)
{
    static const char usage[] = "count(condition, window)";
    int any_depth = p->any_depth;
    struct expr *call;
    int rc;

    if (p->count_depth > 0) {
        expr_parser_fail(p, name, "count() cannot be nested in the "
                         "condition of another count()");
        return NULL;
    }
    call = call_open(p, EXPR_COUNT, 1);
    if (call == NULL) {
        return NULL;
    }

    p->count_depth++;
    p->any_depth = 0;
    call->children[0] = expr_parse_expression(p);
    p->any_depth = any_depth;
    p->count_depth--;
    if (call->children[0] == NULL) {
        expr_free(call);
        return NULL;
    }
    call->child_count = 1;

    /* A window is required: counting all of history has no bound. */
    if (p->token.kind == EXPR_TOKEN_RPAREN) {
        expr_parser_fail(p, &p->token, "count() needs a window after the "
                         "condition, such as count(condition, 30 days)");
        rc = CRIER_EINVAL;
    } else if (p->token.kind != EXPR_TOKEN_COMMA) {
        expr_parser_fail(p, &p->token, "expected ',' in %s", usage);
        rc = CRIER_EINVAL;
    } else {
        rc = expr_parser_advance(p);
    }
    if (rc == 0) {
        rc = parse_window(p, call);
    }
    if (rc == 0 && p->token.kind != EXPR_TOKEN_RPAREN) {
        expr_parser_fail(p, &p->token, "expected ')' after the window in "
                         "%s", usage);
        rc = CRIER_EINVAL;
    }
    if (rc == 0) {
        rc = expr_parser_advance(p);
    }
    if (rc != 0) {
        expr_free(call);
        return NULL;
    }
    p->depth--;
    return call;
}


/* Parses now(), which takes no argument. */
static struct expr *
parse_now(struct expr_parser *p)
{
    struct expr *call;

    if (expr_parser_advance(p) != 0) {
        return NULL;
    }
    if (p->token.kind != EXPR_TOKEN_RPAREN) {
        expr_parser_fail(p, &p->token, "now() takes no arguments");
        return NULL;
    }
    call = expr_node_new(p, EXPR_NOW);
    if (call != NULL && expr_parser_advance(p) != 0) {
        expr_free(call);
        return NULL;
    }
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
    if (expr_token_is_word(name, "count")) {
        return parse_count(p, name);
    }
    if (expr_token_is_word(name, "now")) {
        return parse_now(p);
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
