"""The pipeline logs each merge it commits, with profile ids only."""
import os

from crierlib import Crier, Store, wait_until

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def profile_of(c, kind, value):
    rows = c.store.query("SELECT profile FROM identities WHERE kind = ?"
                         " AND value = ?", kind, value)
    return rows[0][0] if rows else None


def test_merge_logged_with_ids_only(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        send(c, [{"type": "signup", "profile": {"email": "ana@example.gov"}}])
        send(c, [{"type": "page_view", "visitor": "v-77"}])
        visitor = profile_of(c, "visitor", "v-77")
        resident = profile_of(c, "email", "ana@example.gov")
        assert visitor != resident
        send(c, [{"type": "form.submitted", "visitor": "v-77",
                  "profile": {"email": "ana@example.gov"}}])
        lines = [line for line in c.log_text().splitlines()
                 if "profiles merged" in line]
        assert len(lines) == 1, c.log_text()
        assert "from=%s" % visitor in lines[0]
        assert "into=%s" % resident in lines[0]
        assert "merged=1" in lines[0]
        assert "ana@example.gov" not in lines[0]
        assert "v-77" not in lines[0]
    finally:
        c.stop()
