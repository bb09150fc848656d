/*
 * Tests of core/digests/config.c and of a journey's wait_date and exit
 * goal: digests read from a config file written into a temporary folder,
 * the rules and steps that send to them, and when a window ends. Errors
 * are checked whole, with the file, line and key.
 * Templates come from the fixture set tests/data/templates/ok, which has
 * "welcome" and "receipt".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "crier/error.h"
#include "digests/digests.h"
#include "journeys/journeys.h"
#include "rules/rules.h"
#include "rules_fixture.h"
#include "schedule/schedule.h"
#include "template/template.h"
#include "time/civil.h"

#define TEMPLATES CRIER_SOURCE_DIR "/tests/data/templates/ok"

static int
fixture_make(void **state)
{
    return rules_fixture_make(state, TEMPLATES);
}


static int
fixture_remove(void **state)
{
    return rules_fixture_remove(state);
}


#define DIGESTS \
    "digests = (\n" \
    "  { name = \"notes\"; window = \"5m\"; channel = \"email\";\n" \
    "    template = \"welcome\"; key = \"event.properties.id\"; },\n" \
    "  { name = \"weekly\"; until = \"Fri 17:00\"; channel = \"email\";\n" \
    "    template = \"receipt\"; class = \"service\"; }\n" \
    ");\n"


static const struct digest *
digest_at(const struct fixture *f, guint i)
{
    assert_true(i < f->rules->digests->len);
    return g_ptr_array_index(f->rules->digests, i);
}


static void
digests_load_and_send(void **state)
{
    struct fixture *f = *state;
    const struct digest *notes, *weekly;
    const struct rule *r;
    const struct journey *j;
    const struct journey_step *s;

    load_ok(f, DIGESTS
            "rules = ( { name = \"note\"; on = \"case.note\";\n"
            "            send = { digest = \"notes\"; }; } );\n"
            "journeys = ( { name = \"j\"; on = \"signup\"; steps = (\n"
            "  { name = \"collect\"; send = { digest = \"weekly\"; }; },\n"
            "  { name = \"later\"; wait_date = { date = "
            "\"profile.birth_date\"; offset = \"-30 days\"; at = "
            "\"09:00\"; }; },\n"
            "  { name = \"made\"; wait_date = { date = \"profile.created\"; "
            "offset = \"2 days\"; }; }\n"
            ") } );\n");
    notes = digest_at(f, 0);
    weekly = digest_at(f, 1);
    assert_ptr_equal(digest_find(f->rules->digests, "weekly"), weekly);
    assert_null(digest_find(f->rules->digests, "other"));
    assert_string_equal(notes->channel, "email");
    assert_string_equal(notes->template_name, "welcome");
    assert_int_equal(notes->window_ms, 5 * 60 * 1000);
    assert_false(notes->has_until);
    assert_non_null(notes->key);
    assert_false(notes->service);
    assert_true(weekly->has_until);
    assert_int_equal(weekly->until.hour, 17);
    assert_int_equal(weekly->until_days, 1u << 4);
    assert_true(weekly->service);
    assert_null(weekly->key);

    r = g_ptr_array_index(f->rules->rules, 0);
    assert_ptr_equal(r->digest, notes);
    assert_null(r->channel);
    j = g_ptr_array_index(f->rules->journeys, 0);
    s = g_ptr_array_index(j->steps, 0);
    assert_int_equal(s->kind, JOURNEY_SEND);
    assert_ptr_equal(s->digest, weekly);
    s = g_ptr_array_index(j->steps, 1);
    assert_int_equal(s->kind, JOURNEY_WAIT_DATE);
    assert_int_equal(s->date->field, SCHEDULE_PROFILE_ATTRIBUTE);
    assert_string_equal(s->date->attribute, "birth_date");
    assert_int_equal(s->date->offset, -30);
    assert_int_equal(s->date->offset_unit, CIVIL_DAYS);
    assert_true(s->date->has_at);
    s = g_ptr_array_index(j->steps, 2);
    assert_int_equal(s->date->field, SCHEDULE_PROFILE_CREATED);
    assert_false(s->date->has_at);
}


static void
digests_errors(void **state)
{
    struct fixture *f = *state;

    expect_error(f, "digests = ( { name = \"d\"; channel = \"email\"; "
                 "template = \"welcome\"; } );\n",
                 ":1: digests[0]: needs one of window (such as \"5m\") or "
                 "until (such as \"17:00\" or \"Fri 17:00\")");
    expect_error(f, "digests = ( { name = \"d\"; channel = \"email\"; "
                 "template = \"welcome\"; window = \"5m\"; "
                 "until = \"17:00\"; } );\n",
                 ":1: digests[0]: needs one of window (such as \"5m\") or "
                 "until (such as \"17:00\" or \"Fri 17:00\")");
    expect_error(f, "digests = ( { name = \"d\"; channel = \"email\"; "
                 "template = \"welcome\"; until = \"Fry 17:00\"; } );\n",
                 ":1: digests[0].until: must be a wall time HH:MM, with "
                 "days before it for a weekly digest, such as \"17:00\" "
                 "or \"Fri 17:00\"");
    expect_error(f, "digests = ( { name = \"d\"; channel = \"sms\"; "
                 "template = \"welcome\"; window = \"5m\"; } );\n",
                 ":1: digests[0]: channel \"sms\" is not configured under "
                 "channels");
    expect_error(f, "digests = ( { name = \"a/b\"; channel = \"email\"; "
                 "template = \"welcome\"; window = \"5m\"; } );\n",
                 ":1: digests[0].name: must not contain '/', which "
                 "separates the parts of a message key");
    expect_error(f, DIGESTS "rules = ( { name = \"r\"; on = \"x\"; "
                 "send = { digest = \"nope\"; }; } );\n",
                 ":7: rules[0].send: digest \"nope\" is not configured "
                 "under digests");
    expect_error(f, DIGESTS "rules = ( { name = \"r\"; on = \"x\"; "
                 "send = { digest = \"notes\"; channel = \"email\"; }; } "
                 ");\n",
                 ":7: rules[0].send: sets digest and a channel or "
                 "template: the digest \"notes\" names its own");
    expect_error(f, DIGESTS "rules = ( { name = \"r\"; on = \"x\"; "
                 "send = { digest = \"notes\"; delay = \"1h\"; }; } );\n",
                 ":7: rules[0].send: sets digest and a delay or at: the "
                 "digest's window decides when it is sent");
    expect_error(f, "journeys = ( { name = \"j\"; on = \"x\"; steps = ( "
                 "{ name = \"w\"; wait_date = { date = "
                 "\"dependents.birth_date\"; at = \"09:00\"; }; } ); } );\n",
                 ":1: journeys[0].steps[0].wait_date.date: must be "
                 "profile.<attribute> or profile.created: a journey waits "
                 "for a date of the resident; a date schedule covers "
                 "dependents and cases");
    expect_error(f, "journeys = ( { name = \"j\"; on = \"x\"; steps = ( "
                 "{ name = \"w\"; wait_date = { date = "
                 "\"profile.birth_date\"; } ; } ); } );\n",
                 ":1: journeys[0].steps[0].wait_date.at: missing at: a "
                 "date needs a wall time such as \"09:00\"");
    expect_error(f, "journeys = ( { name = \"j\"; on = \"x\"; exit = { "
                 "goal = \"nope\"; }; steps = ( { name = \"w\"; wait = "
                 "\"1d\"; } ); } );\n",
                 ":1: journeys[0].exit: goal \"nope\" is not configured "
                 "under goals");
    expect_error(f, "journeys = ( { name = \"digest:x\"; on = \"x\"; "
                 "steps = ( { name = \"w\"; wait = \"1d\"; } ); } );\n",
                 ":1: journeys[0].name: must not start with \"digest:\", "
                 "which names the rows of digest windows");
}


/* Returns the ms of a UTC time given as numbers. */
static int64_t
utc_ms(int year, int month, int day, int hour, int minute)
{
    GDateTime *t = g_date_time_new_utc(year, month, day, hour, minute, 0);
    int64_t ms = g_date_time_to_unix(t) * 1000;

    g_date_time_unref(t);
    return ms;
}


