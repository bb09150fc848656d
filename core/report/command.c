/*
 * `crier report [rules|messages|goals|funnel]`: tables built from the
 * store's report counters, read offline (docs/reports.md).
 */
#include "report/report.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "journeys/journeys.h"
#include "rules/rules.h"
#include "server/server.h"

#define DAY_MS INT64_C(86400000)

struct report_run {
    json_t *request;
    json_t *result;
    int status;
};


static void
on_report(void *arg, int status, json_t *result)
{
    struct report_run *run = arg;

    run->status = status;
    if (status == 0)
        run->result = json_incref(result);
    server_stop_offline();
}


static void
on_started(void *arg)
{
    struct report_run *run = arg;
    int rc = server.store_ops->report_read(server.store->state, run->request,
                                           on_report, run);

    if (rc < 0) {
        run->status = rc;
        server_stop_offline();
    }
}


int
report_date_parse(const char *text, int64_t *ms)
{
    int year, month, day;
    char extra;
    GDateTime *dt;

    if (sscanf(text, "%4d-%2d-%2d%c", &year, &month, &day, &extra) != 3)
        return -1;
    dt = g_date_time_new_utc(year, month, day, 0, 0, 0);
    if (dt == NULL)
        return -1;
    *ms = g_date_time_to_unix(dt) * 1000;
    g_date_time_unref(dt);
    return 0;
}


/* Returns the program of journey `j` or NULL. */
static const char *
journey_program(const struct journey *j)
{
    return j != NULL && j->program != NULL ? j->program->name : NULL;
}


/*
 * Returns the program of rule `name`, or NULL. A journey's send steps
 * count under the rule name "journey:<journey>/<step>" and have the
 * journey's program.
 */
static const char *
rule_program(const char *name)
{
    if (g_str_has_prefix(name, "journey:") && server.rules != NULL) {
        const char *start = name + strlen("journey:");
        const char *slash = strchr(start, '/');
        char *journey = slash ? g_strndup(start, (gsize) (slash - start))
                              : NULL;
        const char *program = journey
            ? journey_program(journey_find(server.rules->journeys, journey))
            : NULL;

        g_free(journey);
        return program;
    }
    for (guint i = 0; server.rules && i < server.rules->rules->len; i++) {
        const struct rule *r = g_ptr_array_index(server.rules->rules, i);

        if (strcmp(r->name, name) == 0)
            return r->program ? r->program->name : NULL;
    }
    return NULL;
}


static int
options_parse(struct report_options *opt, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "--json") == 0)
            opt->format = REPORT_JSON;
        else if (strcmp(arg, "--csv") == 0)
            opt->format = REPORT_CSV;
        else if (strcmp(arg, "--program") == 0 && value != NULL)
            opt->program = argv[++i];
        else if ((strcmp(arg, "--since") == 0 ||
                  strcmp(arg, "--until") == 0) && value != NULL) {
            int64_t ms;

            if (report_date_parse(value, &ms) != 0) {
                fprintf(stderr, "crier: invalid date for %s: \"%s\"; use "
                        "YYYY-MM-DD\n", arg, value);
                return -1;
            }
            if (arg[2] == 's')
                opt->since = ms;
            else
                opt->until = ms + DAY_MS;   /* --until is inclusive */
            i++;
        } else if (arg[0] != '-' && opt->kind == NULL)
            opt->kind = arg;
        else {
            fprintf(stderr, "crier: invalid report argument \"%s\"\n", arg);
            return -1;
        }
    }
    if (opt->kind == NULL)
        opt->kind = "rules";
    if (!report_kind_valid(opt->kind)) {
        fprintf(stderr, "crier: unknown report \"%s\"; use rules, messages, "
                "goals, funnel or experiments\n", opt->kind);
        return -1;
    }
    return 0;
}


int
report_kind_valid(const char *kind)
{
    return strcmp(kind, "rules") == 0 || strcmp(kind, "messages") == 0 ||
           strcmp(kind, "goals") == 0 || strcmp(kind, "funnel") == 0 ||
           strcmp(kind, "experiments") == 0;
}


json_t *
report_request_build(const struct report_options *opt)
{
    return json_pack("{s:I,s:I,s:s?}", "since", (json_int_t) opt->since,
                     "until", (json_int_t) opt->until, "program",
                     opt->program);
}


int
report_rule_included(const struct report_options *opt, const char *rule)
{
    const char *program;

    if (opt->program == NULL)
        return 1;
    program = rule_program(rule);
    return program != NULL && strcmp(program, opt->program) == 0;
}


int
report_command(int argc, char **argv)
{
    struct report_options opt = { NULL, NULL, 0, REPORT_UNTIL_MAX,
                                  REPORT_TABLE };
    struct report_run run = { NULL, NULL, 0 };
    struct report_table *table;
    const struct crier_store_ops *ops = server.store_ops;
    int rc;

    if (options_parse(&opt, argc, argv) != 0)
        return 64;
    if (ops == NULL || ops->size < offsetof(struct crier_store_ops,
                                            report_read) +
                                   sizeof(ops->report_read) ||
        ops->report_read == NULL) {
        fprintf(stderr, "crier: the store plugin \"%s\" does not implement "
                "report_read\n", server.store->desc->name);
        return 2;
    }
    run.request = report_request_build(&opt);
    rc = server_run_offline(on_started, &run);
    json_decref(run.request);
    if (rc == CRIER_EBUSY) {
        fprintf(stderr, "crier: the database is in use by another crier "
                "process, such as a running server; stop it, or read the "
                "report from that server with GET /v1/reports/%s\n",
                opt.kind);
        return 2;
    }
    if (rc != 0) {
        fprintf(stderr, "crier: the store could not start: %s\n",
                crier_strerror(rc));
        return 2;
    }
    if (run.status != 0) {
        fprintf(stderr, "crier: the store failed to read the report: %s\n",
                crier_strerror(run.status));
        return 1;
    }
    table = report_table_build(&opt, run.result);
    report_table_print(table, opt.format, stdout);
    report_table_free(table);
    json_decref(run.result);
    return 0;
}
