/*
 * jemalloc's settings for the crier binary, which links jemalloc instead
 * of using glibc's malloc (CMake option CRIER_JEMALLOC).
 *
 * Why another allocator: the store's threads build each claimed job's
 * JSON, about a hundred small blocks, and the event loop frees them once
 * the message is sent. glibc's free() of a block from another thread's
 * arena takes that arena's lock, which the store's thread holds while it
 * builds the next jobs. In a profile of bench/email, about one in six of
 * the loop thread's sleeps was a wait for such a lock. jemalloc keeps
 * freed blocks in a cache of the freeing thread and returns them to
 * their arena in batches. In three runs of bench/email each, crier sent
 * 17% more emails a second with it and used 13% less CPU
 * (docs/benchmarks.md).
 *
 * jemalloc reads this string once, at its first allocation; the
 * MALLOC_CONF environment variable, read after it, can override each
 * setting.
 * - background_thread, max_background_threads: one jemalloc thread
 *   returns unused pages to the kernel, not the thread that happens to
 *   free memory.
 * - dirty_decay_ms: pages stay cached for 100 ms after their last use
 *   instead of 10 s, so a burst (a batch of a thousand events, an
 *   import) leaves the resident size soon after it ends.
 * - muzzy_decay_ms: pages given back are given back at once, without
 *   the lazy MADV_FREE step, so the resident size shows what is in use.
 */

#include <stdio.h>
#include <stddef.h>

#include "allocator.h"

/* jemalloc's control call, declared here rather than through
 * <jemalloc/jemalloc.h>, which would declare malloc() and free() again. */
int mallctl(const char *name, void *old, size_t *old_len, void *new_value,
            size_t new_len);

/* The name is jemalloc's API: it looks this symbol up in the program. */
const char *malloc_conf = "background_thread:true,max_background_threads:1,"
                          "dirty_decay_ms:100,muzzy_decay_ms:0";


const char *
allocator_name(void)
{
    static char name[128];
    const char *version = NULL;
    size_t len = sizeof(version);

    if (name[0] == '\0') {
        if (mallctl("version", &version, &len, NULL, 0) != 0)
            version = "(version unknown)";
        snprintf(name, sizeof(name), "jemalloc %s", version);
    }
    return name;
}
