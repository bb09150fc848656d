/*
 * Routes: an exact path, or a prefix route whose path ends in '/' and '*'
 * and matches every path below that '/': "/c/" and '*' match "/c/x" but
 * not "/c". The most specific match with the request's method wins: an
 * exact path first, then the longest prefix. HEAD falls back to GET and
 * its response has no body.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "http/http_int.h"

/* Room for the Allow header's value. */
#define HTTP_ALLOW_SIZE 256


static int
method_valid(const char *method)
{
    const char *c;

    if (method == NULL || method[0] == '\0')
        return 0;
    for (c = method; *c != '\0'; c++) {
        if (*c < 'A' || *c > 'Z')
            return 0;
    }
    return 1;
}


/* Accepts a path from '/', with a '*' only at its end after a '/'. */
static int
path_valid(const char *path)
{
    const char *star;
    size_t len;

    if (path == NULL || path[0] != '/')
        return 0;
    star = strchr(path, '*');
    if (star == NULL)
        return 1;
    len = strlen(path);
    return star == path + len - 1 && path[len - 2] == '/';
}


int
http_route_add(struct http_server *srv, const char *method,
               const char *path, crier_http_handler handler, void *arg)
{
    return http_route_add_owned(srv, NULL, method, path, handler, arg);
}


int
http_route_add_owned(struct http_server *srv, const void *owner,
                     const char *method, const char *path,
                     crier_http_handler handler, void *arg)
{
    struct http_route *routes;
    struct http_route *route;
    size_t i;
    size_t len;

    if (!method_valid(method) || !path_valid(path) || handler == NULL)
        return CRIER_EINVAL;
    for (i = 0; i < srv->route_count; i++) {
        if (strcmp(srv->routes[i].method, method) == 0 &&
            strcmp(srv->routes[i].path, path) == 0)
            return CRIER_EEXIST;
    }

    routes = realloc(srv->routes, (srv->route_count + 1) * sizeof(*routes));
    if (routes == NULL)
        return CRIER_ENOMEM;
    srv->routes = routes;
    route = &routes[srv->route_count];
    route->method = strdup(method);
    route->path = strdup(path);
    if (route->method == NULL || route->path == NULL) {
        free(route->method);
        free(route->path);
        return CRIER_ENOMEM;
    }
    len = strlen(path);
    route->prefix_len = path[len - 1] == '*' ? len - 1 : 0;
    route->handler = handler;
    route->arg = arg;
    route->owner = owner;
    srv->route_count++;
    return 0;
}


size_t
http_routes_remove(struct http_server *srv, const void *owner)
{
    size_t kept = 0;
    size_t removed = 0;

    for (size_t i = 0; i < srv->route_count; i++) {
        struct http_route *route = &srv->routes[i];

        if (owner != NULL && route->owner == owner) {
            free(route->method);
            free(route->path);
            removed++;
        } else {
            srv->routes[kept++] = *route;
        }
    }
    srv->route_count = kept;
    return removed;
}


void
http_routes_free(struct http_server *srv)
{
    size_t i;

    for (i = 0; i < srv->route_count; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].path);
    }
    free(srv->routes);
    srv->routes = NULL;
    srv->route_count = 0;
}


/*
 * Returns how specifically `route` matches `path`: 0 for no match, the
 * prefix length plus one for a prefix, and SIZE_MAX for the exact path.
 */
static size_t
route_rank(const struct http_route *route, const char *path)
{
    if (route->prefix_len == 0)
        return strcmp(route->path, path) == 0 ? SIZE_MAX : 0;
    if (strncmp(route->path, path, route->prefix_len) == 0)
        return route->prefix_len + 1;
    return 0;
}


/* Adds `method` to the comma-separated `allow` list unless present. */
static void
allow_add(char *allow, const char *method)
{
    size_t used = strlen(allow);
    size_t len = strlen(method);
    const char *at = allow;

    while ((at = strstr(at, method)) != NULL) {
        if ((at == allow || at[-1] == ' ') &&
            (at[len] == ',' || at[len] == '\0'))
            return;
        at += len;
    }
    if (used + len + 3 > HTTP_ALLOW_SIZE)
        return;
    if (used > 0) {
        memcpy(allow + used, ", ", 2);
        used += 2;
    }
    memcpy(allow + used, method, len + 1);
}


/* Responds 405 with an Allow list of every method routed for `path`. */
static void
method_reject(struct http_server *srv, struct crier_http_req *req,
              const char *path)
{
    char allow[HTTP_ALLOW_SIZE] = "";
    size_t i;

    for (i = 0; i < srv->route_count; i++) {
        if (route_rank(&srv->routes[i], path) == 0)
            continue;
        allow_add(allow, srv->routes[i].method);
        if (strcmp(srv->routes[i].method, "GET") == 0)
            allow_add(allow, "HEAD");
    }
    http_respond_allow(req, allow);
}


/* Passes a complete request to its route's handler, or responds 404/405. */
void
http_route_dispatch(struct http_server *srv, struct crier_http_req *req)
{
    const char *path = http_req_path(req);
    const struct http_route *best = NULL;
    size_t best_score = 0;
    size_t score;
    size_t rank;
    int matched = 0;
    size_t i;

    for (i = 0; i < srv->route_count; i++) {
        const struct http_route *route = &srv->routes[i];

        rank = route_rank(route, path);
        if (rank == 0)
            continue;
        matched = 1;

        /* Twice the rank, plus one for the method itself over GET. */
        if (strcmp(route->method, req->method) == 0)
            score = rank == SIZE_MAX ? SIZE_MAX : rank * 2 + 1;
        else if (req->is_head && strcmp(route->method, "GET") == 0)
            score = rank == SIZE_MAX ? SIZE_MAX - 1 : rank * 2;
        else
            continue;
        if (score > best_score) {
            best = route;
            best_score = score;
        }
    }

    if (best != NULL)
        best->handler(best->arg, req);
    else if (matched)
        method_reject(srv, req, path);
    else
        http_respond_error(req, 404, "not found");
}
