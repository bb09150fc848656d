/*
 * The shared email address check against Dominic Sayers's is_email test
 * set (isemail_tests.xml, version 3.05): every address the set classes as
 * valid, or valid with only a DNS warning, is accepted, and every other
 * address is rejected, except for the deliberate differences listed in
 * `differences` below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "ingest/email_address.h"
#include "ingest/identity.h"

#define TESTS_XML CRIER_SHARED_DIR "/data/email/isemail_tests.xml"

/* The test set writes control character N as U+2400 + N, since XML
 * cannot hold most of them, and DEL as U+2421. */
#define CONTROL_PICTURE_FIRST 0x2400
#define CONTROL_PICTURE_LAST 0x241f
#define DELETE_PICTURE 0x2421

/* Addresses where crier's check differs from the test set on purpose. */
static const struct {
    const char *id;
    int accepted;
    const char *why;
} differences[] = {
    { "5", 0, "test@io: a domain of one label is rejected. Resolvers try "
              "such a name against the local search domains, and the set "
              "itself classes test@org as not valid for SMTP." },
};

struct isemail_case {
    char *id;
    GString *address;
    char *category;
};

struct parse_state {
    GPtrArray *cases;
    struct isemail_case *current;
    GString *text;
    int in_text;
};


static void
case_free(gpointer data)
{
    struct isemail_case *c = data;

    g_free(c->id);
    g_string_free(c->address, TRUE);
    g_free(c->category);
    g_free(c);
}


/* Appends `text` to `out`, turning control pictures back into the
 * control characters they stand for. */
static void
address_append(GString *out, const char *text, gsize len)
{
    const char *end = text + len;

    for (const char *p = text; p < end; p = g_utf8_next_char(p)) {
        gunichar c = g_utf8_get_char(p);

        if (c >= CONTROL_PICTURE_FIRST && c <= CONTROL_PICTURE_LAST)
            g_string_append_c(out, (char) (c - CONTROL_PICTURE_FIRST));
        else if (c == DELETE_PICTURE)
            g_string_append_c(out, 0x7f);
        else
            g_string_append_len(out, p, g_utf8_next_char(p) - p);
    }
}


static void
on_start(GMarkupParseContext *context, const char *name,
         const char **attribute_names, const char **attribute_values,
         gpointer data, GError **error)
{
    struct parse_state *s = data;

    if (strcmp(name, "test") == 0) {
        s->current = g_new0(struct isemail_case, 1);
        s->current->address = g_string_new(NULL);
        for (size_t i = 0; attribute_names[i] != NULL; i++)
            if (strcmp(attribute_names[i], "id") == 0)
                s->current->id = g_strdup(attribute_values[i]);
        return;
    }
    s->in_text = s->current != NULL &&
                 (strcmp(name, "address") == 0 ||
                  strcmp(name, "category") == 0);
    g_string_truncate(s->text, 0);
}


static void
on_text(GMarkupParseContext *context, const char *text, gsize len,
        gpointer data, GError **error)
{
    struct parse_state *s = data;

    if (s->in_text)
        g_string_append_len(s->text, text, (gssize) len);
}


static void
on_end(GMarkupParseContext *context, const char *name, gpointer data,
       GError **error)
{
    struct parse_state *s = data;

    if (s->current == NULL)
        return;
    if (strcmp(name, "address") == 0)
        address_append(s->current->address, s->text->str, s->text->len);
    else if (strcmp(name, "category") == 0)
        s->current->category = g_strdup(s->text->str);
    else if (strcmp(name, "test") == 0) {
        g_ptr_array_add(s->cases, s->current);
        s->current = NULL;
    }
    s->in_text = 0;
}


static GPtrArray *
cases_load(void)
{
    static const GMarkupParser parser = {
        .start_element = on_start,
        .end_element = on_end,
        .text = on_text,
    };
    struct parse_state s = { .cases = g_ptr_array_new_with_free_func(
                                 case_free),
                             .text = g_string_new(NULL) };
    GMarkupParseContext *context;
    GError *error = NULL;
    char *xml;
    gsize len;

    if (!g_file_get_contents(TESTS_XML, &xml, &len, &error))
        fail_msg("cannot read %s: %s", TESTS_XML, error->message);
    context = g_markup_parse_context_new(&parser, 0, &s, NULL);
    if (!g_markup_parse_context_parse(context, xml, (gssize) len, &error) ||
        !g_markup_parse_context_end_parse(context, &error))
        fail_msg("cannot parse %s: %s", TESTS_XML, error->message);
    g_markup_parse_context_free(context);
    g_free(xml);
    g_string_free(s.text, TRUE);
    return s.cases;
}


