/* The allocator name of a build without jemalloc (allocator.c). */
#include "allocator.h"


const char *
allocator_name(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return "AddressSanitizer's malloc";
#else
    return "the C library's malloc";
#endif
}
