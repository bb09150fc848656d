/*
 * Fuzzes the config file reader (core/config): the input is written to a
 * plugins.conf in a folder of the fuzzer's own and read with config_load,
 * which parses it with libconfig, expands ${NAME} from the environment
 * and builds the JSON tree with a line for every key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "fuzz.h"

static char conf_dir[64];
static char conf_path[256];


/* Removes the file and its folder when the fuzzer exits. */
static void
conf_remove(void)
{
    unlink(conf_path);
    rmdir(conf_dir);
}


/* Creates the folder on first use; relative @include paths end there. */
static const char *
conf_path_get(void)
{
    if (conf_path[0] != '\0')
        return conf_path;
    snprintf(conf_dir, sizeof(conf_dir), "/tmp/crier-fuzz-config-XXXXXX");
    if (mkdtemp(conf_dir) == NULL)
        abort();
    snprintf(conf_path, sizeof(conf_path), "%s/plugins.conf", conf_dir);
    atexit(conf_remove);
    setenv("CRIER_FUZZ_SET", "value", 1);
    unsetenv("CRIER_FUZZ_UNSET");
    return conf_path;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = conf_path_get();
    struct config *cfg = NULL;
    const char *key;
    json_t *value;
    FILE *f = fopen(path, "wb");
    int rc;

    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    rc = config_load(path, &cfg);
    if (cfg == NULL)
        __builtin_trap();           /* *out is set in every case */
    if (rc != 0 && cfg->error[0] == '\0')
        __builtin_trap();           /* a failure must have a message */
    if (rc == 0 && json_is_object(cfg->root)) {
        json_object_foreach(cfg->root, key, value) {
            (void)config_line(cfg, key);
            (void)config_file(cfg, key);
        }
    }
    config_free(cfg);
    return 0;
}
