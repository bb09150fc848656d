/*
 * The crier plugin SDK. A plugin includes this header and nothing else of
 * crier's; see docs/sdk.md for a walk-through.
 */
#ifndef CRIER_CRIER_H
#define CRIER_CRIER_H

#include "abi.h"
#include "error.h"
#include "host.h"
#include "plugin.h"
#include "trigger.h"
#include "channel.h"
#include "store.h"

#endif
