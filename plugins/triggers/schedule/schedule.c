/*
 * The schedule trigger: records an event when a date of a profile comes
 * round, such as six months after a dependent's birth date at 09:00 in
 * the profile's zone.
 *
 *     dates = { plugin = "schedule";
 *       schedules = (
 *         { name = "infant-6-months"; date = "dependents.birth_date";
 *           offset = "6 months"; at = "09:00"; catch_up = "14 days"; }
 *       ); };
 *
 * The plugin registers its schedules with the core at init. The core
 * plans them for every profile it writes and keeps the next due time of
 * each in the store. The plugin only wakes every `interval_s` on the
 * crier clock and calls the core to fire what is due, so it keeps no
 * state of its own. docs/triggers/schedule.md describes every key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/crier.h>

/* Occurrences fired in one store transaction. */
#define FIRE_BATCH 500

#define INTERVAL_DEFAULT_S 60
#define INTERVAL_MAX_S 3600

struct schedule_trigger {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    int64_t interval_ms;
    struct crier_timer *timer;
    int firing;                 /* a schedules_fire call is under way */
    int64_t fired_at;           /* the crier clock when it started */
    int stopping;
    crier_stop_cb stop_done;
    void *stop_arg;
};

static void fire_now(struct schedule_trigger *t);


static void
on_timer(void *arg)
{
    struct schedule_trigger *t = arg;

    t->timer = NULL;
    fire_now(t);
}


/* Waits for the next whole interval of the crier clock, so that with the
 * default of 60 s an occurrence at 09:00 fires at 09:00:00, not up to a
 * minute after. */
static void
wait_interval(struct schedule_trigger *t)
{
    int64_t now = t->host->now_ms(t->ctx);
    int64_t delay = t->interval_ms - now % t->interval_ms;

    if (t->stopping)
        return;
    t->timer = t->host->timer_start(t->ctx, delay, on_timer, t);
    if (t->timer == NULL)
        t->host->log(t->ctx, CRIER_LOG_ERROR, "schedule timer failed; "
                     "nothing fires until a restart", NULL);
}


/* Returns 1 when the crier clock passed a whole interval since the
 * firing began (a test clock that jumps), so a wake-up was missed. */
static int
boundary_passed(const struct schedule_trigger *t)
{
    int64_t now = t->host->now_ms(t->ctx);

    return now / t->interval_ms > t->fired_at / t->interval_ms;
}


/* Fires again at once while whole batches come back, so a backlog goes
 * out in one wake-up, and when a wake-up was missed during the firing,
 * since rows may have come due after the claim. Otherwise waits for the
 * next interval. */
static void
on_fired(void *arg, int status, size_t fired)
{
    struct schedule_trigger *t = arg;

    t->firing = 0;
    if (t->stopping) {
        t->stop_done(t->stop_arg);
        return;
    }
    if (status != 0)
        t->host->log(t->ctx, CRIER_LOG_ERROR, "schedules failed to fire; "
                     "retrying at the next interval", "error=%s",
                     crier_errname(status));
    else if (fired > 0)
        CRIER_LOG(t->host, t->ctx, CRIER_LOG_INFO, "schedules fired",
                  "count=%zu", fired);
    if (status == 0 && (fired == FIRE_BATCH || boundary_passed(t)))
        fire_now(t);
    else
        wait_interval(t);
}


static void
fire_now(struct schedule_trigger *t)
{
    int rc;

    if (t->stopping)
        return;
    t->fired_at = t->host->now_ms(t->ctx);
    rc = t->host->schedules_fire(t->ctx, FIRE_BATCH, on_fired, t);
    if (rc == 0) {
        t->firing = 1;
        return;
    }
    if (rc != CRIER_ECLOSED)
        t->host->log(t->ctx, CRIER_LOG_ERROR, "schedules failed to fire; "
                     "retrying at the next interval", "error=%s",
                     crier_errname(rc));
    wait_interval(t);
}


/* Registers each schedule with the core, which checks it. */
static int
schedules_add(struct schedule_trigger *t, const json_t *list)
{
    struct crier_input_error err;
    size_t i;
    json_t *item;
    int failed = 0;

    if (!json_is_array(list) || json_array_size(list) == 0) {
        t->host->config_error(t->ctx, "schedules", "must be a non-empty "
                              "list: schedules = ( { name = \"...\"; date "
                              "= \"...\"; at = \"09:00\"; } );");
        return CRIER_ECONFIG;
    }
    json_array_foreach(list, i, item) {
        char key[160];

        memset(&err, 0, sizeof(err));
        if (t->host->schedule_add(t->ctx, item, &err) == 0)
            continue;
        snprintf(key, sizeof(key), "schedules[%zu]%s%s", i,
                 err.field[0] ? "." : "", err.field);
        t->host->config_error(t->ctx, key, "%s", err.message);
        failed = 1;
    }
    return failed ? CRIER_ECONFIG : 0;
}


/* Reads `interval_s`, 1 to INTERVAL_MAX_S. */
static int
interval_read(struct schedule_trigger *t, const json_t *config)
{
    json_t *value = json_object_get(config, "interval_s");

    t->interval_ms = INTERVAL_DEFAULT_S * 1000LL;
    if (value == NULL)
        return 0;
    if (!json_is_integer(value) || json_integer_value(value) < 1 ||
        json_integer_value(value) > INTERVAL_MAX_S) {
        t->host->config_error(t->ctx, "interval_s", "must be a whole "
                              "number of seconds from 1 to %d",
                              INTERVAL_MAX_S);
        return CRIER_ECONFIG;
    }
    t->interval_ms = json_integer_value(value) * 1000;
    return 0;
}


static int
schedule_init(struct crier_ctx *ctx, const struct crier_host *host,
              const json_t *config, void **state)
{
    struct schedule_trigger *t;
    const char *key;
    json_t *value;
    int rc = 0;

    if (host->minor < 3) {
        host->config_error(ctx, "plugin", "the schedule trigger needs a "
                           "crier core of ABI minor 3 or later");
        return CRIER_ECONFIG;
    }
    json_object_foreach((json_t *) config, key, value) {
        if (strcmp(key, "plugin") == 0 || strcmp(key, "schedules") == 0 ||
            strcmp(key, "interval_s") == 0)
            continue;
        host->config_error(ctx, key, "unknown setting; the settings are "
                           "schedules and interval_s");
        rc = CRIER_ECONFIG;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return CRIER_ENOMEM;
    t->ctx = ctx;
    t->host = host;
    if (rc == 0)
        rc = interval_read(t, config);
    if (rc == 0)
        rc = schedules_add(t, json_object_get(config, "schedules"));
    if (rc != 0) {
        free(t);
        return rc;
    }
    *state = t;
    return 0;
}


/* Fires at once, so occurrences that came due while crier was down go
 * out at start. */
static int
schedule_start(void *state)
{
    fire_now(state);
    return 0;
}


static void
schedule_stop(void *state, crier_stop_cb done, void *arg)
{
    struct schedule_trigger *t = state;

    t->stopping = 1;
    if (t->timer != NULL) {
        t->host->timer_stop(t->ctx, t->timer);
        t->timer = NULL;
    }
    if (!t->firing) {
        done(arg);
        return;
    }
    t->stop_done = done;
    t->stop_arg = arg;
}


static void
schedule_destroy(void *state)
{
    free(state);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_TRIGGER,
    .name = "schedule",
    .version = "0.1.0",
    .summary = "records an event when a profile's date comes round",
    .init = schedule_init,
    .start = schedule_start,
    .stop = schedule_stop,
    .destroy = schedule_destroy,
    .ops = NULL
};
