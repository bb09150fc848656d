"""Claim-time guardrails of the outbox: consent, classes, caps, quiet
hours, lanes, permanent failures and retries by hand."""
import hashlib
import os
import re
import urllib.parse

from crierlib import (ROOT, Crier, SmtpServer, Store, maildir_messages,
                      wait_until)

TOKEN = "admin-token-for-outbox-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
HOUR_MS = 3600 * 1000
START_MS = 1767225600000  # 2026-01-01T00:00:00Z, the test clock's start


def config(rules, delivery="", channel=None):
    """Returns a config with the event API, a Maildir email channel (or
    `channel`), the given rules and delivery settings."""
    if channel is None:
        channel = ('email: { plugin = "email"; outbox = "var/outbox";'
                   ' from = "Benefits <benefits@example.gov>"; };')
    return """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { %s };
attributes: { timezone = "timezone"; };
delivery: { %s };
rules = ( %s );
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, channel, delivery, rules,
       hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path, text):
    c = Crier(tmp_path, text).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def advance(c, duration):
    assert c.post("/v1/test/clock", {"advance": duration}).status == 200


def outbox(c):
    return maildir_messages(os.path.join(c.workdir, "var", "outbox"))


def jobs_of(c, rule):
    return [j for j in c.store.jobs() if j["rule"] == rule]


def job_due(c, job_id):
    return c.store.query("SELECT due FROM jobs WHERE id = ?", job_id)[0][0]


def settled(c, rule, state):
    """Waits until every job of `rule` is in `state`, and returns them."""
    wait_until(lambda: jobs_of(c, rule) and
               all(j["state"] == state for j in jobs_of(c, rule)))
    return jobs_of(c, rule)


def test_outreach_revoked_before_claim_suppressed(tmp_path):
    c = start(tmp_path, config(
        '{ name = "news"; on = "news.ready";'
        '  send = { channel = "email"; template = "welcome"; delay = "1h"; };'
        ' }'))
    send(c, [{"type": "news.ready", "profile": {"email": "ana@example.gov"}}])
    assert [j["state"] for j in jobs_of(c, "news")] == ["planned"]

    # The revoke arrives after planning and before the job is due.
    send(c, [{"type": "form.submitted",
              "profile": {"email": "ana@example.gov"},
              "consent": {"email": "revoked"}}])
    advance(c, "2h")
    [job] = settled(c, "news", "suppressed")
    assert job["error"] == "consent"
    assert job["attempts"] == 0
    assert outbox(c) == []
    assert c.stop() == 0


def test_service_ignores_revoke_not_hard_stop(tmp_path):
    c = start(tmp_path, config(
        '{ name = "notice"; on = "notice.due"; class = "service";'
        '  send = { channel = "email"; template = "welcome"; }; },'
        '{ name = "news"; on = "notice.due";'
        '  send = { channel = "email"; template = "welcome"; }; }'))
    ana = {"email": "ana@example.gov"}
    send(c, [{"type": "form.submitted", "profile": ana,
              "consent": {"email": "revoked"}},
             {"type": "notice.due", "profile": ana}])
    [notice] = settled(c, "notice", "sent")
    [news] = settled(c, "news", "suppressed")
    assert news["error"] == "consent"
    assert len(outbox(c)) == 1

    # A STOP reply (an event type ending in ".stop") revokes hard: even a
    # service message is suppressed from then on.
    send(c, [{"type": "sms.stop", "profile": ana,
              "consent": {"email": "revoked"}},
             {"type": "notice.due", "profile": ana}])
    wait_until(lambda: len(jobs_of(c, "notice")) == 2 and
               jobs_of(c, "notice")[1]["state"] == "suppressed")
    assert jobs_of(c, "notice")[1]["error"] == "hard opt-out"
    assert len(outbox(c)) == 1

    # A later plain revoke does not soften the hard one.
    send(c, [{"type": "form.submitted", "profile": ana,
              "consent": {"email": "revoked"}},
             {"type": "notice.due", "profile": ana}])
    wait_until(lambda: len(jobs_of(c, "notice")) == 3 and
               jobs_of(c, "notice")[2]["state"] == "suppressed")
    assert len(outbox(c)) == 1
    assert c.stop() == 0


def test_cap_goes_to_higher_priority(tmp_path):
    c = start(tmp_path, config(
        '{ name = "low"; on = "offer.ready"; priority = 1;'
        '  send = { channel = "email"; template = "welcome"; }; },'
        '{ name = "high"; on = "offer.ready"; priority = 5;'
        '  send = { channel = "email"; template = "welcome"; }; }',
        delivery='caps = ( { channel = "email"; class = "outreach";'
                 ' max = 1; per = "7d"; } );'))
    send(c, [{"type": "offer.ready", "profile": {"email": "ana@example.gov"}}])
    [high] = settled(c, "high", "sent")
    [low] = settled(c, "low", "suppressed")
    assert low["error"] == "cap"
    assert len(outbox(c)) == 1

    # The window slides: eight days on, the cap has room again.
    advance(c, "8d")
    send(c, [{"type": "offer.ready", "profile": {"email": "ana@example.gov"}}])
    wait_until(lambda: len(jobs_of(c, "high")) == 2 and
               jobs_of(c, "high")[1]["state"] == "sent")
    wait_until(lambda: len(jobs_of(c, "low")) == 2 and
               jobs_of(c, "low")[1]["state"] == "suppressed")
    assert len(outbox(c)) == 2
    assert c.stop() == 0


def test_quiet_hours_hold_until_local_end(tmp_path):
    c = start(tmp_path, config(
        '{ name = "news"; on = "news.ready";'
        '  send = { channel = "email"; template = "welcome"; }; }',
        delivery='quiet_hours = { email = "21:00-08:00"; };'))
    # 04:00 UTC is 22:00 the evening before in Chicago (UTC-6 in January).
    assert c.post("/v1/test/clock",
                  {"now": "2026-01-02T04:00:00Z"}).status == 200
    send(c, [{"type": "news.ready",
              "profile": {"email": "ana@example.gov"},
              "attributes": {"timezone": "America/Chicago"}},
             {"type": "news.ready",
              "profile": {"email": "bo@example.gov"}}])
    wait_until(lambda: len(c.log_text().split("held for quiet hours")) == 3)
    # The log line comes before the store puts the job back to planned.
    wait_until(lambda: [j["state"] for j in jobs_of(c, "news")]
               == ["planned", "planned"])
    ana, bo = jobs_of(c, "news")
    assert ana["attempts"] == 0
    # 08:00 in Chicago, across midnight; bo has the agency's zone, UTC.
    assert job_due(c, ana["id"]) == START_MS + 24 * HOUR_MS + 14 * HOUR_MS
    assert job_due(c, bo["id"]) == START_MS + 24 * HOUR_MS + 8 * HOUR_MS

    advance(c, "270m")
    wait_until(lambda: jobs_of(c, "news")[1]["state"] == "sent")
    advance(c, "329m")  # 13:59 UTC, 07:59 in Chicago
    assert jobs_of(c, "news")[0]["state"] == "planned"
    advance(c, "2m")
    wait_until(lambda: jobs_of(c, "news")[0]["state"] == "sent")
    assert [j["attempts"] for j in jobs_of(c, "news")] == [1, 1]
    assert len(outbox(c)) == 2
    assert c.stop() == 0


def test_service_lane_claimed_before_bulk(tmp_path):
    c = start(tmp_path, config(
        '{ name = "bulk"; on = "news.ready";'
        '  send = { channel = "email"; template = "welcome"; delay = "1h"; };'
        ' },'
        '{ name = "notice"; on = "notice.due"; class = "service";'
        '  send = { channel = "email"; template = "welcome"; delay = "1h"; };'
        ' }', delivery="max_in_flight = 16;"))
    for batch in range(2):
        send(c, [{"type": "news.ready",
                  "profile": {"email": "r%d@example.gov" % (batch * 1000 + i)}}
                 for i in range(1000)])
    # Planned last, and due a minute after every bulk job.
    advance(c, "1m")
    send(c, [{"type": "notice.due", "profile": {"email": "late@example.gov"}}])
    assert len(jobs_of(c, "bulk")) == 2000
    [notice] = jobs_of(c, "notice")
    assert notice["state"] == "planned"

    advance(c, "2h")
    settled(c, "notice", "sent")
    sent = re.findall(r"message sent.*?job=(\d+)", c.log_text())
    assert str(notice["id"]) in sent[:16]
    assert c.stop() == 0


def test_in_flight_above_claim_limit(tmp_path):
    """max_in_flight accepts up to 10000, and one claim takes at most the
    1000 jobs a store accepts, so every message still goes out."""
    c = start(tmp_path, config(
        '{ name = "news"; on = "news.ready";'
        '  send = { channel = "email"; template = "welcome"; delay = "1h"; };'
        ' }', delivery="max_in_flight = 2000;"))
    for batch in range(2):
        send(c, [{"type": "news.ready",
                  "profile": {"email": "r%d@example.gov" % (batch * 600 + i)}}
                 for i in range(600)])
    advance(c, "2h")
    settled(c, "news", "sent")
    assert len(outbox(c)) == 1200
    assert "jobs could not be claimed" not in c.log_text()
    assert c.stop() == 0


def test_interrupted_hand_overs_end_dead(tmp_path):
    """A hand-over that never came back (here a kill -9 while the server
    holds the message) still counts as an attempt: with max_attempts = 1
    the next claim makes the job dead instead of sending it again."""
    smtp = SmtpServer(tmp_path, delay=30)
    channel = ('email: { plugin = "email"; url = "smtp://127.0.0.1:%d";'
               ' from = "Benefits <benefits@example.gov>"; };' % smtp.port)
    c = start(tmp_path, config(
        '{ name = "news"; on = "news.ready";'
        '  send = { channel = "email"; template = "welcome"; }; }',
        delivery='max_attempts = 1; lease = "1m";', channel=channel))
    try:
        send(c, [{"type": "news.ready",
                  "profile": {"email": "r1@example.gov"}}])
        wait_until(lambda: [j["state"] for j in jobs_of(c, "news")]
                   == ["sending"])
        c.kill()
        c.start()
        advance(c, "2m")
        [job] = settled(c, "news", "dead")
        assert job["attempts"] == 1
        assert "interrupted" in job["error"]
        assert "every hand-over was interrupted" in c.log_text()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert smtp.messages() == []


def smtp_config(smtp, rules):
    return config(rules, channel=(
        'email: { plugin = "email"; url = "smtp://127.0.0.1:%d";'
        ' from = "Benefits <benefits@example.gov>"; };' % smtp.port))


def rejected_tries(tmp_path):
    path = os.path.join(str(tmp_path), "rejected.log")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return len(f.read().splitlines())


def test_permanent_failure_not_retried(tmp_path):
    smtp = SmtpServer(tmp_path, handler=["reply_smtp.ReplyMailbox", "reject"])
    c = start(tmp_path, smtp_config(
        smtp, '{ name = "news"; on = "news.ready";'
              '  send = { channel = "email"; template = "welcome"; }; }'))
    try:
        send(c, [{"type": "news.ready", "profile": {"email": e}}
                 for e in ("ana@example.gov", "reject-bo@example.gov",
                           "cy@example.gov")])
        wait_until(lambda: [j["state"] for j in jobs_of(c, "news")]
                   == ["sent", "failed", "sent"], timeout=20)
        jobs = jobs_of(c, "news")
        assert [j["attempts"] for j in jobs] == [1, 1, 1]
        assert "554" in jobs[1]["error"]
        assert len(smtp.messages()) == 2
        assert rejected_tries(tmp_path) == 1

        # The reply shows on the resident's timeline.
        r = c.get("/v1/profiles?email=%s" %
                  urllib.parse.quote("reject-bo@example.gov"), headers=AUTH)
        profile_id = r.json()["profile"]["id"]
        r = c.get("/v1/profiles/%s/timeline" % profile_id, headers=AUTH)
        [entry] = [e for e in r.json()["entries"] if e["kind"] == "message"]
        assert entry["state"] == "failed"
        assert "554" in entry["error"]

        for _ in range(10):
            advance(c, "1h")
        advance(c, "1s")
        assert c.get("/readyz").status == 200
        assert [j["state"] for j in jobs_of(c, "news")] == \
            ["sent", "failed", "sent"]
        assert [j["attempts"] for j in jobs_of(c, "news")] == [1, 1, 1]
        assert len(smtp.messages()) == 2
        assert rejected_tries(tmp_path) == 1
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def test_retry_by_hand_through_api(tmp_path):
    smtp = SmtpServer(tmp_path, handler=["reply_smtp.ReplyMailbox", "reject"])
    c = start(tmp_path, smtp_config(
        smtp, '{ name = "news"; on = "news.ready";'
              '  send = { channel = "email"; template = "welcome"; }; }'))
    try:
        send(c, [{"type": "news.ready",
                  "profile": {"email": "reject-bo@example.gov"}},
                 {"type": "news.ready",
                  "profile": {"email": "ana@example.gov"}}])
        wait_until(lambda: [j["state"] for j in jobs_of(c, "news")]
                   == ["failed", "sent"], timeout=20)
        failed_id = jobs_of(c, "news")[0]["id"]

        r = c.get("/v1/messages?state=failed", headers=AUTH)
        assert r.status == 200
        assert [m["id"] for m in r.json()["messages"]] == [failed_id]
        assert r.json()["counts"] == {"failed": 1, "sent": 1}
        r = c.get("/v1/messages?limit=1", headers=AUTH)
        assert [m["id"] for m in r.json()["messages"]] == [failed_id + 1]
        assert r.json()["next"] == failed_id + 1
        r = c.get("/v1/messages?limit=1&before=%d" % r.json()["next"],
                  headers=AUTH)
        assert [m["id"] for m in r.json()["messages"]] == [failed_id]

        r = c.get("/v1/messages/%d" % failed_id, headers=AUTH)
        assert r.status == 200
        assert r.json()["state"] == "failed"
        assert r.json()["class"] == "outreach"
        assert r.json()["attempts"] == 1
        assert "554" in r.json()["error"]
        log = r.json()["attempt_log"]
        assert len(log) == 1
        assert log[0]["number"] == 1
        assert log[0]["outcome"] == "failed"
        assert "554" in log[0]["reply"]
        assert log[0]["time"].endswith("Z")
        assert re.fullmatch(r"[0-9a-f]{12}", r.json()["template_version"])
        r = c.get("/v1/messages/%d" % (failed_id + 1), headers=AUTH)
        assert r.json()["attempt_log"][0]["outcome"] == "sent"
        assert c.get("/v1/messages/999", headers=AUTH).status == 404
        assert c.get("/v1/messages/9223372036854775807",
                     headers=AUTH).status == 404
        assert c.get("/v1/messages/7x", headers=AUTH).status == 404
        assert c.get("/v1/messages", headers={}).status == 401

        r = c.get("/v1/messages?state=lost", headers=AUTH)
        assert r.status == 400
        assert r.json()["field"] == "state"
        r = c.get("/v1/messages?rule=", headers=AUTH)
        assert r.status == 400
        assert r.json()["field"] == "rule"
        assert "empty" in r.json()["error"]
        r = c.get("/v1/messages?limit=1&limit=5", headers=AUTH)
        assert r.status == 400
        assert r.json()["field"] == "limit"
        assert "repeated" in r.json()["error"]
        r = c.get("/v1/messages?before=99999999999999999999999",
                  headers=AUTH)
        assert r.status == 400
        assert r.json()["field"] == "before"
        r = c.post("/v1/messages/retry?state=sent", headers=AUTH)
        assert r.status == 400
        assert r.json()["field"] == "state"
        r = c.post("/v1/messages/%d/retry" % (failed_id + 1), headers=AUTH)
        assert r.status == 409

        r = c.post("/v1/messages/%d/retry" % failed_id, headers=AUTH)
        assert r.status == 200
        assert r.json() == {"id": failed_id, "state": "planned"}
        wait_until(lambda: rejected_tries(tmp_path) == 2, timeout=20)
        wait_until(lambda: jobs_of(c, "news")[0]["state"] == "failed")

        r = c.post("/v1/messages/retry?state=failed", headers=AUTH)
        assert r.status == 200
        assert r.json() == {"retried": 1}
        wait_until(lambda: rejected_tries(tmp_path) == 3, timeout=20)
        r = c.post("/v1/messages/retry?state=dead", headers=AUTH)
        assert r.json() == {"retried": 0}
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def test_invalid_address_suppresses_later_jobs(tmp_path):
    smtp = SmtpServer(tmp_path, handler=["reply_smtp.ReplyMailbox", "reject"])
    c = start(tmp_path, smtp_config(
        smtp, '{ name = "news"; on = "news.ready";'
              '  send = { channel = "email"; template = "welcome"; }; },'
              '{ name = "notice"; on = "notice.due"; class = "service";'
              '  send = { channel = "email"; template = "welcome"; }; }'))
    gone = {"email": "nouser-dee@example.gov"}
    try:
        send(c, [{"type": "news.ready", "profile": gone}])
        [job] = settled(c, "news", "failed")
        assert "5.1.1" in job["error"]
        assert rejected_tries(tmp_path) == 1

        # Later messages to it, even service ones, are never tried.
        send(c, [{"type": "news.ready", "profile": gone},
                 {"type": "notice.due", "profile": gone}])
        wait_until(lambda: len(jobs_of(c, "news")) == 2 and
                   jobs_of(c, "news")[1]["state"] == "suppressed")
        [notice] = settled(c, "notice", "suppressed")
        assert notice["error"] == "invalid address"
        assert jobs_of(c, "news")[1]["error"] == "invalid address"
        assert rejected_tries(tmp_path) == 1
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
