#include "config/config.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <crier/error.h>

static int setting_to_json(struct config *cfg, config_setting_t *s,
                           const char *key, json_t **out);


/*
 * Expands ${NAME} and ${NAME:-default} in `value`. libconfig has no such
 * syntax, so it is applied to each string after parsing. Returns a new
 * string, or NULL after recording an error at `key`.
 */
static char *
expand_env(struct config *cfg, const char *key, const char *value)
{
    GString *out = g_string_sized_new(strlen(value));
    const char *p = value;

    while (*p != '\0') {
        const char *end, *colon, *env;
        char *name;
        size_t name_len;

        if (p[0] != '$' || p[1] != '{') {
            g_string_append_c(out, *p++);
            continue;
        }
        end = strchr(p + 2, '}');
        if (end == NULL) {
            config_fail(cfg, key, "unterminated ${ in \"%s\"", value);
            g_string_free(out, TRUE);
            return NULL;
        }
        colon = g_strstr_len(p + 2, end - (p + 2), ":-");
        name_len = (size_t) ((colon ? colon : end) - (p + 2));
        name = g_strndup(p + 2, name_len);
        env = getenv(name);
        if (env != NULL && env[0] != '\0')
            g_string_append(out, env);
        else if (colon != NULL)
            g_string_append_len(out, colon + 2, end - (colon + 2));
        else {
            config_fail(cfg, key,
                        "environment variable %s is not set; set it or "
                        "write ${%s:-default}", name, name);
            g_free(name);
            g_string_free(out, TRUE);
            return NULL;
        }
        g_free(name);
        p = end + 1;
    }
    return g_string_free(out, FALSE);
}


static char *
child_key(const char *key, config_setting_t *parent, config_setting_t *s,
          unsigned index)
{
    if (config_setting_is_group(parent))
        return key[0] ? g_strdup_printf("%s.%s", key, config_setting_name(s))
                      : g_strdup(config_setting_name(s));
    return g_strdup_printf("%s[%u]", key, index);
}


static int
aggregate_to_json(struct config *cfg, config_setting_t *s, const char *key,
                  json_t **out)
{
    int is_group = config_setting_is_group(s);
    json_t *agg = is_group ? json_object() : json_array();
    int n = config_setting_length(s);

    for (int i = 0; i < n; i++) {
        config_setting_t *child = config_setting_get_elem(s, (unsigned) i);
        char *ck = child_key(key, s, child, (unsigned) i);
        json_t *v;
        int rc = setting_to_json(cfg, child, ck, &v);

        g_free(ck);
        if (rc != 0) {
            json_decref(agg);
            return rc;
        }
        if (is_group)
            json_object_set_new(agg, config_setting_name(child), v);
        else
            json_array_append_new(agg, v);
    }
    *out = agg;
    return 0;
}


static int
setting_to_json(struct config *cfg, config_setting_t *s, const char *key,
                json_t **out)
{
    const char *file;
    char *expanded;

    g_hash_table_insert(cfg->lines, g_strdup(key),
                        GINT_TO_POINTER(config_setting_source_line(s)));
    file = config_setting_source_file(s);
    /* libconfig names an @include'd file as written, relative to the
     * include folder, which is the config's own folder. */
    if (file != NULL && strcmp(file, cfg->path) != 0)
        g_hash_table_insert(cfg->files, g_strdup(key),
                            g_path_is_absolute(file)
                                ? g_strdup(file)
                                : g_build_filename(cfg->dir, file, NULL));
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
    case CONFIG_TYPE_ARRAY:
    case CONFIG_TYPE_LIST:
        return aggregate_to_json(cfg, s, key, out);
    case CONFIG_TYPE_INT:
        *out = json_integer(config_setting_get_int(s));
        return 0;
    case CONFIG_TYPE_INT64:
        *out = json_integer(config_setting_get_int64(s));
        return 0;
    case CONFIG_TYPE_FLOAT:
        *out = json_real(config_setting_get_float(s));
        return 0;
    case CONFIG_TYPE_BOOL:
        *out = json_boolean(config_setting_get_bool(s));
        return 0;
    case CONFIG_TYPE_STRING:
        expanded = expand_env(cfg, key, config_setting_get_string(s));
        if (expanded == NULL)
            return CRIER_ECONFIG;
        *out = json_string(expanded);
        g_free(expanded);
        if (*out == NULL) {
            config_fail(cfg, key, "the value is not valid UTF-8");
            return CRIER_ECONFIG;
        }
        return 0;
    default:
        config_fail(cfg, key, "unsupported kind of value");
        return CRIER_ECONFIG;
    }
}


static char *
absolute_dir_of(const char *path)
{
    char *dir = g_path_get_dirname(path);
    char *abs;

    if (g_path_is_absolute(dir))
        return dir;
    abs = g_canonicalize_filename(dir, NULL);
    g_free(dir);
    return abs;
}


int
config_load(const char *path, struct config **out)
{
    struct config *cfg = calloc(1, sizeof(*cfg));
    config_t lc;
    int rc;

    *out = cfg;
    if (cfg == NULL)
        return CRIER_ENOMEM;
    cfg->path = g_strdup(path);
    cfg->dir = absolute_dir_of(path);
    cfg->lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       NULL);
    cfg->files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       g_free);
    if (access(path, R_OK) != 0) {
        snprintf(cfg->error, sizeof(cfg->error), "%s: cannot read: %s",
                 path, strerror(errno));
        return CRIER_EIO;
    }

    config_init(&lc);
    config_set_include_dir(&lc, cfg->dir);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        snprintf(cfg->error, sizeof(cfg->error), "%s:%d: syntax: %s",
                 config_error_file(&lc) ? config_error_file(&lc) : path,
                 config_error_line(&lc), config_error_text(&lc));
        config_destroy(&lc);
        return CRIER_ECONFIG;
    }
    rc = setting_to_json(cfg, config_root_setting(&lc), "", &cfg->root);
    config_destroy(&lc);
    return rc;
}


