/*
 * The C form of store requests and job records, and the JSON results built
 * from them.
 *
 * Both the sqlite and the memory store compile request.c, job.c and
 * result.c, so they accept and reject the same requests and build the same
 * results. The parsers run on the loop thread, so a bad request is
 * rejected with CRIER_EINVAL before it is queued. docs/internals/store.md
 * defines every member.
 */
#ifndef CRIER_STORE_MODEL_H
#define CRIER_STORE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <crier/store.h>

/* jobs_list returns this many jobs when the request names no limit. */
#define JOBS_LIST_DEFAULT 100

#define JOBS_LIMIT_MAX CRIER_JOBS_LIMIT_MAX

/* timeline returns this many entries when the request names no limit,
 * and never more than TIMELINE_LIMIT_MAX. */
#define TIMELINE_LIMIT_DEFAULT 50
#define TIMELINE_LIMIT_MAX 500

/* The largest limit that events_expire accepts. */
#define EXPIRE_LIMIT_MAX 10000

/* profiles_scan returns this many profiles when the request names no
 * limit, and never more than SCAN_LIMIT_MAX. */
#define SCAN_LIMIT_DEFAULT 100
#define SCAN_LIMIT_MAX 1000

/* segment_members returns this many members when the request names no
 * limit, and never more than SEGMENT_MEMBERS_MAX. */
#define SEGMENT_MEMBERS_DEFAULT 100
#define SEGMENT_MEMBERS_MAX 1000

/* events_recent returns at most this many events per profile, its
 * default limit, and takes at most EVENTS_RECENT_PROFILES_MAX profiles
 * in one request. */
#define EVENTS_RECENT_LIMIT_MAX 1000
#define EVENTS_RECENT_PROFILES_MAX 1000

/* A chain of merges longer than this ends profile_get's search. */
#define MERGE_CHAIN_MAX 64

/* The error, and the reason for suppression, that profile_erase writes
 * into the jobs of an erased profile. */
#define ERASED_ERROR "erased"

/* The error, and the reason for suppression, of a job planned for an
 * experiment's holdout: stored suppressed, never claimed. */
#define HOLDOUT_ERROR "holdout"

/* The claim lanes: every due job of a lower lane is claimed before any
 * job of a higher one. Service messages (statutory or transactional) use
 * lane 0, so a large outreach send never delays them. */
#define JOB_LANE_SERVICE  0
#define JOB_LANE_OUTREACH 1
#define JOB_LANE_BULK     2     /* bulletins, which no cap counts */
#define JOB_LANE_MAX      2

enum job_state {
    JOB_PLANNED = 0,
    JOB_CLAIMED,
    JOB_SENDING,
    JOB_SENT,
    JOB_FAILED,
    JOB_DEAD,
    JOB_SUPPRESSED,
    JOB_STATE_COUNT
};

struct identity {
    char *kind;
    char *value;
};

struct identity_list {
    struct identity *items;
    size_t count;
};

/*
 * A profile in a pipeline batch, with `attributes`, `consent` and
 * `related` as compact JSON text. `consent` and `related` are NULL when
 * the batch leaves the stored map as it is.
 */
struct profile_write {
    char *id;
    int64_t created;
    int64_t updated;
    char *attributes;
    char *consent;
    char *related;
    struct identity_list identities;
};

/* A stage move. `from` and `rule` may be NULL, and `event_seq` is 0 for
 * none. */
struct stage_move {
    char *profile;
    char *program;
    char *from;
    char *to;
    char *rule;
    int64_t time;
    int64_t event_seq;
};

/* A merge of profile `from` into profile `into`. */
struct profile_merge {
    char *from;
    char *into;
    int64_t time;
};

/* A link of the stored event `seq` to `profile`. */
struct event_link {
    int64_t seq;
    char *profile;
};

/*
 * One job: a planned job in a batch, or a stored job. Optional strings are
 * NULL when absent, `event_seq` is 0 when the job has no event, and
 * `lease_until` counts only while `leased` is nonzero.
 */
/* One hand-over of a job to its channel and the channel's verdict. */
struct job_attempt {
    int64_t number;             /* from 1, the job's attempt count then */
    int64_t time;               /* when the verdict came, ms since 1970 */
    char *outcome;              /* "sent", "retry" or "failed" */
    char *reply;                /* the provider's reply, or NULL */
};

