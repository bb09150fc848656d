/*
 * The evaluator of the expression language. Literals and fields are
 * borrowed from the tree and the context, and operators return jansson's
 * true and false singletons. It allocates only the PCRE2 match data and
 * the values that functions compute, which the scope keeps.
 */
#define _GNU_SOURCE                 /* memmem */

#include <string.h>

#include "rules/expr_int.h"

static int values_equal(const json_t *a, const json_t *b);


int
expr_value_truthy(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    case JSON_INTEGER:
        return json_integer_value(value) != 0;
    case JSON_REAL:
        return json_real_value(value) != 0.0;
    case JSON_STRING:
        return json_string_length(value) != 0;
    case JSON_ARRAY:
        return json_array_size(value) != 0;
    case JSON_OBJECT:
        return json_object_size(value) != 0;
    }
    return 0;
}


/* Compares two numbers: negative, zero or positive, as strcmp does. */
static int
numbers_compare(const json_t *a, const json_t *b)
{
    json_int_t ia;
    json_int_t ib;
    double da;
    double db;

    /* Two integers compare exactly, even past 2^53. */
    if (json_is_integer(a) && json_is_integer(b)) {
        ia = json_integer_value(a);
        ib = json_integer_value(b);
        return (ia > ib) - (ia < ib);
    }
    da = json_number_value(a);
    db = json_number_value(b);
    return (da > db) - (da < db);
}


/* Compares two strings by bytes, which for UTF-8 is code point order. */
static int
strings_compare(const json_t *a, const json_t *b)
{
    size_t la = json_string_length(a);
    size_t lb = json_string_length(b);
    int order = memcmp(json_string_value(a), json_string_value(b),
                       la < lb ? la : lb);

    if (order != 0) {
        return order;
    }
    return (la > lb) - (la < lb);
}


static int
arrays_equal(const json_t *a, const json_t *b)
{
    size_t i;

    if (json_array_size(a) != json_array_size(b)) {
        return 0;
    }
    for (i = 0; i < json_array_size(a); i++) {
        if (!values_equal(json_array_get(a, i), json_array_get(b, i))) {
            return 0;
        }
    }
    return 1;
}


static int
objects_equal(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *value;

    if (json_object_size(a) != json_object_size(b)) {
        return 0;
    }
    json_object_foreach((json_t *) a, key, value) {
        if (!values_equal(value, json_object_get(b, key))) {
            return 0;
        }
    }
    return 1;
}


/* Applies `==`: same type and same value, with 1 equal to 1.0. */
static int
values_equal(const json_t *a, const json_t *b)
{
    if (a == NULL || b == NULL) {
        return 0;
    }
    if (json_is_number(a) && json_is_number(b)) {
        return numbers_compare(a, b) == 0;
    }
    if (json_typeof(a) != json_typeof(b)) {
        return 0;
    }

    switch (json_typeof(a)) {
    case JSON_STRING:
        return strings_compare(a, b) == 0;
    case JSON_ARRAY:
        return arrays_equal(a, b);
    case JSON_OBJECT:
        return objects_equal(a, b);
    default:
        /* null, true and false: the same type is the same value. */
        return 1;
    }
}


/* Applies a comparison operator to an order from strcmp's convention. */
static int
order_test(int order, enum expr_compare op)
{
    switch (op) {
    case EXPR_EQ:
        return order == 0;
    case EXPR_NE:
        return order != 0;
    case EXPR_LT:
        return order < 0;
    case EXPR_LE:
        return order <= 0;
    case EXPR_GT:
        return order > 0;
    default:
        return order >= 0;
    }
}


/*
 * Applies an ordering operator. Only two numbers or two strings have an
 * order, and every other pair gives false.
 */
static int
values_ordered(const json_t *a, const json_t *b, enum expr_compare op)
{
    int order;

    if (json_is_number(a) && json_is_number(b)) {
        order = numbers_compare(a, b);
    } else if (json_is_string(a) && json_is_string(b)) {
        order = strings_compare(a, b);
    } else {
        return 0;
    }

    return order_test(order, op);
}


static int
compare_test(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *left = expr_eval_borrowed(e->children[0], scope);
    const json_t *right = expr_eval_borrowed(e->children[1], scope);
    int order;

    /* A date against an instant is the one pair of different types that
     * compares: the date stands for 00:00 of its day. */
    if (expr_date_instant_order(left, right, scope, &order)) {
        return order_test(order, e->op);
    }

    switch (e->op) {
    case EXPR_EQ:
        return values_equal(left, right);
    case EXPR_NE:
        return !values_equal(left, right);
    default:
        return values_ordered(left, right, e->op);
    }
}


