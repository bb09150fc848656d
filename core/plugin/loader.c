#include "plugin/plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <ltdl.h>

#include "base/log.h"


const char *
plugin_kind_name(uint32_t kind)
{
    switch (kind) {
    case CRIER_PLUGIN_TRIGGER:
        return "trigger";
    case CRIER_PLUGIN_CHANNEL:
        return "channel";
    case CRIER_PLUGIN_STORE:
        return "store";
    default:
        return "unknown";
    }
}


static int
ltdl_ready(void)
{
    static int done;

    if (!done && lt_dlinit() != 0)
        return CRIER_EIO;
    done = 1;
    return 0;
}


/*
 * Opens `dir/name` with its platform extension. Returns NULL when the file
 * is not there; when it is there but fails to load, records why.
 */
static lt_dlhandle
open_in_dir(struct config *cfg, const char *key, const char *dir,
            const char *name, char **file)
{
    char *base = g_build_filename(dir, name, NULL);
    char *so = g_strconcat(base, ".so", NULL);
    lt_dladvise advise;
    lt_dlhandle h = NULL;

    if (g_file_test(so, G_FILE_TEST_EXISTS)) {
        lt_dladvise_init(&advise);
        lt_dladvise_ext(&advise);
        lt_dladvise_local(&advise);
        h = lt_dlopenadvise(base, advise);
        lt_dladvise_destroy(&advise);
        if (h == NULL)
            config_fail(cfg, key,
                        "cannot load %s: %s; check its dependencies with "
                        "`ldd %s`", so, lt_dlerror(), so);
        else
            *file = g_strdup(so);
    }
    g_free(base);
    g_free(so);
    return h;
}


static int
check_descriptor(struct config *cfg, const char *key, const char *file,
                 const struct crier_plugin *d, enum crier_plugin_kind kind,
                 const char *name)
{
    /* The ABI version is read before anything else of the descriptor. */
    if (d->abi_version != CRIER_ABI_VERSION) {
        config_fail(cfg, key,
                    "%s: plugin ABI version %u, but crier expects %u; "
                    "rebuild the plugin against this crier's SDK",
                    file, (unsigned) d->abi_version, CRIER_ABI_VERSION);
        return CRIER_EABI;
    }
    if (d->kind != (uint32_t) kind) {
        config_fail(cfg, key, "%s: plugin \"%s\" is a %s, not a %s", file,
                    name, plugin_kind_name(d->kind), plugin_kind_name(kind));
        return CRIER_ECONFIG;
    }
    if (d->init == NULL || d->name == NULL) {
        config_fail(cfg, key, "%s: the plugin descriptor has no %s", file,
                    d->name == NULL ? "name" : "init function");
        return CRIER_ECONFIG;
    }
    return 0;
}


int
plugin_load(struct config *cfg, const char *const *dirs, const char *key,
            const char *name, const json_t *block,
            enum crier_plugin_kind kind, struct plugin_instance **out)
{
    struct plugin_instance *p;
    const struct crier_plugin *desc;
    lt_dlhandle h = NULL;
    char *file = NULL;
    char *plugin_key = g_strdup_printf("%s.plugin", key);
    int rc;

    *out = NULL;
    if (ltdl_ready() != 0) {
        config_fail(cfg, plugin_key, "libltdl failed to start: %s",
                    lt_dlerror());
        g_free(plugin_key);
        return CRIER_EIO;
    }
    if (strchr(name, '/') != NULL || name[0] == '.') {
        config_fail(cfg, plugin_key, "\"%s\" is not a plugin name", name);
        g_free(plugin_key);
        return CRIER_ECONFIG;
    }
    for (size_t i = 0; dirs[i] != NULL && h == NULL; i++) {
        h = open_in_dir(cfg, plugin_key, dirs[i], name, &file);
        if (h == NULL && cfg->error[0] != '\0')
            break;
    }
    if (h == NULL) {
        char *list = g_strjoinv(", ", (char **) dirs);
        config_fail(cfg, plugin_key,
                    "plugin \"%s\" not found in %s; check plugin_dir or "
                    "run `make build`", name, list);
        g_free(list);
        g_free(plugin_key);
        return CRIER_ENOTFOUND;
    }

    desc = lt_dlsym(h, CRIER_PLUGIN_SYMBOL);
    if (desc == NULL) {
        config_fail(cfg, plugin_key, "%s does not export %s; is it a "
                    "crier plugin?", file, CRIER_PLUGIN_SYMBOL);
        rc = CRIER_ECONFIG;
    } else {
        rc = check_descriptor(cfg, plugin_key, file, desc, kind, name);
    }
    g_free(plugin_key);
    if (rc != 0) {
        g_free(file);
        return rc;
    }

    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        g_free(file);
        return CRIER_ENOMEM;
    }
    p->ctx.instance = p;
    p->key = g_strdup(key);
    p->name = g_strdup(strrchr(key, '.') ? strrchr(key, '.') + 1 : key);
    p->file = file;
    p->desc = desc;
    p->cfg = cfg;
    p->config = (json_t *) block;
    *out = p;
    return 0;
}


int
plugin_init(struct plugin_instance *p)
{
    int rc = p->desc->init(&p->ctx, &host_table, p->config, &p->state);

    /* A failed init has freed what it allocated (see plugin.h), so its
     * state is never destroyed. */
    if (rc != 0)
        p->state = NULL;
    if (rc != 0 && p->cfg->error[0] == '\0')
        config_fail(p->cfg, p->key, "plugin %s failed to start: %s",
                    p->desc->name, crier_strerror(rc));
    return rc;
}


int
plugin_start(struct plugin_instance *p)
{
    int rc = p->desc->start ? p->desc->start(p->state) : 0;

    if (rc == 0)
        p->started = 1;
    else
        log_error("plugin failed to start", "instance=%s plugin=%s error=%s",
                  p->key, p->desc->name, crier_errname(rc));
    return rc;
}


void
plugin_stop(struct plugin_instance *p, crier_stop_cb done, void *arg)
{
    if (!p->started || p->desc->stop == NULL) {
        done(arg);
        return;
    }
    p->started = 0;
    p->desc->stop(p->state, done, arg);
}


void
plugin_destroy(struct plugin_instance *p)
{
    if (p == NULL)
        return;
    if (p->desc->destroy && p->state)
        p->desc->destroy(p->state);
    g_free(p->key);
    g_free(p->name);
    g_free(p->file);
    free(p);
}


static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


void
plugin_list(const char *const *dirs, plugin_found_fn fn, void *arg)
{
    if (ltdl_ready() != 0)
        return;
    for (size_t i = 0; dirs[i] != NULL; i++) {
        GDir *dir = g_dir_open(dirs[i], 0, NULL);
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        const char *entry;

        while (dir != NULL && (entry = g_dir_read_name(dir)) != NULL) {
            if (g_str_has_suffix(entry, ".so"))
                g_ptr_array_add(names, g_strdup(entry));
        }
        if (dir != NULL)
            g_dir_close(dir);
        g_ptr_array_sort(names, compare_names);
        for (guint n = 0; n < names->len; n++) {
            char *file = g_build_filename(dirs[i], names->pdata[n], NULL);
            lt_dlhandle h = lt_dlopen(file);
            const struct crier_plugin *desc = NULL;

            if (h != NULL)
                desc = lt_dlsym(h, CRIER_PLUGIN_SYMBOL);
            fn(arg, file, desc, h == NULL ? lt_dlerror()
                                          : "no crier_plugin symbol");
            g_free(file);
        }
        g_ptr_array_free(names, TRUE);
    }
}
