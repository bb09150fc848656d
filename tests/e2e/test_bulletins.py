"""Topics, subscriptions and bulletins with the real binary: planning in
batches, suppression with reasons, pause, rate change, restart and resume
on the test clock."""
import collections
import hashlib
import os
import re

from crierlib import (ROOT, Crier, Store, maildir_messages, run_crier,
                      wait_until)

TOKEN = "admin-token-for-bulletin-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

CONFIG = """
clock = "test";
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
segments = ( { name = "ward-3"; when = "profile.ward == '3'"; } );
topics = (
  { name = "crib-recalls"; title = "Crib recalls";
    category = "Child safety"; channels = [ "email" ]; },
  { name = "road-closures"; title = "Road closures in Ward 3";
    category = "Streets"; channels = [ "email" ]; }
);
rules = (
  { name = "receipt"; on = "permit.paid"; class = "service";
    send = { channel = "email"; template = "welcome"; }; }
);
admin: { tokens = [ "sha256:%(digest)s" ]; };
"""


def start(workdir, extra=""):
    text = CONFIG % {"templates": TEMPLATES,
                     "digest": hashlib.sha256(TOKEN.encode()).hexdigest()}
    c = Crier(workdir, text + extra).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.outbox = os.path.join(c.workdir, "var", "outbox")
    # Ready once the stored topics and bulletins are read back.
    wait_until(lambda: c.get("/readyz").status == 200)
    return c


def call(c, method, path, body=None, status=200):
    r = c.request(method, path, body, headers=AUTH)
    assert r.status == status, r.body
    return r.json()


def set_clock(c, now):
    r = c.post("/v1/test/clock", {"now": now})
    assert r.status == 200, r.body


def residents(c, count, ward="1"):
    """Creates `count` profiles r0000@example.gov, ... and returns their
    ids in id order, the order in which bulletins plan them."""
    for first in range(0, count, 500):
        events = [{"type": "signed_up",
                   "profile": {"email": "r%04d@example.gov" % i},
                   "attributes": {"first_name": "R%d" % i, "ward": ward}}
                  for i in range(first, min(first + 500, count))]
        r = c.post("/v1/events", {"events": events})
        assert r.status == 202, r.body
    wait_until(c.store.pipeline_done, timeout=60)
    return [row[0] for row in
            c.store.query("SELECT id FROM profiles ORDER BY id")]


def subscribe(c, ids, topic, status="confirmed"):
    for first in range(0, len(ids), 1000):
        entries = [{"profile": p, "topic": topic, "channel": "email",
                    "status": status} for p in ids[first:first + 1000]]
        out = call(c, "POST", "/v1/subscriptions",
                   {"subscriptions": entries})
        assert out["written"] == len(entries)
        assert out["missing"] == []


def bulletin(c, bid):
    return call(c, "GET", "/v1/bulletins/" + bid)


def recipients(c):
    """Counts the messages in the outbox by recipient."""
    return collections.Counter(m["To"] for m in maildir_messages(c.outbox))


def test_bulletin_skips_suppressed_run(tmp_path):
    c = start(tmp_path)
    try:
        ids = residents(c, 2000)
        assert len(ids) == 2000
        subscribe(c, ids[:700], "crib-recalls")
        subscribe(c, ids[700:1300], "crib-recalls", status="pending")
        subscribe(c, ids[1300:], "crib-recalls")

        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "crib-recalls"}, 201)
        assert b["state"] == "sending"
        assert b["progress"]["planned"] == 0

        def complete():
            return bulletin(c, b["id"])["state"] == "complete"
        wait_until(complete, timeout=120, interval=0.2)

        done = bulletin(c, b["id"])
        assert done["scanned"] is True
        assert done["progress"]["planned"] == 2000
        assert done["progress"]["sent"] == 1400
        assert done["progress"]["suppressed"] == 600
        assert done["progress"]["suppressed_by"] == {"unconfirmed": 600}
        assert done["progress"]["pending"] == 0
        sent = recipients(c)
        assert len(sent) == 1400
        assert set(sent.values()) == {1}

        # The 600 suppressed are exactly the unconfirmed ones.
        rows = c.store.query(
            "SELECT profile FROM jobs WHERE rule = ? AND state = "
            "'suppressed' AND error = 'unconfirmed'", "bulletin:" + b["id"])
        assert sorted(r[0] for r in rows) == ids[700:1300]

        # Planned in batches of at most 500, one log line per batch.
        batches = [int(n) for n in re.findall(
            r"bulletin batch planned .*planned=(\d+)", c.log_text())]
        assert len(batches) >= 4
        assert max(batches) <= 500
    finally:
        c.stop()


