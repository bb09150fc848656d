/*
 * Schedule definitions: checked when a schedule trigger registers them
 * from its init, and kept for the life of the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>
#include <glib.h>

#include "base/clock.h"
#include "schedule/schedule.h"

/* Every registered schedule, struct schedule_def *, in order. */
static GPtrArray *defs;

/* Definitions a reload took out, kept until exit because a replan pass
 * or a firing in flight may still point at them. */
static GPtrArray *retired;

static const struct {
    const char *name;
    enum civil_unit unit;
} unit_names[] = {
    { "minute", CIVIL_MINUTES }, { "minutes", CIVIL_MINUTES },
    { "hour", CIVIL_HOURS }, { "hours", CIVIL_HOURS },
    { "day", CIVIL_DAYS }, { "days", CIVIL_DAYS },
    { "week", CIVIL_WEEKS }, { "weeks", CIVIL_WEEKS },
    { "month", CIVIL_MONTHS }, { "months", CIVIL_MONTHS },
    { "year", CIVIL_YEARS }, { "years", CIVIL_YEARS },
};

/* The largest offset amount, so that any offset stays in years 1-9999. */
#define AMOUNT_MAX 1000000


/* Fills `err` and returns CRIER_EINVAL. */
static int
fail(struct crier_input_error *err, const char *field, const char *fmt,
     const char *value)
{
    snprintf(err->message, sizeof(err->message), fmt, value);
    snprintf(err->field, sizeof(err->field), "%s", field);
    err->index = -1;
    return CRIER_EINVAL;
}


/* Parses "6 months", "-30 days" or "3 days" into an amount and a unit. */
static int
amount_parse(const char *text, int64_t *amount, enum civil_unit *unit)
{
    long long n;
    char word[16];
    char extra;

    if (sscanf(text, "%lld %15s %c", &n, word, &extra) != 2 ||
        n < -AMOUNT_MAX || n > AMOUNT_MAX)
        return CRIER_EINVAL;
    for (size_t i = 0; i < G_N_ELEMENTS(unit_names); i++) {
        if (strcmp(word, unit_names[i].name) == 0) {
            *amount = n;
            *unit = unit_names[i].unit;
            return 0;
        }
    }
    return CRIER_EINVAL;
}


static const char *
text_get(const json_t *config, const char *key)
{
    return json_string_value(json_object_get(config, key));
}


/* Reads `date`: profile.<name>, profile.created, dependents.<name> or
 * cases.<name>. */
static int
field_parse(struct schedule_def *def, const char *text,
            struct crier_input_error *err)
{
    static const struct {
        const char *prefix;
        enum schedule_field field;
    } prefixes[] = {
        { "profile.", SCHEDULE_PROFILE_ATTRIBUTE },
        { "dependents.", SCHEDULE_DEPENDENTS },
        { "cases.", SCHEDULE_CASES },
    };

    if (text == NULL)
        return fail(err, "date", "missing date: name the date to watch, "
                    "such as \"dependents.birth_date\"%s", "");
    if (strcmp(text, "profile.created") == 0) {
        def->field = SCHEDULE_PROFILE_CREATED;
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        size_t len = strlen(prefixes[i].prefix);

        if (strncmp(text, prefixes[i].prefix, len) == 0 &&
            text[len] != '\0' && strchr(text + len, '.') == NULL) {
            def->field = prefixes[i].field;
            def->attribute = g_strdup(text + len);
            return 0;
        }
    }
    return fail(err, "date", "invalid date \"%s\": use profile.<attribute>, "
                "profile.created, dependents.<attribute> or "
                "cases.<attribute>", text);
}


/* Reads `catch_up`: "skip" (the default) or an elapsed duration. */
static int
catch_up_parse(struct schedule_def *def, const char *text,
               struct crier_input_error *err)
{
    int64_t amount;
    enum civil_unit unit;

