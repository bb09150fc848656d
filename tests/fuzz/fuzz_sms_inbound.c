/*
 * Fuzzes the SMS inbound route's parsers (plugins/channels/sms) in the
 * order the route runs them on Twilio's form body. They are form
 * decoding, the request signature over the fields, the sender's number
 * to E.164 (US region) and the reply keyword of the Body field.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "../../plugins/channels/sms/keyword.h"
#include "../../plugins/channels/sms/phone.h"
#include "fuzz.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_string(data, size);
    char e164[PHONE_E164_MAX + 1];
    const char *from, *text;
    GPtrArray *fields;
    char *signature;

    fields = form_parse(body, size);
    if (fields == NULL) {
        free(body);
        return 0;
    }
    signature = twilio_signature_compute("auth-token",
                                         "https://crier.example/sms/in",
                                         fields);
    g_free(signature);

    from = form_get(fields, "From");
    if (from != NULL &&
        phone_to_e164(from, phone_region_find("US"), e164) == PHONE_OK &&
        (e164[0] != '+' || strlen(e164) > PHONE_E164_MAX))
        __builtin_trap();           /* not E.164 */
    text = form_get(fields, "Body");
    if (text != NULL)
        (void)sms_keyword_parse(text);

    /* The whole input as a number and as a keyword, too. */
    (void)phone_to_e164(body, phone_region_find("GB"), e164);
    (void)sms_keyword_parse(body);
    g_ptr_array_free(fields, TRUE);
    free(body);
    return 0;
}
