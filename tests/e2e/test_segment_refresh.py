"""Segments on the clock: the refresh pass, and segment.entered and
segment.left events that rules react to."""
import hashlib
import os
import urllib.parse

from crierlib import ROOT, Crier, Store, maildir_messages, wait_until

TOKEN = "admin-token-for-refresh-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

TODDLERS = """
  { name = "toddler-parents";
    when = "any(profile.dependents, age_months(birth_date) < 24)"; }"""
LIMA = """
  { name = "lima"; when = "profile.city == 'Lima'"; }"""

# The test clock starts at 2026-01-01T00:00:00Z unless `start` is given.
CONFIG = """
clock = "test";
%(start)s
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
segments = ( %(segments)s );
rules = (
  { name = "toddler-grown";
    on   = "segment.left";
    when = "event.properties.segment == 'toddler-parents'";
    send = { channel = "email"; template = "welcome"; }; }
);
admin: { tokens = [ "sha256:%(digest)s" ]; };
"""


def start(tmp_path, segments=TODDLERS, clock_start=None):
    text = CONFIG % {
        "start": 'clock_start = "%s";' % clock_start if clock_start else "",
        "templates": TEMPLATES, "segments": segments,
        "digest": hashlib.sha256(TOKEN.encode()).hexdigest()}
    c = Crier(tmp_path, text).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.outbox = os.path.join(c.workdir, "var", "outbox")
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def get(c, path):
    r = c.get(path, headers=AUTH)
    assert r.status == 200, r.body
    return r.json()


def count(c, segment):
    return get(c, "/v1/segments/" + segment)["count"]


def profile_id(c, email):
    return get(c, "/v1/profiles?email=%s" %
               urllib.parse.quote(email))["profile"]["id"]


def child(email, birth_date):
    return {"type": "child.added", "profile": {"email": email},
            "attributes": {"first_name": "Ana"},
            "related": {"dependents": [
                {"id": "child-" + email,
                 "attributes": {"birth_date": birth_date}}]}}


def segment_events(c):
    """Every segment event stored: (type, profile_id, segment), in seq
    order."""
    return c.store.query(
        "SELECT type, json_extract(body, '$.profile_id'),"
        " json_extract(body, '$.properties.segment') FROM events"
        " WHERE type LIKE 'segment.%' ORDER BY seq")


def timeline_types(c, pid):
    entries = get(c, "/v1/profiles/%s/timeline" % pid)["entries"]
    return [e["type"] for e in entries if e["kind"] == "event"]


def settle(c):
    wait_until(c.store.pipeline_done)
    wait_until(lambda: all(j["state"] not in ("planned", "claimed",
                                              "sending")
                           for j in c.store.jobs()))


def test_leaving_on_the_clock_sends_once(tmp_path):
    c = start(tmp_path)
    # Ana's child is 10 months old.
    send(c, [child("ana@example.gov", "2025-03-01")])
    ana = profile_id(c, "ana@example.gov")
    assert count(c, "toddler-parents") == 1
    wait_until(c.store.pipeline_done)
    assert maildir_messages(c.outbox) == []

    # Fifteen months later the child is 25 months old: with no event
    # from Ana, the clock pass takes her out and records why.
    r = c.post("/v1/test/clock", {"now": "2027-04-01T00:00:00Z"})
    assert r.status == 200, r.body
    wait_until(lambda: count(c, "toddler-parents") == 0)
    settle(c)
    msgs = maildir_messages(c.outbox)
    assert len(msgs) == 1
    assert msgs[0]["To"] == "ana@example.gov"
    assert [j["rule"] for j in c.store.jobs()] == ["toddler-grown"]
    assert segment_events(c) == [
        ("segment.entered", ana, "toddler-parents"),
        ("segment.left", ana, "toddler-parents")]
    assert timeline_types(c, ana) == ["segment.left", "segment.entered",
                                      "child.added"]

    # Later passes and Ana's next event change nothing more.
    r = c.post("/v1/test/clock", {"advance": "3h"})
    assert r.status == 200, r.body
    send(c, [{"type": "page_view", "profile": {"email": "ana@example.gov"}}])
    settle(c)
    assert len(segment_events(c)) == 2
    assert len(maildir_messages(c.outbox)) == 1
    assert "segments refreshed" in c.log_text()
    assert c.stop() == 0


def test_added_segment_covers_existing_profiles(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "moved", "profile": {"email": "cy@example.gov"},
              "attributes": {"city": "Lima"}},
             {"type": "moved", "profile": {"email": "di@example.gov"},
              "attributes": {"city": "Cusco"}}])
    cy = profile_id(c, "cy@example.gov")
    assert c.stop() == 0

    c = start(tmp_path, segments=TODDLERS + "," + LIMA)
    wait_until(lambda: count(c, "lima") == 1)
    page = get(c, "/v1/segments/lima/members")
    assert [m["profile"] for m in page["members"]] == [cy]
    wait_until(c.store.pipeline_done)
    assert segment_events(c) == [("segment.entered", cy, "lima")]
    assert timeline_types(c, cy)[0] == "segment.entered"
    assert c.stop() == 0


def test_senders_cannot_forge_segment_events(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/events", {"type": "segment.left",
                              "profile": {"email": "ana@example.gov"},
                              "properties": {"segment":
                                             "toddler-parents"}})
    assert r.status == 400, r.body
    assert "segment." in r.body.decode()
    r = c.post("/v1/events", {"type": "page_view",
                              "profile": {"email": "ana@example.gov"},
                              "profile_id": "p_1"})
    assert r.status == 400, r.body
    assert "profile_id" in r.body.decode()
    for kind in ("profile.updated", "profile.merged"):
        r = c.post("/v1/events", {"type": kind,
                                  "profile": {"email": "ana@example.gov"}})
        assert r.status == 400, r.body
        assert "reserved" in r.body.decode()
    assert c.stop() == 0


