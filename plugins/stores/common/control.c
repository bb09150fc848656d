/*
 * Parsing of the operator's requests that both stores share: pauses and
 * the audit log. A parser that fails returns CRIER_EINVAL (or
 * CRIER_ENOMEM) and leaves nothing allocated in its output.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"

/* The maximum entries in one audit_list page. */
#define AUDIT_LIMIT_MAX 1000


/* Returns 1 for the scopes a pause may name: all, channel and program. */
static int
pause_scope_valid(const char *scope)
{
    return strcmp(scope, "all") == 0 || strcmp(scope, "channel") == 0 ||
           strcmp(scope, "program") == 0;
}


int
pause_change_parse(const json_t *json, struct pause_change *out)
{
    json_t *paused = json_object_get(json, "paused");
    int all;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json) || !json_is_boolean(paused))
        return CRIER_EINVAL;
    out->paused = json_is_true(paused);
    rc = member_string(json, "scope", 1, &out->scope);
    if (rc == 0 && !pause_scope_valid(out->scope))
        rc = CRIER_EINVAL;
    all = rc == 0 && strcmp(out->scope, "all") == 0;
    /* The scope "all" has no name, and the stores keep it as "". */
    if (rc == 0)
        rc = all ? 0 : member_string(json, "name", 1, &out->name);
    if (rc == 0 && all && json_object_get(json, "name") != NULL &&
        !json_is_null(json_object_get(json, "name")))
        rc = CRIER_EINVAL;
    if (rc == 0 && all && (out->name = strdup("")) == NULL)
        rc = CRIER_ENOMEM;
    if (rc == 0)
        rc = member_integer(json, "time", 1, 0, &out->time);
    if (rc == 0)
        rc = member_string(json, "by", 0, &out->by);
    if (rc < 0)
        pause_change_clear(out);
    return rc;
}


void
pause_change_clear(struct pause_change *change)
{
    free(change->scope);
    free(change->name);
    free(change->by);
    memset(change, 0, sizeof(*change));
}


int
pause_covers(const char *scope, const char *name, const char *channel,
             const char *program)
{
    if (strcmp(scope, "all") == 0)
        return 1;
    if (strcmp(scope, "channel") == 0)
        return channel != NULL && strcmp(name, channel) == 0;
    return program != NULL && strcmp(name, program) == 0;
}


int
audit_entry_parse(const json_t *json, struct audit_entry *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "time", 1, 0, &out->time);
    if (rc == 0)
        rc = member_string(json, "token", 1, &out->token);
    if (rc == 0)
        rc = member_string(json, "action", 1, &out->action);
    if (rc == 0)
        rc = member_string(json, "target", 0, &out->target);
    if (rc == 0)
        rc = member_integer(json, "result", 1, 0, &out->result);
    if (rc < 0)
        audit_entry_clear(out);
    return rc;
}


void
audit_entry_clear(struct audit_entry *entry)
{
    free(entry->token);
    free(entry->action);
    free(entry->target);
    memset(entry, 0, sizeof(*entry));
}


json_t *
audit_entry_json(const struct audit_entry *entry)
{
    return json_pack("{s:I,s:I,s:s,s:s,s:s?,s:I}", "id",
                     (json_int_t) entry->id, "time",
                     (json_int_t) entry->time, "token", entry->token,
                     "action", entry->action, "target", entry->target,
                     "result", (json_int_t) entry->result);
}


int
audit_filter_parse(const json_t *json, struct audit_filter *out)
{
    int64_t limit;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "limit", 0, 100, &limit);
    if (rc == 0 && (limit < 1 || limit > AUDIT_LIMIT_MAX))
        rc = CRIER_EINVAL;
    out->limit = (size_t) limit;
    if (rc == 0)
        rc = member_integer(json, "before", 0, INT64_MAX, &out->before);
    if (rc == 0)
        rc = member_integer(json, "since", 0, INT64_MIN, &out->since);
    if (rc == 0)
        rc = member_integer(json, "until", 0, INT64_MAX, &out->until);
    if (rc == 0)
        rc = member_string(json, "token", 0, &out->token);
    if (rc == 0)
        rc = member_string(json, "action", 0, &out->action);
    if (rc < 0)
        audit_filter_clear(out);
    return rc;
}


void
audit_filter_clear(struct audit_filter *filter)
{
    free(filter->token);
    free(filter->action);
    memset(filter, 0, sizeof(*filter));
}


int
audit_filter_matches(const struct audit_filter *filter,
                     const struct audit_entry *entry)
{
    return entry->id < filter->before && entry->time >= filter->since &&
           entry->time < filter->until &&
           (filter->token == NULL ||
            strcmp(filter->token, entry->token) == 0) &&
           (filter->action == NULL ||
            strcmp(filter->action, entry->action) == 0);
}
