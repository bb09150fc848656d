/*
 * The hosted pages of topics, which need no JavaScript: a subscribe form
 * per topic, the confirmation of an email subscription (double opt-in)
 * and the preference page that every message links to. Their links carry
 * tokens signed with HMAC-SHA256 under `pages.secret`, in the form of the
 * click tokens (template/link_token.h), so nobody reaches another
 * resident's preferences by editing a URL (docs/topics.md).
 */
#ifndef CRIER_CORE_TOPIC_PAGES_H
#define CRIER_CORE_TOPIC_PAGES_H

#include <stdint.h>

#include <jansson.h>

#include "config/config.h"

struct http_server;

/* The rule name of a confirmation message's job. */
#define PAGES_CONFIRM_RULE "topic-confirm"

/* The shortest `pages.secret`, so that it cannot be guessed. */
#define PAGES_SECRET_MIN 32

struct page_settings {
    char *key;                  /* derived from pages.secret, or NULL */
    char *confirm_template;     /* the confirmation message's template */
    int64_t confirm_ttl_ms;     /* how long a confirmation link works */
};

extern struct page_settings pages;

/* Reads the `pages` group. Returns 0 or CRIER_ECONFIG at its key. */
int pages_load(struct config *cfg);
void pages_release(void);

/* Adds the page routes under /p/ when `pages.secret` is set. */
int page_routes_add(struct http_server *http);

/*
 * Adds the links of a message to its render data: "preferences_url" for
 * every message of a profile, and "confirm_url" for a confirmation
 * message. Does nothing while pages are off.
 */
void pages_links_add(json_t *data, const json_t *job);

/*
 * Signs a page token for `profile` and the purpose `message`
 * ("prefs", or "confirm/<topic>/<channel>/<expiry ms>"). New string, or
 * NULL when pages are off.
 */
char *page_token_sign(const char *profile, const char *message);

/* Checks a token; returns the profile id and sets *message (both new
 * strings), or NULL when the token is not valid. */
char *page_token_verify(const char *token, char **message);

#endif
