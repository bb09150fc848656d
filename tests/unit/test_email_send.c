/*
 * Tests of the email channel through its descriptor: config checks,
 * delivery into a Maildir outbox, and SMTP through the core's transfer
 * code against an aiosmtpd server on a loopback port. The plugin sources
 * are included, so the test needs no built plugin.
 */
#include "../../plugins/channels/email/email.c"
#include "../../plugins/channels/email/maildir.c"
#include "../../plugins/channels/email/mime.c"
#include "../../plugins/channels/email/smtp.c"
#include "../../plugins/channels/email/smtp_conn.c"
#include "../../plugins/channels/email/smtp_reply.c"
#include "../../plugins/channels/email/smtp_tls.c"
#include "../../plugins/channels/email/unsubscribe.c"
#include "../../plugins/channels/email/bounces.c"
#include "../../plugins/channels/email/provider_events.c"
#include "../../plugins/channels/email/dkim.c"
#include "../../plugins/channels/email/dsn.c"
#include "../../plugins/channels/email/imap.c"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "net/transfer.h"

#define DATE_MS INT64_C(1736258580000)
#define FROM "City of Example <alerts@example.gov>"

/* The fake SMTP server's handler. RCPT of reject@ gets 550 and of later@
 * 451, and a message to spam@ gets 554 at its end. Each accepted message
 * is stored as <n>.eml, with its envelope beside it as <n>.env. */
static const char smtp_handler[] =
    "import os\n"
    "class Handler:\n"
    "    def __init__(self, folder):\n"
    "        self.folder = folder\n"
    "        self.count = 0\n"
    "    @classmethod\n"
    "    def from_cli(cls, parser, *args):\n"
    "        return cls(args[0])\n"
    "    async def handle_RCPT(self, server, session, envelope, address,\n"
    "                          options):\n"
    "        if address.startswith('reject@'):\n"
    "            return '550 5.1.1 No such user here'\n"
    "        if address.startswith('later@'):\n"
    "            return '451 4.3.0 Try again later'\n"
    "        envelope.rcpt_tos.append(address)\n"
    "        return '250 OK'\n"
    "    async def handle_DATA(self, server, session, envelope):\n"
    "        if envelope.rcpt_tos[0].startswith('spam@'):\n"
    "            return '554 5.7.1 Message rejected as spam'\n"
    "        self.count += 1\n"
    "        base = os.path.join(self.folder, str(self.count))\n"
    "        with open(base + '.env', 'w') as f:\n"
    "            f.write(envelope.mail_from + ' ' +\n"
    "                    ' '.join(envelope.rcpt_tos))\n"
    "        with open(base + '.tmp', 'wb') as f:\n"
    "            f.write(envelope.original_content)\n"
    "        os.rename(base + '.tmp', base + '.eml')\n"
    "        return '250 2.0.0 Stored'\n";

/* What the fake host recorded, and the results of sends. */
static struct {
    uv_loop_t loop;
    char dir[256];                /* this run's scratch folder */
    char error_key[64];
    char error[512];
    unsigned stops;
    unsigned error_logs;
    pid_t server;
    int port;
} fixture;

struct outcome {
    int reported;
    enum crier_send_outcome outcome;
    char provider_id[256];
    char detail[512];
};


static int
host_log_enabled(struct crier_ctx *ctx, enum crier_log_level level)
{
    return getenv("CRIER_TEST_VERBOSE") != NULL;
}


