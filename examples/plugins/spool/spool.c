/*
 * spool: a trigger that takes events from files dropped into a folder,
 * for systems that export in batches rather than call an API.
 *
 * Every `interval_ms` it looks for files named *.ndjson in `dir`, oldest
 * name first, each holding one event per line in the form of
 * docs/events.md (at most 1000 events a file). It hands a file's events
 * to crier as one batch and, once they are committed, renames the file
 * to *.ndjson.done. A file with an invalid line is renamed to
 * *.ndjson.rejected and the log names its line. Write a file under
 * another name and rename it to *.ndjson when complete, so that a half
 * written file is never read. Give each event an `id`: if crier stops
 * between the commit and the rename, the file is read again and its
 * events count as duplicates.
 *
 * Config:
 *   triggers: { exports: { plugin = "spool"; dir = "var/spool";
 *                          interval_ms = 1000; }; };
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crier/crier.h>

#define SPOOL_SUFFIX ".ndjson"
#define SPOOL_MAX_EVENTS 1000

struct spool {
    struct crier_ctx *ctx;
    const struct crier_host *host;
    char *dir;
    long interval_ms;
    uv_timer_t timer;
    char *file;                 /* the file whose batch is in flight */
    crier_stop_cb stop_done;    /* set while stopping */
    void *stop_arg;
};


static int
spool_config(struct spool *s, const json_t *config)
{
    const char *key;
    json_t *value;
    json_t *dir = json_object_get(config, "dir");
    json_t *interval = json_object_get(config, "interval_ms");

    json_object_foreach((json_t *) config, key, value) {
        if (strcmp(key, "plugin") != 0 && strcmp(key, "dir") != 0 &&
            strcmp(key, "interval_ms") != 0) {
            s->host->config_error(s->ctx, key, "unknown setting; the spool "
                                  "trigger takes dir and interval_ms");
            return CRIER_ECONFIG;
        }
    }
    if (!json_is_string(dir) || json_string_length(dir) == 0) {
        s->host->config_error(s->ctx, "dir", "missing; name the folder "
                              "that *.ndjson files are dropped into");
        return CRIER_ECONFIG;
    }
    s->interval_ms = 1000;
    if (interval != NULL) {
        if (!json_is_integer(interval) ||
            json_integer_value(interval) < 10 ||
            json_integer_value(interval) > 3600000) {
            s->host->config_error(s->ctx, "interval_ms", "must be a whole "
                                  "number of milliseconds from 10 to "
                                  "3600000");
            return CRIER_ECONFIG;
        }
        s->interval_ms = (long) json_integer_value(interval);
    }
    s->dir = s->host->resolve_path(s->ctx, json_string_value(dir));
    return s->dir != NULL ? 0 : CRIER_ENOMEM;
}


