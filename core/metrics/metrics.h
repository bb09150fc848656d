/*
 * Process metrics for GET /metrics, in the Prometheus text exposition
 * format 0.0.4. Every call runs on the loop thread, so nothing locks.
 */
#ifndef CRIER_CORE_METRICS_H
#define CRIER_CORE_METRICS_H

#include <stdint.h>

#include <glib.h>

/* Adds `n` to counter `name` with one label `label`="value". */
void metrics_count(const char *name, const char *label, const char *value,
                   uint64_t n);

/* Records one observation, in seconds, in histogram `name` with one
 * label. */
void metrics_observe(const char *name, const char *label, const char *value,
                     double seconds);

/* Returns the nanoseconds since an arbitrary point, for latencies. */
uint64_t metrics_now_ns(void);

/*
 * Appends every metric to `out` with its HELP and TYPE lines, then the
 * gauge crier_jobs{state} from `job_counts` ({state: N}, may be NULL).
 */
void metrics_render(GString *out, const void *job_counts);

/* Frees every metric, for a clean exit and for tests. */
void metrics_reset(void);

#endif
