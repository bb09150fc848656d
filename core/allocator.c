/*
 * jemalloc's settings for the crier binary, which links jemalloc instead
 * of using glibc's malloc (CMake option CRIER_JEMALLOC).
 *
 * Why another allocator: the store's threads build each claimed job's
 * JSON, about a hundred small blocks, and the event loop frees them once
 * the message is sent. glibc's free() of a block from another thread's
 * arena takes that arena's lock, which the store's thread holds while it
 * builds the next jobs; in a profile of bench/email, one in six times
 * the loop thread went to sleep, it was waiting for such a lock. jemalloc
 * keeps freed blocks in a cache of the freeing thread and returns them
 * to their arena in batches. bench/email sent about a fifth more emails
 * a second with it (docs/benchmarks.md).
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

/* The name is jemalloc's API: it looks this symbol up in the program. */
const char *malloc_conf = "background_thread:true,max_background_threads:1,"
                          "dirty_decay_ms:100,muzzy_decay_ms:0";
