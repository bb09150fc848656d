/*
 * crier migrate [--status]: opens the configured store, which applies
 * the schema migrations it lacks under the store's own lock (as serve
 * does at start). Then it prints what the store reports through
 * schema_status: the version it found and the version it left. Which
 * migrations exist, and how they are locked, stays inside each store
 * plugin.
 */
#include <stddef.h>
#include <stdio.h>

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
