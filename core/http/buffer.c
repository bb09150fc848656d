/*
 * Growable byte buffers for requests and responses.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "http/http_int.h"


/* Makes room for `extra` more bytes, at least doubling the capacity. */
int
http_buf_reserve(struct http_buf *buf, size_t extra)
{
    size_t need;
    size_t cap;
    char *data;

    if (extra > SIZE_MAX - buf->len)
        return CRIER_ENOMEM;
    need = buf->len + extra;
    if (need <= buf->cap)
        return 0;

    cap = buf->cap > 0 ? buf->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;

    data = realloc(buf->data, cap);
    if (data == NULL)
        return CRIER_ENOMEM;
    buf->data = data;
    buf->cap = cap;
    return 0;
}


int
http_buf_append(struct http_buf *buf, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (http_buf_reserve(buf, len) < 0)
        return CRIER_ENOMEM;
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}


int
http_buf_append_str(struct http_buf *buf, const char *text)
{
    return http_buf_append(buf, text, strlen(text));
}


void
http_buf_free(struct http_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}
