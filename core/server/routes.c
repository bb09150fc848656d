#include "server/routes.h"

#include <string.h>

#include "admin/admin.h"
#include "base/clock.h"
#include "base/log.h"
#include "bulletins/bulletins.h"
#include "dashboard/dashboard.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "server/reload.h"
#include "server/server.h"
#include "topics/pages.h"
#include "topics/topics.h"


static void
answer_error(struct crier_http_req *req, int status, const char *field,
             const char *message)
{
    json_t *body = json_pack("{s:s}", "error", message);

    if (field != NULL)
        json_object_set_new(body, "field", json_string(field));
    http_respond_json(req, status, body);
}


static void
on_healthz(void *arg, struct crier_http_req *req)
{
    http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}


static void
on_readyz(void *arg, struct crier_http_req *req)
{
    ready_respond(req);
}


static int
clock_target(json_t *body, int64_t *target, const char **field)
{
    json_t *now = json_object_get(body, "now");
    json_t *advance = json_object_get(body, "advance");
    int64_t step;

    if ((now == NULL) == (advance == NULL)) {
        *field = "now";
        return CRIER_EINVAL;
    }
    if (now != NULL) {
        *field = "now";
        return json_is_string(now) &&
               clock_parse_rfc3339(json_string_value(now), target) == 0
               ? 0 : CRIER_EINVAL;
    }
    *field = "advance";
    if (!json_is_string(advance) ||
        clock_parse_duration(json_string_value(advance), &step) != 0)
        return CRIER_EINVAL;
    *target = clock_now_ms() + step;
    return 0;
}


/* POST /v1/test/clock {"now": "RFC 3339"} or {"advance": "36h"}. Only
 * routed under clock = "test". */
static void
on_test_clock(void *arg, struct crier_http_req *req)
{
    json_t *body;
    const char *field = "now";
    int64_t target;
    char when[32];

    if (admin_body_load(req, 0, &body) != 0)
        return;
    if (!json_is_object(body)) {
        json_decref(body);
        answer_error(req, 400, NULL, "the body must be a JSON object");
        return;
    }
    if (clock_target(body, &target, &field) != 0) {
        json_decref(body);
        answer_error(req, 400, field, "give either \"now\" as an RFC 3339 "
                     "timestamp or \"advance\" as a duration such as "
                     "\"36h\"");
        return;
    }
    json_decref(body);
    if (clock_set_ms(target) != 0) {
        answer_error(req, 400, field, "the test clock cannot go back");
        return;
    }
    clock_format_ms(target, when, sizeof(when));
    log_info("test clock moved", "now=%s", when);
    http_respond_json(req, 200, json_pack("{s:s}", "now", when));
}


/* Renders the metrics once the store has counted the jobs by state; a
 * failed count leaves the gauge out rather than failing the scrape. */
static void
on_job_counts(void *arg, int status, json_t *result)
{
    struct crier_http_req *req = arg;
    GString *body = g_string_new(NULL);

    if (status != 0)
        metrics_count("crier_plugin_errors_total", "plugin", "store", 1);
    metrics_render(body, status == 0 ? json_object_get(result, "counts")
                                     : NULL);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                 body->str, body->len);
    g_string_free(body, TRUE);
}


/* GET /metrics, open like /healthz: counts and latencies only, nothing
 * about a resident. */
static void
on_metrics(void *arg, struct crier_http_req *req)
{
    json_t *request = json_pack("{s:i}", "limit", 1);
    int rc = server.store_ops->jobs_list(server.store->state, request,
                                         on_job_counts, req);

    json_decref(request);
    if (rc != 0)
        on_job_counts(req, rc, NULL);
}


int
routes_add_core(struct http_server *http)
{
    int rc = http_route_add(http, "GET", "/healthz", on_healthz, NULL);

    if (rc == 0)
        rc = http_route_add(http, "GET", "/metrics", on_metrics, NULL);
    if (rc == 0)
        rc = http_route_add(http, "GET", "/readyz", on_readyz, NULL);
    if (rc == 0)
        rc = admin_routes_add(http);
    if (rc == 0)
        rc = admin_merge_routes_add(http);
    if (rc == 0)
        rc = admin_update_routes_add(http);
    if (rc == 0)
        rc = admin_import_routes_add(http);
    if (rc == 0)
        rc = admin_segment_routes_add(http);
    if (rc == 0)
        rc = admin_template_routes_add(http);
    if (rc == 0)
        rc = admin_message_routes_add(http);
    if (rc == 0)
        rc = admin_report_routes_add(http);
    if (rc == 0)
        rc = admin_pause_routes_add(http);
    if (rc == 0)
        rc = admin_audit_routes_add(http);
    if (rc == 0)
        rc = topic_routes_add(http);
    if (rc == 0)
        rc = bulletin_routes_add(http);
    if (rc == 0)
        rc = page_routes_add(http);
    if (rc == 0)
        rc = dashboard_routes_add(http);
    if (rc == 0)
        rc = reload_route_add(http);
    if (rc == 0 && server.settings.test_clock)
        rc = http_route_add(http, "POST", "/v1/test/clock", on_test_clock,
                            NULL);
    return rc;
}
