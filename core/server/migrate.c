/*
 * crier migrate opens the configured store, which applies the schema
 * migrations it lacks under the store's own lock (as serve does at
 * start). Then it prints what the store reports through schema_status:
 * the version it found and the version it left.
 *
 * crier migrate --status only initializes the store, so schema_status
 * reads the stored version without changing anything and lists the
 * migrations that start would apply. Which migrations exist, and how
 * they are locked, stays inside each store plugin.
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


static void
on_status_read(void *arg, int status, json_t *result)
{
    struct migrate_run *run = arg;

    run->status = status;
    run->result = json_incref(result);
}


/* Prints the report of a store that was not started; returns the exit
 * status (MIGRATE_EXIT_PENDING when migrations are pending). */
static int
status_print(json_t *result)
{
    const char *store = json_string_value(json_object_get(result, "store"));
    json_int_t version = json_integer_value(json_object_get(result,
                                                            "version"));
    json_int_t latest = json_integer_value(json_object_get(result,
                                                           "latest"));
    json_t *pending = json_object_get(result, "pending");
    size_t i;
    json_t *step;

    if (!json_is_array(pending)) {
        fprintf(stderr, "crier: the store plugin \"%s\" returned no list "
                "of pending migrations, so it cannot report without "
                "applying them; run crier migrate to apply and report\n",
                server.store->desc->name);
        return 1;
    }
    if (version > latest) {
        fprintf(stderr, "crier: store %s: schema version %" JSON_INTEGER_FORMAT
                " is newer than the latest this crier knows (%"
                JSON_INTEGER_FORMAT "); use a newer crier\n", store, version,
                latest);
        return 1;
    }
    if (json_array_size(pending) == 0) {
        printf("store %s: schema version %" JSON_INTEGER_FORMAT
               " of %" JSON_INTEGER_FORMAT "; up to date\n", store, version,
               latest);
        return 0;
    }
    printf("store %s: schema version %" JSON_INTEGER_FORMAT " of %"
           JSON_INTEGER_FORMAT "; %zu migration%s pending:\n", store,
           version, latest, json_array_size(pending),
           json_array_size(pending) == 1 ? "" : "s");
    json_array_foreach(pending, i, step)
        printf("  %" JSON_INTEGER_FORMAT "  %s\n",
               json_integer_value(json_object_get(step, "version")),
               json_string_value(json_object_get(step, "title")));
    return MIGRATE_EXIT_PENDING;
}


int
migrate_status_command(void)
{
    struct migrate_run run = { 0, NULL };
    json_t *request = json_object();
    const char *cause;
    int rc;

    if (!store_has_schema_status()) {
        fprintf(stderr, "crier: the store plugin \"%s\" does not implement "
                "schema_status\n", server.store->desc->name);
        return 1;
    }
    server.loop = uv_default_loop();
    rc = server.store_ops->schema_status(server.store->state, request,
                                         on_status_read, &run);
    json_decref(request);
    if (rc == 0) {
        uv_run(server.loop, UV_RUN_DEFAULT);
        rc = run.status;
    }
    uv_loop_close(server.loop);
    if (rc == CRIER_ECLOSED) {
        fprintf(stderr, "crier: the %s store reports its schema only once "
                "started; run crier migrate, which applies the pending "
                "migrations and reports them\n", server.store->desc->name);
        return 1;
    }
    if (rc != 0) {
        cause = json_string_value(json_object_get(run.result, "error"));
        fprintf(stderr, "crier: cannot read the schema version: %s%s%s\n",
                crier_strerror(rc), cause != NULL ? ": " : "",
                cause != NULL ? cause : "");
        json_decref(run.result);
        return 1;
    }
    rc = status_print(run.result);
    json_decref(run.result);
    return rc;
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
