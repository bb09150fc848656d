"""The schedule trigger and send times in local time, against the test
clock: yearly dates, Feb 29, elapsed and civil send delays, and a date
edited after it was planned."""
import hashlib
import os

from crierlib import ROOT, Crier, Store, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "schedule-templates")

BASE = """
clock = "test";
time_zone = "America/Chicago";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Agency <agency@example.gov>"; }; };
attributes: { enrolled_on = "date"; timezone = "timezone"; };
""" % TEMPLATES

YEARLY = BASE + """
triggers: {
  api: { plugin = "api"; };
  dates: { plugin = "schedule";
    schedules = (
      { name = "enrollment-anniversary"; date = "profile.enrolled_on";
        repeat = "yearly"; at = "10:00"; }
    ); };
};
rules = (
  { name = "anniversary"; on = "date.enrollment-anniversary";
    send = { channel = "email"; template = "reminder"; }; }
);
"""

SEND_TIMES = BASE + """
triggers: { api: { plugin = "api"; }; };
rules = (
  { name = "later"; on = "page_view";
    send = { channel = "email"; template = "reminder"; delay = "22h"; }; },
  { name = "next-day-noon"; on = "page_view";
    send = { channel = "email"; template = "reminder"; at = "12:00";
             delay = "1 day"; }; }
);
"""


def start(tmp_path, config, env=None):
    c = Crier(tmp_path, config, env=env).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def set_clock(c, now):
    r = c.post("/v1/test/clock", {"now": now})
    assert r.status == 200, r.body


def settle(c):
    """Waits until the pipeline has processed every stored event."""
    wait_until(c.store.pipeline_done)


def job_times(c, rule=None):
    """Returns (recipient, due as RFC 3339) of every job, by due time."""
    sql = ("SELECT recipient, strftime('%Y-%m-%dT%H:%M:%SZ', due / 1000,"
           " 'unixepoch') FROM jobs")
    if rule is not None:
        return c.store.query(sql + " WHERE rule = ? ORDER BY due, recipient",
                             rule)
    return c.store.query(sql + " ORDER BY due, recipient")


def enrol(c, email, date, zone="America/New_York"):
    r = c.post("/v1/events", {"type": "signup", "profile": {"email": email},
                              "attributes": {"enrolled_on": date,
                                             "timezone": zone,
                                             "first_name": "Ana"}})
    assert r.status == 202, r.body


def test_send_delay_elapsed_and_local(tmp_path):
    for tz in ("UTC", "America/Chicago"):
        work = tmp_path / tz.replace("/", "-")
        work.mkdir()
        c = start(work, SEND_TIMES, env={"TZ": tz})
        try:
            set_clock(c, "2026-03-07T18:00:00Z")
            r = c.post("/v1/events", {
                "type": "page_view", "time": "2026-03-07T12:00:00-06:00",
                "profile": {"email": "ana@example.gov"},
                "attributes": {"timezone": "America/Chicago"}})
            assert r.status == 202, r.body
            settle(c)
            wait_until(lambda: len(job_times(c)) == 2)
            assert job_times(c, "later") == [
                ("ana@example.gov", "2026-03-08T16:00:00Z")]
            assert job_times(c, "next-day-noon") == [
                ("ana@example.gov", "2026-03-08T17:00:00Z")]
        finally:
            c.stop()


