/*
 * Segments from plugins.conf: named conditions over a profile, such as
 *
 *     segments = ( { name = "toddler-parents";
 *                    when = "any(profile.dependents,
 *                                age_months(birth_date) < 24)"; } );
 *
 * The pipeline evaluates every segment for the profile of each event, and
 * the refresh pass (refresh.c) evaluates them on the crier clock. Both
 * commit each entry and exit together with a segment.entered or
 * segment.left event addressed to the profile by id.
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
    int reads_clock;            /* membership can change as time passes */
    int counts_events;          /* `when` calls count(), so it needs the
                                 * profile's history */
};

struct segment_set {
    GPtrArray *segments;        /* struct segment *, in config order */
    int64_t refresh_ms;         /* `segments_refresh`: the clock pass */
    int reads_clock;            /* some segment reads the clock */
};

/* `segments_refresh` when the config does not set it, and its bounds. */
#define SEGMENTS_REFRESH_DEFAULT_MS (60 * 60 * 1000)
#define SEGMENTS_REFRESH_MIN_MS 1000
#define SEGMENTS_REFRESH_MAX_MS (30LL * 24 * 60 * 60 * 1000)

/* Loads `segments` from the config into *out, which the caller frees
 * even on failure. Returns 0 or CRIER_ECONFIG. */
int segment_set_load(struct config *cfg, struct segment_set **out);

void segment_set_free(struct segment_set *set);

/* Returns the segment called `name`, or NULL. */
const struct segment *segment_set_find(const struct segment_set *set,
                                       const char *name);

/*
 * Evaluates the segments for `profile` (the stored form) at `now_ms`, all
 * of them or with `clock_only` those that read the clock, and updates its
 * "segments" list of names. Appends each entry and exit to `changes` as
 * {"segment", "profile", "member", "time": now_ms}. `history` is the
 * profile's past events for count(), newest first (see
 * pipeline/history.h); a count() window ends at `now_ms`. With NULL, as
 * for an import, which loads no history, the segments that count events
 * are left as they are until the next event or clock pass. The pipeline and the refresh pass both evaluate through this
 * function.
 */
void segments_evaluate(const struct segment_set *set, json_t *profile,
                       const json_t *history, int64_t now_ms,
                       int clock_only, json_t *changes);

/*
 * Builds the "events" of a commit batch for `changes` (as
 * segments_evaluate appends them): one segment.entered or segment.left
 * event per change, addressed to the profile by "profile_id", with the
 * segment's name in properties.segment. New reference.
 */
json_t *segments_events(const json_t *changes);

/*
 * Starts the refresh pass: one pass over every profile and segment now,
 * then, when a segment reads the clock, a pass over those segments every
 * `segments_refresh`. Does nothing without segments or when the store
 * lacks profiles_scan. The pipeline must be started.
 */
void segments_refresh_start(void);

/* Stops the timer and starts no further page. A page under way ends
 * inside its pipeline turn, which pipeline_stop waits for. */
void segments_refresh_stop(void);

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
