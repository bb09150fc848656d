#include <stdlib.h>

#include <crier/error.h>

#include "pace.h"


int
pace_init(struct pace *pace, unsigned max_per_second, unsigned max_in_flight)
{
    pace->max_per_second = max_per_second;
    pace->max_in_flight = max_in_flight;
    pace->in_flight = 0;
    pace->oldest = 0;
    pace->count = 0;
    pace->starts = calloc(max_per_second, sizeof(*pace->starts));
    return pace->starts != NULL ? 0 : CRIER_ENOMEM;
}


void
pace_free(struct pace *pace)
{
    free(pace->starts);
    pace->starts = NULL;
}


int64_t
pace_delay(const struct pace *pace, uint64_t now_ms)
{
    uint64_t window_end;

    if (pace->in_flight >= pace->max_in_flight)
        return PACE_BLOCKED;
    if (pace->count < pace->max_per_second)
        return 0;

    /* The ring is full, so its oldest start is max_per_second starts
     * back: the next may go once that one is a whole window old. */
    window_end = pace->starts[pace->oldest] + PACE_WINDOW_MS;
    return window_end > now_ms ? (int64_t) (window_end - now_ms) : 0;
}


void
pace_started(struct pace *pace, uint64_t now_ms)
{
    unsigned slot = (pace->oldest + pace->count) % pace->max_per_second;

    if (pace->count == pace->max_per_second) {
        slot = pace->oldest;
        pace->oldest = (pace->oldest + 1) % pace->max_per_second;
    } else {
        pace->count++;
    }
    pace->starts[slot] = now_ms;
    pace->in_flight++;
}


void
pace_finished(struct pace *pace)
{
    if (pace->in_flight > 0)
        pace->in_flight--;
}
