/*
 * The store's share of a send, without templates or SMTP: the CPU that a
 * store plugin spends per delivered job when it is driven the way the
 * outbox drives it. Each job is claimed straight to `sending`, as the
 * outbox claims a job under no frequency cap, and marked `sent` with its
 * Message-ID and attempt, with at most IN_FLIGHT jobs between claim and
 * `sent`. A store that claims only to `claimed` gets a `sending` mark in
 * between.
 *
 *   bench_store_delivery PLUGIN.so FOLDER [JOBS] [IN_FLIGHT]
 * prints: jobs=... seconds=... cpu_us_per_job=...
 *         writer_cpu_us_per_job=... reader_cpu_us_per_job=...
 * JOBS defaults to 30000 and IN_FLIGHT to 256, as in bench/email. The
 * figures cover the send only, not the planning before it. The writer
 * and the reader are the two threads, other than the loop thread, that
 * used the most CPU during the send, the busier one first.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <crier/store.h>

#include "testhost.h"

#define PLAN_BATCH 1000
#define CLAIM_MAX 256
#define LEASE_MS 300000
#define TIMEOUT_MS (15 * 60 * 1000)
#define THREADS_MAX 64

struct bench {
    struct testhost th;
    const struct crier_store_ops *ops;
    void *store;
    int64_t jobs;
    int64_t in_flight_max;

    int64_t in_flight;
    int64_t sent;
    int claiming;
    int failed;
    int finished;
};

/* One thread's CPU time, read from /proc/self/task. */
struct thread_cpu {
    long tid;
    double seconds;
};


static void
bench_fail(struct bench *b, const char *what, int status)
{
    fprintf(stderr, "bench_store_delivery: %s failed: %s\n", what,
            crier_strerror(status));
    b->failed = 1;
    b->finished = 1;
}


/* Reads the CPU time of each thread of this process. Returns the count. */
static size_t
threads_read(struct thread_cpu *threads, size_t max)
{
    long ticks = sysconf(_SC_CLK_TCK);
    DIR *dir = opendir("/proc/self/task");
    struct dirent *entry;
    size_t n = 0;

    while (dir != NULL && n < max && (entry = readdir(dir)) != NULL) {
        char path[300];
        char line[1024];
        unsigned long user;
        unsigned long system;
        char *end;
        FILE *file;

        if (entry->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat",
                 entry->d_name);
        file = fopen(path, "r");
        if (file == NULL)
            continue;
        end = fgets(line, sizeof(line), file);
        fclose(file);
        /* The fields after the command name, which may hold spaces,
         * start after its closing parenthesis, and utime and stime are
         * fields 14 and 15. */
        if (end == NULL || (end = strrchr(line, ')')) == NULL
            || sscanf(end + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u"
                      " %*u %lu %lu", &user, &system) != 2)
            continue;
        threads[n].tid = atol(entry->d_name);
        threads[n].seconds = (double)(user + system) / (double)ticks;
        n++;
    }
    if (dir != NULL)
        closedir(dir);
    return n;
}


static double
process_cpu_seconds(void)
{
    struct rusage usage;

    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
           + (double)usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}


static double
monotonic_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


/* Writes a Message-ID that, like the outbox's, starts with the job id in
 * 12 hex digits and goes on with digits that look random. */
static void
message_id_make(int64_t id, char *buf, size_t size)
{
    uint64_t x = (uint64_t)id + UINT64_C(0x9e3779b97f4a7c15);

    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    snprintf(buf, size, "<%012" PRIx64 "%.20" PRIx64 "@bench.example>",
             (uint64_t)id, x);
}


static void
plan_done(void *arg, int status, json_t *result)
{
    struct bench *b = arg;

    (void)result;
    if (status < 0)
        bench_fail(b, "commit", status);
    b->finished = 1;
}


/* Plans every job, due at the test clock's start, PLAN_BATCH per
 * commit. */
static int
jobs_plan(struct bench *b)
{
    for (int64_t first = 0; first < b->jobs; first += PLAN_BATCH) {
        json_t *jobs = json_array();
        json_t *batch;
        int rc;

        for (int64_t i = first; i < first + PLAN_BATCH && i < b->jobs;
             i++) {
            char key[64];
            char profile[32];
            char to[64];

            snprintf(key, sizeof(key), "rule:notice/p_%" PRId64 "/1", i);
            snprintf(profile, sizeof(profile), "p_%" PRId64, i);
            snprintf(to, sizeof(to), "r%" PRId64 "@example.gov", i);
            json_array_append_new(jobs, json_pack(
                "{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "key", key,
                "rule", "notice", "profile", profile, "channel", "email",
                "template", "notice", "to", to,
                "due", (json_int_t)TESTHOST_EPOCH_MS));
        }
        batch = json_pack("{s:o}", "jobs", jobs);
        b->finished = 0;
        rc = b->ops->commit(b->store, batch, plan_done, b);
        json_decref(batch);
        if (rc < 0 || testhost_run_until(&b->th, &b->finished, TIMEOUT_MS)
                      < 0 || b->failed)
            return -1;
    }
    return 0;
}


