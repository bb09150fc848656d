#include "keyword.h"

#include <string.h>

static const char *const stop_words[] = {
    "STOP", "STOP ALL", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
};
static const char *const start_words[] = { "START", "UNSTOP", "YES" };


static int
word_in(const char *word, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (g_ascii_strcasecmp(word, list[i]) == 0)
            return 1;
    }
    return 0;
}


enum sms_keyword
sms_keyword_parse(const char *body)
{
    char *word = g_strstrip(g_strdup(body));
    enum sms_keyword keyword = SMS_KEYWORD_NONE;

    if (word_in(word, stop_words, G_N_ELEMENTS(stop_words)))
        keyword = SMS_KEYWORD_STOP;
    else if (word_in(word, start_words, G_N_ELEMENTS(start_words)))
        keyword = SMS_KEYWORD_START;
    else if (g_ascii_strcasecmp(word, "HELP") == 0)
        keyword = SMS_KEYWORD_HELP;
    g_free(word);
    return keyword;
}


static void
form_field_free(gpointer p)
{
    struct form_field *f = p;

    g_free(f->name);
    g_free(f->value);
    g_free(f);
}


/* Decodes one name or value: '+' is a space, then %XX escapes. */
static char *
form_decode(const char *start, const char *end)
{
    char *plain = g_strndup(start, (gsize) (end - start));
    char *decoded;

    g_strdelimit(plain, "+", ' ');
    decoded = g_uri_unescape_string(plain, NULL);
    g_free(plain);
    return decoded;
}


GPtrArray *
form_parse(const char *body, size_t len)
{
    GPtrArray *fields = g_ptr_array_new_with_free_func(form_field_free);
    const char *end = body + len;
    const char *p = body;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t) (stop - p));
        struct form_field *f;

        if (stop == p) {
            p++;
            continue;
        }
        f = g_new0(struct form_field, 1);
        f->name = form_decode(p, eq ? eq : stop);
        f->value = eq ? form_decode(eq + 1, stop) : g_strdup("");
        g_ptr_array_add(fields, f);
        if (f->name == NULL || f->value == NULL) {
            g_ptr_array_unref(fields);
            return NULL;
        }
        p = stop + 1;
    }
    return fields;
}


const char *
form_get(GPtrArray *fields, const char *name)
{
    for (guint i = 0; i < fields->len; i++) {
        const struct form_field *f = g_ptr_array_index(fields, i);

        if (strcmp(f->name, name) == 0)
            return f->value;
    }
    return NULL;
}


/* Orders fields by name, then by value for a repeated name. */
static gint
field_compare(gconstpointer a, gconstpointer b)
{
    const struct form_field *x = *(struct form_field *const *) a;
    const struct form_field *y = *(struct form_field *const *) b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->value, y->value);
}


char *
twilio_signature_compute(const char *auth_token, const char *url,
                         GPtrArray *fields)
{
    GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA1, (const guchar *) auth_token,
                             strlen(auth_token));
    GPtrArray *sorted = g_ptr_array_new();
    guint8 digest[20];
    gsize digest_len = sizeof(digest);

    for (guint i = 0; i < fields->len; i++)
        g_ptr_array_add(sorted, g_ptr_array_index(fields, i));
    g_ptr_array_sort(sorted, field_compare);

    g_hmac_update(hmac, (const guchar *) url, -1);
    for (guint i = 0; i < sorted->len; i++) {
        const struct form_field *f = g_ptr_array_index(sorted, i);

        g_hmac_update(hmac, (const guchar *) f->name, -1);
        g_hmac_update(hmac, (const guchar *) f->value, -1);
    }
    g_hmac_get_digest(hmac, digest, &digest_len);
    g_hmac_unref(hmac);
    g_ptr_array_unref(sorted);
    return g_base64_encode(digest, digest_len);
}