struct job {
    int64_t id;
    char *key;
    char *rule;
    char *program;
    char *profile;
    char *channel;
    char *template_name;
    char *to;
    int64_t event_seq;
    int64_t lane;               /* JOB_LANE_*: claimed lane by lane */
    int64_t priority;           /* higher first among jobs due together */
    enum job_state state;
    int64_t generation;
    int64_t attempts;
    int64_t due;
    int leased;
    int64_t lease_until;
    char *owner;
    char *message_id;
    char *provider_id;
    char *error;
    char *last_error;
    char *language;             /* the template variant's tag, or NULL */
    char *template_version;     /* of the variant used, or NULL */
    /* The last delivery status a provider reported after `sent`, with
     * its code, text and time; NULL members when none came. */
    char *delivery_status;
    char *delivery_code;
    char *delivery_text;
    int64_t delivery_time;
    int64_t created;
    int64_t updated;
    /* The attempts, oldest first. The memory store keeps them all here;
     * the SQLite store reads them only for a jobs_list request that sets
     * "attempts". */
    struct job_attempt *attempt_log;
    size_t attempt_count;
};

/* A profile entering (`member` nonzero) or leaving a segment. */
struct segment_change {
    char *segment;
    char *profile;
    int member;
    int64_t time;
};

/* A segment_count or segment_members request. `after` is NULL for the
 * first page, and segment_count reads only `segment`. */
struct segment_query {
    char *segment;
    char *after;
    size_t limit;
};

/* An events_recent request: the events of `profiles` whose time is at
 * least `since`, at most `limit` per profile. */
struct recent_request {
    char **profiles;
    size_t profile_count;
    int64_t since;
    size_t limit;
};

/*
 * An event that a commit appends, such as segment.entered: `body` is the
 * event as compact JSON text, and `time` is both its time and the time
 * crier received it. It has no sender's id, so it is never a duplicate.
 */
struct batch_event {
    char *source;
    char *type;
    int64_t time;
    char *body;
};

/* A profiles_load request: profiles by identity, and by id following
 * merges. */
struct profile_lookup {
    struct identity_list identities;
    char **ids;
    size_t id_count;
};

/* A profiles_scan request. `after` is NULL for the first page. */
struct scan_request {
    char *after;
    size_t limit;
};

/*
 * An event that reached a goal: the store credits it to the last job of
 * `program` sent to `profile` within [time - window_ms, time], once per
 * (goal, job), and to nothing when there is no such job.
 */
struct goal_hit {
    char *goal;
    char *profile;
    char *program;
    int64_t event_seq;
    int64_t time;
    int64_t window_ms;
};

/*
 * An open, click or unsubscribe of the job whose key is `key`, or a
 * delivery status that a provider reported for the job whose key or
 * Message-ID (`message_id`) it names. `metric` is the counter it adds
 * to: "opened", "opened_bot", "clicked", "clicked_bot", "unsubscribed",
 * or for a delivery status "delivered", "bounced", "complained",
 * "undelivered" or "delivery_failed" (apart from the job state's
 * "failed").
 */
struct engagement {
    char *key;                  /* NULL when `message_id` names the job */
    char *message_id;
    char *metric;
    int64_t time;
    int delivery;               /* a delivery status, kept on the job */
    char *status;               /* the delivery status, or NULL */
    /* For a permanent failure: the address kind ("email", "phone") under
     * which the job's recipient is marked invalid, else NULL. */
    char *invalidate;
    char *code;                 /* the provider's code, or NULL */
    char *text;                 /* the provider's text, or NULL */
};

/* A report_read request: counters of the days that start in [since,
 * until), of one program or of all when `program` is NULL. */
struct report_request {
    int64_t since;
    int64_t until;
    char *program;
};

/* A pipeline batch. `cursor_name` is NULL when it moves no cursor. */
struct topic_request;

struct batch {
    char *cursor_name;
    int64_t cursor_value;
    struct profile_merge *merges;
    size_t merge_count;
    struct event_link *links;
    size_t link_count;
    struct profile_write *profiles;
    size_t profile_count;
    struct stage_move *stages;
    size_t stage_count;
    struct job *jobs;
    size_t job_count;
    struct segment_change *segments;
    size_t segment_count;
    struct batch_event *events;
    size_t event_count;
    struct schedule_plan *schedules;
    size_t schedule_count;
    struct journey_row *journeys;
    size_t journey_count;
    struct goal_hit *goals;
    size_t goal_count;
    struct engagement *engagements;
    size_t engagement_count;
    struct topic_request *confirmations;   /* profile, channel, origin,
                                            * time */
    size_t confirmation_count;
    /* The cursor's value when the batch was read ("cursor"."from"):
     * the store applies the batch only while the cursor still has it,
     * and fails it with CRIER_ESTALE otherwise, so that of two nodes
     * processing the same events only one commits them. */
    int has_cursor_from;
    int64_t cursor_from;
};

/* A channel whose jobs of some lanes a claim takes straight to
 * `sending`: bit N of `lanes` stands for lane N. */
struct claim_send_now {
    char *channel;
    unsigned lanes;
};

struct claim_request {
    int64_t now;
    int64_t lease_ms;
    size_t limit;
    char *owner;
    struct claim_send_now *send_now;
    size_t send_now_count;
    int64_t max_attempts;       /* 0: no limit on sending now */
};

