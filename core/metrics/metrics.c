/*
 * The metrics registry: counters and histograms keyed by name and one
 * label, kept in sorted trees so that /metrics lists them in a stable
 * order (docs/reports.md, "Metrics").
 */
#include "metrics/metrics.h"

#include <string.h>

#include <jansson.h>
#include <uv.h>

/* Histogram upper bounds in seconds, from 1 ms to 10 s. */
static const double bucket_bounds[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define BUCKET_COUNT (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

/* What each metric means, for its HELP line. */
static const struct {
    const char *name;
    const char *type;
    const char *help;
} known[] = {
    { "crier_events_accepted_total", "counter",
      "Events stored, by the trigger instance that accepted them." },
    { "crier_events_duplicate_total", "counter",
      "Events not stored again because their (source, id) was stored." },
    { "crier_events_rejected_total", "counter",
      "Events rejected as invalid or not stored, by trigger instance." },
    { "crier_send_seconds", "histogram",
      "Time from a channel's send call to its result, by channel." },
    { "crier_store_seconds", "histogram",
      "Time from a store call to its callback, by operation." },
    { "crier_delivery_statuses_total", "counter",
      "Delivery statuses that channels reported after a send (delivered, "
      "bounced, complained, undelivered, failed), by status." },
    { "crier_plugin_errors_total", "counter",
      "Failures reported by plugins: a channel send that failed or will "
      "be retried, a store call that failed, by plugin instance." },
};

struct histogram {
    uint64_t buckets[BUCKET_COUNT];
    uint64_t count;
    double sum;
};

/* name -> (label pair text -> uint64_t * or struct histogram *) */
static GTree *metrics;


static int
text_compare(gconstpointer a, gconstpointer b, gpointer unused)
{
    (void) unused;
    return strcmp(a, b);
}


/* Returns the series of `name` with the label, created at zero. */
static gpointer
series(const char *name, const char *label, const char *value, gsize size)
{
    GTree *by_label;
    char *key;
    gpointer found;

    if (metrics == NULL)
        metrics = g_tree_new_full(text_compare, NULL, g_free,
                                  (GDestroyNotify) g_tree_unref);
    by_label = g_tree_lookup(metrics, name);
    if (by_label == NULL) {
        by_label = g_tree_new_full(text_compare, NULL, g_free, g_free);
        g_tree_insert(metrics, g_strdup(name), by_label);
    }
    /* NOTE: the value is not escaped; instance and operation names are
     * config keys, which hold no quote or backslash (see "Reports" in
     * docs/KNOWN_LIMITS.md). */
    key = g_strdup_printf("%s=\"%s\"", label, value);
    found = g_tree_lookup(by_label, key);
    if (found == NULL) {
        found = g_malloc0(size);
        g_tree_insert(by_label, key, found);
    } else {
        g_free(key);
    }
    return found;
}


void
metrics_count(const char *name, const char *label, const char *value,
              uint64_t n)
{
    uint64_t *counter = series(name, label, value != NULL ? value : "",
                               sizeof(uint64_t));

    *counter += n;
}


void
metrics_observe(const char *name, const char *label, const char *value,
                double seconds)
{
    struct histogram *h = series(name, label, value != NULL ? value : "",
                                 sizeof(struct histogram));

    for (size_t i = 0; i < BUCKET_COUNT; i++)
        if (seconds <= bucket_bounds[i])
            h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}


uint64_t
metrics_now_ns(void)
{
    return uv_hrtime();
}


static const char *
type_of(const char *name, const char **help)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].name, name) == 0) {
            *help = known[i].help;
            return known[i].type;
        }
    *help = "";
    return "counter";
}


struct render {
    GString *out;
    const char *name;
    int histogram;
};


static gboolean
series_render(gpointer key, gpointer value, gpointer data)
{
    struct render *r = data;
    const struct histogram *h = value;

    if (!r->histogram) {
        g_string_append_printf(r->out, "%s{%s} %" G_GUINT64_FORMAT "\n",
                               r->name, (const char *) key,
                               *(uint64_t *) value);
        return FALSE;
    }
    /* Buckets are cumulative, as the format requires. */
    for (size_t i = 0; i < BUCKET_COUNT; i++)
        g_string_append_printf(r->out, "%s_bucket{%s,le=\"%g\"} %"
                               G_GUINT64_FORMAT "\n", r->name,
                               (const char *) key, bucket_bounds[i],
                               h->buckets[i]);
    g_string_append_printf(r->out, "%s_bucket{%s,le=\"+Inf\"} %"
                           G_GUINT64_FORMAT "\n", r->name,
                           (const char *) key, h->count);
    g_string_append_printf(r->out, "%s_sum{%s} %.9f\n", r->name,
                           (const char *) key, h->sum);
    g_string_append_printf(r->out, "%s_count{%s} %" G_GUINT64_FORMAT "\n",
                           r->name, (const char *) key, h->count);
    return FALSE;
}


static gboolean
metric_render(gpointer key, gpointer value, gpointer data)
{
    struct render *r = data;
    const char *help;
    const char *type = type_of(key, &help);

    r->name = key;
    r->histogram = strcmp(type, "histogram") == 0;
    g_string_append_printf(r->out, "# HELP %s %s\n# TYPE %s %s\n",
                           (const char *) key, help, (const char *) key,
                           type);
    g_tree_foreach(value, series_render, r);
    return FALSE;
}


void
metrics_render(GString *out, const void *job_counts)
{
    struct render r = { out, NULL, 0 };
    const char *state;
    json_t *count;

    if (metrics != NULL)
        g_tree_foreach(metrics, metric_render, &r);
    if (job_counts == NULL)
        return;
    g_string_append(out, "# HELP crier_jobs Jobs in the store, by state.\n"
                         "# TYPE crier_jobs gauge\n");
    json_object_foreach((json_t *) job_counts, state, count)
        g_string_append_printf(out, "crier_jobs{state=\"%s\"} %"
                               JSON_INTEGER_FORMAT "\n", state,
                               json_integer_value(count));
}


void
metrics_reset(void)
{
    if (metrics != NULL)
        g_tree_unref(metrics);
    metrics = NULL;
}
