/*
 * Tests of the case trigger's mapping (plugins/triggers/case/open311.c,
 * generic.c, case_event.c) on real Open311 GeoReport v2 records from
 * Chicago's 311 system, requested in 2014, and on generic cases. Every
 * built event is also run through the core's own event validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../plugins/triggers/case/case_event.c"
#include "../../plugins/triggers/case/generic.c"
#include "../../plugins/triggers/case/open311.c"

#include "ingest/ingest.h"

#define CHICAGO \
    CRIER_SHARED_DIR "/data/open311/chicago_open311_requests_2014.json"

/* Two records of the file: the only open one, and a closed pothole. */
#define OPEN_ID "14-01873637"
#define CLOSED_ID "14-00684314"


static int
load_chicago(void **state)
{
    json_error_t error;

    *state = json_load_file(CHICAGO, 0, &error);
    if (*state == NULL) {
        print_error("%s:%d: %s\n", CHICAGO, error.line, error.text);
        return -1;
    }
    return 0;
}


static int
free_chicago(void **state)
{
    json_decref(*state);
    return 0;
}


/* Returns a copy of the record with `id`, to change at will. */
static json_t *
record_copy(void **state, const char *id)
{
    json_t *record;
    size_t i;

    json_array_foreach((json_t *) *state, i, record) {
        const char *found = json_string_value(
            json_object_get(record, "service_request_id"));

        if (found != NULL && strcmp(found, id) == 0)
            return json_deep_copy(record);
    }
    fail_msg("record %s not found in %s", id, CHICAGO);
    return NULL;
}


static const char *
string_at(const json_t *root, const char *first, const char *second)
{
    const json_t *value = json_object_get(root, first);

    if (second != NULL)
        value = json_object_get(value, second);
    return json_string_value(value);
}


static const char *
case_member(const json_t *event, const char *name)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(event, "properties"), "case"), name));
}


/* Asserts that the core's validation takes the event as it is. */
static void
assert_valid(const json_t *event)
{
    struct normalized_event normalized;
    struct crier_input_error err;
    int rc = event_normalize(event, 0, &normalized, &err);

    if (rc != 0)
        print_error("rejected at %s: %s\n", err.field, err.message);
    assert_int_equal(rc, 0);
    json_decref(normalized.event);
}


static json_t *
build(const json_t *request)
{
    struct crier_input_error err;
    json_t *event = NULL;
    int rc = open311_event_build(request, &event, &err);

    if (rc != 0)
        print_error("rejected at %s: %s\n", err.field, err.message);
    assert_int_equal(rc, 0);
    assert_valid(event);
    return event;
}


/* The open record changed after it was opened, so it is an update. */
/* Checks an event id: `prefix` (case id, type, time), then "/" and 12 hex
 * digits of the digest of the case's properties. */
static void
assert_case_id(const char *id, const char *prefix)
{
    size_t n = strlen(prefix);

    assert_non_null(id);
    assert_int_equal(strncmp(id, prefix, n), 0);
    assert_int_equal(id[n], '/');
    assert_int_equal(strlen(id + n + 1), 12);
    assert_int_equal(strspn(id + n + 1, "0123456789abcdef"), 12);
}


static void
test_open311_open_record(void **state)
{
    json_t *record = record_copy(state, OPEN_ID);
    json_t *event = build(record);
    const json_t *profile = json_object_get(event, "profile");

    assert_string_equal(string_at(event, "type", NULL), "case.updated");
    assert_string_equal(string_at(event, "time", NULL),
                        "2015-10-02T13:03:14-05:00");
    assert_case_id(string_at(event, "id", NULL),
                        OPEN_ID "/case.updated/2015-10-02T13:03:14-05:00");
    assert_int_equal(json_object_size(profile), 1);
    assert_string_equal(string_at(profile, "case_id", NULL), OPEN_ID);
    assert_null(json_object_get(event, "attributes"));
    assert_null(json_object_get(event, "visitor"));
    assert_string_equal(string_at(event, "properties", "source_format"),
                        "open311");
    assert_string_equal(case_member(event, "id"), OPEN_ID);
    assert_string_equal(case_member(event, "status"), "open");
    assert_string_equal(case_member(event, "status_notes"),
                        "Survey Completed - No Citation Issued");
    assert_string_equal(case_member(event, "service_name"),
                        "Pavement Cave-In Survey");
    assert_string_equal(case_member(event, "service_code"),
                        "4ffa971e6018277d4000000b");
    assert_string_equal(case_member(event, "agency"),
                        "DIM, Public Way Management - CDOT");
    assert_string_equal(case_member(event, "address"),
                        "1550 W 49TH ST, CHICAGO, IL, 60609");
    assert_string_equal(case_member(event, "ward"), "20");
    assert_string_equal(case_member(event, "opened_at"),
                        "2014-10-30T13:12:22-05:00");
    assert_string_equal(case_member(event, "updated_at"),
                        "2015-10-02T13:03:14-05:00");
    assert_null(case_member(event, "closed_at"));
    json_decref(event);
    json_decref(record);
}


