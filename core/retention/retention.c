#include "retention/retention.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/server.h"

#define RETENTION_INTERVAL_MS (3600 * INT64_C(1000))
#define RETENTION_KEEP_MIN_MS RETENTION_INTERVAL_MS
#define RETENTION_TYPE_MAX 128

/* The maximum rows one events_expire call deletes, so that a large first
 * run keeps the store's writer busy only briefly at a time. */
#define RETENTION_BATCH 1000

/* The pipeline's cursor: events after it are not processed yet. */
#define RETENTION_CURSOR "pipeline"

/* The entries that share one `keep` duration. */
struct retention_group {
    int64_t keep_ms;
    json_t *types;            /* exact event types */
    json_t *prefixes;         /* "case." for the pattern "case.*" */
};

static struct {
    GPtrArray *groups;        /* struct retention_group * */
    struct crier_timer *timer;
    int in_flight;            /* an events_expire call awaits its callback */
    int stopping;
    guint group;              /* the group the current run is at */
    int64_t now;              /* the crier time the current run started */
    int64_t deleted;
    void (*stop_done)(void *arg);
    void *stop_arg;
} ret;


static void
group_free(void *data)
{
    struct retention_group *group = data;

    json_decref(group->types);
    json_decref(group->prefixes);
    g_free(group);
}


static struct retention_group *
group_for_keep(int64_t keep_ms)
{
    struct retention_group *group;
    guint i;

    for (i = 0; i < ret.groups->len; i++) {
        group = g_ptr_array_index(ret.groups, i);
        if (group->keep_ms == keep_ms)
            return group;
    }
    group = g_new0(struct retention_group, 1);
    group->keep_ms = keep_ms;
    group->types = json_array();
    group->prefixes = json_array();
    g_ptr_array_add(ret.groups, group);
    return group;
}


/*
 * Accepts an event type or a prefix pattern such as "case.*", in the
 * characters that rules' `on` accepts. "*" alone is not accepted, because
 * deleting every type is rarely meant.
 */
static int
is_retention_pattern(const char *pattern)
{
    size_t len = strlen(pattern);
    size_t i;

    if (len >= 2 && strcmp(pattern + len - 2, ".*") == 0)
        len -= 2;
    if (len == 0 || len > RETENTION_TYPE_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        if (!g_ascii_isalnum(pattern[i])
            && strchr("._:-", pattern[i]) == NULL)
            return 0;
    }
    return 1;
}


/* Returns nonzero when some event type matches both patterns. A prefix
 * pattern "case.*" is compared as "case.". */
static int
patterns_overlap(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    int prefix_a = la >= 2 && strcmp(a + la - 2, ".*") == 0;
    int prefix_b = lb >= 2 && strcmp(b + lb - 2, ".*") == 0;

    la -= prefix_a ? 1 : 0;
    lb -= prefix_b ? 1 : 0;
    if (!prefix_a && !prefix_b)
        return strcmp(a, b) == 0;
    if (prefix_a && (!prefix_b || la <= lb))
        return lb >= la && strncmp(a, b, la) == 0;
    return la >= lb && strncmp(a, b, lb) == 0;
}


/* Rejects an entry whose type overlaps an earlier entry's, because one
 * event must match one `keep` at most. */
static int
check_overlap(struct config *cfg, const json_t *list, size_t index,
              const char *key)
{
    const char *type = json_string_value(
        json_object_get(json_array_get(list, index), "type"));
    size_t i;

    for (i = 0; i < index; i++) {
        const char *other = json_string_value(
            json_object_get(json_array_get(list, i), "type"));

        if (patterns_overlap(type, other)) {
            config_fail(cfg, key, "\"%s\" overlaps retention[%zu] "
                        "(\"%s\"); an event type may match one entry only",
                        type, i, other);
            return CRIER_ECONFIG;
        }
    }
    return 0;
}


