/*
 * Store plugins keep everything durable: events, profiles, stages, jobs.
 *
 * The table is frozen as of ABI 1.5, with three stores (memory, SQLite,
 * PostgreSQL) behind it: no entry moves or changes its signature. A new
 * operation goes at the end with the comment "Added in ABI minor N", and
 * the core checks `size` before it calls one (docs/sdk.md, "Versions and
 * the ABI rules").
 *
 * A store offers domain operations, not SQL. Each operation is
 * asynchronous: it returns 0 once queued (or a negative code, and `done` is
 * not called) and later calls `done` on the loop thread. Mutations take
 * effect in the order they were called, and a read reflects every mutation
 * whose callback has already run. Requests and results
 * other than events are JSON objects whose form docs/internals/store.md
 * defines; a result is borrowed by `done` and released after it returns.
 */
#ifndef CRIER_STORE_H
#define CRIER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The largest "limit" that jobs_claim and jobs_list accept. */
#define CRIER_JOBS_LIMIT_MAX 1000

/* One validated event, ready to store. The store copies what it keeps. */
struct crier_event_rec {
    const char *source;       /* the trigger instance that accepted it */
    const char *id;           /* the sender's id, or NULL */
    const char *type;
    int64_t time_ms;          /* when it happened */
    int64_t received_ms;      /* when crier accepted it */
    const char *json;         /* the whole event as compact JSON text */
    size_t json_len;
};

/*
 * Reports an append: 0 when committed, with how many events were new and
 * how many repeated an earlier (source, id); a negative code when nothing
 * of the batch was stored.
 */
typedef void (*crier_append_cb)(void *arg, int status, size_t accepted,
                                size_t duplicates);

/* Reports a JSON operation: its status and result. The result is NULL
 * on error, except for `backup`, which may give {"error": "..."}. */
typedef void (*crier_store_cb)(void *arg, int status, json_t *result);

/* The operation table of a store plugin (`ops` of its descriptor). */
struct crier_store_ops {
    uint32_t size;            /* sizeof(struct crier_store_ops) */

    /*
     * Appends events atomically: all of them or none. An event whose
     * (source, id) is already stored, or repeats one earlier in the same
     * batch, counts as a duplicate and is not stored again. `done` runs
     * only after the commit is durable.
     */
    int (*append)(void *store, const struct crier_event_rec *events,
                  size_t n, crier_append_cb done, void *arg);

    /* Reads up to `limit` events with seq > after_seq, in seq order. */
    int (*events_read)(void *store, int64_t after_seq, size_t limit,
                       crier_store_cb done, void *arg);

    /* Reads a named cursor: {"value": N}, 0 when never written. */
    int (*cursor_get)(void *store, const char *name, crier_store_cb done,
                      void *arg);

    /* Loads every profile that owns one of the given identities, and each
     * profile named in "ids" or the profile it was merged into. */
    int (*profiles_load)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Applies one pipeline batch in one transaction: profile changes,
     * stage moves, segment membership changes, events to append (such
     * as segment.entered), planned jobs (a job whose key exists is
     * skipped) and the cursor.
     */
    int (*commit)(void *store, json_t *batch, crier_store_cb done, void *arg);

    /* Claims up to "limit" (1 to CRIER_JOBS_LIMIT_MAX) due jobs under a
     * lease, bumping each job's generation. */
    int (*jobs_claim)(void *store, json_t *request, crier_store_cb done,
                      void *arg);

    /*
     * Moves one claimed job to its next state, and records the attempt
     * that an "attempt" member ends in the same transaction. Refused with
     * CRIER_ESTALE when the generation is not the job's current one.
     */
    int (*job_update)(void *store, json_t *update, crier_store_cb done,
                      void *arg);

    /* Lists jobs, newest first, filtered by state, with each job's
     * attempts when the request has "attempts": true. */
    int (*jobs_list)(void *store, json_t *request, crier_store_cb done,
                     void *arg);

    /* Reads one profile by id, or where it was merged to. */
    int (*profile_get)(void *store, json_t *request, crier_store_cb done,
                       void *arg);

    /* Reads a profile's history: events, stage moves and messages, newest
     * first, a page at a time. */
    int (*timeline)(void *store, json_t *request, crier_store_cb done,
                    void *arg);

    /*
     * Erases a profile in one transaction: deletes its identities,
     * attributes and stages, scrubs the bodies of its events, unlinks its
     * stage history and jobs, suppresses its open jobs and records the
     * erasure. Fails with CRIER_EBUSY while the request's cursor is
     * behind the last stored event. A plugin built before this entry
     * has a smaller `size`, and the core then does not call it.
     */
    int (*profile_erase)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Deletes up to `limit` stored events of the request's types that
     * happened before its time, never one after the request's cursor, so
     * the pipeline never misses an event. Stage history and jobs keep
     * their event_seq. Added after profile_erase, so a plugin with a
     * smaller `size` lacks it.
     */
    int (*events_expire)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Counts the members of a segment: {"segment": name} gives
     * {"count": N}. Added after events_expire, as is segment_members, so
     * a plugin with a smaller `size` lacks both.
     */
    int (*segment_count)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /* Lists a page of a segment's members in profile id order:
     * {"members": [{"profile", "since"}], "next": id or null}. */
    int (*segment_members)(void *store, json_t *request,
                           crier_store_cb done, void *arg);

