"""Digests against the real binary and the test clock.

Items that arrive at once open one window, and the message lists them in
event-time order. A later item opens a new window, and a duplicate key
shows its latest state. A resident with no items gets nothing, and a
restart mid-window loses nothing."""
import hashlib
import os
import threading

from crierlib import ROOT, Crier, Store, maildir_messages, body_of, \
    wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "journey-templates")
TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}

CONFIG = """
clock = "test";
time_zone = "America/New_York";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Agency <agency@example.gov>"; }; };
triggers: { api: { plugin = "api"; }; };
admin: { tokens = [ "sha256:%s" ]; };
digests = (
  { name = "notes"; window = "5m"; channel = "email";
    template = "case-notes"; key = "event.properties.note_id"; },
  { name = "evening"; until = "17:00"; channel = "email";
    template = "case-notes"; }
);
rules = (
  { name = "note"; on = "case.note"; send = { digest = "notes"; }; },
  { name = "urgent"; on = "case.note";
    when = "event.properties.urgent == true";
    send = { digest = "notes"; }; },
  { name = "daily"; on = "case.update"; send = { digest = "evening"; }; }
);
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def set_clock(c, now):
    r = c.post("/v1/test/clock", {"now": now})
    assert r.status == 200, r.body


def note(c, email, time, note_id, text, urgent=False, type_="case.note"):
    r = c.post("/v1/events", {"type": type_, "time": time,
                              "profile": {"email": email},
                              "properties": {"note_id": note_id,
                                             "note": text,
                                             "urgent": urgent}})
    assert r.status == 202, r.body


def digest_jobs(c):
    """Returns (key, recipient, created ms) of every digest job."""
    return c.store.query("SELECT key, recipient, created FROM jobs"
                         " WHERE rule LIKE 'digest:%' ORDER BY id")


def messages(c):
    return maildir_messages(os.path.join(c.workdir, "var", "outbox"))


def ms(text):
    """Returns the ms since the epoch of an RFC 3339 UTC time."""
    import datetime
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(round(t.timestamp() * 1000))


def settle(c):
    wait_until(c.store.pipeline_done)


def test_three_concurrent_notes_one_email(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-04-08T16:00:00.900Z")
        threads = [threading.Thread(target=note, args=(
            c, "ana@example.gov", "2026-04-08T16:00:00.%dZ" % tenth,
            "n-%d" % tenth, "note at .%d" % tenth))
            for tenth in (9, 1, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        settle(c)
        windows = c.store.query("SELECT entry, due, state FROM journeys"
                                " WHERE journey = 'digest:notes'")
        assert windows == [(ms("2026-04-08T16:00:00.100Z"),
                            ms("2026-04-08T16:05:00.100Z"), "active")]

        set_clock(c, "2026-04-08T16:05:00.000Z")
        settle(c)
        assert digest_jobs(c) == []
        set_clock(c, "2026-04-08T16:05:00.100Z")
        wait_until(lambda: len(digest_jobs(c)) == 1)
        key, to, created = digest_jobs(c)[0]
        assert to == "ana@example.gov"
        assert key.startswith("digest:notes/")
        assert key.endswith("/%d" % ms("2026-04-08T16:00:00.100Z"))
        assert created == ms("2026-04-08T16:05:00.100Z")
        wait_until(lambda: len(messages(c)) == 1)
        text = body_of(messages(c)[0], "plain")
        assert text.index("note at .1") < text.index("note at .4")
        assert text.index("note at .4") < text.index("note at .9")

        # A fourth note after the window ends opens a new one.
        set_clock(c, "2026-04-08T16:05:01.000Z")
        note(c, "ana@example.gov", "2026-04-08T16:05:01.000Z", "n-4",
             "fourth note")
        settle(c)
        windows = c.store.query("SELECT entry, due, state FROM journeys"
                                " WHERE journey = 'digest:notes'")
        assert windows == [(ms("2026-04-08T16:05:01.000Z"),
                            ms("2026-04-08T16:10:01.000Z"), "active")]
        set_clock(c, "2026-04-08T16:10:01.000Z")
        wait_until(lambda: len(messages(c)) == 2)
        assert len(digest_jobs(c)) == 2
        texts = [body_of(m, "plain") for m in messages(c)]
        fourth = [t for t in texts if "fourth note" in t]
        assert len(fourth) == 1
        assert "note at" not in fourth[0]
    finally:
        c.stop()


def test_duplicate_key_latest_state(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-04-08T16:00:10Z")
        # The urgent note matches both rules but is listed once. n-1 is
        # sent again later with new text, and only that text is listed.
        note(c, "bo@example.gov", "2026-04-08T16:00:00Z", "n-1", "draft")
        note(c, "bo@example.gov", "2026-04-08T16:00:05Z", "n-2", "urgent",
             urgent=True)
        note(c, "bo@example.gov", "2026-04-08T16:00:09Z", "n-1", "final")
        settle(c)
        set_clock(c, "2026-04-08T16:06:00Z")
        wait_until(lambda: len(messages(c)) == 1)
        text = body_of(messages(c)[0], "plain")
        assert text.count("urgent") == 1
        assert "draft" not in text
        assert text.index("urgent") < text.index("final")
        # Nobody else had items, so nobody else gets a digest.
        assert [to for _, to, _ in digest_jobs(c)] == ["bo@example.gov"]
    finally:
        c.stop()


def test_restart_mid_window(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-04-08T16:00:00Z")
        note(c, "cy@example.gov", "2026-04-08T16:00:00Z", "n-1", "first")
        settle(c)
        assert c.stop() == 0

        c.start()
        set_clock(c, "2026-04-08T16:02:00Z")
        note(c, "cy@example.gov", "2026-04-08T16:02:00Z", "n-2", "second")
        settle(c)
        set_clock(c, "2026-04-08T16:04:59Z")
        settle(c)
        assert digest_jobs(c) == []
        set_clock(c, "2026-04-08T16:05:00Z")
        wait_until(lambda: len(messages(c)) == 1)
        text = body_of(messages(c)[0], "plain")
        assert text.index("first") < text.index("second")
        set_clock(c, "2026-04-08T17:00:00Z")
        settle(c)
        assert len(digest_jobs(c)) == 1
    finally:
        c.stop()


def test_daily_digest_until_local_time(tmp_path):
    c = start(tmp_path)
    try:
        # 18:00 EDT is past 17:00, so the window ends at 17:00 EDT the
        # next day (21:00 UTC).
        set_clock(c, "2026-04-08T22:00:00Z")
        note(c, "di@example.gov", "2026-04-08T22:00:00Z", "u-1", "update",
             type_="case.update")
        settle(c)
        pid = c.store.query("SELECT profile FROM identities"
                            " WHERE value = 'di@example.gov'")[0][0]
        r = c.get("/v1/profiles/%s/journeys" % pid, headers=AUTH)
        assert r.status == 200, r.body
        rows = r.json()["journeys"]
        assert rows[0]["digest"] == "evening"
        assert rows[0]["items"] == 1
        assert rows[0]["next_at"] == "2026-04-09T21:00:00.000Z"
        set_clock(c, "2026-04-09T20:59:59Z")
        settle(c)
        assert digest_jobs(c) == []
        set_clock(c, "2026-04-09T21:00:00Z")
        wait_until(lambda: len(digest_jobs(c)) == 1)
    finally:
        c.stop()
