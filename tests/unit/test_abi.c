/*
 * The plugin ABI's layout. Plugins built against an older SDK read these
 * structures at these offsets, so a change here breaks them: new members
 * go at the end of a structure, with CRIER_ABI_MINOR raised, and this test
 * grows with them. A test that fails here means a member moved.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crier/crier.h>

#define PTR sizeof(void *)
#define HEAD (2 * sizeof(uint32_t))     /* size and minor */


static void
abi_versions(void **state)
{
    assert_int_equal(CRIER_ABI_VERSION, 1);
    assert_true(CRIER_ABI_MINOR >= 0);
}


static void
abi_descriptor_layout(void **state)
{
    assert_int_equal(offsetof(struct crier_plugin, abi_version), 0);
    assert_int_equal(offsetof(struct crier_plugin, abi_minor), 4);
    assert_int_equal(offsetof(struct crier_plugin, kind), 8);
    assert_int_equal(offsetof(struct crier_plugin, name), 16);
    assert_int_equal(offsetof(struct crier_plugin, version), 16 + PTR);
    assert_int_equal(offsetof(struct crier_plugin, summary), 16 + 2 * PTR);
    assert_int_equal(offsetof(struct crier_plugin, init), 16 + 3 * PTR);
    assert_int_equal(offsetof(struct crier_plugin, start), 16 + 4 * PTR);
    assert_int_equal(offsetof(struct crier_plugin, stop), 16 + 5 * PTR);
    assert_int_equal(offsetof(struct crier_plugin, destroy), 16 + 6 * PTR);
    assert_int_equal(offsetof(struct crier_plugin, ops), 16 + 7 * PTR);
}


/* Minor 0: every entry of the host table, in order. */
static void
abi_host_layout(void **state)
{
    assert_int_equal(offsetof(struct crier_host, size), 0);
    assert_int_equal(offsetof(struct crier_host, minor), 4);
    assert_int_equal(offsetof(struct crier_host, log_enabled),
                     HEAD + 0 * PTR);
    assert_int_equal(offsetof(struct crier_host, log),
                     HEAD + 1 * PTR);
    assert_int_equal(offsetof(struct crier_host, config_error),
                     HEAD + 2 * PTR);
    assert_int_equal(offsetof(struct crier_host, resolve_path),
                     HEAD + 3 * PTR);
    assert_int_equal(offsetof(struct crier_host, public_url),
                     HEAD + 4 * PTR);
    assert_int_equal(offsetof(struct crier_host, instance_name),
                     HEAD + 5 * PTR);
    assert_int_equal(offsetof(struct crier_host, loop),
                     HEAD + 6 * PTR);
    assert_int_equal(offsetof(struct crier_host, now_ms),
                     HEAD + 7 * PTR);
    assert_int_equal(offsetof(struct crier_host, timer_start),
                     HEAD + 8 * PTR);
    assert_int_equal(offsetof(struct crier_host, timer_stop),
                     HEAD + 9 * PTR);
    assert_int_equal(offsetof(struct crier_host, route_add),
                     HEAD + 10 * PTR);
    assert_int_equal(offsetof(struct crier_host, req_method),
                     HEAD + 11 * PTR);
    assert_int_equal(offsetof(struct crier_host, req_path),
                     HEAD + 12 * PTR);
    assert_int_equal(offsetof(struct crier_host, req_query),
                     HEAD + 13 * PTR);
    assert_int_equal(offsetof(struct crier_host, req_header),
                     HEAD + 14 * PTR);
    assert_int_equal(offsetof(struct crier_host, req_body),
                     HEAD + 15 * PTR);
    assert_int_equal(offsetof(struct crier_host, req_peer),
                     HEAD + 16 * PTR);
    assert_int_equal(offsetof(struct crier_host, resp_header),
                     HEAD + 17 * PTR);
    assert_int_equal(offsetof(struct crier_host, respond),
                     HEAD + 18 * PTR);
    assert_int_equal(offsetof(struct crier_host, respond_json),
                     HEAD + 19 * PTR);
    assert_int_equal(offsetof(struct crier_host, emit),
                     HEAD + 20 * PTR);
    assert_int_equal(offsetof(struct crier_host, transfer_start),
                     HEAD + 21 * PTR);
    assert_int_equal(offsetof(struct crier_host, cursor_get),
                     HEAD + 22 * PTR);
    assert_int_equal(offsetof(struct crier_host, cursor_set),
                     HEAD + 23 * PTR);
    assert_int_equal(offsetof(struct crier_host, schedule_add),
                     HEAD + 24 * PTR);
    assert_int_equal(offsetof(struct crier_host, schedules_fire),
                     HEAD + 25 * PTR);
    assert_int_equal(offsetof(struct crier_host, listen_is_loopback),
                     HEAD + 26 * PTR);
    assert_int_equal(offsetof(struct crier_host, pace_acquire),
                     HEAD + 27 * PTR);
    assert_int_equal(offsetof(struct crier_host, pace_release),
                     HEAD + 28 * PTR);
    assert_int_equal(sizeof(struct crier_host), HEAD + 29 * PTR);
}


