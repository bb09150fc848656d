/*
 * The statistics of experiment reports: the difference of two
 * conversion rates with a 95% confidence interval (docs/reports.md).
 */
#include <math.h>

#include "report/report.h"

/* The two-sided 95% quantile of the standard normal distribution. */
#define Z_95 1.959963984540054


int
report_rate_compare(int64_t conversions, int64_t assigned,
                    int64_t base_conversions, int64_t base_assigned,
                    struct rate_difference *out)
{
    double p1, p2, se;

    out->too_small = conversions < REPORT_CELL_MIN ||
                     assigned - conversions < REPORT_CELL_MIN ||
                     base_conversions < REPORT_CELL_MIN ||
                     base_assigned - base_conversions < REPORT_CELL_MIN;
    if (assigned <= 0 || base_assigned <= 0)
        return -1;
    p1 = (double) conversions / (double) assigned;
    p2 = (double) base_conversions / (double) base_assigned;
    /* Two-proportion normal approximation, unpooled standard error. */
    se = sqrt(p1 * (1 - p1) / (double) assigned +
              p2 * (1 - p2) / (double) base_assigned);
    out->difference = p1 - p2;
    out->low = out->difference - Z_95 * se;
    out->high = out->difference + Z_95 * se;
    return 0;
}
