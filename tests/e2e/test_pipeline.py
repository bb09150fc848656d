"""Rules, templates and the outbox: events in, emails in a Maildir out."""
import os

from crierlib import (PLUGINS, ROOT, Crier, Store, body_of, free_port,
                      maildir_messages, run_crier, wait_until)

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

CONFIG = """
clock = "test";
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; %(transport)s
           from = "City of Example <alerts@example.gov>"; };
};
delivery: { max_attempts = 3; backoff = "1m"; };
programs: { child-safety: { }; };
rules = (
  { name    = "crib-recall";
    program = "child-safety";
    on      = "page_view";
    when    = "event.properties.url ~ '/recalls/cribs'
               && profile.stage == 'awareness'";
    send    = { channel = "email"; template = "welcome"; };
    stage   = "consideration"; }
);
"""


def start(tmp_path, transport='outbox = "var/outbox";'):
    c = Crier(tmp_path, CONFIG % {"templates": TEMPLATES,
                                  "transport": transport}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.outbox = os.path.join(c.workdir, "var", "outbox")
    return c


def page_view(c, url, email="ana@example.gov", name="Ana", **extra):
    ev = {"type": "page_view", "profile": {"email": email},
          "attributes": {"first_name": name},
          "properties": {"url": url}}
    ev.update(extra)
    r = c.post("/v1/events", ev)
    assert r.status == 202
    return r.json()


def settle(c):
    """Waits until the pipeline has seen every event and no job is open."""
    wait_until(c.store.pipeline_done)
    wait_until(lambda: all(j["state"] not in ("planned", "claimed",
                                              "sending")
                           for j in c.store.jobs()))


def test_rule_sends_email_and_moves_stage(tmp_path):
    c = start(tmp_path)
    page_view(c, "https://example.gov/recalls/cribs")
    settle(c)
    msgs = maildir_messages(c.outbox)
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg["To"] == "ana@example.gov"
    assert msg["Subject"] == "Welcome, Ana!"
    assert "you read https://example.gov/recalls/cribs." in body_of(msg,
                                                                    "plain")
    assert "The City of Example" in body_of(msg, "plain")
    jobs = c.store.jobs()
    assert [j["state"] for j in jobs] == ["sent"]
    assert jobs[0]["message_id"] == msg["Message-ID"]
    assert c.store.stage_of("email", "ana@example.gov",
                            "child-safety") == "consideration"
    assert c.stop() == 0


def test_stage_gates_second_message(tmp_path):
    c = start(tmp_path)
    page_view(c, "/recalls/cribs")
    settle(c)
    page_view(c, "/recalls/cribs")
    settle(c)
    assert len(c.store.jobs()) == 1
    assert len(maildir_messages(c.outbox)) == 1
    c.stop()


def test_false_condition_sends_nothing(tmp_path):
    c = start(tmp_path)
    page_view(c, "/parks")
    settle(c)
    assert c.store.jobs() == []
    assert c.store.stage_of("email", "ana@example.gov",
                            "child-safety") == "awareness"
    c.stop()


def test_replayed_event_plans_once(tmp_path):
    c = start(tmp_path)
    assert page_view(c, "/recalls/cribs", id="view-1")["accepted"] == 1
    assert page_view(c, "/recalls/cribs", id="view-1")["duplicates"] == 1
    settle(c)
    assert len(c.store.jobs()) == 1
    c.stop()


def test_html_part_escapes_values(tmp_path):
    c = start(tmp_path)
    page_view(c, "/recalls/cribs", name="<b>Ana</b> & co")
    settle(c)
    msg = maildir_messages(c.outbox)[0]
    assert "Hello <b>Ana</b> & co," in body_of(msg, "plain")
    assert "Hello &lt;b&gt;Ana&lt;/b&gt; &amp; co," in body_of(msg, "html")
    c.stop()


def test_visitor_without_address_moves_stage_only(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/events", {"type": "page_view", "visitor": "v-7",
                              "properties": {"url": "/recalls/cribs"}})
    assert r.status == 202
    wait_until(c.store.pipeline_done)
    assert c.store.jobs() == []
    assert c.store.stage_of("visitor", "v-7",
                            "child-safety") == "consideration"
    c.stop()


