#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/attributes.h"

/* Type names as plugins.conf spells them, indexed by enum attribute_type. */
static const char *const type_names[] = {
    NULL, "string", "number", "bool", "date", "timezone", "language"
};

/* What each type expects, indexed by enum attribute_type. */
static const char *const type_expectations[] = {
    NULL,
    "must be a string",
    "must be a number such as 4",
    "must be true or false",
    "must be a date such as 2025-03-14",
    "must be an IANA time zone name such as America/Chicago",
    "must be a BCP 47 language tag such as en or es-MX"
};

/* JSON type of the value each type takes, indexed by enum attribute_type. */
static const json_type type_json_types[] = {
    JSON_NULL, JSON_STRING, JSON_REAL, JSON_TRUE, JSON_STRING, JSON_STRING,
    JSON_STRING
};

/* Zone names already found valid. Only names of real zone files enter
 * it, so its size is bounded by the time zone database. The import's
 * parser checks rows on a pool thread while the loop thread checks
 * events, so zones_lock guards this table and the list zone_listed
 * reads. */
static GHashTable *valid_zones;
G_LOCK_DEFINE_STATIC(zones_lock);


int
attribute_type_parse(const char *name, enum attribute_type *out)
{
    for (int i = ATTRIBUTE_STRING; i <= ATTRIBUTE_LANGUAGE; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (enum attribute_type) i;
            return 0;
        }
    return -1;
}


const char *
attribute_type_expectation(enum attribute_type type)
{
    return type_expectations[type];
}


/* Returns the JSON type of `value` with its article: "a string". */
static const char *
json_type_phrase(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a bool";
    case JSON_NULL:
        return "null";
    }
    return "an unknown JSON value";
}


/* Returns 1 when `value` has the JSON type that `type` takes. */
static int
json_type_fits(enum attribute_type type, const json_t *value)
{
    switch (type_json_types[type]) {
    case JSON_REAL:
        return json_is_number(value);
    case JSON_TRUE:
        return json_is_boolean(value);
    default:
        return json_typeof(value) == type_json_types[type];
    }
}


void
attribute_value_error(enum attribute_type type, const json_t *value,
                      char *buf, size_t size)
{
    if (json_type_fits(type, value))
        snprintf(buf, size, "%s", type_expectations[type]);
    else
        snprintf(buf, size, "%s, not %s", type_expectations[type],
                 json_type_phrase(value));
}


int
attribute_types_load(struct config *cfg, GHashTable **out)
{
    json_t *group = json_object_get(cfg->root, "attributes");
    const char *name;
    json_t *v;
    GHashTable *types;

    *out = NULL;
    if (group == NULL)
        return 0;
    if (!json_is_object(group)) {
        config_fail(cfg, "attributes", "must be a group of name = \"type\" "
                    "settings, such as { birth_date = \"date\"; }");
        return CRIER_ECONFIG;
    }
    types = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    json_object_foreach(group, name, v) {
        enum attribute_type type;
        char key[256];

        snprintf(key, sizeof(key), "attributes.%s", name);
        if (!json_is_string(v)) {
            config_fail(cfg, key, "must be a type name in quotes, such as "
                        "\"date\"");
            g_hash_table_unref(types);
            return CRIER_ECONFIG;
        }
        if (attribute_type_parse(json_string_value(v), &type) != 0) {
            config_fail(cfg, key, "unknown type \"%s\". Use string, "
                        "number, bool, date, timezone or language",
                        json_string_value(v));
            g_hash_table_unref(types);
            return CRIER_ECONFIG;
        }
        g_hash_table_insert(types, g_strdup(name), GINT_TO_POINTER(type));
    }
    if (g_hash_table_size(types) == 0)
        g_hash_table_unref(types);
    else
        *out = types;
    return 0;
}


static int
parse_digits(const char *text, size_t count)
{
    int n = 0;

    for (size_t i = 0; i < count; i++) {
        if (!isdigit((unsigned char) text[i]))
            return -1;
        n = n * 10 + (text[i] - '0');
    }
    return n;
}


