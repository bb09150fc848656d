/* The bulletins in memory, their checks and their stored form. */
#include "bulletins/bulletins.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "base/clock.h"
#include "base/log.h"
#include "segments/segments.h"
#include "server/server.h"
#include "template/template.h"
#include "topics/topics.h"

/* The highest rate, one message every 3.6 ms. */
#define BULLETIN_RATE_MAX 1000000

static GTree *bulletins;        /* id -> struct bulletin * */


static void
bulletin_free(gpointer data)
{
    struct bulletin *b = data;

    g_free(b->id);
    g_free(b->template_name);
    g_free(b->topic);
    g_free(b->segment);
    g_free(b->channel);
    g_free(b->state);
    g_free(b->after);
    g_free(b);
}


static gint
id_compare(gconstpointer a, gconstpointer b, gpointer unused)
{
    return strcmp(a, b);
}


static GTree *
registry(void)
{
    if (bulletins == NULL)
        bulletins = g_tree_new_full(id_compare, NULL, NULL, bulletin_free);
    return bulletins;
}


void
bulletins_release(void)
{
    if (bulletins != NULL)
        g_tree_destroy(bulletins);
    bulletins = NULL;
}


struct bulletin *
bulletin_find(const char *id)
{
    return id != NULL ? g_tree_lookup(registry(), id) : NULL;
}


struct each_call {
    void (*fn)(struct bulletin *b, void *arg);
    void *arg;
};


static gboolean
each_one(gpointer key, gpointer value, gpointer data)
{
    struct each_call *call = data;

    call->fn(value, call->arg);
    return FALSE;
}


void
bulletins_each(void (*fn)(struct bulletin *b, void *arg), void *arg)
{
    struct each_call call = { fn, arg };

    g_tree_foreach(registry(), each_one, &call);
}


/* Returns a new id: the creation time in hex, so ids sort by age, and
 * random digits. A second bulletin in the same millisecond takes the
 * next one, so that the planner's id order is creation order within a
 * run (the test clock does not move between requests). */
static char *
bulletin_id_new(void)
{
    static int64_t last_ms;
    int64_t ms = clock_now_ms();

    if (ms <= last_ms)
        ms = last_ms + 1;
    last_ms = ms;
    return g_strdup_printf("b-%012llx%08x", (unsigned long long) ms,
                           (unsigned) g_random_int());
}


/* Checks the audience: a known topic that allows the channel, a known
 * segment, or both. Returns NULL or the message, with `field` set. */
static const char *
audience_check(const char *topic, const char *segment, const char *channel,
               const char **field)
{
    const struct topic *t = topic != NULL ? topic_find(topic) : NULL;

    *field = "topic";
    if (topic == NULL && segment == NULL)
        return "a bulletin needs a topic, a segment or both";
    if (topic != NULL && t == NULL)
        return "no such topic; GET /v1/topics lists them";
    *field = "segment";
    if (segment != NULL &&
        segment_set_find(server.segments, segment) == NULL)
        return "no such segment; GET /v1/segments lists them";
    *field = "channel";
    if (server_channel(channel) == NULL)
        return "no such channel instance in plugins.conf";
    if (t != NULL && !topic_allows(t, channel))
        return "the topic does not allow this channel";
    return NULL;
}


/* Reads the optional "send_at" (RFC 3339) into *out, now when absent. */
static int
send_at_parse(const json_t *body, int64_t *out)
{
    json_t *value = json_object_get(body, "send_at");

    *out = clock_now_ms();
    if (value == NULL || json_is_null(value))
        return 0;
    if (!json_is_string(value))
        return CRIER_EINVAL;
    return clock_parse_rfc3339(json_string_value(value), out);
}


