/*
 * GET /v1/reports/{rules|messages|goals|funnel|experiments}: the tables of `crier
 * report` as JSON, behind the admin token. The query takes `since` and
 * `until` (YYYY-MM-DD, UTC, both inclusive) and `program`.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/log.h"
#include "http/http.h"
#include "report/report.h"
#include "server/server.h"

#define REPORTS_PATH "/v1/reports"
#define DAY_MS INT64_C(86400000)

struct report_call {
    struct crier_http_req *req;
    struct report_options opt;
    char *program;              /* owns opt.program */
};


static void
report_call_free(struct report_call *call)
{
    g_free(call->program);
    g_free(call);
}


static void
on_report(void *arg, int status, json_t *result)
{
    struct report_call *call = arg;
    struct report_table *table;

    if (status == CRIER_ECLOSED) {
        admin_respond_error(call->req, 503, NULL, "the server is shutting "
                            "down; try again once it has restarted");
    } else if (status < 0) {
        log_error("admin store call failed", "op=report_read error=%s",
                  crier_strerror(status));
        admin_respond_error(call->req, 500, NULL, "the store failed to "
                            "read; see the server log");
    } else {
        table = report_table_build(&call->opt, result);
        http_respond_json(call->req, 200,
                          json_pack("{s:s,s:o}", "report", call->opt.kind,
                                    "rows", report_table_json(table)));
        report_table_free(table);
    }
    report_call_free(call);
}


/* Reads since, until and program from the query into call->opt. Responds
 * 400 and returns -1 for a bad one. */
static int
report_query(struct report_call *call)
{
    GPtrArray *params = admin_query_parse(http_req_query(call->req));
    int rc = 0;

    if (params == NULL) {
        admin_respond_error(call->req, 400, NULL, "the query has an "
                            "invalid percent-escape");
        return -1;
    }
    for (guint i = 0; rc == 0 && i < params->len; i++) {
        const struct admin_param *param = g_ptr_array_index(params, i);
        int64_t ms;

        if (strcmp(param->name, "program") == 0 && param->value[0]) {
            g_free(call->program);
            call->program = g_strdup(param->value);
            call->opt.program = call->program;
        } else if (strcmp(param->name, "since") == 0 ||
                   strcmp(param->name, "until") == 0) {
            rc = report_date_parse(param->value, &ms);
            if (rc != 0)
                admin_respond_error(call->req, 400, param->name,
                                    "must be a date: YYYY-MM-DD");
            else if (param->name[0] == 's')
                call->opt.since = ms;
            else
                call->opt.until = ms + DAY_MS;
        } else {
            admin_respond_error(call->req, 400, param->name, "unknown "
                                "query parameter; use since, until or "
                                "program");
            rc = -1;
        }
    }
    g_ptr_array_free(params, TRUE);
    return rc;
}


static void
on_report_path(void *arg, struct crier_http_req *req)
{
    const char *kind = http_req_path(req) + strlen(REPORTS_PATH "/");
    struct report_call *call;
    json_t *request;
    int rc;

    if (!admin_authorize_reports(req))
        return;
    if (!report_kind_valid(kind)) {
        admin_respond_error(req, 404, NULL, "report not found; use rules, "
                            "messages, goals, funnel or experiments");
        return;
    }
    if (!STORE_HAS_OP(report_read)) {
        admin_respond_error(req, 501, NULL, "the store plugin does not "
                            "implement report_read");
        return;
    }
    call = g_new0(struct report_call, 1);
    call->req = req;
    call->opt.kind = kind;
    call->opt.until = REPORT_UNTIL_MAX;
    if (report_query(call) != 0) {
        report_call_free(call);
        return;
    }
    request = report_request_build(&call->opt);
    rc = server.store_ops->report_read(server.store->state, request,
                                       on_report, call);
    json_decref(request);
    if (rc < 0)
        on_report(call, rc, NULL);
}


int
admin_report_routes_add(struct http_server *http)
{
    return http_route_add(http, "GET", REPORTS_PATH "/*", on_report_path,
                          NULL);
}
