/*
 * Message templates: loads a folder of Mustache files once, compiles all of
 * them, and renders a template's parts on demand.
 *
 * Loading rules, beyond those in template.h:
 *   - entries whose name starts with "." are skipped, and so are plain
 *     files at the top level (a README next to the templates is fine);
 *   - a template folder may hold other files; only the three part names
 *     are read;
 *   - files must be UTF-8 without NUL bytes and at most 1 MiB; a leading
 *     byte order mark is dropped;
 *   - the line break(s) at the end of subject.mustache are dropped, since
 *     editors add one and a subject is a single line;
 *   - entries are read in name order, so the error reported for a folder
 *     with several problems is always the same one.
 *
 * Partials are compiled at load to report their errors with their path;
 * the renderer compiles them again once per render (see mustache_render.c).
 * A loaded set is never changed, so renders may run in several threads.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "crier/error.h"
#include "profile/attributes.h"
#include "template/mustache.h"
#include "template/template.h"
#include "template/template_int.h"

#define TEMPLATE_MAX_FILE       (1024 * 1024)
#define TEMPLATE_MAX_SUBJECT    998
#define PARTIALS_DIR            "partials"
#define SUFFIX                  ".mustache"
#define PATH_MAX_HEADER         320     /* a file name and a length */

enum part { PART_SUBJECT, PART_TEXT, PART_HTML, PART_COUNT };

static const char *const part_files[PART_COUNT] = {
    "subject" SUFFIX, "text" SUFFIX, "html" SUFFIX,
};

/* The parts of one language, or of the untagged template. */
struct variant {
    char *language;                     /* canonical tag; NULL untagged */
    char *dir;                          /* its folder, for messages */
    struct mustache *part[PART_COUNT];  /* html may be NULL */
    char files_sum[65];                 /* SHA-256 of the parts, hex */
    char version[TEMPLATE_VERSION_SIZE];    /* see versions_finish */
};

struct template {
    char *name;
    char *dir;                          /* its folder, for messages */
    struct variant base;                /* the parts without a tag */
    GPtrArray *variants;                /* struct variant *, tagged */
    char **required;                    /* NULL-terminated, or NULL */
};

struct template_set {
    char *dir;
    char *default_language;             /* canonical tag, or NULL */
    GHashTable *templates;              /* name -> struct template */
    GHashTable *partials;               /* name -> NUL-terminated source */
    char partials_sum[65];              /* SHA-256 of the partials, hex */
};


static void
set_error(struct template_error *err, const char *path, int line, int col,
          const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return;
    }
    snprintf(err->path, sizeof(err->path), "%s", path);
    err->line = line;
    err->col = col;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}


/* The 1-based line and column (in characters) of byte `off` in `s`. */
static void
locate(const char *s, size_t off, int *line, int *col)
{
    size_t i;

    *line = 1;
    *col = 1;
    for (i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char) s[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}


/*
 * Reads a template file into a NUL-terminated string (g_free it) and
 * checks that it is UTF-8. With `subject` set, trailing line breaks are
 * dropped. Returns NULL with `err` filled.
 */
static char *
read_source(const char *path, int subject, size_t *len_out,
            struct template_error *err)
{
    GError *gerr = NULL;
    const gchar *bad;
    char *text;
    gsize len;
    int line;
    int col;

    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        set_error(err, path, 0, 0, "cannot read: %s", gerr->message);
        g_error_free(gerr);
        return NULL;
    }
    if (len > TEMPLATE_MAX_FILE) {
        set_error(err, path, 0, 0, "file is larger than %d bytes",
                  TEMPLATE_MAX_FILE);
        g_free(text);
        return NULL;
    }
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        memmove(text, text + 3, len - 3 + 1);
        len -= 3;
    }
    if (!g_utf8_validate(text, (gssize) len, &bad)) {
        locate(text, (size_t) (bad - text), &line, &col);
        set_error(err, path, line, col, *bad == '\0'
                  ? "file contains a NUL byte" : "file is not valid UTF-8");
        g_free(text);
        return NULL;
    }
    while (subject && len > 0
           && (text[len - 1] == '\n' || text[len - 1] == '\r'))
    {
        text[--len] = '\0';
    }
    *len_out = len;
    return text;
}