def test_crash_during_pass_keeps_changes_whole(tmp_path):
    """kill -9 right after the clock moves, so the pass may be cut short:
    after a restart every membership change has exactly one event."""
    c = start(tmp_path)
    emails = ["p%04d@example.gov" % i for i in range(3000)]
    for first in range(0, len(emails), 500):
        send(c, [child(e, "2025-03-01") for e in emails[first:first + 500]])
    wait_until(lambda: count(c, "toddler-parents") == len(emails))
    r = c.post("/v1/test/clock", {"now": "2027-04-01T00:00:00Z"})
    assert r.status == 200, r.body
    # Kill as soon as the first page of exits is committed; the pass
    # reads 500 profiles a page, so most of it is usually still to come.
    wait_until(lambda: c.store.query(
        "SELECT count(*) FROM events WHERE type = 'segment.left'")[0][0],
        interval=0.005)
    c.kill()

    c = start(tmp_path, clock_start="2027-04-01T00:00:00Z")
    wait_until(lambda: count(c, "toddler-parents") == 0, timeout=60)
    wait_until(c.store.pipeline_done, timeout=60)
    rows = c.store.query(
        "SELECT json_extract(body, '$.profile_id'), type, count(*)"
        " FROM events WHERE type LIKE 'segment.%'"
        " GROUP BY 1, 2")
    per_profile = {}
    for pid, kind, n in rows:
        assert n == 1, (pid, kind, n)
        per_profile.setdefault(pid, set()).add(kind)
    assert len(per_profile) == len(emails)
    assert all(kinds == {"segment.entered", "segment.left"}
               for kinds in per_profile.values())
    assert c.store.query("SELECT count(*) FROM segment_members") == [(0,)]
    assert c.stop() == 0


RECALL_READERS = """
  { name = "recall-readers";
    when = "count(event.type == 'page_view'
                  && event.properties.url ~ '^/recalls/', 30 days) >= 2"; }"""


def view(email, url):
    return {"type": "page_view", "profile": {"email": email},
            "properties": {"url": url}}


def test_count_window_lapses_on_the_clock(tmp_path):
    c = start(tmp_path, segments=RECALL_READERS)
    c.post("/v1/test/clock", {"now": "2026-01-10T00:00:00Z"})
    send(c, [view("ana@example.gov", "/recalls/cribs")])
    c.post("/v1/test/clock", {"now": "2026-01-20T00:00:00Z"})
    send(c, [view("ana@example.gov", "/recalls/strollers"),
             view("ben@example.gov", "/recalls/cribs"),
             view("ben@example.gov", "/about")])
    ana = profile_id(c, "ana@example.gov")
    assert count(c, "recall-readers") == 1

    # 29 days after the first view both still count; the pass that the
    # clock move starts keeps Ana in.
    c.post("/v1/test/clock", {"now": "2026-02-08T00:00:00Z"})
    c.post("/v1/test/clock", {"advance": "2h"})
    settle(c)
    assert count(c, "recall-readers") == 1

    # Past 30 days from the first view only one is left in the window:
    # Ana leaves with no event of her own, and the timeline shows it.
    c.post("/v1/test/clock", {"now": "2026-02-10T00:00:00Z"})
    wait_until(lambda: count(c, "recall-readers") == 0)
    settle(c)
    assert ("segment.left", ana, "recall-readers") in segment_events(c)
    assert "segment.left" in timeline_types(c, ana)
    assert [e for e in segment_events(c) if e[0] == "segment.entered"] == \
        [("segment.entered", ana, "recall-readers")]


def test_admin_patch_updates_segments(tmp_path):
    c = start(tmp_path, segments=LIMA)
    send(c, [{"type": "signed_up", "profile": {"email": "cy@example.gov"},
              "attributes": {"city": "Quito"}}])
    cy = profile_id(c, "cy@example.gov")
    assert count(c, "lima") == 0

    # An admin's change enters the segment at once, not at Cy's next
    # event, and is recorded with the names of what changed.
    r = c.request("PATCH", "/v1/profiles/" + cy,
                  {"attributes": {"city": "Lima"}}, headers=AUTH)
    assert r.status == 200, r.body
    wait_until(lambda: count(c, "lima") == 1)
    wait_until(c.store.pipeline_done)
    assert segment_events(c) == [("segment.entered", cy, "lima")]
    types = timeline_types(c, cy)
    assert types[:2] == ["segment.entered", "profile.updated"]
    body = c.store.query("SELECT json_extract(body, '$.properties')"
                         " FROM events WHERE type = 'profile.updated'")
    assert body == [('{"attributes":["city"],"consent":[]}',)]
    assert c.stop() == 0


def test_admin_merge_updates_segments(tmp_path):
    c = start(tmp_path, segments=RECALL_READERS)
    send(c, [view("ana@example.gov", "/recalls/cribs"),
             view("ana.home@example.gov", "/recalls/strollers")])
    ana = profile_id(c, "ana@example.gov")
    home = profile_id(c, "ana.home@example.gov")
    assert count(c, "recall-readers") == 0

    # Merged, the survivor has both views in 30 days and enters.
    r = c.post("/v1/profiles/%s/merge" % ana, {"from": home},
               headers=AUTH)
    assert r.status == 200, r.body
    wait_until(lambda: count(c, "recall-readers") == 1)
    wait_until(c.store.pipeline_done)
    assert ("segment.entered", ana, "recall-readers") in segment_events(c)
    assert "profile.merged" in timeline_types(c, ana)
    assert c.stop() == 0
