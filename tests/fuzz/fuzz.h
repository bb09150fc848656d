/*
 * The entry point every fuzz target defines. libFuzzer calls it with each
 * generated input; replay.c calls it with the files of a corpus when the
 * target is built without libFuzzer.
 */
#ifndef CRIER_FUZZ_H
#define CRIER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns a NUL-terminated copy of `data`; free it with free(). */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
