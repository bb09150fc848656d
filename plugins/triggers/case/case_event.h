/*
 * Building blocks that the Open311 and the generic mapping share: input
 * errors, ids, times, the event type and the event itself.
 */
#ifndef CRIER_CASE_EVENT_H
#define CRIER_CASE_EVENT_H

#include <glib.h>
#include <jansson.h>

#include <crier/host.h>

#define CASE_OPENED "case.opened"
#define CASE_UPDATED "case.updated"
#define CASE_CLOSED "case.closed"

/* Fills `field` and `message` of `err` and returns CRIER_EINVAL. */
int case_reject(struct crier_input_error *err, const char *field,
                const char *message);

/*
 * Returns a new JSON string for an id given as a non-empty string or as
 * an integer (GeoReport v2 examples use both), or NULL for anything else.
 */
json_t *case_id_string(const json_t *value);

/*
 * Reads a required id member `value` (NULL when absent) into *id with
 * case_id_string. Returns CRIER_EINVAL naming `field` when it is absent or
 * null ("is required", with `purpose` saying what the id identifies) or
 * when it is neither a non-empty string nor a whole number.
 */
int case_id_read(const json_t *value, const char *field, const char *purpose,
                 json_t **id, struct crier_input_error *err);

/*
 * Parses an optional time member into *when, which is NULL when the
 * member is absent or null. Returns CRIER_EINVAL, naming `field`, when the
 * value is not an RFC 3339 time with an offset.
 */
int case_time_parse(const json_t *value, const char *field, GDateTime **when,
                    struct crier_input_error *err);

/* Frees a time from case_time_parse. NULL is allowed. */
void case_time_free(GDateTime *when);

/*
 * Returns the event type of a case: CASE_CLOSED when `closed`,
 * CASE_OPENED when no change time is known or the case changed at the
 * moment it was opened, CASE_UPDATED otherwise.
 */
const char *case_type_derive(int closed, GDateTime *opened,
                             GDateTime *changed);

/*
 * Returns a new event and takes over the references to `profile`,
 * `properties` and `attributes` (left out when empty). `time` may be NULL.
 * The dedupe id is "<case id>/<type>/<time>". Without a time, an opening
 * or a closing gets "<case id>/<type>" because each happens once per case,
 * and an update gets no id because two updates could not be distinguished.
 */
json_t *case_event_assemble(const char *type, const char *case_id,
                            const char *time, json_t *profile,
                            json_t *properties, json_t *attributes);

#endif
