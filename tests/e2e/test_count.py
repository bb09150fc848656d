"""count() in rules and segments: past events of a profile in a window,
across batches and across an anonymous-to-known merge."""
import hashlib
import os

from crierlib import ROOT, Crier, Store, maildir_messages, wait_until

TOKEN = "count-test-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

# The reminder reacts to the form: when a resident in consideration
# submits it after viewing an apply page at least twice in 7 days, the
# current form itself being no view.
CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Benefits <benefits@example.gov>"; }; };
admin: { tokens = [ "sha256:%s" ]; };
programs: { snap: { }; };
rules = (
  { name = "interested"; program = "snap"; on = "signup";
    stage = "consideration"; },
  { name = "apply-help"; program = "snap"; on = "form.submitted";
    when = "profile.stage == 'consideration'
            && count(event.type == 'page_view'
                     && event.properties.url ~ '^/benefits/snap/apply',
                     7 days) >= 2";
    send = { channel = "email"; template = "welcome"; }; }
);
segments = (
  { name = "recall-readers";
    when = "count(event.properties.url ~ '^/recalls/', 30 days) >= 2"; }
);
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def profile_of(c, kind, value):
    rows = c.store.query("SELECT profile FROM identities WHERE kind = ?"
                         " AND value = ?", kind, value)
    return rows[0][0] if rows else None


def view(visitor, url="/benefits/snap/apply"):
    return {"type": "page_view", "visitor": visitor,
            "properties": {"url": url}}


FORM = {"type": "form.submitted", "visitor": "anon-77",
        "profile": {"email": "ana@example.gov"}}


def resident(c):
    """Stores Ana, a resident in stage consideration; returns her id."""
    send(c, [{"type": "signup", "profile": {"email": "ana@example.gov"},
              "attributes": {"first_name": "Ana"}}])
    assert c.store.stage_of("email", "ana@example.gov",
                            "snap") == "consideration"
    return profile_of(c, "email", "ana@example.gov")


def outbox(c):
    return maildir_messages(os.path.join(c.workdir, "var", "outbox"))


def timeline_views(c, profile):
    r = c.get("/v1/profiles/%s/timeline" % profile, headers=AUTH)
    assert r.status == 200, r.body
    return [e for e in r.json()["entries"]
            if e["kind"] == "event" and e["type"] == "page_view"]


def check_one_message_to_resident(c, known, anon):
    """The rule fired once, for Ana, and nothing went to anon-77's
    profile."""
    jobs = c.store.jobs()
    assert [j["rule"] for j in jobs] == ["apply-help"]
    assert jobs[0]["to"] == "ana@example.gov"
    assert c.store.query("SELECT profile FROM jobs") == [(known,)]
    if anon is not None:
        assert c.store.query("SELECT count(*) FROM jobs WHERE profile = ?",
                             anon)[0][0] == 0
    wait_until(lambda: len(outbox(c)) == 1)
    assert outbox(c)[0]["To"] == "ana@example.gov"
    assert len(timeline_views(c, known)) == 3


def test_views_and_form_in_one_batch(tmp_path):
    c = start(tmp_path)
    known = resident(c)
    send(c, [view("anon-77"), view("anon-77"), view("anon-77"), FORM])
    assert profile_of(c, "visitor", "anon-77") == known
    # The anonymous profile lived only inside the batch, so Ana's is the
    # only one stored.
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 1
    check_one_message_to_resident(c, known, None)
    c.stop()


def test_views_and_form_in_two_batches(tmp_path):
    c = start(tmp_path)
    known = resident(c)
    send(c, [view("anon-77"), view("anon-77"), view("anon-77")])
    anon = profile_of(c, "visitor", "anon-77")
    assert anon is not None and anon != known
    # The views of the anonymous profile are stored; no job for it.
    assert c.store.jobs() == []
    send(c, [FORM])
    assert profile_of(c, "visitor", "anon-77") == known
    check_one_message_to_resident(c, known, anon)
    c.stop()


def test_view_older_than_window_not_counted(tmp_path):
    c = start(tmp_path)
    known = resident(c)
    send(c, [view("anon-77")])
    assert c.post("/v1/test/clock", {"advance": "8d"}).status == 200
    send(c, [view("anon-77")])
    send(c, [FORM])
    # One view in the last 7 days: no message.
    assert c.store.jobs() == []
    assert len(timeline_views(c, known)) == 2

    # A second recent view, in its own batch, makes the next form count.
    send(c, [dict(view("anon-77"), profile={"email": "ana@example.gov"})])
    send(c, [FORM])
    jobs = c.store.jobs()
    assert [j["rule"] for j in jobs] == ["apply-help"]
    assert jobs[0]["to"] == "ana@example.gov"
    c.stop()


def test_segment_counts_past_views(tmp_path):
    c = start(tmp_path)
    send(c, [view("v-r1", "/recalls/cribs")])
    reader = profile_of(c, "visitor", "v-r1")
    members = "SELECT profile FROM segment_members WHERE segment = ?"
    assert c.store.query(members, "recall-readers") == []
    assert c.post("/v1/test/clock", {"advance": "2d"}).status == 200
    send(c, [view("v-r1", "/recalls/car-seats")])
    assert c.store.query(members, "recall-readers") == [(reader,)]
    c.stop()
