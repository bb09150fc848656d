/* Page settings and the signed tokens of page links. */
#include "topics/pages.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "base/clock.h"
#include "base/log.h"
#include "server/server.h"
#include "template/link_token.h"
#include "template/template.h"

#define CONFIRM_TTL_DEFAULT_MS (72 * 3600 * INT64_C(1000))

static const char *const page_keys[] = {
    "secret", "confirm_template", "confirm_ttl", NULL
};

struct page_settings pages;


void
pages_release(void)
{
    g_free(pages.key);
    g_free(pages.confirm_template);
    memset(&pages, 0, sizeof(pages));
}


int
pages_load(struct config *cfg)
{
    json_t *group = json_object_get(cfg->root, "pages");
    const char *secret = NULL, *confirm = NULL, *ttl = NULL;

    pages_release();
    pages.confirm_ttl_ms = CONFIRM_TTL_DEFAULT_MS;
    if (group == NULL)
        return 0;
    if (!json_is_object(group)) {
        config_fail(cfg, "pages", "must be a group: { secret = ...; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, group, "pages", page_keys) ||
        config_get_string(cfg, group, "pages", "secret", 1, &secret) ||
        config_get_string(cfg, group, "pages", "confirm_template", 1,
                          &confirm) ||
        config_get_string(cfg, group, "pages", "confirm_ttl", 0, &ttl))
        return CRIER_ECONFIG;
    if (strlen(secret) < PAGES_SECRET_MIN) {
        config_fail(cfg, "pages.secret", "must be at least %d characters; "
                    "generate one with: openssl rand -hex 32",
                    PAGES_SECRET_MIN);
        return CRIER_ECONFIG;
    }
    if (ttl != NULL && (clock_parse_duration(ttl, &pages.confirm_ttl_ms) != 0
                        || pages.confirm_ttl_ms < 60000)) {
        config_fail(cfg, "pages.confirm_ttl", "\"%s\" is not a duration of "
                    "1m or more, such as \"72h\"", ttl);
        return CRIER_ECONFIG;
    }
    if (server.templates == NULL ||
        !template_set_has(server.templates, confirm)) {
        config_fail(cfg, "pages.confirm_template", "no template \"%s\" in "
                    "the templates folder", confirm);
        return CRIER_ECONFIG;
    }
    /* A purpose prefix keeps a token signed with the same secret for
     * another use, such as a click link, from verifying here. */
    pages.key = g_strconcat("crier topic pages\n", secret, NULL);
    pages.confirm_template = g_strdup(confirm);
    return 0;
}


char *
page_token_sign(const char *profile, const char *message)
{
    json_t *identity;
    char *token;

    if (pages.key == NULL || profile == NULL)
        return NULL;
    identity = json_pack("{s:s}", "profile", profile);
    token = link_token_sign(pages.key, message, identity, NULL);
    json_decref(identity);
    return token;
}


char *
page_token_verify(const char *token, char **message)
{
    const char *reason = NULL;
    json_t *payload = NULL;
    const char *profile, *purpose;
    char *out = NULL;

    *message = NULL;
    if (pages.key == NULL ||
        link_token_verify(pages.key, token, &payload, &reason) != 0) {
        log_info("page link rejected", "reason=\"%s\"",
                 reason ? reason : "pages are off");
        return NULL;
    }
    profile = json_string_value(json_object_get(json_object_get(payload,
                                                                "p"),
                                                "profile"));
    purpose = json_string_value(json_object_get(payload, "m"));
    if (profile != NULL && purpose != NULL &&
        json_object_get(payload, "u") == NULL) {
        out = g_strdup(profile);
        *message = g_strdup(purpose);
    }
    json_decref(payload);
    return out;
}


/* Adds "<public_url>/p/<path>/<token>" under `name` in `data`. */
static void
link_add(json_t *data, const char *name, const char *path,
         const char *profile, const char *message)
{
    char *token = page_token_sign(profile, message);
    char *url;

    if (token == NULL)
        return;
    url = g_strdup_printf("%s/p/%s/%s", server.settings.public_url, path,
                          token);
    json_object_set_new(data, name, json_string(url));
    g_free(url);
    g_free(token);
}


/* A confirmation job's key is "topic-confirm:<topic>/<channel>/<profile>/
 * <time>", so the link names the subscription it confirms. */
void
pages_links_add(json_t *data, const json_t *job)
{
    const char *profile = json_string_value(json_object_get(job,
                                                            "profile_id"));
    const char *key = json_string_value(json_object_get(job, "key"));
    const char *rule = json_string_value(json_object_get(job, "rule"));
    char **parts;
    char *message;

    if (pages.key == NULL || profile == NULL)
        return;
    link_add(data, "preferences_url", "prefs", profile, "prefs");
    if (g_strcmp0(rule, PAGES_CONFIRM_RULE) != 0 || key == NULL ||
        !g_str_has_prefix(key, PAGES_CONFIRM_RULE ":"))
        return;
    parts = g_strsplit(key + strlen(PAGES_CONFIRM_RULE ":"), "/", 4);
    if (g_strv_length(parts) == 4) {
        message = g_strdup_printf("confirm/%s/%s/%lld", parts[0], parts[1],
                                  (long long) (clock_now_ms() +
                                               pages.confirm_ttl_ms));
        link_add(data, "confirm_url", "confirm", profile, message);
        g_free(message);
    }
    g_strfreev(parts);
}
