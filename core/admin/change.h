/*
 * The profile change of PATCH and PUT /v1/profiles/{id}: checks a request
 * body and applies it to a stored profile. Pure functions, no I/O.
 */
#ifndef CRIER_CORE_ADMIN_CHANGE_H
#define CRIER_CORE_ADMIN_CHANGE_H

#include <stdint.h>

#include <glib.h>
#include <jansson.h>

/* Why a body was rejected: the member at fault ("attributes.age", or ""
 * for the whole body) and the message. */
struct admin_change_error {
    char field[160];
    char message[200];
};

/*
 * Checks a PATCH (`replace` 0) or PUT (`replace` 1) body and returns the
 * change as a new object {"attributes": {...}, "consent": {...}}, each
 * member present only when the body has it. Attributes of a type that
 * `types` declares are normalised as ingest does; `types` may be NULL.
 * Returns NULL and fills `err` for a body that is not an object, a
 * member other than attributes and consent, a value of the wrong type,
 * a consent state other than "granted" or "revoked", or a PUT without
 * attributes.
 */
json_t *admin_change_parse(const json_t *body, int replace,
                           GHashTable *types, struct admin_change_error *err);

/*
 * Returns the commit form of stored `profile` with `change` applied: id,
 * created, identities and, unless changed, consent are kept, and updated
 * is `now_ms`. A PATCH sets each given attribute (null removes it) and
 * consent kind. A PUT replaces the attributes, and the consent map when
 * the change has one. Consent set here has source "admin" and time
 * `now_ms`.
 */
json_t *admin_change_apply(const json_t *profile, const json_t *change,
                           int replace, int64_t now_ms);

/* Returns the comma-separated names of the members that differ between
 * objects `before` and `after` (set, changed or removed), in a new
 * string to free with g_free; "" when none differ. */
char *admin_change_names(const json_t *before, const json_t *after);

#endif
