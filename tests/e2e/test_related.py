"""Related records: dependents and cases, set by events, read by rules."""
import hashlib
import hmac
import json
import os
import urllib.parse

from crierlib import ROOT, Crier, Store, maildir_messages, wait_until

TOKEN = "admin-token-for-related-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
SECRET = "related-case-secret"
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
# The test clock starts at 2026-01-01T00:00:00Z.
CLOCK_START_S = 1767225600
CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; };
            cases: { plugin = "case"; path = "/hooks/case";
                     secret = "%s"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Benefits <benefits@example.gov>"; }; };
rules = (
  { name = "crib-safety"; on = "newsletter.ready";
    when = "any(profile.dependents, age_months(birth_date) < 24)";
    send = { channel = "email"; template = "welcome"; }; },
  { name = "case-open"; on = "check.cases";
    when = "any(profile.cases, status == 'open')";
    send = { channel = "email"; template = "welcome"; }; }
);
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, SECRET, hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def profile_by(c, kind, value):
    r = c.get("/v1/profiles?%s=%s" % (kind, urllib.parse.quote(value)),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"]


def jobs_of(c, rule):
    return [j for j in c.store.jobs() if j["rule"] == rule]


def post_case(c, payload, timestamp):
    """Posts a generic case webhook, signed at `timestamp` seconds."""
    raw = json.dumps(payload).encode()
    mac = hmac.new(SECRET.encode(), b"%d." % timestamp + raw,
                   hashlib.sha256)
    return c.post("/hooks/case", raw, headers={
        "Content-Type": "application/json",
        "X-Crier-Timestamp": str(timestamp),
        "X-Crier-Signature": "sha256=" + mac.hexdigest()})


def test_crib_safety_by_child_age(tmp_path):
    c = start(tmp_path)
    ana = {"email": "ana@example.gov"}
    bo = {"email": "bo@example.gov"}
    send(c, [{"type": "child.added", "profile": ana,
              "related": {"dependents": [
                  {"id": "child-1",
                   "attributes": {"birth_date": "2025-03-01"}}]}},
             {"type": "child.added", "profile": bo,
              "related": {"dependents": [
                  {"id": "child-2",
                   "attributes": {"birth_date": "2023-07-01"}}]}}])
    dependents = profile_by(c, "email", "ana@example.gov")["related"][
        "dependents"]
    assert dependents["child-1"]["attributes"] == {
        "birth_date": "2025-03-01"}
    assert dependents["child-1"]["updated"] == "2026-01-01T00:00:00.000Z"

    # Ana's child is 10 months old, Bo's 30 months.
    send(c, [{"type": "newsletter.ready", "profile": ana},
             {"type": "newsletter.ready", "profile": bo}])
    jobs = jobs_of(c, "crib-safety")
    assert len(jobs) == 1
    assert jobs[0]["to"] == "ana@example.gov"
    outbox = os.path.join(c.workdir, "var", "outbox")
    wait_until(lambda: len(maildir_messages(outbox)) == 1)
    assert maildir_messages(outbox)[0]["To"] == "ana@example.gov"

    # Fifteen months later the child is 25 months old.
    r = c.post("/v1/test/clock", {"now": "2027-04-01T00:00:00Z"})
    assert r.status == 200, r.body
    send(c, [{"type": "newsletter.ready", "profile": ana}])
    assert len(jobs_of(c, "crib-safety")) == 1
    assert c.stop() == 0


def test_remove_and_invalid_related(tmp_path):
    c = start(tmp_path)
    ana = {"email": "ana@example.gov"}
    send(c, [{"type": "child.added", "profile": ana,
              "related": {"dependents": [
                  {"id": "child-1",
                   "attributes": {"birth_date": "2025-03-01"}}]}}])
    send(c, [{"type": "child.removed", "profile": ana,
              "related": {"dependents": [{"id": "child-1",
                                          "remove": True}]}}])
    related = profile_by(c, "email", "ana@example.gov")["related"]
    assert related == {"dependents": {}, "cases": {}}

    for related, field in (
            ({"dependents": [{"attributes": {}}]},
             "related.dependents[0].id"),
            ({"dependents": [{"id": "c", "age": 1}]},
             "related.dependents[0].age"),
            ({"cases": [{"id": "k", "opened_at": "yesterday"}]},
             "related.cases[0].opened_at"),
            ({"pets": []}, "related.pets"),
            ([], "related")):
        r = c.post("/v1/events", {"type": "t", "profile": ana,
                                  "related": related})
        assert r.status == 400, r.body
        assert r.json()["field"] == field
        assert field in r.json()["error"]
    assert c.stop() == 0


def test_case_event_sets_case_record(tmp_path):
    c = start(tmp_path)
    ana = {"email": "ana@example.gov"}
    send(c, [{"type": "check.cases", "profile": ana}])
    assert jobs_of(c, "case-open") == []

    r = post_case(c, {
        "case": {"id": "C-1042", "type": "benefits", "status": "open",
                 "opened_at": "2025-12-30T09:00:00-05:00"},
        "event": "case.opened",
        "person": {"email": "ana@example.gov"},
        "time": "2025-12-30T09:00:00-05:00"}, CLOCK_START_S)
    assert r.status in (200, 202), r.body
    wait_until(c.store.pipeline_done)
    case = profile_by(c, "email", "ana@example.gov")["related"]["cases"][
        "C-1042"]
    assert case["type"] == "benefits"
    assert case["status"] == "open"
    assert case["opened"] == "2025-12-30T14:00:00.000Z"
    assert case["closed"] is None

    send(c, [{"type": "check.cases", "profile": ana}])
    assert len(jobs_of(c, "case-open")) == 1
    assert c.stop() == 0