static int
load_entry(struct config *cfg, const json_t *list, size_t index)
{
    static const char *const keys[] = { "type", "keep", NULL };
    const json_t *entry = json_array_get(list, index);
    const char *type = NULL;
    const char *keep = NULL;
    int64_t keep_ms;
    char prefix[32];
    char key[48];
    size_t len;

    snprintf(prefix, sizeof(prefix), "retention[%zu]", index);
    if (!json_is_object(entry)) {
        config_fail(cfg, prefix, "must be a group such as "
                    "{ type = \"page_view\"; keep = \"90d\"; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, entry, prefix, keys) != 0
        || config_get_string(cfg, entry, prefix, "type", 1, &type) != 0
        || config_get_string(cfg, entry, prefix, "keep", 1, &keep) != 0)
        return CRIER_ECONFIG;
    snprintf(key, sizeof(key), "%s.type", prefix);
    if (!is_retention_pattern(type)) {
        config_fail(cfg, key, "must be an event type such as \"page_view\" "
                    "or a prefix pattern such as \"case.*\"; types are "
                    "letters, digits, '.', '_', ':' and '-'");
        return CRIER_ECONFIG;
    }
    if (check_overlap(cfg, list, index, key) != 0)
        return CRIER_ECONFIG;
    snprintf(key, sizeof(key), "%s.keep", prefix);
    if (clock_parse_duration(keep, &keep_ms) != 0
        || keep_ms < RETENTION_KEEP_MIN_MS) {
        config_fail(cfg, key, "must be a duration of at least 1 hour, "
                    "such as \"90d\" or \"36h\", not \"%s\"", keep);
        return CRIER_ECONFIG;
    }

    len = strlen(type);
    if (len >= 2 && strcmp(type + len - 2, ".*") == 0)
        json_array_append_new(group_for_keep(keep_ms)->prefixes,
                              json_stringn(type, len - 1));
    else
        json_array_append_new(group_for_keep(keep_ms)->types,
                              json_string(type));
    return 0;
}


int
retention_load(struct config *cfg)
{
    const json_t *list = json_object_get(cfg->root, "retention");
    size_t i;

    retention_release();
    ret.groups = g_ptr_array_new_with_free_func(group_free);
    if (list == NULL)
        return 0;
    if (!json_is_array(list)) {
        config_fail(cfg, "retention", "must be a list of groups, such as "
                    "( { type = \"page_view\"; keep = \"90d\"; } )");
        return CRIER_ECONFIG;
    }
    for (i = 0; i < json_array_size(list); i++) {
        if (load_entry(cfg, list, i) != 0)
            return CRIER_ECONFIG;
    }
    return 0;
}


static void run_step(void);


static void
on_timer(void *arg)
{
    (void) arg;
    ret.timer = NULL;
    ret.now = clock_now_ms();
    ret.group = 0;
    ret.deleted = 0;
    run_step();
}


/* Ends a run: logs its counts and waits for the next hour. */
static void
run_finish(void)
{
    log_info("events expired", "deleted=%lld", (long long) ret.deleted);
    if (!ret.stopping)
        ret.timer = timer_start(RETENTION_INTERVAL_MS, on_timer, NULL);
}


static void
on_expired(void *arg, int status, json_t *result)
{
    json_int_t deleted = 0;

    (void) arg;
    ret.in_flight = 0;
    if (status == 0)
        deleted = json_integer_value(json_object_get(result, "deleted"));
    else
        log_warn("event retention failed", "error=%s",
                 crier_errname(status));
    ret.deleted += deleted;

    /* A full batch may leave more to delete in the same group. */
    if (status != 0 || deleted < RETENTION_BATCH)
        ret.group++;
    if (ret.stopping) {
        ret.stop_done(ret.stop_arg);
        return;
    }
    run_step();
}


/* Calls events_expire for the current group, or ends the run. */
static void
run_step(void)
{
    struct retention_group *group;
    json_t *request;
    int rc;

    if (ret.group >= ret.groups->len) {
        run_finish();
        return;
    }
    group = g_ptr_array_index(ret.groups, ret.group);
    request = json_pack("{s:O, s:O, s:I, s:i, s:s}", "types", group->types,
                        "prefixes", group->prefixes,
                        "before", (json_int_t) (ret.now - group->keep_ms),
                        "limit", RETENTION_BATCH, "cursor", RETENTION_CURSOR);
    rc = request == NULL ? CRIER_ENOMEM
         : server.store_ops->events_expire(server.store->state, request,
                                           on_expired, NULL);
    json_decref(request);
    if (rc == 0) {
        ret.in_flight = 1;
        return;
    }
    log_warn("event retention failed", "error=%s", crier_errname(rc));
    ret.group++;
    run_step();
}


void
retention_start(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    ret.stopping = 0;
    if (ret.groups == NULL || ret.groups->len == 0)
        return;

    /* A store built before events_expire has a smaller table. */
    if (ops->size < offsetof(struct crier_store_ops, events_expire)
                    + sizeof(ops->events_expire)
        || ops->events_expire == NULL) {
        log_warn("retention not supported by the store", "plugin=%s",
                 server.store->file);
        return;
    }
    on_timer(NULL);
}


void
retention_stop(void (*done)(void *arg), void *arg)
{
    ret.stopping = 1;
    if (ret.timer != NULL) {
        timer_stop(ret.timer);
        ret.timer = NULL;
    }
    if (!ret.in_flight) {
        done(arg);
        return;
    }
    ret.stop_done = done;
    ret.stop_arg = arg;
}


void
retention_release(void)
{
    if (ret.groups != NULL)
        g_ptr_array_free(ret.groups, TRUE);
    ret.groups = NULL;
}
