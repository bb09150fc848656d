/*
 * Upgrade in place by re-execution. The old process:
 *
 *   1. spawns the binary at the path it was started from, with the
 *      listening socket as fd 3 and one end of a socket pair as fd 4
 *      (named by CRIER_LISTEN_FD and CRIER_UPGRADE_FD);
 *   2. keeps serving until the new process writes "ready" on the pair,
 *      which it does once its config and plugins have passed init;
 *   3. drains as on SIGTERM: it closes its copy of the listener (the
 *      kernel keeps queueing connections on the shared socket), answers
 *      every request already read, stops its plugins and closes the
 *      store, then writes "go" and exits.
 *
 * The new process opens the store only after "go" (or end of file, if
 * the old one died), because SQLite takes one writer and the store's
 * lock file refuses a second process. It then starts its plugins and
 * accepts the queued connections. No connection is refused while one
 * process or the other holds the socket, and no event accepted by the
 * old process is lost, because it answers 202 only after the commit.
 */
#include "server/upgrade.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "base/log.h"
#include "http/http.h"
#include "server/server.h"

extern char **environ;

static struct {
    char *exe;                  /* the binary's path at start */
    int running;                /* an upgrade has begun */
    int ready;                  /* the new process reported ready */
    int open_handles;           /* the child and the channel, until closed */
    uv_process_t child;
    uv_pipe_t channel;          /* this process's end of the pair */
    void (*drain)(void);
    char line[16];
    size_t line_len;
} up;


void
upgrade_init(void)
{
    char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

    if (n <= 0)
        return;
    path[n] = '\0';
    g_free(up.exe);
    up.exe = g_strdup(path);
}


/* Ends a failed upgrade once both handles are closed, so that the next
 * one can use them again. */
static void
on_handle_closed(uv_handle_t *h)
{
    if (--up.open_handles == 0 && !up.ready)
        up.running = 0;
}


static void
on_child_exit(uv_process_t *child, int64_t status, int signal)
{
    if (!up.ready)
        log_error("upgrade failed: the new process exited before it was "
                  "ready; crier goes on with the running binary",
                  "pid=%d status=%lld signal=%d", child->pid,
                  (long long) status, signal);
    uv_close((uv_handle_t *) child, on_handle_closed);
}


static void
on_line_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    buf->base = up.line + up.line_len;
    buf->len = sizeof(up.line) - 1 - up.line_len;
}


/* Reads "ready\n" from the new process, then starts draining. */
static void
on_channel_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n < 0) {
        uv_read_stop(s);
        if (!uv_is_closing((uv_handle_t *) s))
            uv_close((uv_handle_t *) s, on_handle_closed);
        return;
    }
    up.line_len += (size_t) n;
    up.line[up.line_len] = '\0';
    if (!up.ready && strstr(up.line, "ready\n") != NULL) {
        up.ready = 1;
        uv_read_stop(s);
        log_notice("upgrade: the new process is ready; draining this one",
                   "pid=%d", up.child.pid);
        up.drain();
    } else if (up.line_len >= sizeof(up.line) - 1) {
        up.line_len = 0;
    }
}


/* Returns environ without our two variables, plus both set anew. */
static char **
child_environment(void)
{
    GPtrArray *env = g_ptr_array_new();

    for (char **e = environ; *e != NULL; e++) {
        if (!g_str_has_prefix(*e, UPGRADE_LISTEN_FD_ENV "=") &&
            !g_str_has_prefix(*e, UPGRADE_CHANNEL_FD_ENV "="))
            g_ptr_array_add(env, *e);
    }
    g_ptr_array_add(env, UPGRADE_LISTEN_FD_ENV "=3");
    g_ptr_array_add(env, UPGRADE_CHANNEL_FD_ENV "=4");
    g_ptr_array_add(env, NULL);
    return (char **) g_ptr_array_free(env, FALSE);
}


