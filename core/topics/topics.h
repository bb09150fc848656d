/*
 * Topics that residents subscribe to ("Crib recalls", "Road closures in
 * Ward 3"), grouped in categories, each with the channels it may use.
 * They come from the `topics` list of plugins.conf and from the admin API,
 * which stores them as objects of kind "topic" (docs/topics.md).
 */
#ifndef CRIER_CORE_TOPICS_H
#define CRIER_CORE_TOPICS_H

#include <jansson.h>

#include "config/config.h"

struct topic {
    char *name;                 /* lowercase letters, digits, '-', '_' */
    char *title;                /* shown on the hosted pages */
    char *category;
    char **channels;            /* NULL-terminated channel instance names */
    int from_config;            /* 0 for a topic made by the admin API */
};

/* Reads the `topics` list of plugins.conf. Returns 0 or CRIER_ECONFIG
 * with the error at the entry's key path. */
int topics_load(struct config *cfg);

/* Frees every topic. */
void topics_release(void);

/* Returns the topic called `name`, or NULL. */
const struct topic *topic_find(const char *name);

/* Returns nonzero when `topic` may use the channel instance `channel`. */
int topic_allows(const struct topic *topic, const char *channel);

/*
 * Checks a topic given as JSON ({"name", "title", "category",
 * "channels"}) and adds it, replacing a topic of the admin API with the
 * same name. Returns NULL, or the error with the invalid member in
 * *field (NULL when the whole value is at fault).
 */
const char *topic_add_json(const json_t *json, int from_config,
                           const char **field);

/* Returns every topic as a JSON list, in name order (a new reference). */
json_t *topics_json(void);

/* Returns one topic as JSON (a new reference). */
json_t *topic_json(const struct topic *topic);

/* Reads the topics that the admin API stored, once the store runs. A
 * failure is logged, and those topics stay unknown until a restart. */
void topics_restore(void);

/* Returns 1 once topics_restore has read the stored topics, 0 before or
 * when the read failed. */
int topics_ready(void);

/* Adds /v1/topics and /v1/subscriptions (routes.c). */
struct http_server;
int topic_routes_add(struct http_server *http);

/* Returns nonzero when `name` is a valid topic name. */
int topic_name_valid(const char *name);

#endif
