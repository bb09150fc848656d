"""Reports: counters kept by the pipeline and the outbox, read by
`crier report` from a known set of events, messages and conversions."""
import csv
import hashlib
import io
import json
import os

from crierlib import ROOT, Crier, Store, run_crier, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
TOKEN = "admin-token-for-report-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}

# The test clock starts at 2026-01-01T00:00:00Z.
CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
programs: { snap-benefits: { }; housing: { }; };
rules = (
  { name    = "snap-invite";
    program = "snap-benefits";
    on      = "page_view";
    when    = "event.properties.url ~ '/snap'";
    send    = { channel = "email"; template = "welcome"; };
    stage   = "consideration"; }
);
goals = (
  { name    = "snap-enrolled";
    program = "snap-benefits";
    on      = "benefit.decided";
    when    = "event.properties.outcome == 'enrolled'";
    window  = "30 days"; }
);
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())

RESIDENTS = ["ana@example.gov", "bo@example.gov", "cy@example.gov",
             "di@example.gov"]


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def settle(c):
    """Waits until the pipeline has seen every event and no job is open."""
    wait_until(c.store.pipeline_done)
    wait_until(lambda: all(j["state"] not in ("planned", "claimed",
                                              "sending")
                           for j in c.store.jobs()))


def event(kind, email, **properties):
    return {"type": kind, "profile": {"email": email},
            "properties": properties}


def job_key(c, email):
    return [j["key"] for j in c.store.jobs() if j["to"] == email][0]


def report(c, *args):
    code, out, err = run_crier("-c", c.conf, "report", *args)
    assert code == 0, err
    return out


def drive(tmp_path):
    """Four residents get the invitation; known opens, clicks and
    decisions follow. Returns the stopped server."""
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    send(c, [event("page_view", e, url="https://example.gov/snap")
             for e in RESIDENTS])
    settle(c)
    assert [j["state"] for j in c.store.jobs()] == ["sent"] * 4

    ana, bo, cy = (job_key(c, e) for e in RESIDENTS[:3])
    send(c, [
        # Ana opens twice (one unique open), a proxy opens Bo's message,
        # and Cy clicks.
        event("email.opened", RESIDENTS[0], message=ana),
        event("email.opened", RESIDENTS[0], message=ana),
        event("email.opened", RESIDENTS[1], message=bo, bot="proxy"),
        event("email.clicked", RESIDENTS[2], message=cy),
        # Ana enrols and Bo is refused, inside the window.
        event("benefit.decided", RESIDENTS[0], outcome="enrolled"),
        event("benefit.decided", RESIDENTS[1], outcome="denied"),
    ])
    # Cy enrols 31 days after the message: outside the window.
    assert c.post("/v1/test/clock", {"advance": "744h"}).status == 200
    send(c, [event("benefit.decided", RESIDENTS[2], outcome="enrolled")])
    assert c.stop() == 0
    return c


def test_report_counts_known_outcomes(tmp_path):
    c = drive(tmp_path)

    rules = json.loads(report(c, "rules", "--json"))
    assert rules == [{
        "rule": "snap-invite", "planned": 4, "sent": 4, "failed": 0,
        "dead": 0, "suppressed": 0, "opened": 1, "opened_bot": 1,
        "clicked": 1, "clicked_bot": 0, "unsubscribed": 0,
        "converted": 1, "delivered": 0, "bounced": 0, "complained": 0}]

    goals = json.loads(report(c, "goals", "--json"))
    assert len(goals) == 1
    assert goals[0]["goal"] == "snap-enrolled"
    assert goals[0]["rule"] == "snap-invite"
    assert goals[0]["conversions"] == 1
    assert goals[0]["sent"] == 4
    assert goals[0]["rate_percent"] == 25.0

    funnel = json.loads(report(c, "funnel", "--program", "snap-benefits",
                               "--json"))
    by_stage = {row["stage"]: row for row in funnel}
    assert [row["stage"] for row in funnel] == [
        "awareness", "consideration", "adoption", "use", "advocacy"]
    assert by_stage["awareness"]["residents"] == 0
    assert by_stage["awareness"]["entered"] == 4
    assert by_stage["awareness"]["median_days"] == 0
    assert by_stage["awareness"]["moved_next"] == 4
    assert by_stage["awareness"]["next_percent"] == 100.0
    assert by_stage["consideration"]["residents"] == 4
    assert by_stage["consideration"]["entered"] == 4
    assert by_stage["consideration"]["moved_next"] == 0
    assert by_stage["consideration"]["next_percent"] == 0.0
    assert by_stage["consideration"]["median_days"] is None
    assert by_stage["adoption"]["next_percent"] is None
    assert by_stage["advocacy"]["moved_next"] is None