    def->catch_up_ms = -1;
    if (text == NULL || strcmp(text, "skip") == 0)
        return 0;
    if (clock_parse_duration(text, &def->catch_up_ms) == 0)
        return 0;
    if (amount_parse(text, &amount, &unit) == 0 && amount >= 0 &&
        unit <= CIVIL_WEEKS) {
        static const int64_t unit_ms[] = { 60000LL, 3600000LL, 86400000LL,
                                           7 * 86400000LL };

        def->catch_up_ms = amount * unit_ms[unit];
        return 0;
    }
    return fail(err, "catch_up", "invalid catch_up \"%s\": use \"skip\" or "
                "a duration such as \"14 days\"", text);
}


/* Checks the name: letters, digits, '-' and '_', for the event type
 * date.<name>. */
static int
name_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return 0;
    for (const char *c = name; *c != '\0'; c++)
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_')
            return 0;
    return 1;
}


static int
def_parse(struct schedule_def *def, const json_t *config,
          struct crier_input_error *err)
{
    const char *offset = text_get(config, "offset");
    const char *at = text_get(config, "at");
    const char *repeat = text_get(config, "repeat");
    const char *name = text_get(config, "name");
    int rc;

    if (!name_valid(name))
        return fail(err, "name", "missing or invalid name \"%s\": use "
                    "letters, digits, '-' and '_'", name ? name : "");
    if (schedule_find(def->source, name) != NULL)
        return fail(err, "name", "duplicate schedule name \"%s\"", name);
    def->name = g_strdup(name);
    rc = field_parse(def, text_get(config, "date"), err);
    if (rc == 0 && offset != NULL &&
        amount_parse(offset, &def->offset, &def->offset_unit) != 0)
        rc = fail(err, "offset", "invalid offset \"%s\": use a whole "
                  "number and a unit, such as \"6 months\" or \"-30 days\"",
                  offset);
    if (rc == 0 && at != NULL) {
        def->has_at = civil_time_parse(at, &def->at) == 0;
        if (!def->has_at)
            rc = fail(err, "at", "invalid at \"%s\": use a wall time "
                      "HH:MM such as \"09:00\"", at);
    }
    if (rc == 0 && repeat != NULL && strcmp(repeat, "yearly") != 0)
        rc = fail(err, "repeat", "invalid repeat \"%s\": the only "
                  "repeat is \"yearly\"", repeat);
    def->yearly = repeat != NULL;
    if (rc == 0 && !def->has_at && def->field != SCHEDULE_PROFILE_CREATED)
        rc = fail(err, "at", "missing at: a date needs a wall time such "
                  "as \"09:00\"%s", "");
    if (rc == 0 && !def->has_at && def->yearly)
        rc = fail(err, "at", "missing at: a yearly schedule needs a wall "
                  "time such as \"09:00\"%s", "");
    if (rc == 0 && def->has_at && offset != NULL &&
        def->offset_unit <= CIVIL_HOURS)
        rc = fail(err, "offset", "invalid offset \"%s\" with at: move a "
                  "date by days, weeks, months or years", offset);
    if (rc == 0)
        rc = catch_up_parse(def, text_get(config, "catch_up"), err);
    return rc;
}


int
schedule_date_parse(const json_t *config, struct schedule_def *def,
                    struct crier_input_error *err)
{
    const char *offset = text_get(config, "offset");
    const char *at = text_get(config, "at");
    int rc = field_parse(def, text_get(config, "date"), err);

    if (rc == 0 && offset != NULL &&
        amount_parse(offset, &def->offset, &def->offset_unit) != 0)
        rc = fail(err, "offset", "invalid offset \"%s\": use a whole "
                  "number and a unit, such as \"6 months\" or \"-30 days\"",
                  offset);
    if (rc == 0 && at != NULL) {
        def->has_at = civil_time_parse(at, &def->at) == 0;
        if (!def->has_at)
            rc = fail(err, "at", "invalid at \"%s\": use a wall time "
                      "HH:MM such as \"09:00\"", at);
    }
    if (rc == 0 && !def->has_at && def->field != SCHEDULE_PROFILE_CREATED)
        rc = fail(err, "at", "missing at: a date needs a wall time such "
                  "as \"09:00\"%s", "");
    if (rc == 0 && def->has_at && offset != NULL &&
        def->offset_unit <= CIVIL_HOURS)
        rc = fail(err, "offset", "invalid offset \"%s\" with at: move a "
                  "date by days, weeks, months or years", offset);
    return rc;
}