static void
test_open311_closed_record(void **state)
{
    json_t *record = record_copy(state, CLOSED_ID);
    json_t *event = build(record);

    assert_string_equal(string_at(event, "type", NULL), "case.closed");
    assert_string_equal(string_at(event, "time", NULL),
                        "2015-10-10T10:15:40-05:00");
    assert_case_id(string_at(event, "id", NULL),
                        CLOSED_ID "/case.closed/2015-10-10T10:15:40-05:00");
    assert_string_equal(string_at(event, "profile", "case_id"), CLOSED_ID);
    assert_string_equal(case_member(event, "status"), "closed");
    assert_string_equal(case_member(event, "service_name"),
                        "Pothole in Street");
    assert_string_equal(case_member(event, "status_notes"),
                        "CDOT Inspect Public Way Survey Transfer Outcome");
    assert_string_equal(case_member(event, "agency"),
                        "Division of In-House Construction CDOT");
    assert_string_equal(case_member(event, "ward"), "21");
    assert_string_equal(case_member(event, "opened_at"),
                        "2014-05-09T19:02:21-05:00");
    assert_string_equal(case_member(event, "closed_at"),
                        "2015-10-10T10:15:40-05:00");
    json_decref(event);
    json_decref(record);
}


/* A request not changed since it was made is an opening, and so is one
 * without updated_datetime. Equal instants in other offsets count. */
static void
test_open311_new_request(void **state)
{
    json_t *record = record_copy(state, OPEN_ID);
    json_t *event;

    json_object_set_new(record, "updated_datetime",
                        json_string("2014-10-30T13:12:22-05:00"));
    event = build(record);
    assert_string_equal(string_at(event, "type", NULL), "case.opened");
    assert_case_id(string_at(event, "id", NULL),
                        OPEN_ID "/case.opened/2014-10-30T13:12:22-05:00");
    json_decref(event);

    json_object_set_new(record, "updated_datetime",
                        json_string("2014-10-30T18:12:22Z"));
    event = build(record);
    assert_string_equal(string_at(event, "type", NULL), "case.opened");
    json_decref(event);

    json_object_del(record, "updated_datetime");
    event = build(record);
    assert_string_equal(string_at(event, "type", NULL), "case.opened");
    assert_string_equal(string_at(event, "time", NULL),
                        "2014-10-30T13:12:22-05:00");
    json_decref(event);
    json_decref(record);
}


/* Each change gets its own id, but a retry of a change gets the same. */
static void
test_open311_dedupe_ids(void **state)
{
    json_t *record = record_copy(state, OPEN_ID);
    json_t *first = build(record);
    json_t *retry = build(record);
    json_t *later;

    json_object_set_new(record, "updated_datetime",
                        json_string("2015-10-03T09:00:00-05:00"));
    later = build(record);
    assert_string_equal(string_at(first, "id", NULL),
                        string_at(retry, "id", NULL));
    assert_string_not_equal(string_at(first, "id", NULL),
                            string_at(later, "id", NULL));
    json_decref(first);
    json_decref(retry);
    json_decref(later);
    json_decref(record);
}


static void
test_open311_requester(void **state)
{
    json_t *record = record_copy(state, CLOSED_ID);
    json_t *event, *profile, *attributes;

    json_object_set_new(record, "email", json_string("ana@example.gov"));
    json_object_set_new(record, "phone", json_string("+13125550100"));
    json_object_set_new(record, "first_name", json_string("Ana"));
    json_object_set_new(record, "last_name", json_string("Ortiz"));
    event = build(record);
    profile = json_object_get(event, "profile");
    attributes = json_object_get(event, "attributes");
    assert_int_equal(json_object_size(profile), 3);
    assert_string_equal(string_at(profile, "email", NULL),
                        "ana@example.gov");
    assert_string_equal(string_at(profile, "phone", NULL), "+13125550100");
    assert_string_equal(string_at(profile, "case_id", NULL), CLOSED_ID);
    assert_int_equal(json_object_size(attributes), 2);
    assert_string_equal(string_at(attributes, "first_name", NULL), "Ana");
    assert_string_equal(string_at(attributes, "last_name", NULL), "Ortiz");
    json_decref(event);
    json_decref(record);
}


