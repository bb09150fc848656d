/*
 * Tests of core/import/csv.c, the streaming CSV parser, and of the header
 * checks of core/import/import.c. Every parser case runs twice: fed in
 * one piece and fed one byte at a time, which must give the same records.
 * The import runs against a fake store that implements only cursor_get,
 * so a test must end before a valid row is applied. The import parses on
 * libuv's thread pool, so each test runs a loop until the import ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>
#include <jansson.h>

#include "crier/error.h"
#include "crier/store.h"
#include "import/csv.h"
#include "import/import.h"
#include "plugin/plugin.h"
#include "server/server.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * One input and its records, rendered one per line as "LINE:field|field"
 * with "!FIELD error" appended for a malformed record (FIELD is the
 * 0-based field index or -1).
 */
struct parse_case {
    const char *name;
    const char *in;
    size_t len;                 /* 0: strlen(in) */
    const char *out;
};

static const struct parse_case parse_cases[] = {
    { "plain", "a,b\n1,2\n", 0, "1:a|b\n2:1|2\n" },
    { "no final line break", "a,b\n1,2", 0, "1:a|b\n2:1|2\n" },
    { "crlf", "a,b\r\n1,2\r\n", 0, "1:a|b\n2:1|2\n" },
    { "lone cr", "a,b\r1,2\r", 0, "1:a|b\n2:1|2\n" },
    { "quoted", "\"a,b\",c\n", 0, "1:a,b|c\n" },
    { "doubled quotes", "\"say \"\"hi\"\"\",x\n", 0, "1:say \"hi\"|x\n" },
    { "only a doubled quote", "\"\"\"\"\n", 0, "1:\"\n" },
    { "newline in quotes", "a,\"b\nc\"\nd,e\n", 0, "1:a|b\nc\n3:d|e\n" },
    { "crlf in quotes", "\"x\r\ny\",z\r\nd,e\r\n", 0,
      "1:x\r\ny|z\n3:d|e\n" },
    { "bom skipped", "\xEF\xBB\xBF" "email\nana\n", 0, "1:email\n2:ana\n" },
    { "partial bom kept", "\xEF\xBB" "x\n", 0, "1:\xEF\xBBx\n" },
    { "empty cells", "a,,c\n,,\n", 0, "1:a||c\n2:||\n" },
    { "empty quoted cell", "\"\",b\n", 0, "1:|b\n" },
    { "blank lines skipped", "a\n\n\r\nb\n", 0, "1:a\n4:b\n" },
    { "ragged rows kept", "a,b,c\n1\n1,2,3,4\n", 0,
      "1:a|b|c\n2:1\n3:1|2|3|4\n" },
    { "spaces kept", " a , b \n", 0, "1: a | b \n" },
    { "quote in unquoted field", "ab\"c,d\ne\n", 0,
      "1:ab\"c|d!0 a quote inside an unquoted field: quote the whole "
      "field and double the quote\n2:e\n" },
    { "text after closing quote", "x,\"ab\"c,d\ne\n", 0,
      "1:x|abc|d!1 text after a closing quote: quote the whole field\n"
      "2:e\n" },
    { "unclosed quote at end", "a\n\"b\nc", 0,
      "1:a\n2:b\nc!0 a quoted field is not closed before the end of the "
      "file\n" },
    { "nul byte kept", "a\0b,c\n", 6, "1:a\\0b|c\n" },
};


/* Appends a rendering of each record to a GString. */
static int
render_record(void *arg, const struct csv_record *r)
{
    GString *out = arg;

    g_string_append_printf(out, "%zu:", r->line);
    for (size_t i = 0; i < r->count; i++) {
        if (i > 0)
            g_string_append_c(out, '|');
        for (size_t j = 0; j < r->lengths[i]; j++) {
            if (r->fields[i][j] == '\0')
                g_string_append(out, "\\0");
            else
                g_string_append_c(out, r->fields[i][j]);
        }
        assert_int_equal(r->fields[i][r->lengths[i]], '\0');
    }
    if (r->error != NULL)
        g_string_append_printf(out, "!%ld %s", r->error_field, r->error);
    g_string_append_c(out, '\n');
    return 0;
}