def test_yearly_on_the_day_local(tmp_path):
    c = start(tmp_path, YEARLY)
    try:
        set_clock(c, "2026-01-01T00:00:00Z")
        enrol(c, "march@example.gov", "2024-03-10")
        enrol(c, "leap@example.gov", "2024-02-29")
        settle(c)
        rows = c.store.query("SELECT occurrence, strftime('%Y-%m-%dT%H:%M:"
                             "%SZ', due / 1000, 'unixepoch') FROM schedules"
                             " ORDER BY due")
        assert rows == [("2026-02-28", "2026-02-28T15:00:00Z"),
                        ("2026-03-10", "2026-03-10T14:00:00Z")]

        # Step the clock to instants just before, at and after both dates.
        for now in ("2026-02-27T15:00:00Z", "2026-02-28T14:59:00Z"):
            set_clock(c, now)
        settle(c)
        assert job_times(c) == []
        set_clock(c, "2026-02-28T15:00:00Z")
        wait_until(lambda: len(job_times(c)) == 1)
        for now in ("2026-03-01T15:00:00Z", "2026-03-09T14:00:00Z",
                    "2026-03-10T13:59:00Z"):
            set_clock(c, now)
        settle(c)
        assert len(job_times(c)) == 1
        set_clock(c, "2026-03-10T14:00:00Z")
        wait_until(lambda: len(job_times(c)) == 2)
        for now in ("2026-03-11T14:00:00Z", "2026-06-01T00:00:00Z",
                    "2026-12-31T00:00:00Z"):
            set_clock(c, now)
        settle(c)
        assert job_times(c) == [
            ("leap@example.gov", "2026-02-28T15:00:00Z"),
            ("march@example.gov", "2026-03-10T14:00:00Z")]

        # Each row moved on to its next year's occurrence.
        rows = c.store.query("SELECT occurrence FROM schedules"
                             " ORDER BY due")
        assert rows == [("2027-02-28",), ("2027-03-10",)]
    finally:
        c.stop()


def test_edited_date_replans(tmp_path):
    c = start(tmp_path, YEARLY)
    try:
        set_clock(c, "2026-01-01T00:00:00Z")
        enrol(c, "ana@example.gov", "2024-03-10")
        settle(c)
        enrol(c, "ana@example.gov", "2024-04-20")
        settle(c)
        rows = c.store.query("SELECT occurrence FROM schedules")
        assert rows == [("2026-04-20",)]
        set_clock(c, "2026-03-10T14:00:00Z")
        set_clock(c, "2026-04-01T00:00:00Z")
        settle(c)
        assert job_times(c) == []
        set_clock(c, "2026-04-20T14:00:00Z")
        wait_until(lambda: len(job_times(c)) == 1)
        assert job_times(c) == [("ana@example.gov", "2026-04-20T14:00:00Z")]
    finally:
        c.stop()


ADMIN_TOKEN = "schedule-test-token"

LIFECYCLE = BASE + """
admin: { tokens = [ "sha256:%s" ]; };
triggers: {
  api: { plugin = "api"; };
  dates: { plugin = "schedule";
    schedules = (
      { name = "enrollment-anniversary"; date = "profile.enrolled_on";
        repeat = "yearly"; at = "10:00"; },
      { name = "welcome-day-3"; date = "profile.created";
        offset = "3 days"; },
      { name = "late-enrolment"; date = "profile.enrolled_on";
        offset = "1 month"; at = "09:00"; catch_up = "14 days"; }
    ); };
};
rules = (
  { name = "welcome"; on = "date.welcome-day-3";
    send = { channel = "email"; template = "reminder"; }; }
);
""" % hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()


def profile_id(c, email):
    rows = c.store.query("SELECT profile FROM identities WHERE value = ?",
                         email)
    return rows[0][0]