/* A job_update request. Members the target state does not read are NULL. */
struct job_change {
    int64_t id;
    int64_t generation;
    int64_t now;
    enum job_state state;
    char *message_id;
    char *language;             /* NULL keeps the old */
    char *template_version;     /* NULL keeps the old */
    int has_lease_ms;
    int64_t lease_ms;
    char *provider_id;
    char *error;
    int64_t due;
    /* The verdict of the hand-over that this update ends; `outcome` is
     * NULL when the update ends none (a hold, a suppression). */
    struct job_attempt attempt;
};

/* A jobs_list request. `state` is -1 and `rule` NULL for no filter, and
 * `before` is INT64_MAX for the first page. */
struct job_filter {
    int state;
    char *rule;
    size_t limit;
    int64_t before;
    int attempts;               /* nonzero: list each job's attempt_log */
};

/* A jobs_sent_count request: the jobs to `profile` on `channel` sending
 * or sent at or after `since`, of lane `lane` or of any lane for -1. */
struct sent_query {
    char *profile;
    char *channel;
    int64_t since;
    int64_t lane;
};

/* The maximum number of caps in one job_sending_capped request. */
#define CAPPED_CAPS_MAX 64

/* One frequency cap of a job_sending_capped request: the job fits while
 * fewer than `max` jobs count for it, as for jobs_sent_count. */
struct cap_limit {
    int64_t since;
    int64_t max;
    int64_t lane;               /* -1 for every lane */
};

/* A job_sending_capped request: a `sending` change, and the caps that
 * decide whether the job is marked `sending` or suppressed with
 * `cap_error`. */
struct capped_sending {
    struct job_change change;
    struct cap_limit *caps;
    size_t cap_count;
    char *cap_error;
};

/* An address_invalidate request. */
struct address_mark {
    char *kind;
    char *value;
    char *reason;
    int64_t time;
};

/* A job_retry request: job `id` back to planned, due at `now`. */
struct retry_request {
    int64_t id;
    int64_t now;
};

/* The kinds of timeline entries, in the order that breaks a tie in time:
 * the higher kind comes first. */
enum timeline_kind {
    TIMELINE_EVENT = 0,
    TIMELINE_STAGE = 1,
    TIMELINE_MESSAGE = 2
};

/*
 * The position of a timeline entry. Entries go newest first: by `time`,
 * then `kind`, then `id` (seq, stage history row or job id), each from
 * high to low.
 */
struct timeline_key {
    int64_t time;
    int kind;
    int64_t id;
};

/* A timeline request. `before` counts only while `has_before` is set. */
struct timeline_request {
    char *profile;
    size_t limit;
    int has_before;
    struct timeline_key before;
};

/* A profile_erase request. `cursor` is NULL when the request names
 * none. */
struct erase_request {
    char *id;
    int64_t now;
    char *cursor;
};

/*
 * An events_expire request: event types matched exactly (`types`) or by
 * prefix (`prefixes`), each list also kept as a JSON array text for SQL.
 * Only events with time_ms < `before` and seq <= the value of `cursor`
 * go, at most `limit` of them.
 */
struct expire_request {
    char **types;
    size_t type_count;
    char **prefixes;
    size_t prefix_count;
    char *types_json;
    char *prefixes_json;
    int64_t before;
    size_t limit;
    char *cursor;
};

/* What one erase changed: events scrubbed, jobs blanked and, of those,
 * jobs suppressed. */
struct erase_counts {
    int64_t events;
    int64_t jobs;
    int64_t suppressed;
};

const char *job_state_name(enum job_state state);

/* Returns the state named `name`, or -1 for an unknown name. */
int job_state_parse(const char *name);

/* Checks an append: every event needs a source, a type and its JSON. */
int events_check(const struct crier_event_rec *events, size_t n);

int identities_parse(const json_t *request, struct identity_list *out);
void identities_clear(struct identity_list *list);

int batch_parse(const json_t *json, struct batch *out);

/* Returns CRIER_ESTALE when the batch names the cursor's value it was
 * read at and `stored` (0 for a cursor never written) differs. */
int batch_cursor_check(const struct batch *batch, int64_t stored);

/* Parses one element of a batch array into `item`. */
typedef int (*element_parse_fn)(const json_t *json, void *item);

/*
 * Parses the optional array member `key` of `json` into a new array of
 * `size`-byte items, counting in *count the ones parsed, so that the
 * caller's clear function frees them after a failure too. A missing or
 * null member gives no items.
 */
int batch_array_parse(const json_t *json, const char *key, size_t size,
                      element_parse_fn parse, void **items, size_t *count);

/* Parses the optional "events" member of a batch (common/lookup.c). */
int batch_events_parse(const json_t *json, struct batch_event **events,
                       size_t *count);
void batch_events_clear(struct batch_event *events, size_t count);

/* Parses a profiles_load request: "identities" is required and "ids"
 * optional (common/lookup.c). */
