/*
 * Template routes of the admin API:
 *   POST /v1/templates/{name}/preview   renders every part, sends nothing
 *   POST /v1/templates/{name}/test      renders and sends to a staff address
 *
 * The body names the data: {"profile": "<id>"} renders for a stored
 * profile, {"data": {...}} renders the given template context. "language"
 * overrides the profile's language. A test send also takes "to", which
 * must be listed in admin.test_recipients, and "channel". A test send
 * makes no job: it goes straight to the channel, once, so it never shows
 * in job counts or a resident's timeline. docs/admin-api.md describes the
 * bodies and responses.
 */
#include <stddef.h>
#include <string.h>

#include <glib.h>

#include "admin/admin.h"
#include "admin/admin_int.h"
#include "base/log.h"
#include "delivery/outbox.h"
#include "http/http.h"
#include "pipeline/evaluate.h"
#include "profile/attributes.h"
#include "server/server.h"
#include "template/sms_segments.h"
#include "template/template.h"

#define TEMPLATES_PREFIX "/v1/templates/"
#define PREVIEW_SUFFIX "/preview"
#define TEST_SUFFIX "/test"
#define PROFILE_ID_MAX 128
#define TEMPLATE_NAME_MAX 200

struct template_call {
    struct crier_http_req *req;
    char *name;
    int test;                   /* 1 for /test, 0 for /preview */
    char *language;             /* from the body, or NULL */
    char *profile_id;           /* from the body, or NULL */
    char *to;                   /* test sends */
    struct plugin_instance *channel;
    char key[64];               /* test sends: "test:" and a UUID */
    char message_id[OUTBOX_MESSAGE_ID_SIZE];
    struct rendered_message rendered;
    struct crier_message msg;
};


static void
call_free(struct template_call *call)
{
    rendered_message_clear(&call->rendered);
    g_free(call->name);
    g_free(call->language);
    g_free(call->profile_id);
    g_free(call->to);
    g_free(call);
}


/*
 * Splits "/v1/templates/{name}/preview" or ".../test" into the name
 * (returned, g_free it) and *test. NULL for another path.
 */
static char *
path_parse(const char *path, int *test)
{
    const char *rest = path + strlen(TEMPLATES_PREFIX);
    const char *slash = strchr(rest, '/');
    size_t len;

    if (slash == NULL || slash == rest)
        return NULL;
    len = (size_t) (slash - rest);
    if (len > TEMPLATE_NAME_MAX)
        return NULL;
    if (strcmp(slash, PREVIEW_SUFFIX) == 0)
        *test = 0;
    else if (strcmp(slash, TEST_SUFFIX) == 0)
        *test = 1;
    else
        return NULL;
    return g_strndup(rest, len);
}


/* Returns the one configured channel, or NULL when there are several. */
static struct plugin_instance *
only_channel(void)
{
    if (server.channels == NULL || server.channels->len != 1)
        return NULL;
    return g_ptr_array_index(server.channels, 0);
}


/* Reads "to" and "channel" of a test send. Responds 400 or 403 and
 * returns -1 when one is bad. */
static int
test_members_parse(struct template_call *call, const json_t *body)
{
    const char *to = json_string_value(json_object_get(body, "to"));
    json_t *channel = json_object_get(body, "channel");

    if (to == NULL || to[0] == '\0') {
        admin_respond_error(call->req, 400, "to", "is required: the staff "
                            "address to send the test message to");
        return -1;
    }
    if (!admin_test_recipient_allowed(to, server.settings.test_recipients)) {
        admin_respond_error(call->req, 403, "to", "is not listed in "
                            "admin.test_recipients; test messages go only "
                            "to the staff addresses and domains listed "
                            "there");
        return -1;
    }
    if (channel != NULL && !json_is_string(channel)) {
        admin_respond_error(call->req, 400, "channel", "must be the name of "
                            "a configured channel");
        return -1;
    }
    call->channel = channel != NULL
                    ? server_channel(json_string_value(channel))
                    : only_channel();
    if (call->channel == NULL) {
        admin_respond_error(call->req, 400, "channel", channel != NULL
                            ? "is not a configured channel"
                            : "is required when several channels are "
                              "configured");
        return -1;
    }
    call->to = g_strdup(to);
    return 0;
}


/* Reads the optional "channel" of a preview. Responds 400 and returns -1
 * when it names no configured channel. */
static int
preview_channel_parse(struct template_call *call, const json_t *body)
{
    json_t *channel = json_object_get(body, "channel");

    if (channel == NULL || json_is_null(channel))
        return 0;
    call->channel = json_is_string(channel)
                    ? server_channel(json_string_value(channel)) : NULL;
    if (call->channel == NULL) {
        admin_respond_error(call->req, 400, "channel", "must be the name of "
                            "a configured channel");
        return -1;
    }
    return 0;
}