static void
host_log(struct crier_ctx *ctx, enum crier_log_level level, const char *msg,
         const char *fields_fmt, ...)
{
    va_list ap;

    if (level == CRIER_LOG_ERROR)
        fixture.error_logs++;
    if (getenv("CRIER_TEST_VERBOSE") == NULL)
        return;
    fprintf(stderr, "log %d: %s ", level, msg);
    if (fields_fmt != NULL) {
        va_start(ap, fields_fmt);
        vfprintf(stderr, fields_fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
}


static void
host_config_error(struct crier_ctx *ctx, const char *key, const char *fmt,
                  ...)
{
    va_list ap;

    g_strlcpy(fixture.error_key, key, sizeof(fixture.error_key));
    va_start(ap, fmt);
    vsnprintf(fixture.error, sizeof(fixture.error), fmt, ap);
    va_end(ap);
}


static char *
host_resolve_path(struct crier_ctx *ctx, const char *path)
{
    char out[512];

    if (path[0] == '/')
        return strdup(path);
    snprintf(out, sizeof(out), "%s/%s", fixture.dir, path);
    return strdup(out);
}


static uv_loop_t *
host_loop(struct crier_ctx *ctx)
{
    return &fixture.loop;
}


static int64_t
host_now_ms(struct crier_ctx *ctx)
{
    return DATE_MS;
}


static int
host_transfer_start(struct crier_ctx *ctx, CURL *easy,
                    crier_transfer_cb done, void *arg)
{
    return transfer_start(easy, done, arg);
}


static const char *
host_public_url(struct crier_ctx *ctx)
{
    return "https://notify.example.gov";
}


static const struct crier_host host = {
    .size = sizeof(struct crier_host),
    .public_url = host_public_url,
    .minor = CRIER_ABI_MINOR,
    .log_enabled = host_log_enabled,
    .log = host_log,
    .config_error = host_config_error,
    .resolve_path = host_resolve_path,
    .loop = host_loop,
    .now_ms = host_now_ms,
    .transfer_start = host_transfer_start,
};


static void
on_sent(void *arg, const struct crier_send_result *r)
{
    struct outcome *o = arg;

    o->reported++;
    o->outcome = r->outcome;
    g_strlcpy(o->provider_id, r->provider_id ? r->provider_id : "",
              sizeof(o->provider_id));
    g_strlcpy(o->detail, r->detail ? r->detail : "", sizeof(o->detail));
}


static void
on_stopped(void *arg)
{
    fixture.stops++;
}


static int
message_send(struct email *email, const struct crier_message *msg,
             struct outcome *outcome)
{
    const struct crier_channel_ops *ops = crier_plugin.ops;

    return ops->send(email, msg, on_sent, outcome);
}


/* Runs the loop until `n` outcomes are reported; fails after 10 s. */
static void
outcomes_wait(struct outcome *outcomes, size_t n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    for (;;) {
        size_t reported = 0;

        for (size_t i = 0; i < n; i++)
            reported += outcomes[i].reported > 0;
        if (reported == n)
            break;
        if (g_get_monotonic_time() > deadline)
            fail_msg("%zu of %zu sends reported in 10 s", reported, n);
        uv_run(&fixture.loop, UV_RUN_ONCE);
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(outcomes[i].reported, 1);
}


/* Runs init with the config `json`; returns its code. */
static int
email_open(const char *json, struct email **email)
{
    json_t *config = json_loads(json, 0, NULL);
    void *state = NULL;
    int rc;

    assert_non_null(config);
    fixture.error_key[0] = '\0';
    fixture.error[0] = '\0';
    rc = crier_plugin.init(NULL, &host, config, &state);
    json_decref(config);
    *email = state;
    return rc;
}


/* Stops the channel, runs the loop until the stop is reported (the SMTP
 * connections report it once they have closed) and destroys it. */
static void
email_close(struct email *email)
{
    unsigned stops = fixture.stops;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    crier_plugin.stop(email, on_stopped, NULL);
    while (fixture.stops == stops && g_get_monotonic_time() < deadline)
        uv_run(&fixture.loop, UV_RUN_ONCE);
    assert_int_equal(fixture.stops, stops + 1);
    crier_plugin.destroy(email);
}


static struct crier_message
message_make(const char *message_id, const char *to)
{
    struct crier_message msg = {
        .size = sizeof(struct crier_message),
        .job_id = 1,
        .attempt = 1,
        .key = "k",
        .message_id = message_id,
        .rule = "case-closed",
        .to = to,
        .subject = "Your request 311-42 is closed",
        .text = "Hello,\n. a line that starts with a dot\nFrom the city\n",
        .html = "<p>Hello</p>\n",
    };

    return msg;
}


/* Returns the message that email.c builds for `msg`. */
static char *
message_expected(const struct email *email, const struct crier_message *msg)
{
    struct mime_envelope envelope = { &email->from, NULL, DATE_MS, NULL };
    GString *out = g_string_new(NULL);
    const char *reason;

    assert_int_equal(mime_message_build(out, msg, &envelope, &reason), 0);
    return g_string_free(out, FALSE);
}


static char *
file_read(const char *path)
{
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return text;
}


static int
folder_count(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    int n = 0;

    if (dir == NULL)
        return -1;
    while ((entry = readdir(dir)) != NULL)
        n += entry->d_name[0] != '.';
    closedir(dir);
    return n;
}


static int
port_free(void)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &addr, &len), 0);
    port = ntohs(addr.sin_port);
    close(fd);
    return port;
}


static int
port_connects(int port)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t) port);
    ok = connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}


static int
smtp_server_start(void)
{
    char module[512], folder[512], listen[64], pythonpath[600];
    gint64 deadline;

    snprintf(module, sizeof(module), "%s/crier_smtp_fixture.py", fixture.dir);
    snprintf(folder, sizeof(folder), "%s/received", fixture.dir);
    if (!g_file_set_contents(module, smtp_handler, -1, NULL) ||
        g_mkdir_with_parents(folder, 0700) != 0)
        return -1;
    fixture.port = port_free();
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", fixture.port);
    snprintf(pythonpath, sizeof(pythonpath), "PYTHONPATH=%s", fixture.dir);

    fixture.server = fork();
    if (fixture.server == 0) {
        char *argv[] = {
            "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", listen,
            "-c", "crier_smtp_fixture.Handler", folder, NULL
        };
        char *envp[] = { pythonpath, NULL };

        execve(argv[0], argv, envp);
        _exit(127);
    }
    if (fixture.server < 0)
        return -1;

    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!port_connects(fixture.port)) {
        if (g_get_monotonic_time() > deadline ||
            waitpid(fixture.server, NULL, WNOHANG) != 0) {
            print_error("aiosmtpd did not start on port %d\n", fixture.port);
            return -1;
        }
        g_usleep(50 * 1000);
    }
    return 0;
}


static int
smtp_setup(void **state)
{
    return smtp_server_start();
}


static int
smtp_teardown(void **state)
{
    if (fixture.server > 0) {
        kill(fixture.server, SIGTERM);
        waitpid(fixture.server, NULL, 0);
        fixture.server = 0;
    }
    return 0;
}


static void
tree_remove(const char *path)
{
    char *argv[] = { "rm", "-rf", (char *) path, NULL };

    g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                 NULL, NULL, NULL);
}


