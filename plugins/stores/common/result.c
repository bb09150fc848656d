/*
 * The JSON results of store operations, in the form that
 * docs/internals/store.md defines.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <crier/error.h>

#include "model.h"
#include "stored_json.h"


/* Returns an integer, or null when `present` is zero. */
static json_t *
integer_or_null(int present, int64_t value)
{
    return present ? json_integer((json_int_t)value) : json_null();
}


/* Returns a string, or null for NULL. */
static json_t *
string_or_null(const char *text)
{
    return text != NULL ? json_string(text) : json_null();
}


/*
 * Returns a string for text that a store read back from what it wrote, or
 * NULL for NULL. Stores write only text taken from JSON strings, which
 * jansson checked as UTF-8 when they were made, and the names of job
 * states, so the check is not repeated for each claimed job.
 */
static json_t *
stored_string(const char *text)
{
    return json_string_nocheck(text);
}


/* Returns stored_string(text), or null for NULL. */
static json_t *
stored_string_or_null(const char *text)
{
    return text != NULL ? json_string_nocheck(text) : json_null();
}


/*
 * Sets member `key` of `object` to `value` and takes over the reference.
 * Keys are string constants of this file, so they skip jansson's UTF-8
 * check. A NULL value, from an allocation that failed, returns -1.
 * The builders below set members one by one because json_pack parses
 * its format string on every call, which cost more than the members
 * themselves on the claim path.
 */
static int
member_set(json_t *object, const char *key, json_t *value)
{
    return json_object_set_new_nocheck(object, key, value);
}


/* Returns `object`, or frees it and returns NULL when `rc` records that a
 * member could not be set. */
static json_t *
object_or_fail(json_t *object, int rc)
{
    if (rc == 0)
        return object;
    json_decref(object);
    return NULL;
}


json_t *
event_body_json(const char *body, size_t body_len)
{
    json_t *event = stored_json_loadb(body, body_len);

    /* The core appends JSON that it serialized itself, so text that does
     * not parse means a damaged file or a caller that broke that contract.
     * The event then reads as null. */
    return event != NULL ? event : json_null();
}


json_t *
event_json(int64_t seq, const char *source, const char *id,
           const char *type, int64_t time_ms, const char *body,
           size_t body_len)
{
    json_t *object = json_object();
    int rc = 0;

    if (object == NULL)
        return NULL;
    rc |= member_set(object, "seq", json_integer((json_int_t)seq));
    rc |= member_set(object, "source", json_string(source));
    rc |= member_set(object, "id", string_or_null(id));
    rc |= member_set(object, "type", json_string(type));
    rc |= member_set(object, "time", json_integer((json_int_t)time_ms));
    rc |= member_set(object, "event", event_body_json(body, body_len));
    return object_or_fail(object, rc);
}


/* Adds the members that may be null, which json_pack cannot express,
 * and the claim order. */
static json_t *
job_nullable_add(json_t *object, const struct job *job)
{
    int rc = 0;

    if (object == NULL)
        return NULL;
    rc |= member_set(object, "lane", json_integer(job->lane));
    rc |= member_set(object, "priority", json_integer(job->priority));
    rc |= member_set(object, "event_seq",
                     integer_or_null(job->event_seq > 0, job->event_seq));
    return object_or_fail(object, rc);
}


json_t *
job_listed_json(const struct job *job)
{
    json_t *object;

    object = json_pack("{s:I, s:s, s:s, s:s?, s:s, s:s, s:s?, s:s?, s:s,"
                       " s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?,"
                       " s:I, s:I, s:I}",
                       "id", (json_int_t)job->id, "key", job->key,
                       "rule", job->rule, "program", job->program,
                       "channel", job->channel,
                       "template", job->template_name, "to", job->to,
                       "profile", job->profile,
                       "state", job_state_name(job->state),
                       "generation", (json_int_t)job->generation,
                       "attempts", (json_int_t)job->attempts,
                       "owner", job->owner,
                       "message_id", job->message_id,
                       "provider_id", job->provider_id,
                       "error", job->error, "last_error", job->last_error,
                       "language", job->language,
                       "due", (json_int_t)job->due,
                       "created", (json_int_t)job->created,
                       "updated", (json_int_t)job->updated);
    object = job_nullable_add(object, job);
    if (object != NULL && job->template_version != NULL
        && json_object_set_new(object, "template_version",
                               json_string(job->template_version)) < 0) {
        json_decref(object);
        return NULL;
    }
    if (object != NULL && job->delivery_status != NULL
        && json_object_set_new(object, "delivery",
                               json_pack("{s:s, s:s?, s:s?, s:I}",
                                         "status", job->delivery_status,
                                         "code", job->delivery_code,
                                         "text", job->delivery_text, "time",
                                         (json_int_t)job->delivery_time))
           < 0) {
        json_decref(object);
        return NULL;
    }
    if (object != NULL
        && json_object_set_new(object, "lease_until",
                               integer_or_null(job->leased,
                                               job->lease_until)) < 0) {
        json_decref(object);
        return NULL;
    }
    return object;
}