struct bulletin *
bulletin_create(const json_t *body, const char **field, char *error,
                size_t size)
{
    const char *template_name = json_string_value(json_object_get(body,
                                                                  "template"));
    const char *topic = json_string_value(json_object_get(body, "topic"));
    const char *segment = json_string_value(json_object_get(body,
                                                            "segment"));
    const char *channel = json_string_value(json_object_get(body,
                                                            "channel"));
    json_t *rate = json_object_get(body, "rate");
    const char *message;
    struct bulletin *b;
    int64_t send_at;

    if (channel == NULL)
        channel = "email";
    *field = "template";
    if (template_name == NULL || server.templates == NULL ||
        !template_set_has(server.templates, template_name)) {
        snprintf(error, size, "no such template in the templates folder");
        return NULL;
    }
    message = audience_check(topic, segment, channel, field);
    if (message != NULL) {
        snprintf(error, size, "%s", message);
        return NULL;
    }
    *field = "send_at";
    if (send_at_parse(body, &send_at) != 0) {
        snprintf(error, size, "must be an RFC 3339 time, such as "
                 "2026-01-01T09:00:00Z");
        return NULL;
    }
    *field = "rate";
    if (rate != NULL && !json_is_null(rate) &&
        (!json_is_integer(rate) || json_integer_value(rate) < 0 ||
         json_integer_value(rate) > BULLETIN_RATE_MAX)) {
        snprintf(error, size, "must be messages per hour from 0 (no "
                 "limit) to %d", BULLETIN_RATE_MAX);
        return NULL;
    }

    b = g_new0(struct bulletin, 1);
    b->id = bulletin_id_new();
    b->template_name = g_strdup(template_name);
    b->topic = g_strdup(topic);
    b->segment = g_strdup(segment);
    b->channel = g_strdup(channel);
    b->send_at = send_at;
    b->rate = rate != NULL ? json_integer_value(rate) : 0;
    b->state = g_strdup("sending");
    b->created = b->updated = clock_now_ms();
    b->paced_from = send_at;
    g_tree_insert(registry(), b->id, b);
    return b;
}


json_t *
bulletin_json(const struct bulletin *b)
{
    char send_at[32], created[32], updated[32];

    clock_format_ms(b->send_at, send_at, sizeof(send_at));
    clock_format_ms(b->created, created, sizeof(created));
    clock_format_ms(b->updated, updated, sizeof(updated));
    return json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:s,s:I,s:s,s:b,s:s,s:s}",
                     "id", b->id, "template", b->template_name, "topic",
                     b->topic, "segment", b->segment, "channel", b->channel,
                     "send_at", send_at, "rate", (json_int_t) b->rate,
                     "state", b->state, "scanned", b->scanned, "created",
                     created, "updated", updated);
}


/* Builds a bulletin from its stored body, or returns NULL. */
static struct bulletin *
bulletin_restore(const json_t *body)
{
    struct bulletin *b;
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *state = json_string_value(json_object_get(body, "state"));
    int64_t send_at, created, updated;

    if (id == NULL || state == NULL ||
        clock_parse_rfc3339(json_string_value(json_object_get(body,
                                                              "send_at")),
                            &send_at) != 0 ||
        clock_parse_rfc3339(json_string_value(json_object_get(body,
                                                              "created")),
                            &created) != 0 ||
        clock_parse_rfc3339(json_string_value(json_object_get(body,
                                                              "updated")),
                            &updated) != 0)
        return NULL;
    b = g_new0(struct bulletin, 1);
    b->id = g_strdup(id);
    b->template_name = g_strdup(json_string_value(json_object_get(
        body, "template")));
    b->topic = g_strdup(json_string_value(json_object_get(body, "topic")));
    b->segment = g_strdup(json_string_value(json_object_get(body,
                                                            "segment")));
    b->channel = g_strdup(json_string_value(json_object_get(body,
                                                            "channel")));
    b->send_at = send_at;
    b->rate = json_integer_value(json_object_get(body, "rate"));
    b->state = g_strdup(state);
    b->scanned = json_is_true(json_object_get(body, "scanned"));
    b->stored = 1;
    b->created = created;
    b->updated = updated;
    /* Until a turn reads the stored pace (pace.c). */
    b->paced_from = send_at;
    return b;
}


struct save_call {
    void (*done)(void *arg, int status);
    void *arg;
    char *id;
};


/* A bulletin that was never stored is dropped, so that no job names a
 * bulletin that a restart would not know. */