static void
test_config_outbox_default(void **state)
{
    struct email *email;
    char *expected = g_strdup_printf("%s/var/outbox", fixture.dir);

    assert_int_equal(email_open("{\"plugin\": \"email\", \"from\": \""
                                "City of Example <alerts@example.gov>\"}",
                                &email), 0);
    assert_string_equal(email->outbox, expected);
    assert_int_equal(email->smtp.server_count, 0);
    assert_string_equal(email->from.name, "City of Example");
    assert_string_equal(email->from.address, "alerts@example.gov");
    assert_null(email->reply_to.address);
    email_close(email);
    g_free(expected);
}


static void
test_config_smtp(void **state)
{
    struct email *email;

    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"url\": \"smtps://mail.example.gov:465\", "
                                "\"username\": \"crier\", "
                                "\"password\": \"secret\", "
                                "\"timeout_ms\": 5000, "
                                "\"reply_to\": \"help@example.gov\"}",
                                &email), 0);
    assert_null(email->outbox);
    assert_int_equal(email->smtp.server_count, 1);
    assert_string_equal(email->smtp.servers[0].url,
                        "smtps://mail.example.gov:465");
    assert_string_equal(email->smtp.username, "crier");
    assert_string_equal(email->smtp.password, "secret");
    assert_false(email->smtp.servers[0].starttls);
    assert_int_equal(email->smtp.timeout_ms, 5000);
    assert_int_equal(email->smtp.connect_timeout_ms, 10000);
    assert_string_equal(email->reply_to.address, "help@example.gov");
    email_close(email);

    /* An unset "${SMTP_PASSWORD:-}" arrives as "" and means no login. */
    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"url\": \"smtp://127.0.0.1:25\", "
                                "\"username\": \"\", \"password\": \"\"}",
                                &email), 0);
    assert_null(email->smtp.username);
    assert_false(email->smtp.servers[0].starttls);
    assert_int_equal(email->smtp.timeout_ms, 30000);
    email_close(email);

    /* STARTTLS is required by default off the loopback interface. */
    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"url\": \"smtp://mail.example.gov\"}",
                                &email), 0);
    assert_true(email->smtp.servers[0].starttls);
    email_close(email);

    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"url\": \"smtp://mail.example.gov\", "
                                "\"tls\": \"none\"}", &email), 0);
    assert_false(email->smtp.servers[0].starttls);
    email_close(email);

    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"url\": \"smtp://localhost:2525\", "
                                "\"tls\": \"starttls\", "
                                "\"ca_file\": \"/etc/crier/ca.pem\"}",
                                &email), 0);
    assert_true(email->smtp.servers[0].starttls);
    assert_string_equal(email->smtp.ca_file, "/etc/crier/ca.pem");
    email_close(email);

    /* `urls` lists servers in the order of failover, each with its own
     * TLS default. */
    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"urls\": [\"smtp://127.0.0.1:2525\", "
                                "\"smtp://mail.example.gov\", "
                                "\"smtps://backup.example.gov\"]}",
                                &email), 0);
    assert_int_equal(email->smtp.server_count, 3);
    assert_string_equal(email->smtp.servers[0].url, "smtp://127.0.0.1:2525");
    assert_false(email->smtp.servers[0].starttls);
    assert_string_equal(email->smtp.servers[1].url,
                        "smtp://mail.example.gov");
    assert_true(email->smtp.servers[1].starttls);
    assert_false(email->smtp.servers[2].starttls);
    email_close(email);
}


