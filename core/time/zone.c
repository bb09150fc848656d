/*
 * Zone lookup: a profile's zone name, checked by the rules of the
 * `timezone` attribute type, with the agency's default zone behind it.
 */
#include <crier/error.h>

#include "profile/attributes.h"
#include "time/civil.h"

/* g_time_zone_new_identifier, which returns NULL for an unknown name,
 * arrived in GLib 2.68. The older g_time_zone_new returns UTC instead,
 * which would hide a typo in a zone name. */
#if !GLIB_CHECK_VERSION(2, 68, 0)
#error "core/time needs GLib 2.68 or later"
#endif

static GTimeZone *default_zone;


GTimeZone *
civil_zone_open(const char *name)
{
    if (name == NULL || !attribute_timezone_valid(name)) {
        return NULL;
    }
    return g_time_zone_new_identifier(name);
}


int
civil_zone_set_default(const char *name)
{
    GTimeZone *zone = civil_zone_open(name);

    if (zone == NULL) {
        return CRIER_EINVAL;
    }
    if (default_zone != NULL) {
        g_time_zone_unref(default_zone);
    }
    default_zone = zone;
    return 0;
}


GTimeZone *
civil_zone_default(void)
{
    if (default_zone == NULL) {
        default_zone = g_time_zone_new_utc();
    }
    return default_zone;
}


GTimeZone *
civil_zone_or_default(const char *name)
{
    GTimeZone *zone = name != NULL ? civil_zone_open(name) : NULL;

    return zone != NULL ? zone : g_time_zone_ref(civil_zone_default());
}
