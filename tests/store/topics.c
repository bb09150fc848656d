/* Topic subscriptions, stored objects, the job tally of a rule, jobs
 * planned suppressed and the schema upgrade from version 13. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_test.h"
#include "sqlite_file.h"

#define T0 TESTHOST_EPOCH_MS


/* Writes one subscription and returns the stored row (a new reference). */
static json_t *
subscribe(struct fixture *f, const char *profile, const char *topic,
          const char *status, const char *origin, int64_t time)
{
    json_t *result = json_ok(f, f->ops->subscription_set,
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile", profile, "topic",
                  topic, "channel", "email", "status", status, "origin",
                  origin, "time", (json_int_t) time));
    json_t *row = json_incref(json_object_get(result, "subscription"));

    json_decref(result);
    return row;
}


static void
subscription_write_and_update(void **state)
{
    struct fixture *f = *state;
    json_t *row = subscribe(f, "p_1", "road-closures", "pending", "page",
                            T0);

    assert_string_equal(member_str(row, "status"), "pending");
    assert_string_equal(member_str(row, "origin"), "page");
    assert_int_equal(member_int(row, "created"), T0);
    json_decref(row);

    row = subscribe(f, "p_1", "road-closures", "confirmed", "page",
                    T0 + 500);
    assert_string_equal(member_str(row, "status"), "confirmed");
    assert_int_equal(member_int(row, "created"), T0);
    assert_int_equal(member_int(row, "updated"), T0 + 500);
    assert_string_equal(member_str(row, "topic"), "road-closures");
    assert_string_equal(member_str(row, "channel"), "email");
    assert_string_equal(member_str(row, "profile"), "p_1");
    json_decref(row);
}


static void
subscriptions_of_profile(void **state)
{
    struct fixture *f = *state;
    json_t *result, *rows;

    json_decref(subscribe(f, "p_1", "recalls", "confirmed", "api", T0));
    json_decref(subscribe(f, "p_1", "closures", "pending", "sms", T0));
    json_decref(subscribe(f, "p_2", "recalls", "confirmed", "api", T0));
    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s}", "profile", "p_1"));
    rows = json_object_get(result, "subscriptions");
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(member_str(json_array_get(rows, 0), "topic"),
                        "closures");
    assert_string_equal(member_str(json_array_get(rows, 0), "origin"),
                        "sms");
    assert_string_equal(member_str(json_array_get(rows, 1), "topic"),
                        "recalls");
    assert_null(member_str(result, "next"));
    json_decref(result);
}


static void
subscribers_pages(void **state)
{
    struct fixture *f = *state;
    const char *next = NULL;
    char profile[16];
    json_t *result;
    int seen = 0, pages = 0;

    for (int i = 0; i < 7; i++) {
        snprintf(profile, sizeof(profile), "p_%02d", 6 - i);
        json_decref(subscribe(f, profile, "recalls",
                              i == 3 ? "unsubscribed" : "confirmed", "api",
                              T0));
    }
    json_decref(subscribe(f, "p_99", "closures", "confirmed", "api", T0));
    do {
        json_t *req = json_pack("{s:s,s:s,s:i,s:s?}", "topic", "recalls",
                                "channel", "email", "limit", 3, "after",
                                next);
        json_t *rows;
        char first[16];

        result = json_ok(f, f->ops->subscriptions_read, req);
        rows = json_object_get(result, "subscriptions");
        snprintf(first, sizeof(first), "p_%02d", seen);
        assert_string_equal(member_str(json_array_get(rows, 0), "profile"),
                            first);
        seen += (int) json_array_size(rows);
        pages++;
        free((char *) next);
        next = member_str(result, "next") ? strdup(member_str(result,
                                                              "next"))
                                          : NULL;
        json_decref(result);
    } while (next != NULL);
    assert_int_equal(seen, 7);
    assert_int_equal(pages, 3);
}


static void
subscription_requests_invalid(void **state)
{
    struct fixture *f = *state;
    json_t *bad[] = {
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile", "p_1", "topic",
                  "t", "channel", "email", "status", "maybe", "origin",
                  "api", "time", (json_int_t) T0),
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile", "p_1", "topic",
                  "t", "channel", "email", "status", "pending", "origin",
                  "fax", "time", (json_int_t) T0),
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "profile", "p_1", "topic", "t",
                  "channel", "email", "status", "pending", "origin", "api"),
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(f->ops->subscription_set(f->store, bad[i], NULL,
                                                  NULL), CRIER_EINVAL);
        json_decref(bad[i]);
    }
    bad[0] = json_pack("{s:s}", "topic", "t");
    assert_int_equal(f->ops->subscriptions_read(f->store, bad[0], NULL,
                                                NULL), CRIER_EINVAL);
    json_decref(bad[0]);
    bad[0] = json_pack("{s:s,s:s}", "profile", "p_1", "topic", "t");
    assert_int_equal(f->ops->subscriptions_read(f->store, bad[0], NULL,
                                                NULL), CRIER_EINVAL);
    json_decref(bad[0]);
}


