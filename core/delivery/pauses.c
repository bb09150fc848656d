#include "delivery/pauses.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "delivery/outbox.h"
#include "server/server.h"

/* One paused scope, as the store returned it. */
struct pause {
    char *scope;                /* "all", "channel" or "program" */
    char *name;                 /* "" for "all" */
    char *label;                /* "all" or "scope:name" */
    int64_t since;              /* Unix ms */
    char *by;                   /* or NULL */
};

/* A store call under way, with the caller's callback. */
struct pauses_call {
    pauses_cb done;
    void *arg;
    int changed;                /* pause_set changed the store */
};

/* NOTE: the copy is read at start and after each change made through
 * this node, not when another node changes the store's pauses
 * (docs/KNOWN_LIMITS.md, "Operations"). */
static GPtrArray *paused;       /* struct pause * */


static void
pause_free(void *item)
{
    struct pause *p = item;

    g_free(p->scope);
    g_free(p->name);
    g_free(p->label);
    g_free(p->by);
    g_free(p);
}


int
pauses_supported(void)
{
    return server.store_ops->size >
           offsetof(struct crier_store_ops, pauses_read);
}


/* Replaces the copy with the store's list of pauses. */
static void
pauses_replace(json_t *list)
{
    size_t i;
    json_t *row;

    pauses_clear();
    paused = g_ptr_array_new_with_free_func(pause_free);
    json_array_foreach(list, i, row) {
        struct pause *p = g_new0(struct pause, 1);
        const char *name = json_string_value(json_object_get(row, "name"));

        p->scope = g_strdup(json_string_value(json_object_get(row,
                                                              "scope")));
        p->name = g_strdup(name ? name : "");
        p->label = p->name[0] ? g_strdup_printf("%s:%s", p->scope, p->name)
                              : g_strdup(p->scope);
        p->since = json_integer_value(json_object_get(row, "since"));
        p->by = g_strdup(json_string_value(json_object_get(row, "by")));
        g_ptr_array_add(paused, p);
    }
}


static void
on_pauses_read(void *arg, int status, json_t *result)
{
    struct pauses_call *call = arg;

    if (status == 0)
        pauses_replace(json_object_get(result, "pauses"));
    /* After a resume, the jobs that waited are claimable again. The kick
     * waits for the new copy, which would otherwise hold them again. */
    if (status == 0 && call->changed)
        outbox_kick();
    call->done(call->arg, status, call->changed);
    g_free(call);
}


/* Reads the store's pauses into the copy, then calls call->done. */
static int
pauses_read(struct pauses_call *call)
{
    json_t *request = json_object();
    int rc = server.store_ops->pauses_read(server.store->state, request,
                                           on_pauses_read, call);

    json_decref(request);
    return rc;
}


int
pauses_load(pauses_cb done, void *arg)
{
    struct pauses_call *call;
    int rc;

    if (!pauses_supported())
        return CRIER_ENOTSUP;
    call = g_new0(struct pauses_call, 1);
    call->done = done;
    call->arg = arg;
    rc = pauses_read(call);
    if (rc != 0)
        g_free(call);
    return rc;
}


/* The change is stored: the copy is read again, so it matches the store
 * even when another node changed it too. */
static void
on_pause_set(void *arg, int status, json_t *result)
{
    struct pauses_call *call = arg;
    int rc;

    if (status != 0) {
        call->done(call->arg, status, 0);
        g_free(call);
        return;
    }
    call->changed = json_is_true(json_object_get(result, "changed"));
    rc = pauses_read(call);
    if (rc != 0) {
        call->done(call->arg, rc, call->changed);
        g_free(call);
        return;
    }
}


int
pauses_change(const char *scope, const char *name, int paused_now,
              const char *by, pauses_cb done, void *arg)
{
    struct pauses_call *call;
    json_t *request;
    int rc;

    if (!pauses_supported())
        return CRIER_ENOTSUP;
    request = json_pack("{s:s,s:s?,s:b,s:I,s:s?}", "scope", scope, "name",
                        name, "paused", paused_now, "time",
                        (json_int_t) (g_get_real_time() / 1000), "by", by);
    call = g_new0(struct pauses_call, 1);
    call->done = done;
    call->arg = arg;
    rc = server.store_ops->pause_set(server.store->state, request,
                                     on_pause_set, call);
    json_decref(request);
    if (rc != 0)
        g_free(call);
    return rc;
}


const char *
pauses_covering(const char *channel, const char *program)
{
    if (paused == NULL)
        return NULL;
    for (guint i = 0; i < paused->len; i++) {
        struct pause *p = g_ptr_array_index(paused, i);

        if (strcmp(p->scope, "all") == 0 ||
            (strcmp(p->scope, "channel") == 0 &&
             g_strcmp0(p->name, channel) == 0) ||
            (strcmp(p->scope, "program") == 0 &&
             g_strcmp0(p->name, program) == 0))
            return p->label;
    }
    return NULL;
}


json_t *
pauses_json(void)
{
    json_t *list = json_array();
    char since[32];

    for (guint i = 0; paused != NULL && i < paused->len; i++) {
        struct pause *p = g_ptr_array_index(paused, i);
        json_t *row;

        clock_format_ms(p->since, since, sizeof(since));
        row = json_pack("{s:s,s:s,s:s?}", "scope", p->scope, "since", since,
                        "by", p->by);
        if (p->name[0] != '\0')
            json_object_set_new(row, "name", json_string(p->name));
        json_array_append_new(list, row);
    }
    return list;
}


void
pauses_clear(void)
{
    if (paused != NULL)
        g_ptr_array_unref(paused);
    paused = NULL;
}
