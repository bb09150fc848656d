/*
 * The SMS channel: checks each message (the number, the segment count)
 * and sends it through providers that speak the Twilio Messages API
 * (twilio.c), and responds to replies on the inbound route (inbound.c). The
 * config reference is docs/channels/sms.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sms.h"
#include "sms_segments.h"

#define ERROR_LOG_INTERVAL_MS 60000


static void
sms_destroy(void *state)
{
    struct sms *sms = state;

    if (sms == NULL)
        return;
    sms_config_free(sms);
    g_free(sms);
}


static int
sms_init(struct crier_ctx *ctx, const struct crier_host *host,
         const json_t *config, void **state)
{
    struct sms *sms = g_new0(struct sms, 1);
    int rc;

    sms->ctx = ctx;
    sms->host = host;
    rc = sms_config_read(sms, config);
    if (rc != 0) {
        sms_destroy(sms);
        return rc;
    }
    *state = sms;
    return 0;
}


static int
sms_start(void *state)
{
    struct sms *sms = state;
    int rc = inbound_routes_add(sms);

    if (rc != 0) {
        sms->host->log(sms->ctx, CRIER_LOG_ERROR, "SMS route could not be "
                       "added", "inbound=%s status=%s error=%s",
                       sms->inbound.path ? sms->inbound.path : "-",
                       sms->status_path ? sms->status_path : "-",
                       crier_errname(rc));
        return rc;
    }
    for (size_t i = 0; i < sms->provider_count; i++)
        sms->host->log(sms->ctx, CRIER_LOG_INFO, "sending SMS",
                       "provider=%zu url=%s from=%s", i + 1,
                       sms->providers[i].messages_url,
                       sms->providers[i].from
                           ? sms->providers[i].from
                           : sms->providers[i].messaging_service_sid);
    if (sms->inbound.path != NULL)
        sms->host->log(sms->ctx, CRIER_LOG_INFO, "answering SMS replies",
                       "path=%s url=%s signature=%s", sms->inbound.path,
                       sms->inbound.url,
                       sms->inbound.signature == SMS_SIGNATURE_TWILIO
                           ? "twilio" : "crier");
    return 0;
}


void
sms_work_done(struct sms *sms)
{
    sms->in_flight--;
    if (sms->in_flight == 0 && sms->stop_done != NULL) {
        crier_stop_cb done = sms->stop_done;

        sms->stop_done = NULL;
        done(sms->stop_arg);
    }
}


static void
sms_stop(void *state, crier_stop_cb done, void *arg)
{
    struct sms *sms = state;

    sms->stopping = 1;
    if (sms->in_flight == 0) {
        done(arg);
        return;
    }
    sms->stop_done = done;
    sms->stop_arg = arg;
}


void
sms_error_log(struct sms *sms, const char *msg, const char *fields_fmt, ...)
{
    uint64_t now = uv_now(sms->host->loop(sms->ctx));
    char fields[512];
    va_list ap;

    if (sms->error_logged_ms != 0 &&
        now - sms->error_logged_ms < ERROR_LOG_INTERVAL_MS) {
        sms->errors_unlogged++;
        return;
    }
    va_start(ap, fields_fmt);
    vsnprintf(fields, sizeof(fields), fields_fmt, ap);
    va_end(ap);
    sms->host->log(sms->ctx, CRIER_LOG_ERROR, msg, "%s unlogged=%u", fields,
                   sms->errors_unlogged);
    sms->error_logged_ms = now != 0 ? now : 1;
    sms->errors_unlogged = 0;
}


/* Reports a permanent failure at once, with `detail`. */
static int
fail_now(crier_send_cb done, void *arg, const char *detail)
{
    struct crier_send_result r = {
        .outcome = CRIER_SEND_FAIL,
        .detail = detail,
    };

    done(arg, &r);
    return 0;
}


/*
 * Checks that `text` fits `max_segments`; on failure writes why into
 * `detail` and returns nonzero.
 */
static int
text_check(const struct sms *sms, const char *text, char *detail,
           size_t size)
{
    struct sms_segments segments;

    if (sms_segments_count(text, strlen(text), &segments) != 0) {
        snprintf(detail, size, "the text part is not valid UTF-8");
        return CRIER_EINVAL;
    }
    if (segments.parts == 0) {
        snprintf(detail, size, "the text part is empty; an SMS sends the "
                 "template's text.mustache");
        return CRIER_EINVAL;
    }
    if (segments.parts > (size_t) sms->max_segments) {
        snprintf(detail, size, "the text takes %zu SMS segments (%zu %s "
                 "units), more than max_segments = %d; shorten the "
                 "template", segments.parts, segments.units,
                 segments.encoding == SMS_ENCODING_GSM7 ? "GSM-7" : "UCS-2",
                 sms->max_segments);
        return CRIER_EINVAL;
    }
    return 0;
}


static int
sms_send(void *state, const struct crier_message *msg, crier_send_cb done,
         void *arg)
{
    struct sms *sms = state;
    char to[PHONE_E164_MAX + 1];
    char detail[256];
    enum phone_error perr;
    char *text;
    int rc;

    if (sms->stopping)
        return CRIER_ECLOSED;

    perr = phone_to_e164(msg->to, sms->region, to);
    if (perr != PHONE_OK) {
        snprintf(detail, sizeof(detail), "the number \"%.40s\" %s",
                 msg->to, phone_error_text(perr));
        return fail_now(done, arg, detail);
    }

    /* A template file's last line break, and any white space after the
     * text, would cost characters and can push the text into one more
     * segment. */
    text = g_strchomp(g_strdup(msg->text != NULL ? msg->text : ""));
    if (text_check(sms, text, detail, sizeof(detail)) == 0)
        rc = twilio_send(sms, to, text, msg->message_id, done, arg);
    else
        rc = fail_now(done, arg, detail);
    g_free(text);
    return rc;
}


static const struct crier_channel_ops sms_ops = {
    .size = sizeof(struct crier_channel_ops),
    .address_kind = "phone",
    .send = sms_send,
};


CRIER_PLUGIN_EXPORT = {
    .abi_version = CRIER_ABI_VERSION,
    .abi_minor = CRIER_ABI_MINOR,
    .kind = CRIER_PLUGIN_CHANNEL,
    .name = "sms",
    .version = "0.1.0",
    .summary = "SMS through providers that speak the Twilio Messages API",
    .init = sms_init,
    .start = sms_start,
    .stop = sms_stop,
    .destroy = sms_destroy,
    .ops = &sms_ops,
};
