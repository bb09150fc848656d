"""Journey cases against the real binary and the test clock.

A wait for a date field and a window is ticked minute by minute. A
five-email series runs across a restart and a crash. The worked
product-safety journey of docs/journeys.md is checked and run."""
import hashlib
import os
import re

from crierlib import ROOT, Crier, Store, maildir_messages, run_crier, \
    wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "journey-templates")
TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}

BASE = """
clock = "test";
time_zone = "America/New_York";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Agency <agency@example.gov>"; }; };
triggers: { api: { plugin = "api"; }; };
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())

FOLLOW_UP = BASE + """
journeys = (
  { name = "follow-up"; on = "signup";
    steps = (
      { name = "two-days"; wait_date = { date = "profile.created";
                                         offset = "2 days"; }; },
      { name = "office"; wait_window = "Sun-Thu 09:00-17:00"; },
      { name = "hello"; send = { channel = "email"; template = "reminder"; }; }
    ); }
);
"""

SERIES = BASE + """
journeys = (
  { name = "series"; on = "signup";
    steps = (
      { name = "day-0"; send = { channel = "email"; template = "series-0"; }; },
      { name = "wait-2"; wait = "2d"; },
      { name = "day-2"; send = { channel = "email"; template = "series-2"; }; },
      { name = "wait-4"; wait = "2d"; },
      { name = "day-4"; send = { channel = "email"; template = "series-4"; }; },
      { name = "wait-6"; wait = "2d"; },
      { name = "day-6"; send = { channel = "email"; template = "series-6"; }; },
      { name = "wait-8"; wait = "2d"; },
      { name = "day-8"; send = { channel = "email"; template = "series-8"; }; }
    ); }
);
"""

MINUTE_MS = 60 * 1000
DAY_MS = 86400 * 1000


def start(tmp_path, config):
    c = Crier(tmp_path, config).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def set_clock(c, now):
    r = c.post("/v1/test/clock", {"now": now})
    assert r.status == 200, r.body


def settle(c):
    wait_until(c.store.pipeline_done)


def signup(c, email):
    r = c.post("/v1/events", {"type": "signup", "profile": {"email": email}})
    assert r.status == 202, r.body


def jobs(c):
    """Returns (rule, template, created ms) of every journey job."""
    return c.store.query("SELECT rule, template, created FROM jobs"
                         " ORDER BY id")


def ms(text):
    import datetime
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(round(t.timestamp() * 1000))


def iso(value):
    import datetime
    t = datetime.datetime.fromtimestamp(value / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (value % 1000)


def test_window_after_signup_minute_ticks(tmp_path):
    # Wed 2026-04-08 12:00 EDT; two days later is Fri 12:00, outside
    # Sun-Thu, so the one message goes on Sun 2026-04-12 09:00 EDT.
    c = start(tmp_path, FOLLOW_UP)
    try:
        signed_up = ms("2026-04-08T16:00:00Z")
        due = ms("2026-04-12T13:00:00Z")
        set_clock(c, iso(signed_up))
        signup(c, "ana@example.gov")
        settle(c)
        now = signed_up
        while now < due - MINUTE_MS:
            now += MINUTE_MS
            set_clock(c, iso(now))
        settle(c)
        assert jobs(c) == []
        now += MINUTE_MS
        set_clock(c, iso(now))
        wait_until(lambda: c.store.query("SELECT state FROM jobs")
                   == [("sent",)])
        # The scheduler keeps ticking through the window and past it.
        while now < due + 8 * 60 * MINUTE_MS:
            now += MINUTE_MS
            set_clock(c, iso(now))
        settle(c)
        assert jobs(c) == [("journey:follow-up/hello", "reminder", due)]
        wait_until(lambda: len(maildir_messages(
            os.path.join(c.workdir, "var", "outbox"))) == 1)
        sent = c.store.query("SELECT state, updated FROM jobs")
        assert sent == [("sent", due)]
    finally:
        c.stop()


def advance(c, now, count):
    """Moves the clock to `now` and waits for `count` jobs."""
    set_clock(c, iso(now))
    wait_until(lambda: len(jobs(c)) == count)
    settle(c)


def test_five_emails_across_restart_and_crash(tmp_path):
    c = start(tmp_path, SERIES)
    day0 = ms("2026-05-04T14:00:00Z")
    try:
        set_clock(c, iso(day0))
        signup(c, "bo@example.gov")
        wait_until(lambda: len(jobs(c)) == 1)
        advance(c, day0 + 2 * DAY_MS, 2)
        advance(c, day0 + 4 * DAY_MS, 3)
        set_clock(c, iso(day0 + 5 * DAY_MS))
        settle(c)
        assert c.stop() == 0

        # The test clock starts again at its start value; the wait of
        # day 6 ends while crier is being brought back.
        c.start()
        advance(c, day0 + 6 * DAY_MS, 4)
        set_clock(c, iso(day0 + 7 * DAY_MS))
        settle(c)
        c.kill()
        c.proc.wait()

        c.start()
        advance(c, day0 + 8 * DAY_MS, 5)
        set_clock(c, iso(day0 + 30 * DAY_MS))
        settle(c)
        assert jobs(c) == [
            ("journey:series/day-%d" % d, "series-%d" % d,
             day0 + d * DAY_MS) for d in (0, 2, 4, 6, 8)]
        keys = c.store.query("SELECT key FROM jobs")
        assert len(set(keys)) == 5
        state = c.store.query("SELECT state, step FROM journeys")
        assert state == [("ended", "day-8")]
    finally:
        c.stop()


def worked_example():
    """Returns the config of the worked journey in docs/journeys.md."""
    with open(os.path.join(ROOT, "docs", "journeys.md")) as f:
        text = f.read()
    section = text.split("## A worked journey: product safety")[1]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_worked_product_safety_journey(tmp_path):
    c = Crier(tmp_path, BASE + worked_example())
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 0, err

    c.start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        set_clock(c, "2026-01-10T15:00:00Z")
        r = c.post("/v1/events", {"type": "newborn.registered",
                                  "profile": {"email": "cy@example.gov"},
                                  "attributes": {
                                      "child_birth_date": "2026-01-10"}})
        assert r.status == 202, r.body
        wait_until(lambda: len(jobs(c)) == 1)
        assert c.store.stage_of("email", "cy@example.gov", "child") == \
            "newborn"
        advance(c, ms("2026-01-24T15:00:00Z"), 2)
        # 09:00 EDT on the day two months after the birth date.
        advance(c, ms("2026-03-10T13:00:00Z"), 3)
        advance(c, ms("2026-07-10T13:00:00Z"), 4)
        # Nine months fall on a Saturday: Monday 09:00 EDT.
        set_clock(c, "2026-10-10T13:00:00Z")
        settle(c)
        assert len(jobs(c)) == 4
        advance(c, ms("2026-10-12T13:00:00Z"), 5)
        advance(c, ms("2027-01-10T14:00:00Z"), 6)
        assert [t for _, t, _ in jobs(c)] == [
            "safe-sleep", "register-crib", "car-seat", "choking",
            "tip-over", "toddler-toys"]
        assert [w for _, _, w in jobs(c)] == [
            ms("2026-01-10T15:00:00Z"), ms("2026-01-24T15:00:00Z"),
            ms("2026-03-10T13:00:00Z"), ms("2026-07-10T13:00:00Z"),
            ms("2026-10-12T13:00:00Z"), ms("2027-01-10T14:00:00Z")]
        assert c.store.stage_of("email", "cy@example.gov", "child") == \
            "toddler"

        # Two matches of one recall and one of another: one weekly
        # digest on Friday 17:00 EST listing each recall once.
        for rid, product in (("r-1", "crib"), ("r-2", "stroller"),
                             ("r-1", "crib")):
            r = c.post("/v1/events", {
                "type": "recall.matched",
                "profile": {"email": "cy@example.gov"},
                "properties": {"recall_id": rid, "product": product,
                               "hazard": "entrapment"}})
            assert r.status == 202, r.body
        settle(c)
        advance(c, ms("2027-01-15T22:00:00Z"), 7)
        outbox = os.path.join(c.workdir, "var", "outbox")
        digests = wait_until(lambda: [
            m for m in maildir_messages(outbox)
            if m["Subject"] == "Product recalls this week"])
        assert len(digests) == 1
        body = digests[0].get_body(("plain",)).get_content()
        assert body.count("crib:") == 1
        assert body.count("stroller:") == 1
    finally:
        c.stop()


GOAL_EXIT = BASE + """
programs: { apply: { }; };
goals = ( { name = "submitted"; program = "apply";
            on = "application.submitted";
            when = "event.properties.complete == true";
            window = "30 days"; } );