def test_created_and_catch_up_rows(tmp_path):
    c = start(tmp_path, LIFECYCLE)
    try:
        set_clock(c, "2026-02-10T12:00:00Z")
        # One month after 2026-01-05 is Feb 5, five days ago: within the
        # catch-up. After 2025-12-01 it is Jan 1, past the catch-up.
        enrol(c, "recent@example.gov", "2026-01-05")
        enrol(c, "old@example.gov", "2025-12-01")
        settle(c)
        rows = c.store.query(
            "SELECT i.value, s.schedule, s.occurrence FROM schedules s"
            " JOIN identities i ON i.profile = s.profile"
            " WHERE s.schedule <> 'enrollment-anniversary'"
            " AND s.due IS NOT NULL ORDER BY i.value, s.schedule")
        assert rows == [
            ("old@example.gov", "welcome-day-3", "2026-02-13"),
            ("recent@example.gov", "late-enrolment", "2026-02-05"),
            ("recent@example.gov", "welcome-day-3", "2026-02-13")]
        # The old one's row is kept with no due time, so it never fires.
        assert c.store.query(
            "SELECT s.occurrence FROM schedules s JOIN identities i"
            " ON i.profile = s.profile WHERE i.value = 'old@example.gov'"
            " AND s.schedule = 'late-enrolment' AND s.due IS NULL") == [
            ("2026-01-01",)]

        # The late enrolment fires at the next wake-up; the welcome three
        # days after creation, at the same wall time.
        set_clock(c, "2026-02-10T12:01:00Z")
        wait_until(lambda: c.store.query(
            "SELECT count(*) FROM events WHERE type ="
            " 'date.late-enrolment'")[0][0] == 1)
        set_clock(c, "2026-02-13T12:00:00Z")
        wait_until(lambda: len(job_times(c, "welcome")) == 2)
        assert job_times(c, "welcome") == [
            ("old@example.gov", "2026-02-13T12:00:00Z"),
            ("recent@example.gov", "2026-02-13T12:00:00Z")]
    finally:
        c.stop()


def test_erase_and_merge_leave_no_rows(tmp_path):
    c = start(tmp_path, LIFECYCLE)
    auth = {"Authorization": "Bearer " + ADMIN_TOKEN}
    try:
        set_clock(c, "2026-01-01T00:00:00Z")
        enrol(c, "gone@example.gov", "2024-03-10")
        enrol(c, "into@example.gov", "2024-03-10")
        enrol(c, "from@example.gov", "2024-05-01")
        settle(c)
        gone = profile_id(c, "gone@example.gov")
        into = profile_id(c, "into@example.gov")
        source = profile_id(c, "from@example.gov")
        r = c.request("DELETE", "/v1/profiles/" + gone, headers=auth)
        assert r.status == 200, r.body
        r = c.post("/v1/profiles/%s/merge" % into, {"from": source},
                   headers=auth)
        assert r.status == 200, r.body
        settle(c)
        profiles = {row[0] for row in c.store.query(
            "SELECT profile FROM schedules")}
        assert profiles == {into}
    finally:
        c.stop()


def test_check_names_bad_schedule_key(tmp_path):
    from crierlib import run_crier
    conf = tmp_path / "plugins.conf"
    conf.write_text('store: { plugin = "memory"; };\n'
                    'plugin_dir = "%s";\n'
                    'triggers: { dates: { plugin = "schedule";\n'
                    '  schedules = ( { name = "x"; date = "profile.d";\n'
                    '    at = "09:00"; offset = "6 moons"; } ); }; };\n'
                    % os.path.join(os.environ.get(
                        "CRIER_BUILD", os.path.join(ROOT, "build")),
                        "plugins"))
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert "triggers.dates.schedules[0].offset" in err + out
    assert 'invalid offset "6 moons"' in err + out


NO_SCHEDULES = BASE + """
triggers: { api: { plugin = "api"; }; };
"""


def test_schedule_added_later_plans_stored(tmp_path):
    c = start(tmp_path, NO_SCHEDULES)
    try:
        set_clock(c, "2026-01-01T00:00:00Z")
        enrol(c, "ana@example.gov", "2024-03-10")
        settle(c)
    finally:
        assert c.stop() == 0

    # The schedule comes with a restart: the pass plans the stored
    # profile without any new event. The test clock starts again at
    # 2026-01-01.
    c = Crier(tmp_path, YEARLY)
    c.start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        wait_until(lambda: c.store.query(
            "SELECT occurrence FROM schedules") == [("2026-03-10",)])
        set_clock(c, "2026-03-10T14:00:00Z")
        wait_until(lambda: len(job_times(c)) == 1)
        assert job_times(c) == [("ana@example.gov", "2026-03-10T14:00:00Z")]
        assert c.stop() == 0

        # The same schedules at the next start: no second pass.
        c.start()
        set_clock(c, "2026-03-11T00:00:00Z")
        settle(c)
        log = c.log_text()
        assert log.count("planning every profile again") == 1
        assert len(job_times(c)) == 1
    finally:
        c.stop()