static void
abi_channel_layout(void **state)
{
    assert_int_equal(offsetof(struct crier_channel_ops, size), 0);
    assert_int_equal(offsetof(struct crier_channel_ops, address_kind), PTR);
    assert_int_equal(offsetof(struct crier_channel_ops, send), 2 * PTR);

    assert_int_equal(offsetof(struct crier_message, size), 0);
    assert_int_equal(offsetof(struct crier_message, job_id), 8);
    assert_int_equal(offsetof(struct crier_message, attempt), 16);
    assert_int_equal(offsetof(struct crier_message, key), 24);
    assert_int_equal(offsetof(struct crier_message, message_id), 24 + PTR);
    assert_int_equal(offsetof(struct crier_message, rule), 24 + 2 * PTR);
    assert_int_equal(offsetof(struct crier_message, to), 24 + 3 * PTR);
    assert_int_equal(offsetof(struct crier_message, subject), 24 + 4 * PTR);
    assert_int_equal(offsetof(struct crier_message, text), 24 + 5 * PTR);
    assert_int_equal(offsetof(struct crier_message, html), 24 + 6 * PTR);
    assert_int_equal(offsetof(struct crier_message, profile), 24 + 7 * PTR);
    assert_int_equal(offsetof(struct crier_message, message_class),
                     24 + 8 * PTR);
    assert_int_equal(offsetof(struct crier_message, hand_over_by_ms),
                     24 + 9 * PTR);

    assert_int_equal(offsetof(struct crier_send_result, outcome), 0);
    assert_int_equal(offsetof(struct crier_send_result, provider_id), 8);
    assert_int_equal(offsetof(struct crier_send_result, detail), 8 + PTR);
    assert_int_equal(offsetof(struct crier_send_result, retry_after_ms),
                     8 + 2 * PTR);
    assert_int_equal(offsetof(struct crier_send_result, address_invalid),
                     16 + 2 * PTR);
}


/* The store table is frozen: every operation keeps its place, so that a
 * plugin built against an older table lines up with the core's. */
static void
abi_store_layout(void **state)
{
    static const size_t offsets[] = {
        offsetof(struct crier_store_ops, append),
        offsetof(struct crier_store_ops, events_read),
        offsetof(struct crier_store_ops, cursor_get),
        offsetof(struct crier_store_ops, profiles_load),
        offsetof(struct crier_store_ops, commit),
        offsetof(struct crier_store_ops, jobs_claim),
        offsetof(struct crier_store_ops, job_update),
        offsetof(struct crier_store_ops, jobs_list),
        offsetof(struct crier_store_ops, profile_get),
        offsetof(struct crier_store_ops, timeline),
        offsetof(struct crier_store_ops, profile_erase),
        offsetof(struct crier_store_ops, events_expire),
        offsetof(struct crier_store_ops, segment_count),
        offsetof(struct crier_store_ops, segment_members),
        offsetof(struct crier_store_ops, events_recent),
        offsetof(struct crier_store_ops, profiles_scan),
        offsetof(struct crier_store_ops, jobs_sent_count),
        offsetof(struct crier_store_ops, job_retry),
        offsetof(struct crier_store_ops, address_invalidate),
        offsetof(struct crier_store_ops, schedules_claim),
        offsetof(struct crier_store_ops, schedules_advance),
        offsetof(struct crier_store_ops, report_read),
        offsetof(struct crier_store_ops, journeys_read),
        offsetof(struct crier_store_ops, journeys_due),
        offsetof(struct crier_store_ops, pause_set),
        offsetof(struct crier_store_ops, pauses_read),
        offsetof(struct crier_store_ops, audit_append),
        offsetof(struct crier_store_ops, audit_list),
        offsetof(struct crier_store_ops, backup),
        offsetof(struct crier_store_ops, subscription_set),
        offsetof(struct crier_store_ops, subscriptions_read),
        offsetof(struct crier_store_ops, object_put),
        offsetof(struct crier_store_ops, objects_read),
        offsetof(struct crier_store_ops, jobs_tally),
        offsetof(struct crier_store_ops, schema_status),
        offsetof(struct crier_store_ops, job_sending_capped),
        offsetof(struct crier_store_ops, pace_acquire),
        offsetof(struct crier_store_ops, pace_release),
    };

    assert_int_equal(offsetof(struct crier_store_ops, size), 0);
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
        assert_int_equal(offsets[i], (i + 1) * PTR);
    assert_int_equal(sizeof(struct crier_store_ops),
                     (sizeof(offsets) / sizeof(offsets[0]) + 1) * PTR);
}


static void
abi_input_error_layout(void **state)
{
    assert_int_equal(offsetof(struct crier_input_error, message), 0);
    assert_int_equal(offsetof(struct crier_input_error, field), 192);
    assert_int_equal(offsetof(struct crier_input_error, index), 288);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(abi_versions),
        cmocka_unit_test(abi_descriptor_layout),
        cmocka_unit_test(abi_host_layout),
        cmocka_unit_test(abi_channel_layout),
        cmocka_unit_test(abi_store_layout),
        cmocka_unit_test(abi_input_error_layout),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
