/*
 * Fuzzes signed-link tokens (core/template/link_token.c), as the beacon's
 * click and open routes and the email channel's unsubscribe route read
 * them. The first byte picks the case:
 * - even: the rest is a token from the URL, verified as is; a forged
 *   token must never verify.
 * - odd: the rest is "identity JSON\nURL". It is signed, the token must
 *   verify and give back the same URL, and the click and open events are
 *   built from it, which reaches the payload readers with any identity.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "../../plugins/triggers/beacon/links.h"
#include "fuzz.h"
#include "template/link_token.h"

#define FUZZ_SECRET "fuzz secret that no input knows"


/* Verifies a token that no one signed. */
static void
token_verify_forged(const char *token)
{
    const char *reason = NULL;
    json_t *payload = NULL;

    if (link_token_verify(FUZZ_SECRET, token, &payload, &reason) == 0)
        __builtin_trap();           /* a forged token verified */
    if (payload != NULL || reason == NULL)
        __builtin_trap();
    (void)link_url_valid(token);
}


/* Signs identity and URL, then verifies and reads the token back. */
static void
token_round_trip(char *text)
{
    char *newline = strchr(text, '\n');
    const char *url = NULL;
    const char *reason = NULL;
    json_t *identity, *payload = NULL, *event;
    char *token;

    if (newline != NULL) {
        *newline = '\0';
        url = newline + 1;
    }
    identity = json_loads(text, JSON_DECODE_ANY, NULL);
    token = link_token_sign(FUZZ_SECRET, "job-1/welcome", identity, url);
    json_decref(identity);
    if (token == NULL)
        return;
    if (link_token_verify(FUZZ_SECRET, token, &payload, &reason) != 0)
        __builtin_trap();           /* a token we signed did not verify */
    if (url != NULL) {
        const char *signed_url = json_string_value(json_object_get(payload,
                                                                   "u"));

        if (signed_url == NULL || strcmp(signed_url, url) != 0)
            __builtin_trap();       /* the URL changed on the way */
    }
    event = links_event_build(payload, url != NULL ? "email.clicked"
                                                   : "email.opened",
                              "Mozilla/5.0 (fuzz)");
    json_decref(event);
    json_decref(payload);
    g_free(token);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;

    if (size == 0)
        return 0;
    text = fuzz_string(data + 1, size - 1);
    if (data[0] % 2 == 0)
        token_verify_forged(text);
    else
        token_round_trip(text);
    free(text);
    return 0;
}