def test_bulletin_pause_restart_resume(tmp_path):
    c = start(tmp_path)
    ids = residents(c, 345)
    subscribe(c, ids, "crib-recalls")
    b = call(c, "POST", "/v1/bulletins",
             {"template": "welcome", "topic": "crib-recalls", "rate": 60},
             201)
    # At 60 an hour, one goes at once and one each minute after it.
    set_clock(c, "2026-01-01T03:05:00Z")

    def sent(count):
        return lambda: bulletin(c, b["id"])["progress"]["sent"] == count
    wait_until(sent(186), timeout=30)
    out = call(c, "POST", "/v1/bulletins/%s/pause" % b["id"])
    assert out["state"] == "paused"
    set_clock(c, "2026-01-01T05:00:00Z")
    out = call(c, "PATCH", "/v1/bulletins/" + b["id"], {"rate": 120})
    assert out["rate"] == 120
    assert out["progress"]["planned"] == 186
    first = recipients(c)
    assert len(first) == 186
    assert c.stop() == 0

    c = start(tmp_path)
    try:
        set_clock(c, "2026-01-01T06:00:00Z")
        out = bulletin(c, b["id"])
        assert out["state"] == "paused"
        assert out["rate"] == 120
        assert out["progress"]["sent"] == 186
        out = call(c, "POST", "/v1/bulletins/%s/resume" % b["id"])
        assert out["state"] == "sending"
        # At 120 an hour, 159 take 79 minutes after the first.
        set_clock(c, "2026-01-01T07:19:00Z")
        wait_until(sent(345), timeout=30)
        wait_until(lambda: bulletin(c, b["id"])["state"] == "complete",
                   timeout=10)
        every = recipients(c)
        assert len(every) == 345
        assert set(every.values()) == {1}
        assert all(every[to] == 1 for to in first)
        assert bulletin(c, b["id"])["progress"]["planned"] == 345
    finally:
        c.stop()


def test_bulletin_rate_holds_pace(tmp_path):
    c = start(tmp_path)
    try:
        ids = residents(c, 20)
        subscribe(c, ids, "crib-recalls")
        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "crib-recalls",
                  "rate": 60}, 201)
        wait_until(lambda: bulletin(c, b["id"])["progress"]["sent"] == 1)
        set_clock(c, "2026-01-01T00:05:00Z")
        wait_until(lambda: bulletin(c, b["id"])["progress"]["sent"] == 6)
        set_clock(c, "2026-01-01T00:05:30Z")
        assert bulletin(c, b["id"])["progress"]["planned"] == 6
    finally:
        c.stop()


def test_bulletin_topic_and_segment(tmp_path):
    c = start(tmp_path)
    try:
        ward1 = residents(c, 10)
        events = [{"type": "signed_up",
                   "profile": {"email": "w%d@example.gov" % i},
                   "attributes": {"ward": "3"}} for i in range(5)]
        assert c.post("/v1/events", {"events": events}).status == 202
        wait_until(c.store.pipeline_done)
        every = [r[0] for r in
                 c.store.query("SELECT id FROM profiles ORDER BY id")]
        subscribe(c, every, "road-closures")
        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "road-closures",
                  "segment": "ward-3"}, 201)
        wait_until(lambda: bulletin(c, b["id"])["state"] == "complete",
                   timeout=20)
        assert sorted(recipients(c)) == sorted(
            "w%d@example.gov" % i for i in range(5))
        assert bulletin(c, b["id"])["progress"]["planned"] == 5
        assert len(ward1) == 10
    finally:
        c.stop()


def test_bulletin_unsubscribe_before_send(tmp_path):
    c = start(tmp_path)
    try:
        ids = residents(c, 3)
        subscribe(c, ids, "crib-recalls")
        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "crib-recalls",
                  "send_at": "2026-01-01T01:00:00Z"}, 201)
        assert b["state"] == "scheduled"
        subscribe(c, ids[:1], "crib-recalls", status="unsubscribed")
        set_clock(c, "2026-01-01T01:00:00Z")
        wait_until(lambda: bulletin(c, b["id"])["state"] == "complete",
                   timeout=20)
        assert len(recipients(c)) == 2
        assert bulletin(c, b["id"])["progress"]["planned"] == 2
    finally:
        c.stop()


