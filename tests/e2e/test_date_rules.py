"""Date arithmetic in rules: a renewal date 30 days ahead, read in the
profile's zone or the agency's time_zone, against the test clock."""
import os

from crierlib import ROOT, Crier, Store, run_crier, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

# The test clock starts at 2026-01-01T00:00:00Z, which is still
# 2025-12-31 18:00 in Chicago, the agency's zone.
CONFIG = """
clock = "test";
time_zone = "America/Chicago";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Benefits <benefits@example.gov>"; }; };
attributes: { renewal_date = "date"; timezone = "timezone"; };
programs: { renewals: { }; };
rules = (
  { name = "renewal-soon"; program = "renewals"; on = "visit";
    when = "profile.renewal_date - 30 days <= now()";
    send = { channel = "email"; template = "welcome"; }; }
);
""" % TEMPLATES


def recipients(c):
    rows = c.store.query("SELECT recipient FROM jobs ORDER BY recipient")
    return [r[0] for r in rows]


def visit(email, renewal_date, zone=None):
    attributes = {"renewal_date": renewal_date, "first_name": "Ana"}
    if zone is not None:
        attributes["timezone"] = zone
    return {"type": "visit", "profile": {"email": email},
            "attributes": attributes}


def test_renewal_rule_uses_profile_zone(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        r = c.post("/v1/events", {"events": [
            # 2026-01-20 - 30 days is 2025-12-21: due in any zone.
            visit("soon@example.gov", "2026-01-20"),
            # 2026-03-15 - 30 days is 2026-02-13: not due yet.
            visit("later@example.gov", "2026-03-15"),
            # 2026-01-31 - 30 days is 2026-01-01. Its 00:00 has passed in
            # UTC but not yet in Chicago.
            visit("utc@example.gov", "2026-01-31", "UTC"),
            visit("chicago@example.gov", "2026-01-31"),
            visit("tokyo@example.gov", "2026-01-31", "Asia/Tokyo"),
        ]})
        assert r.status == 202, r.body
        wait_until(c.store.pipeline_done)
        wait_until(lambda: len(recipients(c)) >= 3)
        assert recipients(c) == ["soon@example.gov", "tokyo@example.gov",
                                 "utc@example.gov"]
    finally:
        c.stop()


def test_check_rejects_unknown_time_zone(tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('store: { plugin = "memory"; };\n'
                    '\n'
                    'time_zone = "America/Chicgo";\n')
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert ('%s:3: time_zone: unknown time zone "America/Chicgo"' % conf
            in err + out)