static void
subscription_erase_removes(void **state)
{
    struct fixture *f = *state;
    json_t *result;

    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s,s:I,s:I,s:{}}]}", "profiles", "id", "p_1",
                  "created", (json_int_t) T0, "updated", (json_int_t) T0,
                  "attributes")));
    json_decref(subscribe(f, "p_1", "recalls", "confirmed", "api", T0));
    json_decref(json_ok(f, f->ops->profile_erase,
                        json_pack("{s:s,s:I}", "id", "p_1", "now",
                                  (json_int_t) T0)));
    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s}", "profile", "p_1"));
    assert_int_equal(json_array_size(json_object_get(result,
                                                     "subscriptions")), 0);
    json_decref(result);
}


/* Stores an empty profile `id`, so that a merge can name it. */
static void
profile_put(struct fixture *f, const char *id)
{
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s,s:I,s:I,s:{}}]}", "profiles", "id", id,
                  "created", (json_int_t) T0, "updated", (json_int_t) T0,
                  "attributes")));
}


/* Returns the status of the row for `topic` in `rows`, or NULL. */
static const char *
status_of(const json_t *rows, const char *topic)
{
    size_t i;
    json_t *row;

    json_array_foreach(rows, i, row)
        if (strcmp(member_str(row, "topic"), topic) == 0)
            return member_str(row, "status");
    return NULL;
}


/*
 * A merge moves the subscriptions of the merged-away profile to the
 * surviving one in its commit. Where both have a row for one (topic,
 * channel), the surviving row stays and takes the more confirmed status.
 */
static void
merge_moves_subscriptions(void **state)
{
    struct fixture *f = *state;
    json_t *result, *rows;

    profile_put(f, "p_from");
    profile_put(f, "p_into");
    json_decref(subscribe(f, "p_from", "only-from", "confirmed", "page",
                          T0));
    json_decref(subscribe(f, "p_from", "up", "confirmed", "page", T0 + 1));
    json_decref(subscribe(f, "p_into", "up", "pending", "api", T0 + 2));
    json_decref(subscribe(f, "p_from", "down", "unsubscribed", "page",
                          T0 + 3));
    json_decref(subscribe(f, "p_into", "down", "confirmed", "api", T0 + 4));
    json_decref(subscribe(f, "p_into", "only-into", "pending", "api",
                          T0 + 5));
    json_decref(json_ok(f, f->ops->commit,
                        json_pack("{s:[{s:s, s:s, s:I}]}", "merges",
                                  "from", "p_from", "into", "p_into",
                                  "time", (json_int_t)(T0 + 9))));

    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s}", "profile", "p_from"));
    assert_int_equal(json_array_size(json_object_get(result,
                                                     "subscriptions")), 0);
    json_decref(result);
    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s}", "profile", "p_into"));
    rows = json_object_get(result, "subscriptions");
    assert_int_equal(json_array_size(rows), 4);
    assert_string_equal(status_of(rows, "only-from"), "confirmed");
    assert_string_equal(status_of(rows, "up"), "confirmed");
    assert_string_equal(status_of(rows, "down"), "confirmed");
    assert_string_equal(status_of(rows, "only-into"), "pending");
    /* "up" took the origin of the confirmed row; created stays. */
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);

        assert_string_equal(member_str(row, "profile"), "p_into");
        if (strcmp(member_str(row, "topic"), "up") == 0) {
            assert_string_equal(member_str(row, "origin"), "page");
            assert_int_equal(member_int(row, "created"), T0 + 2);
        }
    }
    json_decref(result);

    /* A topic's subscriber list names the surviving profile. */
    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s,s:s}", "topic", "only-from", "channel",
                               "email"));
    rows = json_object_get(result, "subscriptions");
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(member_str(json_array_get(rows, 0), "profile"),
                        "p_into");
    json_decref(result);
}


