/*
 * Replies from residents: Twilio posts each incoming SMS as a form
 * (From, To, Body, MessageSid) to the inbound route. A reply that is a
 * keyword changes consent or requests help. Any other text becomes an
 * `sms.received` event.
 *
 * Opt-out before the confirmation: the route responds only after the
 * core reports the event committed to the store (the emit callback). The
 * confirmation is the TwiML <Message> in that response, so it is sent only
 * for an opt-out that is on disk, and it never passes through the outbox,
 * where the revoked consent could stop it. The pipeline then sets the
 * profile's consent from the committed event. The type `sms.stop` makes
 * the revoke hard, so the outbox suppresses service messages too.
 *
 * The status route takes Twilio's delivery status callbacks and emits
 * each final status as an sms.delivered, sms.undelivered or sms.failed
 * event, which the pipeline keeps on the message (docs/deliverability.md).
 */
#include <stdio.h>
#include <string.h>

#include "keyword.h"
#include "signature.h"
#include "sms.h"

#define TWILIO_SIGNATURE_HEADER "X-Twilio-Signature"

/* One inbound request waiting for its event to commit. */
struct inbound_reply {
    struct sms *sms;
    struct crier_http_req *req;
    enum sms_keyword keyword;
};


/* Responds with a TwiML document: one <Message> with `text`, or none. */
static void
twiml_respond(struct sms *sms, struct crier_http_req *req, const char *text)
{
    GString *xml = g_string_new("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                                "<Response>");

    if (text != NULL && text[0] != '\0') {
        char *escaped = g_markup_escape_text(text, -1);

        g_string_append_printf(xml, "<Message>%s</Message>", escaped);
        g_free(escaped);
    }
    g_string_append(xml, "</Response>");
    sms->host->respond(req, 200, "text/xml; charset=utf-8", xml->str,
                       xml->len);
    g_string_free(xml, TRUE);
}


static void
error_respond(struct sms *sms, struct crier_http_req *req, int status,
              const char *message)
{
    sms->host->respond_json(req, status, json_pack("{s:s}", "error",
                                                   message));
}


/* Checks X-Twilio-Signature against every provider's auth token, since
 * a number may belong to any of the accounts. */
static int
twilio_signature_valid(struct sms *sms, struct crier_http_req *req,
                       const char *url, GPtrArray *fields)
{
    const char *given = sms->host->req_header(req, TWILIO_SIGNATURE_HEADER);
    int valid = 0;

    if (given == NULL)
        return 0;
    for (size_t i = 0; i < sms->provider_count && !valid; i++) {
        char *expected = twilio_signature_compute(
            sms->providers[i].auth_token, url, fields);

        valid = strlen(given) == strlen(expected) &&
                signature_equal(given, expected, strlen(expected));
        g_free(expected);
    }
    return valid;
}


/*
 * Verifies the request's signature. On failure it responds (403 for
 * Twilio's, 401 for crier's, as each sender expects) and returns nonzero.
 * `url` is the URL the sender signed, with its query.
 */
static int
signature_reject(struct sms *sms, struct crier_http_req *req,
                 const char *url, GPtrArray *fields)
{
    struct crier_input_error err = { .index = -1 };
    struct signed_request signed_req;

    if (sms->inbound.signature == SMS_SIGNATURE_TWILIO) {
        if (twilio_signature_valid(sms, req, url, fields))
            return 0;
        sms_error_log(sms, "inbound SMS request rejected: bad signature",
                      "path=%s peer=%s", sms->host->req_path(req),
                      sms->host->req_peer(req));
        error_respond(sms, req, 403, "X-Twilio-Signature is missing or "
                      "does not match; check inbound.url and auth_token");
        return 1;
    }
    signed_req.timestamp = sms->host->req_header(req,
                                                 SIGNATURE_TIMESTAMP_HEADER);
    signed_req.signature = sms->host->req_header(req, SIGNATURE_HEADER);
    signed_req.body = sms->host->req_body(req, &signed_req.body_len);
    if (signature_verify((const char *const *) sms->inbound.secrets,
                         sms->inbound.secret_count, sms->inbound.tolerance_s,
                         sms->host->now_ms(sms->ctx), &signed_req,
                         &err) == 0)
        return 0;
    sms_error_log(sms, "inbound SMS request rejected: bad signature",
                  "path=%s peer=%s field=%s", sms->host->req_path(req),
                  sms->host->req_peer(req), err.field);
    sms->host->respond_json(req, 401, json_pack("{s:s,s:s}", "error",
                                                err.message, "field",
                                                err.field));
    return 1;
}


/* Returns the URL the sender signed: the configured one, plus the
 * request's query. Free with g_free. */
static char *
signed_url(struct sms *sms, struct crier_http_req *req, const char *base)
{
    const char *query = sms->host->req_query(req);

    return query[0] != '\0' ? g_strdup_printf("%s?%s", base, query)
                            : g_strdup(base);
}


/* Parses the form body and verifies the signature, and responds to a
 * request that fails either. Returns the fields, or NULL after a response. */
static GPtrArray *
request_read(struct sms *sms, struct crier_http_req *req, const char *base)
{
    size_t len;
    const char *body = sms->host->req_body(req, &len);
    GPtrArray *fields = form_parse(body, len);
    char *url;
    int rejected;

    if (fields == NULL) {
        error_respond(sms, req, 400, "the body is not a valid "
                      "application/x-www-form-urlencoded form");
        return NULL;
    }
    url = signed_url(sms, req, base);
    rejected = signature_reject(sms, req, url, fields);
    g_free(url);
    if (rejected) {
        g_ptr_array_unref(fields);
        return NULL;
    }
    return fields;
}


static const char *
keyword_event_type(enum sms_keyword keyword)
{
    switch (keyword) {
    case SMS_KEYWORD_STOP:
        return "sms.stop";
    case SMS_KEYWORD_START:
        return "sms.start";
    case SMS_KEYWORD_HELP:
        return "sms.help";
    case SMS_KEYWORD_NONE:
    default:
        return "sms.received";
    }
}


/* Builds the event for one reply; MessageSid as its id makes a repeat
 * of the same webhook a duplicate. */
static json_t *
event_build(enum sms_keyword keyword, const char *from, GPtrArray *fields)
{
    const char *sid = form_get(fields, "MessageSid");
    const char *to = form_get(fields, "To");
    json_t *event = json_pack("{s:s,s:{s:s},s:{s:s}}", "type",
                              keyword_event_type(keyword), "profile",
                              "phone", from, "properties", "body",
                              form_get(fields, "Body"));
    json_t *properties = json_object_get(event, "properties");

    if (sid != NULL && sid[0] != '\0') {
        json_object_set_new(event, "id", json_string(sid));
        json_object_set_new(properties, "message_sid", json_string(sid));
    }
    if (to != NULL)
        json_object_set_new(properties, "to", json_string(to));
    if (keyword == SMS_KEYWORD_STOP)
        json_object_set_new(event, "consent",
                            json_pack("{s:s}", "sms", "revoked"));
    else if (keyword == SMS_KEYWORD_START)
        json_object_set_new(event, "consent",
                            json_pack("{s:s}", "sms", "granted"));
    return event;
}


static const char *
reply_text(struct sms *sms, enum sms_keyword keyword)
{
    switch (keyword) {
    case SMS_KEYWORD_STOP:
        return sms->inbound.stop_text;
    case SMS_KEYWORD_START:
        return sms->inbound.start_text;
    case SMS_KEYWORD_HELP:
        return sms->inbound.help_text;
    case SMS_KEYWORD_NONE:
    default:
        return NULL;
    }
}


/* Responds once the event is committed, so the reply goes only then. */
static void
on_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct inbound_reply *r = arg;
    struct sms *sms = r->sms;

    if (status != 0) {
        sms->host->log(sms->ctx, CRIER_LOG_ERROR, "inbound SMS not stored; "
                       "answering 503 so the sender tries again",
                       "error=%s", crier_errname(status));
        error_respond(sms, r->req, 503, "the message could not be stored");
    } else {
        twiml_respond(sms, r->req, reply_text(sms, r->keyword));
    }
    g_free(r);
    sms_work_done(sms);
}


