#include "link_rewrite.h"

#include <string.h>

#include <glib.h>

#include "link_token.h"

/* The character references that a template's HTML escaping writes in an
 * attribute value, and that a link may carry. */
static const struct {
    const char *reference;
    char c;
} references[] = {
    {"&amp;", '&'}, {"&quot;", '"'}, {"&#39;", '\''}, {"&#x27;", '\''},
    {"&lt;", '<'}, {"&gt;", '>'}, {"&#x3D;", '='}, {"&#61;", '='},
    {"&#x2F;", '/'}, {"&#47;", '/'}, {"&#x60;", '`'}, {"&#96;", '`'},
};


/*
 * Decodes the character references of `len` bytes of an attribute value.
 * Returns NULL when it has one this table does not know, so that such a
 * link is left as it is rather than signed wrong.
 */
static char *
attribute_decode(const char *value, size_t len)
{
    GString *out = g_string_sized_new(len);

    for (size_t i = 0; i < len; i++) {
        size_t j;

        if (value[i] != '&') {
            g_string_append_c(out, value[i]);
            continue;
        }
        for (j = 0; j < G_N_ELEMENTS(references); j++) {
            size_t ref_len = strlen(references[j].reference);

            if (i + ref_len <= len &&
                g_ascii_strncasecmp(value + i, references[j].reference,
                                    ref_len) == 0) {
                g_string_append_c(out, references[j].c);
                i += ref_len - 1;
                break;
            }
        }
        if (j == G_N_ELEMENTS(references)) {
            g_string_free(out, TRUE);
            return NULL;
        }
    }
    return g_string_free(out, FALSE);
}


/*
 * Finds the next href attribute at or after `from`: a whitespace
 * character, "href", optional spaces, '=' and a quoted value. Sets
 * *value and *len to the value inside the quotes. Returns NULL when there
 * is none.
 */
static const char *
href_find(const char *from, const char **value, size_t *len)
{
    const char *p = from;

    while ((p = strpbrk(p, " \t\r\n")) != NULL) {
        const char *q = p + 1;
        const char *end;
        char quote;

        p++;
        if (g_ascii_strncasecmp(q, "href", 4) != 0)
            continue;
        q += 4;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            q++;
        if (*q++ != '=')
            continue;
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            q++;
        quote = *q;
        if (quote != '"' && quote != '\'')
            continue;
        end = strchr(q + 1, quote);
        if (end == NULL)
            return NULL;
        *value = q + 1;
        *len = (size_t) (end - q - 1);
        return q + 1;
    }
    return NULL;
}


/* Returns the last "</body>" of `html`, in any case, or NULL. */
static const char *
body_end_find(const char *html)
{
    const char *found = NULL;

    for (const char *p = html; (p = strchr(p, '<')) != NULL; p++)
        if (g_ascii_strncasecmp(p, "</body>", 7) == 0)
            found = p;
    return found;
}


char *
link_html_rewrite(const char *html, const char *secret, const char *base_url,
                  const char *message, const json_t *identity)
{
    GString *out = g_string_sized_new(strlen(html) + 512);
    char *pixel_token = link_token_sign(secret, message, identity, NULL);
    const char *copied = html, *value, *body_end;
    size_t len;

    if (pixel_token == NULL) {
        g_string_free(out, TRUE);
        return NULL;
    }
    while (href_find(copied, &value, &len) != NULL) {
        char *url = attribute_decode(value, len);
        char *token = url != NULL && link_url_valid(url)
                          ? link_token_sign(secret, message, identity, url)
                          : NULL;

        g_string_append_len(out, copied, value - copied);
        if (token != NULL)
            g_string_append_printf(out, "%s/c/%s", base_url, token);
        else
            g_string_append_len(out, value, (gssize) len);
        copied = value + len;
        g_free(token);
        g_free(url);
    }

    body_end = body_end_find(copied);
    if (body_end == NULL)
        body_end = copied + strlen(copied);
    g_string_append_len(out, copied, body_end - copied);
    g_string_append_printf(out, "<img src=\"%s/b.gif?m=%s\" width=\"1\" "
                           "height=\"1\" alt=\"\">", base_url, pixel_token);
    g_string_append(out, body_end);
    g_free(pixel_token);
    return g_string_free(out, FALSE);
}
