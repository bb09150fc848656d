/*
 * Tests of core/base/log_mask.c: personal data masked in log records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"


static void
mask_check(const char *in, const char *expected)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s", in);
    log_mask_personal(buf, strlen(buf));
    assert_string_equal(buf, expected);
}


static void
test_mask_email(void **state)
{
    mask_check("to=ana.lopez@example.gov error=x",
               "to=a********@example.gov error=x");
    mask_check("<alerts@example.gov>", "<a*****@example.gov>");
    mask_check("a@example.gov", "a@example.gov");
    mask_check("x@y", "x@y");
    mask_check("@example.gov", "@example.gov");
    mask_check("user@localhost", "user@localhost");
}


static void
test_mask_phone(void **state)
{
    mask_check("to=+13125550100 job=7", "to=+*********00 job=7");
    mask_check("+442079460018", "+**********18");
    mask_check("time=2026-01-01T00:00:00+01:00",
               "time=2026-01-01T00:00:00+01:00");
    mask_check("a+1234567890", "a+1234567890");
    mask_check("+1234567", "+1234567");
    mask_check("+1234567890123456", "+1234567890123456");
    mask_check("seq=1767225600000", "seq=1767225600000");
}


static void
test_mask_length_kept(void **state)
{
    char buf[] = "from=ana@example.gov to=+13125550100";
    size_t len = strlen(buf);

    log_mask_personal(buf, len);
    assert_int_equal(strlen(buf), len);
    assert_null(strstr(buf, "ana@"));
    assert_null(strstr(buf, "3125550100"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_email),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_mask_length_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