static void
on_inbound(void *arg, struct crier_http_req *req)
{
    struct sms *sms = arg;
    struct crier_input_error err = { .index = -1 };
    GPtrArray *fields = request_read(sms, req, sms->inbound.url);
    const char *from, *body;
    char e164[PHONE_E164_MAX + 1];
    enum phone_error perr;
    struct inbound_reply *r;
    json_t *event;
    int rc;

    if (fields == NULL)
        return;
    from = form_get(fields, "From");
    body = form_get(fields, "Body");
    if (from == NULL || body == NULL) {
        error_respond(sms, req, 400, "From and Body are required");
        g_ptr_array_unref(fields);
        return;
    }
    perr = phone_to_e164(from, sms->region, e164);
    if (perr != PHONE_OK) {
        char message[160];

        snprintf(message, sizeof(message), "From %s", phone_error_text(perr));
        error_respond(sms, req, 400, message);
        g_ptr_array_unref(fields);
        return;
    }

    r = g_new0(struct inbound_reply, 1);
    r->sms = sms;
    r->req = req;
    r->keyword = sms_keyword_parse(body);
    event = event_build(r->keyword, e164, fields);
    g_ptr_array_unref(fields);
    rc = sms->host->emit(sms->ctx, event, &err, on_emitted, r);
    json_decref(event);
    if (rc != 0) {
        sms->host->log(sms->ctx, CRIER_LOG_WARN, "inbound SMS rejected",
                       "error=\"%s\" field=%s", err.message, err.field);
        if (rc == CRIER_EINVAL)
            error_respond(sms, req, 400, err.message);
        else
            error_respond(sms, req, 503, crier_strerror(rc));
        g_free(r);
        return;
    }
    sms->in_flight++;
}