    /*
     * Reads the events linked to each of the request's profiles whose
     * time is at least its `since`, newest first, at most `limit` per
     * profile: {"profiles": {id: [event, ...]}}. Added after
     * segment_members, so a plugin with a smaller `size` lacks it.
     */
    int (*events_recent)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Reads a page of profiles in id order, in the form of profiles_load:
     * {"after": id, "limit": N} gives {"profiles": [...], "next": id or
     * null}. Added after events_recent, so a plugin with a smaller
     * `size` lacks it.
     */
    int (*profiles_scan)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Counts the jobs to a profile on a channel that were being sent or
     * sent at or after a time, for frequency caps: {"profile", "channel",
     * "since", "lane"} gives {"count": N}, and a missing "lane" counts
     * every lane. Added after profiles_scan, as is job_retry, so a
     * plugin with a smaller `size` lacks both.
     */
    int (*jobs_sent_count)(void *store, json_t *request,
                           crier_store_cb done, void *arg);

    /*
     * Moves a failed or dead job back to planned, due at the request's
     * "now", with its attempts reset and its first error kept: {"id",
     * "now"} gives {"state": "planned"}. Fails with CRIER_ENOTFOUND for
     * no such job and CRIER_ESTALE for a job in another state.
     */
    int (*job_retry)(void *store, json_t *request, crier_store_cb done,
                     void *arg);

    /*
     * Marks an address invalid for good: {"kind", "value", "reason",
     * "time"} gives {}. jobs_claim then sets "address_invalid" (the
     * reason) on every claimed job to that value. Added after job_retry,
     * so a plugin with a smaller `size` lacks it.
     */
    int (*address_invalidate)(void *store, json_t *request,
                              crier_store_cb done, void *arg);

    /*
     * Claims up to `limit` due rows of a schedule trigger's plan under a
     * lease: {"source", "now", "limit", "lease_ms"} gives {"rows":
     * [...]}, oldest due first. The commit batch's "schedules" member
     * writes the plan. Added after address_invalidate, as is
     * schedules_advance, so a plugin with a smaller `size` lacks both.
     */
    int (*schedules_claim)(void *store, json_t *request, crier_store_cb done,
                           void *arg);

    /* Moves fired rows to their next occurrence, or marks them done, ends
     * their lease and appends the events that record the firing, all in
     * one transaction: {"advanced": N, "appended": E}. A row's own
     * "event" is appended only when that row moves. */
    int (*schedules_advance)(void *store, json_t *request,
                             crier_store_cb done, void *arg);

    /*
     * Reads the report counters that commit and job_update keep: {"since",
     * "until", "program"} gives {"messages", "residents", "moves",
     * "durations"}, each summed over the days that start in [since,
     * until). Added after schedules_advance, so a plugin with a smaller
     * `size` lacks it.
     */
    int (*report_read)(void *store, json_t *request, crier_store_cb done,
                       void *arg);

    /*
     * Reads the journey places of profiles: {"profiles": [id, ...]}
     * gives {"journeys": {id: [row, ...]}}, each list in journey name
     * order and empty for a profile in no journey. The commit batch's
     * "journeys" member writes the rows. Added after report_read, as is
     * journeys_due, so a plugin with a smaller `size` lacks both.
     */
    int (*journeys_read)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Reads up to `limit` active journey rows due at or before `now`,
     * oldest due first: {"now", "limit", "lease_ms"} gives {"rows":
     * [...]}. With "lease_ms", a store that several nodes share leases
     * the rows it returns until now + lease_ms and leaves out rows that
     * another read leased, so that two nodes never wake one row. A
     * single-node store may ignore it.
     */
    int (*journeys_due)(void *store, json_t *request, crier_store_cb done,
                        void *arg);

    /*
     * Pauses or resumes sending for a scope: {"scope": "all", "channel"
     * or "program", "name" (not for "all"), "paused": true or false,
     * "time", "by"} gives {"changed": true or false}. While a scope is
     * paused, jobs_claim takes no job that it covers, so planned jobs
     * wait. Added after journeys_due, as are pauses_read, audit_append,
     * audit_list and backup, so a plugin with a smaller `size` lacks
     * all five.
     */
    int (*pause_set)(void *store, json_t *request, crier_store_cb done,
                     void *arg);

    /* Reads the paused scopes: {} gives {"pauses": [{"scope", "name",
     * "since", "by"}]}, ordered by scope and name. */
    int (*pauses_read)(void *store, json_t *request, crier_store_cb done,
                       void *arg);

    /*
     * Appends one admin action to the audit log: {"time", "token",
     * "action", "target", "result"} gives {"id": N}. The log is kept
     * apart from residents' data: profile_erase never changes it.
     */
    int (*audit_append)(void *store, json_t *request, crier_store_cb done,
                        void *arg);

