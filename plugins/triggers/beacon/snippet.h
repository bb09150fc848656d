/* The JavaScript snippet that GET /crier.js serves. */
#ifndef CRIER_BEACON_SNIPPET_H
#define CRIER_BEACON_SNIPPET_H

#include <stddef.h>

extern const char beacon_snippet[];
extern const size_t beacon_snippet_len;

#endif
