/*
 * The store conformance suite: the same cases against every store plugin.
 *
 * main.c loads the plugin named on the command line. Each case gets a
 * fresh folder, a fresh testhost and, unless it sets up its own, a started
 * store. The helpers below call one operation and run the loop until its
 * callback. They fail the case when a callback runs inside the call that
 * queued it.
 */
#ifndef CRIER_STORE_TEST_H
#define CRIER_STORE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "testhost.h"

/* The time a case may wait for one callback, in milliseconds. */
#define WAIT_TIMEOUT_MS 20000

/* The plugin under test, loaded once by main. */
extern struct testhost_plugin store_plugin;

struct fixture {
    struct testhost th;
    char folder[PATH_MAX];
    const struct crier_store_ops *ops;
    void *store;              /* the running instance, or NULL */
};

typedef int (*store_json_fn)(void *store, json_t *request,
                             crier_store_cb done, void *arg);

/* cmocka setups: with a started store, or with a folder and host only. */
int fixture_setup(void **state);
int fixture_setup_bare(void **state);
int fixture_teardown(void **state);

/* Returns nonzero when the store keeps data across restarts. */
int store_durable(void);

/* Returns nonzero when the store is one file that backup can copy. */
int store_has_file(void);

/* Returns nonzero when several nodes share the store, which then honors
 * leases on journey rows. */
int store_shared(void);

/* Opens a second instance of the plugin under test on the same data, as
 * another node would, and closes it. Only for a store_shared() store. */
void *store_second_open(struct fixture *f);
void store_second_close(struct fixture *f, void *store);

/* Returns the config block of the plugin under test, for init. */
json_t *store_config(void);

/* Runs the plugin's init and start with `config` (taken over). */
int store_open(struct fixture *f, json_t *config);

/* Stops the store and waits until the stop has finished. */
void store_stop(struct fixture *f);

/* Stops the store, waits, and destroys it. */
void store_close(struct fixture *f);

/* Builds an event record whose strings must outlive the call. */
struct crier_event_rec event_rec(const char *source, const char *id,
                                 const char *type, int64_t time_ms,
                                 const char *json);

int append_wait(struct fixture *f, const struct crier_event_rec *events,
                size_t n, size_t *accepted, size_t *duplicates);
int events_read_wait(struct fixture *f, int64_t after_seq, size_t limit,
                     json_t **result);
int cursor_get_wait(struct fixture *f, const char *name, json_t **result);

/*
 * Calls a JSON operation with `request`, which it takes over, and waits. A
 * NULL request (a failed json_pack) fails the case. *result receives a
 * reference, or NULL on error. Returns the status of the call or of the
 * callback.
 */
int json_wait(struct fixture *f, store_json_fn op, json_t *request,
              json_t **result);

/* Like json_wait, but asserts success and returns the result. */
json_t *json_ok(struct fixture *f, store_json_fn op, json_t *request);

/* Returns the integer member `key`, failing the case when it is missing. */
int64_t member_int(const json_t *object, const char *key);

/* Returns the string member `key`, or NULL when it is null or missing. */
const char *member_str(const json_t *object, const char *key);

/* Commits one planned job with the given key, rule and due time. */
void job_plan_commit(struct fixture *f, const char *key, const char *rule,
                     int64_t due);

/* Claims jobs at `now` and returns the "jobs" array (a new reference). */
json_t *jobs_claim_at(struct fixture *f, int64_t now, int limit,
                      int64_t lease_ms);

/* Lists every job and returns the result object. */
json_t *jobs_list_all(struct fixture *f);

/* A case on a fresh, started store. */
#define CASE(name)                                                          \
    cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)

/* A case that opens its own store, if any. */
#define BARE_CASE(name)                                                     \
    cmocka_unit_test_setup_teardown(name, fixture_setup_bare,               \
                                    fixture_teardown)

extern const struct CMUnitTest event_tests[];
extern const size_t event_test_count;
extern const struct CMUnitTest profile_tests[];
extern const size_t profile_test_count;
extern const struct CMUnitTest job_tests[];
extern const size_t job_test_count;
extern const struct CMUnitTest outbox_tests[];
extern const size_t outbox_test_count;
extern const struct CMUnitTest claim_send_tests[];
extern const size_t claim_send_test_count;
extern const struct CMUnitTest history_tests[];
extern const size_t history_test_count;
extern const struct CMUnitTest consent_tests[];
extern const size_t consent_test_count;
extern const struct CMUnitTest related_tests[];
extern const size_t related_test_count;
extern const struct CMUnitTest erase_tests[];
extern const size_t erase_test_count;
extern const struct CMUnitTest expire_tests[];
extern const size_t expire_test_count;
extern const struct CMUnitTest segment_tests[];
extern const size_t segment_test_count;
extern const struct CMUnitTest topic_tests[];
extern const size_t topic_test_count;
extern const struct CMUnitTest recent_tests[];
extern const size_t recent_test_count;
extern const struct CMUnitTest scan_tests[];
extern const size_t scan_test_count;
extern const struct CMUnitTest schedule_tests[];
extern const size_t schedule_test_count;
extern const struct CMUnitTest journey_tests[];
extern const size_t journey_test_count;
extern const struct CMUnitTest report_tests[];
extern const size_t report_test_count;
extern const struct CMUnitTest cap_tests[];
extern const size_t cap_test_count;
extern const struct CMUnitTest shared_tests[];
extern const size_t shared_test_count;
extern const struct CMUnitTest lifecycle_tests[];
extern const size_t lifecycle_test_count;
extern const struct CMUnitTest control_tests[];
extern const size_t control_test_count;
extern const struct CMUnitTest group_tests[];
extern const size_t group_test_count;
extern const struct CMUnitTest pace_tests[];
extern const size_t pace_test_count;

#endif
