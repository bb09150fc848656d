/*
 * The pieces a reload relies on: routes removed by their owner, so that a
 * replacement instance can add the same paths, and schedule definitions
 * kept, undone or removed by source around the new instances' init.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <crier/error.h>

#include "http/http_int.h"
#include "schedule/schedule.h"


static void
on_route(void *arg, struct crier_http_req *req)
{
}


static void
on_drained(void *arg)
{
    *(int *) arg = 1;
}


static void
routes_removed_by_owner(void **state)
{
    struct http_limits limits = { 0 };
    uv_loop_t loop;
    struct http_server *srv;
    int old_owner, new_owner, drained = 0;

    uv_loop_init(&loop);
    srv = http_server_new(&loop, &limits);
    assert_non_null(srv);
    assert_int_equal(http_route_add(srv, "GET", "/healthz", on_route, NULL),
                     0);
    assert_int_equal(http_route_add_owned(srv, &old_owner, "POST",
                                          "/v1/events", on_route, NULL), 0);
    assert_int_equal(http_route_add_owned(srv, &old_owner, "GET", "/c/*",
                                          on_route, NULL), 0);
    assert_int_equal(http_route_add_owned(srv, &new_owner, "POST",
                                          "/v1/events", on_route, NULL),
                     CRIER_EEXIST);

    assert_int_equal(http_routes_remove(srv, &old_owner), 2);
    assert_int_equal(srv->route_count, 1);
    assert_string_equal(srv->routes[0].path, "/healthz");
    assert_int_equal(http_route_add_owned(srv, &new_owner, "POST",
                                          "/v1/events", on_route, NULL), 0);

    /* Routes without an owner are never removed. */
    assert_int_equal(http_routes_remove(srv, NULL), 0);
    assert_int_equal(http_routes_remove(srv, &old_owner), 0);
    assert_int_equal(srv->route_count, 2);

    http_server_drain(srv, on_drained, &drained);
    while (!drained)
        uv_run(&loop, UV_RUN_ONCE);
    http_server_free(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
}


static void
define(const char *source, const char *name)
{
    struct crier_input_error err;
    char text[128];
    json_t *config;

    snprintf(text, sizeof(text), "{\"name\": \"%s\", \"date\": "
             "\"profile.x\", \"at\": \"09:00\"}", name);
    config = json_loads(text, 0, NULL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(schedule_define(source, config, &err), 0);
    json_decref(config);
}


static void
schedule_defs_reload_steps(void **state)
{
    GPtrArray *detached = g_ptr_array_new();
    guint before;

    define("dates", "a");
    define("other", "b");

    /* A failed reload: the new instance of "dates" defines "a" again
     * while the old one's are detached, then all of it is undone. */
    schedule_defs_detach("dates", detached);
    assert_int_equal(detached->len, 1);
    before = schedule_defs_count();
    assert_int_equal(before, 1);
    assert_null(schedule_find("dates", "a"));
    define("dates", "a");
    define("dates", "a2");
    schedule_defs_truncate(before);
    schedule_defs_attach(detached);
    assert_int_equal(detached->len, 0);
    assert_int_equal(schedule_defs_count(), 2);
    assert_null(schedule_find("dates", "a2"));
    assert_non_null(schedule_find("dates", "a"));

    /* A good one retires the old definitions and keeps the new. */
    schedule_defs_detach("dates", detached);
    define("dates", "a");
    define("dates", "c");
    schedule_defs_retire(detached);
    assert_int_equal(detached->len, 0);
    assert_int_equal(schedule_defs_count(), 3);
    assert_non_null(schedule_find("other", "b"));
    assert_non_null(schedule_find("dates", "a"));
    assert_non_null(schedule_find("dates", "c"));
    schedule_defs_clear();
    assert_int_equal(schedule_defs_count(), 0);
    g_ptr_array_free(detached, TRUE);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_removed_by_owner),
        cmocka_unit_test(schedule_defs_reload_steps),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
