/*
 * Durations of the expression language, such as `6 months`: the windows
 * of count() and the right side of `+` and `-` on dates and times. Both
 * use this one table of units.
 */
#include <crier/error.h>

#include "rules/expr_int.h"

static const struct {
    const char *name;
    enum civil_unit unit;
} unit_names[] = {
    { "minute", CIVIL_MINUTES }, { "minutes", CIVIL_MINUTES },
    { "hour", CIVIL_HOURS }, { "hours", CIVIL_HOURS },
    { "day", CIVIL_DAYS }, { "days", CIVIL_DAYS },
    { "week", CIVIL_WEEKS }, { "weeks", CIVIL_WEEKS },
    { "month", CIVIL_MONTHS }, { "months", CIVIL_MONTHS },
    { "year", CIVIL_YEARS }, { "years", CIVIL_YEARS },
    { NULL, CIVIL_MINUTES }
};


int
expr_unit_lookup(const struct expr_token *token, enum civil_unit *unit)
{
    for (size_t i = 0; unit_names[i].name != NULL; i++) {
        if (expr_token_is_word(token, unit_names[i].name)) {
            *unit = unit_names[i].unit;
            return 1;
        }
    }
    return 0;
}


int64_t
expr_unit_ms(enum civil_unit unit)
{
    switch (unit) {
    case CIVIL_MINUTES:
        return 60LL * 1000;
    case CIVIL_HOURS:
        return 3600LL * 1000;
    case CIVIL_DAYS:
        return 86400LL * 1000;
    case CIVIL_WEEKS:
        return 7 * 86400LL * 1000;
    default:
        return 0;
    }
}


/*
 * Parses the duration after `+` or `-`, whose token is `sign`: a whole
 * number of at least 0 and a unit. Sets the node's shift_amount, negated
 * for `-`, and shift_unit.
 */
int
expr_parse_shift(struct expr_parser *p, const struct expr_token *sign,
                 struct expr *node)
{
    struct expr_token number = p->token;
    char found[EXPR_QUOTE_MAX + 32];
    int subtract = sign->kind == EXPR_TOKEN_MINUS;

    if (number.kind != EXPR_TOKEN_NUMBER) {
        expr_parser_fail(p, &number, "expected a duration such as 6 months "
                         "after '%c', found %s", subtract ? '-' : '+',
                         expr_token_describe(&number, found,
                                             sizeof(found)));
        return CRIER_EINVAL;
    }
    if (!json_is_integer(number.value)
        || json_integer_value(number.value) < 0
        || json_integer_value(number.value) > EXPR_SHIFT_MAX)
    {
        expr_parser_fail(p, &number, "a duration is a whole number from 0 "
                         "to %d and a unit, such as 6 months",
                         EXPR_SHIFT_MAX);
        return CRIER_EINVAL;
    }
    node->shift_amount = json_integer_value(number.value);
    if (subtract) {
        node->shift_amount = -node->shift_amount;
    }
    if (expr_parser_advance(p) != 0) {
        return CRIER_EINVAL;
    }

    if (p->token.kind != EXPR_TOKEN_NAME
        || !expr_unit_lookup(&p->token, &node->shift_unit))
    {
        expr_parser_fail(p, &p->token, "expected a unit of the duration "
                         "(minutes, hours, days, weeks, months or years), "
                         "found %s", expr_token_describe(&p->token, found,
                                                         sizeof(found)));
        return CRIER_EINVAL;
    }
    return expr_parser_advance(p);
}