    /*
     * Lists audit entries newest first: {"limit", "before" (an id),
     * "token", "action", "since", "until"}, every filter optional, gives
     * {"entries": [{"id", "time", "token", "action", "target",
     * "result"}], "next": id or null}.
     */
    int (*audit_list)(void *store, json_t *request, crier_store_cb done,
                      void *arg);

    /*
     * Copies the whole store into a new file: {"path"} gives {"path",
     * "pages"}. May be called on a store that was initialized but not
     * started, while another process serves from it. Fails with
     * CRIER_EEXIST when the file exists and CRIER_ENOTSUP for a store
     * that has no file to copy.
     */
    int (*backup)(void *store, json_t *request, crier_store_cb done,
                  void *arg);

    /*
     * Writes one topic subscription, keyed by (profile, topic, channel):
     * {"profile", "topic", "channel", "status", "origin", "time"} gives
     * {"subscription": row}. A new row gets `created` = time, and every
     * write sets status, origin and `updated` = time. Added after
     * backup, as are the four operations below, so a plugin with a
     * smaller `size` lacks them all.
     */
    int (*subscription_set)(void *store, json_t *request,
                            crier_store_cb done, void *arg);

    /* Reads a profile's subscriptions ({"profile"}), or a page of a
     * topic's subscribers on one channel in profile id order ({"topic",
     * "channel", "after", "limit"}): {"subscriptions": [...], "next"}. */
    int (*subscriptions_read)(void *store, json_t *request,
                              crier_store_cb done, void *arg);

    /* Stores a JSON object under (kind, id), replacing any stored one:
     * {"kind", "id", "body"} gives {}. Bulletins and topics made by the
     * admin API are kept this way. */
    int (*object_put)(void *store, json_t *request, crier_store_cb done,
                      void *arg);

    /* Reads the objects of a kind in id order, or the one named by
     * "id": {"kind", "id"} gives {"objects": [{"id", "body"}]}. */
    int (*objects_read)(void *store, json_t *request, crier_store_cb done,
                        void *arg);

    /* Counts the jobs of a rule by state, and the suppressed ones by
     * reason, and finds the highest key of the form "<rule>/...":
     * {"rule"} gives {"states": {...}, "reasons": {...}, "last_key"}. */
    int (*jobs_tally)(void *store, json_t *request, crier_store_cb done,
                      void *arg);

    /*
     * Reports the schema: {} gives {"store": plugin name, "version": the
     * schema version now, "latest": the newest this plugin can migrate to,
     * "found": the version that start found before it applied the
     * missing migrations}. A store without a schema reports 0 for all
     * three. Added after jobs_tally, so a plugin with a smaller `size`
     * lacks it.
     *
     * On a store that was initialized but not started, it changes
     * nothing: it reads the stored version without creating the
     * database, and "version" and "found" are both that version. The
     * result also has "pending": [{"version", "title"}], the migrations
     * that start would apply, in order. A store that cannot read its
     * schema before start returns CRIER_ECLOSED.
     */
    int (*schema_status)(void *store, json_t *request, crier_store_cb done,
                         void *arg);

    /*
     * Marks a claimed job `sending` as job_update does, unless one of the
     * request's frequency caps is full, and then marks it `suppressed`
     * with the request's "cap_error" instead. The request is job_update's
     * `sending` request plus {"caps": [{"since", "max", "lane"}, ...],
     * "cap_error": text}, and gives {"state": "sending"} or {"state":
     * "suppressed"}. A cap is full when `max` or more other jobs count
     * for it as jobs_sent_count counts them, with the job's profile and
     * channel ("lane" absent: every lane). The count and the mark are one
     * transaction, and a store that several nodes share runs those of one
     * profile and channel one at a time, so that no node sends past a
     * cap. Added in ABI minor 6, so a plugin with a smaller `size` lacks
     * it.
     */
    int (*job_sending_capped)(void *store, json_t *request,
                              crier_store_cb done, void *arg);

    /*
     * Takes a pacing slot for a destination that every node shares:
     * {"key", "now", "max_per_second", "max_in_flight", "lease_ms"} gives
     * {"slot": id, "wait_ms": 0} when fewer than max_in_flight slots of
     * the key are held and fewer than max_per_second were taken in the
     * 1000 ms up to `now`. Otherwise it gives {"slot": null, "wait_ms":
     * N}, where N is the wait until the rate allows the next slot, or 0
     * when max_in_flight slots are held. A slot is held until
     * pace_release or until now + lease_ms, so a dead node's slots come
     * back. Neither pacing operation is ordered with other mutations.
     * Added in ABI minor 6, as is pace_release, so a plugin with a
     * smaller `size` lacks both.
     */
    int (*pace_acquire)(void *store, json_t *request, crier_store_cb done,
                        void *arg);

    /* Ends the hold of a slot, whose start still counts toward the rate:
     * {"key", "slot"} gives {"released": true}, or false when the slot
     * was released already or dropped after its lease ended. */
    int (*pace_release)(void *store, json_t *request, crier_store_cb done,
                        void *arg);
};

#endif