static void
digests_window_end(void **state)
{
    struct fixture *f = *state;
    GTimeZone *zone = civil_zone_open("America/New_York");
    const struct digest *notes, *weekly;
    struct digest daily = { 0 };

    load_ok(f, DIGESTS);
    notes = digest_at(f, 0);
    weekly = digest_at(f, 1);
    assert_non_null(zone);
    assert_int_equal(digest_window_end(notes, zone, 1000), 1000 + 300000);

    /* Wed 2026-04-08 18:00 EDT: the next Friday 17:00 EDT. */
    assert_int_equal(digest_window_end(weekly, zone,
                                       utc_ms(2026, 4, 8, 22, 0)),
                     utc_ms(2026, 4, 10, 21, 0));
    /* Exactly Friday 17:00: a week later. */
    assert_int_equal(digest_window_end(weekly, zone,
                                       utc_ms(2026, 4, 10, 21, 0)),
                     utc_ms(2026, 4, 17, 21, 0));

    /* Every day at 17:00: today while ahead, else tomorrow. */
    daily.has_until = 1;
    daily.until.hour = 17;
    assert_int_equal(digest_window_end(&daily, zone,
                                       utc_ms(2026, 4, 8, 12, 0)),
                     utc_ms(2026, 4, 8, 21, 0));
    assert_int_equal(digest_window_end(&daily, zone,
                                       utc_ms(2026, 4, 8, 22, 0)),
                     utc_ms(2026, 4, 9, 21, 0));
    g_time_zone_unref(zone);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(digests_load_and_send, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(digests_errors, fixture_make,
                                        fixture_remove),
        cmocka_unit_test_setup_teardown(digests_window_end, fixture_make,
                                        fixture_remove),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
