/*
 * Digests: items collected per resident over a window and sent as one
 * message that lists them in event-time order.
 *
 * A digest is named in plugins.conf under `digests`, and a rule's or a
 * journey step's `send = { digest = "name"; }` adds the event to it. A
 * resident's open window is a row of the journey places, named
 * "digest:<name>", which the pipeline writes in its commit. The journey
 * clock turns a due window into a digest.due event, and the pipeline
 * plans the window's one job when it reaches that event.
 * docs/digests.md states every rule.
 */
#ifndef CRIER_CORE_DIGESTS_H
#define CRIER_CORE_DIGESTS_H

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

#include "config/config.h"
#include "rules/expr.h"
#include "time/civil.h"

struct ruleset;
struct template_set;
struct evaluation;

/* The prefix of a digest window's journey name: "digest:<name>". */
#define DIGEST_ROW_PREFIX "digest:"

/* The maximum number of items in one window. A further item with a new
 * key is dropped and logged. */
#define DIGEST_ITEMS_MAX 200

struct digest {
    char *name;
    char *channel;
    char *template_name;
    int service;                /* class "service" */
    int64_t window_ms;          /* > 0: the window ends this long after
                                 * its first item's event time */
    int has_until;              /* else it ends at the next `until` */
    struct civil_time until;    /* local time in the resident's zone */
    unsigned until_days;        /* bit 0 Monday to bit 6 Sunday; 0 for
                                 * every day */
    struct expr *key;           /* the item's key, NULL: the event */
};

/*
 * Loads the `digests` list of the config into rs->digests. Channels are
 * checked with `channel_exists`, templates against `templates`. Returns
 * 0 or CRIER_ECONFIG with the file, line and key in cfg->error.
 */
int digests_load(struct config *cfg, struct ruleset *rs,
                 const struct template_set *templates,
                 int (*channel_exists)(const char *name));

void digest_free(gpointer digest);

/* Returns the digest `name` of `digests`, or NULL. */
const struct digest *digest_find(const GPtrArray *digests, const char *name);

/*
 * Reads `digest = "name"` of the send group `send` at `key` into *out.
 * Returns 0 when the group has no digest (then *out is NULL), 1 when it
 * names one, or CRIER_ECONFIG for an unknown name or a group that also
 * sets a channel or a template.
 */
int digest_send_load(struct config *cfg, const char *key, json_t *send,
                     const struct ruleset *rs, const struct digest **out);

/*
 * Computes when a window whose first item happened at `first_ms` ends,
 * for a resident in `zone`. Returns the instant in ms.
 */
int64_t digest_window_end(const struct digest *digest, GTimeZone *zone,
                          int64_t first_ms);

/* pipeline/digest.c */

/*
 * Adds the event `event` (seq `seq`, event time `when`) to the
 * resident's open window of `digest`, opening one when there is none.
 * An item with the key of one already in the window replaces it when it
 * is not older. `ctx` is what the rules saw, for the key expression.
 */
void digest_collect(struct evaluation *ev, const struct digest *digest,
                    json_t *ctx, json_t *profile, const json_t *event,
                    int64_t seq, int64_t when);

/*
 * Handles a digest.due event: plans the window's job and closes the
 * window, when the resident's row is still on the window and the item
 * version that the event names.
 */
void digest_fire(struct evaluation *ev, const struct ruleset *rules,
                 const json_t *props, json_t *profile, int64_t seq);

#endif
