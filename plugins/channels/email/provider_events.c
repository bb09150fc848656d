/*
 * The provider event webhook: POST {bounces.webhook.path} with HTTP basic
 * auth (any user name, the configured password) takes the delivery
 * events of an email provider and emits them as email.delivered,
 * email.bounced, email.complained and email.failed events, each naming
 * its message by the Message-ID crier gave it. The form of the body
 * identifies the provider (docs/deliverability.md, "Provider webhooks"):
 *
 * - a JSON array: SendGrid's event webhook (event, email, smtp-id);
 * - an object with "Type": Amazon SES notifications through SNS;
 * - an object with "event-data": Mailgun's webhooks.
 *
 * Events of other kinds (opens, deferrals) and events that name no
 * Message-ID are skipped. The route responds 200 once the events are
 * stored, or 503 so that the provider sends them again.
 */
#include <string.h>

#include "bounces.h"
#include "email.h"
#include "json_body.h"

/* One webhook request waiting for its events to commit. */
struct webhook_call {
    struct email *email;
    struct crier_http_req *req;
    size_t count;
};


static const char *
member_text(const json_t *object, const char *name)
{
    return json_string_value(json_object_get(object, name));
}


/* Returns the Message-ID with its angle brackets, which Mailgun and
 * some SendGrid events leave out. Free with g_free. */
static char *
message_id_bracketed(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return NULL;
    return id[0] == '<' ? g_strdup(id) : g_strdup_printf("<%s>", id);
}


/* Appends one event unless it lacks a Message-ID or a recipient. */
static void
event_add(json_t *events, const char *type, const char *message_id,
          const char *recipient, const char *code, const char *text,
          int permanent, const char *id)
{
    char *bracketed = message_id_bracketed(message_id);
    char *event_id = id != NULL ? g_strdup_printf("%.200s/%s", id, type)
                                : NULL;

    if (bracketed != NULL && recipient != NULL && recipient[0] != '\0')
        json_array_append_new(events, bounce_event_build(type, bracketed,
                                                         recipient, code,
                                                         text, permanent,
                                                         event_id));
    g_free(bracketed);
    g_free(event_id);
}


/* SendGrid: delivered, bounce (type "bounce" is permanent, "blocked"
 * is not), dropped and spamreport. */
static void
sendgrid_map(const json_t *body, json_t *events)
{
    size_t i;
    json_t *item;

    json_array_foreach(body, i, item) {
        const char *event = member_text(item, "event");
        const char *to = member_text(item, "email");
        const char *id = member_text(item, "smtp-id");
        const char *sg_id = member_text(item, "sg_event_id");
        const char *status = member_text(item, "status");
        const char *reason = member_text(item, "reason");

        if (event == NULL)
            continue;
        if (strcmp(event, "delivered") == 0)
            event_add(events, "email.delivered", id, to, NULL, NULL, 0,
                      sg_id);
        else if (strcmp(event, "bounce") == 0)
            event_add(events, "email.bounced", id, to, status, reason,
                      g_strcmp0(member_text(item, "type"), "blocked") != 0,
                      sg_id);
        else if (strcmp(event, "dropped") == 0)
            event_add(events, "email.failed", id, to, NULL, reason, 0,
                      sg_id);
        else if (strcmp(event, "spamreport") == 0)
            event_add(events, "email.complained", id, to, NULL, NULL, 0,
                      sg_id);
    }
}


/* Amazon SES through SNS: a Notification whose Message is the SES
 * notification as JSON text (Bounce, Complaint or Delivery). */
static void
ses_map(struct email *email, const json_t *body, json_t *events)
{
    const char *type = member_text(body, "Type");
    const char *text = member_text(body, "Message");
    json_t *note, *mail, *bounce, *complaint, *delivery, *r;
    const char *kind, *id;
    size_t i;

    if (g_strcmp0(type, "SubscriptionConfirmation") == 0) {
        /* NOTE: crier does not fetch SubscribeURL itself; an operator
         * confirms the subscription (docs/deliverability.md). */
        email->host->log(email->ctx, CRIER_LOG_NOTICE, "SNS subscription "
                         "waits for confirmation; open its SubscribeURL",
                         "url=\"%s\"", member_text(body, "SubscribeURL")
                         ? member_text(body, "SubscribeURL") : "-");
        return;
    }
    if (g_strcmp0(type, "Notification") != 0 || text == NULL)
        return;
    note = json_loads(text, 0, NULL);
    mail = json_object_get(note, "mail");
    id = member_text(json_object_get(mail, "commonHeaders"), "messageId");
    kind = member_text(note, "notificationType");
    bounce = json_object_get(note, "bounce");
    complaint = json_object_get(note, "complaint");
    delivery = json_object_get(note, "delivery");
    if (g_strcmp0(kind, "Bounce") == 0) {
        int permanent = g_strcmp0(member_text(bounce, "bounceType"),
                                  "Permanent") == 0;

        json_array_foreach(json_object_get(bounce, "bouncedRecipients"), i,
                           r)
            event_add(events, "email.bounced", id,
                      member_text(r, "emailAddress"),
                      member_text(r, "status"),
                      member_text(r, "diagnosticCode"), permanent,
                      member_text(bounce, "feedbackId"));
    } else if (g_strcmp0(kind, "Complaint") == 0) {
        json_array_foreach(json_object_get(complaint,
                                           "complainedRecipients"), i, r)
            event_add(events, "email.complained", id,
                      member_text(r, "emailAddress"), NULL,
                      member_text(complaint, "complaintFeedbackType"), 0,
                      member_text(complaint, "feedbackId"));
    } else if (g_strcmp0(kind, "Delivery") == 0) {
        json_array_foreach(json_object_get(delivery, "recipients"), i, r)
            event_add(events, "email.delivered", id, json_string_value(r),
                      NULL, member_text(delivery, "smtpResponse"), 0,
                      member_text(mail, "messageId"));
    }
    json_decref(note);
}


