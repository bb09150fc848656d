/* Tests of core/profile/limits.c: the limits on a profile's attributes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "profile/limits.h"


/* Returns an object of `n` attributes "<prefix><i>": <i>. */
static json_t *
attributes_numbered(const char *prefix, size_t n)
{
    json_t *attrs = json_object();

    for (size_t i = 0; i < n; i++) {
        char name[64];

        snprintf(name, sizeof(name), "%s%zu", prefix, i);
        json_object_set_new(attrs, name, json_integer((json_int_t) i));
    }
    return attrs;
}


static void
count_within_limit(void **state)
{
    json_t *attrs = attributes_numbered("a", PROFILE_ATTRIBUTES_MAX - 1);
    json_t *changes = attributes_numbered("b", 1);
    char reason[160] = "";

    assert_int_equal(profile_attributes_check(attrs, changes, reason,
                                              sizeof(reason)), 0);
    assert_string_equal(reason, "");
    json_decref(attrs);
    json_decref(changes);
}


static void
count_over_limit(void **state)
{
    json_t *attrs = attributes_numbered("a", PROFILE_ATTRIBUTES_MAX);
    json_t *changes = attributes_numbered("b", 1);
    char reason[160] = "";

    assert_int_equal(profile_attributes_check(attrs, changes, reason,
                                              sizeof(reason)), -1);
    assert_non_null(strstr(reason, "257 attributes"));
    json_decref(attrs);
    json_decref(changes);
}


static void
replacing_names_allowed(void **state)
{
    json_t *attrs = attributes_numbered("a", PROFILE_ATTRIBUTES_MAX);
    json_t *changes = attributes_numbered("a", 10);
    char reason[160] = "";

    assert_int_equal(profile_attributes_check(attrs, changes, reason,
                                              sizeof(reason)), 0);
    json_decref(attrs);
    json_decref(changes);
}


static void
bytes_over_limit(void **state)
{
    char big[PROFILE_ATTRIBUTES_BYTES_MAX];
    json_t *attrs = json_object();
    json_t *changes;
    char reason[160] = "";

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    changes = json_pack("{s:s}", "notes", big);
    assert_int_equal(profile_attributes_check(attrs, changes, reason,
                                              sizeof(reason)), -1);
    assert_non_null(strstr(reason, "bytes as compact JSON"));
    json_decref(attrs);
    json_decref(changes);
}


/* A profile already over the limit (stored before it existed) may still
 * shrink. */
static void
shrinking_allowed_over_limit(void **state)
{
    json_t *attrs = attributes_numbered("a", PROFILE_ATTRIBUTES_MAX + 50);
    json_t *changes = json_pack("{s:n, s:i}", "a0", "a1", 7);
    char reason[160] = "";

    assert_int_equal(profile_attributes_check(attrs, changes, reason,
                                              sizeof(reason)), 0);
    json_decref(attrs);
    json_decref(changes);
}


static void
no_changes_allowed(void **state)
{
    json_t *attrs = attributes_numbered("a", PROFILE_ATTRIBUTES_MAX + 1);
    char reason[160] = "";

    assert_int_equal(profile_attributes_check(attrs, NULL, reason,
                                              sizeof(reason)), 0);
    json_decref(attrs);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(count_within_limit),
        cmocka_unit_test(count_over_limit),
        cmocka_unit_test(replacing_names_allowed),
        cmocka_unit_test(bytes_over_limit),
        cmocka_unit_test(shrinking_allowed_over_limit),
        cmocka_unit_test(no_changes_allowed),
    };

    return cmocka_run_group_tests_name("profile_limits", tests, NULL, NULL);
}
