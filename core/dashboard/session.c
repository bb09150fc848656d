/*
 * Dashboard sessions: a browser that posted a valid admin token to the
 * login form gets a random session id in an HttpOnly, SameSite=Strict
 * cookie. The token itself never goes back to the browser, and the ids
 * live only in this process, so a restart or a logout ends them.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "dashboard/dashboard.h"

/* A session lasts 8 hours from the login. */
#define SESSION_LIFETIME_US (8 * G_TIME_SPAN_HOUR)
/* The maximum number of sessions. A login beyond it drops the session
 * that expires first. */
#define SESSION_MAX 256

/* Session id (64 hex digits) -> expiry, monotonic microseconds. */
static GHashTable *sessions;


/* Drops the sessions that have expired, and the one that expires first
 * when the table is full. */
static void
sessions_prune(gint64 now)
{
    GHashTableIter iter;
    gpointer key, value;
    gpointer oldest = NULL;
    gint64 oldest_expiry = G_MAXINT64;

    g_hash_table_iter_init(&iter, sessions);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        gint64 expiry = *(gint64 *) value;

        if (expiry <= now) {
            g_hash_table_iter_remove(&iter);
        } else if (expiry < oldest_expiry) {
            oldest_expiry = expiry;
            oldest = key;
        }
    }
    if (g_hash_table_size(sessions) >= SESSION_MAX && oldest != NULL)
        g_hash_table_remove(sessions, oldest);
}


char *
dashboard_session_new(void)
{
    guint8 bytes[32];
    GString *id = g_string_new(NULL);
    gint64 *expiry = g_new(gint64, 1);
    gint64 now = g_get_monotonic_time();

    if (sessions == NULL)
        sessions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_free);
    sessions_prune(now);
    /* GLib's g_random is not meant for secrets; the id comes from the
     * kernel's generator. */
    if (dashboard_random_bytes(bytes, sizeof(bytes)) != 0) {
        g_string_free(id, TRUE);
        g_free(expiry);
        return NULL;
    }
    for (size_t i = 0; i < sizeof(bytes); i++)
        g_string_append_printf(id, "%02x", bytes[i]);
    *expiry = now + SESSION_LIFETIME_US;
    g_hash_table_insert(sessions, g_strdup(id->str), expiry);
    return g_string_free(id, FALSE);
}


/* Returns the value of cookie `name` in a Cookie header, newly
 * allocated, or NULL. */
static char *
cookie_value(const char *header, const char *name)
{
    size_t len = strlen(name);

    while (header != NULL && *header != '\0') {
        while (*header == ' ' || *header == ';')
            header++;
        if (strncmp(header, name, len) == 0 && header[len] == '=') {
            const char *start = header + len + 1;

            return g_strndup(start, strcspn(start, ";"));
        }
        header = strchr(header, ';');
    }
    return NULL;
}


int
dashboard_session_valid(const char *cookie_header)
{
    char *id = cookie_value(cookie_header, DASHBOARD_COOKIE);
    gint64 *expiry;
    int valid = 0;

    if (id != NULL && sessions != NULL) {
        expiry = g_hash_table_lookup(sessions, id);
        valid = expiry != NULL && *expiry > g_get_monotonic_time();
    }
    g_free(id);
    return valid;
}


void
dashboard_session_end(const char *cookie_header)
{
    char *id = cookie_value(cookie_header, DASHBOARD_COOKIE);

    if (id != NULL && sessions != NULL)
        g_hash_table_remove(sessions, id);
    g_free(id);
}


void
dashboard_sessions_clear(void)
{
    if (sessions != NULL)
        g_hash_table_destroy(sessions);
    sessions = NULL;
}
