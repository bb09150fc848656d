/*
 * Segments from plugins.conf: named conditions over a profile, such as
 *
 *     segments = ( { name = "toddler-parents";
 *                    when = "any(profile.dependents,
 *                                age_months(birth_date) < 24)"; } );
 *
 * The pipeline evaluates every segment for the profile of each event and
 * records in its commit batch the profiles that entered or left one.
 */
#ifndef CRIER_CORE_SEGMENTS_H
#define CRIER_CORE_SEGMENTS_H

#include <glib.h>
#include <jansson.h>

#include "config/config.h"
#include "rules/expr.h"

struct segment {
    char *name;
    char *source;               /* `when` as written in the config */
    struct expr *when;
};

struct segment_set {
    GPtrArray *segments;        /* struct segment *, in config order */
};

/* Loads `segments` from the config into *out, which the caller frees
 * even on failure. Returns 0 or CRIER_ECONFIG. */
int segment_set_load(struct config *cfg, struct segment_set **out);

void segment_set_free(struct segment_set *set);

/* Returns the segment called `name`, or NULL. */
const struct segment *segment_set_find(const struct segment_set *set,
                                       const char *name);

/*
 * Evaluates every segment for `profile` (the stored form) at `now_ms`
 * and updates its "segments" list of names. Appends each entry and exit
 * to `changes` as {"segment", "profile", "member", "time": now_ms}.
 * `history` is the profile's past events for count(), newest first (see
 * pipeline/history.h), or NULL for none. A count() window ends at
 * `now_ms`.
 */
void segments_evaluate(const struct segment_set *set, json_t *profile,
                       const json_t *history, int64_t now_ms,
                       json_t *changes);

#define SEGMENTS_EXIT_FAILED 1  /* the store failed to read */
#define SEGMENTS_EXIT_NOT_RUN 2 /* unknown segment, busy or unfit store */

/*
 * Runs `crier segments [NAME]` on the prepared server: without `name`
 * prints each configured segment with its member count and `when`, and
 * with `name` prints the profile ids of its members in id order. Starts
 * the store offline. Returns 0 or one of the SEGMENTS_EXIT_* codes.
 */
int segments_command(const char *name);

#endif