static void
test_config_errors(void **state)
{
    static const struct {
        const char *json, *key;
    } cases[] = {
        { "{}", "from" },
        { "{\"from\": 7}", "from" },
        { "{\"from\": \"City of Example\"}", "from" },
        { "{\"from\": \"a@example.gov\", \"reply_to\": \"nobody\"}",
          "reply_to" },
        { "{\"from\": \"a@example.gov\", \"outbox\": \"o\", "
          "\"url\": \"smtp://127.0.0.1\"}", "url" },
        { "{\"from\": \"a@example.gov\", \"url\": \"ftp://example.gov\"}",
          "url" },
        { "{\"from\": \"a@example.gov\", \"url\": \"not a url\"}", "url" },
        { "{\"from\": \"a@example.gov\", "
          "\"url\": \"smtp://127.0.0.1:25/path?x=1\"}", "url" },
        { "{\"from\": \"a@example.gov\", "
          "\"url\": \"smtp://127.0.0.1:25#part\"}", "url" },
        { "{\"from\": \"a@example.gov\", "
          "\"url\": \"smtp://127.0.0.1:99999\"}", "url" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtp://a.gov\", "
          "\"urls\": [\"smtp://b.gov\"]}", "urls" },
        { "{\"from\": \"a@example.gov\", \"urls\": []}", "urls" },
        { "{\"from\": \"a@example.gov\", \"urls\": \"smtp://a.gov\"}",
          "urls" },
        { "{\"from\": \"a@example.gov\", \"urls\": [\"smtp://a.gov\", 7]}",
          "urls" },
        { "{\"from\": \"a@example.gov\", "
          "\"urls\": [\"smtp://a.gov\", \"ftp://b.gov\"]}", "urls" },
        { "{\"from\": \"a@example.gov\", \"tls\": \"none\", "
          "\"urls\": [\"smtp://a.gov\", \"smtps://b.gov\"]}", "tls" },
        { "{\"from\": \"a@example.gov\", \"outbox\": \"o\", "
          "\"urls\": [\"smtp://a.gov\"]}", "urls" },
        { "{\"from\": \"a@example.gov\", "
          "\"url\": \"smtp://u:p@example.gov\"}", "url" },
        { "{\"from\": \"a@example.gov\", \"username\": \"u\"}",
          "username" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtp://example.gov\", "
          "\"password\": \"p\"}", "password" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtp://example.gov\", "
          "\"tls\": \"yes\"}", "tls" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtps://example.gov\", "
          "\"tls\": \"none\"}", "tls" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtp://example.gov\", "
          "\"starttls\": true}", "starttls" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtp://example.gov\", "
          "\"ca_file\": \"\"}", "ca_file" },
        { "{\"from\": \"a@example.gov\", \"ca_file\": \"ca.pem\"}",
          "ca_file" },
        { "{\"from\": \"a@example.gov\", "
          "\"unsubscribe_secret\": \"too-short\"}", "unsubscribe_secret" },
        { "{\"from\": \"a@example.gov\", \"url\": \"smtp://example.gov\", "
          "\"timeout_ms\": 0}", "timeout_ms" },
        { "{\"from\": \"a@example.gov\", \"outbox\": \"\"}", "outbox" },
        { "{\"from\": \"a@example.gov\", \"form\": \"typo\"}", "form" },
        { "{\"from\": \"a@example.gov\", \"bounces\": 1}", "bounces" },
        { "{\"from\": \"a@example.gov\", \"bounces\": "
          "{\"address\": \"b@example.gov\"}}", "bounces.secret" },
        { "{\"from\": \"a@example.gov\", \"bounces\": "
          "{\"address\": \"b@example.gov\", \"secret\": \"short\"}}",
          "bounces.secret" },
        { "{\"from\": \"a@example.gov\", \"bounces\": "
          "{\"address\": \"nobody\", "
          "\"secret\": \"0123456789abcdef0123\"}}", "bounces.address" },
        { "{\"from\": \"a@example.gov\", \"bounces\": "
          "{\"adress\": \"b@example.gov\"}}", "bounces.adress" },
        { "{\"from\": \"a@example.gov\", \"bounces\": "
          "{\"webhook\": {\"path\": \"/hooks/email\"}}}",
          "bounces.webhook.password" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct email *email = NULL;

        if (email_open(cases[i].json, &email) != CRIER_ECONFIG)
            fail_msg("case %zu accepted: %s", i, cases[i].json);
        assert_null(email);
        assert_string_equal(fixture.error_key, cases[i].key);
        assert_true(fixture.error[0] != '\0');
    }
}


/* A misspelt key names the valid settings, in the words the core uses. */
static void
test_config_unknown_setting(void **state)
{
    struct email *email = NULL;

    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"pasword\": \"p\"}", &email),
                     CRIER_ECONFIG);
    assert_null(email);
    assert_string_equal(fixture.error_key, "pasword");
    assert_string_equal(fixture.error, "unknown setting; valid settings are "
                        "from, reply_to, outbox, unsubscribe_secret, url, "
                        "urls, username, password, "
                        "tls, ca_file, timeout_ms, connect_timeout_ms, "
                        "connections, bounces and dkim");
}


/* A VERP address names its message only with a valid MAC, in any case
 * and with or without angle brackets. */
static void
test_verp_round_trip(void **state)
{
    static const char message_id[] =
        "<0123456789abcdef0123456789abcdef@crier.example.gov>";
    struct email *email = NULL;
    char *address, *found, *forged;

    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"bounces\": {\"address\": "
                                "\"Bounces@Mail.Example.gov\", "
                                "\"secret\": \"0123456789abcdef0123\", "
                                "\"message_id_domain\": "
                                "\"crier.example.gov\"}}", &email), 0);
    address = verp_address(email, message_id);
    assert_non_null(address);
    assert_int_equal(strncmp(address, "bounces+0123456789abcdef0123456789"
                             "abcdef.", 41), 0);
    assert_non_null(strstr(address, "@mail.example.gov"));
    assert_true(strlen(address) - strlen("@mail.example.gov") <= 64);

    found = verp_message_id(email, address);
    assert_non_null(found);
    assert_string_equal(found, message_id);
    g_free(found);
    {
        char *upper = g_ascii_strup(address, -1);
        char *bracketed = g_strdup_printf("<%s>", upper);

        found = verp_message_id(email, bracketed);
        assert_non_null(found);
        assert_string_equal(found, message_id);
        g_free(found);
        g_free(bracketed);
        g_free(upper);
    }

    /* Another id with the same MAC, a changed MAC and a plain address
     * name nothing. */
    forged = g_strdup(address);
    forged[8] = forged[8] == '0' ? '1' : '0';
    assert_null(verp_message_id(email, forged));
    g_free(forged);
    forged = g_strdup(address);
    forged[41] = forged[41] == 'a' ? 'b' : 'a';
    assert_null(verp_message_id(email, forged));
    g_free(forged);
    assert_null(verp_message_id(email, "bounces@mail.example.gov"));
    /* A Message-ID that crier did not make gets no VERP address. */
    assert_null(verp_address(email, "<other@example.net>"));
    g_free(address);
    email_destroy(email);
}


/* A DSN gives one event per final recipient block, with the quoted
 * Message-ID, a folded Diagnostic-Code joined and a delay skipped. */
