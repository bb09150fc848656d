"""Anonymous to known: a visitor's profile merges into the resident's."""
import os

from crierlib import ROOT, Crier, Store, maildir_messages, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Benefits <benefits@example.gov>"; }; };
programs: { snap: { }; };
rules = (
  { name = "apply-page"; program = "snap"; on = "page_view";
    when = "event.properties.url ~ '^/benefits/snap/apply'
            && profile.stage == 'awareness'";
    stage = "consideration"; },
  { name = "welcome-new"; program = "snap"; on = "form.submitted";
    when = "profile.stage == 'awareness' || profile.stage == 'consideration'";
    send = { channel = "email"; template = "welcome"; };
    stage = "adoption"; },
  { name = "mark-use"; program = "snap"; on = "benefit.used";
    stage = "use"; }
);
""" % TEMPLATES


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


def events_of(c, profile):
    return c.store.query("SELECT type FROM events WHERE profile = ?"
                         " ORDER BY seq", profile)


def view(visitor, url="/benefits/snap/apply"):
    return {"type": "page_view", "visitor": visitor,
            "properties": {"url": url}}


def test_visitor_merges_into_known_resident(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "profile": {"email": "ana@example.gov"},
              "attributes": {"first_name": "Ana"}},
             view("v-ana", "/benefits/snap/apply"),
             ])
    known = profile_of(c, "email", "ana@example.gov")
    send(c, [dict(view("v-ana"), profile={"email": "ana@example.gov"})])
    assert c.store.stage_of("email", "ana@example.gov",
                            "snap") == "consideration"

    # A fresh browser: anonymous views, then the form with the email.
    send(c, [view("anon-77") for _ in range(3)])
    anon = profile_of(c, "visitor", "anon-77")
    assert anon is not None and anon != known
    send(c, [{"type": "form.submitted", "visitor": "anon-77",
              "profile": {"email": "ana@example.gov"}}])

    assert profile_of(c, "visitor", "anon-77") == known
    assert c.store.query("SELECT count(*) FROM profiles WHERE id = ?",
                         anon)[0][0] == 0
    types = [t for (t,) in events_of(c, known)]
    assert types.count("page_view") == 5
    assert types[-1] == "form.submitted"
    assert events_of(c, anon) == []
    # Every message went to the resident's address, none to the visitor.
    for job in c.store.jobs():
        assert job["to"] == "ana@example.gov"
    c.stop()


def test_known_profile_survives_merge(tmp_path):
    c = start(tmp_path)
    history = [{"type": "signup", "profile": {"email": "bo@example.gov"}}]
    history += [{"type": "benefit.used", "profile": {"email": "bo@example.gov"},
                 "properties": {"n": i}} for i in range(39)]
    send(c, history)
    known = profile_of(c, "email", "bo@example.gov")
    assert c.store.stage_of("email", "bo@example.gov", "snap") == "use"

    send(c, [view("fresh-1"), view("fresh-1")])
    assert c.store.stage_of("visitor", "fresh-1", "snap") == "consideration"
    send(c, [{"type": "form.submitted", "visitor": "fresh-1",
              "profile": {"email": "bo@example.gov"}}])

    assert profile_of(c, "email", "bo@example.gov") == known
    assert profile_of(c, "visitor", "fresh-1") == known
    # The known profile keeps its stage; the visitor's does not win.
    assert c.store.stage_of("email", "bo@example.gov", "snap") == "use"
    assert len(events_of(c, known)) == 40 + 2 + 1
    # No welcome for new residents: Bo is not new.
    assert [j for j in c.store.jobs() if j["rule"] == "welcome-new"] == []
    assert maildir_messages(os.path.join(c.workdir, "var", "outbox")) == []
    c.stop()


def test_merge_in_one_batch(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "profile": {"email": "cy@example.gov"}}])
    known = profile_of(c, "email", "cy@example.gov")
    # The visitor's first views and the form arrive in one batch.
    send(c, [view("v-cy"), view("v-cy"),
             {"type": "form.submitted", "visitor": "v-cy",
              "profile": {"email": "cy@example.gov"}}])
    assert profile_of(c, "visitor", "v-cy") == known
    assert len(events_of(c, known)) == 4
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 1
    c.stop()


def test_shared_browser_never_joins_two_residents(tmp_path):
    c = start(tmp_path)
    # Gina has a profile; Hal then Gina use one browser (visitor v-g1).
    send(c, [{"type": "signup", "profile": {"email": "gina@example.com"}}])
    gina = profile_of(c, "email", "gina@example.com")
    send(c, [view("v-g1")])
    send(c, [{"type": "form.submitted", "visitor": "v-g1",
              "profile": {"email": "hal@example.com"}}])
    hal = profile_of(c, "email", "hal@example.com")
    assert profile_of(c, "visitor", "v-g1") == hal
    send(c, [{"type": "form.submitted", "visitor": "v-g1",
              "profile": {"email": "gina@example.com"}}])
    # Hal's profile is known: it stays, with the visitor id.
    assert profile_of(c, "email", "hal@example.com") == hal
    assert profile_of(c, "email", "gina@example.com") == gina
    assert hal != gina
    assert c.store.query("SELECT count(*) FROM merges")[0][0] == 0
    c.stop()


def test_known_visitor_does_not_take_new_email(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "visitor": "v-e1",
              "profile": {"email": "eve@example.com"}}])
    eve = profile_of(c, "email", "eve@example.com")
    send(c, [{"type": "signup", "visitor": "v-e1",
              "profile": {"email": "frank@example.com"}}])
    frank = profile_of(c, "email", "frank@example.com")
    assert frank is not None and frank != eve
    assert profile_of(c, "visitor", "v-e1") == eve
    # In one batch too.
    send(c, [{"type": "signup", "visitor": "v-b3",
              "profile": {"email": "new@example.com"}},
             {"type": "signup", "visitor": "v-b3",
              "profile": {"email": "zoe@example.com"}}])
    assert (profile_of(c, "email", "new@example.com")
            != profile_of(c, "email", "zoe@example.com"))
    c.stop()