journeys = (
  { name = "remind"; on = "application.started";
    exit = { goal = "submitted"; };
    steps = ( { name = "pause"; wait = "3d"; },
              { name = "nudge"; send = { channel = "email";
                                         template = "reminder"; }; } ); }
);
"""


def test_goal_ends_journey(tmp_path):
    c = start(tmp_path, GOAL_EXIT)
    try:
        set_clock(c, "2026-05-04T14:00:00Z")
        for email in ("done@example.gov", "half@example.gov",
                      "late@example.gov"):
            r = c.post("/v1/events", {"type": "application.started",
                                      "profile": {"email": email}})
            assert r.status == 202, r.body
        for email, complete in (("done@example.gov", True),
                                ("half@example.gov", False)):
            r = c.post("/v1/events", {"type": "application.submitted",
                                      "profile": {"email": email},
                                      "properties": {"complete": complete}})
            assert r.status == 202, r.body
        settle(c)
        states = dict(c.store.query(
            "SELECT i.value, j.state FROM journeys j JOIN identities i"
            " ON i.profile = j.profile"))
        assert states == {"done@example.gov": "ended",
                          "half@example.gov": "active",
                          "late@example.gov": "active"}
        set_clock(c, "2026-05-08T00:00:00Z")
        wait_until(lambda: len(jobs(c)) == 2)
        settle(c)
        assert sorted(c.store.query("SELECT recipient FROM jobs")) == [
            ("half@example.gov",), ("late@example.gov",)]
    finally:
        c.stop()
