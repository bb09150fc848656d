/*
 * A plugin built against a future, incompatible SDK: its descriptor
 * starts with an ABI version the core does not know. The core must refuse
 * it before reading anything else of the descriptor.
 */
#include <crier/crier.h>

CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION + 998,
    .abi_minor = 0,
    .kind = CRIER_PLUGIN_STORE,
    .name = "future_abi",
    .version = "9.0.0",
    .summary = "a store from a future ABI, for tests",
};