static void claim_next(struct bench *b);


static void
sent_done(void *arg, int status, json_t *result)
{
    struct bench *b = arg;

    (void)result;
    if (status < 0) {
        bench_fail(b, "job_update (sent)", status);
        return;
    }
    b->in_flight--;
    b->sent++;
    if (b->sent == b->jobs)
        b->finished = 1;
    else
        claim_next(b);
}


/* A job between its `sending` mark and its `sent` mark. */
struct sending {
    struct bench *b;
    int64_t id;
    int64_t generation;
};


/* Marks the job `sent` with its Message-ID and attempt, as the outbox
 * does once the server has accepted the message. */
static void
sent_mark(struct bench *b, int64_t id, int64_t generation)
{
    int64_t now = b->th.now_ms;
    char message_id[64];
    json_t *update;

    message_id_make(id, message_id, sizeof(message_id));
    update = json_pack("{s:I, s:I, s:s, s:I, s:s, s:s, s:{s:I, s:s, s:s}}",
                       "id", (json_int_t)id, "generation",
                       (json_int_t)generation, "state", "sent", "now",
                       (json_int_t)now, "message_id", message_id,
                       "provider_id", "queued as 1", "attempt", "time",
                       (json_int_t)now, "outcome", "sent", "reply",
                       "250 2.0.0 Ok: queued as 1");
    if (b->ops->job_update(b->store, update, sent_done, b) < 0)
        bench_fail(b, "job_update (sent)", CRIER_EIO);
    json_decref(update);
}


static void
sending_done(void *arg, int status, json_t *result)
{
    struct sending *s = arg;

    (void)result;
    if (status < 0)
        bench_fail(s->b, "job_update (sending)", status);
    else
        sent_mark(s->b, s->id, s->generation);
    free(s);
}


/* Marks a claimed job `sending`, with its Message-ID and lease, unless its
 * claim did. */
static void
job_send(struct bench *b, const json_t *job)
{
    struct sending *s = malloc(sizeof(*s));
    char message_id[64];
    json_t *update;

    s->b = b;
    s->id = json_integer_value(json_object_get(job, "id"));
    s->generation = json_integer_value(json_object_get(job, "generation"));
    if (strcmp(json_string_value(json_object_get(job, "state")),
               "sending") == 0) {
        sent_mark(b, s->id, s->generation);
        free(s);
        return;
    }
    message_id_make(s->id, message_id, sizeof(message_id));
    update = json_pack("{s:I, s:I, s:s, s:I, s:s, s:I}", "id",
                       (json_int_t)s->id, "generation",
                       (json_int_t)s->generation, "state", "sending",
                       "now", (json_int_t)b->th.now_ms, "message_id",
                       message_id, "lease_ms", (json_int_t)LEASE_MS);
    if (b->ops->job_update(b->store, update, sending_done, s) < 0) {
        free(s);
        bench_fail(b, "job_update (sending)", CRIER_EIO);
    }
    json_decref(update);
}


static void
claim_done(void *arg, int status, json_t *result)
{
    struct bench *b = arg;
    json_t *jobs = json_object_get(result, "jobs");
    json_t *job;
    size_t i;

    b->claiming = 0;
    if (status < 0) {
        bench_fail(b, "jobs_claim", status);
        return;
    }
    json_array_foreach(jobs, i, job) {
        b->in_flight++;
        job_send(b, job);
    }
    claim_next(b);
}


/* Claims as many jobs as there is room for, unless a claim is running
 * or every job has been claimed. */
static void
claim_next(struct bench *b)
{
    int64_t room = b->in_flight_max - b->in_flight;
    json_t *request;

    if (b->claiming || room <= 0 || b->sent + b->in_flight >= b->jobs)
        return;
    if (room > CLAIM_MAX)
        room = CLAIM_MAX;
    request = json_pack("{s:I, s:I, s:I, s:s, s:{s:[i, i, i]}}", "now",
                        (json_int_t)b->th.now_ms, "limit", (json_int_t)room,
                        "lease_ms", (json_int_t)LEASE_MS, "owner", "bench",
                        "send_now", "email", 0, 1, 2);
    b->claiming = 1;
    if (b->ops->jobs_claim(b->store, request, claim_done, b) < 0) {
        b->claiming = 0;
        bench_fail(b, "jobs_claim", CRIER_EIO);
    }
    json_decref(request);
}


