#include "email_address.h"

#include <string.h>

/* The characters of an atom besides letters and digits (RFC 5322). */
#define ATEXT_SPECIALS "!#$%&'*+-/=?^_`{|}~"


static int
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}


/* Returns nonzero when [start, end) is a dot-atom: atoms joined by single
 * dots, with no dot at either end. */
static int
dot_atom_valid(const char *start, const char *end)
{
    int after_dot = 1;

    for (const char *p = start; p < end; p++) {
        unsigned char c = (unsigned char) *p;

        if (c == '.') {
            if (after_dot)
                return 0;
            after_dot = 1;
        } else if (is_alnum(c) ||
                   (c != '\0' && strchr(ATEXT_SPECIALS, c) != NULL)) {
            after_dot = 0;
        } else {
            return 0;
        }
    }
    return !after_dot;
}


/* Returns nonzero when [start, end) is one host name label. */
static int
label_valid(const char *start, const char *end)
{
    size_t len = (size_t) (end - start);

    if (len == 0 || len > EMAIL_LABEL_MAX || start[0] == '-' ||
        end[-1] == '-')
        return 0;
    for (const char *p = start; p < end; p++) {
        if (!is_alnum((unsigned char) *p) && *p != '-')
            return 0;
    }
    return 1;
}


/* Returns nonzero when `domain` is a host name of two or more labels
 * whose last label is not all digits, so that it is no IPv4 address. */
static int
domain_valid(const char *domain)
{
    const char *label = domain;
    const char *last = NULL;
    int labels = 0;

    for (;;) {
        const char *dot = strchr(label, '.');
        const char *end = dot != NULL ? dot : label + strlen(label);

        if (!label_valid(label, end))
            return 0;
        labels++;
        last = label;
        if (dot == NULL)
            break;
        label = dot + 1;
    }
    if (labels < 2)
        return 0;
    return strspn(last, "0123456789") != strlen(last);
}


int
email_address_valid(const char *address)
{
    const char *at;
    size_t len;

    if (address == NULL)
        return 0;
    len = strlen(address);
    at = strchr(address, '@');
    if (len > EMAIL_ADDRESS_MAX || at == NULL || at == address ||
        (size_t) (at - address) > EMAIL_LOCAL_PART_MAX)
        return 0;
    return dot_atom_valid(address, at) && domain_valid(at + 1);
}
