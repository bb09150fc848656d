/* The allocator name of a build without jemalloc (allocator.c). */
#include "allocator.h"


const char *
allocator_name(void)
{
    return "the C library's malloc";
}
