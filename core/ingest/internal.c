#include "ingest/internal.h"

#include <string.h>

#include "base/clock.h"


json_t *
internal_event(const char *type, const char *profile, int64_t time_ms,
               json_t *properties)
{
    json_t *event;
    char when[32];

    clock_format_ms(time_ms, when, sizeof(when));
    event = json_pack("{s:s,s:s,s:s}", "type", type, "time", when,
                      "profile_id", profile);
    if (properties != NULL)
        json_object_set_new(event, "properties", properties);
    return json_pack("{s:s,s:s,s:I,s:o}", "source", INTERNAL_EVENT_SOURCE,
                     "type", type, "time", (json_int_t) time_ms, "event",
                     event);
}


int
internal_event_type(const char *type)
{
    return strncmp(type, "segment.", 8) == 0 ||
           strncmp(type, INTERNAL_DATE_PREFIX, strlen(INTERNAL_DATE_PREFIX))
               == 0 ||
           strcmp(type, INTERNAL_PROFILE_UPDATED) == 0 ||
           strcmp(type, INTERNAL_PROFILE_MERGED) == 0 ||
           strcmp(type, INTERNAL_JOURNEY_DUE) == 0 ||
           strcmp(type, INTERNAL_DIGEST_DUE) == 0 ||
           strcmp(type, INTERNAL_SUBSCRIPTION_CONFIRMED) == 0;
}


const char *
delivery_event_status(const char *type)
{
    static const char *const types[] = {
        "email.delivered", "email.bounced", "email.complained",
        "email.failed", "sms.delivered", "sms.undelivered", "sms.failed",
        NULL
    };

    for (size_t i = 0; types[i] != NULL; i++)
        if (strcmp(type, types[i]) == 0)
            return strchr(types[i], '.') + 1;
    return NULL;
}