def test_bulletin_cancel_suppresses(tmp_path):
    c = start(tmp_path)
    try:
        ids = residents(c, 5)
        subscribe(c, ids, "crib-recalls")
        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "crib-recalls",
                  "rate": 60}, 201)
        wait_until(lambda: bulletin(c, b["id"])["progress"]["sent"] == 1)
        out = call(c, "POST", "/v1/bulletins/%s/cancel" % b["id"])
        assert out["state"] == "cancelled"
        set_clock(c, "2026-01-01T02:00:00Z")
        assert bulletin(c, b["id"])["progress"]["planned"] == 1
        call(c, "POST", "/v1/bulletins/%s/resume" % b["id"], status=409)
        assert len(recipients(c)) == 1
    finally:
        c.stop()


def test_bulletin_requests_checked(tmp_path):
    c = start(tmp_path)
    try:
        cases = [
            ({"template": "nope", "topic": "crib-recalls"}, "template"),
            ({"template": "welcome"}, "topic"),
            ({"template": "welcome", "topic": "nope"}, "topic"),
            ({"template": "welcome", "segment": "nope"}, "segment"),
            ({"template": "welcome", "topic": "crib-recalls",
              "channel": "sms"}, "channel"),
            ({"template": "welcome", "topic": "crib-recalls",
              "rate": -1}, "rate"),
            ({"template": "welcome", "topic": "crib-recalls",
              "send_at": "tomorrow"}, "send_at"),
        ]
        for body, field in cases:
            out = call(c, "POST", "/v1/bulletins", body, 400)
            assert out["field"] == field, body
        r = c.request("GET", "/v1/bulletins")
        assert r.status == 401
        call(c, "GET", "/v1/bulletins/b-none", status=404)
        assert call(c, "GET", "/v1/bulletins") == {"bulletins": []}
    finally:
        c.stop()


def test_topics_from_config_and_api(tmp_path):
    c = start(tmp_path)
    try:
        names = [t["name"] for t in call(c, "GET", "/v1/topics")["topics"]]
        assert names == ["crib-recalls", "road-closures"]
        made = call(c, "POST", "/v1/topics",
                    {"name": "heat-alerts", "title": "Heat alerts",
                     "category": "Weather", "channels": ["email"]}, 201)
        assert made["source"] == "api"
        out = call(c, "POST", "/v1/topics",
                   {"name": "crib-recalls", "title": "X", "category": "Y",
                    "channels": ["email"]}, 400)
        assert "plugins.conf" in out["error"]
        call(c, "POST", "/v1/topics",
             {"name": "Bad Name", "title": "X", "category": "Y",
              "channels": ["email"]}, 400)
        assert c.stop() == 0
        c = start(tmp_path)
        topics = call(c, "GET", "/v1/topics")["topics"]
        assert [t["name"] for t in topics] == [
            "crib-recalls", "heat-alerts", "road-closures"]
    finally:
        c.stop()


def test_subscriptions_by_identity(tmp_path):
    c = start(tmp_path)
    try:
        residents(c, 2)
        profile = call(c, "GET", "/v1/profiles?email=r0001@example.gov")
        pid = profile["profile"]["id"]
        out = call(c, "POST", "/v1/subscriptions", {"subscriptions": [
            {"email": "r0001@example.gov", "topic": "crib-recalls",
             "channel": "email", "status": "pending", "origin": "import"},
            {"email": "nobody@example.gov", "topic": "crib-recalls",
             "channel": "email", "status": "confirmed"}]})
        assert out == {"written": 1, "missing": [1]}
        rows = call(c, "GET", "/v1/subscriptions?profile=" + pid)
        assert len(rows["subscriptions"]) == 1
        row = rows["subscriptions"][0]
        assert row["status"] == "pending"
        assert row["origin"] == "import"
        bad = call(c, "POST", "/v1/subscriptions", {"subscriptions": [
            {"email": "r0001@example.gov", "topic": "crib-recalls",
             "channel": "email", "status": "maybe"}]}, 400)
        assert bad["field"] == "subscriptions[0].status"
    finally:
        c.stop()


