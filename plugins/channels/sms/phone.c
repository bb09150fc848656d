#include "phone.h"

#include <string.h>

#include <glib.h>

#define DIGITS_MAX 32
#define E164_DIGITS_MIN 8          /* Cook Islands: "+682 50 123" */
#define E164_DIGITS_MAX 15         /* ITU-T E.164 */

/*
 * Regions whose national numbers crier can complete. The lengths are the
 * national significant numbers in use: 10 for the North American plan,
 * 9 or 10 in the UK (the 9-digit ones are older area codes such as
 * 016064 1234). A region missing here can still be reached with "+".
 */
static const struct phone_region regions[] = {
    { "US", "1", "1", "011", 10, 10 },
    { "CA", "1", "1", "011", 10, 10 },
    { "GB", "44", "0", "00", 9, 10 },
    { "IE", "353", "0", "00", 7, 9 },
    { "FR", "33", "0", "00", 9, 9 },
    { "AU", "61", "0", "0011", 9, 9 },
};


const struct phone_region *
phone_region_find(const char *code)
{
    for (size_t i = 0; i < G_N_ELEMENTS(regions); i++) {
        if (g_ascii_strcasecmp(regions[i].code, code) == 0)
            return &regions[i];
    }
    return NULL;
}


/* Returns nonzero for the characters people put between digits. */
static int
is_separator(gunichar c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '.' ||
           c == '-' || c == '/' || c == '(' || c == ')' || c == 0xA0 ||
           (c >= 0x2000 && c <= 0x200D) ||     /* spaces, zero width */
           (c >= 0x2010 && c <= 0x2015) ||     /* hyphens and dashes */
           c == 0x2060 || c == 0x2212 || c == 0xFEFF;
}


/*
 * Collects the digits of `input` into `digits`; *plus is set when a '+'
 * came before the first digit. A "(0)" after the first digit is the
 * trunk prefix that UK numbers show after their country code, and it is
 * dropped.
 */
static enum phone_error
digits_collect(const char *input, char digits[DIGITS_MAX + 1], int *plus)
{
    size_t n = 0;

    *plus = 0;
    if (!g_utf8_validate(input, -1, NULL))
        return PHONE_UNKNOWN_CHARACTER;
    for (const char *p = input; *p != '\0'; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (n > 0 && strncmp(p, "(0)", 3) == 0) {
            p += 2;
            continue;
        }
        if (c >= '0' && c <= '9') {
            if (n == DIGITS_MAX)
                return PHONE_TOO_LONG;
            digits[n++] = (char) c;
        } else if (c == '+' && n == 0 && !*plus) {
            *plus = 1;
        } else if (!is_separator(c)) {
            return PHONE_UNKNOWN_CHARACTER;
        }
    }
    digits[n] = '\0';
    return n > 0 ? PHONE_OK : PHONE_TOO_SHORT;
}


static int
starts_with(const char *s, const char *prefix)
{
    return prefix[0] != '\0' && strncmp(s, prefix, strlen(prefix)) == 0;
}


/* Checks the national significant number `nsn` against `region`. */
static enum phone_error
nsn_check(const char *nsn, const struct phone_region *region)
{
    int len = (int) strlen(nsn);

    if (len < region->nsn_min)
        return PHONE_TOO_SHORT;
    if (len > region->nsn_max)
        return PHONE_TOO_LONG;
    /* North American area codes and exchanges start with 2 to 9. */
    if (strcmp(region->country_code, "1") == 0 &&
        (nsn[0] < '2' || nsn[3] < '2'))
        return PHONE_INVALID;
    return PHONE_OK;
}


/* Checks the digits of an international number: country code first. */
static enum phone_error
international_check(const char *digits)
{
    size_t len = strlen(digits);

    if (digits[0] == '0')
        return PHONE_INVALID;          /* no country code starts with 0 */
    if (len < E164_DIGITS_MIN)
        return PHONE_TOO_SHORT;
    if (len > E164_DIGITS_MAX)
        return PHONE_TOO_LONG;
    for (size_t i = 0; i < G_N_ELEMENTS(regions); i++) {
        if (starts_with(digits, regions[i].country_code))
            return nsn_check(digits + strlen(regions[i].country_code),
                             &regions[i]);
    }
    return PHONE_OK;
}


/*
 * Completes the national number `digits` of `region`. A number too long
 * for the region that starts with the region's country code and fits
 * after it was typed without its "+" ("44 117 496 0860").
 */
static enum phone_error
national_to_e164(const char *digits, const struct phone_region *region,
                 char out[PHONE_E164_MAX + 1])
{
    const char *nsn = digits;
    enum phone_error rc;

    if (starts_with(nsn, region->trunk_prefix))
        nsn += strlen(region->trunk_prefix);
    rc = nsn_check(nsn, region);
    if (rc == PHONE_TOO_LONG && starts_with(digits, region->country_code) &&
        international_check(digits) == PHONE_OK) {
        g_snprintf(out, PHONE_E164_MAX + 1, "+%s", digits);
        return PHONE_OK;
    }
    if (rc != PHONE_OK)
        return rc;
    g_snprintf(out, PHONE_E164_MAX + 1, "+%s%s", region->country_code, nsn);
    return PHONE_OK;
}


enum phone_error
phone_to_e164(const char *input, const struct phone_region *region,
              char out[PHONE_E164_MAX + 1])
{
    char digits[DIGITS_MAX + 1];
    const char *international = NULL;
    enum phone_error rc;
    int plus;

    rc = digits_collect(input, digits, &plus);
    if (rc != PHONE_OK)
        return rc;
    if (plus)
        international = digits;
    else if (region != NULL && starts_with(digits, region->idd_prefix))
        international = digits + strlen(region->idd_prefix);
    else if (region == NULL)
        return PHONE_INVALID;

    if (international == NULL)
        return national_to_e164(digits, region, out);
    if (international[0] == '\0')
        return PHONE_TOO_SHORT;
    rc = international_check(international);
    if (rc == PHONE_OK)
        g_snprintf(out, PHONE_E164_MAX + 1, "+%s", international);
    return rc;
}


const char *
phone_error_text(enum phone_error error)
{
    switch (error) {
    case PHONE_OK:
        return "is valid";
    case PHONE_UNKNOWN_CHARACTER:
        return "contains a character that is not a digit or a separator";
    case PHONE_TOO_SHORT:
        return "is too short";
    case PHONE_TOO_LONG:
        return "is too long";
    case PHONE_INVALID:
    default:
        return "is not a valid phone number; write it in E.164, such as "
               "+13125550100";
    }
}
