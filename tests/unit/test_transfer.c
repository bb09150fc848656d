/*
 * Tests of core/net/transfer.c: libcurl's multi handle driven by the loop.
 *
 * The peer is the core's own HTTP server on the same loop, so a test runs
 * one loop with both ends on it and ends by checking that the loop has no
 * handle left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <uv.h>

#include <crier/error.h>

#include "http/http.h"
#include "net/transfer.h"

struct fixture {
    uv_loop_t loop;
    struct http_server *srv;
    int port;
    struct crier_http_req *held;    /* a request left unanswered */
    int finished;
    CURLcode result;
    long status;
    char body[64];
    size_t body_len;
    int drained;
};


static void
on_hello(void *arg, struct crier_http_req *req)
{
    http_respond(req, 200, "text/plain", "hello", 5);
}


static void
on_hold(void *arg, struct crier_http_req *req)
{
    struct fixture *fx = arg;

    fx->held = req;
}


static size_t
on_write(char *data, size_t size, size_t count, void *arg)
{
    struct fixture *fx = arg;
    size_t n = size * count;

    if (fx->body_len + n < sizeof(fx->body)) {
        memcpy(fx->body + fx->body_len, data, n);
        fx->body_len += n;
    }
    return n;
}


static void
on_done(void *arg, CURL *easy, CURLcode result)
{
    struct fixture *fx = arg;

    fx->finished++;
    fx->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &fx->status);
    curl_easy_cleanup(easy);
}


static int
setup(void **state)
{
    static struct fixture fx;

    memset(&fx, 0, sizeof(fx));
    assert_int_equal(uv_loop_init(&fx.loop), 0);
    assert_int_equal(transfer_init(&fx.loop), 0);
    fx.srv = http_server_new(&fx.loop, NULL);
    assert_non_null(fx.srv);
    assert_int_equal(http_route_add(fx.srv, "GET", "/hello", on_hello, &fx),
                     0);
    assert_int_equal(http_route_add(fx.srv, "GET", "/hold", on_hold, &fx),
                     0);
    assert_int_equal(http_server_listen(fx.srv, "127.0.0.1:0"), 0);
    fx.port = http_server_port(fx.srv);
    *state = &fx;
    return 0;
}


static void
on_drained(void *arg)
{
    struct fixture *fx = arg;

    fx->drained = 1;
}


static int
teardown(void **state)
{
    struct fixture *fx = *state;

    transfer_close();
    http_server_drain(fx->srv, on_drained, fx);
    while (!fx->drained)
        uv_run(&fx->loop, UV_RUN_ONCE);
    http_server_free(fx->srv);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    return 0;
}


static CURL *
easy_for(struct fixture *fx, const char *path)
{
    CURL *easy = curl_easy_init();
    char url[128];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx->port, path);
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, fx);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    return easy;
}


static void
transfer_completes(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(transfer_start(easy_for(fx, "/hello"), on_done, fx), 0);
    assert_int_equal(transfer_active(), 1);
    while (fx->finished == 0)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->finished, 1);
    assert_int_equal(fx->result, CURLE_OK);
    assert_int_equal(fx->status, 200);
    assert_int_equal(fx->body_len, 5);
    assert_memory_equal(fx->body, "hello", 5);
    assert_int_equal(transfer_active(), 0);
}


static void
transfer_many_at_once(void **state)
{
    struct fixture *fx = *state;

    for (int i = 0; i < 10; i++)
        assert_int_equal(transfer_start(easy_for(fx, "/hello"), on_done,
                                        fx), 0);
    while (fx->finished < 10)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->result, CURLE_OK);
    assert_int_equal(transfer_active(), 0);
}


static void
transfer_refused_connection(void **state)
{
    struct fixture *fx = *state;
    CURL *easy = curl_easy_init();

    /* Port 1 on loopback: nothing listens there on a test machine. */
    curl_easy_setopt(easy, CURLOPT_URL, "http://127.0.0.1:1/");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(transfer_start(easy, on_done, fx), 0);
    while (fx->finished == 0)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->result, CURLE_COULDNT_CONNECT);
}


static void
transfer_close_aborts(void **state)
{
    struct fixture *fx = *state;
    CURL *late;

    assert_int_equal(transfer_start(easy_for(fx, "/hold"), on_done, fx), 0);
    while (fx->held == NULL)
        uv_run(&fx->loop, UV_RUN_ONCE);
    assert_int_equal(fx->finished, 0);
    transfer_close();
    assert_int_equal(fx->finished, 1);
    assert_int_equal(fx->result, CURLE_ABORTED_BY_CALLBACK);
    /* After close nothing starts, and the caller keeps its handle. */
    late = curl_easy_init();
    assert_int_equal(transfer_start(late, on_done, fx), CRIER_ECLOSED);
    curl_easy_cleanup(late);
    /* The server still owes the request an answer; the client is gone. */
    http_respond(fx->held, 200, "text/plain", "late", 4);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(transfer_completes, setup, teardown),
        cmocka_unit_test_setup_teardown(transfer_many_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(transfer_refused_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(transfer_close_aborts, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