int profile_lookup_parse(const json_t *json, struct profile_lookup *out);
void profile_lookup_clear(struct profile_lookup *lookup);

/* Parses a profiles_scan request (common/lookup.c). */
int scan_parse(const json_t *json, struct scan_request *out);
void scan_clear(struct scan_request *request);

/* Parses the optional "segments" member of a batch (common/segment.c). */
int segment_changes_parse(const json_t *json,
                          struct segment_change **changes, size_t *count);
void segment_changes_clear(struct segment_change *changes, size_t count);

/* Parses a segment_count or segment_members request. */
int segment_query_parse(const json_t *json, struct segment_query *out);
void segment_query_clear(struct segment_query *query);

/* Builders of segment_members results; segment_members_result takes over
 * `members`, and `next` is NULL on the last page. */
json_t *segment_member_json(const char *profile, int64_t since);
json_t *segment_members_result(json_t *members, const char *next);
void batch_clear(struct batch *batch);

/* Reads the required "id" of a profile_get request into *id. */
int profile_id_parse(const json_t *json, char **id);

int erase_parse(const json_t *json, struct erase_request *out);
void erase_clear(struct erase_request *request);

/* Parses and checks an events_expire request (common/expire.c). */
int expire_parse(const json_t *json, struct expire_request *out);
void expire_clear(struct expire_request *request);

/* Returns nonzero when `type` is one of the request's types or starts
 * with one of its prefixes. */
int expire_matches(const struct expire_request *request, const char *type);

/* Builds the result of events_expire: {"deleted": N}. */
json_t *expire_result(int64_t deleted);

int timeline_parse(const json_t *json, struct timeline_request *out);
void timeline_clear(struct timeline_request *request);

/* Orders timeline keys: negative when `a` comes before `b`, newest
 * first. */
int timeline_key_compare(const struct timeline_key *a,
                         const struct timeline_key *b);

int claim_parse(const json_t *json, struct claim_request *out);
void claim_clear(struct claim_request *claim);

int change_parse(const json_t *json, struct job_change *out);
void change_clear(struct job_change *change);

int filter_parse(const json_t *json, struct job_filter *out);
void filter_clear(struct job_filter *filter);

/* Parse jobs_sent_count and job_retry requests. */
int sent_query_parse(const json_t *json, struct sent_query *out);
void sent_query_clear(struct sent_query *query);
int retry_parse(const json_t *json, struct retry_request *out);
int address_mark_parse(const json_t *json, struct address_mark *out);
void address_mark_clear(struct address_mark *mark);

/* Parse a job_sending_capped request: job_update's `sending` request
 * with a non-empty "caps" array and a "cap_error". */
int capped_parse(const json_t *json, struct capped_sending *out);
void capped_clear(struct capped_sending *capped);

/* Returns the jobs_sent_count query of `cap` for the profile and channel
 * of `job`, whose strings it borrows. */
struct sent_query cap_sent_query(const struct cap_limit *cap,
                                 const struct job *job);

/* Returns the change that suppresses the job of `capped` because a cap
 * is full. Its `error` is borrowed from `capped`. */
struct job_change capped_suppression(const struct capped_sending *capped);

/* Returns nonzero when `job` (being sent or sent) counts for `query`. */
int job_counts_as_sent(const struct job *job, const struct sent_query *query);

/*
 * Moves a failed or dead job back to planned, due at `now`, with its
 * attempts reset and its first error kept. Returns 0, or CRIER_ESTALE
 * for a job in another state.
 */
int job_retry(struct job *job, int64_t now);

/* Appends a copy of `attempt` to the job's attempt_log. Returns 0, or
 * CRIER_ENOMEM with the log unchanged. */
int job_attempt_append(struct job *job, const struct job_attempt *attempt);

/* Frees the strings of a job and zeroes it. */
void job_clear(struct job *job);

/* Gives a planned job from a batch the state of a freshly inserted one. */
void job_plan(struct job *job);

/*
 * Claims `job` for `claim`: state claimed, generation + 1, a new lease and
 * owner. A job that the claim's send_now covers, with fewer attempts than
 * its max_attempts, goes straight to `sending` and counts the attempt.
 * Returns 0, or CRIER_ENOMEM with the job unchanged.
 */
int job_claim(struct job *job, const struct claim_request *claim);

/*
 * Applies `change` to `job`. Returns CRIER_ESTALE when the job is not
 * claimed or sending, or has another generation, and CRIER_ENOMEM with the
 * job unchanged when a copy fails.
 */
int job_change_apply(struct job *job, const struct job_change *change);

/* Returns nonzero when a claim at `now` may take `job`, because it is due
 * or its lease has ended. */
int job_claimable(const struct job *job, int64_t now);

/* Orders jobs for claiming: lowest lane first, then earliest due, then
 * highest priority, then lowest id. */