/* Returns the event type for a final Twilio MessageStatus, or NULL for
 * a status on the way (queued, sending, sent) that changes nothing. */
static const char *
receipt_event_type(const char *status)
{
    if (strcmp(status, "delivered") == 0)
        return "sms.delivered";
    if (strcmp(status, "undelivered") == 0)
        return "sms.undelivered";
    if (strcmp(status, "failed") == 0)
        return "sms.failed";
    return NULL;
}


/*
 * Builds the event for one delivery receipt. The message is named by
 * the Message-ID that the send put in the StatusCallback URL's query,
 * which Twilio signs with the rest of the URL. The id (MessageSid and
 * status) makes a repeat of the same callback a duplicate.
 */
static json_t *
receipt_event_build(const char *type, const char *to, const char *message_id,
                    GPtrArray *fields)
{
    const char *sid = form_get(fields, "MessageSid");
    const char *code = form_get(fields, "ErrorCode");
    const char *text = form_get(fields, "ErrorMessage");
    json_t *event = json_pack("{s:s,s:{s:s},s:{s:s,s:s}}", "type", type,
                              "profile", "phone", to, "properties",
                              "message_id", message_id, "status",
                              strchr(type, '.') + 1);
    json_t *properties = json_object_get(event, "properties");

    if (sid != NULL && sid[0] != '\0') {
        char *id = g_strdup_printf("%s/%s", sid, strchr(type, '.') + 1);

        json_object_set_new(event, "id", json_string(id));
        json_object_set_new(properties, "provider_id", json_string(sid));
        g_free(id);
    }
    if (code != NULL && code[0] != '\0')
        json_object_set_new(properties, "code", json_string(code));
    /* Twilio's 30005 (unknown handset) and 30006 (landline or
     * unreachable carrier) mean the number cannot take SMS, so the
     * pipeline marks it invalid. */
    if (code != NULL && (strcmp(code, "30005") == 0 ||
                         strcmp(code, "30006") == 0))
        json_object_set_new(properties, "permanent", json_true());
    if (text != NULL && text[0] != '\0')
        json_object_set_new(properties, "text", json_string(text));
    return event;
}


