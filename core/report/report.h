/*
 * Reports: `crier report` and GET /v1/reports/{kind}, both built from the
 * store's report_read (docs/reports.md).
 */
#ifndef CRIER_CORE_REPORT_H
#define CRIER_CORE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The end of time for a report without an end date: 10000-01-01. */
#define REPORT_UNTIL_MAX INT64_C(253402300800000)

enum report_format { REPORT_TABLE, REPORT_JSON, REPORT_CSV };

struct report_options {
    const char *kind;           /* rules, messages, goals, funnel or
                                 * experiments */
    const char *program;        /* NULL: every program */
    int64_t since;              /* the first day, ms at 00:00 UTC */
    int64_t until;              /* the day after the last, ms */
    /* The end of time for a report without an end date: 10000-01-01. */
#define REPORT_UNTIL_MAX INT64_C(253402300800000)

enum report_format format;
};

/* A table of cells: `columns` are names, and each row is a JSON array of
 * strings, integers, reals or nulls, one per column. */
struct report_table {
    json_t *columns;
    json_t *rows;
};

/*
 * Runs `crier report` with the arguments after the command word: the
 * kind, --since and --until dates (YYYY-MM-DD, UTC, both inclusive),
 * --program, and --json or --csv. Needs the server prepared. Returns the
 * exit code.
 */
int report_command(int argc, char **argv);

/* Parses a date "YYYY-MM-DD" into the ms of its start in UTC. Returns 0
 * or -1 for an invalid date. */
int report_date_parse(const char *text, int64_t *ms);

/* Returns nonzero for rules, messages, goals and funnel. */
int report_kind_valid(const char *kind);

/* A cell with fewer conversions or non-conversions than this makes a
 * comparison "sample too small": below it the normal approximation of
 * the interval is poor. */
#define REPORT_CELL_MIN 10

/* The difference of two conversion rates, as fractions, with its 95%
 * confidence interval [low, high]. */
struct rate_difference {
    double difference;
    double low;
    double high;
    int too_small;              /* a cell is below REPORT_CELL_MIN */
};

/*
 * Compares the rate conversions / assigned with the baseline's rate
 * (stats.c). Returns 0, or -1 when a cell has no one assigned, and then sets
 * only `too_small`.
 */
int report_rate_compare(int64_t conversions, int64_t assigned,
                        int64_t base_conversions, int64_t base_assigned,
                        struct rate_difference *out);

/* Builds the report_read request for `opt`. New reference. */
json_t *report_request_build(const struct report_options *opt);

/* Returns nonzero when rule `rule` belongs in a report of `opt`. */
int report_rule_included(const struct report_options *opt, const char *rule);

/* Builds the table of `opt->kind` from a report_read result (table.c). */
struct report_table *report_table_build(const struct report_options *opt,
                                        const json_t *result);

/* Fills the experiments table (experiments.c). */
void report_experiments_build(struct report_table *t,
                              const struct report_options *opt,
                              const json_t *messages);

/* Returns the table as a JSON array of objects, one per row. */
json_t *report_table_json(const struct report_table *table);

void report_table_print(const struct report_table *table,
                        /* The end of time for a report without an end date: 10000-01-01. */
#define REPORT_UNTIL_MAX INT64_C(253402300800000)

enum report_format format, FILE *out);

void report_table_free(struct report_table *table);

#endif