int job_compare_due(const struct job *a, const struct job *b);

/*
 * Builders of results. Each returns a new reference, or NULL when out of
 * memory. `body` is the stored JSON text of an event. job_claimed_json
 * takes over the references to `event` and `profile`, either of which may
 * be NULL for null.
 */
json_t *event_json(int64_t seq, const char *source, const char *id,
                   const char *type, int64_t time_ms, const char *body,
                   size_t body_len);
json_t *event_body_json(const char *body, size_t body_len);
json_t *job_listed_json(const struct job *job);

/* Returns the job's attempts as a JSON array, oldest first. */
json_t *job_attempts_json(const struct job *job);
json_t *job_claimed_json(const struct job *job, enum job_state was,
                         json_t *event, json_t *profile);

/*
 * The event of the last job that a claim loaded. The jobs of one event
 * (a bulletin's thousands) come one after another in claim order, so the
 * next job of the same event shares this object instead of parsing the
 * body again. Nothing changes an event of a claimed job in place.
 */
struct claim_event {
    int64_t seq;
    json_t *event;              /* a reference, or NULL */
};

/* Returns a new reference to the kept event when it is event `seq`, or
 * NULL. */
json_t *claim_event_get(const struct claim_event *kept, int64_t seq);

/* Keeps `event`, event `seq`, in place of the one kept before. */
void claim_event_keep(struct claim_event *kept, int64_t seq, json_t *event);
void claim_event_clear(struct claim_event *kept);

/* Returns nonzero for stored text that is NULL, empty or "{}", the text
 * of a map without entries, which needs no parse. */
int stored_text_empty(const char *text);

/*
 * Starts a profile object with `id`, `attributes`, `consent` and
 * `related` (JSON text, where a NULL `consent` reads as {} and a NULL
 * `related` as {"dependents": {}, "cases": {}}) and empty "identities"
 * and "stages". With `times` nonzero it also carries "created" and "updated",
 * the form that profiles_load returns.
 */
json_t *profile_json(const char *id, const char *attributes,
                     const char *consent, const char *related, int times,
                     int64_t created, int64_t updated);
int profile_json_add_identity(json_t *profile, const char *kind,
                              const char *value);
int profile_json_add_stage(json_t *profile, const char *program,
                           const char *stage, int64_t since);

/* Parses an events_recent request (common/recent.c). Profiles may
 * repeat, and the result then lists each once. */
int recent_parse(const json_t *json, struct recent_request *out);
void recent_clear(struct recent_request *request);

/*
 * Starts an events_recent result: {"profiles": {id: []}} with an empty
 * list for each profile of the request. NULL when out of memory.
 */
json_t *recent_result_new(const struct recent_request *request);

/*
 * Builders of timeline entries and of the timeline result. `state` is a
 * job state's name. timeline_result takes over `entries`, and `next` is
 * the key of the page's last entry, or NULL on the last page.
 */
json_t *timeline_event_json(int64_t seq, int64_t time, const char *type,
                            const char *body, size_t body_len);
json_t *timeline_stage_json(int64_t time, const char *program,
                            const char *from, const char *to,
                            const char *rule, int64_t event_seq);
json_t *timeline_message_json(int64_t job_id, int64_t created,
                              const char *rule, const char *channel,
                              const char *state, const char *message_id,
                              const char *error);
json_t *timeline_result(json_t *entries, const struct timeline_key *next);

/*
 * Returns the body that replaces an erased event's, as compact JSON text
 * to free(): {"type": type, "time": RFC 3339 in UTC with milliseconds,
 * "erased": true}. Returns NULL when out of memory.
 */
char *erased_body(const char *type, int64_t time_ms);

/* Builds the result of profile_erase: the counts, or {"erased": false}
 * (with "merged_into" unless NULL) when `counts` is NULL. */
json_t *erase_result(const struct erase_counts *counts,
                     const char *merged_into);

/*
 * Checks a consent map of a commit batch: an object of non-empty kinds,
 * each {"state": "granted" | "revoked", "source": non-empty string,
 * "time": integer}. Returns 0 or CRIER_EINVAL.
 */
int consent_map_check(const json_t *consent);

/*
 * Sets *merged to the consent map `into` combined with `from` (both JSON
 * text), as compact JSON text to free(). Per kind the more restrictive
 * entry wins (revoked, then granted, then none), and of two equal states
 * the later time. At equal times `into` keeps its entry. Text that does
 * not parse comes only from a damaged file, and then *merged is NULL and
 * `into` keeps its map. Returns 0 or CRIER_ENOMEM.
 */
int consent_merge_text(const char *into, const char *from, char **merged);

/*
 * Checks a related map of a commit batch: an object whose members are
 * "dependents" and "cases", each an object of records (objects) by
 * non-empty id. Returns 0 or CRIER_EINVAL.
 */
int related_map_check(const json_t *related);

