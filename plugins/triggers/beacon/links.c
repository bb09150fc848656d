#include <string.h>

#include <glib.h>

#include "links.h"


json_t *
links_event_build(const json_t *payload, const char *type,
                  const char *user_agent)
{
    json_t *properties = json_pack("{s:O}", "message",
                                   json_object_get(payload, "m"));
    const json_t *url = json_object_get(payload, "u");

    if (url != NULL && strcmp(type, "email.clicked") == 0)
        json_object_set(properties, "url", (json_t *) url);
    if (user_agent != NULL && user_agent[0] != '\0') {
        char *valid = g_utf8_make_valid(user_agent, -1);

        json_object_set_new(properties, "user_agent", json_string(valid));
        g_free(valid);
    }
    return json_pack("{s:s,s:O,s:o}", "type", type, "profile",
                     json_object_get(payload, "p"), "properties",
                     properties);
}
