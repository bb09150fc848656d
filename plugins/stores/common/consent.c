/*
 * Consent per channel kind: the check of a batch's consent map and the
 * rule that combines two maps when profiles merge.
 *
 * A consent map is {kind: {"state": "granted" | "revoked", "source": S,
 * "time": ms}}. The core applies the same merge rule to the profiles of
 * a batch (core/pipeline/consent.c), so a batch that merges and writes a
 * profile stores what the store's own merge would give.
 */
#include <string.h>

#include <crier/error.h>

#include "model.h"


/* Returns the rank of a consent entry: revoked 2, granted 1, none 0. */
static int
consent_rank(const json_t *entry)
{
    const char *state = json_string_value(json_object_get(entry, "state"));

    if (state == NULL)
        return 0;
    if (strcmp(state, "revoked") == 0)
        return 2;
    return strcmp(state, "granted") == 0 ? 1 : 0;
}


int
consent_map_check(const json_t *consent)
{
    const char *kind;
    json_t *entry;

    if (!json_is_object(consent))
        return CRIER_EINVAL;
    json_object_foreach((json_t *)consent, kind, entry) {
        json_t *source = json_object_get(entry, "source");

        if (kind[0] == '\0' || !json_is_object(entry)
            || consent_rank(entry) == 0)
            return CRIER_EINVAL;
        if (!json_is_string(source) || json_string_length(source) == 0)
            return CRIER_EINVAL;
        if (!json_is_integer(json_object_get(entry, "time")))
            return CRIER_EINVAL;
    }
    return 0;
}


/* Returns nonzero when `candidate` should replace `current`: it is more
 * restrictive, or as restrictive and later. */
static int
consent_wins(const json_t *candidate, const json_t *current)
{
    int rank = consent_rank(candidate);
    int current_rank = consent_rank(current);

    if (rank != current_rank)
        return rank > current_rank;
    return json_integer_value(json_object_get(candidate, "time"))
           > json_integer_value(json_object_get(current, "time"));
}


int
consent_merge_text(const char *into, const char *from, char **merged)
{
    json_t *target = json_loads(into, 0, NULL);
    json_t *source = json_loads(from, 0, NULL);
    const char *kind;
    json_t *entry;
    int rc = 0;

    *merged = NULL;
    if (!json_is_object(target) || !json_is_object(source)) {
        json_decref(target);
        json_decref(source);
        return 0;
    }
    json_object_foreach(source, kind, entry)
        if (consent_rank(entry) > 0
            && consent_wins(entry, json_object_get(target, kind))
            && json_object_set(target, kind, entry) < 0)
            rc = CRIER_ENOMEM;
    if (rc == 0) {
        *merged = json_dumps(target, JSON_COMPACT);
        rc = *merged == NULL ? CRIER_ENOMEM : 0;
    }
    json_decref(target);
    json_decref(source);
    return rc;
}
