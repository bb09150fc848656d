/* The tables of `crier report`, built from a report_read result. */
#include <string.h>

#include <glib.h>

#include "report/report.h"
#include "rules/rules.h"
#include "server/server.h"

/* The counters of the rules table, in column order after RULE. */
static const char *const rule_metrics[] = {
    "planned", "sent", "failed", "dead", "suppressed", "opened",
    "opened_bot", "clicked", "clicked_bot", "unsubscribed", "converted",
    "delivered", "bounced", "complained", NULL
};


static struct report_table *
table_new(const char *const *columns)
{
    struct report_table *t = g_new0(struct report_table, 1);

    t->columns = json_array();
    t->rows = json_array();
    for (size_t i = 0; columns[i] != NULL; i++)
        json_array_append_new(t->columns, json_string(columns[i]));
    return t;
}


void
report_table_free(struct report_table *table)
{
    if (table == NULL)
        return;
    json_decref(table->columns);
    json_decref(table->rows);
    g_free(table);
}


/* Returns the rules table's column of `metric`: suppressed counters
 * ("suppressed:<reason>") and conversions ("converted:<goal>") are
 * summed, each in one column. */
static int
rule_column(const char *metric)
{
    for (int i = 0; rule_metrics[i] != NULL; i++) {
        size_t len = strlen(rule_metrics[i]);

        if (strcmp(metric, rule_metrics[i]) == 0 ||
            (strncmp(metric, rule_metrics[i], len) == 0 &&
             metric[len] == ':'))
            return i + 1;
    }
    return -1;
}


static void
rules_build(struct report_table *t, const struct report_options *opt,
            const json_t *messages)
{
    json_t *row = NULL;
    const char *current = NULL;
    size_t i;
    json_t *m;

    json_array_foreach(messages, i, m) {
        const char *rule = json_string_value(json_object_get(m, "rule"));
        int col = rule_column(json_string_value(json_object_get(m,
                                                               "metric")));
        json_int_t count = json_integer_value(json_object_get(m, "count"));

        if (!report_rule_included(opt, rule) || col < 0)
            continue;
        if (current == NULL || strcmp(current, rule) != 0) {
            row = json_pack("[s]", rule);
            for (int c = 0; rule_metrics[c] != NULL; c++)
                json_array_append_new(row, json_integer(0));
            json_array_append_new(t->rows, row);
            current = rule;
        }
        json_array_set_new(row, col, json_integer(
            json_integer_value(json_array_get(row, col)) + count));
    }
}


static void
messages_build(struct report_table *t, const struct report_options *opt,
               const json_t *messages)
{
    size_t i;
    json_t *m;

    json_array_foreach(messages, i, m) {
        if (!report_rule_included(opt, json_string_value(
                json_object_get(m, "rule"))))
            continue;
        json_array_append_new(t->rows,
            json_pack("[O,O,O,O,O]", json_object_get(m, "rule"),
                      json_object_get(m, "template"),
                      json_object_get(m, "channel"),
                      json_object_get(m, "metric"),
                      json_object_get(m, "count")));
    }
}


/* Sums the rule's "sent" counters. */
static json_int_t
rule_sent(const json_t *messages, const char *rule)
{
    json_int_t sent = 0;
    size_t i;
    json_t *m;

    json_array_foreach(messages, i, m)
        if (strcmp(json_string_value(json_object_get(m, "rule")), rule) == 0
            && strcmp(json_string_value(json_object_get(m, "metric")),
                      "sent") == 0)
            sent += json_integer_value(json_object_get(m, "count"));
    return sent;
}


/* One row per goal and rule that the goal credited: conversions, sent
 * messages and the rate in percent (null when nothing was sent). */
static void
goals_build(struct report_table *t, const struct report_options *opt,
            const json_t *messages)
{
    size_t i;
    json_t *m;

    json_array_foreach(messages, i, m) {
        const char *rule = json_string_value(json_object_get(m, "rule"));
        const char *metric = json_string_value(json_object_get(m,
                                                              "metric"));
        json_int_t count = json_integer_value(json_object_get(m, "count"));
        json_int_t sent;
        json_t *last;

        if (strncmp(metric, "converted:", 10) != 0 ||
            !report_rule_included(opt, rule))
            continue;
        /* Rows of one goal and rule over several templates add up. */
        last = json_array_get(t->rows, json_array_size(t->rows) - 1);
        if (last != NULL &&
            strcmp(json_string_value(json_array_get(last, 0)),
                   metric + 10) == 0 &&
            strcmp(json_string_value(json_array_get(last, 1)), rule) == 0) {
            count += json_integer_value(json_array_get(last, 2));
            json_array_remove(t->rows, json_array_size(t->rows) - 1);
        }
        sent = rule_sent(messages, rule);
        json_array_append_new(t->rows,
            json_pack("[s,s,I,I,o]", metric + 10, rule, count, sent,
                      sent > 0 ? json_real(100.0 * count / sent)
                               : json_null()));
    }
}