/* A local number cannot become E.164 here, so it is left out. */
static void
test_open311_local_phone(void **state)
{
    json_t *record = record_copy(state, CLOSED_ID);
    json_t *event;

    json_object_set_new(record, "phone", json_string("312-555-0100"));
    event = build(record);
    assert_null(json_object_get(json_object_get(event, "profile"), "phone"));
    json_decref(event);
    json_decref(record);
}


/* GeoReport v2's own examples give ids and service codes as numbers. */
static void
test_open311_number_ids(void **state)
{
    json_t *request = json_pack("{s:i,s:s,s:i,s:s,s:s}",
                                "service_request_id", 638344,
                                "status", "closed", "service_code", 6,
                                "requested_datetime",
                                "2010-04-14T06:37:38-08:00",
                                "updated_datetime",
                                "2010-04-14T06:37:38-08:00");
    json_t *event = build(request);

    assert_string_equal(string_at(event, "profile", "case_id"), "638344");
    assert_string_equal(case_member(event, "id"), "638344");
    assert_string_equal(case_member(event, "service_code"), "6");
    assert_string_equal(string_at(event, "type", NULL), "case.closed");
    json_decref(event);
    json_decref(request);
}


/* A time outside 0001..9999 in UTC or with second 61 names its field. */
static void
test_open311_time_out_of_range(void **state)
{
    static const char *const times[] = {
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2016-06-15T10:00:61Z",
    };

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        struct crier_input_error err;
        json_t *event = NULL;
        json_t *request = json_pack("{s:s,s:s,s:s,s:s}",
                                    "service_request_id", "638344",
                                    "status", "open", "service_code", "6",
                                    "requested_datetime", times[i]);
        int rc = open311_event_build(request, &event, &err);

        assert_int_equal(rc, CRIER_EINVAL);
        assert_null(event);
        assert_string_equal(err.field, "requested_datetime");
        json_decref(request);
    }
}


/* A leap second is accepted. */
static void
test_open311_leap_second(void **state)
{
    json_t *request = json_pack("{s:s,s:s,s:s,s:s}",
                                "service_request_id", "638344",
                                "status", "open", "service_code", "6",
                                "requested_datetime",
                                "2016-12-31T23:59:60Z");
    json_t *event = build(request);

    assert_string_equal(string_at(event, "type", NULL), "case.opened");
    json_decref(event);
    json_decref(request);
}


/* The whole file, as GET /requests.json returns it, in one body. */
static void
test_open311_array(void **state)
{
    struct crier_input_error err;
    json_t *events = NULL, *event, *ids = json_object();
    size_t i, closed = 0, updated = 0;

    assert_int_equal(case_events_build(*state, &events, &err), 0);
    assert_int_equal(json_array_size(events), 50);
    json_array_foreach(events, i, event) {
        const char *type = string_at(event, "type", NULL);

        assert_valid(event);
        closed += strcmp(type, "case.closed") == 0;
        updated += strcmp(type, "case.updated") == 0;
        json_object_set(ids, string_at(event, "id", NULL), json_true());
    }
    assert_int_equal(closed, 49);
    assert_int_equal(updated, 1);
    assert_int_equal(json_object_size(ids), 50);
    json_decref(ids);
    json_decref(events);
}


static void
test_open311_missing_id(void **state)
{
    struct crier_input_error err;
    json_t *body = json_pack("{s:s}", "status", "open");
    json_t *events = NULL;

    assert_int_equal(case_events_build(body, &events, &err), CRIER_EINVAL);
    assert_null(events);
    assert_string_equal(err.field, "service_request_id");
    assert_int_equal(err.index, -1);
    json_decref(body);
}


/* In an array, the error names the element that lacks the id. */
static void
test_open311_missing_id_index(void **state)
{
    struct crier_input_error err;
    json_t *body = json_array();
    json_t *events = NULL;

    json_array_append_new(body, record_copy(state, OPEN_ID));
    json_array_append_new(body, json_pack("{s:s}", "status", "open"));
    assert_int_equal(case_events_build(body, &events, &err), CRIER_EINVAL);
    assert_null(events);
    assert_string_equal(err.field, "service_request_id");
    assert_int_equal(err.index, 1);
    json_decref(body);
}


