"""event.source and event.trusted: rules that ignore beacon claims."""
import os

from crierlib import ROOT, Crier, Store, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

CONFIG = """
clock = "test";
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; web: { plugin = "beacon"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "City of Example <alerts@example.gov>"; }; };
rules = (
  { name = "not-from-web"; on = "page_view";
    when = "event.source != 'web'";
    send = { channel = "email"; template = "welcome"; }; },
  { name = "trusted-only"; on = "recall_read";
    when = "event.trusted";
    send = { channel = "email"; template = "welcome"; }; }
);
"""

EMAIL = "ana@example.gov"


def start(tmp_path):
    c = Crier(tmp_path, CONFIG % {"templates": TEMPLATES}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def beacon_hit(c, body):
    r = c.post("/v1/beacon", body)
    assert r.status == 202, r.body


def api_event(c, type_):
    r = c.post("/v1/events", {"type": type_, "profile": {"email": EMAIL},
                              "attributes": {"first_name": "Ana"}})
    assert r.status == 202, r.body


def claim_and_visit(c, type_):
    """Links a visitor to EMAIL with an identify hit, then sends a hit of
    `type_` from that visitor, as any page could."""
    beacon_hit(c, {"visitor": "v-1", "type": "identify",
                   "profile": {"email": EMAIL}})
    beacon_hit(c, {"visitor": "v-1", "type": type_,
                   "url": "https://www.example.gov/recalls/cribs"})
    wait_until(c.store.pipeline_done)


def rules_of_jobs(c):
    return sorted(j["rule"] for j in c.store.jobs())


def test_source_skips_beacon_event(tmp_path):
    c = start(tmp_path)
    claim_and_visit(c, "page_view")
    assert rules_of_jobs(c) == []

    api_event(c, "page_view")
    wait_until(c.store.pipeline_done)
    assert rules_of_jobs(c) == ["not-from-web"]
    assert c.stop() == 0


def test_trusted_false_for_beacon(tmp_path):
    c = start(tmp_path)
    claim_and_visit(c, "recall_read")
    assert rules_of_jobs(c) == []

    api_event(c, "recall_read")
    wait_until(c.store.pipeline_done)
    assert rules_of_jobs(c) == ["trusted-only"]
    assert c.stop() == 0


def test_sender_cannot_set_trusted(tmp_path):
    c = start(tmp_path)
    for member in ("trusted", "source"):
        r = c.post("/v1/events", {"type": "recall_read",
                                  "profile": {"email": EMAIL},
                                  member: True})
        assert r.status == 400, r.body
        assert r.json()["field"] == member
    assert c.stop() == 0