def test_merge_moves_subscriptions(tmp_path):
    """A merge moves the merged-away profile's subscriptions to the
    surviving one, and bulletins reach the survivor. Where both have a
    row, the surviving row stays with the more confirmed status."""
    c = start(tmp_path)
    try:
        into, source = residents(c, 2)
        subscribe(c, [source], "crib-recalls")
        subscribe(c, [into], "crib-recalls", status="pending")
        subscribe(c, [source], "road-closures")
        call(c, "POST", "/v1/profiles/%s/merge" % into, {"from": source})

        rows = call(c, "GET", "/v1/subscriptions?profile=" + into)
        subs = {s["topic"]: s for s in rows["subscriptions"]}
        assert sorted(subs) == ["crib-recalls", "road-closures"]
        assert subs["crib-recalls"]["status"] == "confirmed"
        assert subs["road-closures"]["status"] == "confirmed"
        assert call(c, "GET", "/v1/subscriptions?profile=" + source) == {
            "subscriptions": []}

        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "road-closures"}, 201)
        wait_until(lambda: bulletin(c, b["id"])["state"] == "complete",
                   timeout=20)
        assert bulletin(c, b["id"])["progress"]["sent"] == 1
        rows = c.store.query("SELECT profile FROM jobs WHERE rule = ?",
                             "bulletin:" + b["id"])
        assert [r[0] for r in rows] == [into]
    finally:
        c.stop()


def test_channel_rate_shared_by_bulletins(tmp_path):
    """Two bulletins on one channel share its bulletin rate, 60 an hour:
    together they go at that pace, the older one first."""
    c = start(tmp_path, "delivery: { bulletin_rates = { email = 60; }; };")
    try:
        ids = residents(c, 20)
        subscribe(c, ids, "crib-recalls")
        subscribe(c, ids, "road-closures")
        first = call(c, "POST", "/v1/bulletins",
                     {"template": "welcome", "topic": "crib-recalls"}, 201)
        second = call(c, "POST", "/v1/bulletins",
                      {"template": "welcome", "topic": "road-closures"}, 201)

        def sent():
            return [bulletin(c, b["id"])["progress"]["sent"]
                    for b in (first, second)]
        wait_until(lambda: sum(sent()) == 1)
        set_clock(c, "2026-01-01T00:05:00Z")
        wait_until(lambda: sum(sent()) == 6)
        # Five minutes at 60 an hour allow five more, for both together.
        set_clock(c, "2026-01-01T00:05:30Z")
        assert sum(bulletin(c, b["id"])["progress"]["planned"]
                   for b in (first, second)) == 6
        assert sent() == [6, 0]
        # 34 minutes later: the first one's last 14, then 20 of the
        # second, which gets what the first one left of the allowance.
        set_clock(c, "2026-01-01T00:39:00Z")
        wait_until(lambda: sent() == [20, 20])
        for b in (first, second):
            wait_until(lambda: bulletin(c, b["id"])["state"] == "complete")
        assert set(recipients(c).values()) == {2}
    finally:
        c.stop()


def test_channel_rate_config_checked(tmp_path):
    text = CONFIG % {"templates": TEMPLATES, "digest": "0" * 64}
    for n, (rates, words) in enumerate([
            ("{ fax = 60; }", 'delivery.bulletin_rates.fax: channel "fax" '
             "is not configured under channels"),
            ("{ email = 0; }", "delivery.bulletin_rates.email"),
            ("60", "delivery.bulletin_rates: must be a group")]):
        workdir = os.path.join(str(tmp_path), "case%d" % n)
        os.makedirs(workdir)
        conf = Crier(workdir, text + "delivery: { bulletin_rates = %s; };"
                     % rates).conf
        code, out, err = run_crier("check", "-c", conf)
        assert code != 0, rates
        assert words in out + err, (rates, out + err)


def test_service_message_before_bulletin_backlog(tmp_path):
    """A service message planned while a large bulletin is sending goes
    out before the bulletin's remaining jobs: claims take the service
    lane first. One delivery at a time makes the order of the "message
    sent" log lines the order of the claims."""
    c = start(tmp_path, "delivery: { max_in_flight = 1; };")
    try:
        ids = residents(c, 600)
        subscribe(c, ids, "crib-recalls")
        b = call(c, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "crib-recalls"}, 201)
        wait_until(lambda: bulletin(c, b["id"])["progress"]["sent"] >= 50,
                   timeout=30)
        call(c, "POST", "/v1/admin/pause", {"channel": "email"})
        wait_until(lambda: bulletin(c, b["id"])["progress"]["planned"]
                   == 600, timeout=30)

        r = c.post("/v1/events", {"type": "permit.paid",
                                  "profile": {"email": "r0599@example.gov"}})
        assert r.status == 202, r.body
        wait_until(c.store.pipeline_done)
        receipt = c.store.query("SELECT state FROM jobs"
                                " WHERE rule = 'receipt'")
        assert receipt == [("planned",)]
        sent_before = bulletin(c, b["id"])["progress"]["sent"]
        assert 600 - sent_before > 400
        call(c, "POST", "/v1/admin/resume", {"channel": "email"})
        wait_until(lambda: bulletin(c, b["id"])["state"] == "complete",
                   timeout=60, interval=0.2)

        order = re.findall(r"message sent .*?rule=(\S+)", c.log_text())
        assert len(order) == 601
        at = order.index("receipt")
        assert at == sent_before
        assert all(rule.startswith("bulletin:") for rule in order[at + 1:])
    finally:
        c.stop()


