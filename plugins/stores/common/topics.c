/*
 * Topic subscriptions, stored objects (bulletins, topics made by the
 * admin API) and the job tally of a bulletin: requests parsed and results
 * built alike by both stores. docs/internals/store.md defines the forms.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


/* Returns nonzero when `value` is one of the NULL-ended `names`. */
static int
name_known(const char *value, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strcmp(value, *names) == 0)
            return 1;
    return 0;
}


static const char *const statuses[] = {
    "pending", "confirmed", "unsubscribed", NULL
};

static const char *const origins[] = {
    "page", "api", "import", "sms", NULL
};


/* Fails the parse: frees the members of `out` and returns `rc`. */
static int
parse_fail(struct topic_request *out, int rc)
{
    topic_request_clear(out);
    return rc;
}


int
subscription_set_parse(const json_t *json, struct topic_request *out)
{
    json_t *time = json_object_get(json, "time");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_integer(time))
        return CRIER_EINVAL;
    out->time = json_integer_value(time);
    rc = member_text(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_text(json, "topic", 1, &out->topic);
    if (rc == 0)
        rc = member_text(json, "channel", 1, &out->channel);
    if (rc == 0)
        rc = member_text(json, "status", 1, &out->status);
    if (rc == 0)
        rc = member_text(json, "origin", 1, &out->origin);
    if (rc == 0 && (!name_known(out->status, statuses) ||
                    !name_known(out->origin, origins)))
        rc = CRIER_EINVAL;
    return rc < 0 ? parse_fail(out, rc) : 0;
}


static int
confirmation_parse(const json_t *json, void *item)
{
    struct topic_request *out = item;
    json_t *time = json_object_get(json, "time");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_integer(time))
        return CRIER_EINVAL;
    out->time = json_integer_value(time);
    rc = member_text(json, "profile", 1, &out->profile);
    if (rc == 0)
        rc = member_text(json, "channel", 1, &out->channel);
    if (rc == 0)
        rc = member_text(json, "origin", 1, &out->origin);
    if (rc == 0)
        rc = member_text(json, "topic", 0, &out->topic);
    if (rc == 0 && !name_known(out->origin, origins))
        rc = CRIER_EINVAL;
    return rc < 0 ? parse_fail(out, rc) : 0;
}


int
confirmations_parse(const json_t *json, struct topic_request **items,
                    size_t *count)
{
    void *parsed;
    int rc = batch_array_parse(json, "confirmations", sizeof(**items),
                               confirmation_parse, &parsed, count);

    *items = parsed;
    return rc;
}


void
confirmations_clear(struct topic_request *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        topic_request_clear(&items[i]);
    free(items);
}


/* A request names either a profile, or a topic and a channel with an
 * optional page position. */
int
subscriptions_read_parse(const json_t *json, struct topic_request *out)
{
    json_t *limit = json_object_get(json, "limit");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    out->limit = SUBSCRIBERS_DEFAULT;
    if (limit != NULL && !json_is_null(limit)) {
        if (!json_is_integer(limit) || json_integer_value(limit) < 1 ||
            json_integer_value(limit) > SUBSCRIBERS_MAX)
            return CRIER_EINVAL;
        out->limit = (size_t) json_integer_value(limit);
    }
    rc = member_text(json, "profile", 0, &out->profile);
    if (rc == 0)
        rc = member_text(json, "topic", 0, &out->topic);
    if (rc == 0)
        rc = member_text(json, "channel", 0, &out->channel);
    if (rc == 0)
        rc = member_text(json, "after", 0, &out->after);
    if (rc == 0 && (out->profile == NULL) ==
                   (out->topic == NULL || out->channel == NULL))
        rc = CRIER_EINVAL;
    if (rc == 0 && out->profile != NULL &&
        (out->topic != NULL || out->channel != NULL || out->after != NULL))
        rc = CRIER_EINVAL;
    return rc < 0 ? parse_fail(out, rc) : 0;
}


int
object_put_parse(const json_t *json, struct topic_request *out)
{
    json_t *body = json_object_get(json, "body");
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_object(body))
        return CRIER_EINVAL;
    rc = member_text(json, "kind", 1, &out->kind);
    if (rc == 0)
        rc = member_text(json, "id", 1, &out->id);
    if (rc == 0) {
        out->body = json_dumps(body, JSON_COMPACT);
        if (out->body == NULL)
            rc = CRIER_ENOMEM;
    }
    return rc < 0 ? parse_fail(out, rc) : 0;
}


int
objects_read_parse(const json_t *json, struct topic_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_text(json, "kind", 1, &out->kind);
    if (rc == 0)
        rc = member_text(json, "id", 0, &out->id);
    return rc < 0 ? parse_fail(out, rc) : 0;
}


int
jobs_tally_parse(const json_t *json, struct topic_request *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_text(json, "rule", 1, &out->rule);
    return rc < 0 ? parse_fail(out, rc) : 0;
}


void
topic_request_clear(struct topic_request *req)
{
    free(req->profile);
    free(req->topic);
    free(req->channel);
    free(req->status);
    free(req->origin);
    free(req->after);
    free(req->kind);
    free(req->id);
    free(req->body);
    free(req->rule);
    memset(req, 0, sizeof(*req));
}


json_t *
subscription_json(const char *profile, const char *topic,
                  const char *channel, const char *status,
                  const char *origin, int64_t created, int64_t updated)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I}", "profile", profile,
                     "topic", topic, "channel", channel, "status", status,
                     "origin", origin, "created", (json_int_t) created,
                     "updated", (json_int_t) updated);
}


json_t *
stored_object_json(const char *id, const char *body)
{
    json_t *parsed = json_loads(body, 0, NULL);

    if (parsed == NULL)
        return NULL;
    return json_pack("{s:s,s:o}", "id", id, "body", parsed);
}


json_t *
jobs_tally_new(void)
{
    return json_pack("{s:o,s:o,s:n}", "states", json_object(), "reasons",
                     json_object(), "last_key");
}


void
jobs_tally_last(json_t *result, const char *rule, const char *key)
{
    const char *had = json_string_value(json_object_get(result,
                                                        "last_key"));
    size_t len = strlen(rule);

    if (key == NULL || strncmp(key, rule, len) != 0 || key[len] != '/')
        return;
    if (had == NULL || strcmp(key, had) > 0)
        json_object_set_new(result, "last_key", json_string(key));
}


/* Counts the jobs under their state, and a suppressed job also under its
 * reason (its first error). */
void
jobs_tally_add(json_t *result, const char *state, const char *error,
               int64_t count)
{
    json_t *states = json_object_get(result, "states");
    json_t *reasons = json_object_get(result, "reasons");
    json_int_t had = json_integer_value(json_object_get(states, state));

    json_object_set_new(states, state, json_integer(had + count));
    if (strcmp(state, "suppressed") != 0)
        return;
    if (error == NULL)
        error = "unknown";
    had = json_integer_value(json_object_get(reasons, error));
    json_object_set_new(reasons, error, json_integer(had + count));
}


int
subscription_status_rank(const char *status)
{
    if (strcmp(status, "confirmed") == 0)
        return 2;
    return strcmp(status, "pending") == 0 ? 1 : 0;
}
