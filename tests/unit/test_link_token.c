/*
 * Tests of the signed link tokens of email click and open tracking
 * (core/template/link_token.c) and of the rewriting of links in HTML
 * email (core/template/link_rewrite.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "template/link_rewrite.h"
#include "template/link_token.h"

#define SECRET "test-link-secret"
#define URL "https://www.example.gov/recalls/cribs?utm_source=email#top"


static json_t *
identity_new(void)
{
    return json_pack("{s:s}", "email", "ana@example.gov");
}


static void
test_sign_verify_round_trip(void **state)
{
    json_t *identity = identity_new();
    char *token = link_token_sign(SECRET, "rule:welcome/p-1/7", identity,
                                  URL);
    json_t *payload = NULL;
    const char *reason = NULL;

    assert_non_null(token);
    assert_null(strpbrk(token, "+/=?&% "));
    assert_int_equal(link_token_verify(SECRET, token, &payload, &reason), 0);
    assert_string_equal(json_string_value(json_object_get(payload, "m")),
                        "rule:welcome/p-1/7");
    assert_string_equal(json_string_value(json_object_get(payload, "u")),
                        URL);
    assert_true(json_equal(json_object_get(payload, "p"), identity));
    json_decref(payload);
    g_free(token);
    json_decref(identity);
}


static void
test_open_token_has_no_url(void **state)
{
    json_t *identity = identity_new();
    char *token = link_token_sign(SECRET, "m-1", identity, NULL);
    json_t *payload = NULL;
    const char *reason = NULL;

    assert_int_equal(link_token_verify(SECRET, token, &payload, &reason), 0);
    assert_null(json_object_get(payload, "u"));
    json_decref(payload);
    g_free(token);
    json_decref(identity);
}


/* Every single-character change of a token fails to verify. */
static void
test_tampered_tokens_rejected(void **state)
{
    json_t *identity = identity_new();
    char *token = link_token_sign(SECRET, "m-1", identity, URL);
    size_t len = strlen(token);
    json_t *payload;
    const char *reason;

    for (size_t i = 0; i < len; i++) {
        char *copy = g_strdup(token);

        copy[i] = copy[i] == 'x' ? 'y' : 'x';
        payload = NULL;
        reason = NULL;
        assert_int_equal(link_token_verify(SECRET, copy, &payload, &reason),
                         -1);
        assert_null(payload);
        assert_non_null(reason);
        g_free(copy);
    }
    payload = NULL;
    assert_int_equal(link_token_verify("other-secret", token, &payload,
                                       &reason), -1);
    assert_string_equal(reason, "the signature does not match");
    assert_null(payload);
    g_free(token);
    json_decref(identity);
}


static void
test_malformed_tokens_rejected(void **state)
{
    static const char *const tokens[] = {
        "", ".", "abc", "abc.", ".abc", "e30", "e30.e30.e30",
        "%2e%2e.AAAA",
    };
    json_t *payload;
    const char *reason;

    for (size_t i = 0; i < G_N_ELEMENTS(tokens); i++) {
        payload = NULL;
        reason = NULL;
        assert_int_equal(link_token_verify(SECRET, tokens[i], &payload,
                                           &reason), -1);
        assert_null(payload);
        assert_non_null(reason);
    }
    assert_int_equal(link_token_verify(SECRET, NULL, &payload, &reason), -1);
}


/* A payload signed with the right secret but of the wrong form is still
 * rejected, so a buggy signer cannot make the route redirect anywhere. */
static void
test_signed_bad_payload_rejected(void **state)
{
    static const char *const payloads[] = {
        "{\"m\":\"m-1\",\"p\":{\"email\":\"a@b.gov\"},"
        "\"u\":\"javascript:alert(1)\"}",
        "{\"m\":\"m-1\",\"p\":{\"email\":\"a@b.gov\"},"
        "\"u\":\"//evil.example\"}",
        "{\"m\":\"\",\"p\":{\"email\":\"a@b.gov\"}}",
        "{\"m\":\"m-1\",\"p\":{}}",
        "{\"m\":\"m-1\",\"p\":{\"email\":\"a@b.gov\"},\"x\":1}",
        "not json",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(payloads); i++) {
        char *b64 = g_base64_encode((const guchar *) payloads[i],
                                    strlen(payloads[i]));
        GHmac *hmac;
        guint8 digest[32];
        gsize digest_len = sizeof(digest);
        char *sig, *token;
        json_t *payload = NULL;
        const char *reason = NULL;

        /* Turn standard base64 into base64url without padding. */
        g_strdelimit(b64, "+", '-');
        g_strdelimit(b64, "/", '_');
        b64[strcspn(b64, "=")] = '\0';
        hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *) SECRET,
                          strlen(SECRET));
        g_hmac_update(hmac, (const guchar *) b64, -1);
        g_hmac_get_digest(hmac, digest, &digest_len);
        g_hmac_unref(hmac);
        sig = g_base64_encode(digest, digest_len);
        g_strdelimit(sig, "+", '-');
        g_strdelimit(sig, "/", '_');
        sig[strcspn(sig, "=")] = '\0';
        token = g_strconcat(b64, ".", sig, NULL);

        assert_int_equal(link_token_verify(SECRET, token, &payload, &reason),
                         -1);
        assert_null(payload);
        assert_non_null(reason);
        g_free(token);
        g_free(sig);
        g_free(b64);
    }
}


