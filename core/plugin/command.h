/* `crier plugins`: the plugins found, and which config blocks use them. */
#ifndef CRIER_CORE_PLUGIN_COMMAND_H
#define CRIER_CORE_PLUGIN_COMMAND_H

/* Prints one line per plugin file found in the plugin folders of the
 * config at `path`; returns the exit code, 0. */
int plugins_command(const char *path);

#endif
