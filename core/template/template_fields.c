/*
 * Required fields of a template: the optional file required.txt in a
 * template's folder lists, one a line, the dotted names that a message
 * cannot go without ("profile.first_name", "case.id"). Blank lines and
 * lines starting with "#" are skipped. A render whose data lacks one of
 * them fails for that message alone, with "missing <name>".
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "template/template_int.h"

#define REQUIRED_FILE "required.txt"


static void
required_fail(struct template_error *err, const char *path, int line,
              const char *message)
{
    if (err == NULL)
        return;
    snprintf(err->path, sizeof(err->path), "%s", path);
    err->line = line;
    err->col = line > 0 ? 1 : 0;
    snprintf(err->message, sizeof(err->message), "%s", message);
}


/* Returns 1 for a name of letters, digits, '_' and '-', with single dots
 * between its segments. */
static int
required_name_valid(const char *name)
{
    const char *p;

    if (name[0] == '\0' || name[0] == '.')
        return 0;
    for (p = name; *p != '\0'; p++) {
        if (*p == '.' && (p[1] == '.' || p[1] == '\0'))
            return 0;
        if (*p != '.' && *p != '_' && *p != '-' && !g_ascii_isalnum(*p))
            return 0;
    }
    return 1;
}


int
template_required_load(const char *dir, char ***out,
                       struct template_error *err)
{
    char *path = g_build_filename(dir, REQUIRED_FILE, NULL);
    GPtrArray *names;
    GError *gerr = NULL;
    char **lines;
    char *text;
    int i;

    *out = NULL;
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_free(path);
        return 0;
    }
    if (!g_file_get_contents(path, &text, NULL, &gerr)) {
        char *message = g_strdup_printf("cannot read: %s", gerr->message);

        required_fail(err, path, 0, message);
        g_free(message);
        g_error_free(gerr);
        g_free(path);
        return -1;
    }
    names = g_ptr_array_new_with_free_func(g_free);
    lines = g_strsplit(text, "\n", -1);
    g_free(text);
    for (i = 0; lines[i] != NULL; i++) {
        char *name = g_strstrip(lines[i]);

        if (name[0] == '\0' || name[0] == '#')
            continue;
        if (!required_name_valid(name)) {
            char *message = g_strdup_printf("'%.60s' is not a field name "
                                            "such as profile.first_name",
                                            name);

            required_fail(err, path, i + 1, message);
            g_free(message);
            g_ptr_array_unref(names);
            g_strfreev(lines);
            g_free(path);
            return -1;
        }
        g_ptr_array_add(names, g_strdup(name));
    }
    g_strfreev(lines);
    g_free(path);
    g_ptr_array_add(names, NULL);
    /* With free_segment FALSE the names survive the array. */
    *out = (char **) g_ptr_array_free(names, FALSE);
    return 0;
}


/* Returns the value at dotted `name` in `data`, or NULL. */
static const json_t *
field_lookup(const json_t *data, const char *name)
{
    char **segments = g_strsplit(name, ".", -1);
    const json_t *value = data;
    int i;

    for (i = 0; segments[i] != NULL && value != NULL; i++)
        value = json_object_get(value, segments[i]);
    g_strfreev(segments);
    return value;
}


const char *
template_required_missing(char *const *required, const json_t *data)
{
    size_t i;

    for (i = 0; required != NULL && required[i] != NULL; i++) {
        const json_t *value = field_lookup(data, required[i]);

        if (value == NULL || json_is_null(value)
            || (json_is_string(value) && json_string_length(value) == 0))
            return required[i];
    }
    return NULL;
}