static int
spool_init(struct crier_ctx *ctx, const struct crier_host *host,
           const json_t *config, void **state)
{
    struct spool *s = calloc(1, sizeof(*s));
    int rc;

    if (s == NULL)
        return CRIER_ENOMEM;
    s->ctx = ctx;
    s->host = host;
    rc = spool_config(s, config);
    if (rc != 0) {
        free(s->dir);
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}


/* Renames the file in flight to itself plus `suffix` and clears it. */
static void
spool_file_retire(struct spool *s, const char *suffix)
{
    size_t len = strlen(s->file) + strlen(suffix) + 1;
    char *to = malloc(len);

    if (to != NULL) {
        snprintf(to, len, "%s%s", s->file, suffix);
        if (rename(s->file, to) != 0)
            s->host->log(s->ctx, CRIER_LOG_ERROR, "file could not be renamed",
                         "file=%s error=\"%s\"", s->file, strerror(errno));
    }
    free(to);
    free(s->file);
    s->file = NULL;
}


/* Returns the path of the first *.ndjson file by name, or NULL. */
static char *
spool_next_file(struct spool *s)
{
    DIR *dir = opendir(s->dir);
    struct dirent *e;
    char *first = NULL;
    char *path;
    size_t len;

    if (dir == NULL) {
        s->host->log(s->ctx, CRIER_LOG_WARN, "spool folder unreadable",
                     "dir=%s error=\"%s\"", s->dir, strerror(errno));
        return NULL;
    }
    while ((e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);

        if (n <= strlen(SPOOL_SUFFIX) ||
            strcmp(e->d_name + n - strlen(SPOOL_SUFFIX), SPOOL_SUFFIX) != 0)
            continue;
        if (first == NULL || strcmp(e->d_name, first) < 0) {
            free(first);
            first = strdup(e->d_name);
        }
    }
    closedir(dir);
    if (first == NULL)
        return NULL;
    len = strlen(s->dir) + strlen(first) + 2;
    path = malloc(len);
    if (path != NULL)
        snprintf(path, len, "%s/%s", s->dir, first);
    free(first);
    return path;
}


/*
 * Reads one event a line into an array. Blank lines are skipped. On an
 * error returns NULL with the 1-based line in *bad_line and the reason
 * in `why`.
 */
static json_t *
spool_read(FILE *f, long *bad_line, char *why, size_t size)
{
    json_t *events = json_array();
    char *line = NULL;
    size_t cap = 0;
    long number = 0;

    while (events != NULL && getline(&line, &cap, f) != -1) {
        json_error_t error;
        json_t *event;

        number++;
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        event = json_loads(line, 0, &error);
        if (event == NULL || json_array_size(events) == SPOOL_MAX_EVENTS) {
            snprintf(why, size, "%s", event == NULL ? error.text
                     : "more than 1000 events; split the file");
            json_decref(event);
            json_decref(events);
            events = NULL;
            *bad_line = number;
            break;
        }
        json_array_append_new(events, event);
    }
    free(line);
    return events;
}


static void spool_schedule(struct spool *s);


/* Returns the line of the `index`th event, counting non-blank lines. */
static long
spool_line_of(const char *file, long index)
{
    FILE *f = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0;
    long number = 0;
    long seen = -1;

    while (f != NULL && seen < index && getline(&line, &cap, f) != -1) {
        number++;
        if (strspn(line, " \t\r\n") != strlen(line))
            seen++;
    }
    free(line);
    if (f != NULL)
        fclose(f);
    return number;
}


/* Retires the file of a committed batch. A failed batch leaves its file
 * for the next scan. */
static void
on_committed(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct spool *s = arg;

    if (status == 0) {
        s->host->log(s->ctx, CRIER_LOG_INFO, "file stored",
                     "file=%s accepted=%zu duplicates=%zu", s->file,
                     accepted, duplicates);
        spool_file_retire(s, ".done");
    } else {
        s->host->log(s->ctx, CRIER_LOG_WARN, "file not stored; will retry",
                     "file=%s error=%s", s->file, crier_errname(status));
        free(s->file);
        s->file = NULL;
    }
    if (s->stop_done != NULL) {
        crier_stop_cb done = s->stop_done;

        s->stop_done = NULL;
        uv_close((uv_handle_t *) &s->timer, NULL);
        done(s->stop_arg);
        return;
    }
    spool_schedule(s);
}


/* Hands the file's events to crier. Returns 0 once a batch is in flight. */
static int
spool_emit(struct spool *s, json_t *events)
{
    struct crier_input_error err;
    int rc = s->host->emit(s->ctx, events, &err, on_committed, s);

    if (rc == CRIER_EINVAL) {
        s->host->log(s->ctx, CRIER_LOG_ERROR, "file rejected",
                     "file=%s line=%ld field=%s error=\"%s\"", s->file,
                     spool_line_of(s->file, err.index < 0 ? 0 : err.index),
                     err.field, err.message);
        spool_file_retire(s, ".rejected");
    } else if (rc != 0) {
        s->host->log(s->ctx, CRIER_LOG_WARN, "file not stored; will retry",
                     "file=%s error=%s", s->file, crier_errname(rc));
        free(s->file);
        s->file = NULL;
    }
    return rc;
}


/* Takes the next file, if any, and emits its events. */
static void
on_tick(uv_timer_t *timer)
{
    struct spool *s = timer->data;
    char why[160];
    long bad_line = 0;
    json_t *events;
    FILE *f;

    s->file = spool_next_file(s);
    if (s->file == NULL) {
        spool_schedule(s);
        return;
    }
    f = fopen(s->file, "r");
    events = f != NULL ? spool_read(f, &bad_line, why, sizeof(why)) : NULL;
    if (f == NULL) {
        s->host->log(s->ctx, CRIER_LOG_ERROR, "file could not be opened",
                     "file=%s error=\"%s\"", s->file, strerror(errno));
        spool_file_retire(s, ".rejected");
    } else if (events == NULL) {
        s->host->log(s->ctx, CRIER_LOG_ERROR, "file rejected",
                     "file=%s line=%ld error=\"%s\"", s->file, bad_line,
                     why);
        spool_file_retire(s, ".rejected");
    }
    if (f != NULL)
        fclose(f);
    if (events != NULL && json_array_size(events) == 0)
        spool_file_retire(s, ".done");
    else if (events != NULL && spool_emit(s, events) == 0) {
        json_decref(events);
        return;         /* on_committed schedules the next scan */
    }
    json_decref(events);
    spool_schedule(s);
}


static void
spool_schedule(struct spool *s)
{
    uv_timer_start(&s->timer, on_tick, (uint64_t) s->interval_ms, 0);
}


static int
spool_start(void *state)
{
    struct spool *s = state;

    uv_timer_init(s->host->loop(s->ctx), &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_tick, 0, 0);
    return 0;
}


/* Waits for a batch in flight, so its file is renamed, then closes the
 * timer. */
static void
spool_stop(void *state, crier_stop_cb done, void *arg)
{
    struct spool *s = state;

    uv_timer_stop(&s->timer);
    if (s->file != NULL) {
        s->stop_done = done;
        s->stop_arg = arg;
        return;
    }
    uv_close((uv_handle_t *) &s->timer, NULL);
    done(arg);
}


static void
spool_destroy(void *state)
{
    struct spool *s = state;

    free(s->file);
    free(s->dir);
    free(s);
}


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_TRIGGER,
    .name = "spool",
    .version = "1.0.0",
    .summary = "stores events from *.ndjson files dropped into a folder",
    .init = spool_init,
    .start = spool_start,
    .stop = spool_stop,
    .destroy = spool_destroy,
};
