"""Retention: old events of configured types leave the store."""
import os

import pytest

from crierlib import Crier, Store, run_crier, wait_until

CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
retention = (
  { type = "page_view"; keep = "90d"; },
  { type = "case.*"; keep = "730d"; }
);
"""


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def post(c, kind, email="ana@example.gov"):
    r = c.post("/v1/events", {"type": kind, "profile": {"email": email}})
    assert r.status == 202


def types(c):
    return [row[0] for row in
            c.store.query("SELECT type FROM events ORDER BY seq")]


def advance(c, duration):
    assert c.post("/v1/test/clock", {"advance": duration}).status == 200


def test_old_page_views_expire_and_others_stay(tmp_path):
    c = start(tmp_path)
    post(c, "page_view")
    post(c, "signup")
    post(c, "case.opened")
    wait_until(c.store.pipeline_done)
    advance(c, "48h")
    post(c, "page_view", email="ben@example.gov")
    wait_until(c.store.pipeline_done)
    assert types(c) == ["page_view", "signup", "case.opened", "page_view"]

    # 91 days after the first events: only the first page view is older
    # than 90 days, and signup matches no entry.
    advance(c, "2136h")
    wait_until(lambda: types(c) == ["signup", "case.opened", "page_view"])
    wait_until(lambda: "deleted=1" in c.log_text())
    assert "events expired" in c.log_text()
    assert c.stop() == 0


@pytest.mark.parametrize("entry, message", [
    ('{ type = "page_view"; }', "retention[0].keep: missing"),
    ('{ type = "page_view"; keep = "5"; }',
     "retention[0].keep: must be a duration of at least 1 hour"),
    ('{ type = "page_view"; keep = "59m"; }',
     "retention[0].keep: must be a duration of at least 1 hour"),
    ('{ type = "page_view"; keep = "90d"; days = 3; }',
     "retention[0].days: unknown setting"),
    ('{ type = "*"; keep = "90d"; }', "retention[0].type: must be"),
])
def test_check_rejects_bad_entry(tmp_path, entry, message):
    c = Crier(tmp_path, 'store: { plugin = "memory"; };\n'
              'retention = (\n  %s\n);\n' % entry)
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 2
    assert "plugins.conf:6: " + message in err, err


def test_check_rejects_overlapping_entries(tmp_path):
    c = Crier(tmp_path, 'store: { plugin = "memory"; };\n'
              'retention = (\n  { type = "case.*"; keep = "90d"; },\n'
              '  { type = "case.updated"; keep = "2d"; }\n);\n')
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 2
    assert ('plugins.conf:7: retention[1].type: "case.updated" overlaps'
            ' retention[0]') in err, err