/* Adds the file name and length of `path`, then its source, to `sum`.
 * The name and length go first, so that moving text from one file to
 * the next changes the sum. */
static void
checksum_add(GChecksum *sum, const char *path, const char *src, size_t len)
{
    const char *file = strrchr(path, '/');
    char header[PATH_MAX_HEADER];

    snprintf(header, sizeof(header), "%s %zu\n",
             file != NULL ? file + 1 : path, len);
    g_checksum_update(sum, (const guchar *) header, strlen(header));
    g_checksum_update(sum, (const guchar *) src, len);
}


/* Reads and compiles one file, adding its source to `sum` when `sum` is
 * not NULL. Returns NULL with `err` filled. */
static struct mustache *
compile_file(const char *path, int subject, GChecksum *sum,
             struct template_error *err)
{
    struct mustache_error merr;
    struct mustache *t;
    size_t len;
    char *src;

    src = read_source(path, subject, &len, err);
    if (src == NULL) {
        return NULL;
    }
    if (sum != NULL) {
        checksum_add(sum, path, src, len);
    }
    t = mustache_compile(src, len, &merr);
    if (t == NULL) {
        set_error(err, path, merr.line, merr.col, "%s", merr.message);
    }
    g_free(src);
    return t;
}


static void
variant_clear(struct variant *v)
{
    int i;

    for (i = 0; i < PART_COUNT; i++) {
        mustache_free(v->part[i]);
    }
    g_free(v->language);
    g_free(v->dir);
}


static void
variant_free(gpointer p)
{
    variant_clear(p);
    g_free(p);
}


static void
template_free(gpointer p)
{
    struct template *t = p;

    variant_clear(&t->base);
    if (t->variants != NULL) {
        g_ptr_array_unref(t->variants);
    }
    g_strfreev(t->required);
    g_free(t->name);
    g_free(t->dir);
    g_free(t);
}


static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* Returns the names in `dir`, sorted, without those starting with "." */
static GPtrArray *
list_dir(const char *dir, struct template_error *err)
{
    GError *gerr = NULL;
    GPtrArray *names;
    const char *name;
    GDir *d;

    d = g_dir_open(dir, 0, &gerr);
    if (d == NULL) {
        set_error(err, dir, 0, 0, "cannot open the template folder: %s",
                  gerr->message);
        g_error_free(gerr);
        return NULL;
    }
    names = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(d)) != NULL) {
        if (name[0] != '.') {
            g_ptr_array_add(names, g_strdup(name));
        }
    }
    g_dir_close(d);
    g_ptr_array_sort(names, compare_names);
    return names;
}


/* Loads dir/partials/<name>.mustache, if the folder exists, and sums
 * them in name order into set->partials_sum. */
static int
load_partials(struct template_set *set, struct template_error *err)
{
    char *dir = g_build_filename(set->dir, PARTIALS_DIR, NULL);
    GChecksum *sum;
    GPtrArray *names;
    guint i;
    int rc = 0;

    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_free(dir);
        return 0;
    }
    names = list_dir(dir, err);
    if (names == NULL) {
        g_free(dir);
        return -1;
    }

    sum = g_checksum_new(G_CHECKSUM_SHA256);
    for (i = 0; i < names->len && rc == 0; i++) {
        const char *file = g_ptr_array_index(names, i);
        char *path;
        char *src;
        size_t len;
        struct mustache_error merr;
        struct mustache *t;

        /* Other files (notes, editor backups) are not partials. */
        if (!g_str_has_suffix(file, SUFFIX)
            || strlen(file) == strlen(SUFFIX))
        {
            continue;
        }
        path = g_build_filename(dir, file, NULL);
        src = read_source(path, 0, &len, err);
        if (src == NULL) {
            rc = -1;
        } else if ((t = mustache_compile(src, len, &merr)) == NULL) {
            set_error(err, path, merr.line, merr.col, "%s", merr.message);
            g_free(src);
            rc = -1;
        } else {
            mustache_free(t);
            checksum_add(sum, path, src, len);
            g_hash_table_insert(set->partials,
                                g_strndup(file, strlen(file)
                                          - strlen(SUFFIX)), src);
        }
        g_free(path);
    }
    g_strlcpy(set->partials_sum, g_checksum_get_string(sum),
              sizeof(set->partials_sum));
    g_checksum_free(sum);
    g_ptr_array_unref(names);
    g_free(dir);
    return rc;
}


