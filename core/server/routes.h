/* The core's own routes: health, readiness and the test clock. */
#ifndef CRIER_CORE_ROUTES_H
#define CRIER_CORE_ROUTES_H

struct http_server;

struct crier_http_req;

int routes_add_core(struct http_server *http);

/* Answers GET /readyz once the store's readiness read ends (ready.c). */
void ready_respond(struct crier_http_req *req);

#endif
