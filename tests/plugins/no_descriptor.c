/* A shared object that is not a crier plugin: it exports no descriptor. */
__attribute__((visibility("default"))) int not_a_crier_plugin = 1;
