"""Reloading plugins.conf in process (SIGHUP, POST /v1/admin/reload)
while events arrive and messages go out: nothing is lost, refused or
sent twice, the new rules and channel settings apply, and a bad config
leaves the running one in place."""
import collections
import os
import signal
import time

from crierlib import Crier, Store, wait_until
from reloadlib import AUTH, DIGEST, Load, Receiver, write_templates

CONFIG = """
templates = "tpl";
admin: { tokens = [ "sha256:%(digest)s" ]; };
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  hook: { plugin = "webhook"; url = "%(url)s"; secret = "s";
          max_per_second = 200; max_in_flight = 8; timeout_ms = 5000; };
};
delivery: { poll = "100ms"; };
programs: { visits: { }; };
rules = (
  { name = "thanks"; program = "visits"; on = "visit"; when = "true";
    send = { channel = "hook"; template = "%(template)s"; }; }
);
"""


def start(tmp_path, receiver):
    write_templates(str(tmp_path / "tpl"), {"v1": "first", "v2": "second"})
    c = Crier(tmp_path, CONFIG % {"digest": DIGEST,
                                  "url": receiver.base + "/a",
                                  "template": "v1"})
    c.start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def rewrite(c, old, new):
    with open(c.conf) as f:
        text = f.read()
    assert old in text
    with open(c.conf, "w") as f:
        f.write(text.replace(old, new))


def settled(c, count):
    jobs = c.store.jobs()
    return len(jobs) == count and all(j["state"] == "sent" for j in jobs)


def test_reload_under_load(tmp_path):
    count = 300
    receiver = Receiver(hold=0.02)
    c = start(tmp_path, receiver)
    try:
        load = Load(c.port, count, threads=2, rate=100).start()
        wait_until(lambda: load.posted() >= count // 3, timeout=60)

        # A bad config first: the route responds with the file, line and
        # key, and the running config stays.
        rewrite(c, "max_in_flight = 8;", "max_in_flight = 0;")
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status == 400
        assert "plugins.conf:11: channels.hook.max_in_flight:" in \
            r.json()["error"]
        rewrite(c, "max_in_flight = 0;", "max_in_flight = 8;")

        # Then a good one: a new template for the rule and a new URL for
        # the channel.
        rewrite(c, '"v1"', '"v2"')
        rewrite(c, receiver.base + "/a", receiver.base + "/b")
        began = time.monotonic()
        r = c.post("/v1/admin/reload", headers=AUTH)
        reloaded = time.monotonic()
        assert r.status == 200, r.body
        assert r.json()["stopped"] == ["channels.hook"]
        assert r.json()["started"] == ["channels.hook"]
        assert r.json()["unchanged"] == ["triggers.api"]

        load.wait()
        wait_until(lambda: settled(c, count), timeout=90)
        events = c.store.query("SELECT count(*) FROM events"
                               " WHERE type = 'visit'")[0][0]
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0

    print("reload took %.3fs" % (reloaded - began))
    assert load.errors == []
    assert sorted(load.results) == list(range(count))
    assert {status for _, status in load.results.values()} == {202}
    assert events == count

    per_message = collections.Counter(r["body"]["message_id"]
                                      for r in receiver.requests)
    assert len(per_message) == count
    assert max(per_message.values()) == 1

    # Before the reload began: the old URL and template; after it
    # returned: the new ones.
    before = [r for r in receiver.requests if r["time"] < began]
    after = [r for r in receiver.requests if r["time"] > reloaded]
    assert before and after
    assert {r["path"] for r in before} == {"/a"}
    assert {r["body"]["subject"].split()[0] for r in before} == {"first"}
    assert {r["path"] for r in after} == {"/b"}
    late = [r for r in receiver.requests
            if load.results[int(r["body"]["to"].rsplit("/", 1)[1])][0]
            > reloaded]
    assert late
    assert {r["body"]["subject"].split()[0] for r in late} == {"second"}


def test_sighup_reload_and_bad_config(tmp_path):
    receiver = Receiver()
    c = start(tmp_path, receiver)
    try:
        rewrite(c, "rules = (", "rules = ( oops")
        c.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in c.log_text())
        assert "plugins.conf:15: syntax:" in c.log_text()
        r = c.post("/v1/events", Load(c.port, 1).event(1))
        assert r.status == 202
        wait_until(lambda: settled(c, 1))
        rewrite(c, "rules = ( oops", "rules = (")

        rewrite(c, '"v1"', '"v2"')
        c.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "config reloaded" in c.log_text())
        r = c.post("/v1/events", Load(c.port, 1).event(2))
        assert r.status == 202
        wait_until(lambda: settled(c, 2))
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0
    subjects = sorted(r["body"]["subject"] for r in receiver.requests)
    assert subjects == ["first R1", "second R2"]
    assert "started=0 stopped=0 unchanged=2" in c.log_text()


def test_reload_rejects_fixed_settings(tmp_path):
    receiver = Receiver()
    c = start(tmp_path, receiver)
    try:
        rewrite(c, 'path = "var/crier.db"', 'path = "var/other.db"')
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status == 400
        assert "plugins.conf:7: store: cannot change by reload" in \
            r.json()["error"]
        r = c.post("/v1/admin/reload")
        assert r.status == 401
        assert c.get("/readyz").status == 200
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0


def test_reload_replaces_schedule_trigger(tmp_path):
    receiver = Receiver()
    c = start(tmp_path, receiver)
    try:
        rewrite(c, 'triggers: { api: { plugin = "api"; }; };',
                'triggers: { api: { plugin = "api"; };\n'
                '  dates: { plugin = "schedule"; schedules = (\n'
                '    { name = "day-3"; date = "profile.created";\n'
                '      offset = "3 days"; at = "10:00"; } ); }; };')
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status == 200, r.body
        assert r.json()["started"] == ["triggers.dates"]

        # The same schedule name in the new block of the same instance.
        rewrite(c, 'at = "10:00"', 'at = "11:00"')
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status == 200, r.body
        assert r.json()["started"] == ["triggers.dates"]
        assert r.json()["stopped"] == ["triggers.dates"]

        # A bad schedule leaves the running one, which can be replaced
        # again afterwards.
        rewrite(c, 'at = "11:00"', 'at = "25:00"')
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status == 400
        assert "triggers.dates.schedules" in r.json()["error"]
        rewrite(c, 'at = "25:00"', 'at = "12:00"')
        r = c.post("/v1/admin/reload", headers=AUTH)
        assert r.status == 200, r.body
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0
