/*
 * store_conformance PLUGIN.so: runs the store conformance suite against
 * one store plugin. Cases that need durable storage skip themselves on a
 * store that keeps nothing across restarts.
 */
#include <stdio.h>

#include "store_test.h"

struct testhost_plugin store_plugin;


int
main(int argc, char **argv)
{
    char error[512];
    int failed = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
        return 2;
    }
    if (testhost_plugin_open(argv[1], &store_plugin, error,
                             sizeof(error)) < 0) {
        fprintf(stderr, "store_conformance: %s\n", error);
        return 1;
    }
    if (store_plugin.plugin->kind != CRIER_PLUGIN_STORE) {
        fprintf(stderr, "store_conformance: %s is not a store plugin\n",
                argv[1]);
        return 1;
    }

    failed += _cmocka_run_group_tests("store/events", event_tests,
                                      event_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/profiles", profile_tests,
                                      profile_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/jobs", job_tests,
                                      job_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/outbox", outbox_tests,
                                      outbox_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/claim_send", claim_send_tests,
                                      claim_send_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/history", history_tests,
                                      history_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/consent", consent_tests,
                                      consent_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/related", related_tests,
                                      related_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/erase", erase_tests,
                                      erase_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/expire", expire_tests,
                                      expire_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/segments", segment_tests,
                                      segment_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/topics", topic_tests,
                                      topic_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/recent", recent_tests,
                                      recent_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/scan", scan_tests,
                                      scan_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/schedules", schedule_tests,
                                      schedule_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/journeys", journey_tests,
                                      journey_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/reports", report_tests,
                                      report_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/caps", cap_tests,
                                      cap_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/shared", shared_tests,
                                      shared_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/lifecycle", lifecycle_tests,
                                      lifecycle_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/control", control_tests,
                                      control_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/group", group_tests,
                                      group_test_count, NULL, NULL);
    failed += _cmocka_run_group_tests("store/pace", pace_tests,
                                      pace_test_count, NULL, NULL);
    return failed == 0 ? 0 : 1;
}