/* Mailgun: delivered, failed (severity "permanent" or "temporary") and
 * complained. */
static void
mailgun_map(const json_t *body, json_t *events)
{
    json_t *data = json_object_get(body, "event-data");
    const char *event = member_text(data, "event");
    const char *to = member_text(data, "recipient");
    const char *id = member_text(json_object_get(json_object_get(
        data, "message"), "headers"), "message-id");
    json_t *status = json_object_get(data, "delivery-status");
    json_t *code = json_object_get(status, "code");
    char code_text[24] = "";
    const char *text = member_text(status, "description");

    if (json_is_integer(code))
        snprintf(code_text, sizeof(code_text), "%lld",
                 (long long) json_integer_value(code));
    if (text == NULL || text[0] == '\0')
        text = member_text(status, "message");
    if (event == NULL)
        return;
    if (strcmp(event, "delivered") == 0)
        event_add(events, "email.delivered", id, to, code_text, NULL, 0,
                  member_text(data, "id"));
    else if (strcmp(event, "failed") == 0)
        event_add(events, "email.bounced", id, to, code_text, text,
                  g_strcmp0(member_text(data, "severity"), "permanent") == 0,
                  member_text(data, "id"));
    else if (strcmp(event, "complained") == 0)
        event_add(events, "email.complained", id, to, NULL, NULL, 0,
                  member_text(data, "id"));
}


/* Returns nonzero when the request's basic auth password is the
 * configured one; the user name is not checked. */
static int
webhook_authorized(struct email *email, struct crier_http_req *req)
{
    const char *header = email->host->req_header(req, "Authorization");
    char *decoded, *colon;
    gsize len = 0;
    int ok;

    if (header == NULL || g_ascii_strncasecmp(header, "Basic ", 6) != 0)
        return 0;
    decoded = (char *) g_base64_decode(header + 6, &len);
    decoded = g_realloc(decoded, len + 1);
    decoded[len] = '\0';
    colon = strchr(decoded, ':');
    ok = colon != NULL && secret_equal(email->bounces.webhook_password,
                                       colon + 1);
    memset(decoded, 0, len);
    g_free(decoded);
    return ok;
}


static void
webhook_respond(struct email *email, struct crier_http_req *req, int status,
                json_t *body)
{
    email->host->respond_json(req, status, body);
}


static void
on_events_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct webhook_call *call = arg;
    struct email *email = call->email;

    if (status != 0) {
        email->host->log(email->ctx, CRIER_LOG_ERROR, "provider events not "
                         "stored; answering 503 so the provider sends them "
                         "again", "error=%s", crier_errname(status));
        webhook_respond(email, call->req, 503,
                        json_pack("{s:s}", "error", "the events could not "
                                  "be stored"));
    } else {
        webhook_respond(email, call->req, 200,
                        json_pack("{s:I,s:I}", "accepted",
                                  (json_int_t) accepted, "duplicates",
                                  (json_int_t) duplicates));
    }
    g_free(call);
    email_work_done(email);
}


static void
on_webhook(void *arg, struct crier_http_req *req)
{
    struct email *email = arg;
    struct crier_input_error err = { .index = -1 };
    size_t len;
    const char *text = email->host->req_body(req, &len);
    json_t *body, *events;
    json_error_t json_err;
    struct webhook_call *call;
    int rc;

    if (!webhook_authorized(email, req)) {
        email->host->resp_header(req, "WWW-Authenticate",
                                 "Basic realm=\"crier\"");
        webhook_respond(email, req, 401, json_pack("{s:s}", "error",
                        "basic auth with bounces.webhook.password is "
                        "required"));
        return;
    }
    body = json_body_load(text, len, 0, &json_err);
    if (body == NULL) {
        webhook_respond(email, req, 400, json_pack("{s:s}", "error",
                        json_body_duplicate(&json_err)
                        ? json_err.text : "the body is not JSON"));
        return;
    }
    events = json_array();
    if (json_is_array(body))
        sendgrid_map(body, events);
    else if (json_object_get(body, "Type") != NULL)
        ses_map(email, body, events);
    else if (json_object_get(body, "event-data") != NULL)
        mailgun_map(body, events);
    json_decref(body);
    if (json_array_size(events) == 0) {
        json_decref(events);
        webhook_respond(email, req, 200, json_pack("{s:i,s:i}", "accepted",
                                                   0, "duplicates", 0));
        return;
    }

    call = g_new0(struct webhook_call, 1);
    call->email = email;
    call->req = req;
    call->count = json_array_size(events);
    email->in_flight++;
    rc = email->host->emit(email->ctx, events, &err, on_events_emitted,
                           call);
    json_decref(events);
    if (rc != 0) {
        email->host->log(email->ctx, CRIER_LOG_WARN, "provider events "
                         "rejected", "error=\"%s\" field=%s index=%ld",
                         err.message, err.field, err.index);
        webhook_respond(email, req, rc == CRIER_EINVAL ? 400 : 503,
                        json_pack("{s:s,s:s}", "error", rc == CRIER_EINVAL
                                  ? err.message : crier_strerror(rc),
                                  "field", err.field));
        g_free(call);
        email_work_done(email);
    }
}


int
bounce_webhook_route_add(struct email *email)
{
    if (email->bounces.webhook_path == NULL)
        return 0;
    return email->host->route_add(email->ctx, "POST",
                                  email->bounces.webhook_path, on_webhook,
                                  email);
}
