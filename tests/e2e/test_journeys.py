"""Journeys against the real binary and the test clock: a welcome series,
a reminder with a timeout, a restart mid-journey, re-entry policies, an
edit while residents are inside, and GET /v1/profiles/{id}/journeys."""
import hashlib
import os

from crierlib import ROOT, Crier, Store, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "schedule-templates")
TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}

BASE = """
clock = "test";
time_zone = "America/Chicago";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Agency <agency@example.gov>"; }; };
triggers: { api: { plugin = "api"; }; };
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())

SEND = '{ channel = "email"; template = "reminder"; }'

JOURNEYS = BASE + """
journeys = (
  { name = "welcome"; on = "signup";
    steps = (
      { name = "hello"; send = %(send)s; },
      { name = "pause-1"; wait = "3d"; },
      { name = "tips"; send = %(send)s; },
      { name = "pause-2"; wait = "7d"; },
      { name = "last"; send = %(send)s; }
    ); },
  { name = "apply"; on = "application.started"; reentry = "restart";
    steps = (
      { name = "submitted"; wait_event = { on = "application.submitted";
          within = "14d"; timeout = "remind"; }; },
      { name = "done"; exit = true; },
      { name = "remind"; send = %(send)s; }
    ); },
  { name = "nudge"; on = "ping"; reentry = "after_exit";
    steps = (
      { name = "poke"; send = %(send)s; },
      { name = "rest"; wait = "1d"; }
    ); }
);
""" % {"send": SEND}

# The welcome journey after an edit: "tips" and "pause-1" are gone, and
# "pause-2" and "last" stay.
EDITED = BASE + """
journeys = (
  { name = "welcome"; on = "signup";
    steps = (
      { name = "hello"; send = %(send)s; },
      { name = "pause-2"; wait = "7d"; },
      { name = "last"; send = %(send)s; }
    ); }
);
""" % {"send": SEND}

DAY_MS = 86400 * 1000


def start(tmp_path, config=JOURNEYS):
    c = Crier(tmp_path, config).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def set_clock(c, now):
    r = c.post("/v1/test/clock", {"now": now})
    assert r.status == 200, r.body


def settle(c):
    """Waits until the pipeline has processed every stored event."""
    wait_until(c.store.pipeline_done)


def send(c, type_, email, time=None):
    event = {"type": type_, "profile": {"email": email}}
    if time is not None:
        event["time"] = time
    r = c.post("/v1/events", event)
    assert r.status == 202, r.body


def journey_jobs(c, email=None):
    """Returns (rule, recipient) of every journey job, in id order."""
    sql = "SELECT rule, recipient FROM jobs WHERE rule LIKE 'journey:%'"
    if email is not None:
        return c.store.query(sql + " AND recipient = ? ORDER BY id", email)
    return c.store.query(sql + " ORDER BY id")


def advance(c, now, jobs, email=None):
    """Moves the clock to `now` and waits for `jobs` journey jobs."""
    set_clock(c, now)
    wait_until(lambda: len(journey_jobs(c, email)) == jobs)
    settle(c)


def place(c, email, journey):
    """Returns the resident's row of `journey` from the journeys route."""
    pid = c.store.query("SELECT profile FROM identities WHERE value = ?",
                        email)[0][0]
    r = c.get("/v1/profiles/%s/journeys" % pid, headers=AUTH)
    assert r.status == 200, r.body
    body = r.json()
    assert body["profile"] == pid
    rows = [j for j in body["journeys"] if j["journey"] == journey]
    return rows[0] if rows else None


