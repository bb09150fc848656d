/* `crier profiles import FILE.csv`: the import without the HTTP server. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "base/log.h"
#include "import/import.h"
#include "pipeline/pipeline.h"
#include "server/server.h"

/* Hex digits of the file's SHA-256 that make the import id, as for
 * POST /v1/imports. */
#define FILE_ID_HEX 32

struct file_import {
    const char *path;
    FILE *file;
    char id[FILE_ID_HEX + 1];
    int status;
    json_t *summary;            /* the result, or NULL */
    char *error;
};


static long
file_read(void *arg, char *buf, size_t cap)
{
    struct file_import *fi = arg;
    size_t n = fread(buf, 1, cap, fi->file);

    if (n == 0 && ferror(fi->file))
        return CRIER_EIO;
    return (long) n;
}


/* Reads the whole file once for its digest, then rewinds it. */
static int
file_digest(struct file_import *fi)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    char buf[64 * 1024];
    size_t n;

    while ((n = fread(buf, 1, sizeof(buf), fi->file)) > 0)
        g_checksum_update(sum, (const guchar *) buf, n);
    snprintf(fi->id, sizeof(fi->id), "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
    if (ferror(fi->file))
        return -1;
    rewind(fi->file);
    return 0;
}


static void
on_done(void *arg, int status, const json_t *summary, const char *error,
        const char *field)
{
    struct file_import *fi = arg;

    fi->status = status;
    if (status == 0)
        fi->summary = json_deep_copy(summary);
    else
        fi->error = field ? g_strdup_printf("%s: %s", field, error)
                          : g_strdup(error);
    /* The import's batches are committed. The segment events they
     * stored wait in the event log for the server's pipeline, as events
     * from any trigger do. Stopping lets a pipeline batch under way
     * finish. */
    server_stop_offline();
}


static void
on_started(void *arg)
{
    struct file_import *fi = arg;
    int rc;

    log_notice("importing profiles", "file=%s import=%s", fi->path, fi->id);
    rc = import_start(fi->id, file_read, fi, on_done, fi);
    if (rc != 0) {
        fi->status = rc;
        fi->error = g_strdup_printf("the import could not start: %s",
                                    crier_strerror(rc));
        server_stop_offline();
    }
}


static int
report(struct file_import *fi, int rc)
{
    if (rc == CRIER_EBUSY) {
        fprintf(stderr, "crier: the database is in use by another crier "
                "process, such as a running server; stop it, or send the "
                "file to that server with POST /v1/imports\n");
        return IMPORT_EXIT_NOT_RUN;
    }
    if (rc != 0) {
        fprintf(stderr, "crier: the store could not start: %s\n",
                crier_strerror(rc));
        return IMPORT_EXIT_NOT_RUN;
    }
    if (fi->status != 0) {
        fprintf(stderr, "crier: %s: %s\n", fi->path, fi->error);
        return fi->status == CRIER_EINVAL ? IMPORT_EXIT_NOT_RUN
                                          : IMPORT_EXIT_FAILED;
    }
    json_dumpf(fi->summary, stdout, JSON_INDENT(2));
    putchar('\n');
    return 0;
}


/*
 * Turns off glibc's fastbins for this process. An import makes and frees
 * millions of small JSON values, and glibc merges its fastbins
 * (malloc_consolidate) before it serves a large block, such as a batch's
 * arrays and hash tables. That took about 9% of the import's CPU time in
 * perf, and the import used about 13% less CPU time without fastbins
 * (200,000 rows of bench/profiles, three runs each). Small blocks still
 * go through glibc's per-thread cache.
 */
static void
malloc_tune(void)
{
#ifdef M_MXFAST
    mallopt(M_MXFAST, 0);
#endif
}


int
import_file_command(const char *path)
{
    struct file_import fi = { .path = path };
    int rc;

    malloc_tune();
    fi.file = fopen(path, "rb");
    if (fi.file == NULL || file_digest(&fi) != 0) {
        fprintf(stderr, "crier: cannot read %s: %s\n", path,
                strerror(errno));
        if (fi.file != NULL)
            fclose(fi.file);
        return IMPORT_EXIT_NOT_RUN;
    }
    rc = server_run_offline(on_started, &fi);
    rc = report(&fi, rc);
    fclose(fi.file);
    json_decref(fi.summary);
    g_free(fi.error);
    return rc;
}
