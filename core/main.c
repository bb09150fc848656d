/* crier: the command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <uv.h>

#include "base/log.h"
#include "config/config.h"
#include "import/import.h"
#include "plugin/plugin.h"
#include "rules/rules.h"
#include "report/report.h"
#include "segments/segments.h"
#include "server/server.h"

#define EXIT_CONFIG 2
#define EXIT_USAGE 64

static const char usage_text[] =
    "usage: crier [-c FILE] COMMAND\n"
    "\n"
    "commands:\n"
    "  serve     run the server\n"
    "  check     validate the config and every plugin's block\n"
    "  plugins   list the plugins found in plugin_dir\n"
    "  version   print the version and the plugin ABI version\n"
    "  profiles import FILE.csv\n"
    "            import profiles from a CSV file into the store, without\n"
    "            sending messages (docs/imports.md)\n"
    "  segments [NAME]\n"
    "            list the segments with their member counts, or print the\n"
    "            profile ids of segment NAME, one a line; offline\n"
    "  migrate [--status]\n"
    "            apply the store's missing schema migrations, as serve does\n"
    "            at start, and print the schema version found and now;\n"
    "            offline\n"
    "  migrate --from sqlite:PATH --to postgres:URL [--schema NAME]\n"
    "            copy a sqlite store into a postgres store and verify the\n"
    "            copy; stop crier first (docs/stores/postgres.md)\n"
    "  report [rules|messages|goals|funnel|experiments] [--since DATE]\n"
    "         [--until DATE] [--program NAME] [--json|--csv]\n"
    "            print the report counters; dates are YYYY-MM-DD in UTC,\n"
    "            both inclusive; put -c before `report`; offline\n"
    "\n"
    "options:\n"
    "  -c, --config FILE   the config file (default: ./plugins.conf)\n"
    "  -h, --help          print this help\n";


static int
load_config(const char *path, struct config **cfg)
{
    int rc = config_load(path, cfg);

    if (rc == 0)
        rc = server_prepare(*cfg);
    if (rc != 0) {
        fprintf(stderr, "%s\n", (*cfg)->error[0] ? (*cfg)->error
                                                 : crier_strerror(rc));
        return EXIT_CONFIG;
    }
    return 0;
}


static void
print_names(GPtrArray *instances)
{
    for (guint i = 0; i < instances->len; i++) {
        struct plugin_instance *p = g_ptr_array_index(instances, i);

        printf("%s %s", i ? "," : "", p->name);
    }
    if (instances->len == 0)
        printf(" none");
}


static int
command_check(const char *path)
{
    struct config *cfg = NULL;
    int rc = load_config(path, &cfg);

    if (rc == 0) {
        printf("%s: ok: store %s; triggers:", path, server.store->desc->name);
        print_names(server.triggers);
        printf("; channels:");
        print_names(server.channels);
        printf("; rules: %u\n", server.rules ? server.rules->rules->len : 0);
    }
    server_release();
    config_free(cfg);
    return rc;
}


static int
command_serve(const char *path)
{
    struct config *cfg = NULL;
    int rc = load_config(path, &cfg);

    if (rc == 0) {
        log_notice("starting", "version=%s config=%s", CRIER_VERSION, path);
        rc = server_run() == 0 ? 0 : 1;
    }
    server_release();
    config_free(cfg);
    return rc;
}


static void
print_plugin(void *arg, const char *file, const struct crier_plugin *d,
             const char *why)
{
    if (d == NULL)
        printf("%-10s %-8s %-8s %s (%s)\n", "?", "-", "-", file, why);
    else if (d->abi_version != CRIER_ABI_VERSION)
        printf("%-10s %-8s %-8s %s (ABI %u; this crier needs %u)\n",
               "?", "-", "-", file, (unsigned) d->abi_version,
               CRIER_ABI_VERSION);
    else
        printf("%-10s %-8s %-8s %s\n", d->name, plugin_kind_name(d->kind),
               d->version ? d->version : "-",
               d->summary ? d->summary : "");
}


static int
command_plugins(const char *path)
{
    struct config *cfg = NULL;
    const char *dirs[3] = { NULL, CRIER_PLUGIN_INSTALL_DIR, NULL };
    const char *dir = "build/plugins";
    char *resolved;

    if (config_load(path, &cfg) == 0)
        config_get_string(cfg, cfg->root, "", "plugin_dir", 0, &dir);
    resolved = cfg ? config_resolve(cfg, dir) : strdup(dir);
    dirs[0] = resolved;
    printf("%-10s %-8s %-8s %s\n", "NAME", "KIND", "VERSION", "SUMMARY");
    plugin_list(dirs, print_plugin, NULL);
    free(resolved);
    config_free(cfg);
    return 0;
}


static int
command_version(void)
{
    printf("crier %s (plugin ABI %d.%d)\n", CRIER_VERSION, CRIER_ABI_VERSION,
           CRIER_ABI_MINOR);
    printf("libuv %s, SQLite %s, jansson %s, %s\n", uv_version_string(),
           sqlite3_libversion(), JANSSON_VERSION, curl_version());
    return 0;
}


static int
command_profiles(const char *path, const char *action, const char *file)
{
    struct config *cfg = NULL;
    int rc;

    if (action == NULL || strcmp(action, "import") != 0 || file == NULL) {
        fprintf(stderr, "usage: crier [-c FILE] profiles import FILE.csv\n");
        return EXIT_USAGE;
    }
    rc = load_config(path, &cfg);
    if (rc == 0)
        rc = import_file_command(file);
    server_release();
    config_free(cfg);
    return rc;
}


static int
command_segments(const char *path, const char *name)
{
    struct config *cfg = NULL;
    int rc = load_config(path, &cfg);

    if (rc == 0)
        rc = segments_command(name);
    server_release();
    config_free(cfg);
    return rc;
}


static const char migrate_usage[] =
    "usage: crier [-c FILE] migrate [--status]\n"
    "       crier migrate --from sqlite:PATH --to postgres:URL"
    " [--schema NAME]\n";


static int
command_migrate(const char *path, int argc, char **argv)
{
    struct config *cfg = NULL;
    int rc;

    if (argc >= 1 && strcmp(argv[0], "--from") == 0)
        return migrate_copy_command(argc, argv);
    if (argc > 1 || (argc == 1 && strcmp(argv[0], "--status") != 0)) {
        fputs(migrate_usage, stderr);
        return EXIT_USAGE;
    }
    rc = load_config(path, &cfg);
    if (rc == 0)
        rc = migrate_command();
    server_release();
    config_free(cfg);
    return rc;
}


static int
command_report(const char *path, int argc, char **argv)
{
    struct config *cfg = NULL;
    int rc = load_config(path, &cfg);

    if (rc == 0)
        rc = report_command(argc, argv);
    server_release();
    config_free(cfg);
    return rc;
}


int
main(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *path = "plugins.conf";
    const char *command = NULL;
    const char *args[2] = { NULL, NULL };   /* the command's arguments */
    size_t nargs = 0;
    int opt;

    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1 ||
           optind < argc) {
        if (opt == -1) {
            /* A command may come before or after its options; only
             * `profiles` (two) and `segments` (one) take arguments. */
            if (command == NULL) {
                command = argv[optind++];
                /* `report` and `migrate` read their own options, so -c
                 * goes first. */
                if (strcmp(command, "report") == 0)
                    return command_report(path, argc - optind,
                                          argv + optind);
                if (strcmp(command, "migrate") == 0)
                    return command_migrate(path, argc - optind,
                                           argv + optind);
            } else if (strcmp(command, "profiles") == 0 && nargs < 2)
                args[nargs++] = argv[optind++];
            else if (strcmp(command, "segments") == 0 && nargs < 1)
                args[nargs++] = argv[optind++];
            else {
                fprintf(stderr, "crier: unexpected argument \"%s\"\n%s",
                        argv[optind], usage_text);
                return EXIT_USAGE;
            }
            continue;
        }
        if (opt == 'c')
            path = optarg;
        else if (opt == 'h') {
            fputs(usage_text, stdout);
            return 0;
        } else {
            fputs(usage_text, stderr);
            return EXIT_USAGE;
        }
    }
    if (command == NULL) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(command, "serve") == 0)
        return command_serve(path);
    if (strcmp(command, "check") == 0)
        return command_check(path);
    if (strcmp(command, "plugins") == 0)
        return command_plugins(path);
    if (strcmp(command, "version") == 0)
        return command_version();
    if (strcmp(command, "profiles") == 0)
        return command_profiles(path, args[0], args[1]);
    if (strcmp(command, "segments") == 0)
        return command_segments(path, args[0]);
    fprintf(stderr, "crier: unknown command \"%s\"\n%s", command, usage_text);
    return EXIT_USAGE;
}