static char *
parse_all(const char *in, size_t len, size_t piece, size_t max_bytes)
{
    GString *out = g_string_new("");
    struct csv_parser *p = csv_parser_new(max_bytes, render_record, out);

    assert_non_null(p);
    for (size_t i = 0; i < len; i += piece) {
        size_t n = len - i < piece ? len - i : piece;

        assert_int_equal(csv_parser_feed(p, in + i, n), 0);
    }
    assert_int_equal(csv_parser_finish(p), 0);
    csv_parser_free(p);
    return g_string_free(out, FALSE);
}


static void
parse_table(void **state)
{
    for (size_t i = 0; i < COUNT(parse_cases); i++) {
        const struct parse_case *c = &parse_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        char *whole = parse_all(c->in, len, len ? len : 1, 1024);
        char *bytes = parse_all(c->in, len, 1, 1024);

        print_message("case: %s\n", c->name);
        assert_string_equal(whole, c->out);
        assert_string_equal(bytes, c->out);
        g_free(whole);
        g_free(bytes);
    }
}


static void
parse_empty_input(void **state)
{
    char *out = parse_all("", 0, 1, 1024);

    assert_string_equal(out, "");
    g_free(out);
}


static void
parse_record_too_long(void **state)
{
    char *out = parse_all("abcd,efgh\nxy\n", 13, 4, 6);

    assert_string_equal(out, "1:!-1 the record is longer than the maximum "
                        "size\n2:xy\n");
    g_free(out);
}


static void
parse_too_many_fields(void **state)
{
    GString *in = g_string_new("");
    char *out;

    for (int i = 0; i <= CSV_MAX_FIELDS; i++)
        g_string_append(in, i ? ",x" : "x");
    g_string_append(in, "\nok\n");
    out = parse_all(in->str, in->len, in->len, 1 << 20);
    assert_string_equal(out, "1:!-1 the record has more than 1024 fields\n"
                        "2:ok\n");
    g_free(out);
    g_string_free(in, TRUE);
}


static int
stop_at_second(void *arg, const struct csv_record *r)
{
    int *calls = arg;

    return ++*calls == 2 ? CRIER_EINVAL : 0;
}


static void
parse_callback_stops(void **state)
{
    int calls = 0;
    struct csv_parser *p = csv_parser_new(1024, stop_at_second, &calls);

    assert_int_equal(csv_parser_feed(p, "a\nb\nc\n", 6), CRIER_EINVAL);
    assert_int_equal(calls, 2);
    csv_parser_free(p);
}


/* The value the fake store's cursor_get returns, and the cursor name it
 * was asked for. */
static long long fake_cursor_value;
static char fake_cursor_name[256];


static int
fake_cursor_get(void *store, const char *name, crier_store_cb done,
                void *arg)
{
    json_t *result = json_pack("{s:I}", "value",
                               (json_int_t) fake_cursor_value);

    snprintf(fake_cursor_name, sizeof(fake_cursor_name), "%s", name);
    done(arg, 0, result);
    json_decref(result);
    return 0;
}


static const struct crier_store_ops fake_store_ops = {
    .size = sizeof(struct crier_store_ops),
    .cursor_get = fake_cursor_get,
};
static struct plugin_instance fake_store;


static void
fake_store_install(long long cursor_value)
{
    fake_cursor_value = cursor_value;
    fake_cursor_name[0] = '\0';
    server.store = &fake_store;
    server.store_ops = &fake_store_ops;
}


/* An in-memory input and what the import reported. */
struct memory_import {
    const char *text;
    size_t offset;
    int calls;
    int status;
    json_t *summary;
    char error[256];
    char field[64];
};


static long
memory_read(void *arg, char *buf, size_t cap)
{
    struct memory_import *m = arg;
    size_t n = strlen(m->text) - m->offset;

    if (n > cap)
        n = cap;
    memcpy(buf, m->text + m->offset, n);
    m->offset += n;
    return (long) n;
}


static void
on_import_done(void *arg, int status, const json_t *summary,
               const char *error, const char *field)
{
    struct memory_import *m = arg;

    m->calls++;
    m->status = status;
    m->summary = summary ? json_deep_copy(summary) : NULL;
    snprintf(m->error, sizeof(m->error), "%s", error ? error : "");
    snprintf(m->field, sizeof(m->field), "%s", field ? field : "");
}