/* Returns the index of the thread with the largest CPU delta, other than
 * `skip` and the loop thread, or -1. */
static int
thread_busiest(const struct thread_cpu *before, size_t n_before,
               const struct thread_cpu *after, size_t n_after,
               double *delta, int skip)
{
    long self = (long)getpid();
    int best = -1;

    *delta = 0;
    for (size_t i = 0; i < n_after; i++) {
        double was = 0;

        if (after[i].tid == self || (int)i == skip)
            continue;
        for (size_t j = 0; j < n_before; j++)
            if (before[j].tid == after[i].tid)
                was = before[j].seconds;
        if (best < 0 || after[i].seconds - was > *delta) {
            best = (int)i;
            *delta = after[i].seconds - was;
        }
    }
    return best;
}


/* Sends every planned job and prints the figures. */
static int
jobs_send(struct bench *b)
{
    struct thread_cpu before[THREADS_MAX];
    struct thread_cpu after[THREADS_MAX];
    size_t n_before = threads_read(before, THREADS_MAX);
    double cpu = process_cpu_seconds();
    double elapsed = monotonic_seconds();
    size_t n_after;
    double writer;
    double reader;
    int busiest;

    b->finished = 0;
    testhost_clock_advance(&b->th, 1000);
    claim_next(b);
    if (testhost_run_until(&b->th, &b->finished, TIMEOUT_MS) < 0
        || b->failed)
        return -1;
    elapsed = monotonic_seconds() - elapsed;
    cpu = process_cpu_seconds() - cpu;
    n_after = threads_read(after, THREADS_MAX);
    busiest = thread_busiest(before, n_before, after, n_after, &writer, -1);
    thread_busiest(before, n_before, after, n_after, &reader, busiest);
    printf("jobs=%" PRId64 " seconds=%.2f cpu_us_per_job=%.1f"
           " writer_cpu_us_per_job=%.1f reader_cpu_us_per_job=%.1f\n",
           b->jobs, elapsed, 1e6 * cpu / (double)b->jobs,
           1e6 * writer / (double)b->jobs, 1e6 * reader / (double)b->jobs);
    return 0;
}


static void
stop_done(void *arg)
{
    *(int *)arg = 1;
}


int
main(int argc, char **argv)
{
    struct testhost_plugin plugin;
    struct bench b = { 0 };
    char error[512];
    json_t *config;
    int stopped = 0;
    int rc;

    if (argc < 3) {
        fprintf(stderr, "usage: bench_store_delivery PLUGIN.so FOLDER"
                " [JOBS] [IN_FLIGHT]\n");
        return 2;
    }
    b.jobs = argc > 3 ? atoll(argv[3]) : 30000;
    b.in_flight_max = argc > 4 ? atoll(argv[4]) : 256;
    if (b.jobs < 1 || b.in_flight_max < 1) {
        fprintf(stderr, "bench_store_delivery: JOBS and IN_FLIGHT must be"
                " positive integers\n");
        return 2;
    }
    if (testhost_plugin_open(argv[1], &plugin, error, sizeof(error)) < 0
        || plugin.plugin->kind != CRIER_PLUGIN_STORE) {
        fprintf(stderr, "bench_store_delivery: %s\n",
                error[0] != '\0' ? error : "not a store plugin");
        return 1;
    }
    if (testhost_init(&b.th, "store", argv[2]) != 0)
        return 1;
    b.th.log_level = CRIER_LOG_WARN;
    b.ops = plugin.plugin->ops;
    config = json_pack("{s:s, s:s}", "plugin", plugin.plugin->name, "path",
                       "bench.db");
    rc = plugin.plugin->init(testhost_ctx(&b.th), &b.th.host, config,
                             &b.store);
    json_decref(config);
    if (rc == 0)
        rc = plugin.plugin->start(b.store);
    if (rc < 0) {
        fprintf(stderr, "bench_store_delivery: the store did not start:"
                " %s\n", crier_strerror(rc));
        return 1;
    }
    rc = jobs_plan(&b);
    if (rc == 0)
        rc = jobs_send(&b);
    plugin.plugin->stop(b.store, stop_done, &stopped);
    testhost_run_until(&b.th, &stopped, TIMEOUT_MS);
    plugin.plugin->destroy(b.store);
    testhost_close(&b.th);
    return rc < 0 ? 1 : 0;
}
