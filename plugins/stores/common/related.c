/*
 * Related records of a profile: the check of a batch's related map, the
 * rule that combines two maps when profiles merge, and the stored form
 * that results show.
 *
 * A related map is {"dependents": {id: record}, "cases": {id: record}},
 * where each record is an object. The core applies the same merge rule to
 * the profiles of a batch (core/pipeline/related.c).
 */
#include <string.h>

#include <crier/error.h>

#include "model.h"
#include "stored_json.h"

static const char *const related_kinds[] = { "dependents", "cases", NULL };

/* The compact JSON text of a related map without records. */
#define RELATED_EMPTY_TEXT "{\"dependents\":{},\"cases\":{}}"


static int
related_kind_known(const char *kind)
{
    size_t i;

    for (i = 0; related_kinds[i] != NULL; i++)
        if (strcmp(kind, related_kinds[i]) == 0)
            return 1;
    return 0;
}


int
related_map_check(const json_t *related)
{
    const char *kind;
    const char *id;
    json_t *records;
    json_t *record;

    if (!json_is_object(related))
        return CRIER_EINVAL;
    json_object_foreach((json_t *)related, kind, records) {
        if (!related_kind_known(kind) || !json_is_object(records))
            return CRIER_EINVAL;
        json_object_foreach(records, id, record)
            if (id[0] == '\0' || !json_is_object(record))
                return CRIER_EINVAL;
    }
    return 0;
}


json_t *
related_object(const char *text)
{
    json_t *related = NULL;
    size_t i;

    /* The map without records, as the pipeline writes it back, needs no
     * parse: the loop below builds it. */
    if (!stored_text_empty(text) && strcmp(text, RELATED_EMPTY_TEXT) != 0)
        related = stored_json_load(text);
    if (!json_is_object(related)) {
        json_decref(related);
        related = json_object();
    }
    for (i = 0; related != NULL && related_kinds[i] != NULL; i++)
        if (!json_is_object(json_object_get(related, related_kinds[i]))
            && json_object_set_new_nocheck(related, related_kinds[i],
                                           json_object()) < 0) {
            json_decref(related);
            return NULL;
        }
    return related;
}


int
related_merge_text(const char *into, const char *from, char **merged)
{
    json_t *target = related_object(into);
    json_t *source = related_object(from);
    size_t i;
    int rc = 0;

    *merged = NULL;
    if (target == NULL || source == NULL) {
        json_decref(target);
        json_decref(source);
        return CRIER_ENOMEM;
    }
    for (i = 0; rc == 0 && related_kinds[i] != NULL; i++)
        if (json_object_update_missing(
                json_object_get(target, related_kinds[i]),
                json_object_get(source, related_kinds[i])) < 0)
            rc = CRIER_ENOMEM;
    if (rc == 0) {
        *merged = json_dumps(target, JSON_COMPACT);
        rc = *merged == NULL ? CRIER_ENOMEM : 0;
    }
    json_decref(target);
    json_decref(source);
    return rc;
}