int
attribute_date_valid(const char *text)
{
    int year, month, day;

    if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return 0;
    year = parse_digits(text, 4);
    month = parse_digits(text + 5, 2);
    day = parse_digits(text + 8, 2);
    if (year < 1 || month < 1 || month > 12 || day < 1)
        return 0;
    return g_date_valid_dmy((GDateDay) day, (GDateMonth) month,
                            (GDateYear) year);
}


/*
 * Accepts the shape of an IANA zone name: components of letters, digits,
 * '_', '-' and '+' joined by '/', each starting with a letter. No dots, so
 * a name cannot climb out of the zone folder.
 */
static int
zone_name_shaped(const char *text)
{
    int at_start = 1;

    for (const char *p = text; *p != '\0'; p++) {
        unsigned char c = (unsigned char) *p;

        if (at_start && !isalpha(c))
            return 0;
        at_start = c == '/';
        if (!isalnum(c) && !strchr("/_-+", c))
            return 0;
    }
    return text[0] != '\0' && !at_start;
}


/* Returns the zone folder GLib reads. */
static const char *
zone_dir(void)
{
    const char *dir = g_getenv("TZDIR");

    return dir != NULL && dir[0] != '\0' ? dir : "/usr/share/zoneinfo";
}


/* Returns 1 when the zone folder GLib reads has a file called `name`. */
static int
zone_file_exists(const char *name)
{
    char *path;
    int found;

    path = g_build_filename(zone_dir(), name, NULL);
    found = g_file_test(path, G_FILE_TEST_IS_REGULAR);
    g_free(path);
    return found;
}


/*
 * Reads the zone and link names of tzdata.zi, the text form of the
 * database that tzdata installs in the zone folder: "Z name ..." lines
 * define zones and "L target name" lines define links. Returns NULL when
 * the file cannot be read.
 */
static GHashTable *
listed_zones_read(void)
{
    char *path = g_build_filename(zone_dir(), "tzdata.zi", NULL);
    char *text = NULL;
    char **lines;
    GHashTable *zones;

    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_free(path);
        return NULL;
    }
    g_free(path);
    zones = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    lines = g_strsplit(text, "\n", -1);
    for (char **line = lines; *line != NULL; line++) {
        char **words = g_strsplit_set(*line, " \t", 4);
        guint count = g_strv_length(words);

        if (count >= 2 && strcmp(words[0], "Z") == 0)
            g_hash_table_add(zones, g_strdup(words[1]));
        else if (count >= 3 && strcmp(words[0], "L") == 0)
            g_hash_table_add(zones, g_strdup(words[2]));
        g_strfreev(words);
    }
    g_strfreev(lines);
    g_free(text);
    return zones;
}


/*
 * Returns 1 unless `name` is a file of the zone folder that is no zone:
 * "right/" and "posix/" copies, "posixrules", "localtime" (a link to the
 * host's zone on Debian) and "Factory", a placeholder zone. When
 * tzdata.zi is readable, the name must also be listed in it. The list is
 * read once; the caller holds zones_lock.
 */
static int
zone_listed(const char *name)
{
    static GHashTable *listed;
    static int listed_read;

    if (g_str_has_prefix(name, "right/") || g_str_has_prefix(name, "posix/")
        || strcmp(name, "posixrules") == 0 || strcmp(name, "localtime") == 0
        || strcmp(name, "Factory") == 0)
        return 0;
    if (!listed_read) {
        listed = listed_zones_read();
        listed_read = 1;
    }
    return listed == NULL || g_hash_table_contains(listed, name);
}


/*
 * GLib also accepts POSIX TZ strings ("UTC+5", "CST6CDT,M3.2.0,M11.1.0")
 * and keeps them as their identifier, so a round trip alone does not
 * prove an IANA name. The zone must also be a file of the database and a
 * name the database lists.
 */