/* Imports `text`, which must end before any valid row is emitted. */
static void
import_text(const char *text, struct memory_import *m)
{
    static uv_loop_t loop;

    memset(m, 0, sizeof(*m));
    m->text = text;
    if (server.store_ops == NULL)
        fake_store_install(0);
    if (server.loop == NULL) {
        assert_int_equal(uv_loop_init(&loop), 0);
        server.loop = &loop;
    }
    assert_int_equal(import_start("t1", memory_read, m, on_import_done, m),
                     0);
    uv_run(server.loop, UV_RUN_DEFAULT);
    assert_int_equal(m->calls, 1);
}


static void
header_duplicate_column(void **state)
{
    struct memory_import m;

    import_text("email,name,email\na@example.gov,A,b@example.gov\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    assert_string_equal(m.field, "email");
    assert_string_equal(m.error, "the header has column profile.email twice "
                        "(columns 1 and 3): remove one");
}


static void
header_duplicate_after_prefix(void **state)
{
    struct memory_import m;

    import_text("email,first_name,attribute.first_name\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    assert_string_equal(m.field, "attribute.first_name");
    import_text("case_id,identity.case_id\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
}


static void
header_without_identity(void **state)
{
    struct memory_import m;

    import_text("name,city\nAna,Chicago\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    assert_non_null(strstr(m.error, "no identity column"));
}


static void
header_bad_names(void **state)
{
    struct memory_import m;

    import_text("email,,city\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    assert_non_null(strstr(m.error, "empty column name"));
    import_text("email,consent.SMS\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    assert_string_equal(m.field, "consent.SMS");
    import_text("identity.Badge\n", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    import_text("", &m);
    assert_int_equal(m.status, CRIER_EINVAL);
    assert_non_null(strstr(m.error, "the file is empty"));
}


static void
import_rejects_without_emitting(void **state)
{
    struct memory_import m;
    json_t *rejected;

    import_text("email,name\n\n,Ana\nx\n\"unclosed,y\n", &m);
    assert_int_equal(m.status, 0);
    assert_non_null(m.summary);
    assert_int_equal(json_integer_value(json_object_get(m.summary, "rows")),
                     3);
    assert_int_equal(json_integer_value(json_object_get(m.summary,
                                                        "accepted")), 0);
    rejected = json_object_get(m.summary, "rejected");
    assert_int_equal(json_array_size(rejected), 3);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(rejected, 0), "line")), 3);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(rejected, 1), "line")), 4);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(rejected, 2), "line")), 5);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(rejected, 2), "field")), "email");
    json_decref(m.summary);
}


/* Valid rows up to the line that an earlier run committed are
 * duplicates, and the store is not asked to apply them. */
static void
import_resumes_after_cursor(void **state)
{
    struct memory_import m;

    fake_store_install(5);
    import_text("email,name\na@example.gov,A\nbad,B\n\nc@example.gov,C\n",
                &m);
    assert_string_equal(fake_cursor_name, "import:t1");
    assert_int_equal(m.status, 0);
    assert_int_equal(json_integer_value(json_object_get(m.summary, "rows")),
                     3);
    assert_int_equal(json_integer_value(json_object_get(m.summary,
                                                        "duplicates")), 2);
    assert_int_equal(json_integer_value(json_object_get(m.summary,
                                                        "accepted")), 0);
    assert_int_equal(json_integer_value(json_object_get(m.summary,
                                                        "rejected_total")),
                     1);
    json_decref(m.summary);
    fake_store_install(0);
}


static void
import_id_rules(void **state)
{
    assert_true(import_id_valid("2026-03.members_v2:a"));
    assert_false(import_id_valid(""));
    assert_false(import_id_valid("a/b"));
    assert_false(import_id_valid("a b"));
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_table),
        cmocka_unit_test(parse_empty_input),
        cmocka_unit_test(parse_record_too_long),
        cmocka_unit_test(parse_too_many_fields),
        cmocka_unit_test(parse_callback_stops),
        cmocka_unit_test(header_duplicate_column),
        cmocka_unit_test(header_duplicate_after_prefix),
        cmocka_unit_test(header_without_identity),
        cmocka_unit_test(header_bad_names),
        cmocka_unit_test(import_rejects_without_emitting),
        cmocka_unit_test(import_resumes_after_cursor),
        cmocka_unit_test(import_id_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
