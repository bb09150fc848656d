/*
 * The replanning pass: plans every stored profile again when the
 * schedules in the config, or the agency's time_zone, differ from those
 * the stored plans were made for, such as a schedule added to a running
 * system.
 *
 * The store keeps a digest of the schedules' settings in the cursor
 * "schedule-plans". At start, when the digest of the loaded schedules
 * differs, the pass pages through the profiles in id order with
 * profiles_scan and commits each page's plans, one pipeline_exclusive
 * turn per page as the segment refresh pass does. It writes the new
 * digest only after the last page, so a pass cut short by a crash or a
 * stop runs again at the next start. A row whose basis is unchanged is
 * kept as it is, so planning again fires nothing twice.
 *
 * NOTE: until the pass reaches a profile, its old plan stays and may
 * fire. See "Triggers" in docs/KNOWN_LIMITS.md.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "pipeline/pipeline.h"
#include "schedule/schedule.h"
#include "server/server.h"

/* Profiles planned in one pipeline turn, as for the segment refresh. */
#define REPLAN_PAGE 500

#define REPLAN_CURSOR "schedule-plans"

static struct {
    int running;
    int stopping;
    int64_t digest;
    char *after;
    long long profiles;
    uint64_t started;
} rp;

static void page_queue(void);


/* Returns 1 when the store has profiles_scan and schedule plans. */
static int
store_supports_replan(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, schedules_advance) +
                        sizeof(ops->schedules_advance) &&
           ops->profiles_scan != NULL && ops->schedules_claim != NULL;
}


/* Returns a digest of every schedule's source and settings and of the
 * agency's zone, which plans of profiles without a zone use, as a
 * positive integer for the cursor. */
static int64_t
schedules_digest(void)
{
    GPtrArray *defs = schedule_defs();
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 bytes[32];
    gsize len = sizeof(bytes);
    int64_t digest = 0;

    for (guint i = 0; defs != NULL && i < defs->len; i++) {
        const struct schedule_def *def = g_ptr_array_index(defs, i);

        g_checksum_update(sum, (const guchar *) def->source, -1);
        g_checksum_update(sum, (const guchar *) "\n", 1);
        g_checksum_update(sum, (const guchar *) def->fingerprint, -1);
        g_checksum_update(sum, (const guchar *) "\n", 1);
    }
    g_checksum_update(sum, (const guchar *) g_time_zone_get_identifier(
                          civil_zone_default()), -1);
    g_checksum_get_digest(sum, bytes, &len);
    g_checksum_free(sum);
    for (int i = 0; i < 7; i++)
        digest = (digest << 8) | bytes[i];
    return digest;
}


static void
pass_end(int status)
{
    rp.running = 0;
    g_free(rp.after);
    rp.after = NULL;
    if (status != 0)
        log_error("schedule replanning failed; it runs again at the next "
                  "start", "error=%s profiles=%lld", crier_errname(status),
                  rp.profiles);
    else if (!rp.stopping)
        log_info("schedules planned for every profile", "profiles=%lld "
                 "ms=%llu", rp.profiles,
                 (unsigned long long) (uv_now(server.loop) - rp.started));
}


static void
on_digest_written(void *arg, int status, json_t *result)
{
    (void) arg;
    (void) result;
    pipeline_exclusive_end();
    pass_end(status);
}


/* Writes the digest once every page is planned, in a turn of its own. */
static void
digest_write(void *arg)
{
    json_t *batch = json_pack("{s:{s:s,s:I}}", "cursor", "name",
                              REPLAN_CURSOR, "value",
                              (json_int_t) rp.digest);
    int rc;

    (void) arg;
    rc = server.store_ops->commit(server.store->state, batch,
                                  on_digest_written, NULL);
    json_decref(batch);
    if (rc != 0) {
        pipeline_exclusive_end();
        pass_end(rc);
    }
}


/* Ends the page's turn, then queues the next page, or the digest after
 * the last one. */
static void
page_end(int status, const char *next)
{
    pipeline_exclusive_end();
    if (status != 0 || rp.stopping) {
        pass_end(status);
        return;
    }
    if (next == NULL) {
        if (pipeline_exclusive(digest_write, NULL) != 0)
            pass_end(CRIER_ECLOSED);
        return;
    }
    g_free(rp.after);
    rp.after = g_strdup(next);
    page_queue();
}


static void
on_page_committed(void *arg, int status, json_t *result)
{
    char *next = arg;

    (void) result;
    page_end(status, next);
    g_free(next);
}


static void
on_page(void *arg, int status, json_t *result)
{
    const char *next = json_string_value(json_object_get(result, "next"));
    json_t *profiles = json_object_get(result, "profiles");
    json_t *plans = json_array();
    int64_t now = clock_now_ms();
    json_t *batch;
    size_t i;
    json_t *profile;
    char *next_copy;
    int rc;

    (void) arg;
    if (status != 0) {
        json_decref(plans);
        page_end(status, NULL);
        return;
    }
    json_array_foreach(profiles, i, profile)
        schedule_plan_profile(profile, now, plans);
    rp.profiles += (long long) json_array_size(profiles);
    next_copy = g_strdup(next);
    batch = json_pack("{s:o}", "schedules", plans);
    rc = server.store_ops->commit(server.store->state, batch,
                                  on_page_committed, next_copy);
    json_decref(batch);
    if (rc != 0) {
        g_free(next_copy);
        page_end(rc, NULL);
    }
}


static void
page_run(void *arg)
{
    json_t *request = json_pack("{s:s?,s:i}", "after", rp.after, "limit",
                                REPLAN_PAGE);
    int rc;

    (void) arg;
    rc = server.store_ops->profiles_scan(server.store->state, request,
                                         on_page, NULL);
    json_decref(request);
    if (rc != 0)
        page_end(rc, NULL);
}


static void
page_queue(void)
{
    if (rp.stopping)
        pass_end(0);
    else if (pipeline_exclusive(page_run, NULL) != 0)
        pass_end(CRIER_ECLOSED);
}


static void
on_digest_read(void *arg, int status, json_t *result)
{
    int64_t stored = json_integer_value(json_object_get(result, "value"));

    (void) arg;
    if (status != 0) {
        pass_end(status);
        return;
    }
    if (stored == rp.digest || rp.stopping) {
        rp.running = 0;
        return;
    }
    log_info("schedules changed; planning every profile again", NULL);
    page_queue();
}


void
schedule_replan_start(void)
{
    int rc;

    rp.stopping = 0;
    if (!schedule_any() || !store_supports_replan())
        return;
    rp.running = 1;
    rp.profiles = 0;
    rp.started = uv_now(server.loop);
    rp.digest = schedules_digest();
    rc = server.store_ops->cursor_get(server.store->state, REPLAN_CURSOR,
                                      on_digest_read, NULL);
    if (rc != 0)
        pass_end(rc);
}


void
schedule_replan_stop(void)
{
    rp.stopping = 1;
}