/* Returns the median of a histogram of whole days, or -1 when empty:
 * the smallest bucket at which the running count reaches half. */
static json_int_t
median_days(const json_t *durations, const char *program, const char *stage)
{
    json_int_t total = 0;
    json_int_t seen = 0;
    size_t i;
    json_t *d;

    json_array_foreach(durations, i, d)
        if (!strcmp(json_string_value(json_object_get(d, "program")),
                    program) &&
            !strcmp(json_string_value(json_object_get(d, "stage")), stage))
            total += json_integer_value(json_object_get(d, "count"));
    if (total == 0)
        return -1;
    json_array_foreach(durations, i, d) {
        if (strcmp(json_string_value(json_object_get(d, "program")),
                   program) ||
            strcmp(json_string_value(json_object_get(d, "stage")), stage))
            continue;
        seen += json_integer_value(json_object_get(d, "count"));
        if (2 * seen >= total)
            return json_integer_value(json_object_get(d, "days"));
    }
    return -1;
}


static json_int_t
sum_where(const json_t *list, const char *program, const char *key,
          const char *value)
{
    json_int_t sum = 0;
    size_t i;
    json_t *row;

    json_array_foreach(list, i, row)
        if (!strcmp(json_string_value(json_object_get(row, "program")),
                    program) &&
            g_strcmp0(json_string_value(json_object_get(row, key)),
                      value) == 0)
            sum += json_integer_value(json_object_get(row, "count"));
    return sum;
}


/* Sums the moves of `program` from stage `from` to stage `to`. */
static json_int_t
moves_between(const json_t *moves, const char *program, const char *from,
              const char *to)
{
    json_int_t sum = 0;
    size_t i;
    json_t *row;

    json_array_foreach(moves, i, row)
        if (!strcmp(json_string_value(json_object_get(row, "program")),
                    program) &&
            g_strcmp0(json_string_value(json_object_get(row, "from")),
                      from) == 0 &&
            g_strcmp0(json_string_value(json_object_get(row, "to")),
                      to) == 0)
            sum += json_integer_value(json_object_get(row, "count"));
    return sum;
}


/*
 * One row per stage of each configured program, in lifecycle order.
 * `moved_next` counts the moves from the stage to the next one in the
 * range, and `next_percent` relates them to the moves into the stage in
 * the same range (null when none entered, and for the last stage).
 */
static void
funnel_build(struct report_table *t, const struct report_options *opt,
             const json_t *result)
{
    const json_t *moves = json_object_get(result, "moves");

    for (guint i = 0; server.rules && i < server.rules->programs->len; i++) {
        const struct program *p = g_ptr_array_index(server.rules->programs,
                                                    i);

        if (opt->program != NULL && strcmp(opt->program, p->name) != 0)
            continue;
        for (guint s = 0; s < p->stages->len; s++) {
            const char *stage = g_ptr_array_index(p->stages, s);
            const char *next = s + 1 < p->stages->len
                               ? g_ptr_array_index(p->stages, s + 1) : NULL;
            json_int_t median = median_days(json_object_get(result,
                                                            "durations"),
                                            p->name, stage);
            json_int_t entered = sum_where(moves, p->name, "to", stage);
            json_int_t moved_next = next != NULL
                                    ? moves_between(moves, p->name, stage,
                                                    next)
                                    : 0;

            json_array_append_new(t->rows,
                json_pack("[s,s,I,I,o,o,o]", p->name, stage,
                          sum_where(json_object_get(result, "residents"),
                                    p->name, "stage", stage),
                          entered,
                          next != NULL ? json_integer(moved_next)
                                       : json_null(),
                          next != NULL && entered > 0
                              ? json_real(100.0 * moved_next / entered)
                              : json_null(),
                          median >= 0 ? json_integer(median)
                                      : json_null()));
        }
    }
}


