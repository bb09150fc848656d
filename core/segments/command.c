/* `crier segments [NAME]`: segment counts and members, offline. */
#include "segments/segments.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "server/server.h"

#define MEMBERS_PAGE 1000

/* The state of one command run. For the list, `next` is the index of the
 * segment whose count is read next and `counts` contains the counts read. */
struct segments_run {
    const struct segment *segment;  /* NULL for the list of segments */
    guint next;
    GArray *counts;                 /* json_int_t, in config order */
    int status;                     /* the first store error, or 0 */
    const char *op;                 /* the store operation that failed */
};


/* Returns 1 when the store's ops table is large enough to have
 * `segment_count` and `segment_members` and sets both. */
static int
store_has_segment_ops(void)
{
    const struct crier_store_ops *ops = server.store_ops;

    return ops != NULL &&
           ops->size >= offsetof(struct crier_store_ops, segment_members) +
                        sizeof(ops->segment_members) &&
           ops->segment_count != NULL && ops->segment_members != NULL;
}


static void
run_fail(struct segments_run *run, const char *op, int status)
{
    run->status = status;
    run->op = op;
    server_stop_offline();
}


static void count_next(struct segments_run *run);


static void
on_count(void *arg, int status, json_t *result)
{
    struct segments_run *run = arg;
    json_int_t count;

    if (status < 0) {
        run_fail(run, "segment_count", status);
        return;
    }
    count = json_integer_value(json_object_get(result, "count"));
    g_array_append_val(run->counts, count);
    count_next(run);
}


static void
count_next(struct segments_run *run)
{
    const struct segment *s;
    json_t *request;
    int rc;

    if (run->next >= server.segments->segments->len) {
        server_stop_offline();
        return;
    }
    s = g_ptr_array_index(server.segments->segments, run->next++);
    request = json_pack("{s:s}", "segment", s->name);
    rc = server.store_ops->segment_count(server.store->state, request,
                                         on_count, run);
    json_decref(request);
    if (rc < 0)
        run_fail(run, "segment_count", rc);
}


static void members_next(struct segments_run *run, const char *after);


/* Prints the ids of a page of members and requests the next page. */
static void
on_members(void *arg, int status, json_t *result)
{
    struct segments_run *run = arg;
    json_t *next = json_object_get(result, "next");
    size_t i;
    json_t *member;

    if (status < 0) {
        run_fail(run, "segment_members", status);
        return;
    }
    json_array_foreach(json_object_get(result, "members"), i, member)
        printf("%s\n", json_string_value(json_object_get(member,
                                                         "profile")));
    if (json_is_string(next))
        members_next(run, json_string_value(next));
    else
        server_stop_offline();
}


static void
members_next(struct segments_run *run, const char *after)
{
    json_t *request = json_pack("{s:s,s:i}", "segment", run->segment->name,
                                "limit", MEMBERS_PAGE);
    int rc;

    if (after != NULL)
        json_object_set_new(request, "after", json_string(after));
    rc = server.store_ops->segment_members(server.store->state, request,
                                           on_members, run);
    json_decref(request);
    if (rc < 0)
        run_fail(run, "segment_members", rc);
}


static void
on_started(void *arg)
{
    struct segments_run *run = arg;

    if (run->segment != NULL)
        members_next(run, NULL);
    else
        count_next(run);
}


/* Appends `source` to `out` on one line: each run of white space that
 * contains a line break becomes one space. */
static void
append_one_line(GString *out, const char *source)
{
    for (const char *p = source; *p != '\0'; p++) {
        size_t blank = strspn(p, " \t\r\n");

        if (blank > 0 && memchr(p, '\n', blank) != NULL) {
            g_string_append_c(out, ' ');
            p += blank - 1;
        } else {
            g_string_append_c(out, *p);
        }
    }
}


/* Prints the segments as a table: name, member count and `when`. */
static void
print_table(const struct segments_run *run)
{
    const GPtrArray *segments = server.segments->segments;
    int name_width = (int) strlen("NAME");
    int count_width = (int) strlen("MEMBERS");
    GString *when = g_string_new(NULL);
    char digits[32];

    for (guint i = 0; i < segments->len; i++) {
        const struct segment *s = g_ptr_array_index(segments, i);
        int len;

        name_width = MAX(name_width, (int) strlen(s->name));
        len = snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT,
                       g_array_index(run->counts, json_int_t, i));
        count_width = MAX(count_width, len);
    }
    printf("%-*s  %*s  %s\n", name_width, "NAME", count_width, "MEMBERS",
           "WHEN");
    for (guint i = 0; i < segments->len; i++) {
        const struct segment *s = g_ptr_array_index(segments, i);

        g_string_truncate(when, 0);
        append_one_line(when, s->source);
        snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT,
                 g_array_index(run->counts, json_int_t, i));
        printf("%-*s  %*s  %s\n", name_width, s->name, count_width, digits,
               when->str);
    }
    g_string_free(when, TRUE);
}


/* Prints why the run failed and returns its exit code. */
static int
report_failure(const struct segments_run *run, int rc)
{
    if (rc == CRIER_EBUSY) {
        fprintf(stderr, "crier: the database is in use by another crier "
                "process, such as a running server; stop it, or read the "
                "segments from that server with GET /v1/segments\n");
        return SEGMENTS_EXIT_NOT_RUN;
    }
    if (rc != 0) {
        fprintf(stderr, "crier: the store could not start: %s\n",
                crier_strerror(rc));
        return SEGMENTS_EXIT_NOT_RUN;
    }
    fprintf(stderr, "crier: the store failed to read: %s: %s\n", run->op,
            crier_strerror(run->status));
    return SEGMENTS_EXIT_FAILED;
}


int
segments_command(const char *name)
{
    struct segments_run run = { 0 };
    int rc;

    if (name != NULL) {
        run.segment = segment_set_find(server.segments, name);
        if (run.segment == NULL) {
            fprintf(stderr, "crier: segment not found: %s; run `crier "
                    "segments` to list the configured segments\n", name);
            return SEGMENTS_EXIT_NOT_RUN;
        }
    } else if (server.segments == NULL ||
               server.segments->segments->len == 0) {
        fprintf(stderr, "crier: no segments are configured; add them "
                "under `segments` in the config\n");
        return 0;
    }
    if (!store_has_segment_ops()) {
        fprintf(stderr, "crier: the store plugin \"%s\" does not implement "
                "segment_count and segment_members\n",
                server.store->desc->name);
        return SEGMENTS_EXIT_NOT_RUN;
    }
    run.counts = g_array_new(FALSE, FALSE, sizeof(json_int_t));
    rc = server_run_offline(on_started, &run);
    if (rc != 0 || run.status != 0)
        rc = report_failure(&run, rc);
    else if (run.segment == NULL)
        print_table(&run);
    g_array_free(run.counts, TRUE);
    return rc;
}