static void
test_sign_rejects_bad_input(void **state)
{
    json_t *identity = identity_new();
    json_t *empty = json_object();

    assert_null(link_token_sign(SECRET, "m-1", identity, "javascript:x"));
    assert_null(link_token_sign(SECRET, "m-1", identity, "https://"));
    assert_null(link_token_sign(SECRET, "m-1", identity,
                                "https://a.gov/x y"));
    assert_null(link_token_sign(SECRET, "", identity, URL));
    assert_null(link_token_sign("", "m-1", identity, URL));
    assert_null(link_token_sign(SECRET, "m-1", empty, URL));

    /* Found by fuzz_link_token: a URL that is not UTF-8 was dropped from
     * the JSON payload, so the click link was signed as an open pixel. */
    assert_null(link_token_sign(SECRET, "m-1", identity,
                                "https://city.exam\xff\xffpage"));
    json_decref(empty);
    json_decref(identity);
}


static void
test_url_valid(void **state)
{
    assert_true(link_url_valid("https://www.example.gov/"));
    assert_true(link_url_valid("http://localhost:8080/a?b=c#d"));
    assert_false(link_url_valid("ftp://example.gov/"));
    assert_false(link_url_valid("https:///path"));
    assert_false(link_url_valid("https://a.gov/\r\nX: y"));
    assert_false(link_url_valid("https://a.gov\\@evil.example/"));
    assert_false(link_url_valid(NULL));
    assert_false(link_url_valid("https://a.gov/caf\xe9"));
    assert_true(link_url_valid("https://a.gov/caf\xc3\xa9"));
}


/* Returns the payload of the token after `prefix` in `html`, up to the
 * next quote, verified with SECRET. */
static json_t *
token_after(const char *html, const char *prefix)
{
    const char *start = strstr(html, prefix);
    char *token;
    json_t *payload = NULL;
    const char *reason = NULL;

    assert_non_null(start);
    start += strlen(prefix);
    token = g_strndup(start, strcspn(start, "\"'"));
    assert_int_equal(link_token_verify(SECRET, token, &payload, &reason), 0);
    g_free(token);
    return payload;
}


static void
test_rewrite_http_links(void **state)
{
    json_t *identity = identity_new();
    char *html = link_html_rewrite(
        "<p><a class=\"x\" href=\"https://a.gov/r?x=1&amp;y=2\">r</a>\n"
        "<a\nHREF = 'http://b.gov/'>b</a></p></BODY></html>",
        SECRET, "https://crier.example.gov", "m-1", identity);
    json_t *first, *second;
    const char *second_link;

    assert_non_null(html);
    first = token_after(html, "href=\"https://crier.example.gov/c/");
    assert_string_equal(json_string_value(json_object_get(first, "u")),
                        "https://a.gov/r?x=1&y=2");
    assert_string_equal(json_string_value(json_object_get(first, "m")),
                        "m-1");
    second_link = strstr(html, "HREF = '");
    assert_non_null(second_link);
    second = token_after(second_link, "'https://crier.example.gov/c/");
    assert_string_equal(json_string_value(json_object_get(second, "u")),
                        "http://b.gov/");

    /* The pixel goes before </BODY> and carries no URL. */
    assert_non_null(strstr(html, "alt=\"\"></BODY></html>"));
    json_decref(token_after(html, "<img src=\"https://crier.example.gov/"
                                  "b.gif?m="));
    json_decref(first);
    json_decref(second);
    g_free(html);
    json_decref(identity);
}


static void
test_rewrite_keeps_other_links(void **state)
{
    static const char *const kept[] = {
        "<a href=\"mailto:help@example.gov\">",
        "<a href=\"#top\">",
        "<a href=\"/relative\">",
        "<a href=\"https://a.gov/&unknown;\">",
        "<a data-href=\"https://a.gov/\">",
        "<a href=https://a.gov/>",
    };
    json_t *identity = identity_new();

    for (size_t i = 0; i < G_N_ELEMENTS(kept); i++) {
        char *html = link_html_rewrite(kept[i], SECRET, "https://c.gov",
                                       "m-1", identity);

        assert_non_null(html);
        assert_true(g_str_has_prefix(html, kept[i]));
        assert_null(strstr(html, "/c/"));
        assert_non_null(strstr(html, "<img src=\"https://c.gov/b.gif?m="));
        g_free(html);
    }
    assert_null(link_html_rewrite("<p>x</p>", "", "https://c.gov", "m-1",
                                  identity));
    json_decref(identity);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_round_trip),
        cmocka_unit_test(test_open_token_has_no_url),
        cmocka_unit_test(test_tampered_tokens_rejected),
        cmocka_unit_test(test_malformed_tokens_rejected),
        cmocka_unit_test(test_signed_bad_payload_rejected),
        cmocka_unit_test(test_sign_rejects_bad_input),
        cmocka_unit_test(test_url_valid),
        cmocka_unit_test(test_rewrite_http_links),
        cmocka_unit_test(test_rewrite_keeps_other_links),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