struct report_table *
report_table_build(const struct report_options *opt, const json_t *result)
{
    static const char *const rules_columns[] = {
        "rule", "planned", "sent", "failed", "dead", "suppressed", "opened",
        "opened_bot", "clicked", "clicked_bot", "unsubscribed", "converted",
        "delivered", "bounced", "complained", NULL
    };
    static const char *const messages_columns[] = {
        "rule", "template", "channel", "metric", "count", NULL
    };
    static const char *const goals_columns[] = {
        "goal", "rule", "conversions", "sent", "rate_percent", NULL
    };
    static const char *const funnel_columns[] = {
        "program", "stage", "residents", "entered", "moved_next",
        "next_percent", "median_days", NULL
    };
    static const char *const experiments_columns[] = {
        "rule", "goal", "cell", "assigned", "conversions", "rate_percent",
        "difference_points", "ci_low_points", "ci_high_points", "note", NULL
    };
    const json_t *messages = json_object_get(result, "messages");
    struct report_table *t;

    if (strcmp(opt->kind, "messages") == 0) {
        t = table_new(messages_columns);
        messages_build(t, opt, messages);
    } else if (strcmp(opt->kind, "goals") == 0) {
        t = table_new(goals_columns);
        goals_build(t, opt, messages);
    } else if (strcmp(opt->kind, "experiments") == 0) {
        t = table_new(experiments_columns);
        report_experiments_build(t, opt, messages);
    } else if (strcmp(opt->kind, "funnel") == 0) {
        t = table_new(funnel_columns);
        funnel_build(t, opt, result);
    } else {
        t = table_new(rules_columns);
        rules_build(t, opt, messages);
    }
    return t;
}


/* Formats one cell: "" for null, one decimal for a real. */
static char *
cell_text(const json_t *cell)
{
    if (json_is_string(cell))
        return g_strdup(json_string_value(cell));
    if (json_is_integer(cell))
        return g_strdup_printf("%" JSON_INTEGER_FORMAT,
                               json_integer_value(cell));
    if (json_is_real(cell))
        return g_strdup_printf("%.1f", json_real_value(cell));
    return g_strdup("");
}


json_t *
report_table_json(const struct report_table *table)
{
    json_t *out = json_array();
    size_t i;
    json_t *row;

    json_array_foreach(table->rows, i, row) {
        json_t *object = json_object();
        size_t c;
        json_t *name;

        json_array_foreach(table->columns, c, name)
            json_object_set(object, json_string_value(name),
                            json_array_get(row, c));
        json_array_append_new(out, object);
    }
    return out;
}


/* Writes a CSV field, quoted when it contains a comma, quote or
 * newline. */
static void
csv_field(FILE *out, const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '"')
            fputc('"', out);
        fputc(*p, out);
    }
    fputc('"', out);
}


/* Prints the table with columns padded to their widest cell; numbers
 * are aligned right. */
static void
table_print_aligned(const struct report_table *t, FILE *out)
{
    size_t ncol = json_array_size(t->columns);
    int *width = g_new0(int, ncol);
    size_t i, c;
    json_t *row;

    for (c = 0; c < ncol; c++)
        width[c] = (int) strlen(json_string_value(json_array_get(t->columns,
                                                                 c)));
    json_array_foreach(t->rows, i, row)
        for (c = 0; c < ncol; c++) {
            char *text = cell_text(json_array_get(row, c));

            width[c] = MAX(width[c], (int) strlen(text));
            g_free(text);
        }
    for (c = 0; c < ncol; c++) {
        char *name = g_ascii_strup(json_string_value(json_array_get(
                                       t->columns, c)), -1);

        fprintf(out, c == 0 ? "%-*s" : "  %-*s", width[c], name);
        g_free(name);
    }
    fputc('\n', out);
    json_array_foreach(t->rows, i, row) {
        for (c = 0; c < ncol; c++) {
            json_t *cell = json_array_get(row, c);
            char *text = cell_text(cell);
            int right = json_is_number(cell);

            fprintf(out, c == 0 ? "" : "  ");
            fprintf(out, right ? "%*s" : "%-*s", width[c], text);
            g_free(text);
        }
        fputc('\n', out);
    }
    g_free(width);
}


void
report_table_print(const struct report_table *table,
                   enum report_format format, FILE *out)
{
    size_t i, c;
    json_t *row;

    if (format == REPORT_JSON) {
        json_t *rows = report_table_json(table);

        json_dumpf(rows, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(rows);
        return;
    }
    if (format == REPORT_TABLE) {
        table_print_aligned(table, out);
        return;
    }
    for (c = 0; c < json_array_size(table->columns); c++) {
        fputs(c == 0 ? "" : ",", out);
        csv_field(out, json_string_value(json_array_get(table->columns, c)));
    }
    fputc('\n', out);
    json_array_foreach(table->rows, i, row) {
        for (c = 0; c < json_array_size(row); c++) {
            char *text = cell_text(json_array_get(row, c));

            fputs(c == 0 ? "" : ",", out);
            csv_field(out, text);
            g_free(text);
        }
        fputc('\n', out);
    }
}
