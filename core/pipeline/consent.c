/*
 * Consent per channel kind on a profile: set by events, combined by
 * merges and shown to rules. The stored form is {kind: {"state":
 * "granted" | "revoked", "source": S, "time": ms}}, and a kind without
 * an entry is unknown.
 */
#include "pipeline/profile.h"

#include <string.h>


/* Returns the stored consent map of `profile`, creating an empty one. */
static json_t *
consent_map(json_t *profile)
{
    json_t *map = json_object_get(profile, "consent");

    if (!json_is_object(map)) {
        map = json_object();
        json_object_set_new(profile, "consent", map);
    }
    return map;
}


void
profile_consent_apply(json_t *profile, const json_t *event,
                      const char *source, const char *type, int64_t time_ms,
                      int64_t now_ms)
{
    json_t *changes = json_object_get(event, "consent");
    json_t *map;
    char *origin;
    const char *kind;
    json_t *state;

    if (json_object_size(changes) == 0)
        return;
    map = consent_map(profile);
    origin = g_strconcat(source ? source : "", ":", type ? type : "", NULL);
    json_object_foreach(changes, kind, state) {
        json_t *entry = json_pack("{s:O,s:s,s:I}", "state", state,
                                  "source", origin,
                                  "time", (json_int_t) time_ms);

        /* A plain revoke keeps an earlier hard one hard; only a grant
         * (such as an SMS START) lifts it. */
        if (profile_consent_hard(json_object_get(map, kind)) &&
            g_strcmp0(json_string_value(state), "revoked") == 0)
            json_object_set_new(entry, "hard", json_true());
        json_object_set_new(map, kind, entry);
    }
    g_free(origin);
    json_object_set_new(profile, "_dirty", json_true());
    json_object_set_new(profile, "updated", json_integer(now_ms));
}


int
profile_consent_hard(const json_t *entry)
{
    const char *state = json_string_value(json_object_get(entry, "state"));
    const char *source = json_string_value(json_object_get(entry, "source"));

    if (g_strcmp0(state, "revoked") != 0)
        return 0;
    return json_is_true(json_object_get(entry, "hard")) ||
           (source != NULL && g_str_has_suffix(source, ".stop"));
}


/* Returns the rank of a consent entry: a hard revoke 3, revoked 2,
 * granted 1, none 0. */
static int
consent_rank(const json_t *entry)
{
    const char *state = json_string_value(json_object_get(entry, "state"));

    if (profile_consent_hard(entry))
        return 3;
    if (g_strcmp0(state, "revoked") == 0)
        return 2;
    return g_strcmp0(state, "granted") == 0 ? 1 : 0;
}


int
profile_consent_wins(const json_t *candidate, const json_t *current)
{
    int rank = consent_rank(candidate);
    int current_rank = consent_rank(current);

    if (rank != current_rank)
        return rank > current_rank;
    return json_integer_value(json_object_get(candidate, "time"))
           > json_integer_value(json_object_get(current, "time"));
}


void
profile_consent_merge(json_t *into, const json_t *from)
{
    json_t *map = consent_map(into);
    const char *kind;
    json_t *entry;

    json_object_foreach(json_object_get(from, "consent"), kind, entry)
        if (profile_consent_wins(entry, json_object_get(map, kind)))
            json_object_set(map, kind, entry);
}


json_t *
profile_consent_view(const json_t *stored)
{
    json_t *view = json_object();
    const char *kind;
    json_t *entry;

    json_object_foreach(json_object_get(stored, "consent"), kind, entry)
        if (consent_rank(entry) > 0)
            json_object_set(view, kind, json_object_get(entry, "state"));
    return view;
}