def test_welcome_series_of_three(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-02-01T15:00:00Z")
        send(c, "signup", "ana@example.gov")
        wait_until(lambda: len(journey_jobs(c)) == 1)
        settle(c)
        row = place(c, "ana@example.gov", "welcome")
        assert row["state"] == "active"
        assert row["step"] == "pause-1"
        assert row["waiting"] == "wait"
        assert row["next"] == "tips"
        assert row["next_at"] == "2026-02-04T15:00:00.000Z"

        # Nothing moves before the wait is over.
        set_clock(c, "2026-02-04T14:59:00Z")
        settle(c)
        assert len(journey_jobs(c)) == 1

        advance(c, "2026-02-04T15:00:00Z", 2)
        row = place(c, "ana@example.gov", "welcome")
        assert row["step"] == "pause-2"
        assert row["next_at"] == "2026-02-11T15:00:00.000Z"

        advance(c, "2026-02-11T15:00:01Z", 3)
        assert journey_jobs(c) == [
            ("journey:welcome/hello", "ana@example.gov"),
            ("journey:welcome/tips", "ana@example.gov"),
            ("journey:welcome/last", "ana@example.gov")]
        row = place(c, "ana@example.gov", "welcome")
        assert row["state"] == "ended"
        assert row["step"] == "last"
        keys = [k for (k,) in c.store.query(
            "SELECT key FROM jobs ORDER BY id")]
        assert keys[0].startswith("journey:welcome/hello/")
    finally:
        c.stop()


def test_reminder_stops_or_fires(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-03-01T12:00:00Z")
        send(c, "application.started", "on-time@example.gov")
        send(c, "application.started", "late@example.gov")
        settle(c)
        row = place(c, "late@example.gov", "apply")
        assert row["waiting"] == "wait_event"
        assert row["waiting_for"] == ["application.submitted"]
        assert row["next"] == "done"
        assert row["timeout_next"] == "remind"
        assert row["timeout_at"] == "2026-03-15T12:00:00.000Z"

        set_clock(c, "2026-03-06T12:00:00Z")
        send(c, "application.submitted", "on-time@example.gov")
        settle(c)
        assert place(c, "on-time@example.gov", "apply")["state"] == "ended"

        advance(c, "2026-03-20T00:00:00Z", 1)
        assert journey_jobs(c) == [("journey:apply/remind",
                                    "late@example.gov")]
        assert place(c, "late@example.gov", "apply")["state"] == "ended"
    finally:
        c.stop()


def test_restart_mid_journey(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-02-01T15:00:00Z")
        send(c, "signup", "ana@example.gov")
        wait_until(lambda: len(journey_jobs(c)) == 1)
        advance(c, "2026-02-04T16:00:00Z", 2)
        assert c.stop() == 0

        # The test clock starts again at 2026-01-01 and is moved on.
        c.start()
        set_clock(c, "2026-02-10T00:00:00Z")
        settle(c)
        assert len(journey_jobs(c)) == 2
        row = place(c, "ana@example.gov", "welcome")
        assert row["step"] == "pause-2"
        # A wait counts from when its step ran: 16:00, one hour late.
        assert row["next_at"] == "2026-02-11T16:00:00.000Z"
        advance(c, "2026-02-11T16:00:00Z", 3)
        set_clock(c, "2026-03-01T00:00:00Z")
        settle(c)
        assert len(journey_jobs(c)) == 3
    finally:
        c.stop()


def test_reentry_policies(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-02-01T15:00:00Z")
        # never: a second signup, inside or after the journey, adds
        # nothing.
        send(c, "signup", "ana@example.gov")
        wait_until(lambda: len(journey_jobs(c, "ana@example.gov")) == 1)
        send(c, "signup", "ana@example.gov")
        settle(c)
        advance(c, "2026-02-20T00:00:00Z", 2, "ana@example.gov")
        advance(c, "2026-02-28T00:00:00Z", 3, "ana@example.gov")
        send(c, "signup", "ana@example.gov")
        settle(c)
        assert len(journey_jobs(c, "ana@example.gov")) == 3

        # restart: a new entry replaces the pending wait, so one reminder
        # goes out, 14 days after the second start.
        send(c, "application.started", "bo@example.gov")
        settle(c)
        first = place(c, "bo@example.gov", "apply")["entry"]
        set_clock(c, "2026-03-05T00:00:00Z")
        send(c, "application.started", "bo@example.gov")
        settle(c)
        row = place(c, "bo@example.gov", "apply")
        assert row["entry"] != first
        assert row["timeout_at"] == "2026-03-19T00:00:00.000Z"
        set_clock(c, "2026-03-18T00:00:00Z")
        settle(c)
        assert journey_jobs(c, "bo@example.gov") == []
        advance(c, "2026-03-20T00:00:00Z", 1, "bo@example.gov")

        # after_exit: a ping inside the journey adds nothing, one after
        # its end starts it again.
        send(c, "ping", "cy@example.gov")
        wait_until(lambda: len(journey_jobs(c, "cy@example.gov")) == 1)
        send(c, "ping", "cy@example.gov")
        settle(c)
        assert len(journey_jobs(c, "cy@example.gov")) == 1
        set_clock(c, "2026-03-21T00:00:01Z")
        wait_until(lambda: place(c, "cy@example.gov", "nudge")["state"]
                   == "ended")
        send(c, "ping", "cy@example.gov")
        wait_until(lambda: len(journey_jobs(c, "cy@example.gov")) == 2)
    finally:
        c.stop()


def test_edit_keeps_named_steps(tmp_path):
    c = start(tmp_path)
    try:
        set_clock(c, "2026-02-01T15:00:00Z")
        send(c, "signup", "stays@example.gov")
        wait_until(lambda: len(journey_jobs(c)) == 1)
        advance(c, "2026-02-04T15:00:00Z", 2)
        set_clock(c, "2026-02-05T15:00:00Z")
        send(c, "signup", "removed@example.gov")
        wait_until(lambda: len(journey_jobs(c)) == 3)
        settle(c)
        assert place(c, "stays@example.gov", "welcome")["step"] == "pause-2"
        assert place(c, "removed@example.gov", "welcome")["step"] == \
            "pause-1"
        assert c.stop() == 0

        c = Crier(tmp_path, EDITED)
        c.start()
        c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
        set_clock(c, "2026-02-06T00:00:00Z")
        row = place(c, "removed@example.gov", "welcome")
        assert row["step_removed"] is True
        # The resident on the removed step ends at its wake-up; the one on
        # "pause-2" goes on to "last".
        advance(c, "2026-02-12T00:00:00Z", 4)
        assert journey_jobs(c)[-1] == ("journey:welcome/last",
                                       "stays@example.gov")
        assert place(c, "removed@example.gov", "welcome")["state"] == \
            "ended"
        assert place(c, "stays@example.gov", "welcome")["state"] == "ended"
    finally:
        c.stop()


def test_journeys_route_unknown_profile(tmp_path):
    c = start(tmp_path)
    try:
        r = c.get("/v1/profiles/no-such-id/journeys", headers=AUTH)
        assert r.status == 200, r.body
        assert r.json() == {"profile": "no-such-id", "journeys": []}
        assert c.get("/v1/profiles/x/journeys").status == 401
        assert c.get("/v1/profiles//journeys",
                     headers=AUTH).status == 404
    finally:
        c.stop()


STEPS = BASE + """
attributes: { timezone = "timezone"; };
programs: { lead: { stages = [ "new", "enrolled", "graduated" ]; }; };
rules = (
  { name = "enrol"; program = "lead"; on = "enrolled"; stage = "enrolled"; }
);
segments = ( { name = "lima"; when = "profile.city == 'Lima'"; } );
journeys = (
  { name = "onboard";
    stage_entered = { program = "lead"; stage = "enrolled"; };
    exit = { when = "event.type == 'quit'"; };
    steps = (
      { name = "office"; wait_window = "Sun-Thu 09:00-17:00"; },
      { name = "hi"; send = %(send)s; },
      { name = "check"; branch = { when = "profile.plan == 'gold'";
                                   then = "gold"; }; },
      { name = "basic"; send = %(send)s; },
      { name = "morning"; wait_until = "09:00"; },
      { name = "gold"; stage = { program = "lead"; stage = "graduated"; }; },
      { name = "after"; wait = "30d"; },
      { name = "later"; send = %(send)s; }
    ); },
  { name = "local"; on = "segment.entered";
    when = "event.properties.segment == 'lima'";
    exit = { left_segment = "lima"; };
    steps = ( { name = "rest"; wait = "10d"; },
              { name = "hola"; send = %(send)s; } ); }
);
""" % {"send": SEND}


def enrol(c, email, plan):
    r = c.post("/v1/events", {"type": "enrolled",
                              "profile": {"email": email},
                              "attributes": {"plan": plan,
                                             "timezone": "Asia/Jerusalem"}})
    assert r.status == 202, r.body


def test_steps_branch_window_and_exit(tmp_path):
    c = start(tmp_path, STEPS)
    try:
        # Thursday 10:00 in Jerusalem is inside the window: Bo gets "hi"
        # and, not gold, "basic", then waits for 09:00 the next day.
        set_clock(c, "2026-12-03T08:00:00Z")
        enrol(c, "bo@example.gov", "basic")
        wait_until(lambda: len(journey_jobs(c, "bo@example.gov")) == 2)
        settle(c)
        row = place(c, "bo@example.gov", "onboard")
        assert row["waiting"] == "wait_until"
        assert row["next"] == "gold"
        assert row["next_at"] == "2026-12-04T07:00:00.000Z"

        # Friday is outside Sun-Thu: Ana waits for Sunday 09:00 local.
        set_clock(c, "2026-12-04T10:00:00Z")
        enrol(c, "ana@example.gov", "gold")
        settle(c)
        row = place(c, "ana@example.gov", "onboard")
        assert row["waiting"] == "wait_window"
        assert row["next"] == "hi"
        assert row["next_at"] == "2026-12-06T07:00:00.000Z"
        assert journey_jobs(c, "ana@example.gov") == []
        wait_until(lambda: c.store.stage_of("email", "bo@example.gov",
                                            "lead") == "graduated")

        # Sunday: "hi", then the branch skips "basic" for gold.
        advance(c, "2026-12-06T07:00:00Z", 1, "ana@example.gov")
        wait_until(lambda: c.store.stage_of("email", "ana@example.gov",
                                            "lead") == "graduated")
        assert place(c, "ana@example.gov", "onboard")["step"] == "after"

        # Ana leaves through the exit condition; Bo gets "later".
        send(c, "quit", "ana@example.gov")
        settle(c)
        assert place(c, "ana@example.gov", "onboard")["state"] == "ended"
        advance(c, "2027-01-10T00:00:00Z", 3, "bo@example.gov")
        assert journey_jobs(c, "ana@example.gov") == [
            ("journey:onboard/hi", "ana@example.gov")]
        assert journey_jobs(c, "bo@example.gov")[-1] == (
            "journey:onboard/later", "bo@example.gov")
    finally:
        c.stop()


def test_segment_entry_and_exit(tmp_path):
    c = start(tmp_path, STEPS)
    try:
        set_clock(c, "2026-02-01T00:00:00Z")
        for email in ("stays@example.gov", "moves@example.gov"):
            r = c.post("/v1/events", {"type": "visit",
                                      "profile": {"email": email},
                                      "attributes": {"city": "Lima"}})
            assert r.status == 202, r.body
        settle(c)
        assert place(c, "moves@example.gov", "local")["step"] == "rest"
        r = c.post("/v1/events", {"type": "visit",
                                  "profile": {"email": "moves@example.gov"},
                                  "attributes": {"city": "Cusco"}})
        assert r.status == 202, r.body
        settle(c)
        wait_until(lambda: place(c, "moves@example.gov", "local")["state"]
                   == "ended")
        advance(c, "2026-02-12T00:00:00Z", 1)
        assert journey_jobs(c) == [("journey:local/hola",
                                    "stays@example.gov")]
    finally:
        c.stop()
