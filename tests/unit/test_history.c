/*
 * Tests of core/pipeline/history.c: the order and bound of a profile's
 * history, merges of two histories, and the longest count() window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "pipeline/history.h"
#include "rules/expr.h"


static json_t *
row(int64_t seq, int64_t time)
{
    return json_pack("{s:I,s:I,s:{}}", "seq", (json_int_t) seq, "time",
                     (json_int_t) time, "event");
}


static int64_t
seq_at(const json_t *list, size_t i)
{
    return json_integer_value(json_object_get(json_array_get(list, i),
                                              "seq"));
}


static void
history_add_orders_newest_first(void **state)
{
    json_t *history = json_object();
    json_t *list;
    json_t *r;

    (void) state;
    r = row(1, 1000);
    history_add(history, "p_1", r);
    json_decref(r);
    r = row(3, 3000);
    history_add(history, "p_1", r);
    json_decref(r);
    /* An event that arrived late, with an earlier time. */
    r = row(4, 2000);
    history_add(history, "p_1", r);
    json_decref(r);
    /* The same time as seq 3, but a higher seq. */
    r = row(5, 3000);
    list = history_add(history, "p_1", r);
    json_decref(r);

    assert_int_equal(json_array_size(list), 4);
    assert_int_equal(seq_at(list, 0), 5);
    assert_int_equal(seq_at(list, 1), 3);
    assert_int_equal(seq_at(list, 2), 4);
    assert_int_equal(seq_at(list, 3), 1);
    json_decref(history);
}


static void
history_add_bounded(void **state)
{
    json_t *history = json_object();
    json_t *list = NULL;

    (void) state;
    for (int i = 1; i <= EXPR_HISTORY_MAX + 5; i++) {
        json_t *r = row(i, i * 10);

        list = history_add(history, "p_1", r);
        json_decref(r);
    }
    /* The oldest rows went. */
    assert_int_equal(json_array_size(list), EXPR_HISTORY_MAX);
    assert_int_equal(seq_at(list, 0), EXPR_HISTORY_MAX + 5);
    assert_int_equal(seq_at(list, EXPR_HISTORY_MAX - 1), 6);
    json_decref(history);
}


static void
history_merge_joins_lists(void **state)
{
    json_t *history = json_pack("{s:[o,o],s:[o]}", "p_anon", row(4, 4000),
                                row(2, 2000), "p_known", row(3, 3000));
    json_t *list;

    (void) state;
    history_merge(history, "p_anon", "p_known");
    list = json_object_get(history, "p_known");
    assert_null(json_object_get(history, "p_anon"));
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(seq_at(list, 0), 4);
    assert_int_equal(seq_at(list, 1), 3);
    assert_int_equal(seq_at(list, 2), 2);

    /* A profile without history merges into one without history too. */
    history_merge(history, "p_none", "p_new");
    assert_null(json_object_get(history, "p_new"));
    history_merge(history, "p_known", "p_new");
    assert_int_equal(json_array_size(json_object_get(history, "p_new")), 3);
    json_decref(history);
}


static void
history_window_without_config(void **state)
{
    (void) state;
    assert_int_equal(history_window_ms(NULL, NULL), 0);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history_add_orders_newest_first),
        cmocka_unit_test(history_add_bounded),
        cmocka_unit_test(history_merge_joins_lists),
        cmocka_unit_test(history_window_without_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