/* Loads part `i` of v->dir into v->part[i]; a missing HTML part is no
 * error. */
static int
load_part(struct variant *v, int i, const char *name, GChecksum *sum,
          struct template_error *err)
{
    char *path = g_build_filename(v->dir, part_files[i], NULL);

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        if (i != PART_HTML) {
            set_error(err, path, 0, 0, "template '%.40s' has no %s "
                      "(subject.mustache and text.mustache are "
                      "required)", name, part_files[i]);
            g_free(path);
            return -1;
        }
        g_free(path);
        return 0;
    }
    v->part[i] = compile_file(path, i == PART_SUBJECT, sum, err);
    g_free(path);
    return v->part[i] == NULL ? -1 : 0;
}


/*
 * Loads the parts in v->dir and sums them into v->files_sum. Subject and
 * text are required, in a language folder too: a variant never borrows a
 * part from another one.
 */
static int
load_parts(struct variant *v, const char *name, struct template_error *err)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    int rc = 0;
    int i;

    for (i = 0; rc == 0 && i < PART_COUNT; i++)
        rc = load_part(v, i, name, sum, err);
    if (rc == 0)
        g_strlcpy(v->files_sum, g_checksum_get_string(sum),
                  sizeof(v->files_sum));
    g_checksum_free(sum);
    return rc;
}


/*
 * Loads the language folder `entry` of template `t`. Its name must be a
 * BCP 47 tag in canonical case ("es-MX"), the form in which profiles
 * store the `language` attribute.
 */
static int
load_variant(struct template *t, const char *entry,
             struct template_error *err)
{
    char *canonical = attribute_language_normalize(entry);
    struct variant *v;
    char *path = g_build_filename(t->dir, entry, NULL);

    if (canonical != NULL && strlen(canonical) >= TEMPLATE_LANGUAGE_MAX) {
        set_error(err, path, 0, 0, "language folder name is longer than "
                  "%d characters", TEMPLATE_LANGUAGE_MAX - 1);
        g_free(canonical);
        g_free(path);
        return -1;
    }
    if (canonical == NULL || strcmp(canonical, entry) != 0) {
        set_error(err, path, 0, 0, canonical == NULL
                  ? "folder '%.40s' is not a BCP 47 language tag: a "
                    "template folder may contain only language folders "
                    "such as es or es-MX"
                  : "language folder '%.40s' must be named in canonical "
                    "case, %.40s", entry, canonical ? canonical : "");
        g_free(canonical);
        g_free(path);
        return -1;
    }
    v = g_new0(struct variant, 1);
    v->language = canonical;
    v->dir = path;
    if (load_parts(v, t->name, err) < 0) {
        variant_free(v);
        return -1;
    }
    g_ptr_array_add(t->variants, v);
    return 0;
}


/* Loads the template in folder `name`, with its language folders and
 * its required fields. */
static int
load_template(struct template_set *set, const char *name,
              struct template_error *err)
{
    struct template *t = g_new0(struct template, 1);
    GPtrArray *entries;
    guint i;
    int rc = 0;

    t->name = g_strdup(name);
    t->dir = g_build_filename(set->dir, name, NULL);
    t->base.dir = g_strdup(t->dir);
    t->variants = g_ptr_array_new_with_free_func(variant_free);
    entries = list_dir(t->dir, err);
    if (entries == NULL || load_parts(&t->base, name, err) < 0
        || template_required_load(t->dir, &t->required, err) < 0)
    {
        rc = -1;
    }
    for (i = 0; rc == 0 && i < entries->len; i++) {
        const char *entry = g_ptr_array_index(entries, i);
        char *path = g_build_filename(t->dir, entry, NULL);
        int is_dir = g_file_test(path, G_FILE_TEST_IS_DIR);

        g_free(path);
        if (is_dir) {
            rc = load_variant(t, entry, err);
        }
    }
    if (entries != NULL) {
        g_ptr_array_unref(entries);
    }
    if (rc < 0) {
        template_free(t);
        return -1;
    }
    g_hash_table_insert(set->templates, t->name, t);
    return 0;
}


