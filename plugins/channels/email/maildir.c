/*
 * Delivery into a Maildir outbox: the message is written to tmp/, made
 * durable with fsync, then renamed into new/ and the folder synced. The
 * file name comes from the Message-ID, so a resend after a crash replaces
 * the first copy instead of adding a second one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "email.h"

#define FOLDER_MODE 0750
#define FILE_MODE 0640

/* File names stay well below NAME_MAX (255) on every common filesystem. */
#define FILE_NAME_MAX 200

struct maildir_write {
    uv_work_t work;
    struct email_delivery *delivery;
    char name[FILE_NAME_MAX + 1];
    const char *step;         /* the step that failed, or NULL */
    char path[4096];          /* the file or folder that step used */
    int error;                /* errno of that step */
    char detail[4200];
};


int
maildir_prepare(const char *outbox)
{
    static const char *const folders[] = { "tmp", "new", "cur" };
    char path[4096];

    if (g_mkdir_with_parents(outbox, FOLDER_MODE) != 0)
        return CRIER_EIO;
    for (size_t i = 0; i < G_N_ELEMENTS(folders); i++) {
        snprintf(path, sizeof(path), "%s/%s", outbox, folders[i]);
        if (mkdir(path, FOLDER_MODE) != 0 && errno != EEXIST)
            return CRIER_EIO;
    }
    return 0;
}


/*
 * Writes the file name for `message_id` into `buf`: the id without its
 * angle brackets, every byte but letters, digits and "@.+=_-" replaced by
 * '_', and no leading dot. Returns 0, or CRIER_ETOOBIG.
 */
static int
file_name_format(const char *message_id, char *buf, size_t size)
{
    size_t len = strlen(message_id);
    size_t n = 0;

    if (len >= 2 && message_id[0] == '<' && message_id[len - 1] == '>') {
        message_id++;
        len -= 2;
    }
    if (len == 0 || len >= size)
        return CRIER_ETOOBIG;
    for (size_t i = 0; i < len; i++) {
        char c = message_id[i];

        if (!g_ascii_isalnum(c) && strchr("@.+=_-", c) == NULL)
            c = '_';
        buf[n++] = c;
    }
    if (buf[0] == '.')
        buf[0] = '_';
    buf[n] = '\0';
    return 0;
}


static int
write_fail(struct maildir_write *w, const char *step, const char *path)
{
    w->error = errno;
    w->step = step;
    g_strlcpy(w->path, path, sizeof(w->path));
    return -1;
}


static int
write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t) n;
    }
    return 0;
}


static int
folder_sync(struct maildir_write *w, const char *folder)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return write_fail(w, "open", folder);
    if (fsync(fd) != 0) {
        write_fail(w, "fsync", folder);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}


/* Runs on a worker thread: it may block, and must not call the host. It
 * builds the message, then writes it. */
static void
on_work(uv_work_t *req)
{
    struct maildir_write *w = req->data;
    const char *outbox = w->delivery->email->outbox;
    const GString *message;
    char tmp[4096], final[4096], folder[4096];
    int fd;

    if (email_delivery_build(w->delivery) != 0)
        return;
    message = w->delivery->message;

    snprintf(tmp, sizeof(tmp), "%s/tmp/%s", outbox, w->name);
    snprintf(final, sizeof(final), "%s/new/%s", outbox, w->name);
    snprintf(folder, sizeof(folder), "%s/new", outbox);

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (fd < 0 && errno == ENOENT && maildir_prepare(outbox) == 0)
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    if (fd < 0) {
        write_fail(w, "open", tmp);
        return;
    }
    if (write_all(fd, message->str, message->len) != 0) {
        write_fail(w, "write", tmp);
        goto failed;
    }
    if (fsync(fd) != 0) {
        write_fail(w, "fsync", tmp);
        goto failed;
    }
    if (close(fd) != 0) {
        fd = -1;
        write_fail(w, "close", tmp);
        goto failed;
    }
    fd = -1;
    if (rename(tmp, final) != 0 &&
        (errno != ENOENT || maildir_prepare(outbox) != 0 ||
         rename(tmp, final) != 0)) {
        write_fail(w, "rename", final);
        goto failed;
    }
    folder_sync(w, folder);
    return;

failed:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
}


static void
on_written(uv_work_t *req, int status)
{
    struct maildir_write *w = req->data;
    struct email_delivery *d = w->delivery;
    struct email *email = d->email;
    struct crier_send_result r = { .outcome = CRIER_SEND_DONE };

    if (d->build_error != NULL) {
        r.outcome = CRIER_SEND_FAIL;
        r.detail = d->build_error;
        email_delivery_finish(d, &r);
        g_free(w);
        return;
    }
    if (w->step == NULL) {
        r.provider_id = d->msg.message_id;
        email_delivery_finish(d, &r);
        g_free(w);
        return;
    }

    /* Every file system error may pass: a full disk gets space, a wrong
     * owner gets fixed, so the job is retried rather than failed. */
    snprintf(w->detail, sizeof(w->detail), "maildir: %s %s: %s", w->step,
             w->path, g_strerror(w->error));
    email_error_log(email, "message not written to the outbox; it will "
                    "be retried", "step=%s path=\"%s\" error=\"%s\"%s",
                    w->step, w->path, g_strerror(w->error),
                    w->error == EACCES || w->error == EPERM
                    ? " hint=\"check the outbox owner and mode\"" : "");
    r.outcome = CRIER_SEND_RETRY;
    r.detail = w->detail;
    email_delivery_finish(d, &r);
    g_free(w);
}


int
maildir_deliver(struct email_delivery *d)
{
    struct email *email = d->email;
    struct maildir_write *w = g_new0(struct maildir_write, 1);
    int rc;

    if (d->msg.message_id == NULL ||
        file_name_format(d->msg.message_id, w->name, sizeof(w->name)) != 0) {
        struct crier_send_result r = {
            .outcome = CRIER_SEND_FAIL,
            .detail = "Message-ID too long for a file name",
        };

        g_free(w);
        email_delivery_finish(d, &r);
        return 0;
    }
    w->delivery = d;
    w->work.data = w;
    rc = uv_queue_work(email->host->loop(email->ctx), &w->work, on_work,
                       on_written);
    if (rc != 0) {
        g_free(w);
        return CRIER_EIO;
    }
    return 0;
}
