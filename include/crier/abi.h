/*
 * The ABI version of the crier plugin SDK.
 *
 * CRIER_ABI_VERSION changes when a change breaks existing plugins: a field
 * moved or removed, a function whose meaning changed. The core refuses a
 * plugin built against another value. CRIER_ABI_MINOR grows when entries are
 * added at the end of a table; a plugin built against an older minor still
 * loads, and a plugin that needs a newer entry checks host->minor first.
 */
#ifndef CRIER_ABI_H
#define CRIER_ABI_H

#define CRIER_ABI_VERSION 1
#define CRIER_ABI_MINOR   7

#endif
