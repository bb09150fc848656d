/* The core's own routes: health, readiness and the test clock. */
#ifndef CRIER_CORE_ROUTES_H
#define CRIER_CORE_ROUTES_H

struct http_server;

int routes_add_core(struct http_server *http);

#endif
