/*
 * crier migrate [--status]: opens the configured store, which applies
 * the schema migrations it lacks under the store's own lock (as serve
 * does at start). Then it prints what the store reports through
 * schema_status: the version it found and the version it left. Which
 * migrations exist, and how they are locked, stays inside each store
 * plugin.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

struct migrate_run {
    int status;
    json_t *result;
};


static void
on_status(void *arg, int status, json_t *result)
{
    struct migrate_run *run = arg;

    run->status = status;
    run->result = json_incref(result);
    server_stop_offline();
}


static void
on_started(void *arg)
{
    struct migrate_run *run = arg;
    int rc;

    rc = server.store_ops->schema_status(server.store->state, NULL,
                                         on_status, run);
    if (rc != 0) {
        run->status = rc;
        server_stop_offline();
    }
}


/* Returns nonzero when the store plugin implements schema_status. */
static int
store_has_schema_status(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops->size >= offsetof(struct crier_store_ops, schema_status) +
                        sizeof(ops->schema_status) &&
           ops->schema_status != NULL;
}


int
migrate_command(void)
{
    struct migrate_run run = { 0, NULL };
    json_int_t found;
    json_int_t version;
    int rc;

    if (!store_has_schema_status()) {
        fprintf(stderr, "crier: the store plugin \"%s\" does not implement "
                "schema_status\n", server.store->desc->name);
        return 1;
    }
    rc = server_run_offline(on_started, &run);
    if (rc != 0) {
        fprintf(stderr, "crier: the store could not start: %s\n",
                crier_strerror(rc));
        return 1;
    }
    if (run.status != 0) {
        fprintf(stderr, "crier: schema_status failed: %s\n",
                crier_strerror(run.status));
        return 1;
    }
    found = json_integer_value(json_object_get(run.result, "found"));
    version = json_integer_value(json_object_get(run.result, "version"));
    printf("store %s: schema version %" JSON_INTEGER_FORMAT " of %"
           JSON_INTEGER_FORMAT "; %s", json_string_value(json_object_get(
               run.result, "store")), version,
           json_integer_value(json_object_get(run.result, "latest")),
           version > found ? "applied " : "nothing to apply");
    if (version > found)
        printf("%" JSON_INTEGER_FORMAT " migration%s (found version %"
               JSON_INTEGER_FORMAT ")", version - found,
               version - found == 1 ? "" : "s", found);
    printf("\n");
    json_decref(run.result);
    return 0;
}


/*
 * Runs the copy program crier-migrate-FROM-TO, from the folder of the
 * crier binary or else from PATH, with the two locations and the schema.
 * Each pair of stores ships its own program, so the core depends on no
 * store's tables.
 */
int
migrate_copy_command(int argc, char **argv)
{
    const char *from = NULL;
    const char *to = NULL;
    const char *schema = NULL;
    char program[64];
    char self[PATH_MAX];
    char path[PATH_MAX + 80];
    char kind_from[16];
    char kind_to[16];
    char *args[5];
    ssize_t len;
    int unknown = 0;
    int n = 0;

    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--from") == 0)
            from = argv[i + 1];
        else if (strcmp(argv[i], "--to") == 0)
            to = argv[i + 1];
        else if (strcmp(argv[i], "--schema") == 0)
            schema = argv[i + 1];
        else
            unknown = 1;
    }
    if (unknown || argc % 2 != 0 || from == NULL || to == NULL
        || sscanf(from, "%15[a-z]:", kind_from) != 1
        || sscanf(to, "%15[a-z]:", kind_to) != 1) {
        fprintf(stderr, "usage: crier migrate --from sqlite:PATH --to "
                "postgres:URL [--schema NAME]\n");
        return 64;
    }
    snprintf(program, sizeof(program), "crier-migrate-%s-%s", kind_from,
             kind_to);
    args[n++] = program;
    args[n++] = (char *)from + strlen(kind_from) + 1;
    args[n++] = (char *)to + strlen(kind_to) + 1;
    if (schema != NULL)
        args[n++] = (char *)schema;
    args[n] = NULL;

    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0) {
        self[len] = '\0';
        *strrchr(self, '/') = '\0';
        snprintf(path, sizeof(path), "%s/%s", self, program);
        execv(path, args);
    }
    execvp(program, args);
    fprintf(stderr, "crier: cannot run %s: %s; crier copies only from sqlite "
            "to postgres, with the program built beside the postgres "
            "plugin\n", program, strerror(errno));
    return 1;
}
