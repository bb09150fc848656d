/*
 * An LD_PRELOAD shim that makes writes fail with ENOSPC (disk full) on
 * request, for the end-to-end test of a full disk. While the file named
 * by CRIER_ENOSPC_FLAG exists, every write to a file under the folder
 * CRIER_ENOSPC_DIR fails with ENOSPC and writes nothing. Other files,
 * such as the log, are written as usual. Removing the flag file is the
 * disk getting space back.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>


/* Returns 1 when writes to `fd` should fail now. */
static int
disk_full(int fd)
{
    const char *flag = getenv("CRIER_ENOSPC_FLAG");
    const char *dir = getenv("CRIER_ENOSPC_DIR");
    char link[64], path[4096];
    ssize_t n;
    int saved = errno;

    if (flag == NULL || dir == NULL || access(flag, F_OK) != 0) {
        errno = saved;
        return 0;
    }
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    errno = saved;
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return strncmp(path, dir, strlen(dir)) == 0;
}


/* Finds the libc function that a wrapper below replaces. */
static void *
real(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    if (fn == NULL)
        abort();
    return fn;
}


/* Fails with ENOSPC, as a full disk does. */
static ssize_t
full(void)
{
    errno = ENOSPC;
    return -1;
}


ssize_t
write(int fd, const void *buf, size_t count)
{
    static ssize_t (*fn)(int, const void *, size_t);

    if (fn == NULL)
        fn = real("write");
    return count > 0 && disk_full(fd) ? full() : fn(fd, buf, count);
}


ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    static ssize_t (*fn)(int, const void *, size_t, off_t);

    if (fn == NULL)
        fn = real("pwrite");
    return count > 0 && disk_full(fd) ? full() : fn(fd, buf, count, offset);
}


ssize_t
pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
    static ssize_t (*fn)(int, const void *, size_t, off64_t);

    if (fn == NULL)
        fn = real("pwrite64");
    return count > 0 && disk_full(fd) ? full() : fn(fd, buf, count, offset);
}


ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
    static ssize_t (*fn)(int, const struct iovec *, int);

    if (fn == NULL)
        fn = real("writev");
    return iovcnt > 0 && disk_full(fd) ? full() : fn(fd, iov, iovcnt);
}


int
fallocate(int fd, int mode, off_t offset, off_t len)
{
    static int (*fn)(int, int, off_t, off_t);

    if (fn == NULL)
        fn = real("fallocate");
    return disk_full(fd) ? (int) full() : fn(fd, mode, offset, len);
}


int
ftruncate(int fd, off_t length)
{
    static int (*fn)(int, off_t);

    if (fn == NULL)
        fn = real("ftruncate");

    /* Growing a file needs space; shrinking it does not. */
    if (disk_full(fd) && lseek(fd, 0, SEEK_END) < length)
        return (int) full();
    return fn(fd, length);
}