static void
commit_confirms_pending(void **state)
{
    struct fixture *f = *state;
    json_t *result, *rows;

    json_decref(json_ok(f, f->ops->subscription_set,
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile", "p_1", "topic",
                  "recalls", "channel", "sms", "status", "pending", "origin",
                  "api", "time", (json_int_t) T0)));
    json_decref(json_ok(f, f->ops->subscription_set,
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "profile", "p_1", "topic",
                  "closures", "channel", "sms", "status", "unsubscribed",
                  "origin", "api", "time", (json_int_t) T0)));
    json_decref(subscribe(f, "p_1", "heat", "pending", "page", T0));
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s,s:s,s:s,s:I}]}", "confirmations", "profile",
                  "p_1", "channel", "sms", "origin", "sms", "time",
                  (json_int_t) T0 + 9)));
    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s}", "profile", "p_1"));
    rows = json_object_get(result, "subscriptions");
    assert_int_equal(json_array_size(rows), 3);
    /* closures/sms stays unsubscribed, heat/email stays pending. */
    assert_string_equal(member_str(json_array_get(rows, 0), "status"),
                        "unsubscribed");
    assert_string_equal(member_str(json_array_get(rows, 1), "status"),
                        "pending");
    assert_string_equal(member_str(json_array_get(rows, 2), "status"),
                        "confirmed");
    assert_string_equal(member_str(json_array_get(rows, 2), "origin"),
                        "sms");
    assert_int_equal(member_int(json_array_get(rows, 2), "updated"), T0 + 9);
    json_decref(result);
    result = json_pack("{s:[{s:s,s:s,s:s,s:I}]}", "confirmations",
                       "profile", "p_1", "channel", "sms", "origin", "fax",
                       "time", (json_int_t) T0);
    assert_int_equal(f->ops->commit(f->store, result, NULL, NULL),
                     CRIER_EINVAL);
    json_decref(result);
}


/* A confirmation that names a topic confirms that one subscription,
 * from any status, and creates it when missing. */
static void
commit_confirms_topic(void **state)
{
    struct fixture *f = *state;
    json_t *result, *rows;

    json_decref(subscribe(f, "p_1", "heat", "unsubscribed", "page", T0));
    json_decref(subscribe(f, "p_1", "snow", "pending", "page", T0));
    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s,s:s,s:s,s:s,s:I},{s:s,s:s,s:s,s:s,s:I}]}",
                  "confirmations", "profile", "p_1", "topic", "heat",
                  "channel", "email", "origin", "page", "time",
                  (json_int_t) T0 + 5, "profile", "p_1", "topic", "roads",
                  "channel", "email", "origin", "page", "time",
                  (json_int_t) T0 + 6)));
    result = json_ok(f, f->ops->subscriptions_read,
                     json_pack("{s:s}", "profile", "p_1"));
    rows = json_object_get(result, "subscriptions");
    assert_int_equal(json_array_size(rows), 3);
    assert_string_equal(member_str(json_array_get(rows, 0), "topic"), "heat");
    assert_string_equal(member_str(json_array_get(rows, 0), "status"),
                        "confirmed");
    assert_int_equal(member_int(json_array_get(rows, 0), "created"), T0);
    assert_int_equal(member_int(json_array_get(rows, 0), "updated"), T0 + 5);
    assert_string_equal(member_str(json_array_get(rows, 1), "topic"),
                        "roads");
    assert_string_equal(member_str(json_array_get(rows, 1), "status"),
                        "confirmed");
    assert_int_equal(member_int(json_array_get(rows, 1), "created"), T0 + 6);
    /* Only the named topics change: snow stays pending. */
    assert_string_equal(member_str(json_array_get(rows, 2), "topic"), "snow");
    assert_string_equal(member_str(json_array_get(rows, 2), "status"),
                        "pending");
    json_decref(result);
}


static void
objects_put_and_read(void **state)
{
    struct fixture *f = *state;
    json_t *result, *objects;

    json_decref(json_ok(f, f->ops->object_put,
        json_pack("{s:s,s:s,s:{s:i}}", "kind", "bulletin", "id", "b2",
                  "body", "rate", 60)));
    json_decref(json_ok(f, f->ops->object_put,
        json_pack("{s:s,s:s,s:{s:i}}", "kind", "bulletin", "id", "b1",
                  "body", "rate", 10)));
    json_decref(json_ok(f, f->ops->object_put,
        json_pack("{s:s,s:s,s:{s:i}}", "kind", "bulletin", "id", "b1",
                  "body", "rate", 20)));
    json_decref(json_ok(f, f->ops->object_put,
        json_pack("{s:s,s:s,s:{}}", "kind", "topic", "id", "b0", "body")));

    result = json_ok(f, f->ops->objects_read,
                     json_pack("{s:s}", "kind", "bulletin"));
    objects = json_object_get(result, "objects");
    assert_int_equal(json_array_size(objects), 2);
    assert_string_equal(member_str(json_array_get(objects, 0), "id"), "b1");
    assert_int_equal(member_int(json_object_get(json_array_get(objects, 0),
                                                "body"), "rate"), 20);
    assert_string_equal(member_str(json_array_get(objects, 1), "id"), "b2");
    json_decref(result);

    result = json_ok(f, f->ops->objects_read,
                     json_pack("{s:s,s:s}", "kind", "bulletin", "id", "b2"));
    assert_int_equal(json_array_size(json_object_get(result, "objects")), 1);
    json_decref(result);
    result = json_ok(f, f->ops->objects_read,
                     json_pack("{s:s,s:s}", "kind", "bulletin", "id", "b9"));
    assert_int_equal(json_array_size(json_object_get(result, "objects")), 0);
    json_decref(result);
}


