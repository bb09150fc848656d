"""The product-safety example: a parent registers newborns, and crib,
infant-product and toddler-toy messages go out at 09:00 local time over
two years, each exactly once and in order, with nothing more for a child
whose record was removed. Also: restarts and kill -9 around due times
neither lose nor repeat an occurrence."""
import datetime
import os
import signal
from zoneinfo import ZoneInfo

from crierlib import ROOT, Crier, Store, maildir_messages, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "schedule-templates")
CHICAGO = ZoneInfo("America/Chicago")

CONFIG = """
clock = "test";
time_zone = "America/Chicago";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Safety <safety@example.gov>"; }; };
attributes: { timezone = "timezone"; };
triggers: {
  api: { plugin = "api"; };
  dates: { plugin = "schedule";
    schedules = (
      { name = "crib-safety"; date = "dependents.birth_date";
        offset = "14 days"; at = "09:00"; catch_up = "14 days"; },
      { name = "infant-products"; date = "dependents.birth_date";
        offset = "4 months"; at = "09:00"; },
      { name = "toddler-1"; date = "dependents.birth_date";
        offset = "1 year"; at = "09:00"; },
      { name = "toddler-2"; date = "dependents.birth_date";
        offset = "2 years"; at = "09:00"; }
    ); };
};
rules = (
  { name = "crib"; on = "date.crib-safety";
    send = { channel = "email"; template = "crib-safety"; }; },
  { name = "infant"; on = "date.infant-products";
    send = { channel = "email"; template = "infant-products"; }; },
  { name = "toddler"; on = [ "date.toddler-1", "date.toddler-2" ];
    send = { channel = "email"; template = "toddler-toys"; }; }
);
""" % TEMPLATES


def ms(text):
    return int(datetime.datetime.fromisoformat(
        text.replace("Z", "+00:00")).timestamp() * 1000)


