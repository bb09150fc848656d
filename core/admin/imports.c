/*
 * POST /v1/imports?id=<import id>: imports profiles from the CSV in the
 * body (docs/imports.md). The response is sent once every accepted row is
 * committed to the store, and lists the rejected rows with the reason.
 */
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "http/http.h"
#include "import/import.h"

/* Hex digits of the body's SHA-256 that make the default import id. */
#define DEFAULT_ID_HEX 32

/* One import in progress: the request and the body it reads from. */
struct import_call {
    struct crier_http_req *req;
    const char *body;
    size_t len;
    size_t offset;
};


static long
body_read(void *arg, char *buf, size_t cap)
{
    struct import_call *call = arg;
    size_t n = call->len - call->offset;

    if (n > cap)
        n = cap;
    memcpy(buf, call->body + call->offset, n);
    call->offset += n;
    return (long) n;
}


static void
on_imported(void *arg, int status, const json_t *summary, const char *error,
            const char *field)
{
    struct import_call *call = arg;

    if (status == 0)
        http_respond_json(call->req, 200, json_deep_copy(summary));
    else if (status == CRIER_EINVAL)
        admin_respond_error(call->req, 400, field, error);
    else
        admin_respond_error(call->req, 503, NULL, error);
    g_free(call);
}


/* Returns 1 when the Content-Type is text/csv, with or without
 * parameters such as charset. */
static int
content_type_csv(struct crier_http_req *req)
{
    const char *type = http_req_header(req, "Content-Type");
    size_t len = strlen("text/csv");

    return type != NULL && g_ascii_strncasecmp(type, "text/csv", len) == 0 &&
           (type[len] == '\0' || type[len] == ';' || type[len] == ' ');
}


/*
 * Reads ?id= into a new string, or the default: the first hex digits of
 * the body's SHA-256, so that posting the same file again repeats its
 * event ids. Responds 400 and returns NULL for a bad query.
 */
static char *
import_id_of(struct crier_http_req *req, const char *body, size_t len)
{
    GPtrArray *params = admin_query_parse(http_req_query(req));
    const struct admin_param *param = NULL;
    char *id = NULL;

    if (params != NULL && params->len == 1)
        param = g_ptr_array_index(params, 0);
    if (params == NULL || params->len > 1 ||
        (param != NULL && strcmp(param->name, "id") != 0))
        admin_respond_error(req, 400, NULL, "the only query parameter is "
                            "id, the import id");
    else if (param != NULL && !import_id_valid(param->value))
        admin_respond_error(req, 400, "id", "the import id must be 1 to 128 "
                            "letters, digits, '.', '_', ':' or '-'");
    else if (param != NULL)
        id = g_strdup(param->value);
    else {
        char *digest = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                                   (const guchar *) body,
                                                   len);

        id = g_strndup(digest, DEFAULT_ID_HEX);
        g_free(digest);
    }
    if (params != NULL)
        g_ptr_array_free(params, TRUE);
    return id;
}


static void
on_imports_post(void *arg, struct crier_http_req *req)
{
    struct import_call *call;
    size_t len;
    const char *body;
    char *id;

    if (!admin_authorize(req))
        return;
    if (!content_type_csv(req)) {
        admin_respond_error(req, 415, "Content-Type", "send the CSV file "
                            "with Content-Type: text/csv");
        return;
    }
    body = http_req_body(req, &len);
    if ((id = import_id_of(req, body, len)) == NULL)
        return;
    call = g_new0(struct import_call, 1);
    call->req = req;
    call->body = body;
    call->len = len;
    if (import_start(id, body_read, call, on_imported, call) != 0) {
        admin_respond_error(req, 503, NULL, "the import could not start; "
                            "retry later");
        g_free(call);
    }
    g_free(id);
}


int
admin_import_routes_add(struct http_server *http)
{
    return http_route_add(http, "POST", "/v1/imports", on_imports_post,
                          NULL);
}