def test_report_formats_and_ranges(tmp_path):
    c = drive(tmp_path)

    rows = list(csv.reader(io.StringIO(report(c, "messages", "--csv"))))
    assert rows[0] == ["rule", "template", "channel", "metric", "count"]
    counts = {r[3]: int(r[4]) for r in rows[1:]}
    assert counts["planned"] == 4
    assert counts["converted:snap-enrolled"] == 1

    table = report(c, "rules").splitlines()
    assert table[0].split()[:3] == ["RULE", "PLANNED", "SENT"]
    assert table[1].split()[:3] == ["snap-invite", "4", "4"]

    # Nothing happened in February, and a program without rules has
    # none of them.
    assert json.loads(report(c, "rules", "--since", "2026-02-01",
                             "--json")) == []
    assert json.loads(report(c, "rules", "--program", "housing",
                             "--json")) == []
    one_day = json.loads(report(c, "rules", "--since", "2026-01-01",
                                "--until", "2026-01-01", "--json"))
    assert one_day[0]["sent"] == 4


def test_report_rejects_bad_arguments(tmp_path):
    c = Crier(tmp_path, CONFIG)
    code, _, err = run_crier("-c", c.conf, "report", "--since", "2026-13-01")
    assert code == 64
    assert "invalid date for --since" in err
    code, _, err = run_crier("-c", c.conf, "report", "weekly")
    assert code == 64
    assert "unknown report \"weekly\"" in err


def test_report_route_matches_command(tmp_path):
    c = drive(tmp_path)
    cli = json.loads(report(c, "goals", "--json"))
    c.start()
    try:
        r = c.get("/v1/reports/goals", headers=AUTH)
        assert r.status == 200, r.body
        assert r.json() == {"report": "goals", "rows": cli}
        r = c.get("/v1/reports/rules?since=2026-02-01", headers=AUTH)
        assert r.json()["rows"] == []
        r = c.get("/v1/reports/funnel?program=snap-benefits", headers=AUTH)
        assert len(r.json()["rows"]) == 5
        assert c.get("/v1/reports/goals").status == 401
        r = c.get("/v1/reports/weekly", headers=AUTH)
        assert r.status == 404
        r = c.get("/v1/reports/rules?since=2026-1-1x", headers=AUTH)
        assert r.status == 400
        assert r.json()["field"] == "since"
    finally:
        assert c.stop() == 0