static void
test_dsn_recipient_blocks(void **state)
{
    static const char dsn[] =
        "From: MAILER-DAEMON@mx.example.net\r\n"
        "To: bounces@mail.example.gov\r\n"
        "Message-ID: <report-7@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;"
        " boundary=\"B\"\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nFailed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; Ana@Example.gov\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox\r\n"
        "  unavailable\r\n\r\n"
        "Final-Recipient: rfc822;ben@example.gov\r\n"
        "Action: delivered\r\nStatus: 2.0.0\r\n\r\n"
        "Final-Recipient: rfc822;cy@example.gov\r\n"
        "Action: delayed\r\nStatus: 4.4.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: works@example.gov\r\nTo: ana@example.gov\r\n"
        "Message-ID: <abc@crier.example.gov>\r\n\r\n"
        "--B--\r\n";
    static const char plain[] = "From: a@b\r\n\r\nHi\r\n";
    struct email *email = NULL;
    json_t *events = json_array();
    json_t *first, *second;

    assert_int_equal(email_open("{\"from\": \"a@example.gov\"}", &email),
                     0);
    dsn_library_open();
    assert_int_equal(dsn_events_add(email, dsn, strlen(dsn), events), 2);
    first = json_array_get(events, 0);
    second = json_array_get(events, 1);
    assert_string_equal(json_string_value(json_object_get(first, "type")),
                        "email.bounced");
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(first, "profile"), "email")), "ana@example.gov");
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(first, "properties"), "message_id")),
        "<abc@crier.example.gov>");
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(first, "properties"), "code")), "5.1.1");
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(first, "properties"), "text")),
        "550 5.1.1 mailbox  unavailable");
    assert_true(json_is_true(json_object_get(
        json_object_get(first, "properties"), "permanent")));
    assert_string_equal(json_string_value(json_object_get(first, "id")),
                        "report/report-7@mx.example.net/ana@example.gov");
    assert_string_equal(json_string_value(json_object_get(second, "type")),
                        "email.delivered");
    assert_null(json_object_get(json_object_get(second, "properties"),
                                "permanent"));

    /* A message that is no report adds nothing. */
    json_array_clear(events);
    assert_int_equal(dsn_events_add(email, plain, strlen(plain), events), 0);
    dsn_library_close();
    json_decref(events);
    email_destroy(email);
}


/* The queue id comes from the forms Postfix, Sendmail and Exim write. */
static void
test_queue_id_parse(void **state)
{
    static const struct {
        const char *reply, *id;
    } cases[] = {
        { "250 2.0.0 Ok: queued as 4Xk2Jd1bQz", "4Xk2Jd1bQz" },
        { "250 2.0.0 5B1Hq0Qx012345 Message accepted for delivery "
          "(queued as 5B1Hq0Qx012345)", "5B1Hq0Qx012345" },
        { "250 OK id=1qXyZa-0004Bc-2D", "1qXyZa-0004Bc-2D" },
        { "250 2.0.0 Stored", "" },
        { "250 queued as ", "" },
    };
    char id[64];

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        queue_id_parse(cases[i].reply, id, sizeof(id));
        assert_string_equal(id, cases[i].id);
    }
}


/* Only 550, 551 and 553 with a 5.1.x code mark the address invalid. */
static void
test_reply_invalid_address(void **state)
{
    assert_true(reply_is_invalid_address("550 5.1.1 No such user"));
    assert_true(reply_is_invalid_address("551 5.1.6 User has moved"));
    assert_true(reply_is_invalid_address("553 5.1.3 Bad address syntax"));
    assert_true(reply_is_invalid_address("550-5.1.1 The account does not "
                                         "exist"));
    assert_false(reply_is_invalid_address("550 5.7.1 Relaying denied"));
    assert_false(reply_is_invalid_address("554 5.1.1 No such user"));
    assert_false(reply_is_invalid_address("550 Mailbox unavailable"));
    assert_false(reply_is_invalid_address("450 4.1.1 Try later"));
}


/* An unsubscribe link verifies with the channel's key only, so a token
 * signed with the bare secret, as a beacon link is, does not pass. */
static void
test_unsubscribe_token(void **state)
{
    const char *secret = "unsubscribe-secret-0123456789";
    struct email *email;
    json_t *payload = NULL, *identity;
    const char *reason = NULL, *prefix = "https://notify.example.gov/u/";
    char *url, *beacon_token;

    assert_int_equal(email_open("{\"from\": \"a@example.gov\", "
                                "\"unsubscribe_secret\": "
                                "\"unsubscribe-secret-0123456789\"}",
                                &email), 0);
    url = unsubscribe_url_build(email, "job-key-1", "ana@example.gov");
    assert_non_null(url);
    assert_true(g_str_has_prefix(url, prefix));
    assert_int_equal(link_token_verify(email->unsubscribe_key,
                                       url + strlen(prefix), &payload,
                                       &reason), 0);
    assert_string_equal(json_string_value(json_object_get(payload, "m")),
                        "job-key-1");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(payload, "p"), "email")),
                        "ana@example.gov");
    json_decref(payload);
    assert_int_not_equal(link_token_verify(secret, url + strlen(prefix),
                                           &payload, &reason), 0);

    identity = json_pack("{s:s}", "email", "ana@example.gov");
    beacon_token = link_token_sign(secret, "job-key-1", identity, NULL);
    assert_int_not_equal(link_token_verify(email->unsubscribe_key,
                                           beacon_token, &payload,
                                           &reason), 0);
    assert_null(payload);
    json_decref(identity);
    g_free(beacon_token);
    g_free(url);
    email_close(email);
}


