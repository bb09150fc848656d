/*
 * `crier plugins`: every plugin found in plugin_dir and the installed
 * plugin folder, one a line, with the instances of the config that use it.
 */
#include "plugin/command.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config/config.h"
#include "plugin/plugin.h"

/* The config and the plugin names listed so far, for print_row. */
struct listing {
    struct config *cfg;         /* NULL when the config could not be read */
    GHashTable *seen;           /* plugin name -> 1, the first file wins */
};


/* Appends to `used` each instance of `section` whose block names `name`. */
static void
instances_using(const struct config *cfg, const char *section,
                const char *name, GString *used)
{
    json_t *group = json_object_get(cfg->root, section);
    const char *instance;
    json_t *block;

    if (strcmp(section, "store") == 0) {
        if (g_strcmp0(json_string_value(json_object_get(group, "plugin")),
                      name) == 0)
            g_string_append_printf(used, "%sstore", used->len ? "," : "");
        return;
    }
    json_object_foreach(group, instance, block) {
        const char *plugin =
            json_string_value(json_object_get(block, "plugin"));

        if (g_strcmp0(plugin, name) == 0)
            g_string_append_printf(used, "%s%s.%s", used->len ? "," : "",
                                   section, instance);
    }
}


/* Returns the section of plugins.conf where plugins of `kind` go. */
static const char *
kind_section(uint32_t kind)
{
    switch (kind) {
    case CRIER_PLUGIN_STORE:
        return "store";
    case CRIER_PLUGIN_CHANNEL:
        return "channels";
    case CRIER_PLUGIN_TRIGGER:
        return "triggers";
    default:
        return NULL;
    }
}


/*
 * Prints one row. A plugin of another ABI version, or a second file with
 * the name of one found earlier, is never loaded, so it is used by none.
 */
static void
print_row(void *arg, const char *file, const struct crier_plugin *d,
          const char *why)
{
    struct listing *l = arg;
    GString *used = g_string_new(NULL);
    const char *section;
    char abi[24];

    if (d == NULL) {
        printf("%-10s %-8s %-8s %-5s %-24s %s (%s)\n", "?", "-", "-", "-",
               "-", file, why);
        g_string_free(used, TRUE);
        return;
    }
    snprintf(abi, sizeof(abi), "%u.%u", (unsigned) d->abi_version,
             (unsigned) d->abi_minor);
    if (d->abi_version != CRIER_ABI_VERSION) {
        printf("%-10s %-8s %-8s %-5s %-24s %s (ABI %u; this crier needs "
               "%u)\n", "?", "-", "-", abi, "-", file,
               (unsigned) d->abi_version, CRIER_ABI_VERSION);
        g_string_free(used, TRUE);
        return;
    }
    section = kind_section(d->kind);
    if (d->name != NULL && g_hash_table_contains(l->seen, d->name)) {
        g_string_assign(used, "(shadowed)");
    } else if (d->name != NULL) {
        g_hash_table_add(l->seen, g_strdup(d->name));
        if (l->cfg != NULL && section != NULL)
            instances_using(l->cfg, section, d->name, used);
    }
    printf("%-10s %-8s %-8s %-5s %-24s %s %s\n",
           d->name ? d->name : "?", plugin_kind_name(d->kind),
           d->version ? d->version : "-", abi,
           used->len ? used->str : "-", file, d->summary ? d->summary : "");
    g_string_free(used, TRUE);
}


/* Prints a row for each config block whose plugin no folder holds. */
static void
print_missing(struct listing *l)
{
    static const char *const sections[] = { "channels", "triggers" };
    const char *instance;
    json_t *block;
    const char *name;

    if (l->cfg == NULL)
        return;
    name = json_string_value(json_object_get(
        json_object_get(l->cfg->root, "store"), "plugin"));
    if (name != NULL && !g_hash_table_contains(l->seen, name))
        printf("%-10s %-8s %-8s %-5s %-24s %s\n", name, "store", "-", "-",
               "store", "(not found)");
    for (size_t i = 0; i < G_N_ELEMENTS(sections); i++) {
        json_t *group = json_object_get(l->cfg->root, sections[i]);

        json_object_foreach(group, instance, block) {
            char *key;

            name = json_string_value(json_object_get(block, "plugin"));
            if (name == NULL || g_hash_table_contains(l->seen, name))
                continue;
            key = g_strdup_printf("%s.%s", sections[i], instance);
            printf("%-10s %-8s %-8s %-5s %-24s %s\n", name, "-", "-", "-",
                   key, "(not found)");
            g_free(key);
        }
    }
}


int
plugins_command(const char *path)
{
    struct config *cfg = NULL;
    const char *dirs[3] = { NULL, CRIER_PLUGIN_INSTALL_DIR, NULL };
    const char *dir = "build/plugins";
    struct listing l = { NULL, NULL };
    char *resolved;

    if (config_load(path, &cfg) == 0) {
        config_get_string(cfg, cfg->root, "", "plugin_dir", 0, &dir);
        l.cfg = cfg;
    } else if (cfg != NULL) {
        fprintf(stderr, "crier: %s; listing %s without the config\n", cfg->error,
                dir);
    }
    resolved = cfg ? config_resolve(cfg, dir) : strdup(dir);
    dirs[0] = resolved;
    l.seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    printf("%-10s %-8s %-8s %-5s %-24s %s\n", "NAME", "KIND", "VERSION",
           "ABI", "USED BY", "FILE SUMMARY");
    plugin_list(dirs, print_row, &l);
    print_missing(&l);
    g_hash_table_destroy(l.seen);
    free(resolved);
    config_free(cfg);
    return 0;
}
