/* Segment membership of a profile, and the events that record a change. */
#include "segments/segments.h"

#include <string.h>

#include "base/clock.h"
#include "ingest/internal.h"
#include "pipeline/profile.h"


static int
names_contain(const json_t *names, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(names, i, v)
        if (g_strcmp0(json_string_value(v), name) == 0)
            return 1;
    return 0;
}


static void
names_remove(json_t *names, const char *name)
{
    for (size_t i = 0; i < json_array_size(names); i++)
        if (g_strcmp0(json_string_value(json_array_get(names, i)),
                      name) == 0) {
            json_array_remove(names, i);
            return;
        }
}


/*
 * A segment condition reads the profile, the clock and, in count(), the
 * profile's history, but no current event, so `event` outside count() is
 * null and a condition that reads it is false. For the same reason a
 * segment.entered or segment.left event, which changes nothing in the
 * profile, leads to no further change at the same time.
 */
void
segments_evaluate(const struct segment_set *set, json_t *profile,
                  const json_t *history, int64_t now_ms, int clock_only,
                  json_t *changes)
{
    json_t *names = json_object_get(profile, "segments");
    json_t *ctx;

    if (set == NULL || set->segments->len == 0)
        return;
    if (!json_is_array(names)) {
        names = json_array();
        json_object_set_new(profile, "segments", names);
    }
    ctx = json_pack("{s:n,s:o,s:n,s:I}", "event", "profile",
                    profile_flatten(profile), "case", "now",
                    (json_int_t) now_ms);
    if (history != NULL)
        json_object_set(ctx, "history", (json_t *) history);
    /* NOTE: only configured segments are evaluated, so the memberships
     * of a segment removed from the config stay stored; see "Rules and
     * expressions" in docs/KNOWN_LIMITS.md. */
    for (guint i = 0; i < set->segments->len; i++) {
        const struct segment *s = g_ptr_array_index(set->segments, i);
        int member;

        if ((clock_only && !s->reads_clock) ||
            (history == NULL && s->counts_events))
            continue;
        member = expr_test(s->when, ctx) ? 1 : 0;
        if (member == names_contain(names, s->name))
            continue;
        if (member)
            json_array_append_new(names, json_string(s->name));
        else
            names_remove(names, s->name);
        json_array_append_new(changes,
                              json_pack("{s:s,s:O,s:b,s:I}", "segment",
                                        s->name, "profile",
                                        json_object_get(profile, "id"),
                                        "member", member, "time",
                                        (json_int_t) now_ms));
    }
    json_decref(ctx);
}


/* Builds the event that records one change (see docs/events.md). */
static json_t *
change_event(const json_t *change)
{
    int member = json_is_true(json_object_get(change, "member"));

    return internal_event(member ? INTERNAL_SEGMENT_ENTERED
                                 : INTERNAL_SEGMENT_LEFT,
                          json_string_value(json_object_get(change,
                                                            "profile")),
                          json_integer_value(json_object_get(change, "time")),
                          json_pack("{s:O}", "segment",
                                    json_object_get(change, "segment")));
}


json_t *
segments_events(const json_t *changes)
{
    json_t *events = json_array();
    size_t i;
    json_t *change;

    json_array_foreach(changes, i, change)
        json_array_append_new(events, change_event(change));
    return events;
}
