/*
 * A few static pages served beside the beacon, for a demo or a test page
 * that carries the snippet. Not a web server: the agency's site lives
 * elsewhere and only includes /crier.js.
 */
#ifndef CRIER_BEACON_PAGES_H
#define CRIER_BEACON_PAGES_H

#include <crier/crier.h>

/* The URL prefix the pages are served under. */
#define PAGES_PREFIX "/site/"

/*
 * Answers GET PAGES_PREFIX... from the folder `dir`: index.html for the
 * prefix itself, 404 for anything missing, hidden or outside the folder.
 * A file reached through a symbolic link is served only when its real
 * path lies inside the folder's real path.
 */
void pages_serve(const struct crier_host *host, struct crier_http_req *req,
                 const char *dir);

/* Returns the Content-Type for a file name, by its extension. */
const char *pages_content_type(const char *name);

/* Returns nonzero when a decoded URL path below the prefix is safe to map
 * onto the folder: no "..", no hidden segment, no backslash. */
int pages_path_safe(const char *rest);

/*
 * Returns the real path of `path` (symbolic links resolved, as realpath
 * does) when it lies inside the real path of the folder `dir`, or NULL
 * when it lies outside or either does not exist. Free it with free.
 */
char *pages_real_path(const char *dir, const char *path);

#endif