/*
 * Parses stored related text into a new object that has both kinds.
 * Text that does not parse reads as empty. Returns NULL out of memory.
 */
json_t *related_object(const char *text);

/*
 * Sets *merged to the related map `into` (JSON text, NULL for none) with
 * the records of `from` added under the ids that `into` lacks, as compact
 * JSON text to free(). Returns 0 or CRIER_ENOMEM.
 */
int related_merge_text(const char *into, const char *from, char **merged);


/*
 * A row of a schedule trigger's plan: when the occurrence `occurrence` of
 * `schedule` for a profile's record is due. `record` is "profile" or
 * "<kind>/<id>", `basis` the text that the core computed the row from,
 * and `date` and `zone` what it reads to advance the row. `has_due` is 0
 * once the row has fired for good, and `lease_until` counts only while
 * `leased` is nonzero (common/schedule.c).
 */
struct schedule_row {
    char *source;
    char *profile;
    char *schedule;
    char *record;
    char *basis;
    char *date;
    char *zone;
    char *occurrence;
    int has_due;
    int64_t due;
    int leased;
    int64_t lease_until;
};

/* The whole plan of one (source, profile) in a commit batch. */
struct schedule_plan {
    char *source;
    char *profile;
    struct schedule_row *rows;
    size_t row_count;
};

/* A schedules_claim request. */
struct schedule_claim {
    char *source;
    int64_t now;
    int64_t lease_ms;
    size_t limit;
};

/* One step of a schedules_advance request: the row that fired
 * `occurrence` moves to `next` at `due`, or is done without `has_due`.
 * `events` (0 or 1 of them) records this row's firing and is appended
 * only when the row moves. */
struct schedule_step {
    char *schedule;
    char *profile;
    char *record;
    char *occurrence;
    char *next;
    int has_due;
    int64_t due;
    struct batch_event *events;
    size_t event_count;
};

/* A schedules_advance request, with the events that the fired rows
 * record, appended in the same transaction. */
struct schedule_advance {
    char *source;
    struct schedule_step *steps;
    size_t step_count;
    struct batch_event *events;
    size_t event_count;
};

/* The largest limit that schedules_claim accepts. */
#define SCHEDULE_CLAIM_MAX 1000

/* Parses the optional "schedules" member of a batch. */
int schedule_plans_parse(const json_t *json, struct schedule_plan **plans,
                         size_t *count);
void schedule_plans_clear(struct schedule_plan *plans, size_t count);

void schedule_row_clear(struct schedule_row *row);

/* Copies `row` into *copy. Returns 0 or CRIER_ENOMEM. */
int schedule_row_copy(const struct schedule_row *row,
                      struct schedule_row *copy);

int schedule_claim_parse(const json_t *json, struct schedule_claim *out);
void schedule_claim_clear(struct schedule_claim *claim);

int schedule_advance_parse(const json_t *json, struct schedule_advance *out);
void schedule_advance_clear(struct schedule_advance *advance);

/* Builds one row of a schedules_claim result. */
json_t *schedule_row_json(const struct schedule_row *row);

/*
 * A resident's place in a journey: one row per (journey, profile). The
 * resident entered at `since` with the event `entry` (its seq) and is on
 * `step`, due to move on at `due` when `has_due`. `state` is "active" or
 * "ended"; an ended row stays, so that a journey that allows no
 * re-entry remembers who went through it. In a commit batch `wake` marks
 * a wake-up: it clears `due` of the stored row only while that row is
 * active on the same entry, step and due (common/journey.c).
 */
struct journey_row {
    char *journey;
    char *profile;
    int64_t entry;
    char *step;
    char *state;
    int has_due;
    int64_t due;
    int64_t since;
    int64_t updated;
    int wake;
    char *items;                /* the optional "items" array as compact
                                 * JSON text, or NULL: a digest window's
                                 * collected items */
};

/* A journeys_read request: the rows of these profiles. */
struct journeys_read {
    char **ids;
    size_t count;
};

/* A journeys_due request: active rows due at or before `now`. Its result
 * also carries "next", the earliest due after `now` or null. */
struct journeys_due {
    int64_t now;
    size_t limit;
    int64_t lease_ms;           /* 0 when the request leases nothing */
};

/* The largest journeys_read and journeys_due requests. */
#define JOURNEYS_READ_MAX 10000
#define JOURNEYS_DUE_MAX 1000

/* Parses the optional "journeys" member of a batch. */
int journey_rows_parse(const json_t *json, struct journey_row **rows,
                       size_t *count);
void journey_rows_clear(struct journey_row *rows, size_t count);
void journey_row_clear(struct journey_row *row);

/* Copies `row` into *copy. Returns 0 or CRIER_ENOMEM. */
int journey_row_copy(const struct journey_row *row,
                     struct journey_row *copy);