/* Plans jobs of rule `rule`, one suppressed with `reason` when given. */
static void
tally_plan(struct fixture *f, const char *key, const char *rule,
           const char *reason)
{
    const char *profile = strchr(key, '/') + 1;

    json_decref(json_ok(f, f->ops->commit,
        json_pack("{s:[{s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:s?}]}", "jobs", "key",
                  key, "rule", rule, "profile", profile, "channel", "email",
                  "template", "t", "due", (json_int_t) T0, "lane", 2,
                  "suppressed", reason)));
}


static void
jobs_tally_counts(void **state)
{
    struct fixture *f = *state;
    json_t *result, *jobs;

    tally_plan(f, "bulletin:b1/p_1", "bulletin:b1", NULL);
    tally_plan(f, "bulletin:b1/p_2", "bulletin:b1", NULL);
    tally_plan(f, "bulletin:b1/p_3", "bulletin:b1", "unconfirmed");
    tally_plan(f, "bulletin:b1/p_4", "bulletin:b1", "unconfirmed");
    tally_plan(f, "bulletin:b2/p_1", "bulletin:b2", NULL);
    tally_plan(f, "bulletin:b1/p_1", "bulletin:b1", "unconfirmed");

    jobs = jobs_claim_at(f, T0, 1, 1000);
    assert_int_equal(json_array_size(jobs), 1);
    json_decref(jobs);

    result = json_ok(f, f->ops->jobs_tally,
                     json_pack("{s:s}", "rule", "bulletin:b1"));
    assert_int_equal(member_int(json_object_get(result, "states"),
                                "suppressed"), 2);
    assert_int_equal(member_int(json_object_get(result, "reasons"),
                                "unconfirmed"), 2);
    assert_int_equal(member_int(json_object_get(result, "states"),
                                "planned") +
                     json_integer_value(json_object_get(
                         json_object_get(result, "states"), "claimed")), 2);
    assert_string_equal(member_str(result, "last_key"), "bulletin:b1/p_4");
    json_decref(result);
    result = json_ok(f, f->ops->jobs_tally,
                     json_pack("{s:s}", "rule", "bulletin:none"));
    assert_int_equal(json_object_size(json_object_get(result, "states")), 0);
    assert_null(member_str(result, "last_key"));
    json_decref(result);
}


static void
job_suppressed_never_claimed(void **state)
{
    struct fixture *f = *state;
    json_t *jobs, *listed, *job;

    tally_plan(f, "bulletin:b1/p_1", "bulletin:b1", "unconfirmed");
    jobs = jobs_claim_at(f, T0 + 1000, 10, 1000);
    assert_int_equal(json_array_size(jobs), 0);
    json_decref(jobs);
    listed = jobs_list_all(f);
    job = json_array_get(json_object_get(listed, "jobs"), 0);
    assert_string_equal(member_str(job, "state"), "suppressed");
    assert_string_equal(member_str(job, "error"), "unconfirmed");
    assert_int_equal(member_int(job, "lane"), 2);
    json_decref(listed);
}


static void
schema_version_13_upgrades(void **state)
{
    struct fixture *f = *state;
    char path[PATH_MAX + 64];
    json_t *row;

    if (strcmp(store_plugin.plugin->name, "sqlite") != 0)
        skip();
    tally_plan(f, "bulletin:b1/p_1", "bulletin:b1", NULL);
    store_close(f);
    snprintf(path, sizeof(path), "%s/data/nested/crier.db", f->folder);
    sqlite_file_downgrade(path, 13);

    assert_int_equal(store_open(f, store_config()), 0);
    row = subscribe(f, "p_1", "recalls", "confirmed", "import", T0);
    assert_string_equal(member_str(row, "origin"), "import");
    json_decref(row);
}


const struct CMUnitTest topic_tests[] = {
    CASE(subscription_write_and_update),
    CASE(subscriptions_of_profile),
    CASE(subscribers_pages),
    CASE(subscription_requests_invalid),
    CASE(subscription_erase_removes),
    CASE(merge_moves_subscriptions),
    CASE(commit_confirms_pending),
    CASE(commit_confirms_topic),
    CASE(objects_put_and_read),
    CASE(jobs_tally_counts),
    CASE(job_suppressed_never_claimed),
    CASE(schema_version_13_upgrades)
};

const size_t topic_test_count = sizeof(topic_tests) / sizeof(topic_tests[0]);
