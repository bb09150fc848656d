/*
 * Beacon hits: page views and other browser events, read from the query
 * string of GET /b.gif or the JSON body of POST /v1/beacon and turned into
 * events {type, visitor, properties}. The client's IP address is never
 * part of the event.
 */
#ifndef CRIER_BEACON_HIT_H
#define CRIER_BEACON_HIT_H

#include <stddef.h>

#include <jansson.h>

#include <crier/host.h>

#define HIT_DEFAULT_TYPE "page_view"

/* The type of a hit that ties the visitor to an email address. */
#define HIT_IDENTIFY_TYPE "identify"

/* Maximum length of a visitor id, as the core accepts it. */
#define HIT_VISITOR_MAX 128

/* Maximum length of a beacon type. */
#define HIT_TYPE_MAX 64

/*
 * Decodes one application/x-www-form-urlencoded component of `len` bytes:
 * '+' becomes a space and %XX the byte XX. Returns a new string to free
 * with g_free, or NULL with *reason set when the component has a '%'
 * without two hex digits after it, a NUL byte, or bytes that are not
 * valid UTF-8 once decoded.
 */
char *query_decode(const char *text, size_t len, const char **reason);

/*
 * Finds the first parameter called `name` in a raw query string
 * ("v=a1&u=https%3A%2F%2Fexample.gov%2F") and stores its decoded value
 * in *value (g_free it). A parameter without '=' has the value "".
 * Returns 0, CRIER_ENOTFOUND when there is no such parameter, or
 * CRIER_EINVAL with *reason set when its value does not decode (see
 * query_decode). A name that does not decode matches no `name`.
 */
int query_param_get(const char *query, const char *name, char **value,
                    const char **reason);

/*
 * Builds the event of GET /b.gif from its raw query string: v (visitor
 * id, required), t (type, default page_view), u (url), r (referrer) and
 * ti (title). `user_agent` may be NULL. Returns 0 with a new event in
 * *event, or CRIER_EINVAL with `err` naming the parameter at fault, also
 * when one of these five does not decode.
 */
int beacon_event_build_query(const char *query, const char *user_agent,
                             json_t **event, struct crier_input_error *err);

/*
 * Builds the event of a POST /v1/beacon body {"visitor", "type", "url",
 * "referrer", "title", "properties", "profile"}, as
 * beacon_event_build_query does. url, referrer, title and user_agent go
 * into properties and take the place of members of the same names there.
 * "profile" is {"email": "..."}, required on type identify and rejected
 * on any other type.
 */
int beacon_event_build_json(const json_t *body, const char *user_agent,
                            json_t **event, struct crier_input_error *err);

#endif