int journeys_read_parse(const json_t *json, struct journeys_read *out);
void journeys_read_clear(struct journeys_read *read);
int journeys_due_parse(const json_t *json, struct journeys_due *out);

/* Builds one row of a journeys_read or journeys_due result. */
json_t *journey_row_json(const struct journey_row *row);

/* Returns nonzero when the batch's wake-up `wake` applies to `stored`. */
int journey_row_wakes(const struct journey_row *stored,
                      const struct journey_row *wake);

/* Report counters (common/report.c). */

/* The length of a report day in ms: counters are kept per UTC day. */
#define REPORT_DAY_MS 86400000

/* Returns the start of the UTC day that contains `ms`. */
int64_t report_day(int64_t ms);

/*
 * Writes into `buf` the message counter that a job's move to its current
 * state adds to: "sent", "failed", "dead" or "suppressed:<reason>".
 * Returns NULL for a state that no counter follows (claimed, sending, a
 * retry back to planned).
 */
const char *report_state_metric(const struct job *job, char *buf,
                                size_t size);

/* Returns the counter that a newly planned job adds to: "planned", or
 * "suppressed:<reason>" for a job planned suppressed (a holdout's job, a
 * bulletin's unconfirmed recipient), written into `buf`. */
const char *job_plan_metric(const struct job *job, char *buf, size_t size);

/* Parse the optional "goals" and "engagements" members of a batch. */
int goal_hits_parse(const json_t *json, struct goal_hit **hits,
                    size_t *count);
void goal_hits_clear(struct goal_hit *hits, size_t count);
int delivery_status_valid(const char *kind);
int engagements_parse(const json_t *json, struct engagement **items,
                      size_t *count);
void engagements_clear(struct engagement *items, size_t count);

int report_request_parse(const json_t *json, struct report_request *out);
void report_request_clear(struct report_request *request);

/*
 * Append one row to the "messages", "residents", "moves" or "durations"
 * list of a report_read result. The builders keep the forms of
 * docs/internals/store.md in one place for both stores.
 */
int report_message_add(json_t *result, const char *rule,
                       const char *template_name, const char *channel,
                       const char *metric, int64_t count);
int report_resident_add(json_t *result, const char *program,
                        const char *stage, int64_t count);
int report_move_add(json_t *result, const char *program, int64_t day,
                    const char *from, const char *to, int64_t count);
int report_duration_add(json_t *result, const char *program,
                        const char *stage, int64_t days, int64_t count);

/*
 * Copies the string member `key` of `object` into *out (NULL when absent
 * or null). A required member must be there and not empty. Returns 0,
 * CRIER_EINVAL or CRIER_ENOMEM.
 */
int member_string(const json_t *object, const char *key, int required,
                  char **out);

/* Copies the string member `key` like member_string, and rejects an empty
 * string even where the member is optional. */
int member_text(const json_t *object, const char *key, int required,
                char **out);

/* Reads the integer member `key` of `object`, or `fallback` when it is
 * absent or null. A required member must be there. Returns 0 or
 * CRIER_EINVAL. */
int member_integer(const json_t *object, const char *key, int required,
                   int64_t fallback, int64_t *out);

/* Returns a new, empty report_read result. */
json_t *report_result_new(void);

/* A pause_set request. `name` is "" for the scope "all". */
struct pause_change {
    char *scope;                /* "all", "channel" or "program" */
    char *name;
    int paused;                 /* 1 pause, 0 resume */
    int64_t time;
    char *by;                   /* who paused, or NULL */
};

/* One audit log entry, or an audit_append request (`id` 0). */
struct audit_entry {
    int64_t id;
    int64_t time;
    char *token;
    char *action;
    char *target;               /* NULL when the action has none */
    int64_t result;             /* the HTTP status of the response */
};

/* An audit_list request. Absent filters are NULL or the widest value. */
struct audit_filter {
    size_t limit;
    int64_t before;             /* ids below this one */
    int64_t since;              /* time at or after */
    int64_t until;              /* time before */
    char *token;
    char *action;
};

/* control.c: pauses and the audit log. */
int pause_change_parse(const json_t *json, struct pause_change *out);
void pause_change_clear(struct pause_change *change);

/* Returns 1 when the paused scope (scope, name) covers a job on
 * `channel` of `program` (either may be NULL). */
int pause_covers(const char *scope, const char *name, const char *channel,
                 const char *program);

int audit_entry_parse(const json_t *json, struct audit_entry *out);
void audit_entry_clear(struct audit_entry *entry);
json_t *audit_entry_json(const struct audit_entry *entry);
int audit_filter_parse(const json_t *json, struct audit_filter *out);
void audit_filter_clear(struct audit_filter *filter);

/* Returns 1 when `entry` passes every filter of `filter`. */
int audit_filter_matches(const struct audit_filter *filter,
                         const struct audit_entry *entry);

/* Topics and bulletins (common/topics.c). */

