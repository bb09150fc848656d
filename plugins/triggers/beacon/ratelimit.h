/*
 * Requests per client address per minute, for the beacon's routes. Each
 * address has a counter for the current minute of the crier clock (a
 * fixed window), and every counter is dropped when the minute ends, so
 * the table holds only the addresses seen in one minute.
 *
 * IPv6 clients are counted per /64, because one host is commonly given a
 * whole /64 and could otherwise step past the limit by changing address.
 *
 * NOTE: counts live in this process only, so a restart clears them and
 * the nodes of a cluster count apart (docs/KNOWN_LIMITS.md, "Security").
 */
#ifndef CRIER_BEACON_RATELIMIT_H
#define CRIER_BEACON_RATELIMIT_H

#include <stdint.h>

struct rate_limit;

/* Creates a limit of `per_minute` requests per address (at least 1). */
struct rate_limit *rate_limit_new(unsigned per_minute);

/*
 * Counts a request from `client` at `now_ms` on the crier clock. `client`
 * is an IPv4 or IPv6 address as text, and any other text is counted as
 * it is. Returns 0 when the request is within the limit. Otherwise it
 * returns the seconds until the window ends (at least 1), which suit a
 * Retry-After header.
 */
unsigned rate_limit_hit(struct rate_limit *limit, const char *client,
                        int64_t now_ms);

void rate_limit_free(struct rate_limit *limit);

#endif
