/*
 * Tests of the claim-time checks that need no store: quiet-hour windows
 * in a resident's zone (across midnight and DST changes), consent by
 * message class, and the arithmetic of frequency caps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crier/error.h"
#include "delivery/caps.h"
#include "delivery/guard.h"

#define MINUTE INT64_C(60000)
#define HOUR (60 * MINUTE)


/* Returns the instant of an RFC 3339 text, for readable cases. */
static int64_t
at(const char *text)
{
    GDateTime *dt = g_date_time_new_from_iso8601(text, NULL);
    int64_t ms = g_date_time_to_unix(dt) * 1000;

    g_date_time_unref(dt);
    return ms;
}


static void
window_parse_valid_and_invalid(void **state)
{
    struct quiet_window w;

    assert_int_equal(quiet_window_parse("21:00-08:00", &w), 0);
    assert_int_equal(w.start.hour, 21);
    assert_int_equal(w.end.hour, 8);
    assert_int_equal(quiet_window_parse("12:30-13:45", &w), 0);
    assert_int_equal(w.end.minute, 45);
    assert_int_equal(quiet_window_parse("21:00", &w), CRIER_EINVAL);
    assert_int_equal(quiet_window_parse("21:00-21:00", &w), CRIER_EINVAL);
    assert_int_equal(quiet_window_parse("25:00-08:00", &w), CRIER_EINVAL);
    assert_int_equal(quiet_window_parse("-08:00", &w), CRIER_EINVAL);
    assert_int_equal(quiet_window_parse(NULL, &w), CRIER_EINVAL);
}


/* Returns quiet_window_end for `now` in `zone_name`, with *end set. */
static int
end_of(const char *window, const char *now, const char *zone_name,
       int64_t *end)
{
    struct quiet_window w;
    GTimeZone *zone = civil_zone_open(zone_name);
    int rc;

    assert_non_null(zone);
    assert_int_equal(quiet_window_parse(window, &w), 0);
    *end = 0;
    rc = quiet_window_end(&w, at(now), zone, end);
    g_time_zone_unref(zone);
    return rc;
}


static void
window_across_midnight(void **state)
{
    int64_t end;

    /* 22:00 in Chicago (UTC-6): held until 08:00 the next local day. */
    assert_int_equal(end_of("21:00-08:00", "2026-01-02T04:00:00Z",
                            "America/Chicago", &end), 1);
    assert_int_equal(end, at("2026-01-02T14:00:00Z"));

    /* 02:00 local, after midnight: held until 08:00 the same day. */
    assert_int_equal(end_of("21:00-08:00", "2026-01-02T08:00:00Z",
                            "America/Chicago", &end), 1);
    assert_int_equal(end, at("2026-01-02T14:00:00Z"));

    /* The ends: 21:00 is inside, 08:00 is outside, 20:59 is outside. */
    assert_int_equal(end_of("21:00-08:00", "2026-01-02T03:00:00Z",
                            "America/Chicago", &end), 1);
    assert_int_equal(end_of("21:00-08:00", "2026-01-02T14:00:00Z",
                            "America/Chicago", &end), 0);
    assert_int_equal(end_of("21:00-08:00", "2026-01-02T02:59:00Z",
                            "America/Chicago", &end), 0);
}


static void
window_within_one_day(void **state)
{
    int64_t end;

    assert_int_equal(end_of("12:00-14:00", "2026-03-01T12:30:00Z", "UTC",
                            &end), 1);
    assert_int_equal(end, at("2026-03-01T14:00:00Z"));
    assert_int_equal(end_of("12:00-14:00", "2026-03-01T11:59:00Z", "UTC",
                            &end), 0);
    assert_int_equal(end_of("12:00-14:00", "2026-03-01T14:00:00Z", "UTC",
                            &end), 0);
}


