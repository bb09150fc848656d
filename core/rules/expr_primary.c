/*
 * The parser's primary expressions other than groups: literals, lists and
 * fields. expr_parse.c contains the operators and expr_call.c the
 * function calls.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "rules/expr_int.h"

/* Takes the value of the current token, which then owns none. */
static json_t *
parser_take_value(struct expr_parser *p)
{
    json_t *value = p->token.value;

    p->token.value = NULL;
    return value;
}


static json_t *parse_constant(struct expr_parser *p);


/* Parses the elements of a list literal, from its '['. */
static json_t *
parse_list(struct expr_parser *p)
{
    char after[EXPR_QUOTE_MAX + 8];
    json_t *list;
    json_t *element;

    if (expr_parser_enter(p) != 0) {
        return NULL;
    }
    list = json_array();
    if (list == NULL) {
        expr_parser_fail(p, &p->token, "out of memory");
        return NULL;
    }
    if (expr_parser_advance(p) != 0) {
        goto fail;
    }

    while (p->token.kind != EXPR_TOKEN_RBRACKET) {
        element = parse_constant(p);
        if (element == NULL) {
            goto fail;
        }
        if (json_array_append_new(list, element) != 0) {
            expr_parser_fail(p, &p->token, "out of memory");
            goto fail;
        }
        if (p->token.kind == EXPR_TOKEN_COMMA) {
            if (expr_parser_advance(p) != 0) {
                goto fail;
            }
        } else if (p->token.kind != EXPR_TOKEN_RBRACKET) {
            expr_token_describe(&p->previous, after, sizeof(after));
            expr_parser_fail(p, &p->token, "expected ',' or ']' after %s",
                             after);
            goto fail;
        }
    }

    if (expr_parser_advance(p) != 0) {
        goto fail;
    }
    p->depth--;
    return list;

fail:
    json_decref(list);
    return NULL;
}


/* Parses a number with the '-' in front of it. */
static json_t *
parse_negative(struct expr_parser *p)
{
    struct expr_token minus = p->token;
    json_t *number;
    json_t *negated;

    if (expr_parser_advance(p) != 0) {
        return NULL;
    }
    if (p->token.kind != EXPR_TOKEN_NUMBER) {
        expr_parser_fail(p, &minus, "'-' can only come before a number "
                         "here; subtract a duration after a value, such as "
                         "x - 2 weeks");
        return NULL;
    }

    number = parser_take_value(p);
    if (json_is_integer(number)) {
        negated = json_integer(-json_integer_value(number));
    } else {
        negated = json_real(-json_real_value(number));
    }
    json_decref(number);
    if (negated == NULL) {
        expr_parser_fail(p, &p->token, "out of memory");
        return NULL;
    }
    if (expr_parser_advance(p) != 0) {
        json_decref(negated);
        return NULL;
    }
    return negated;
}


/*
 * Parses a literal: a string, a number, true, false, null or a list.
 * Returns a new reference, or NULL with the error filled.
 */
static json_t *
parse_constant(struct expr_parser *p)
{
    json_t *value = NULL;

    switch (p->token.kind) {
    case EXPR_TOKEN_STRING:
    case EXPR_TOKEN_NUMBER:
        value = parser_take_value(p);
        break;
    case EXPR_TOKEN_MINUS:
        return parse_negative(p);
    case EXPR_TOKEN_LBRACKET:
        return parse_list(p);
    case EXPR_TOKEN_NAME:
        if (expr_token_is_word(&p->token, "true")) {
            value = json_true();
        } else if (expr_token_is_word(&p->token, "false")) {
            value = json_false();
        } else if (expr_token_is_word(&p->token, "null")) {
            value = json_null();
        }
        break;
    default:
        break;
    }

    if (value == NULL) {
        /* Only inside a list can any other token reach here. */
        if (p->token.kind == EXPR_TOKEN_NAME
            || p->token.kind == EXPR_TOKEN_LPAREN
            || p->token.kind == EXPR_TOKEN_NOT)
        {
            expr_parser_fail(p, &p->token, "list elements must be "
                             "literals: strings, numbers, true, false, null "
                             "or lists");
        } else {
            expr_parser_fail_value(p);
        }
        return NULL;
    }
    if (expr_parser_advance(p) != 0) {
        json_decref(value);
        return NULL;
    }
    return value;
}


/* Adds one step to a field's path. A NULL `name` means a list index. */
static int
field_append(struct expr_parser *p, struct expr *field, const char *name,
             size_t length, size_t index)
{
    struct expr_segment *segments;
    struct expr_segment *segment;

    segments = realloc(field->segments,
                       (field->segment_count + 1) * sizeof(*segments));
    if (segments == NULL) {
        expr_parser_fail(p, &p->token, "out of memory");
        return CRIER_ENOMEM;
    }
    field->segments = segments;
    segment = &segments[field->segment_count];
    segment->name = NULL;
    segment->index = index;

    if (name != NULL) {
        segment->name = strndup(name, length);
        if (segment->name == NULL) {
            expr_parser_fail(p, &p->token, "out of memory");
            return CRIER_ENOMEM;
        }
    }
    field->segment_count++;
    return 0;
}


