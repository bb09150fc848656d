/* The allocator that the crier binary was linked with (allocator.c). */
#ifndef CRIER_ALLOCATOR_H
#define CRIER_ALLOCATOR_H

/* Returns the allocator's name and version, for `crier version`. */
const char *allocator_name(void);

#endif