static void
test_file_name(void **state)
{
    char name[FILE_NAME_MAX + 1];

    assert_int_equal(file_name_format("<ab12@notify.example.gov>", name,
                                      sizeof(name)), 0);
    assert_string_equal(name, "ab12@notify.example.gov");
    assert_int_equal(file_name_format("<.a/b:c d@x.org>", name,
                                      sizeof(name)), 0);
    assert_string_equal(name, "_a_b_c_d@x.org");
    assert_int_equal(file_name_format("<>", name, sizeof(name)),
                     CRIER_ETOOBIG);
}


static struct email *
outbox_open(const char *outbox)
{
    struct email *email;
    char *json = g_strdup_printf("{\"from\": \"%s\", \"outbox\": \"%s\"}",
                                 FROM, outbox);

    assert_int_equal(email_open(json, &email), 0);
    g_free(json);
    assert_int_equal(crier_plugin.start(email), 0);
    return email;
}


static void
test_maildir_send(void **state)
{
    struct email *email = outbox_open("outbox-send");
    struct crier_message msg = message_make("<aa11@notify.example.gov>",
                                            "resident@example.org");
    struct outcome sent[2] = { 0 };
    char *expected = message_expected(email, &msg);
    char *path = g_strdup_printf("%s/new/aa11@notify.example.gov",
                                 email->outbox);
    char *tmp = g_strdup_printf("%s/tmp", email->outbox);
    char *written;

    assert_int_equal(message_send(email, &msg, &sent[0]), 0);
    outcomes_wait(&sent[0], 1);
    assert_int_equal(sent[0].outcome, CRIER_SEND_DONE);
    assert_string_equal(sent[0].provider_id, "<aa11@notify.example.gov>");
    written = file_read(path);
    assert_non_null(written);
    assert_string_equal(written, expected);
    assert_int_equal(folder_count(tmp), 0);
    g_free(written);

    /* A resend after a crash replaces the file: one copy, same bytes. */
    assert_int_equal(message_send(email, &msg, &sent[1]), 0);
    outcomes_wait(&sent[1], 1);
    assert_int_equal(sent[1].outcome, CRIER_SEND_DONE);
    g_free(path);
    path = g_strdup_printf("%s/new", email->outbox);
    assert_int_equal(folder_count(path), 1);
    g_free(path);
    path = g_strdup_printf("%s/new/aa11@notify.example.gov", email->outbox);
    written = file_read(path);
    assert_string_equal(written, expected);

    g_free(written);
    g_free(path);
    g_free(tmp);
    g_free(expected);
    email_close(email);
}


/* A file where tmp/ should be stands for any file system error. */
static void
test_maildir_error_retries(void **state)
{
    struct email *email = outbox_open("outbox-broken");
    struct crier_message msg = message_make("<bb22@notify.example.gov>",
                                            "resident@example.org");
    char *tmp = g_strdup_printf("%s/tmp", email->outbox);
    struct outcome sent[2] = { 0 };
    unsigned error_logs = fixture.error_logs;

    assert_int_equal(rmdir(tmp), 0);
    assert_true(g_file_set_contents(tmp, "", 0, NULL));
    assert_int_equal(message_send(email, &msg, &sent[0]), 0);
    outcomes_wait(&sent[0], 1);
    assert_int_equal(sent[0].outcome, CRIER_SEND_RETRY);
    assert_non_null(strstr(sent[0].detail, "maildir: open "));
    assert_non_null(strstr(sent[0].detail, "Not a directory"));

    /* The second error within a minute is counted, not logged. */
    assert_int_equal(message_send(email, &msg, &sent[1]), 0);
    outcomes_wait(&sent[1], 1);
    assert_int_equal(sent[1].outcome, CRIER_SEND_RETRY);
    assert_int_equal(fixture.error_logs, error_logs + 1);
    assert_int_equal(email->errors_unlogged, 1);
    g_free(tmp);
    email_close(email);
}


/* Folders removed while crier runs are made again on the next send. */
static void
test_maildir_folders_recreated(void **state)
{
    struct email *email = outbox_open("outbox-recreated");
    struct crier_message msg = message_make("<bb23@notify.example.gov>",
                                            "resident@example.org");
    char *tmp = g_strdup_printf("%s/tmp", email->outbox);
    char *folder = g_strdup_printf("%s/new", email->outbox);
    struct outcome sent[2] = { 0 };

    assert_int_equal(rmdir(folder), 0);
    assert_int_equal(message_send(email, &msg, &sent[0]), 0);
    outcomes_wait(&sent[0], 1);
    assert_int_equal(sent[0].outcome, CRIER_SEND_DONE);
    assert_int_equal(folder_count(folder), 1);

    assert_int_equal(rmdir(tmp), 0);
    msg.message_id = "<bb24@notify.example.gov>";
    assert_int_equal(message_send(email, &msg, &sent[1]), 0);
    outcomes_wait(&sent[1], 1);
    assert_int_equal(sent[1].outcome, CRIER_SEND_DONE);
    assert_int_equal(folder_count(folder), 2);
    g_free(folder);
    g_free(tmp);
    email_close(email);
}


static void
test_invalid_address_fails(void **state)
{
    struct email *email = outbox_open("outbox-invalid");
    struct crier_message msg = message_make("<cc33@notify.example.gov>",
                                            "not an address");
    struct outcome sent = { 0 };

    assert_int_equal(message_send(email, &msg, &sent), 0);
    outcomes_wait(&sent, 1);
    assert_int_equal(sent.outcome, CRIER_SEND_FAIL);
    assert_string_equal(sent.detail, "invalid address");
    assert_int_equal(email->in_flight, 0);
    email_close(email);
}