/* Applies `in`: an element of a list, or a substring of a string. */
static int
in_test(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *needle = expr_eval_borrowed(e->children[0], scope);
    const json_t *haystack = expr_eval_borrowed(e->children[1], scope);
    const json_t *element;
    size_t i;

    if (json_is_array(haystack)) {
        json_array_foreach(haystack, i, element) {
            if (values_equal(needle, element)) {
                return 1;
            }
        }
        return 0;
    }

    if (json_is_string(haystack) && json_is_string(needle)) {
        if (json_string_length(needle) == 0) {
            return 1;
        }
        return memmem(json_string_value(haystack),
                      json_string_length(haystack),
                      json_string_value(needle),
                      json_string_length(needle)) != NULL;
    }
    return 0;
}


/*
 * Applies `~`. Every outcome but a match is false: no match, a non-string
 * subject, a match limit hit, and no memory for the match data.
 */
static int
match_test(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *subject = expr_eval_borrowed(e->children[0], scope);
    pcre2_match_data *match_data;
    int rc;

    if (!json_is_string(subject)) {
        return 0;
    }

    /* Match data is allocated per call, so several threads can evaluate
     * one tree at once. */
    match_data = pcre2_match_data_create(1, NULL);
    if (match_data == NULL) {
        return 0;
    }

    /* NOTE: a match that hits a limit is neither logged nor counted, so a
     * rule whose pattern always hits it fails silently. */
    rc = pcre2_match(e->regex, (PCRE2_SPTR) json_string_value(subject),
                     json_string_length(subject), 0, 0, match_data,
                     e->match_context);
    pcre2_match_data_free(match_data);
    return rc >= 0;
}


/* Evaluates a node that gives a boolean: every kind but a literal, a
 * field or a function that gives a value. */
static int
eval_test(const struct expr *e, const struct expr_scope *scope)
{
    const json_t *value;
    size_t i;

    switch (e->kind) {
    case EXPR_NOT:
        value = expr_eval_borrowed(e->children[0], scope);
        return !expr_value_truthy(value);
    case EXPR_AND:
        for (i = 0; i < e->child_count; i++) {
            value = expr_eval_borrowed(e->children[i], scope);
            if (!expr_value_truthy(value)) {
                return 0;
            }
        }
        return 1;
    case EXPR_OR:
        for (i = 0; i < e->child_count; i++) {
            value = expr_eval_borrowed(e->children[i], scope);
            if (expr_value_truthy(value)) {
                return 1;
            }
        }
        return 0;
    case EXPR_COMPARE:
        return compare_test(e, scope);
    case EXPR_IN:
        return in_test(e, scope) != e->negate;
    case EXPR_MATCH:
        return match_test(e, scope);
    case EXPR_ANY:
        return expr_any_test(e, scope);
    default:
        return expr_value_truthy(expr_eval_borrowed(e, scope));
    }
}


const json_t *
expr_eval_borrowed(const struct expr *e, const struct expr_scope *scope)
{
    switch (e->kind) {
    case EXPR_CONSTANT:
        return e->value;
    case EXPR_FIELD:
        return expr_field_resolve(e, scope);
    case EXPR_AGE_MONTHS:
        return expr_age_months(e, scope);
    case EXPR_COUNT:
        return expr_count(e, scope);
    case EXPR_SHIFT:
        return expr_shift(e, scope);
    case EXPR_NOW:
        return expr_now(scope);
    default:
        return json_boolean(eval_test(e, scope));
    }
}


json_t *
expr_eval(const struct expr *e, const json_t *ctx)
{
    struct expr_scope scope = { ctx, NULL, json_array(), NULL };
    json_t *value;

    if (scope.computed == NULL) {
        return NULL;
    }
    value = (json_t *) expr_eval_borrowed(e, &scope);

    /* A copy keeps the caller from changing a literal of the tree. A field
     * value is shared with `ctx`, which the caller owns anyway, and a
     * computed value outlives the scope by its new reference. */
    if (e->kind == EXPR_CONSTANT) {
        value = json_deep_copy(value);
    } else {
        value = json_incref(value);
    }
    json_decref(scope.computed);
    return value;
}


int
expr_test(const struct expr *e, const json_t *ctx)
{
    struct expr_scope scope = { ctx, NULL, json_array(), NULL };
    int result;

    /* Without memory for computed values, every function gives null. */
    result = eval_test(e, &scope);
    json_decref(scope.computed);
    return result;
}