def test_retries_on_test_clock_then_dead(tmp_path):
    closed_port = free_port()
    c = start(tmp_path, 'url = "smtp://127.0.0.1:%d";' % closed_port)
    page_view(c, "/recalls/cribs")

    def attempts(n):
        def check():
            jobs = c.store.jobs()
            return (len(jobs) == 1 and jobs[0]["attempts"] == n
                    and jobs[0]["state"] in ("planned", "dead"))
        return check

    wait_until(attempts(1))
    job = c.store.jobs()[0]
    assert job["state"] == "planned"
    assert job["last_error"]
    # The first retry waits 1 minute on the test clock, the second 2, each
    # less up to a quarter of jitter: 45 to 60 s, then 90 to 120 s.
    assert c.post("/v1/test/clock", {"advance": "44s"}).status == 200
    assert c.store.jobs()[0]["attempts"] == 1
    assert c.post("/v1/test/clock", {"advance": "17s"}).status == 200
    wait_until(attempts(2))
    assert c.post("/v1/test/clock", {"advance": "121s"}).status == 200
    wait_until(attempts(3))
    job = c.store.jobs()[0]
    assert job["state"] == "dead"
    assert job["error"]
    c.stop()


def test_test_clock_refuses_going_back(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/test/clock", {"now": "2020-01-01T00:00:00Z"})
    assert r.status == 400
    assert r.json()["field"] == "now"
    c.stop()


def write_config(tmp_path, rule):
    conf = tmp_path / "rules.conf"
    conf.write_text(
        'plugin_dir = "%s";\ntemplates = "%s";\n'
        'store: { plugin = "memory"; };\n'
        'channels: { email: { plugin = "email"; outbox = "out";\n'
        '                     from = "a@example.gov"; }; };\n'
        'programs: { p: { }; };\n'
        'rules = (\n%s\n);\n' % (PLUGINS, TEMPLATES, rule))
    return str(conf)


def test_expression_error_names_line_and_column(tmp_path):
    conf = write_config(tmp_path,
                        '  { name = "r"; on = "x";\n'
                        '    when = "event.type = \'x\'"; }')
    code, out, err = run_crier("check", "-c", conf)
    assert code == 2
    assert "rules.conf:9:24: rules[0].when:" in err


def test_unknown_template_refused(tmp_path):
    conf = write_config(tmp_path,
                        '  { name = "r"; on = "x";\n'
                        '    send = { channel = "email";'
                        ' template = "nope"; }; }')
    code, out, err = run_crier("check", "-c", conf)
    assert code == 2
    assert "rules.conf:9: rules[0].send:" in err
    assert "nope" in err


def test_unknown_stage_refused(tmp_path):
    conf = write_config(tmp_path,
                        '  { name = "r"; on = "x"; program = "p";\n'
                        '    stage = "famous"; }')
    code, out, err = run_crier("check", "-c", conf)
    assert code == 2
    assert "rules[0].stage" in err


def test_misspelt_rule_settings_refused(tmp_path):
    cases = [
        ('  { name = "r"; on = "x"; whn = "true"; }',
         "rules.conf:8: rules[0].whn: unknown setting; valid settings are "
         "name, program, on, when, send, stage, class, priority, variants "
         "and holdout"),
        ('  { name = "r"; on = "x";\n'
         '    send = { chanel = "email"; template = "welcome"; }; }',
         "rules.conf:9: rules[0].send.chanel: unknown setting"),
        ('  { name = "r"; onn = "x"; }',
         "rules.conf:8: rules[0].onn: unknown setting"),
    ]
    for rule, expected in cases:
        code, out, err = run_crier("check", "-c",
                                   write_config(tmp_path, rule))
        assert code == 2
        assert expected in err
        assert "CRITICAL" not in err


def test_misspelt_program_and_delivery_refused(tmp_path):
    conf = write_config(tmp_path, "")
    text = open(conf).read()
    with open(conf, "w") as f:
        f.write(text.replace("programs: { p: { }; };",
                             "programs: { p: { stagez = [ \"a\" ]; }; };"))
    code, out, err = run_crier("check", "-c", conf)
    assert code == 2
    assert "programs.p.stagez: unknown setting" in err

    with open(conf, "w") as f:
        f.write(text + "delivery: { max_attempt = 3; };\n")
    code, out, err = run_crier("check", "-c", conf)
    assert code == 2
    assert "delivery.max_attempt: unknown setting" in err
