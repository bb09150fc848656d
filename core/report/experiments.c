/*
 * The experiments table: for each rule with variants and each goal of its
 * program, every cell's conversion rate and its difference from the
 * baseline (the holdout, or the first variant without one).
 */
#include <string.h>

#include <glib.h>

#include "report/report.h"
#include "rules/rules.h"
#include "server/server.h"


/* Sums the counter `metric` of `rule` and `template_name`. */
static json_int_t
counter(const json_t *messages, const char *rule, const char *template_name,
        const char *metric)
{
    json_int_t sum = 0;
    size_t i;
    json_t *m;

    json_array_foreach(messages, i, m)
        if (!strcmp(json_string_value(json_object_get(m, "rule")), rule) &&
            !strcmp(json_string_value(json_object_get(m, "template")),
                    template_name) &&
            !strcmp(json_string_value(json_object_get(m, "metric")),
                    metric))
            sum += json_integer_value(json_object_get(m, "count"));
    return sum;
}


/* A cell's residents: sent messages, or the holdout's recorded jobs.
 * NOTE: the holdout also counts residents whom consent or a cap would
 * have stopped, so its group is wider than a variant's (see "Reports" in
 * docs/KNOWN_LIMITS.md). */
static json_int_t
cell_assigned(const json_t *messages, const char *rule, const char *cell)
{
    if (strcmp(cell, HOLDOUT_TEMPLATE) == 0)
        return counter(messages, rule, cell, "suppressed:holdout");
    return counter(messages, rule, cell, "sent");
}


/* Appends one row: the cell's rate and, unless it is the baseline, the
 * difference in percentage points with its interval or a note. */
static void
cell_row(json_t *rows, const struct rule *rule, const struct goal *goal,
         const char *cell, const char *baseline, const json_t *messages)
{
    char *metric = g_strdup_printf("converted:%s", goal->name);
    json_int_t n = cell_assigned(messages, rule->name, cell);
    json_int_t c = counter(messages, rule->name, cell, metric);
    json_int_t base_n = cell_assigned(messages, rule->name, baseline);
    json_int_t base_c = counter(messages, rule->name, baseline, metric);
    struct rate_difference d;
    json_t *row;
    json_t *tail;

    row = json_pack("[s,s,s,I,I,o]", rule->name, goal->name, cell, n, c,
                    n > 0 ? json_real(100.0 * c / n) : json_null());
    if (strcmp(cell, baseline) == 0) {
        tail = json_pack("[n,n,n,s]", "baseline");
    } else if (report_rate_compare(c, n, base_c, base_n, &d) != 0) {
        tail = json_pack("[n,n,n,s]", "no data");
    } else {
        tail = json_pack("[f,f,f,s]", 100 * d.difference, 100 * d.low,
                         100 * d.high,
                         d.too_small ? "sample too small" : "");
    }
    json_array_extend(row, tail);
    json_decref(tail);
    json_array_append_new(rows, row);
    g_free(metric);
}


void
report_experiments_build(struct report_table *t,
                         const struct report_options *opt,
                         const json_t *messages)
{
    for (guint i = 0; server.rules && i < server.rules->rules->len; i++) {
        const struct rule *r = g_ptr_array_index(server.rules->rules, i);
        const char *baseline;

        if (r->variants == NULL || r->program == NULL ||
            !report_rule_included(opt, r->name))
            continue;
        baseline = r->holdout > 0
                   ? HOLDOUT_TEMPLATE
                   : g_array_index(r->variants, struct variant,
                                   0).template_name;
        for (guint g = 0; g < server.rules->goals->len; g++) {
            const struct goal *goal = g_ptr_array_index(server.rules->goals,
                                                        g);

            if (goal->program != r->program)
                continue;
            if (r->holdout > 0)
                cell_row(t->rows, r, goal, HOLDOUT_TEMPLATE, baseline,
                         messages);
            for (guint v = 0; v < r->variants->len; v++)
                cell_row(t->rows, r, goal,
                         g_array_index(r->variants, struct variant,
                                       v).template_name,
                         baseline, messages);
        }
    }
}