EXPERIMENT = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
programs: { snap-benefits: { }; };
rules = (
  { name     = "snap-invite";
    program  = "snap-benefits";
    on       = "page_view";
    send     = { channel = "email"; };
    variants = ( { template = "welcome"; weight = 1; } );
    holdout  = 50; }
);
goals = (
  { name = "snap-enrolled"; program = "snap-benefits";
    on = "benefit.decided"; window = "30 days"; }
);
""" % TEMPLATES


def expected_cell(rule, profile_id, holdout):
    """The cell crier assigns: the first 53 of the top 64 bits of
    SHA-256("<rule>/<profile id>") as a fraction of one."""
    digest = hashlib.sha256(("%s/%s" % (rule, profile_id)).encode()).digest()
    point = (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)
    return "(holdout)" if point < holdout / 100.0 else "welcome"


def test_experiment_cells_and_conversions(tmp_path):
    c = Crier(tmp_path, EXPERIMENT).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    emails = ["r%02d@example.gov" % i for i in range(30)]
    send(c, [event("page_view", e) for e in emails])
    settle(c)
    rows = c.store.query("SELECT j.template, j.state, i.profile FROM jobs j"
                         " JOIN identities i ON i.value = j.recipient"
                         " ORDER BY j.id")
    assert len(rows) == 30
    cells = {"(holdout)": 0, "welcome": 0}
    for template, state, profile in rows:
        assert template == expected_cell("snap-invite", profile, 50)
        assert state == ("suppressed" if template == "(holdout)"
                         else "sent")
        cells[template] += 1
    assert cells["(holdout)"] > 0
    assert cells["welcome"] > 0
    # Nothing of the holdout reached the outbox.
    outbox = os.path.join(c.workdir, "var", "outbox", "new")
    assert len(os.listdir(outbox)) == cells["welcome"]

    # Every third resident enrols: conversions of both cells count.
    converted = {"(holdout)": 0, "welcome": 0}
    for n, (template, _, _) in enumerate(rows):
        if n % 3 == 0:
            converted[template] += 1
    send(c, [event("benefit.decided", emails[n]) for n in range(0, 30, 3)])
    assert c.stop() == 0

    table = json.loads(report(c, "experiments", "--json"))
    assert [row["cell"] for row in table] == ["(holdout)", "welcome"]
    holdout, welcome = table
    assert holdout["assigned"] == cells["(holdout)"]
    assert holdout["conversions"] == converted["(holdout)"]
    assert holdout["note"] == "baseline"
    assert welcome["assigned"] == cells["welcome"]
    assert welcome["conversions"] == converted["welcome"]
    assert welcome["note"] == "sample too small"
    rate = converted["welcome"] / cells["welcome"]
    base = converted["(holdout)"] / cells["(holdout)"]
    assert abs(welcome["difference_points"] - 100 * (rate - base)) < 1e-9


def metric_lines(c):
    r = c.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.body.decode() if isinstance(r.body, bytes) else r.body
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return text, values


def test_metrics_count_events_and_sends(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    send(c, [event("page_view", e, url="https://example.gov/snap")
             for e in RESIDENTS])
    settle(c)
    r = c.post("/v1/events", {"events": [{"type": ""}]})
    assert r.status == 400
    text, values = metric_lines(c)
    assert values['crier_events_accepted_total{trigger="api"}'] == 4
    assert values['crier_events_rejected_total{trigger="api"}'] == 1
    assert values['crier_jobs{state="sent"}'] == 4
    assert values['crier_send_seconds_count{channel="email"}'] == 4
    assert values['crier_send_seconds_bucket{channel="email",le="+Inf"}'] \
        == 4
    assert values['crier_store_seconds_count{op="append"}'] >= 1
    assert values['crier_store_seconds_count{op="commit"}'] >= 1
    assert "# TYPE crier_send_seconds histogram" in text
    assert "# TYPE crier_events_accepted_total counter" in text
    assert c.stop() == 0


JOURNEY_CONFIG = CONFIG.replace("rules = (", """journeys = (
  { name = "onboard"; program = "snap-benefits"; on = "signup";
    steps = (
      { name = "hello"; send = { channel = "email"; template = "welcome"; }; },
      { name = "rest"; wait = "2d"; },
      { name = "remind"; send = { channel = "email"; template = "welcome"; }; }
    ); }
);
rules = (""")


def test_goal_credits_last_journey_message(tmp_path):
    """A goal of the journey's program credits the journey's last message
    within the window, under the rule name journey:<journey>/<step>."""
    c = Crier(tmp_path, JOURNEY_CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    send(c, [event("signup", e) for e in RESIDENTS[:2]])
    settle(c)
    assert c.post("/v1/test/clock", {"advance": "49h"}).status == 200
    wait_until(lambda: len(c.store.jobs()) == 4)
    settle(c)
    jobs = c.store.jobs()
    assert sorted(j["rule"] for j in jobs) == [
        "journey:onboard/hello", "journey:onboard/hello",
        "journey:onboard/remind", "journey:onboard/remind"]
    assert {r[0] for r in c.store.query("SELECT program FROM jobs")} == {
        "snap-benefits"}
    # Ana enrols after both messages: the reminder gets the conversion.
    send(c, [event("benefit.decided", RESIDENTS[0], outcome="enrolled")])
    assert c.stop() == 0

    goals = json.loads(report(c, "goals", "--json"))
    by_rule = {g["rule"]: g for g in goals}
    assert by_rule["journey:onboard/remind"]["conversions"] == 1
    assert by_rule["journey:onboard/remind"]["sent"] == 2
    assert by_rule["journey:onboard/remind"]["rate_percent"] == 50.0
    assert by_rule.get("journey:onboard/hello", {"conversions": 0})[
        "conversions"] == 0
    rules = json.loads(report(c, "rules", "--program", "snap-benefits",
                              "--json"))
    by_rule = {r["rule"]: r for r in rules}
    assert by_rule["journey:onboard/remind"]["converted"] == 1
    assert by_rule["journey:onboard/hello"]["converted"] == 0
    assert json.loads(report(c, "rules", "--program", "housing",
                             "--json")) == []