/*
 * Reads the body into `call`, except "data", which the caller takes
 * from `body`. Responds 400 naming the member and returns -1 when it is
 * bad.
 */
static int
body_parse(struct template_call *call, const json_t *body)
{
    json_t *profile = json_object_get(body, "profile");
    json_t *data = json_object_get(body, "data");
    json_t *language = json_object_get(body, "language");

    if (!json_is_object(body)) {
        admin_respond_error(call->req, 400, NULL, "the body must be a JSON "
                            "object such as {\"profile\": \"<id>\"} or "
                            "{\"data\": {...}}");
        return -1;
    }
    if ((profile == NULL) == (data == NULL)) {
        admin_respond_error(call->req, 400, "profile", "give either "
                            "\"profile\" (a profile id) or \"data\" (a "
                            "template context object), not both or none");
        return -1;
    }
    if (profile != NULL && (!json_is_string(profile)
                            || json_string_length(profile) == 0
                            || json_string_length(profile) > PROFILE_ID_MAX)) {
        admin_respond_error(call->req, 400, "profile", "must be a profile "
                            "id");
        return -1;
    }
    if (data != NULL && !json_is_object(data)) {
        admin_respond_error(call->req, 400, "data", "must be an object, "
                            "the context a template sees, such as "
                            "{\"profile\": {\"first_name\": \"Ana\"}}");
        return -1;
    }
    if (language != NULL && !json_is_null(language)) {
        const char *text = json_string_value(language);

        call->language = text ? attribute_language_normalize(text) : NULL;
        if (call->language == NULL) {
            admin_respond_error(call->req, 400, "language", "must be a BCP "
                                "47 language tag such as en or es-MX");
            return -1;
        }
    }
    if (profile != NULL)
        call->profile_id = g_strdup(json_string_value(profile));
    return call->test ? test_members_parse(call, body)
                      : preview_channel_parse(call, body);
}


/* Returns {"encoding", "segments", "units"} for the text part as an SMS,
 * or NULL when the text is not valid UTF-8. */
static json_t *
sms_json(const char *text)
{
    struct sms_segments count;

    if (sms_segments_count(text, strlen(text), &count) != 0)
        return NULL;
    return json_pack("{s:s,s:I,s:I}", "encoding",
                     count.encoding == SMS_ENCODING_GSM7 ? "GSM-7" : "UCS-2",
                     "segments", (json_int_t) count.parts,
                     "units", (json_int_t) count.units);
}


/* Responds with the rendered parts and, for a channel whose addresses are
 * phone numbers, the SMS segment count of the text part. */
static void
respond_preview(struct template_call *call)
{
    const struct rendered_message *r = &call->rendered;
    const struct crier_channel_ops *ops;
    json_t *body;

    body = json_pack("{s:s,s:s?,s:s,s:s,s:s?,s:s}", "template", call->name,
                     "language", r->language, "subject", r->subject,
                     "text", r->text, "html", r->html, "version",
                     r->version);
    if (call->channel != NULL) {
        ops = call->channel->desc->ops;
        json_object_set_new(body, "channel",
                            json_string(call->channel->name));
        if (g_strcmp0(ops->address_kind, "phone") == 0)
            json_object_set_new(body, "sms", sms_json(r->text));
    }
    http_respond_json(call->req, 200, body);
}


static void
on_test_sent(void *arg, const struct crier_send_result *r)
{
    struct template_call *call = arg;
    const char *detail = r->detail != NULL ? r->detail : "";
    char *message;

    if (r->outcome == CRIER_SEND_DONE) {
        log_notice("test message sent", "template=%s channel=%s to=%s "
                   "message_id=%s", call->name, call->channel->name,
                   call->to, call->message_id);
        http_respond_json(call->req, 200,
                          json_pack("{s:b,s:s,s:s,s:s,s:s?,s:s?}", "sent", 1,
                                    "template", call->name, "to", call->to,
                                    "message_id", call->message_id,
                                    "provider_id", r->provider_id,
                                    "language", call->rendered.language));
    } else {
        log_warn("test message failed", "template=%s channel=%s to=%s "
                 "detail=\"%s\"", call->name, call->channel->name, call->to,
                 detail);
        message = g_strdup_printf("the channel did not send the test "
                                  "message (%s): %s", r->outcome
                                  == CRIER_SEND_RETRY ? "temporary failure"
                                                      : "rejected", detail);
        admin_respond_error(call->req, 502, NULL, message);
        g_free(message);
    }
    call_free(call);
}


/* Hands the rendered test message to its channel once. A failure gets a
 * 502 response and is never retried. */
