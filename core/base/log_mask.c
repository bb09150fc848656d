/*
 * Masks personal data in a log record before it is written: email
 * addresses keep their first character and domain ("a**@example.gov"),
 * and E.164 phone numbers keep "+" and their last two digits
 * ("+*********00"). Masking keeps the length, so it works in place.
 */
#include "base/log.h"

#include <ctype.h>
#include <string.h>


static int
is_local_char(unsigned char c)
{
    return isalnum(c) || strchr("._%+-'", c) != NULL;
}


static int
is_domain_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-';
}


/* Masks the address around the '@' at s[at], and returns the index
 * after it. */
static size_t
email_mask(char *s, size_t len, size_t at)
{
    size_t start = at, end = at + 1, dots = 0;

    while (start > 0 && is_local_char((unsigned char) s[start - 1]))
        start--;
    while (end < len && is_domain_char((unsigned char) s[end])) {
        dots += s[end] == '.';
        end++;
    }
    if (start == at || end == at + 1 || dots == 0)
        return at + 1;
    for (size_t i = start + 1; i < at; i++)
        s[i] = '*';
    return end;
}


/* Masks "+" and 8 to 15 digits at s[plus], and returns the index
 * after it. */
static size_t
phone_mask(char *s, size_t len, size_t plus)
{
    size_t end = plus + 1;

    while (end < len && isdigit((unsigned char) s[end]))
        end++;
    if (end - plus - 1 < 8 || end - plus - 1 > 15 ||
        (plus > 0 && isalnum((unsigned char) s[plus - 1])))
        return plus + 1;
    for (size_t i = plus + 1; i + 2 < end; i++)
        s[i] = '*';
    return end;
}


void
log_mask_personal(char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        if (s[i] == '@')
            i = email_mask(s, len, i);
        else if (s[i] == '+')
            i = phone_mask(s, len, i);
        else
            i++;
    }
}
