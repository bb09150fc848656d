/*
 * Experiments: a rule's variants and holdout, and the assignment of a
 * resident to one of them (docs/reports.md, "Experiments").
 */
#include <stdio.h>
#include <string.h>

#include "rules/rules.h"
#include "template/template.h"

static const char *const variant_keys[] = { "template", "weight", NULL };


/* Reads one variant at "<prefix>.variants[i]" into `out`. */
static int
variant_load(struct config *cfg, const char *prefix, size_t i,
             json_t *block, const struct template_set *templates,
             struct variant *out)
{
    char key[64];
    const char *name = NULL;
    long long weight = 1;

    snprintf(key, sizeof(key), "%s.variants[%zu]", prefix, i);
    if (!json_is_object(block)) {
        config_fail(cfg, key, "must be a group: { template = \"a\"; "
                    "weight = 50; }");
        return CRIER_ECONFIG;
    }
    if (config_check_keys(cfg, block, key, variant_keys) ||
        config_get_string(cfg, block, key, "template", 1, &name) ||
        config_get_int(cfg, block, key, "weight", 1, 1000, &weight))
        return CRIER_ECONFIG;
    if (templates == NULL || !template_set_has(templates, name)) {
        config_fail(cfg, key, "template \"%s\" not found in the templates "
                    "folder", name);
        return CRIER_ECONFIG;
    }
    out->template_name = g_strdup(name);
    out->weight = (int) weight;
    return 0;
}


int
rule_experiment_load(struct config *cfg, const char *prefix, json_t *block,
                     const struct template_set *templates, struct rule *r)
{
    json_t *variants = json_object_get(block, "variants");
    long long holdout = 0;
    char key[64];
    size_t i;
    json_t *v;

    if (variants == NULL && json_object_get(block, "holdout") == NULL)
        return 0;
    snprintf(key, sizeof(key), "%s.variants", prefix);
    if (r->channel == NULL) {
        config_fail(cfg, key, "an experiment needs a rule that sends: "
                    "add send = { channel = ...; template = ...; }");
        return CRIER_ECONFIG;
    }
    if (config_get_int(cfg, block, prefix, "holdout", 0, 90, &holdout))
        return CRIER_ECONFIG;
    r->holdout = (int) holdout;
    r->variants = g_array_new(FALSE, TRUE, sizeof(struct variant));
    if (variants != NULL && (!json_is_array(variants) ||
                             json_array_size(variants) == 0)) {
        config_fail(cfg, key, "must be a list: ( { template = \"a\"; "
                    "weight = 50; }, ... )");
        return CRIER_ECONFIG;
    }
    json_array_foreach(variants, i, v) {
        struct variant variant = { NULL, 0 };

        if (variant_load(cfg, prefix, i, v, templates, &variant) != 0)
            return CRIER_ECONFIG;
        g_array_append_val(r->variants, variant);
    }
    /* A holdout alone tests the rule's own template against nothing. The
     * first variant stands for a send without a template of its own. */
    if (r->template_name == NULL)
        r->template_name = g_strdup(g_array_index(r->variants,
                                                  struct variant,
                                                  0).template_name);
    if (r->variants->len == 0) {
        struct variant only = { g_strdup(r->template_name), 1 };

        g_array_append_val(r->variants, only);
    }
    return 0;
}


/*
 * Returns a number in [0, 1) fixed by the rule and the profile id: the
 * first 8 bytes of SHA-256("<rule>/<profile>"). A resident therefore
 * stays in one cell across events, restarts and nodes, and the cells of
 * two rules are independent.
 */
static double
assignment_point(const char *rule, const char *profile_id)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    guint8 digest[32];
    gsize len = sizeof(digest);
    uint64_t value = 0;

    g_checksum_update(sum, (const guchar *) rule, (gssize) strlen(rule));
    g_checksum_update(sum, (const guchar *) "/", 1);
    g_checksum_update(sum, (const guchar *) profile_id,
                      (gssize) strlen(profile_id));
    g_checksum_get_digest(sum, digest, &len);
    g_checksum_free(sum);
    for (int i = 0; i < 8; i++)
        value = value << 8 | digest[i];
    /* The top 53 bits fit a double exactly. */
    return (double) (value >> 11) / (double) (UINT64_C(1) << 53);
}


const char *
rule_assign(const struct rule *rule, const char *profile_id)
{
    double point;
    int total = 0;
    double mark = 0;

    if (rule->variants == NULL)
        return rule->template_name;
    point = assignment_point(rule->name, profile_id);
    if (point < rule->holdout / 100.0)
        return HOLDOUT_TEMPLATE;
    /* The rest of [0, 1) is split by weight, in config order. */
    point = (point - rule->holdout / 100.0) / (1 - rule->holdout / 100.0);
    for (guint i = 0; i < rule->variants->len; i++)
        total += g_array_index(rule->variants, struct variant, i).weight;
    for (guint i = 0; i < rule->variants->len; i++) {
        const struct variant *v = &g_array_index(rule->variants,
                                                 struct variant, i);

        mark += (double) v->weight / total;
        if (point < mark)
            return v->template_name;
    }
    return g_array_index(rule->variants, struct variant,
                         rule->variants->len - 1).template_name;
}