/* Parses a bracketed step, ['key'] or [N], from its '['. */
static int
parse_field_bracket(struct expr_parser *p, struct expr *field)
{
    char after[EXPR_QUOTE_MAX + 8];
    const json_t *value;
    int rc;

    if (expr_parser_advance(p) != 0) {
        return CRIER_EINVAL;
    }

    value = p->token.value;
    if (p->token.kind == EXPR_TOKEN_STRING) {
        rc = field_append(p, field, json_string_value(value),
                          json_string_length(value), 0);
    } else if (p->token.kind == EXPR_TOKEN_NUMBER
               && json_is_integer(value))
    {
        rc = field_append(p, field, NULL, 0,
                          (size_t) json_integer_value(value));
    } else {
        expr_parser_fail(p, &p->token, "expected a quoted key or a list "
                         "index after '['");
        return CRIER_EINVAL;
    }
    if (rc != 0 || expr_parser_advance(p) != 0) {
        return CRIER_EINVAL;
    }

    if (p->token.kind != EXPR_TOKEN_RBRACKET) {
        expr_token_describe(&p->previous, after, sizeof(after));
        expr_parser_fail(p, &p->token, "expected ']' after %s", after);
        return CRIER_EINVAL;
    }
    return expr_parser_advance(p);
}


/*
 * Parses the steps of a field after its root, which is already read. A
 * bare name inside any() passes itself as `first`, the first step.
 */
static struct expr *
parse_field(struct expr_parser *p, enum expr_root root,
            const struct expr_token *first)
{
    struct expr *field = expr_node_new(p, EXPR_FIELD);
    int rc = 0;

    if (field == NULL) {
        return NULL;
    }
    field->root = root;
    if (first != NULL) {
        rc = field_append(p, field, first->text, first->length, 0);
    }

    while (rc == 0) {
        if (p->token.kind == EXPR_TOKEN_LBRACKET) {
            rc = parse_field_bracket(p, field);
            continue;
        }
        if (p->token.kind != EXPR_TOKEN_DOT) {
            return field;
        }

        rc = expr_parser_advance(p);
        if (rc != 0) {
            break;
        }
        if (p->token.kind != EXPR_TOKEN_NAME) {
            expr_parser_fail(p, &p->token,
                             "expected a field name after '.'");
            break;
        }
        rc = field_append(p, field, p->token.text, p->token.length, 0);
        if (rc == 0) {
            rc = expr_parser_advance(p);
        }
    }

    expr_free(field);
    return NULL;
}


struct expr *
expr_parse_literal(struct expr_parser *p)
{
    struct expr *node = expr_node_new(p, EXPR_CONSTANT);

    if (node != NULL && (node->value = parse_constant(p)) == NULL) {
        expr_free(node);
        return NULL;
    }
    return node;
}


struct expr *
expr_parse_name(struct expr_parser *p)
{
    struct expr_token name = p->token;
    size_t length;

    if (expr_token_is_word(&name, "true")
        || expr_token_is_word(&name, "false")
        || expr_token_is_word(&name, "null"))
    {
        return expr_parse_literal(p);
    }
    if (expr_token_is_word(&name, "in")
        || expr_token_is_word(&name, "not")
        || expr_token_is_word(&name, "and")
        || expr_token_is_word(&name, "or"))
    {
        expr_parser_fail_value(p);
        return NULL;
    }

    if (expr_parser_advance(p) != 0) {
        return NULL;
    }

    if (p->token.kind == EXPR_TOKEN_LPAREN) {
        return expr_parse_call(p, &name);
    }

    if (expr_token_is_word(&name, "event")) {
        return parse_field(p, EXPR_ROOT_EVENT, NULL);
    }
    if (expr_token_is_word(&name, "profile")) {
        return parse_field(p, EXPR_ROOT_PROFILE, NULL);
    }
    if (expr_token_is_word(&name, "case")) {
        return parse_field(p, EXPR_ROOT_CASE, NULL);
    }
    if (p->any_depth > 0) {
        return parse_field(p, EXPR_ROOT_ELEMENT, &name);
    }
    length = name.length > EXPR_QUOTE_MAX ? EXPR_QUOTE_MAX : name.length;
    expr_parser_fail(p, &name, "unknown name '%.*s'; a field starts with "
                     "event., profile. or case.", (int) length, name.text);
    return NULL;
}