/* stop reports only once every send in flight has; later sends are
 * refused. */
static void
test_stop_waits(void **state)
{
    struct email *email = outbox_open("outbox-stop");
    struct outcome sent[5] = { 0 };
    char ids[5][64];
    unsigned stops = fixture.stops;
    struct crier_message msg;

    for (int i = 0; i < 5; i++) {
        snprintf(ids[i], sizeof(ids[i]), "<dd%d@notify.example.gov>", i);
        msg = message_make(ids[i], "resident@example.org");
        assert_int_equal(message_send(email, &msg, &sent[i]), 0);
    }
    crier_plugin.stop(email, on_stopped, NULL);
    assert_int_equal(fixture.stops, stops);
    assert_int_equal(message_send(email, &msg, &sent[0]),
                     CRIER_ECLOSED);
    outcomes_wait(sent, 5);
    assert_int_equal(fixture.stops, stops + 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sent[i].outcome, CRIER_SEND_DONE);
    crier_plugin.destroy(email);
}


static struct email *
smtp_open(int port, long timeout_ms)
{
    struct email *email;
    char *json = g_strdup_printf("{\"from\": \"%s\", \"url\": "
                                 "\"smtp://127.0.0.1:%d\", \"timeout_ms\": "
                                 "%ld}", FROM, port, timeout_ms);

    assert_int_equal(email_open(json, &email), 0);
    g_free(json);
    assert_int_equal(crier_plugin.start(email), 0);
    return email;
}


static void
test_smtp_send(void **state)
{
    struct email *email = smtp_open(fixture.port, 5000);
    struct crier_message msg = message_make("<ee44@notify.example.gov>",
                                            "resident@example.org");
    char *expected = message_expected(email, &msg);
    struct outcome sent = { 0 };
    char *path, *received;
    int before;

    path = g_strdup_printf("%s/received", fixture.dir);
    before = folder_count(path);
    g_free(path);

    assert_int_equal(message_send(email, &msg, &sent), 0);
    outcomes_wait(&sent, 1);
    assert_int_equal(sent.outcome, CRIER_SEND_DONE);
    assert_string_equal(sent.provider_id, "<ee44@notify.example.gov>");
    assert_string_equal(sent.detail, "SMTP 250 2.0.0 Stored");

    path = g_strdup_printf("%s/received/%d.eml", fixture.dir,
                           before / 2 + 1);
    received = file_read(path);
    assert_non_null(received);
    assert_string_equal(received, expected);
    g_free(received);
    g_free(path);

    path = g_strdup_printf("%s/received/%d.env", fixture.dir,
                           before / 2 + 1);
    received = file_read(path);
    assert_string_equal(received,
                        "alerts@example.gov resident@example.org");
    g_free(received);
    g_free(path);
    g_free(expected);
    email_close(email);
}


static void
test_smtp_replies(void **state)
{
    struct email *email = smtp_open(fixture.port, 5000);
    struct crier_message reject = message_make("<ff55@notify.example.gov>",
                                               "reject@example.org");
    struct crier_message later = message_make("<ff56@notify.example.gov>",
                                              "later@example.org");
    struct crier_message spam = message_make("<ff57@notify.example.gov>",
                                             "spam@example.org");
    struct outcome sent[3] = { 0 };

    assert_int_equal(message_send(email, &reject, &sent[0]), 0);
    assert_int_equal(message_send(email, &later, &sent[1]), 0);
    assert_int_equal(message_send(email, &spam, &sent[2]), 0);
    outcomes_wait(sent, 3);
    assert_int_equal(sent[0].outcome, CRIER_SEND_FAIL);
    assert_string_equal(sent[0].detail,
                        "invalid address: SMTP 550 5.1.1 No such user here");
    assert_int_equal(sent[1].outcome, CRIER_SEND_RETRY);
    assert_string_equal(sent[1].detail, "SMTP 451 4.3.0 Try again later");
    assert_int_equal(sent[2].outcome, CRIER_SEND_FAIL);
    assert_string_equal(sent[2].detail,
                        "SMTP 554 5.7.1 Message rejected as spam");
    email_close(email);
}


static void
test_smtp_many_in_flight(void **state)
{
    struct email *email = smtp_open(fixture.port, 5000);
    struct outcome sent[12] = { 0 };
    char ids[12][64];

    for (int i = 0; i < 12; i++) {
        struct crier_message msg;

        snprintf(ids[i], sizeof(ids[i]), "<%02x77@notify.example.gov>", i);
        msg = message_make(ids[i], "resident@example.org");
        assert_int_equal(message_send(email, &msg, &sent[i]), 0);
    }
    assert_int_equal(email->in_flight, 12);
    outcomes_wait(sent, 12);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(sent[i].outcome, CRIER_SEND_DONE);
        assert_string_equal(sent[i].provider_id, ids[i]);
    }
    assert_int_equal(email->in_flight, 0);
    email_close(email);
}


static void
test_smtp_refused_retries(void **state)
{
    struct email *email = smtp_open(port_free(), 5000);
    struct crier_message msg = message_make("<aa88@notify.example.gov>",
                                            "resident@example.org");
    struct outcome sent = { 0 };

    assert_int_equal(message_send(email, &msg, &sent), 0);
    outcomes_wait(&sent, 1);
    assert_int_equal(sent.outcome, CRIER_SEND_RETRY);
    assert_non_null(strstr(sent.detail, "SMTP: could not connect"));
    email_close(email);
}