/*
 * Sets each variant's version: the first TEMPLATE_VERSION_SIZE - 1 hex
 * digits of the SHA-256 of its parts' sum and the partials' sum. A change
 * to any part or any partial changes it, even to a partial that the
 * variant does not include.
 */
static void
variant_version_finish(struct variant *v, const char *partials_sum)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);

    g_checksum_update(sum, (const guchar *) v->files_sum,
                      strlen(v->files_sum));
    g_checksum_update(sum, (const guchar *) partials_sum,
                      strlen(partials_sum));
    g_strlcpy(v->version, g_checksum_get_string(sum), sizeof(v->version));
    g_checksum_free(sum);
}


static void
versions_finish(struct template_set *set)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, set->templates);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        struct template *t = value;

        variant_version_finish(&t->base, set->partials_sum);
        for (guint i = 0; i < t->variants->len; i++)
            variant_version_finish(g_ptr_array_index(t->variants, i),
                                   set->partials_sum);
    }
}


struct template_set *
template_set_load(const char *dir, struct template_error *err)
{
    struct template_set *set;
    GPtrArray *names;
    guint i;

    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    set = g_new0(struct template_set, 1);
    set->dir = g_strdup(dir);
    set->templates = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                           template_free);
    set->partials = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          g_free);

    names = list_dir(dir, err);
    if (names == NULL || load_partials(set, err) < 0) {
        goto fail;
    }
    for (i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        char *path;
        int is_dir;

        if (strcmp(name, PARTIALS_DIR) == 0) {
            continue;
        }
        path = g_build_filename(dir, name, NULL);
        is_dir = g_file_test(path, G_FILE_TEST_IS_DIR);
        g_free(path);
        if (is_dir && load_template(set, name, err) < 0) {
            goto fail;
        }
    }
    g_ptr_array_unref(names);
    versions_finish(set);
    return set;

fail:
    if (names != NULL) {
        g_ptr_array_unref(names);
    }
    template_set_free(set);
    return NULL;
}


int
template_set_has(const struct template_set *set, const char *name)
{
    return set != NULL && name != NULL
           && g_hash_table_contains(set->templates, name);
}


static const char *
partial_source(void *arg, const char *name)
{
    const struct template_set *set = arg;

    return g_hash_table_lookup(set->partials, name);
}


/* Renders one part. Returns 0, or a CRIER_E* code with `err` filled. */
static int
render_part(const struct template_set *set, const struct variant *v,
            enum part part, const json_t *data, char **out, size_t *len,
            struct template_error *err)
{
    struct mustache_error merr;
    char *path;

    *out = mustache_render(v->part[part], data, partial_source,
                           (void *) set, part == PART_HTML, len, &merr);
    if (*out != NULL) {
        return 0;
    }
    path = g_build_filename(v->dir, part_files[part], NULL);
    set_error(err, path, 0, 0, "%s", merr.message);
    g_free(path);
    return strcmp(merr.message, "out of memory") == 0 ? CRIER_ENOMEM
                                                       : CRIER_EINVAL;
}


/* Returns the variant of `t` tagged `tag` (any case), or NULL. */
static const struct variant *
variant_find(const struct template *t, const char *tag)
{
    guint i;

    for (i = 0; i < t->variants->len; i++) {
        const struct variant *v = g_ptr_array_index(t->variants, i);

        if (g_ascii_strcasecmp(v->language, tag) == 0) {
            return v;
        }
    }
    return NULL;
}


/*
 * Returns the variant for `tag` or the nearest shorter tag: "zh-Hant-TW",
 * then "zh-Hant", then "zh". NULL when none of them has a folder.
 */
static const struct variant *
variant_truncate_find(const struct template *t, const char *tag)
{
    char buf[TEMPLATE_LANGUAGE_MAX];
    char *dash;

    if (tag == NULL || tag[0] == '\0' || strlen(tag) >= sizeof(buf)) {
        return NULL;
    }
    strcpy(buf, tag);
    for (;;) {
        const struct variant *v = variant_find(t, buf);

        if (v != NULL) {
            return v;
        }
        dash = strrchr(buf, '-');
        if (dash == NULL) {
            return NULL;
        }
        *dash = '\0';
    }
}


