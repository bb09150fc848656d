/* crier: the command line. */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <glib.h>
#include <jansson.h>
#include <sqlite3.h>
#include <uv.h>

#include "allocator.h"
#include "base/log.h"
#include "config/config.h"
#include "import/import.h"
#include "plugin/command.h"
#include "plugin/plugin.h"
#include "rules/rules.h"
#include "report/report.h"
#include "segments/segments.h"
#include "server/server.h"
#include "server/upgrade.h"

#define EXIT_CONFIG 2
#define EXIT_USAGE 64

static const char usage_text[] =
    "usage: crier [-c FILE] COMMAND\n"
    "\n"
    "commands:\n"
    "  serve     run the server\n"
    "  check     validate the config and every plugin's block\n"
    "  plugins   list the plugins found in plugin_dir: kind, version, ABI,\n"
    "            the config blocks that use each, file and summary\n"
    "  version   print the version and the plugin ABI version\n"
    "  profiles import FILE.csv\n"
    "            import profiles from a CSV file into the store, without\n"
    "            sending messages (docs/imports.md)\n"
    "  segments [NAME]\n"
    "            list the segments with their member counts, or print the\n"
    "            profile ids of segment NAME, one a line; offline\n"
    "  backup FILE\n"
    "            copy the store into the new file FILE while crier serves\n"
    "            (SQLite store; docs/operations.md)\n"
    "  migrate [--status]\n"
    "            apply the store's missing schema migrations, as serve does\n"
    "            at start, and print the schema version found and now;\n"
    "            offline. --status changes nothing: it prints the version\n"
    "            and each pending migration, and exits 3 when any is\n"
    "            pending\n"
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
        upgrade_take_over();
        log_notice("starting", "version=%s config=%s", CRIER_VERSION, path);
        rc = server_run() == 0 ? 0 : 1;
    }
    server_release();
    config_free(cfg);
    return rc;
}


static int
command_version(void)
{
    printf("crier %s (plugin ABI %d.%d)\n", CRIER_VERSION, CRIER_ABI_VERSION,
           CRIER_ABI_MINOR);
    printf("libuv %s, SQLite %s, jansson %s, %s\n", uv_version_string(),
           sqlite3_libversion(), JANSSON_VERSION, curl_version());
    printf("allocator: %s\n", allocator_name());
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
    if (rc == 0 && argc == 1)
        rc = migrate_status_command();
    else if (rc == 0)
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


/* The outcome of `crier backup`, filled in by on_backup_done. */
struct backup_outcome {
    const char *file;
    int status;
    char *cause;                /* the store's message on failure, or NULL */
};


static void
on_backup_done(void *arg, int status, json_t *result)
{
    struct backup_outcome *out = arg;

    out->status = status;
    if (status == 0)
        printf("backup written: %s (%lld pages)\n", out->file,
               (long long) json_integer_value(json_object_get(result,
                                                              "pages")));
    else
        out->cause = g_strdup(json_string_value(json_object_get(result,
                                                                "error")));
}


/* Prints why a backup failed and what to do about it. */
static void
backup_explain(const char *file, int status, const char *cause)
{
    const char *store = server.store->desc->name;

    if (status == CRIER_EEXIST)
        fprintf(stderr, "crier: backup: %s exists; give a new file name\n",
                file);
    else if (status == CRIER_ENOTSUP)
        fprintf(stderr, "crier: backup: the %s store has no file to copy; "
                "back up its database with its own tools (for PostgreSQL, "
                "pg_dump; see docs/operations.md)\n", store);
    else if (cause != NULL)
        fprintf(stderr, "crier: backup to %s failed: %s (%s)\n", file,
                cause, crier_strerror(status));
    else
        fprintf(stderr, "crier: backup to %s failed: %s\n", file,
                crier_strerror(status));
}


/*
 * crier backup FILE: calls the store plugin's backup operation. The
 * store is only initialized, not started, so this works while a serving
 * crier holds the store's lock.
 */
static int
command_backup(const char *path, const char *file)
{
    struct backup_outcome out = { .file = file, .status = 0 };
    struct config *cfg = NULL;
    json_t *request;
    int rc;

    if (file == NULL) {
        fprintf(stderr, "usage: crier [-c FILE] backup FILE\n");
        return EXIT_USAGE;
    }
    if ((rc = load_config(path, &cfg)) != 0) {
        server_release();
        config_free(cfg);
        return rc;
    }
    server.loop = uv_default_loop();
    if (server.store_ops->size <= offsetof(struct crier_store_ops, backup))
        rc = CRIER_ENOTSUP;
    else {
        request = json_pack("{s:s}", "path", file);
        rc = server.store_ops->backup(server.store->state, request,
                                      on_backup_done, &out);
        json_decref(request);
    }
    if (rc == 0) {
        uv_run(server.loop, UV_RUN_DEFAULT);
        rc = out.status;
    }
    if (rc != 0)
        backup_explain(file, rc, out.cause);
    g_free(out.cause);
    uv_loop_close(server.loop);
    server_release();
    config_free(cfg);
    return rc == 0 ? 0 : 1;
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

    upgrade_init();
    while ((opt = getopt_long(argc, argv, "+c:h", options, NULL)) != -1 ||
           optind < argc) {
        if (opt == -1) {
            /* A command may come before or after its options; only
             * `profiles` (two), `segments` and `backup` (one) take
             * arguments. */
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
            else if (strcmp(command, "backup") == 0 && nargs < 1)
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
        return plugins_command(path);
    if (strcmp(command, "version") == 0)
        return command_version();
    if (strcmp(command, "profiles") == 0)
        return command_profiles(path, args[0], args[1]);
    if (strcmp(command, "segments") == 0)
        return command_segments(path, args[0]);
    if (strcmp(command, "backup") == 0)
        return command_backup(path, args[0]);
    fprintf(stderr, "crier: unknown command \"%s\"\n%s", command, usage_text);
    return EXIT_USAGE;
}