static void
def_free(void *data)
{
    struct schedule_def *def = data;

    g_free(def->source);
    g_free(def->name);
    g_free(def->attribute);
    g_free(def->fingerprint);
    g_free(def);
}


int
schedule_define(const char *source, const json_t *config,
                struct crier_input_error *err)
{
    struct schedule_def *def = g_new0(struct schedule_def, 1);
    char *text;

    def->source = g_strdup(source);
    if (!json_is_object(config) || def_parse(def, config, err) != 0) {
        if (!json_is_object(config))
            fail(err, "", "a schedule must be a group: { name = ...; "
                 "date = ...; at = ...; }%s", "");
        def_free(def);
        return CRIER_EINVAL;
    }

    /* A row planned under other settings is planned again. */
    text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
    def->fingerprint = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
                                                     text, -1);
    def->fingerprint[16] = '\0';
    free(text);
    if (defs == NULL)
        defs = g_ptr_array_new_with_free_func(def_free);
    g_ptr_array_add(defs, def);
    return 0;
}


int
schedule_any(void)
{
    return defs != NULL && defs->len > 0;
}


const struct schedule_def *
schedule_find(const char *source, const char *name)
{
    for (guint i = 0; defs != NULL && i < defs->len; i++) {
        const struct schedule_def *def = g_ptr_array_index(defs, i);

        if (strcmp(def->source, source) == 0 && strcmp(def->name, name) == 0)
            return def;
    }
    return NULL;
}


/* Returns the definitions, for plan.c; NULL when there are none. */
GPtrArray *
schedule_defs(void)
{
    return defs;
}


void
schedule_defs_clear(void)
{
    if (defs != NULL)
        g_ptr_array_unref(defs);
    defs = NULL;
    if (retired != NULL)
        g_ptr_array_unref(retired);
    retired = NULL;
}


guint
schedule_defs_count(void)
{
    return defs != NULL ? defs->len : 0;
}


/* Moves the definition at `i` out of `defs` into `retired`. */
static void
retire_at(guint i)
{
    if (retired == NULL)
        retired = g_ptr_array_new_with_free_func(def_free);
    g_ptr_array_add(retired, g_ptr_array_steal_index(defs, i));
}


void
schedule_defs_truncate(guint count)
{
    while (defs != NULL && defs->len > count)
        retire_at(defs->len - 1);
}


void
schedule_defs_detach(const char *source, GPtrArray *into)
{
    guint i = 0;

    while (defs != NULL && i < defs->len) {
        const struct schedule_def *def = g_ptr_array_index(defs, i);

        if (strcmp(def->source, source) == 0)
            g_ptr_array_add(into, g_ptr_array_steal_index(defs, i));
        else
            i++;
    }
}


void
schedule_defs_attach(GPtrArray *detached)
{
    for (guint i = 0; i < detached->len; i++) {
        if (defs == NULL)
            defs = g_ptr_array_new_with_free_func(def_free);
        g_ptr_array_add(defs, g_ptr_array_index(detached, i));
    }
    g_ptr_array_set_size(detached, 0);
}


void
schedule_defs_retire(GPtrArray *detached)
{
    for (guint i = 0; i < detached->len; i++) {
        if (retired == NULL)
            retired = g_ptr_array_new_with_free_func(def_free);
        g_ptr_array_add(retired, g_ptr_array_index(detached, i));
    }
    g_ptr_array_set_size(detached, 0);
}
