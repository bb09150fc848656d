/*
 * admin.test_recipients: the staff addresses that a test send
 * (POST /v1/templates/{name}/test) may go to. An entry is a whole
 * address ("ana@example.gov") or "@" and a domain ("@example.gov"), which
 * allows every address at exactly that domain (not its subdomains).
 * Both compare without regard to ASCII case.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "server/server.h"


/* Returns 1 when `entry` is "@domain" or "local@domain" with one '@'. */
static int
recipient_entry_valid(const char *entry)
{
    const char *at = strchr(entry, '@');

    return at != NULL && strchr(at + 1, '@') == NULL && at[1] != '\0'
           && strchr(entry, ' ') == NULL && strchr(at, '.') != NULL;
}


int
admin_test_recipients_load(struct config *cfg, const json_t *list,
                           struct settings *s)
{
    size_t i, n;

    if (list == NULL)
        return 0;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        config_fail(cfg, "admin.test_recipients", "must be a list of "
                    "addresses and domains such as [ \"@example.gov\", "
                    "\"ana@example.org\" ]");
        return CRIER_ECONFIG;
    }
    n = json_array_size(list);
    s->test_recipients = g_new0(char *, n + 1);
    for (i = 0; i < n; i++) {
        const char *entry = json_string_value(json_array_get(list, i));
        char key[48];

        if (entry == NULL || !recipient_entry_valid(entry)) {
            snprintf(key, sizeof(key), "admin.test_recipients[%zu]", i);
            config_fail(cfg, key, "must be an address (\"ana@example.gov\")"
                        " or \"@\" and a domain (\"@example.gov\")");
            return CRIER_ECONFIG;
        }
        s->test_recipients[i] = g_ascii_strdown(entry, -1);
    }
    return 0;
}


int
admin_test_recipient_allowed(const char *to, char *const *allowed)
{
    const char *at = to != NULL ? strchr(to, '@') : NULL;
    size_t i;

    if (at == NULL || at == to || strchr(at + 1, '@') != NULL)
        return 0;
    for (i = 0; allowed != NULL && allowed[i] != NULL; i++) {
        const char *entry = allowed[i];

        if (entry[0] == '@' ? g_ascii_strcasecmp(at, entry) == 0
                            : g_ascii_strcasecmp(to, entry) == 0)
            return 1;
    }
    return 0;
}