/* Returns 1 or 0 for an address the set expects accepted or rejected,
 * after the deliberate differences. */
static int
expected_accepted(const struct isemail_case *c)
{
    for (size_t i = 0; i < G_N_ELEMENTS(differences); i++)
        if (strcmp(differences[i].id, c->id) == 0)
            return differences[i].accepted;
    return strcmp(c->category, "ISEMAIL_VALID_CATEGORY") == 0 ||
           strcmp(c->category, "ISEMAIL_DNSWARN") == 0;
}


static void
test_isemail_set(void **state)
{
    GPtrArray *cases = cases_load();
    unsigned accepted = 0, mismatches = 0;

    /* The set's version 3.05 has 164 tests. */
    assert_int_equal(cases->len, 164);
    for (guint i = 0; i < cases->len; i++) {
        const struct isemail_case *c = g_ptr_array_index(cases, i);
        int expected = expected_accepted(c);
        int got = email_address_valid(c->address->str) != 0;

        assert_non_null(c->category);
        accepted += (unsigned) got;
        if (got != expected) {
            print_error("test %s %s: expected %s, got %s\n", c->id,
                        c->address->str, expected ? "accepted" : "rejected",
                        got ? "accepted" : "rejected");
            mismatches++;
        }
    }
    assert_int_equal(mismatches, 0);
    /* 14 valid and 8 with DNS warnings, less test@io. */
    assert_int_equal(accepted, 21);
    g_ptr_array_free(cases, TRUE);
}


/* Every deliberate difference names a test that exists and differs. */
static void
test_differences_apply(void **state)
{
    GPtrArray *cases = cases_load();

    for (size_t i = 0; i < G_N_ELEMENTS(differences); i++) {
        const struct isemail_case *found = NULL;

        for (guint j = 0; j < cases->len; j++) {
            const struct isemail_case *c = g_ptr_array_index(cases, j);

            if (strcmp(c->id, differences[i].id) == 0)
                found = c;
        }
        assert_non_null(found);
        assert_true(strlen(differences[i].why) > 0);
        assert_int_equal(email_address_valid(found->address->str) != 0,
                         differences[i].accepted);
    }
    g_ptr_array_free(cases, TRUE);
}


/* Edges the set does not cover: lengths and label rules. */
static void
test_address_edges(void **state)
{
    char local[EMAIL_LOCAL_PART_MAX + 2];
    char label[EMAIL_LABEL_MAX + 2];
    char *address;

    memset(local, 'a', sizeof(local) - 1);
    local[sizeof(local) - 1] = '\0';
    address = g_strdup_printf("%s@example.gov", local);
    assert_false(email_address_valid(address));
    g_free(address);
    local[EMAIL_LOCAL_PART_MAX] = '\0';
    address = g_strdup_printf("%s@example.gov", local);
    assert_true(email_address_valid(address));
    g_free(address);

    memset(label, 'b', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    address = g_strdup_printf("a@%s.gov", label);
    assert_false(email_address_valid(address));
    g_free(address);

    assert_true(email_address_valid("Ana.Diaz+news@Example.GOV"));
    assert_false(email_address_valid("ana@-example.gov"));
    assert_false(email_address_valid("ana@example-.gov"));
    assert_false(email_address_valid("ana@example..gov"));
    assert_false(email_address_valid("ana@example.gov."));
    assert_false(email_address_valid("ana@@example.gov"));
    assert_false(email_address_valid("ana@example.gov@example.gov"));
    assert_false(email_address_valid("an\xc3\xa1@example.gov"));
    assert_false(email_address_valid(""));
    assert_false(email_address_valid(NULL));
}


/* Ingest stores the address lowercased, after the same check. */
static void
test_ingest_uses_check(void **state)
{
    json_t *v = identity_normalize_email("Ana.Diaz@Example.GOV");

    assert_non_null(v);
    assert_string_equal(json_string_value(v), "ana.diaz@example.gov");
    json_decref(v);
    assert_null(identity_normalize_email("\"ana\"@example.gov"));
    assert_null(identity_normalize_email("ana@[192.0.2.1]"));
    assert_null(identity_normalize_email("ana@localhost"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isemail_set),
        cmocka_unit_test(test_differences_apply),
        cmocka_unit_test(test_address_edges),
        cmocka_unit_test(test_ingest_uses_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
