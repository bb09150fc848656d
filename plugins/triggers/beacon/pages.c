#include "pages.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* Pages are read whole on the loop thread, so they are kept small.
 * NOTE: a slow disk would stall the loop while a page is read; the pages
 * are meant for a demo or a test page, not for a site's traffic. */
#define PAGE_MAX_BYTES (1024 * 1024)

static const struct {
    const char *extension;
    const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "application/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".gif", "image/gif"},
    {".jpg", "image/jpeg"},
    {".txt", "text/plain; charset=utf-8"},
};


const char *
pages_content_type(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(content_types); i++)
        if (g_str_has_suffix(name, content_types[i].extension))
            return content_types[i].type;
    return "application/octet-stream";
}


int
pages_path_safe(const char *rest)
{
    char **segments;
    int safe = 1;

    if (strchr(rest, '\\') != NULL)
        return 0;
    segments = g_strsplit(rest, "/", -1);
    for (size_t i = 0; segments[i] != NULL; i++)
        if (segments[i][0] == '.')
            safe = 0;
    g_strfreev(segments);
    return safe;
}


static void
not_found(const struct crier_host *host, struct crier_http_req *req)
{
    host->respond_json(req, 404, json_pack("{s:s}", "error", "not found"));
}


char *
pages_real_path(const char *dir, const char *path)
{
    char *dir_real = realpath(dir, NULL);
    char *real = realpath(path, NULL);
    size_t dir_len;
    int inside;

    if (dir_real == NULL || real == NULL) {
        free(dir_real);
        free(real);
        return NULL;
    }
    dir_len = strlen(dir_real);

    /* The root folder "/" already ends in a slash. */
    inside = strncmp(real, dir_real, dir_len) == 0 &&
             (real[dir_len] == '/' || dir_real[dir_len - 1] == '/');
    free(dir_real);
    if (!inside) {
        free(real);
        return NULL;
    }
    return real;
}


void
pages_serve(const struct crier_host *host, struct crier_http_req *req,
            const char *dir)
{
    const char *rest = host->req_path(req) + strlen(PAGES_PREFIX) - 1;
    char *path, *real, *text = NULL;
    gsize len = 0;

    while (*rest == '/')
        rest++;
    if (!pages_path_safe(rest)) {
        not_found(host, req);
        return;
    }
    path = g_build_filename(dir, rest[0] ? rest : "index.html", NULL);
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        char *index = g_build_filename(path, "index.html", NULL);

        g_free(path);
        path = index;
    }

    /* The file is read through its real path, so a symbolic link cannot
     * lead out of the folder. */
    real = pages_real_path(dir, path);
    if (real == NULL || !g_file_test(real, G_FILE_TEST_IS_REGULAR) ||
        !g_file_get_contents(real, &text, &len, NULL) ||
        len > PAGE_MAX_BYTES) {
        g_free(text);
        free(real);
        g_free(path);
        not_found(host, req);
        return;
    }
    host->resp_header(req, "Cache-Control", "no-cache");
    host->respond(req, 200, pages_content_type(path), text, len);
    g_free(text);
    free(real);
    g_free(path);
}
