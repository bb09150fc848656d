#include "pipeline/engine.h"

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "base/log.h"
#include "bulletins/bulletins.h"
#include "delivery/outbox.h"
#include "journeys/journeys.h"
#include "pipeline/pipeline.h"
#include "retention/retention.h"
#include "rules/rules.h"
#include "schedule/schedule.h"
#include "segments/segments.h"
#include "server/server.h"
#include "template/template.h"
#include "topics/pages.h"
#include "topics/topics.h"

/* The objects one config gives the engine, kept after a reload replaced
 * them because an admin request in flight may still read them. */
struct engine_generation {
    struct template_set *templates;
    struct ruleset *rules;
    struct segment_set *segments;
};

static struct {
    struct outbox_settings outbox;
    void (*stop_done)(void *arg);
    void *stop_arg;
    GPtrArray *retired;         /* struct engine_generation * */
} eng;


static int
channel_exists(const char *name)
{
    return server_channel(name) != NULL;
}


static void
generation_free(gpointer data)
{
    struct engine_generation *g = data;

    ruleset_free(g->rules);
    segment_set_free(g->segments);
    template_set_free(g->templates);
    free(g);
}


static int
load_templates(struct config *cfg)
{
    struct template_error err;
    const char *dir = server.settings.templates_dir;

    if (dir == NULL || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        /* Without templates no rule can send, and ruleset_load reports a rule
         * that tries. */
        if (json_object_get(cfg->root, "templates") != NULL)
            config_fail(cfg, "templates", "folder %s not found", dir);
        return cfg->error[0] ? CRIER_ECONFIG : 0;
    }
    server.templates = template_set_load(dir, &err);
    if (server.templates != NULL) {
        template_set_language(server.templates,
                              server.settings.default_language);
        return 0;
    }
    if (err.line > 0)
        snprintf(cfg->error, sizeof(cfg->error), "%s:%d:%d: template: %s",
                 err.path, err.line, err.col, err.message);
    else
        snprintf(cfg->error, sizeof(cfg->error), "%s: template: %s",
                 err.path, err.message);
    return CRIER_ECONFIG;
}


int
engine_prepare(struct config *cfg)
{
    if (load_templates(cfg) != 0 ||
        ruleset_load(cfg, server.templates, channel_exists,
                     &server.rules) != 0 ||
        segment_set_load(cfg, &server.segments) != 0 ||
        outbox_settings_load(cfg, &eng.outbox) != 0 ||
        retention_load(cfg) != 0 || topics_load(cfg) != 0 ||
        pages_load(cfg) != 0)
        return CRIER_ECONFIG;
    return 0;
}


int
engine_reload(struct config *cfg, struct config *old_cfg)
{
    struct engine_generation *old = calloc(1, sizeof(*old));
    struct outbox_settings old_outbox = eng.outbox;

    if (old == NULL)
        return CRIER_ENOMEM;
    old->templates = server.templates;
    old->rules = server.rules;
    old->segments = server.segments;
    server.templates = NULL;
    server.rules = NULL;
    server.segments = NULL;
    if (engine_prepare(cfg) == 0) {
        if (eng.retired == NULL)
            eng.retired = g_ptr_array_new_with_free_func(generation_free);
        g_ptr_array_add(eng.retired, old);
        return 0;
    }

    /* Undo: free what the new config built and put the old objects
     * back. retention_load, topics_load and pages_load succeeded on the
     * old config before; engine_start reads the API's topics again. */
    ruleset_free(server.rules);
    segment_set_free(server.segments);
    template_set_free(server.templates);
    server.templates = old->templates;
    server.rules = old->rules;
    server.segments = old->segments;
    eng.outbox = old_outbox;
    retention_load(old_cfg);
    topics_load(old_cfg);
    pages_load(old_cfg);
    free(old);
    return CRIER_ECONFIG;
}


int
engine_start(void)
{
    int rc = pipeline_start(server.rules, outbox_kick);

    if (rc == 0)
        rc = outbox_start(&eng.outbox, server.templates);
    if (rc == 0) {
        retention_start();
        segments_refresh_start();
        schedule_replan_start();
        journeys_wake_start(server.rules);
        topics_restore();
        bulletins_start();
    }
    return rc;
}


static void
after_pipeline(void *arg)
{
    outbox_pause();
    retention_stop(eng.stop_done, eng.stop_arg);
}


void
engine_stop(void (*done)(void *arg), void *arg)
{
    eng.stop_done = done;
    eng.stop_arg = arg;
    segments_refresh_stop();
    bulletins_stop();
    schedule_replan_stop();
    journeys_wake_stop();
    pipeline_stop(after_pipeline, NULL);
}


void
engine_drain(void (*done)(void *arg), void *arg)
{
    outbox_drain(done, arg);
}


void
engine_release(void)
{
    ruleset_free(server.rules);
    server.rules = NULL;
    segment_set_free(server.segments);
    server.segments = NULL;
    template_set_free(server.templates);
    server.templates = NULL;
    retention_release();
    schedule_defs_clear();
    bulletins_release();
    topics_release();
    pages_release();
    if (eng.retired != NULL)
        g_ptr_array_free(eng.retired, TRUE);
    eng.retired = NULL;
}


void
engine_notify_events(void)
{
    pipeline_notify();
}