def iso(value):
    return datetime.datetime.fromtimestamp(
        value / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def start(workdir):
    c = Crier(workdir, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def set_clock(c, when):
    r = c.post("/v1/test/clock", {"now": iso(when)})
    assert r.status == 200, r.body


def next_due(c):
    rows = c.store.query("SELECT min(due) FROM schedules")
    return rows[0][0]


def drained(c, now):
    """True when nothing due at `now` is left to fire, every event is
    processed and every due job is handled."""
    due = c.store.query("SELECT count(*) FROM schedules WHERE due <= ?",
                        now)[0][0]
    jobs = c.store.query("SELECT count(*) FROM jobs WHERE due <= ?"
                         " AND state NOT IN ('sent', 'failed', 'dead',"
                         " 'suppressed')", now)[0][0]
    return due == 0 and jobs == 0 and c.store.pipeline_done()


def run_until(c, now, end, step_days=10):
    """Moves the clock from `now` to `end` in steps of at most
    `step_days`, stopping at each due time of the plan on the way."""
    while now < end:
        target = min(now + step_days * 86400000, end)
        due = next_due(c)
        if due is not None and now < due < target:
            target = due
        set_clock(c, target)
        wait_until(lambda: drained(c, target))
        now = target
    return now


def register(c, children):
    r = c.post("/v1/events", {
        "type": "registered", "profile": {"email": "parent@example.gov"},
        "related": {"dependents": children}})
    assert r.status == 202, r.body


def sent(c):
    """(rule, schedule event's time, job due, state) of every job."""
    return c.store.query(
        "SELECT j.rule, json_extract(e.body, '$.properties.record.id'),"
        " json_extract(e.body, '$.properties.schedule'), e.time_ms, j.due,"
        " j.state FROM jobs j JOIN events e ON e.seq = j.event_seq"
        " ORDER BY j.due, j.id")


def local(value):
    return datetime.datetime.fromtimestamp(value / 1000, CHICAGO)


def test_newborn_safety_messages(tmp_path):
    c = start(tmp_path)
    try:
        now = ms("2026-01-01T12:00:00Z")
        set_clock(c, now)
        register(c, [{"id": "ava", "attributes": {"birth_date": "2025-12-28"}},
                     {"id": "ben", "attributes": {"birth_date": "2025-12-30"}}])
        wait_until(c.store.pipeline_done)
        assert c.store.query("SELECT count(*) FROM schedules")[0][0] == 8

        # Midway, the second child's record is removed.
        now = run_until(c, now, ms("2026-06-01T12:00:00Z"))
        register(c, [{"id": "ben", "remove": True}])
        wait_until(c.store.pipeline_done)
        assert c.store.query("SELECT count(*) FROM schedules WHERE record"
                             " = 'dependents/ben'")[0][0] == 0
        run_until(c, now, ms("2028-01-15T12:00:00Z"))

        rows = sent(c)
        assert [(r[0], r[1], r[2]) for r in rows] == [
            ("crib", "ava", "crib-safety"),
            ("crib", "ben", "crib-safety"),
            ("infant", "ava", "infant-products"),
            ("infant", "ben", "infant-products"),
            ("toddler", "ava", "toddler-1"),
            ("toddler", "ava", "toddler-2"),
        ]
        days = [local(r[3]).strftime("%Y-%m-%d %H:%M") for r in rows]
        assert days == ["2026-01-11 09:00", "2026-01-13 09:00",
                        "2026-04-28 09:00", "2026-04-30 09:00",
                        "2026-12-28 09:00", "2027-12-28 09:00"]
        for rule, child, schedule, event_time, due, state in rows:
            assert due == event_time, (rule, child)
            assert state == "sent", (rule, child)

        messages = maildir_messages(os.path.join(c.workdir, "var",
                                                 "outbox"))
        assert len(messages) == 6
        ids = {m["Message-ID"] for m in messages}
        assert len(ids) == 6
        texts = sorted(m.get_body().get_content() for m in messages)
        assert sum("ben" in t for t in texts) == 2
        assert sum("toddler-2" in t for t in texts) == 1
    finally:
        c.stop()


def date_events(c):
    return c.store.query("SELECT type, json_extract(body, '$.properties."
                         "record.id'), time_ms FROM events WHERE type LIKE"
                         " 'date.%' ORDER BY seq")


def test_restart_around_due_time(tmp_path):
    c = start(tmp_path)
    set_clock(c, ms("2026-01-01T12:00:00Z"))
    register(c, [{"id": "ava", "attributes": {"birth_date": "2025-12-28"}}])
    wait_until(c.store.pipeline_done)
    due = next_due(c)
    assert iso(due) == "2026-01-11T15:00:00Z"
    set_clock(c, due - 60000)
    assert c.stop() == 0

    # Restarted a minute before the due time: the clock starts again at
    # the configured instant, so move it past the due time.
    c = start(tmp_path)
    try:
        set_clock(c, due)
        wait_until(lambda: len(date_events(c)) == 1)
        assert c.stop() == 0
        c = start(tmp_path)
        set_clock(c, due + 86400000)
        wait_until(lambda: drained(c, due + 86400000))
        assert [e[:2] for e in date_events(c)] == [("date.crib-safety",
                                                    "ava")]
        assert len(c.store.jobs()) == 1
    finally:
        c.stop()


def test_kill_during_firing(tmp_path):
    """Kills crier while it fires 1,200 due occurrences, more than one
    firing of 500 takes, then checks each fired exactly once after a
    restart."""
    c = start(tmp_path)
    set_clock(c, ms("2026-01-01T12:00:00Z"))
    children = [{"id": "c%03d" % i,
                 "attributes": {"birth_date": "2025-12-28"}}
                for i in range(100)]
    for start_index in range(0, 1200, 100):
        r = c.post("/v1/events", {
            "type": "registered",
            "profile": {"email": "p%d@example.gov" % start_index},
            "related": {"dependents": children}})
        assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)
    total = c.store.query("SELECT count(*) FROM schedules WHERE schedule ="
                          " 'crib-safety'")[0][0]
    assert total == 1200
    set_clock(c, ms("2026-01-11T15:00:00Z"))
    wait_until(lambda: len(date_events(c)) > 0, interval=0.005)
    c.stop(signal.SIGKILL)
    fired_before = len(date_events(c))

    c = start(tmp_path)
    try:
        # The lease of a claim cut short ends after a minute.
        set_clock(c, ms("2026-01-11T15:02:00Z"))
        wait_until(lambda: len(date_events(c)) >= total, timeout=30)
        assert fired_before < total
        wait_until(c.store.pipeline_done)
        events = c.store.query("SELECT json_extract(body, '$.profile_id'),"
                               " json_extract(body, '$.properties.record."
                               "id') FROM events WHERE type ="
                               " 'date.crib-safety'")
        assert len(events) == total
        assert len(set(events)) == total
        assert c.store.query("SELECT count(*) FROM schedules WHERE"
                             " schedule = 'crib-safety' AND due IS NOT"
                             " NULL")[0][0] == 0
    finally:
        c.stop()
