/*
 * Bearer tokens checked against SHA-256 digests, for the admin API and
 * the api trigger. A request's token is hashed and compared with every
 * configured digest in constant time.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "bearer.h"


int
bearer_digest_valid(const char *text)
{
    size_t prefix_len = strlen(BEARER_DIGEST_PREFIX);

    if (strncmp(text, BEARER_DIGEST_PREFIX, prefix_len) != 0 ||
        strlen(text + prefix_len) != BEARER_DIGEST_HEX)
        return 0;
    for (const char *p = text + prefix_len; *p != '\0'; p++)
        if (!isxdigit((unsigned char) *p))
            return 0;
    return 1;
}


int
bearer_token_matches(const char *token, const char *const *digests)
{
    gchar *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
                                             (const guchar *) token,
                                             strlen(token));
    int matched = 0;

    for (size_t i = 0; digests != NULL && digests[i] != NULL; i++) {
        unsigned char diff = 0;

        /* Both are 64 lowercase hex digits: the config check and GLib
         * guarantee it, so no length check can end the loop early. */
        for (size_t j = 0; j < BEARER_DIGEST_HEX; j++)
            diff |= (unsigned char) (hex[j] ^ digests[i][j]);
        matched |= diff == 0;
    }
    g_free(hex);
    return matched;
}


const char *
bearer_token(const char *value)
{
    size_t scheme = strlen("Bearer");

    if (value == NULL || strncasecmp(value, "Bearer", scheme) != 0 ||
        value[scheme] != ' ')
        return NULL;
    value += scheme;
    while (*value == ' ')
        value++;
    return *value != '\0' ? value : NULL;
}