static void
on_saved(void *arg, int status, json_t *result)
{
    struct save_call *call = arg;
    struct bulletin *b = bulletin_find(call->id);

    if (status < 0)
        log_error("bulletin not stored", "bulletin=%s error=%s", call->id,
                  crier_errname(status));
    if (b != NULL && status == 0)
        b->stored = 1;
    else if (b != NULL && !b->stored)
        g_tree_remove(registry(), call->id);
    if (call->done != NULL)
        call->done(call->arg, status);
    g_free(call->id);
    g_free(call);
}


void
bulletin_save(struct bulletin *b, void (*done)(void *arg, int status),
              void *arg)
{
    struct save_call *call = g_new0(struct save_call, 1);
    json_t *request;
    int rc;

    call->done = done;
    call->arg = arg;
    call->id = g_strdup(b->id);
    b->updated = clock_now_ms();
    request = json_pack("{s:s,s:s,s:o}", "kind", "bulletin", "id", b->id,
                        "body", bulletin_json(b));
    rc = STORE_HAS_OP(object_put)
         ? server.store_ops->object_put(server.store->state, request,
                                        on_saved, call)
         : CRIER_ENOTSUP;
    json_decref(request);
    if (rc < 0)
        on_saved(call, rc, NULL);
}


/* 1 once the stored bulletins are in the registry. */
static int bulletins_loaded;

/* 1 while a read of the stored bulletins is under way. */
static int bulletins_reading;


int
bulletins_ready(void)
{
    return bulletins_loaded;
}


/*
 * Takes into `b` what another node changed in the stored copy `stored`:
 * its state, pace and send time, and whether every recipient was
 * considered. A copy that is not newer than the one in memory is left,
 * so a change this node made and has not stored yet is kept.
 */
static void
bulletin_take_newer(struct bulletin *b, const struct bulletin *stored)
{
    if (stored->updated <= b->updated)
        return;
    g_free(b->state);
    b->state = g_strdup(stored->state);
    b->rate = stored->rate;
    b->send_at = stored->send_at;
    b->scanned = stored->scanned;
    b->updated = stored->updated;
    b->stored = 1;
}


static void
on_bulletins_read(void *arg, int status, json_t *result)
{
    size_t i;
    json_t *object;

    bulletins_reading = 0;
    if (status < 0 && bulletins_loaded) {
        log_error("stored bulletins could not be read; retrying at the "
                  "next refresh", "error=%s", crier_errname(status));
        return;
    }
    if (status < 0) {
        log_error("stored bulletins could not be read; none is sent until "
                  "a refresh reads them", "error=%s", crier_errname(status));
        return;
    }
    bulletins_loaded = 1;
    json_array_foreach(json_object_get(result, "objects"), i, object) {
        struct bulletin *b = bulletin_restore(json_object_get(object,
                                                              "body"));
        struct bulletin *known;

        if (b == NULL) {
            log_warn("stored bulletin skipped: invalid", "bulletin=%s",
                     json_string_value(json_object_get(object, "id")));
            continue;
        }
        /* After a reload or a refresh the registry already contains the
         * bulletin, and the planner may keep a pointer to it, so keep
         * that one and take only what another node changed. */
        known = g_tree_lookup(registry(), b->id);
        if (known != NULL) {
            bulletin_take_newer(known, b);
            bulletin_free(b);
        } else {
            g_tree_insert(registry(), b->id, b);
        }
    }
    bulletins_kick();
}


/* Reads every stored bulletin into memory, then wakes the planner. */
void
bulletins_restore(void)
{
    json_t *request;
    int rc;

    if (!STORE_HAS_OP(objects_read)) {
        bulletins_loaded = 1;
        return;
    }
    if (bulletins_reading)
        return;
    bulletins_reading = 1;
    request = json_pack("{s:s}", "kind", "bulletin");
    rc = server.store_ops->objects_read(server.store->state, request,
                                        on_bulletins_read, NULL);
    json_decref(request);
    if (rc < 0)
        on_bulletins_read(NULL, rc, NULL);
}