static int
zone_valid(const char *text)
{
    GTimeZone *tz;
    int valid;

    if (valid_zones != NULL && g_hash_table_contains(valid_zones, text))
        return 1;
    if (!zone_name_shaped(text) || !zone_listed(text) ||
        !zone_file_exists(text))
        return 0;
    tz = g_time_zone_new_identifier(text);
    if (tz == NULL)
        return 0;
    valid = strcmp(g_time_zone_get_identifier(tz), text) == 0;
    g_time_zone_unref(tz);
    if (valid) {
        if (valid_zones == NULL)
            valid_zones = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                g_free, NULL);
        g_hash_table_add(valid_zones, g_strdup(text));
    }
    return valid;
}


int
attribute_timezone_valid(const char *text)
{
    int valid;

    G_LOCK(zones_lock);
    valid = zone_valid(text);
    G_UNLOCK(zones_lock);
    return valid;
}


/* Checks one subtag of `len` characters at `index` in the tag. */
static int
language_subtag_valid(const char *s, size_t len, size_t index)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (index == 0 ? !isalpha(c) : !isalnum(c))
            return 0;
    }
    if (index == 0)
        return len == 2 || len == 3;
    return len >= 2 && len <= 8;
}


/*
 * Sets the case RFC 5646 recommends: a two-letter region upper case, a
 * four-letter script in title case and every other subtag lower case.
 * A four-character subtag that starts with a digit is a variant ("1901").
 */
static void
language_subtag_case(char *s, size_t len, size_t index)
{
    for (size_t i = 0; i < len; i++)
        s[i] = (char) tolower((unsigned char) s[i]);
    if (index > 0 && len == 2)
        for (size_t i = 0; i < len; i++)
            s[i] = (char) toupper((unsigned char) s[i]);
    if (index > 0 && len == 4 && isalpha((unsigned char) s[0]))
        s[0] = (char) toupper((unsigned char) s[0]);
}


/*
 * NOTE: extension and private-use subtags ("en-u-ca-gregory",
 * "en-x-twain") start with a one-character singleton, which this shape
 * check rejects.
 */
char *
attribute_language_normalize(const char *text)
{
    char *tag = g_strdup(text);
    char *start = tag;
    size_t index = 0;

    for (;;) {
        char *end = strchr(start, '-');
        size_t len = end ? (size_t) (end - start) : strlen(start);

        if (!language_subtag_valid(start, len, index)) {
            g_free(tag);
            return NULL;
        }
        language_subtag_case(start, len, index);
        if (end == NULL)
            return tag;
        start = end + 1;
        index++;
    }
}


/* Returns the stored form of `value` as a new reference, or NULL. */
static json_t *
normalize_typed(enum attribute_type type, json_t *value)
{
    const char *text = json_string_value(value);
    char *tag;
    json_t *out;

    switch (type) {
    case ATTRIBUTE_STRING:
        return text ? json_incref(value) : NULL;
    case ATTRIBUTE_NUMBER:
        return json_is_number(value) ? json_incref(value) : NULL;
    case ATTRIBUTE_BOOL:
        return json_is_boolean(value) ? json_incref(value) : NULL;
    case ATTRIBUTE_DATE:
        return text && attribute_date_valid(text) ? json_incref(value) : NULL;
    case ATTRIBUTE_TIMEZONE:
        return text && attribute_timezone_valid(text) ? json_incref(value)
                                                      : NULL;
    case ATTRIBUTE_LANGUAGE:
        tag = text ? attribute_language_normalize(text) : NULL;
        out = tag ? json_string(tag) : NULL;
        g_free(tag);
        return out;
    }
    return NULL;
}


json_t *
attribute_value_normalize(GHashTable *types, const char *name,
                          json_t *value, enum attribute_type *type)
{
    gpointer found;

    if (types == NULL || json_is_null(value) ||
        !g_hash_table_lookup_extended(types, name, NULL, &found))
        return json_incref(value);
    *type = (enum attribute_type) GPOINTER_TO_INT(found);
    return normalize_typed(*type, value);
}
