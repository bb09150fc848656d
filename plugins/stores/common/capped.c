/*
 * job_sending_capped: the parsing of its request and the rule that every
 * store applies, so that a cap is counted the same way in each.
 */
#include <stdlib.h>
#include <string.h>

#include <crier/error.h>

#include "model.h"


/* Reads one {"since", "max", "lane"} entry of "caps". */
static int
cap_limit_parse(const json_t *json, struct cap_limit *out)
{
    int rc;

    if (!json_is_object(json))
        return CRIER_EINVAL;
    rc = member_integer(json, "since", 1, 0, &out->since);
    if (rc == 0)
        rc = member_integer(json, "max", 1, 0, &out->max);
    if (rc == 0 && out->max < 1)
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = member_integer(json, "lane", 0, -1, &out->lane);
    if (rc == 0 && (out->lane < -1 || out->lane > JOB_LANE_MAX))
        rc = CRIER_EINVAL;
    return rc;
}


static int
cap_limits_parse(const json_t *json, struct capped_sending *out)
{
    json_t *caps = json_object_get(json, "caps");
    size_t i;
    json_t *cap;

    if (!json_is_array(caps) || json_array_size(caps) == 0
        || json_array_size(caps) > CAPPED_CAPS_MAX)
        return CRIER_EINVAL;
    out->caps = calloc(json_array_size(caps), sizeof(*out->caps));
    if (out->caps == NULL)
        return CRIER_ENOMEM;
    json_array_foreach(caps, i, cap) {
        int rc = cap_limit_parse(cap, &out->caps[i]);

        if (rc < 0)
            return rc;
        out->cap_count++;
    }
    return 0;
}


int
capped_parse(const json_t *json, struct capped_sending *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = change_parse(json, &out->change);
    if (rc < 0)
        return rc;
    if (out->change.state != JOB_SENDING)
        rc = CRIER_EINVAL;
    if (rc == 0)
        rc = cap_limits_parse(json, out);
    if (rc == 0)
        rc = member_string(json, "cap_error", 1, &out->cap_error);
    if (rc < 0)
        capped_clear(out);
    return rc;
}


void
capped_clear(struct capped_sending *capped)
{
    change_clear(&capped->change);
    free(capped->caps);
    free(capped->cap_error);
    memset(capped, 0, sizeof(*capped));
}


struct sent_query
cap_sent_query(const struct cap_limit *cap, const struct job *job)
{
    struct sent_query query = {
        .profile = job->profile,
        .channel = job->channel,
        .since = cap->since,
        .lane = cap->lane,
    };

    return query;
}


struct job_change
capped_suppression(const struct capped_sending *capped)
{
    struct job_change change = {
        .id = capped->change.id,
        .generation = capped->change.generation,
        .now = capped->change.now,
        .state = JOB_SUPPRESSED,
        .error = capped->cap_error,
    };

    return change;
}