def test_admin_bodies_name_unknown_members(tmp_path):
    c = start(tmp_path)
    try:
        residents(c, 1)
        entry = {"email": "r0000@example.gov", "topic": "crib-recalls",
                 "channel": "email", "status": "confirmed"}
        out = call(c, "POST", "/v1/subscriptions", {"subscriptions": [
            entry, dict(entry, profile="p_other")]}, 400)
        assert out["field"] == "subscriptions[1].email"
        assert "entry 1" in out["error"]
        out = call(c, "POST", "/v1/subscriptions", {"subscriptions": [
            dict(entry, colour="red")]}, 400)
        assert out["field"] == "subscriptions[0].colour"
        out = call(c, "POST", "/v1/subscriptions",
                   {"subscriptions": [entry], "dry_run": True}, 400)
        assert out["field"] == "dry_run"
        # Nothing of the rejected bodies was written.
        assert c.store.query("SELECT count(*) FROM subscriptions") == [(0,)]

        out = call(c, "POST", "/v1/topics",
                   {"name": "heat", "title": "Heat", "category": "Weather",
                    "channels": ["email"], "colour": "red"}, 400)
        assert out["field"] == "colour"
        out = call(c, "POST", "/v1/bulletins",
                   {"template": "welcome", "topic": "crib-recalls",
                    "sendat": "2026-01-01T00:00:00Z"}, 400)
        assert out["field"] == "sendat"
        assert call(c, "GET", "/v1/bulletins") == {"bulletins": []}
    finally:
        c.stop()


def test_topic_channels_checked(tmp_path):
    c = start(tmp_path)
    try:
        topic = {"name": "heat", "title": "Heat", "category": "Weather"}
        out = call(c, "POST", "/v1/topics",
                   dict(topic, channels=["email", "email"]), 400)
        assert out["field"] == "channels"
        assert "more than once" in out["error"]
        out = call(c, "POST", "/v1/topics", dict(topic, channels="email"),
                   400)
        assert out["field"] == "channels"
        assert "must be a list" in out["error"]
        out = call(c, "POST", "/v1/topics", dict(topic, title=""), 400)
        assert out["field"] == "title"
        out = call(c, "POST", "/v1/topics",
                   dict(topic, name="crib-recalls", channels=["email"]), 400)
        assert out["field"] == "name"
        names = [t["name"] for t in call(c, "GET", "/v1/topics")["topics"]]
        assert names == ["crib-recalls", "road-closures"]
    finally:
        c.stop()


def test_finished_bulletin_cannot_change(tmp_path):
    c = start(tmp_path)
    try:
        ids = residents(c, 2)
        subscribe(c, ids, "crib-recalls")
        done = call(c, "POST", "/v1/bulletins",
                    {"template": "welcome", "topic": "crib-recalls"}, 201)
        wait_until(lambda: bulletin(c, done["id"])["state"] == "complete")
        for action in ("pause", "resume", "cancel"):
            out = call(c, "POST", "/v1/bulletins/%s/%s" % (done["id"],
                                                           action),
                       status=409)
            assert out["field"] == "state"
            assert "complete" in out["error"]
        out = call(c, "PATCH", "/v1/bulletins/" + done["id"], {"rate": 5},
                   409)
        assert "complete" in out["error"]
        assert bulletin(c, done["id"])["state"] == "complete"
        assert bulletin(c, done["id"])["rate"] == 0

        held = call(c, "POST", "/v1/bulletins",
                    {"template": "welcome", "topic": "crib-recalls",
                     "send_at": "2030-01-01T00:00:00Z"}, 201)
        call(c, "POST", "/v1/bulletins/%s/cancel" % held["id"])
        out = call(c, "PATCH", "/v1/bulletins/" + held["id"], {"rate": 5},
                   409)
        assert "cancelled" in out["error"]
        assert bulletin(c, held["id"])["rate"] == 0
        call(c, "POST", "/v1/bulletins/%s/pause" % held["id"], status=409)
        assert bulletin(c, held["id"])["state"] == "cancelled"
        out = call(c, "PATCH", "/v1/bulletins/" + held["id"],
                   {"rate": 5, "pace": 1}, 400)
        assert out["field"] == "pace"
    finally:
        c.stop()
