#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <glib.h>

#include "bots.h"

/*
 * The patterns, matched without case against the User-Agent header, first
 * match wins. Mail proxies come first because Google's proxy also names a
 * browser; scanners before crawlers because some scanners call themselves
 * bots. Sources are the user agents that each vendor documents, and the
 * probes seen in web server logs.
 */
static const struct {
    const char *class;
    const char *pattern;
} bot_patterns[] = {
    /* Gmail fetches images through "... (via ggpht.com GoogleImageProxy)". */
    {"mail_proxy", "GoogleImageProxy"},
    {"mail_proxy", "YahooMailProxy"},
    /* NOTE: Apple Mail Privacy Protection fetches with the bare user agent
     * "Mozilla/5.0" from Apple's addresses. The bare string is a heuristic:
     * some other clients send it too, and the addresses are not checked
     * (docs/KNOWN_LIMITS.md, "Triggers"). */
    {"mail_proxy", "^Mozilla/5\\.0$"},

    /* Link scanners of mail gateways, and security and census probes. */
    {"scanner", "Barracuda|Mimecast|Proofpoint|Forcepoint|TrendMicro|"
                "SafeLinks|urlscan|VirusTotal"},
    {"scanner", "zgrab|masscan|Nmap|Nuclei|Nikto|sqlmap|WPScan|"
                "CensysInspect|Expanse|InternetMeasurement|l9explore|"
                "Palo Alto Networks"},

    /* Search engines, SEO tools, link previews of social sites and AI
     * crawlers, then any user agent that calls itself a bot, crawler or
     * spider ("CUBOT" is a phone maker, not a bot). */
    {"crawler", "Googlebot|Google-InspectionTool|AdsBot-Google|bingbot|"
                "BingPreview|Slurp|DuckDuckBot|Baiduspider|YandexBot|"
                "Applebot|PetalBot|Sogou|Exabot|SeznamBot|Qwantify"},
    {"crawler", "AhrefsBot|SemrushBot|MJ12bot|DotBot|BLEXBot|"
                "DataForSeoBot|Bytespider|GPTBot|ChatGPT-User|CCBot|"
                "ClaudeBot|anthropic-ai|PerplexityBot|Amazonbot"},
    {"crawler", "facebookexternalhit|facebookcatalog|Twitterbot|"
                "LinkedInBot|Slackbot|Discordbot|TelegramBot|WhatsApp|"
                "Pinterestbot|redditbot|Embedly|SkypeUriPreview"},
    {"crawler", "(?<!cu)bot\\b|crawler|spider|archiver|ia_archiver"},

    /* HTTP libraries, command line tools and headless browsers. */
    {"script", "^curl/|^Wget/|python-requests|python-urllib|aiohttp|"
               "Go-http-client|okhttp|^Java/|Apache-HttpClient|"
               "libwww-perl|axios/|node-fetch|HeadlessChrome|PhantomJS"},
};

struct bot_classifier {
    pcre2_code *codes[G_N_ELEMENTS(bot_patterns)];
    pcre2_match_data *match;
};


struct bot_classifier *
bot_classifier_new(char *error, size_t error_len)
{
    struct bot_classifier *classifier = g_new0(struct bot_classifier, 1);

    for (size_t i = 0; i < G_N_ELEMENTS(bot_patterns); i++) {
        PCRE2_SIZE offset;
        int code;

        classifier->codes[i] = pcre2_compile(
            (PCRE2_SPTR) bot_patterns[i].pattern, PCRE2_ZERO_TERMINATED,
            PCRE2_CASELESS | PCRE2_UTF, &code, &offset, NULL);
        if (classifier->codes[i] == NULL) {
            PCRE2_UCHAR message[120];

            pcre2_get_error_message(code, message, sizeof(message));
            snprintf(error, error_len, "bot pattern %s at offset %zu: %s",
                     bot_patterns[i].pattern, (size_t) offset,
                     (const char *) message);
            bot_classifier_free(classifier);
            return NULL;
        }
        pcre2_jit_compile(classifier->codes[i], PCRE2_JIT_COMPLETE);
    }
    classifier->match = pcre2_match_data_create(1, NULL);
    return classifier;
}


/* Returns the class of the first pattern that matches, or NULL. */
static const char *
pattern_class(const struct bot_classifier *classifier,
              const char *user_agent)
{
    for (size_t i = 0; i < G_N_ELEMENTS(bot_patterns); i++) {
        /* The hit builder has already made the user agent valid UTF-8;
         * a failed match of any kind counts as no match. */
        int rc = pcre2_match(classifier->codes[i], (PCRE2_SPTR) user_agent,
                             PCRE2_ZERO_TERMINATED, 0, 0, classifier->match,
                             NULL);

        if (rc >= 0)
            return bot_patterns[i].class;
    }
    return NULL;
}


/*
 * Browsers update themselves, so one that names a version years old is
 * almost always a script that copied its user agent: the form spam in
 * web server logs sends Chrome 39 and Firefox 35. Chrome 100 and Firefox
 * 100 came out in 2022, Safari 15 ("Version/15") in 2021, and Internet
 * Explorer ended in 2022. A resident on a device that no longer updates
 * is flagged too, which is why a flag never drops a hit.
 */
static const struct {
    const char *product;        /* "Chrome/", followed by the version */
    long below;                 /* versions below this are outdated */
} browser_floors[] = {
    {"Chrome/", 100},
    {"Firefox/", 100},
    {"Version/", 15},
    {"MSIE ", 1000},
    {"Trident/", 1000},
};


/* Returns 1 when the user agent names a browser version older than its
 * floor. */
static int
outdated_browser(const char *user_agent)
{
    for (size_t i = 0; i < G_N_ELEMENTS(browser_floors); i++) {
        const char *at = strstr(user_agent, browser_floors[i].product);

        if (at != NULL &&
            g_ascii_isdigit(at[strlen(browser_floors[i].product)]) &&
            strtol(at + strlen(browser_floors[i].product), NULL, 10) <
                browser_floors[i].below)
            return 1;
    }
    return 0;
}


const char *
bot_classify(const struct bot_classifier *classifier, const char *user_agent)
{
    const char *class;

    if (user_agent == NULL)
        return NULL;
    class = pattern_class(classifier, user_agent);
    if (class == NULL && outdated_browser(user_agent))
        class = "outdated";
    return class;
}


void
bot_classifier_free(struct bot_classifier *classifier)
{
    if (classifier == NULL)
        return;
    for (size_t i = 0; i < G_N_ELEMENTS(bot_patterns); i++)
        pcre2_code_free(classifier->codes[i]);
    pcre2_match_data_free(classifier->match);
    g_free(classifier);
}
