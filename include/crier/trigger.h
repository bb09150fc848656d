/*
 * Trigger plugins turn outside happenings into events.
 *
 * A trigger registers HTTP routes or timers in start and hands events to
 * host->emit. It needs no operation table today; `ops` may be NULL.
 */
#ifndef CRIER_TRIGGER_H
#define CRIER_TRIGGER_H

#include <stdint.h>

/* The operation table of a trigger plugin; it has no entries yet. */
struct crier_trigger_ops {
    uint32_t size;   /* sizeof(struct crier_trigger_ops) in the plugin */
};

#endif