/* A server that never greets: the transfer times out and is retried. */
static void
test_smtp_timeout_retries(void **state)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct email *email;
    struct crier_message msg = message_make("<aa99@notify.example.gov>",
                                            "resident@example.org");
    struct outcome sent = { 0 };

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &addr, &len), 0);

    email = smtp_open(ntohs(addr.sin_port), 300);
    assert_int_equal(message_send(email, &msg, &sent), 0);
    outcomes_wait(&sent, 1);
    assert_int_equal(sent.outcome, CRIER_SEND_RETRY);
    assert_non_null(strstr(sent.detail, "SMTP: timed out after 300 ms "
                                        "waiting for the greeting"));
    email_close(email);
    close(fd);
}


/*
 * stop reports the messages still waiting for a connection as retries at
 * once, lets the running transaction end, and reports itself last.
 */
static void
test_smtp_stop_abandons_waiting(void **state)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct outcome sent[3] = { 0 };
    unsigned stops = fixture.stops;
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    struct email *email;
    char ids[3][64];
    char *json;
    int abandoned = 0;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &addr, &len), 0);
    json = g_strdup_printf("{\"from\": \"%s\", \"url\": "
                           "\"smtp://127.0.0.1:%d\", \"timeout_ms\": 300, "
                           "\"connections\": 1}", FROM,
                           ntohs(addr.sin_port));
    assert_int_equal(email_open(json, &email), 0);
    g_free(json);
    assert_int_equal(crier_plugin.start(email), 0);

    for (int i = 0; i < 3; i++) {
        struct crier_message msg;

        snprintf(ids[i], sizeof(ids[i]), "<%02x66@notify.example.gov>", i);
        msg = message_make(ids[i], "resident@example.org");
        assert_int_equal(message_send(email, &msg, &sent[i]), 0);
    }
    /* Built on worker threads, one message takes the one connection and
     * the other two wait. */
    while (g_queue_get_length(&email->pool->waiting) < 2 &&
           g_get_monotonic_time() < deadline)
        uv_run(&fixture.loop, UV_RUN_ONCE);
    assert_int_equal(g_queue_get_length(&email->pool->waiting), 2);
    crier_plugin.stop(email, on_stopped, NULL);
    for (int i = 0; i < 3; i++)
        abandoned += sent[i].reported == 1 &&
                     strcmp(sent[i].detail,
                            "SMTP: not sent before shutdown") == 0;
    assert_int_equal(abandoned, 2);
    assert_int_equal(fixture.stops, stops);

    while (fixture.stops == stops && g_get_monotonic_time() < deadline)
        uv_run(&fixture.loop, UV_RUN_ONCE);
    assert_int_equal(fixture.stops, stops + 1);
    /* The two that never reached the server are given back unsent, and
     * the one on the connection is a retry. */
    for (int i = 0; i < 3; i++) {
        int unsent = strcmp(sent[i].detail,
                            "SMTP: not sent before shutdown") == 0;

        assert_int_equal(sent[i].reported, 1);
        assert_int_equal(sent[i].outcome, unsent ? CRIER_SEND_RETURNED
                                                 : CRIER_SEND_RETRY);
    }
    assert_int_equal(email->in_flight, 0);
    crier_plugin.destroy(email);
    close(fd);
}


int
main(void)
{
    const struct CMUnitTest channel_tests[] = {
        cmocka_unit_test(test_config_outbox_default),
        cmocka_unit_test(test_config_smtp),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_unknown_setting),
        cmocka_unit_test(test_file_name),
        cmocka_unit_test(test_maildir_send),
        cmocka_unit_test(test_maildir_error_retries),
        cmocka_unit_test(test_maildir_folders_recreated),
        cmocka_unit_test(test_invalid_address_fails),
        cmocka_unit_test(test_stop_waits),
    };
    const struct CMUnitTest smtp_tests[] = {
        cmocka_unit_test(test_smtp_send),
        cmocka_unit_test(test_smtp_replies),
        cmocka_unit_test(test_queue_id_parse),
        cmocka_unit_test(test_verp_round_trip),
        cmocka_unit_test(test_dsn_recipient_blocks),
        cmocka_unit_test(test_unsubscribe_token),
        cmocka_unit_test(test_reply_invalid_address),
        cmocka_unit_test(test_smtp_many_in_flight),
        cmocka_unit_test(test_smtp_refused_retries),
        cmocka_unit_test(test_smtp_timeout_retries),
        cmocka_unit_test(test_smtp_stop_abandons_waiting),
    };
    int failed;

    snprintf(fixture.dir, sizeof(fixture.dir), "%s/crier-email-XXXXXX",
             g_get_tmp_dir());
    if (g_mkdtemp(fixture.dir) == NULL || uv_loop_init(&fixture.loop) != 0 ||
        transfer_init(&fixture.loop) != 0) {
        fprintf(stderr, "test setup failed\n");
        return 1;
    }

    failed = cmocka_run_group_tests_name("email_channel", channel_tests,
                                         NULL, NULL);
    failed += cmocka_run_group_tests_name("email_smtp", smtp_tests,
                                          smtp_setup, smtp_teardown);

    /* Every handle the channel and libcurl opened must be closed. */
    transfer_close();
    uv_run(&fixture.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&fixture.loop) != 0) {
        fprintf(stderr, "handles left open on the loop\n");
        failed++;
    }
    tree_remove(fixture.dir);
    return failed > 0;
}
