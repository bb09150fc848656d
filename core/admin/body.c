/* Checks shared by the JSON bodies of the admin routes. */
#include <string.h>

#include "admin/admin_int.h"


const char *
admin_member_unknown(const json_t *body, const char *const *known)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *) body, key, value) {
        size_t i = 0;

        while (known[i] != NULL && strcmp(known[i], key) != 0)
            i++;
        if (known[i] == NULL)
            return key;
    }
    return NULL;
}