json_t *
job_attempts_json(const struct job *job)
{
    json_t *list = json_array();

    for (size_t i = 0; list != NULL && i < job->attempt_count; i++) {
        const struct job_attempt *a = &job->attempt_log[i];

        if (json_array_append_new(list, json_pack(
                "{s:I, s:I, s:s, s:s?}", "number", (json_int_t)a->number,
                "time", (json_int_t)a->time, "outcome", a->outcome,
                "reply", a->reply)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}


json_t *
job_claimed_json(const struct job *job, enum job_state was, json_t *event,
                 json_t *profile)
{
    json_t *object = json_object();
    int rc = 0;

    if (object == NULL) {
        json_decref(event);
        json_decref(profile);
        return NULL;
    }
    rc |= member_set(object, "id", json_integer((json_int_t)job->id));
    rc |= member_set(object, "key", stored_string(job->key));
    rc |= member_set(object, "rule", stored_string(job->rule));
    rc |= member_set(object, "program",
                     stored_string_or_null(job->program));
    rc |= member_set(object, "channel", stored_string(job->channel));
    rc |= member_set(object, "template", stored_string(job->template_name));
    rc |= member_set(object, "to", stored_string_or_null(job->to));
    rc |= member_set(object, "profile_id",
                     stored_string_or_null(job->profile));
    rc |= member_set(object, "generation",
                     json_integer((json_int_t)job->generation));
    rc |= member_set(object, "attempts",
                     json_integer((json_int_t)job->attempts));
    rc |= member_set(object, "state",
                     stored_string(job_state_name(job->state)));
    rc |= member_set(object, "was", stored_string(job_state_name(was)));
    rc |= member_set(object, "due", json_integer((json_int_t)job->due));
    rc |= member_set(object, "lease_until",
                     json_integer((json_int_t)job->lease_until));
    rc |= member_set(object, "message_id",
                     stored_string_or_null(job->message_id));
    rc |= member_set(object, "event", event != NULL ? event : json_null());
    rc |= member_set(object, "profile",
                     profile != NULL ? profile : json_null());
    return job_nullable_add(object_or_fail(object, rc), job);
}


json_t *
claim_event_get(const struct claim_event *kept, int64_t seq)
{
    if (kept->event == NULL || kept->seq != seq)
        return NULL;
    return json_incref(kept->event);
}


void
claim_event_keep(struct claim_event *kept, int64_t seq, json_t *event)
{
    json_decref(kept->event);
    kept->seq = seq;
    kept->event = json_incref(event);
}


void
claim_event_clear(struct claim_event *kept)
{
    json_decref(kept->event);
    kept->seq = 0;
    kept->event = NULL;
}


int
stored_text_empty(const char *text)
{
    return text == NULL || text[0] == '\0'
           || (text[0] == '{' && text[1] == '}' && text[2] == '\0');
}


/* Parses a stored JSON object, or returns {} for text that does not
 * parse. As with events, only a damaged file gives such text. */
static json_t *
stored_object(const char *text)
{
    json_t *parsed;

    if (stored_text_empty(text))
        return json_object();
    parsed = stored_json_load(text);
    if (json_is_object(parsed))
        return parsed;
    json_decref(parsed);
    return json_object();
}


json_t *
profile_json(const char *id, const char *attributes, const char *consent,
             const char *related, int times, int64_t created,
             int64_t updated)
{
    json_t *object = json_object();
    int rc = 0;

    if (object == NULL)
        return NULL;
    rc |= member_set(object, "id", stored_string(id));
    rc |= member_set(object, "attributes", stored_object(attributes));
    rc |= member_set(object, "consent", stored_object(consent));
    rc |= member_set(object, "related", related_object(related));
    rc |= member_set(object, "identities", json_array());
    rc |= member_set(object, "stages", json_object());
    if (times) {
        rc |= member_set(object, "created", json_integer(created));
        rc |= member_set(object, "updated", json_integer(updated));
    }
    return object_or_fail(object, rc);
}


int
profile_json_add_identity(json_t *profile, const char *kind,
                          const char *value)
{
    json_t *identity = json_object();
    json_t *list = json_object_get(profile, "identities");
    int rc = 0;

    if (identity == NULL)
        return CRIER_ENOMEM;
    rc |= member_set(identity, "kind", stored_string(kind));
    rc |= member_set(identity, "value", stored_string(value));
    if (object_or_fail(identity, rc) == NULL
        || json_array_append_new(list, identity) < 0)
        return CRIER_ENOMEM;
    return 0;
}


int
profile_json_add_stage(json_t *profile, const char *program,
                       const char *stage, int64_t since)
{
    json_t *entry = json_object();
    json_t *stages = json_object_get(profile, "stages");
    int rc = 0;

    if (entry == NULL)
        return CRIER_ENOMEM;
    rc |= member_set(entry, "stage", stored_string(stage));
    rc |= member_set(entry, "since", json_integer((json_int_t)since));
    if (object_or_fail(entry, rc) == NULL
        || json_object_set_new(stages, program, entry) < 0)
        return CRIER_ENOMEM;
    return 0;
}


json_t *
timeline_event_json(int64_t seq, int64_t time, const char *type,
                    const char *body, size_t body_len)
{
    return json_pack("{s:s, s:I, s:I, s:s, s:o}", "kind", "event",
                     "time", (json_int_t)time, "seq", (json_int_t)seq,
                     "type", type, "event", event_body_json(body, body_len));
}


json_t *
timeline_stage_json(int64_t time, const char *program, const char *from,
                    const char *to, const char *rule, int64_t event_seq)
{
    return json_pack("{s:s, s:I, s:s, s:s?, s:s, s:s?, s:o}",
                     "kind", "stage", "time", (json_int_t)time,
                     "program", program, "from", from, "to", to,
                     "rule", rule, "event_seq",
                     integer_or_null(event_seq > 0, event_seq));
}


json_t *
timeline_message_json(int64_t job_id, int64_t created, const char *rule,
                      const char *channel, const char *state,
                      const char *message_id, const char *error)
{
    return json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s?, s:s?}",
                     "kind", "message", "time", (json_int_t)created,
                     "job", (json_int_t)job_id, "rule", rule,
                     "channel", channel, "state", state,
                     "message_id", message_id, "error", error);
}


json_t *
timeline_result(json_t *entries, const struct timeline_key *next)
{
    char cursor[80];

    if (entries == NULL)
        return NULL;
    if (next == NULL)
        return json_pack("{s:o, s:n}", "entries", entries, "next");
    snprintf(cursor, sizeof(cursor), "%lld:%d:%lld", (long long)next->time,
             next->kind, (long long)next->id);
    return json_pack("{s:o, s:s}", "entries", entries, "next", cursor);
}


/* Builds the same text as the sqlite store's SQL: integer division keeps
 * the two equal for times from 1970 on, which are all that ingest
 * accepts. */
char *
erased_body(const char *type, int64_t time_ms)
{
    time_t seconds = (time_t)(time_ms / 1000);
    char when[64];
    struct tm tm;
    json_t *body;
    char *text;

    if (gmtime_r(&seconds, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(time_ms % 1000));
    body = json_pack("{s:s, s:s, s:b}", "type", type, "time", when,
                     "erased", 1);
    if (body == NULL)
        return NULL;
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}


json_t *
erase_result(const struct erase_counts *counts, const char *merged_into)
{
    if (counts != NULL)
        return json_pack("{s:b, s:I, s:I, s:I}", "erased", 1,
                         "events", (json_int_t)counts->events,
                         "jobs", (json_int_t)counts->jobs,
                         "suppressed", (json_int_t)counts->suppressed);
    if (merged_into != NULL)
        return json_pack("{s:b, s:s}", "erased", 0, "merged_into",
                         merged_into);
    return json_pack("{s:b}", "erased", 0);
}


json_t *
schema_status_result(const char *store, int version, int latest,
                     const char *(*title)(int version))
{
    json_t *pending = json_array();

    for (int next = version + 1; pending != NULL && next <= latest; next++)
        if (json_array_append_new(pending, json_pack(
                "{s:i, s:s}", "version", next, "title", title(next))) != 0) {
            json_decref(pending);
            pending = NULL;
        }
    if (pending == NULL)
        return NULL;
    return json_pack("{s:s, s:i, s:i, s:i, s:o}", "store", store,
                     "version", version, "latest", latest, "found", version,
                     "pending", pending);
}