/* Picks the variant for `language` by the chain in template.h. */
static const struct variant *
variant_pick(const struct template_set *set, const struct template *t,
             const char *language)
{
    const struct variant *v = variant_truncate_find(t, language);

    if (v == NULL) {
        v = variant_truncate_find(t, set->default_language);
    }
    return v != NULL ? v : &t->base;
}


void
template_set_language(struct template_set *set, const char *tag)
{
    g_free(set->default_language);
    set->default_language = tag != NULL ? g_strdup(tag) : NULL;
}


const char *
template_language_pick(const struct template_set *set, const char *name,
                       const char *language)
{
    const struct template *t;
    const struct variant *v;

    t = name != NULL ? g_hash_table_lookup(set->templates, name) : NULL;
    if (t == NULL) {
        return NULL;
    }
    v = variant_pick(set, t, language);
    return v->language != NULL ? v->language : "";
}


/*
 * The subject goes into a mail header, so it must be one line of at most
 * 998 bytes. NOTE: RFC 5322 limits the whole header line to 998, and
 * "Subject: " adds 9, so the email channel still has to fold a subject
 * near the limit.
 */
static int
subject_check(const struct template *t, const char *subject, size_t len,
              struct template_error *err)
{
    if (memchr(subject, '\r', len) != NULL
        || memchr(subject, '\n', len) != NULL)
    {
        set_error(err, t->dir, 0, 0, "the subject of template '%.60s' "
                  "would contain a line break (CR or LF)", t->name);
        return CRIER_EINVAL;
    }
    if (len > TEMPLATE_MAX_SUBJECT) {
        set_error(err, t->dir, 0, 0, "the subject of template '%.60s' "
                  "would be %zu bytes, more than %d", t->name, len,
                  TEMPLATE_MAX_SUBJECT);
        return CRIER_EINVAL;
    }
    return 0;
}


int
template_render_language(const struct template_set *set, const char *name,
                         const char *language, const json_t *data,
                         struct rendered_message *out,
                         struct template_error *err)
{
    const struct template *t;
    const struct variant *v;
    const char *missing;
    size_t len;
    int rc;

    memset(out, 0, sizeof(*out));
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
    }
    t = name != NULL ? g_hash_table_lookup(set->templates, name) : NULL;
    if (t == NULL) {
        set_error(err, set->dir, 0, 0, "no template named '%.100s'",
                  name != NULL ? name : "(null)");
        return CRIER_ENOTFOUND;
    }
    missing = template_required_missing(t->required, data);
    if (missing != NULL) {
        set_error(err, t->dir, 0, 0, "missing %.120s", missing);
        if (err != NULL) {
            snprintf(err->field, sizeof(err->field), "%s", missing);
        }
        return CRIER_EINVAL;
    }
    v = variant_pick(set, t, language);

    rc = render_part(set, v, PART_SUBJECT, data, &out->subject, &len, err);
    if (rc == 0) {
        rc = subject_check(t, out->subject, len, err);
    }
    if (rc == 0) {
        rc = render_part(set, v, PART_TEXT, data, &out->text, &len, err);
    }
    if (rc == 0 && v->part[PART_HTML] != NULL) {
        rc = render_part(set, v, PART_HTML, data, &out->html, &len, err);
    }
    if (rc == 0) {
        g_strlcpy(out->version, v->version, sizeof(out->version));
    }
    if (rc == 0 && v->language != NULL) {
        out->language = strdup(v->language);
        rc = out->language == NULL ? CRIER_ENOMEM : 0;
    }
    if (rc != 0) {
        rendered_message_clear(out);
    }
    return rc;
}


int
template_render(const struct template_set *set, const char *name,
                const json_t *data, struct rendered_message *out,
                struct template_error *err)
{
    return template_render_language(set, name, NULL, data, out, err);
}


void
rendered_message_clear(struct rendered_message *msg)
{
    if (msg == NULL) {
        return;
    }
    free(msg->subject);
    free(msg->text);
    free(msg->html);
    free(msg->language);
    msg->subject = NULL;
    msg->text = NULL;
    msg->html = NULL;
    msg->language = NULL;
    msg->version[0] = '\0';
}


void
template_set_free(struct template_set *set)
{
    if (set == NULL) {
        return;
    }
    g_hash_table_destroy(set->templates);
    g_hash_table_destroy(set->partials);
    g_free(set->default_language);
    g_free(set->dir);
    g_free(set);
}