/* Responds 204 once the receipt is stored, or 503 so Twilio retries. */
static void
on_receipt_emitted(void *arg, int status, size_t accepted, size_t duplicates)
{
    struct inbound_reply *r = arg;
    struct sms *sms = r->sms;

    if (status != 0) {
        sms->host->log(sms->ctx, CRIER_LOG_ERROR, "SMS delivery receipt "
                       "not stored; answering 503 so the sender tries again",
                       "error=%s", crier_errname(status));
        error_respond(sms, r->req, 503, "the receipt could not be stored");
    } else {
        sms->host->respond(r->req, 204, "text/plain", "", 0);
    }
    g_free(r);
    sms_work_done(sms);
}


/* Reads `name` from the query string into a new string, or NULL. */
static char *
query_value(const char *query, const char *name)
{
    GPtrArray *params = form_parse(query, strlen(query));
    const char *value = params != NULL ? form_get(params, name) : NULL;
    char *copy = value != NULL && value[0] != '\0' ? g_strdup(value) : NULL;

    if (params != NULL)
        g_ptr_array_unref(params);
    return copy;
}


/*
 * Takes a Twilio status callback. A final status (delivered, undelivered,
 * failed) becomes an sms.* event that the pipeline keeps on the message
 * as its delivery status. A receipt without a message id or a valid To
 * gets a 204 response and a warning. One for a message crier does not
 * know is stored and changes no message. Twilio retries neither.
 */
static void
on_status(void *arg, struct crier_http_req *req)
{
    struct sms *sms = arg;
    struct crier_input_error err = { .index = -1 };
    GPtrArray *fields = request_read(sms, req, sms->status_url);
    const char *status, *type, *to;
    char e164[PHONE_E164_MAX + 1];
    char *message_id;
    struct inbound_reply *r;
    json_t *event;
    int rc;

    if (fields == NULL)
        return;
    status = form_get(fields, "MessageStatus");
    to = form_get(fields, "To");
    message_id = query_value(sms->host->req_query(req), "message_id");
    type = status != NULL ? receipt_event_type(status) : NULL;
    CRIER_LOG(sms->host, sms->ctx, CRIER_LOG_DEBUG, "SMS delivery status",
              "message_id=%s sid=%s status=%s",
              message_id ? message_id : "-",
              form_get(fields, "MessageSid") ? form_get(fields, "MessageSid")
                                             : "-", status ? status : "-");
    if (type == NULL || message_id == NULL || to == NULL ||
        phone_to_e164(to, sms->region, e164) != PHONE_OK) {
        if (type != NULL)
            sms->host->log(sms->ctx, CRIER_LOG_WARN, "SMS delivery receipt "
                           "ignored: it names no message or no valid To",
                           "status=%s", status);
        g_free(message_id);
        g_ptr_array_unref(fields);
        sms->host->respond(req, 204, "text/plain", "", 0);
        return;
    }

    r = g_new0(struct inbound_reply, 1);
    r->sms = sms;
    r->req = req;
    event = receipt_event_build(type, e164, message_id, fields);
    g_free(message_id);
    g_ptr_array_unref(fields);
    rc = sms->host->emit(sms->ctx, event, &err, on_receipt_emitted, r);
    json_decref(event);
    if (rc != 0) {
        sms->host->log(sms->ctx, CRIER_LOG_WARN, "SMS delivery receipt "
                       "rejected", "error=\"%s\" field=%s", err.message,
                       err.field);
        error_respond(sms, req, rc == CRIER_EINVAL ? 400 : 503,
                      rc == CRIER_EINVAL ? err.message : crier_strerror(rc));
        g_free(r);
        return;
    }
    sms->in_flight++;
}


int
inbound_routes_add(struct sms *sms)
{
    int rc;

    if (sms->inbound.path != NULL) {
        rc = sms->host->route_add(sms->ctx, "POST", sms->inbound.path,
                                  on_inbound, sms);
        if (rc != 0)
            return rc;
    }
    if (sms->status_path != NULL) {
        rc = sms->host->route_add(sms->ctx, "POST", sms->status_path,
                                  on_status, sms);
        if (rc != 0)
            return rc;
    }
    return 0;
}
