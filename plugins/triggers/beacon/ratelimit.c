#include "ratelimit.h"

#include <string.h>

#include <arpa/inet.h>
#include <glib.h>

#define RATE_WINDOW_MS 60000

struct rate_limit {
    unsigned per_minute;
    int64_t window;             /* now_ms / RATE_WINDOW_MS of the counts */
    GHashTable *counts;         /* address key -> count, as a pointer */
};


struct rate_limit *
rate_limit_new(unsigned per_minute)
{
    struct rate_limit *limit = g_new0(struct rate_limit, 1);

    limit->per_minute = per_minute > 0 ? per_minute : 1;
    limit->window = -1;
    limit->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          NULL);
    return limit;
}


/* Returns the key of `client`: the /64 prefix for IPv6, else the text. */
static char *
client_key(const char *client)
{
    unsigned char addr[16];
    char text[INET6_ADDRSTRLEN];

    if (strchr(client, ':') == NULL || inet_pton(AF_INET6, client, addr) != 1)
        return g_strdup(client);
    memset(addr + 8, 0, 8);
    if (inet_ntop(AF_INET6, addr, text, sizeof(text)) == NULL)
        return g_strdup(client);
    return g_strconcat(text, "/64", NULL);
}


unsigned
rate_limit_hit(struct rate_limit *limit, const char *client, int64_t now_ms)
{
    int64_t window = now_ms / RATE_WINDOW_MS;
    int64_t left_ms;
    char *key = client_key(client);
    guint count;

    /* A new minute, or the clock moved back: every count starts again. */
    if (window != limit->window) {
        g_hash_table_remove_all(limit->counts);
        limit->window = window;
    }
    count = GPOINTER_TO_UINT(g_hash_table_lookup(limit->counts, key)) + 1;
    if (count > limit->per_minute) {
        g_free(key);
        left_ms = (window + 1) * RATE_WINDOW_MS - now_ms;
        return left_ms >= 1000 ? (unsigned) ((left_ms + 999) / 1000) : 1;
    }
    g_hash_table_replace(limit->counts, key, GUINT_TO_POINTER(count));
    return 0;
}


void
rate_limit_free(struct rate_limit *limit)
{
    if (limit == NULL)
        return;
    g_hash_table_destroy(limit->counts);
    g_free(limit);
}
