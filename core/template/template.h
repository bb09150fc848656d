/*
 * Message templates: a folder of named templates, each with a subject, a
 * text part and an optional HTML part, plus shared partials.
 *
 *   templates/<name>/subject.mustache
 *   templates/<name>/text.mustache
 *   templates/<name>/html.mustache      (optional)
 *   templates/<name>/required.txt       (optional: fields it needs)
 *   templates/<name>/<tag>/subject.mustache, text.mustache, html.mustache
 *   templates/partials/<partial>.mustache
 *
 * A <tag> folder is a language variant, named by its BCP 47 tag in
 * canonical case ("es", "es-MX"). A render for language L tries L, then L
 * without its last subtag, and so on ("es-MX", then "es"). Then it tries
 * the set's default language likewise, and then the parts without a tag.
 *
 * Only the HTML part escapes values. A rendered subject that contains CR or
 * LF is refused, so a value can never add a mail header; so is one longer
 * than 998 bytes. Line breaks at the end of subject.mustache are dropped
 * at load, since editors add one. Other rules (hidden entries skipped,
 * UTF-8 only, 1 MiB per file) are at the top of template.c.
 */
#ifndef CRIER_CORE_TEMPLATE_H
#define CRIER_CORE_TEMPLATE_H

#include <jansson.h>

struct template_set;

struct template_error {
    char path[512];     /* the file, or the folder when none is at fault */
    int line;           /* 0 when not about a place in a file */
    int col;
    char message[160];
    char field[128];    /* a missing required field, or "" */
};

/* The maximum length of a variant's language tag, with its NUL. */
#define TEMPLATE_LANGUAGE_MAX 36

/* The size of a template version: 12 hex digits of a SHA-256 and a NUL. */
#define TEMPLATE_VERSION_SIZE 13

struct rendered_message {
    char *subject;
    char *text;
    char *html;         /* NULL when the template has no HTML part */
    char *language;     /* the variant's tag; NULL for the untagged parts */
    char version[TEMPLATE_VERSION_SIZE];    /* of the variant's files */
};

/*
 * Loads and compiles every template and partial under `dir`; NULL on the
 * first error, with `err` naming the file (and line and column for a
 * syntax error). A loaded set is read-only: renders may run in parallel.
 */
struct template_set *template_set_load(const char *dir,
                                       struct template_error *err);

/* Returns nonzero when the set has a template called `name`. */
int template_set_has(const struct template_set *set, const char *name);

/*
 * Renders template `name` for no particular language; returns 0 or CRIER_ENOTFOUND / CRIER_EINVAL
 * (CRIER_ENOMEM when out of memory). On success free `out` with
 * rendered_message_clear; on failure all its fields are NULL and `err`
 * names the template's folder (a refused subject) or part file.
 */
int template_render(const struct template_set *set, const char *name,
                    const json_t *data, struct rendered_message *out,
                    struct template_error *err);

/*
 * Renders template `name` in the variant that the chain above picks for
 * `language` (NULL for none); out->language names it. Fails with
 * CRIER_EINVAL and err->field set when a field listed in required.txt is
 * absent, null or "" in `data`. Otherwise as template_render.
 */
int template_render_language(const struct template_set *set,
                             const char *name, const char *language,
                             const json_t *data,
                             struct rendered_message *out,
                             struct template_error *err);

/*
 * Returns the tag of the variant that a render for `language` uses, ""
 * for the untagged parts, or NULL when there is no template `name`.
 */
const char *template_language_pick(const struct template_set *set,
                                   const char *name, const char *language);

/* Sets the default language of the chain (a canonical tag, or NULL). */
void template_set_language(struct template_set *set, const char *tag);

void rendered_message_clear(struct rendered_message *msg);
void template_set_free(struct template_set *set);

#endif
