/*
 * Fuzzes the rule expression language (core/rules): the input is parsed
 * as an expression, and one that parses is evaluated against a context
 * with an event, a profile, a case and a short history for count().
 */
#include <stdlib.h>

#include <jansson.h>

#include "fuzz.h"
#include "rules/expr.h"

static const char context_text[] =
    "{\"now\": 1767225600000, \"time\": 1767225600000,"
    " \"event\": {\"type\": \"case.opened\", \"id\": \"e1\","
    "  \"properties\": {\"status\": \"open\", \"count\": 3,"
    "   \"tags\": [\"a\", \"b\"], \"items\": [{\"kind\": \"x\"}]}},"
    " \"profile\": {\"id\": \"p1\", \"email\": \"ana@example.gov\","
    "  \"attributes\": {\"birthday\": \"1990-05-01\","
    "   \"born\": \"2024-02-29\", \"ward\": 4, \"vip\": true},"
    "  \"dependents\": [{\"id\": \"d1\", \"born\": \"2020-01-01\"}]},"
    " \"case\": {\"id\": \"c1\", \"status\": \"closed\"},"
    " \"history\": [{\"seq\": 2, \"time\": 1767139200000,"
    "   \"event\": {\"type\": \"case.updated\"}},"
    "  {\"seq\": 1, \"time\": 1766534400000,"
    "   \"event\": {\"type\": \"case.opened\"}}]}";

static json_t *context;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = fuzz_string(data, size);
    struct expr_error err = {0};
    struct expr *e;
    json_t *value;

    if (context == NULL)
        context = json_loads(context_text, 0, NULL);
    e = expr_parse(src, &err);
    if (e == NULL) {
        if (err.message[0] == '\0')
            __builtin_trap();       /* a syntax error must have a message */
        free(src);
        return 0;
    }
    value = expr_eval(e, context);
    json_decref(value);
    (void)expr_test(e, context);
    (void)expr_window_max_ms(e);
    (void)expr_reads_clock(e);
    expr_free(e);
    free(src);
    return 0;
}