/*
 * A request of subscription_set, subscriptions_read, object_put,
 * objects_read or jobs_tally, parsed. Each operation sets only the members
 * it reads, and the others stay NULL or 0.
 */
struct topic_request {
    char *profile;
    char *topic;
    char *channel;
    char *status;               /* "pending", "confirmed", "unsubscribed" */
    char *origin;               /* "page", "api", "import", "sms" */
    int64_t time;
    char *after;                /* a subscriptions_read page starts after */
    size_t limit;
    char *kind;                 /* an object's kind, such as "bulletin" */
    char *id;
    char *body;                 /* an object's compact JSON text */
    char *rule;                 /* the jobs that jobs_tally counts */
};

/* The default and largest page of subscriptions_read by topic. */
#define SUBSCRIBERS_DEFAULT 100
#define SUBSCRIBERS_MAX 1000

int subscription_set_parse(const json_t *json, struct topic_request *out);

/* Parses the optional "confirmations" member of a batch: each entry
 * confirms every pending subscription of its profile on its channel, or
 * with a "topic" only that subscription, whatever its status. */
int confirmations_parse(const json_t *json, struct topic_request **items,
                        size_t *count);
void confirmations_clear(struct topic_request *items, size_t count);
int subscriptions_read_parse(const json_t *json, struct topic_request *out);
int object_put_parse(const json_t *json, struct topic_request *out);
int objects_read_parse(const json_t *json, struct topic_request *out);
int jobs_tally_parse(const json_t *json, struct topic_request *out);
void topic_request_clear(struct topic_request *req);

/*
 * Orders subscription statuses for a profile merge: "confirmed" 2,
 * "pending" 1, anything else ("unsubscribed") 0. Where both profiles
 * have a row for one (topic, channel), the surviving row takes the
 * higher status. The SQLite store's merge states the same order in SQL.
 */
int subscription_status_rank(const char *status);

/* Builds one subscription of a subscriptions_read result. */
json_t *subscription_json(const char *profile, const char *topic,
                          const char *channel, const char *status,
                          const char *origin, int64_t created,
                          int64_t updated);

/* Builds one object of an objects_read result; NULL when `body` is not
 * JSON. */
json_t *stored_object_json(const char *id, const char *body);

/* Adds `count` jobs in `state` with `error` to a jobs_tally result. */
void jobs_tally_add(json_t *result, const char *state, const char *error,
                    int64_t count);

/* Returns an empty jobs_tally result. */
json_t *jobs_tally_new(void);

/* Sets "last_key" of a jobs_tally result to `key` when `key` starts with
 * "<rule>/" and sorts after the one set (NULL changes nothing). */
void jobs_tally_last(json_t *result, const char *rule, const char *key);

/* Shared pacing of destinations (common/pace.c). */

/* The window that max_per_second counts starts in, in milliseconds. */
#define PACE_WINDOW_MS 1000

/* The bounds that pace_acquire accepts for its limits and lease. */
#define PACE_PER_SECOND_MAX 100000
#define PACE_IN_FLIGHT_MAX 10000
#define PACE_LEASE_MAX_MS INT64_C(86400000)

/* A pace_acquire request, or a pace_release one (`slot` set, the limits
 * 0). */
struct pace_request {
    char *key;
    int64_t now;
    int64_t max_per_second;
    int64_t max_in_flight;
    int64_t lease_ms;
    int64_t slot;
};

/* One slot: taken at `started`, held until `lease_until` unless
 * released. */
struct pace_slot {
    int64_t id;
    int64_t started;
    int64_t lease_until;
    int released;
};

/* The slots of one key that still count toward a limit. */
struct pace_key {
    char *key;
    struct pace_slot *slots;    /* in the order taken */
    size_t count;
    size_t capacity;
};

/*
 * The slots of every key, for a store that one process owns (memory,
 * SQLite). That process is the only node, so its memory contains every
 * slot, and a slot never outlives the process that took it.
 */
struct pace_table {
    struct pace_key *keys;
    size_t count;
    size_t capacity;
    int64_t next_id;
};

int pace_acquire_parse(const json_t *json, struct pace_request *out);
int pace_release_parse(const json_t *json, struct pace_request *out);
void pace_request_clear(struct pace_request *request);

void pace_table_init(struct pace_table *table);
void pace_table_free(struct pace_table *table);

/* Apply a parsed request to `table` and return its result, or NULL when
 * out of memory. */
json_t *pace_table_acquire(struct pace_table *table,
                           const struct pace_request *request);
json_t *pace_table_release(struct pace_table *table,
                           const struct pace_request *request);

/* Builds the schema_status result of a store that was not started:
 * "version" and "found" are both the stored `version`, and "pending"
 * lists each migration after it up to `latest` with its title. */
json_t *schema_status_result(const char *store, int version, int latest,
                             const char *(*title)(int version));

#endif