/* An id that is given but invalid is not reported as missing. */
static void
test_open311_bad_id(void **state)
{
    static const struct {
        const char *id;
        const char *message;
    } cases[] = {
        {"1.5", "must be a non-empty string or a whole number"},
        {"true", "must be a non-empty string or a whole number"},
        {"\"\"", "must be a non-empty string or a whole number"},
        {"[\"14-1\"]", "must be a non-empty string or a whole number"},
        {"null", "is required"},
    };
    json_t *record = record_copy(state, OPEN_ID);
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object_set_new(record, "service_request_id",
                            json_loads(cases[i].id, JSON_DECODE_ANY, NULL));
        assert_int_equal(open311_event_build(record, &event, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, "service_request_id");
        assert_non_null(strstr(err.message, cases[i].message));
    }
    assert_null(event);
    json_decref(record);
}


static void
test_open311_bad_time(void **state)
{
    static const char *const bad[] = {
        "2015-10-02 13:03:14-05:00", "2015-10-02T13:03:14", "yesterday",
    };
    json_t *record = record_copy(state, OPEN_ID);
    struct crier_input_error err;
    json_t *event = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object_set_new(record, "updated_datetime", json_string(bad[i]));
        assert_int_equal(open311_event_build(record, &event, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, "updated_datetime");
    }
    json_decref(record);
}


static void
test_body_not_cases(void **state)
{
    struct crier_input_error err;
    json_t *events = NULL;
    json_t *empty = json_array();
    json_t *text = json_string("14-00684314");

    assert_int_equal(case_events_build(empty, &events, &err), CRIER_EINVAL);
    assert_int_equal(case_events_build(text, &events, &err), CRIER_EINVAL);
    assert_null(events);
    json_decref(empty);
    json_decref(text);
}


static json_t *
generic_closed(void)
{
    return json_pack(
        "{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s}},s:s,"
        "s:{s:s,s:s,s:s},s:s}",
        "case", "id", "C-1042", "type", "benefits", "status", "closed",
        "opened_at", "2026-01-05T09:00:00-05:00",
        "closed_at", "2026-02-10T16:30:00-05:00", "outcome", "approved",
        "attributes", "program", "childcare",
        "event", "case.closed",
        "person", "email", "Ana@Example.gov", "phone", "+13125550100",
        "first_name", "Ana",
        "time", "2026-02-10T16:30:00-05:00");
}


static void
test_generic_closed(void **state)
{
    struct crier_input_error err;
    json_t *body = generic_closed();
    json_t *events = NULL, *event, *profile;

    assert_int_equal(case_events_build(body, &events, &err), 0);
    assert_int_equal(json_array_size(events), 1);
    event = json_array_get(events, 0);
    assert_valid(event);
    profile = json_object_get(event, "profile");
    assert_string_equal(string_at(event, "type", NULL), "case.closed");
    assert_case_id(string_at(event, "id", NULL),
                        "C-1042/case.closed/2026-02-10T16:30:00-05:00");
    assert_string_equal(string_at(event, "time", NULL),
                        "2026-02-10T16:30:00-05:00");
    assert_int_equal(json_object_size(profile), 3);
    assert_string_equal(string_at(profile, "email", NULL),
                        "Ana@Example.gov");
    assert_string_equal(string_at(profile, "case_id", NULL), "C-1042");
    assert_string_equal(string_at(event, "attributes", "first_name"), "Ana");
    assert_null(json_object_get(json_object_get(event, "attributes"),
                                "email"));
    assert_string_equal(string_at(event, "properties", "source_format"),
                        "generic");
    assert_string_equal(case_member(event, "outcome"), "approved");
    assert_string_equal(case_member(event, "type"), "benefits");
    json_decref(events);
    json_decref(body);
}


/* Without "event", the type follows the Open311 rule. */
static void
test_generic_derived_type(void **state)
{
    struct crier_input_error err;
    json_t *body = json_pack("{s:{s:i,s:s,s:s},s:s}",
                             "case", "id", 1042, "status", "open",
                             "opened_at", "2026-01-05T09:00:00-05:00",
                             "time", "2026-01-07T11:00:00-05:00");
    json_t *event = NULL;

    assert_int_equal(generic_event_build(body, &event, &err), 0);
    assert_valid(event);
    assert_string_equal(string_at(event, "type", NULL), "case.updated");
    assert_string_equal(case_member(event, "id"), "1042");
    assert_string_equal(string_at(event, "profile", "case_id"), "1042");
    json_decref(event);

    json_object_del(body, "time");
    assert_int_equal(generic_event_build(body, &event, &err), 0);
    assert_string_equal(string_at(event, "type", NULL), "case.opened");
    assert_string_equal(string_at(event, "time", NULL),
                        "2026-01-05T09:00:00-05:00");
    json_decref(event);
    json_decref(body);
}


