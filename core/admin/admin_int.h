/* Helpers shared by the files of core/admin/. */
#ifndef CRIER_CORE_ADMIN_INT_H
#define CRIER_CORE_ADMIN_INT_H

#include <glib.h>
#include <jansson.h>

/* True when the store's ops table has `op` and sets it. A plugin built
 * against an older store.h has a smaller table, so `size` is checked.
 * Needs server/server.h and stddef.h. */
#define STORE_HAS_OP(op)                                                    \
    (server.store_ops != NULL &&                                            \
     server.store_ops->size >= offsetof(struct crier_store_ops, op) +       \
                               sizeof(server.store_ops->op) &&              \
     server.store_ops->op != NULL)

/* One query parameter, percent-decoded. */
struct admin_param {
    char *name;
    char *value;                /* "" for "?name" without '=' */
};

/*
 * Splits a raw query string ("a=1&b=%40") into a new array of struct
 * admin_param, skipping empty pieces. '+' stays a plus sign, because
 * identities such as "+13125550100" and "ana+news@example.gov" contain
 * it. Returns NULL for a bad '%' escape or one that decodes to NUL.
 */
GPtrArray *admin_query_parse(const char *query);

/* Returns the first member of the object `body` that is not in the
 * NULL-ended list `known`, or NULL when there is none or `body` is not
 * an object. The name points into `body` (body.c). */
const char *admin_member_unknown(const json_t *body,
                                 const char *const *known);

/* Replaces the integer times of a stored profile (created, updated,
 * stages.*.since) with RFC 3339 strings. */
void admin_profile_present(json_t *profile);

/* Replaces the integer "time" of each timeline entry likewise. */
void admin_entries_present(json_t *entries);

/* Handles DELETE /v1/profiles/{id}: erases the profile (erase.c). */
struct crier_http_req;
void admin_on_profile_delete(void *arg, struct crier_http_req *req);

/* Responds to GET /v1/profiles/{id}/journeys for profile `id`, whose
 * places it reads from the store (journeys.c). */
void admin_profile_journeys(struct crier_http_req *req, const char *id);

#endif
