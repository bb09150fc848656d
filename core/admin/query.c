#include <string.h>

#include "admin/admin_int.h"


static void
param_free(gpointer data)
{
    struct admin_param *param = data;

    g_free(param->name);
    g_free(param->value);
    g_free(param);
}


GPtrArray *
admin_query_parse(const char *query)
{
    GPtrArray *params = g_ptr_array_new_with_free_func(param_free);
    gchar **pieces = g_strsplit(query, "&", -1);

    for (gchar **piece = pieces; *piece != NULL; piece++) {
        char *eq = strchr(*piece, '=');
        struct admin_param *param;

        if (**piece == '\0')
            continue;
        if (eq != NULL)
            *eq = '\0';
        param = g_new0(struct admin_param, 1);
        g_ptr_array_add(params, param);
        param->name = g_uri_unescape_string(*piece, NULL);
        param->value = g_uri_unescape_string(eq != NULL ? eq + 1 : "", NULL);
        if (param->name == NULL || param->value == NULL) {
            g_ptr_array_free(params, TRUE);
            params = NULL;
            break;
        }
    }
    g_strfreev(pieces);
    return params;
}