/* An update with no time at all gets no dedupe id. */
static void
test_generic_update_without_time(void **state)
{
    struct crier_input_error err;
    json_t *body = json_pack("{s:{s:s},s:s}", "case", "id", "C-7",
                             "event", "case.updated");
    json_t *event = NULL;

    assert_int_equal(generic_event_build(body, &event, &err), 0);
    assert_valid(event);
    assert_null(json_object_get(event, "id"));
    assert_null(json_object_get(event, "time"));
    json_decref(event);
    json_decref(body);
}


/* A null attribute is passed on to remove it, but a null identity is not. */
static void
test_generic_null_members(void **state)
{
    struct crier_input_error err;
    json_t *body = generic_closed();
    json_t *person = json_object_get(body, "person");
    json_t *event = NULL, *attributes;

    json_object_set_new(person, "last_name", json_null());
    json_object_set_new(person, "phone", json_null());
    assert_int_equal(generic_event_build(body, &event, &err), 0);
    assert_valid(event);
    attributes = json_object_get(event, "attributes");
    assert_true(json_is_null(json_object_get(attributes, "last_name")));
    assert_null(json_object_get(json_object_get(event, "profile"),
                                "phone"));
    json_decref(event);
    json_decref(body);
}


static void
test_generic_errors(void **state)
{
    struct crier_input_error err;
    json_t *event = NULL;
    json_t *body = generic_closed();

    json_object_set_new(body, "event", json_string("case.reopened"));
    assert_int_equal(generic_event_build(body, &event, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "event");

    json_object_set_new(body, "event", json_string("case.closed"));
    json_object_set_new(body, "profile", json_object());
    assert_int_equal(generic_event_build(body, &event, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "profile");

    json_object_del(body, "profile");
    json_object_del(json_object_get(body, "case"), "id");
    assert_int_equal(generic_event_build(body, &event, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "case.id");

    json_object_set_new(body, "case", json_string("C-1042"));
    assert_int_equal(generic_event_build(body, &event, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "case");
    assert_null(event);
    json_decref(body);
}


static void
test_generic_bad_case_id(void **state)
{
    static const struct {
        const char *id;
        const char *message;
    } cases[] = {
        {"1.5", "must be a non-empty string or a whole number"},
        {"true", "must be a non-empty string or a whole number"},
        {"\"\"", "must be a non-empty string or a whole number"},
        {"{}", "must be a non-empty string or a whole number"},
        {"null", "is required"},
    };
    struct crier_input_error err;
    json_t *event = NULL;
    json_t *body = generic_closed();
    json_t *kase = json_object_get(body, "case");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object_set_new(kase, "id",
                            json_loads(cases[i].id, JSON_DECODE_ANY, NULL));
        assert_int_equal(generic_event_build(body, &event, &err),
                         CRIER_EINVAL);
        assert_string_equal(err.field, "case.id");
        assert_non_null(strstr(err.message, cases[i].message));
    }
    json_object_del(kase, "id");
    assert_int_equal(generic_event_build(body, &event, &err), CRIER_EINVAL);
    assert_non_null(strstr(err.message, "is required"));
    assert_null(event);
    json_decref(body);
}


static void
test_generic_bad_identity(void **state)
{
    struct crier_input_error err;
    json_t *event = NULL;
    json_t *body = generic_closed();

    json_object_set_new(json_object_get(body, "person"), "resident_id",
                        json_true());
    assert_int_equal(generic_event_build(body, &event, &err), CRIER_EINVAL);
    assert_string_equal(err.field, "person.resident_id");
    assert_null(event);
    json_decref(body);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open311_open_record),
        cmocka_unit_test(test_open311_closed_record),
        cmocka_unit_test(test_open311_new_request),
        cmocka_unit_test(test_open311_dedupe_ids),
        cmocka_unit_test(test_open311_requester),
        cmocka_unit_test(test_open311_local_phone),
        cmocka_unit_test(test_open311_number_ids),
        cmocka_unit_test(test_open311_time_out_of_range),
        cmocka_unit_test(test_open311_leap_second),
        cmocka_unit_test(test_open311_array),
        cmocka_unit_test(test_open311_missing_id),
        cmocka_unit_test(test_open311_missing_id_index),
        cmocka_unit_test(test_open311_bad_id),
        cmocka_unit_test(test_open311_bad_time),
        cmocka_unit_test(test_body_not_cases),
        cmocka_unit_test(test_generic_closed),
        cmocka_unit_test(test_generic_derived_type),
        cmocka_unit_test(test_generic_update_without_time),
        cmocka_unit_test(test_generic_null_members),
        cmocka_unit_test(test_generic_errors),
        cmocka_unit_test(test_generic_bad_case_id),
        cmocka_unit_test(test_generic_bad_identity),
    };

    return cmocka_run_group_tests(tests, load_chicago, free_chicago);
}