void
config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    json_decref(cfg->root);
    g_hash_table_destroy(cfg->lines);
    g_hash_table_destroy(cfg->files);
    g_free(cfg->path);
    g_free(cfg->dir);
    free(cfg);
}


/* Cuts the last member off a key path: "a.b[2]" to "a.b", "a.b" to "a".
 * Returns 0 when there is nothing left to cut. */
static int
key_parent(char *key)
{
    char *cut = strrchr(key, '.');

    if (strrchr(key, '[') > cut)
        cut = strrchr(key, '[');
    if (cut == NULL)
        return 0;
    *cut = '\0';
    return 1;
}


int
config_line(const struct config *cfg, const char *key)
{
    char *k = g_strdup(key);
    int line = 0;

    do {
        gpointer v;

        if (g_hash_table_lookup_extended(cfg->lines, k, NULL, &v) &&
            GPOINTER_TO_INT(v) > 0) {
            line = GPOINTER_TO_INT(v);
            break;
        }
    } while (key_parent(k));
    g_free(k);
    return line;
}


const char *
config_file(const struct config *cfg, const char *key)
{
    char *k = g_strdup(key);
    const char *file = cfg->path;

    /* The nearest key with a line decides, as in config_line. */
    do {
        gpointer v;

        if (g_hash_table_lookup_extended(cfg->lines, k, NULL, &v) &&
            GPOINTER_TO_INT(v) > 0) {
            const char *included = g_hash_table_lookup(cfg->files, k);

            if (included != NULL)
                file = included;
            break;
        }
    } while (key_parent(k));
    g_free(k);
    return file;
}


void
config_vfail(struct config *cfg, const char *key, const char *fmt,
             va_list ap)
{
    int n;

    if (cfg->error[0] != '\0')
        return;
    if (config_line(cfg, key) > 0)
        n = snprintf(cfg->error, sizeof(cfg->error), "%s:%d: %s: ",
                     config_file(cfg, key), config_line(cfg, key), key);
    else
        n = snprintf(cfg->error, sizeof(cfg->error), "%s: %s: ",
                     config_file(cfg, key), key);
    if (n > 0 && (size_t) n < sizeof(cfg->error))
        vsnprintf(cfg->error + n, sizeof(cfg->error) - (size_t) n, fmt, ap);
}


void
config_fail(struct config *cfg, const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    config_vfail(cfg, key, fmt, ap);
    va_end(ap);
}


int
config_check_keys(struct config *cfg, const json_t *obj, const char *prefix,
                  const char *const *known)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) obj, key, value) {
        GString *list;
        char *full;
        size_t i = 0, n = 0;

        while (known[i] != NULL && strcmp(known[i], key) != 0)
            i++;
        if (known[i] != NULL)
            continue;
        while (known[n] != NULL)
            n++;
        list = g_string_new(NULL);
        for (i = 0; i < n; i++)
            g_string_append_printf(list, "%s%s", i == 0 ? ""
                                   : i + 1 == n ? " and " : ", ", known[i]);
        full = prefix && prefix[0] ? g_strdup_printf("%s.%s", prefix, key)
                                   : g_strdup(key);
        config_fail(cfg, full, "unknown setting; valid settings are %s",
                    list->str);
        g_free(full);
        g_string_free(list, TRUE);
        return CRIER_ECONFIG;
    }
    return 0;
}


char *
config_resolve(const struct config *cfg, const char *path)
{
    char *joined;
    char *result;

    if (g_path_is_absolute(path))
        return strdup(path);
    joined = g_build_filename(cfg->dir, path, NULL);
    result = strdup(joined);
    g_free(joined);
    return result;
}


static char *
join_key(const char *prefix, const char *name)
{
    return prefix && prefix[0] ? g_strdup_printf("%s.%s", prefix, name)
                               : g_strdup(name);
}


int
config_get_string(struct config *cfg, const json_t *obj, const char *prefix,
                  const char *name, int required, const char **out)
{
    json_t *v = json_object_get(obj, name);
    char *key;
    int rc = CRIER_ECONFIG;

    if (v == NULL && !required)
        return 0;
    key = join_key(prefix, name);
    if (v == NULL)
        config_fail(cfg, key, "missing; this setting is required");
    else if (!json_is_string(v))
        config_fail(cfg, key, "must be a string in double quotes");
    else if (json_string_length(v) == 0)
        config_fail(cfg, key, "must not be empty");
    else {
        *out = json_string_value(v);
        rc = 0;
    }
    g_free(key);
    return rc;
}


int
config_get_int(struct config *cfg, const json_t *obj, const char *prefix,
               const char *name, long long min, long long max,
               long long *out)
{
    json_t *v = json_object_get(obj, name);
    char *key;
    int rc = CRIER_ECONFIG;

    if (v == NULL)
        return 0;
    key = join_key(prefix, name);
    if (!json_is_integer(v))
        config_fail(cfg, key, "must be a whole number");
    else if (json_integer_value(v) < min || json_integer_value(v) > max)
        config_fail(cfg, key, "must be between %lld and %lld, not %lld",
                    min, max, (long long) json_integer_value(v));
    else {
        *out = json_integer_value(v);
        rc = 0;
    }
    g_free(key);
    return rc;
}
