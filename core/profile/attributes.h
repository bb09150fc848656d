/*
 * Typed profile attributes: the `attributes` group of plugins.conf
 * declares a type for some attribute names, and ingest checks and
 * normalises those attributes in every event. Undeclared attributes take
 * any JSON value. docs/events.md describes the types.
 */
#ifndef CRIER_CORE_PROFILE_ATTRIBUTES_H
#define CRIER_CORE_PROFILE_ATTRIBUTES_H

#include <glib.h>
#include <jansson.h>

#include "config/config.h"

enum attribute_type {
    ATTRIBUTE_STRING = 1,       /* any JSON string */
    ATTRIBUTE_NUMBER,           /* a JSON number, not a numeric string */
    ATTRIBUTE_BOOL,             /* JSON true or false */
    ATTRIBUTE_DATE,             /* "YYYY-MM-DD", a real calendar date */
    ATTRIBUTE_TIMEZONE,         /* an IANA time zone name */
    ATTRIBUTE_LANGUAGE          /* a BCP 47 tag, stored in canonical case */
};

/*
 * Reads the `attributes` group of `cfg` into *out: a table of attribute
 * name to enum attribute_type, or NULL when nothing is declared. The
 * caller frees the table with g_hash_table_unref. Returns 0, or
 * CRIER_ECONFIG with the error recorded at the offending key.
 */
int attribute_types_load(struct config *cfg, GHashTable **out);

/* Sets *out to the type called `name` ("date") and returns 0, or returns
 * -1 when no type has that name. */
int attribute_type_parse(const char *name, enum attribute_type *out);

/* Returns what a value of `type` must be, for error messages: "must be a
 * date such as 2025-03-14". */
const char *attribute_type_expectation(enum attribute_type type);

/*
 * Writes the error for `value`, which does not fit `type`, into `buf`:
 * the expectation, followed by the JSON type of `value` when that type is
 * wrong ("must be a number such as 4, not a bool").
 */
void attribute_value_error(enum attribute_type type, const json_t *value,
                           char *buf, size_t size);

/*
 * Returns the value to store for attribute `name`, as a new reference, or
 * NULL when `value` does not fit the declared type; *type is then set to
 * that type. Null and undeclared attributes are returned unchanged.
 * `types` may be NULL.
 */
json_t *attribute_value_normalize(GHashTable *types, const char *name,
                                  json_t *value, enum attribute_type *type);

/* Returns 1 when `text` is a civil date "YYYY-MM-DD" that exists in the
 * Gregorian calendar (years 0001 to 9999), else 0. */
int attribute_date_valid(const char *text);

/* Returns 1 when `text` names a time zone file of the IANA database that
 * GLib loads under the same identifier, else 0. */
int attribute_timezone_valid(const char *text);

/* Returns `text` as a BCP 47 tag in canonical case ("es-MX",
 * "zh-Hant-TW"), allocated with g_malloc, or NULL when its shape is
 * invalid. */
char *attribute_language_normalize(const char *text);

#endif
