/* The topic registry: topics from plugins.conf and from the admin API. */
#include "topics/topics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin/admin_int.h"
#include "base/log.h"
#include "server/server.h"

#define TOPIC_TEXT_MAX 200

static const char *const topic_keys[] = {
    "name", "title", "category", "channels", NULL
};

static GHashTable *topics;      /* name -> struct topic * */


static void
topic_free(gpointer data)
{
    struct topic *t = data;

    g_free(t->name);
    g_free(t->title);
    g_free(t->category);
    g_strfreev(t->channels);
    g_free(t);
}


static GHashTable *
registry(void)
{
    if (topics == NULL)
        topics = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       topic_free);
    return topics;
}


void
topics_release(void)
{
    if (topics != NULL)
        g_hash_table_destroy(topics);
    topics = NULL;
}


/* Names go into URLs and job keys: lowercase letters, digits, '-' and
 * '_', at most 64 characters. */
int
topic_name_valid(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;

    if (len == 0 || len > 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!g_ascii_islower(name[i]) && !g_ascii_isdigit(name[i]) &&
            name[i] != '-' && name[i] != '_')
            return 0;
    return 1;
}


const struct topic *
topic_find(const char *name)
{
    return name != NULL ? g_hash_table_lookup(registry(), name) : NULL;
}


int
topic_allows(const struct topic *topic, const char *channel)
{
    for (char **c = topic->channels; c != NULL && *c != NULL; c++)
        if (strcmp(*c, channel) == 0)
            return 1;
    return 0;
}


/* Returns the text member `key` when it is a string of 1 to
 * TOPIC_TEXT_MAX bytes, else NULL. */
static const char *
text_member(const json_t *json, const char *key)
{
    const char *text = json_string_value(json_object_get(json, key));

    if (text == NULL || text[0] == '\0' || strlen(text) > TOPIC_TEXT_MAX)
        return NULL;
    return text;
}


/* Returns nonzero when `channels` names one channel instance twice. */
static int
channels_repeat(const json_t *channels)
{
    size_t i, j;

    for (i = 0; i < json_array_size(channels); i++)
        for (j = i + 1; j < json_array_size(channels); j++)
            if (json_equal(json_array_get(channels, i),
                           json_array_get(channels, j)))
                return 1;
    return 0;
}


const char *
topic_add_json(const json_t *json, int from_config, const char **field)
{
    json_t *channels = json_object_get(json, "channels");
    const struct topic *had;
    struct topic *t;
    size_t i;
    json_t *channel;

    *field = NULL;
    if (!json_is_object(json))
        return "must be an object with name, title, category and channels";
    *field = "name";
    if (!topic_name_valid(json_string_value(json_object_get(json, "name"))))
        return "use up to 64 lowercase letters, digits, '-' and '_'";
    *field = "title";
    if (text_member(json, "title") == NULL)
        return "must be text of 1 to 200 bytes";
    *field = "category";
    if (text_member(json, "category") == NULL)
        return "must be text of 1 to 200 bytes";
    *field = "channels";
    if (!json_is_array(channels))
        return "must be a list of channel instances, such as [\"email\"]";
    if (json_array_size(channels) == 0)
        return "must list at least one channel instance";
    json_array_foreach(channels, i, channel)
        if (!json_is_string(channel) ||
            server_channel(json_string_value(channel)) == NULL)
            return "names a channel instance that is not configured";
    if (channels_repeat(channels))
        return "names a channel instance more than once";
    *field = "name";
    had = topic_find(json_string_value(json_object_get(json, "name")));
    if (had != NULL && had->from_config && from_config)
        return "name: the topic is listed twice in plugins.conf; "
               "remove one";
    if (had != NULL && (had->from_config || from_config))
        return "a topic of that name is set in plugins.conf";
    *field = NULL;

    t = g_new0(struct topic, 1);
    t->name = g_strdup(json_string_value(json_object_get(json, "name")));
    t->title = g_strdup(text_member(json, "title"));
    t->category = g_strdup(text_member(json, "category"));
    t->channels = g_new0(char *, json_array_size(channels) + 1);
    json_array_foreach(channels, i, channel)
        t->channels[i] = g_strdup(json_string_value(channel));
    t->from_config = from_config;
    g_hash_table_replace(registry(), t->name, t);
    return NULL;
}


