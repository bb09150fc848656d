/*
 * Flags hits from software rather than people: search and social
 * crawlers, link and security scanners, mail privacy proxies that fetch
 * open pixels, and scripts. A flagged hit is still stored, with
 * properties.bot set to the class, so reports can leave it out.
 */
#ifndef CRIER_BEACON_BOTS_H
#define CRIER_BEACON_BOTS_H

struct bot_classifier;

/*
 * Compiles the pattern table. Returns NULL when a pattern does not
 * compile, with `error` holding PCRE2's message and the pattern.
 */
struct bot_classifier *bot_classifier_new(char *error, size_t error_len);

/*
 * Returns the class of `user_agent` ("mail_proxy", "scanner", "crawler",
 * "script", or "outdated" for a browser version years old), or NULL for
 * a current browser or a NULL user agent. The first matching pattern of
 * the table decides, and the browser versions are checked last.
 */
const char *bot_classify(const struct bot_classifier *classifier,
                         const char *user_agent);

void bot_classifier_free(struct bot_classifier *classifier);

#endif
