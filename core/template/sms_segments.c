#include "sms_segments.h"

#include <string.h>

#include <glib.h>

/* The default alphabet's characters outside printable ASCII, in UTF-8. */
static const char gsm7_basic_non_ascii[] =
    "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";


int
sms_gsm7_septets(unsigned int c)
{
    if (c == '\n' || c == '\r')
        return 1;
    /* The extension table: form feed, the euro sign and eight ASCII. */
    if (c == '\f' || c == 0x20AC)
        return 2;
    if (c != 0 && c < 0x80 && strchr("^{}\\[]~|", (int) c) != NULL)
        return 2;
    if (c >= 0x20 && c < 0x7F)
        return c == '`' ? 0 : 1;
    if (c < 0x80)
        return 0;
    for (const char *p = gsm7_basic_non_ascii; *p != '\0';
         p = g_utf8_next_char(p)) {
        if (g_utf8_get_char(p) == c)
            return 1;
    }
    return 0;
}


/* Returns the units that `c` takes in `encoding`. */
static size_t
units_of(unsigned int c, enum sms_encoding encoding)
{
    if (encoding == SMS_ENCODING_GSM7)
        return (size_t) sms_gsm7_septets(c);
    return c > 0xFFFF ? 2 : 1;
}


int
sms_segments_count(const char *text, size_t len, struct sms_segments *out)
{
    const char *end = text + len;
    size_t single, per_part, fill = 0;
    struct sms_segments s = { .encoding = SMS_ENCODING_GSM7 };

    if (!g_utf8_validate_len(text, len, NULL))
        return -1;

    /* First pass: the encoding and the total. */
    for (const char *p = text; p < end; p = g_utf8_next_char(p)) {
        if (sms_gsm7_septets(g_utf8_get_char(p)) == 0)
            s.encoding = SMS_ENCODING_UCS2;
    }
    for (const char *p = text; p < end; p = g_utf8_next_char(p))
        s.units += units_of(g_utf8_get_char(p), s.encoding);

    single = s.encoding == SMS_ENCODING_GSM7 ? SMS_GSM7_SINGLE
                                              : SMS_UCS2_SINGLE;
    per_part = s.encoding == SMS_ENCODING_GSM7 ? SMS_GSM7_PER_PART
                                                : SMS_UCS2_PER_PART;
    if (s.units <= single) {
        s.parts = s.units > 0 ? 1 : 0;
        s.units_last_part = s.units;
        *out = s;
        return 0;
    }

    /* Second pass: fill parts without splitting a character. */
    s.parts = 1;
    for (const char *p = text; p < end; p = g_utf8_next_char(p)) {
        size_t n = units_of(g_utf8_get_char(p), s.encoding);

        if (fill + n > per_part) {
            s.parts++;
            fill = 0;
        }
        fill += n;
    }
    s.units_last_part = fill;
    *out = s;
    return 0;
}