int
topics_load(struct config *cfg)
{
    json_t *list = json_object_get(cfg->root, "topics");
    char prefix[32];
    size_t i;
    json_t *block;

    topics_release();
    if (list == NULL)
        return 0;
    if (!json_is_array(list)) {
        config_fail(cfg, "topics", "must be a list: ( { name = ...; title = "
                    "...; category = ...; channels = [ ... ]; } )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(list, i, block) {
        const char *error, *field;

        snprintf(prefix, sizeof(prefix), "topics[%zu]", i);
        if (!json_is_object(block) ||
            config_check_keys(cfg, block, prefix, topic_keys) != 0) {
            if (cfg->error[0] == '\0')
                config_fail(cfg, prefix, "must be a group: { name = ...; }");
            return CRIER_ECONFIG;
        }
        error = topic_add_json(block, 1, &field);
        if (error != NULL) {
            config_fail(cfg, prefix, "%s%s%s", field ? field : "",
                        field ? ": " : "", error);
            return CRIER_ECONFIG;
        }
    }
    return 0;
}


json_t *
topic_json(const struct topic *t)
{
    json_t *channels = json_array();

    for (char **c = t->channels; *c != NULL; c++)
        json_array_append_new(channels, json_string(*c));
    return json_pack("{s:s,s:s,s:s,s:o,s:s}", "name", t->name, "title",
                     t->title, "category", t->category, "channels",
                     channels, "source", t->from_config ? "config" : "api");
}


static gint
name_order(gconstpointer a, gconstpointer b)
{
    const struct topic *x = *(void *const *) a;
    const struct topic *y = *(void *const *) b;

    return strcmp(x->name, y->name);
}


json_t *
topics_json(void)
{
    GPtrArray *all = g_ptr_array_new();
    json_t *list = json_array();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, registry());
    while (g_hash_table_iter_next(&iter, NULL, &value))
        g_ptr_array_add(all, value);
    g_ptr_array_sort(all, name_order);
    for (guint i = 0; i < all->len; i++)
        json_array_append_new(list, topic_json(g_ptr_array_index(all, i)));
    g_ptr_array_unref(all);
    return list;
}


/* 1 once the stored topics are in the registry, so that the admin routes
 * do not respond from a registry that lacks them. */
static int topics_loaded;


int
topics_ready(void)
{
    return topics_loaded;
}


static void
on_topics_read(void *arg, int status, json_t *result)
{
    size_t i;
    json_t *object;

    if (status < 0) {
        log_error("stored topics could not be read", "error=%s",
                  crier_errname(status));
        return;
    }
    topics_loaded = 1;
    json_array_foreach(json_object_get(result, "objects"), i, object) {
        const char *field;
        const char *error = topic_add_json(json_object_get(object, "body"),
                                           0, &field);

        if (error != NULL)
            log_warn("stored topic skipped", "topic=%s field=%s "
                     "error=\"%s\"",
                     json_string_value(json_object_get(object, "id")),
                     field ? field : "", error);
    }
}


void
topics_restore(void)
{
    json_t *request;
    int rc;

    if (!STORE_HAS_OP(objects_read)) {
        topics_loaded = 1;
        return;
    }
    request = json_pack("{s:s}", "kind", "topic");
    rc = server.store_ops->objects_read(server.store->state, request,
                                        on_topics_read, NULL);
    json_decref(request);
    if (rc < 0)
        on_topics_read(NULL, rc, NULL);
}