static void
test_send(struct template_call *call)
{
    const struct crier_channel_ops *ops = call->channel->desc->ops;
    const char *domain = outbox_message_id_domain();
    gchar *uuid = g_uuid_string_random();
    int rc;

    snprintf(call->key, sizeof(call->key), "test:%s", uuid);
    g_free(uuid);
    outbox_message_id(call->key, 0, domain != NULL ? domain : "localhost",
                      call->message_id, sizeof(call->message_id));
    call->msg.size = sizeof(call->msg);
    call->msg.attempt = 1;
    call->msg.key = call->key;
    call->msg.message_id = call->message_id;
    call->msg.rule = "test";
    call->msg.to = call->to;
    call->msg.subject = call->rendered.subject;
    call->msg.text = call->rendered.text;
    call->msg.html = call->rendered.html;
    rc = ops->send(call->channel->state, &call->msg, on_test_sent, call);
    if (rc != 0) {
        struct crier_send_result r = {
            .outcome = CRIER_SEND_RETRY,
            .detail = crier_strerror(rc),
        };

        on_test_sent(call, &r);
    }
}


/*
 * Renders for `data` (the template context, borrowed), then responds with
 * the preview or sends the test message. The language is the body's, else
 * the one in data.profile.language.
 */
static void
render_and_answer(struct template_call *call, json_t *data)
{
    const char *language = call->language;
    struct template_error err;
    int rc;

    if (language == NULL)
        language = json_string_value(json_object_get(
            json_object_get(data, "profile"), "language"));
    if (json_object_get(data, "public_url") == NULL)
        json_object_set_new(data, "public_url",
                            json_string(server.settings.public_url));
    rc = template_render_language(server.templates, call->name, language,
                                  data, &call->rendered, &err);
    if (rc != 0) {
        admin_respond_error(call->req, 422, err.field[0] ? err.field : NULL,
                            err.message);
        call_free(call);
        return;
    }
    if (call->test) {
        test_send(call);
        return;
    }
    respond_preview(call);
    call_free(call);
}


static void
on_profile_read(void *arg, int status, json_t *result)
{
    struct template_call *call = arg;
    json_t *profile = json_object_get(result, "profile");
    json_t *event, *data;
    char *message;

    if (status != 0) {
        log_error("admin store call failed", "op=profile_get profile=%s "
                  "error=%s", call->profile_id, crier_errname(status));
        admin_respond_error(call->req, 503, NULL, "the store could not "
                            "read the profile; retry later");
        call_free(call);
        return;
    }
    if (!json_is_object(profile)) {
        message = g_strdup_printf("no profile has id %s", call->profile_id);
        admin_respond_error(call->req, 404, "profile", message);
        g_free(message);
        call_free(call);
        return;
    }
    event = json_object();
    data = evaluation_context(event, profile);
    json_decref(event);
    render_and_answer(call, data);
    json_decref(data);
}


static void
on_template_post(void *arg, struct crier_http_req *req)
{
    struct template_call *call;
    json_t *body;
    int test = 0;
    char *name;
    int rc;

    if (!admin_authorize(req))
        return;
    name = path_parse(http_req_path(req), &test);
    if (name == NULL) {
        admin_respond_error(req, 404, NULL, "not found");
        return;
    }
    if (server.templates == NULL || !template_set_has(server.templates,
                                                      name)) {
        char *message = g_strdup_printf("no template named %s", name);

        admin_respond_error(req, 404, NULL, message);
        g_free(message);
        g_free(name);
        return;
    }
    call = g_new0(struct template_call, 1);
    call->req = req;
    call->name = name;
    call->test = test;
    if (admin_body_load(req, 0, &body) != 0) {
        call_free(call);
        return;
    }
    if (body_parse(call, body) != 0) {
        json_decref(body);
        call_free(call);
        return;
    }
    if (call->profile_id == NULL) {
        json_t *data = json_deep_copy(json_object_get(body, "data"));

        json_decref(body);
        render_and_answer(call, data);
        json_decref(data);
        return;
    }
    json_decref(body);
    if (!STORE_HAS_OP(profile_get)) {
        admin_respond_error(req, 501, NULL, "the store plugin does not "
                            "implement profile_get");
        call_free(call);
        return;
    }
    body = json_pack("{s:s}", "id", call->profile_id);
    rc = server.store_ops->profile_get(server.store->state, body,
                                       on_profile_read, call);
    json_decref(body);
    if (rc != 0) {
        on_profile_read(call, rc, NULL);
    }
}


int
admin_template_routes_add(struct http_server *http)
{
    return http_route_add(http, "POST", TEMPLATES_PREFIX "*",
                          on_template_post, NULL);
}