static void
window_across_dst_changes(void **state)
{
    int64_t end;

    /* The night of 2026-03-08 in Chicago springs forward at 02:00, so
     * 08:00 CDT is 13:00 UTC, not 14:00. */
    assert_int_equal(end_of("21:00-08:00", "2026-03-08T04:00:00Z",
                            "America/Chicago", &end), 1);
    assert_int_equal(end, at("2026-03-08T13:00:00Z"));

    /* The night of 2026-11-01 falls back, so 08:00 CST is 14:00 UTC. */
    assert_int_equal(end_of("21:00-08:00", "2026-11-01T03:00:00Z",
                            "America/Chicago", &end), 1);
    assert_int_equal(end, at("2026-11-01T14:00:00Z"));

    /* A window that ends at 02:30 on the spring-forward day ends at the
     * wall time's reading before the change, 03:30 CDT. */
    assert_int_equal(end_of("23:00-02:30", "2026-03-08T05:30:00Z",
                            "America/Chicago", &end), 1);
    assert_int_equal(end, at("2026-03-08T08:30:00Z"));
}


/* Returns a stored profile whose consent for email is `state`, set by an
 * event of `type`, or no consent for a NULL state. */
static json_t *
profile_with(const char *state, const char *type)
{
    json_t *consent = json_object();
    char source[64];

    if (state != NULL) {
        snprintf(source, sizeof(source), "api:%s", type);
        json_object_set_new(consent, "email",
                            json_pack("{s:s,s:s,s:i}", "state", state,
                                      "source", source, "time", 1));
    }
    return json_pack("{s:s,s:{},s:o}", "id", "p", "attributes", "consent",
                     consent);
}


static void
consent_by_class(void **state)
{
    json_t *unknown = profile_with(NULL, NULL);
    json_t *granted = profile_with("granted", "form.submitted");
    json_t *revoked = profile_with("revoked", "form.submitted");
    json_t *stopped = profile_with("revoked", "sms.stop");

    assert_null(guard_consent_reason(unknown, "email", 0));
    assert_null(guard_consent_reason(granted, "email", 0));
    assert_string_equal(guard_consent_reason(revoked, "email", 0),
                        GUARD_REASON_CONSENT);
    assert_string_equal(guard_consent_reason(stopped, "email", 0),
                        GUARD_REASON_HARD);

    assert_null(guard_consent_reason(unknown, "email", 1));
    assert_null(guard_consent_reason(revoked, "email", 1));
    assert_string_equal(guard_consent_reason(stopped, "email", 1),
                        GUARD_REASON_HARD);

    /* Consent is per kind: a revoked email does not affect sms. */
    assert_null(guard_consent_reason(stopped, "sms", 1));
    json_decref(unknown);
    json_decref(granted);
    json_decref(revoked);
    json_decref(stopped);
}


static void
consent_hard_flag(void **state)
{
    json_t *p = profile_with("revoked", "form.submitted");

    json_object_set_new(json_object_get(json_object_get(p, "consent"),
                                        "email"), "hard", json_true());
    assert_string_equal(guard_consent_reason(p, "email", 1),
                        GUARD_REASON_HARD);
    json_decref(p);
}


static void
cap_counts_up_to_max(void **state)
{
    struct outbox_cap cap = { .channel = "email", .lane = 1, .max = 2,
                              .per_ms = 7 * 24 * HOUR };

    assert_true(cap_allows(&cap, 0));
    assert_true(cap_allows(&cap, 1));
    assert_false(cap_allows(&cap, 2));
    assert_false(cap_allows(&cap, 3));
}


static void
caps_apply_by_channel_and_class(void **state)
{
    struct outbox_settings s = { 0 };

    s.cap_count = 2;
    s.caps[0] = (struct outbox_cap) { .channel = "email", .lane = 1,
                                      .max = 2, .per_ms = HOUR };
    s.caps[1] = (struct outbox_cap) { .channel = "sms", .lane = -1,
                                      .max = 1, .per_ms = HOUR };
    assert_true(caps_apply(&s, "email", 1));
    assert_false(caps_apply(&s, "email", 0));
    assert_true(caps_apply(&s, "sms", 0));
    assert_true(caps_apply(&s, "sms", 1));
    assert_false(caps_apply(&s, "webhook", 1));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_parse_valid_and_invalid),
        cmocka_unit_test(window_across_midnight),
        cmocka_unit_test(window_within_one_day),
        cmocka_unit_test(window_across_dst_changes),
        cmocka_unit_test(consent_by_class),
        cmocka_unit_test(consent_hard_flag),
        cmocka_unit_test(cap_counts_up_to_max),
        cmocka_unit_test(caps_apply_by_channel_and_class),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