/* Spawns the new process with fds 0-2, the listener and `pair_fd`. */
static int
child_spawn(int listen_fd, int pair_fd)
{
    char *args[] = { up.exe, "-c", server.cfg->path, "serve", NULL };
    uv_stdio_container_t stdio[5];
    uv_process_options_t opts;
    char **env = child_environment();
    int rc;

    memset(&opts, 0, sizeof(opts));
    for (int i = 0; i < 3; i++) {
        stdio[i].flags = UV_INHERIT_FD;
        stdio[i].data.fd = i;
    }
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = listen_fd;
    stdio[4].flags = UV_INHERIT_FD;
    stdio[4].data.fd = pair_fd;
    opts.file = up.exe;
    opts.args = args;
    opts.env = env;
    opts.stdio = stdio;
    opts.stdio_count = 5;
    opts.exit_cb = on_child_exit;
    rc = uv_spawn(server.loop, &up.child, &opts);
    g_free(env);
    return rc;
}


int
upgrade_begin(void (*drain)(void))
{
    int listen_fd = http_server_fileno(server.http);
    int pair[2];
    int rc;

    if (up.running || server.stopping || up.exe == NULL || listen_fd < 0)
        return CRIER_EBUSY;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        log_error("upgrade failed: socketpair", "error=\"%s\"",
                  strerror(errno));
        return CRIER_EIO;
    }
    rc = child_spawn(listen_fd, pair[1]);
    close(pair[1]);
    if (rc != 0) {
        close(pair[0]);
        log_error("upgrade failed: the binary could not be started",
                  "path=%s error=\"%s\"", up.exe, uv_strerror(rc));
        return CRIER_EIO;
    }
    uv_unref((uv_handle_t *) &up.child);
    up.open_handles = 2;
    up.running = 1;
    up.ready = 0;
    up.line_len = 0;
    up.drain = drain;
    uv_pipe_init(server.loop, &up.channel, 0);
    uv_pipe_open(&up.channel, pair[0]);
    uv_read_start((uv_stream_t *) &up.channel, on_line_alloc,
                  on_channel_read);
    log_notice("upgrade: new process started", "pid=%d path=%s",
               up.child.pid, up.exe);
    return 0;
}


void
upgrade_cancel(void)
{
    if (!up.running || up.ready || up.open_handles < 2)
        return;
    log_notice("upgrade cancelled: stopping the new process", "pid=%d",
               up.child.pid);
    uv_process_kill(&up.child, SIGTERM);
}


void
upgrade_store_closed(void)
{
    uv_buf_t go = uv_buf_init("go\n", 3);

    if (!up.ready || uv_is_closing((uv_handle_t *) &up.channel))
        return;
    if (uv_try_write((uv_stream_t *) &up.channel, &go, 1) != 3)
        log_warn("upgrade: could not tell the new process to go on; it "
                 "goes on when this process exits", "pid=%d", up.child.pid);
    log_notice("upgrade: store closed; the new process takes over",
               "pid=%d", up.child.pid);
}


/* Returns the descriptor that variable `name` names, or -1. */
static int
env_fd(const char *name)
{
    const char *value = getenv(name);
    char *end;
    long fd;

    if (value == NULL)
        return -1;
    fd = strtol(value, &end, 10);
    return *end == '\0' && fd >= 3 && fd < 1024 ? (int) fd : -1;
}


void
upgrade_take_over(void)
{
    int fd = env_fd(UPGRADE_CHANNEL_FD_ENV);
    char buf[16];
    ssize_t n;

    if (fd < 0)
        return;
    unsetenv(UPGRADE_CHANNEL_FD_ENV);
    /* send, not write: no signal handler is installed yet, and SIGPIPE
     * from a closed pair would end this process. */
    if (send(fd, "ready\n", 6, MSG_NOSIGNAL) != 6) {
        log_warn("upgrade: the old process is gone", "error=\"%s\"",
                 strerror(errno));
        close(fd);
        return;
    }
    log_notice("upgrade: waiting for the old process to close the store",
               "pid=%d", (int) getppid());

    /* "go", or the end of file when the old process has exited. NOTE:
     * there is no time-out, so a stuck old process blocks this one
     * (docs/KNOWN_LIMITS.md, "Configuration"). */
    do {
        n = read(fd, buf, sizeof(buf));
    } while (n > 0 ? memchr(buf, '\n', (size_t) n) == NULL
                   : n < 0 && errno == EINTR);
    close(fd);
}


int
upgrade_listen_fd(void)
{
    int fd = env_fd(UPGRADE_LISTEN_FD_ENV);

    unsetenv(UPGRADE_LISTEN_FD_ENV);
    return fd;
}
