"""DELETE /v1/profiles/{id}: erasing a profile leaves no trace of it."""
import hashlib
import os
import urllib.parse

from crierlib import (ROOT, Crier, Store, maildir_messages, wait_until)

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
EMAIL = "ana@example.gov"
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

CONFIG = """
clock = "test";
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
programs: { child-safety: { }; };
rules = (
  { name    = "crib-recall";
    program = "child-safety";
    on      = "page_view";
    when    = "event.properties.url ~ '/recalls/cribs'
               && profile.stage == 'awareness'";
    send    = { channel = "email"; template = "welcome"; };
    stage   = "consideration"; }
);
admin: { tokens = [ "sha256:%(digest)s" ]; };
"""


def start(tmp_path):
    config = CONFIG % {"templates": TEMPLATES,
                       "digest": hashlib.sha256(TOKEN.encode()).hexdigest()}
    c = Crier(tmp_path, config).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.outbox = os.path.join(c.workdir, "var", "outbox")
    return c


def page_view(c, case_id):
    r = c.post("/v1/events", {"type": "page_view", "id": case_id,
                              "profile": {"email": EMAIL},
                              "attributes": {"first_name": "Ana"},
                              "properties": {"url": "/recalls/cribs"}})
    assert r.status == 202, r.body


def settle(c):
    """Waits until the pipeline has seen every event and no job is open."""
    wait_until(c.store.pipeline_done)
    wait_until(lambda: all(j["state"] not in ("planned", "claimed",
                                              "sending")
                           for j in c.store.jobs()))


def lookup(c):
    return c.get("/v1/profiles?email=" + urllib.parse.quote(EMAIL),
                 headers=AUTH)


def delete(c, profile_id, headers=AUTH):
    return c.request("DELETE", "/v1/profiles/" + profile_id,
                     headers=headers)


def rows_with(store, text):
    """Lists table.column for every column of every table that contains
    `text`."""
    found = []
    tables = store.query("SELECT name FROM sqlite_master"
                         " WHERE type = 'table'")
    for (table,) in tables:
        columns = store.query("SELECT name FROM pragma_table_info(?)", table)
        for (column,) in columns:
            count = store.query('SELECT count(*) FROM "%s" WHERE'
                                ' CAST("%s" AS TEXT) LIKE ?'
                                % (table, column), "%" + text + "%")
            if count[0][0]:
                found.append("%s.%s" % (table, column))
    return found


def test_erase_leaves_no_trace(tmp_path):
    c = start(tmp_path)
    page_view(c, "case-" + EMAIL)
    settle(c)
    assert len(maildir_messages(c.outbox)) == 1
    profile_id = lookup(c).json()["profile"]["id"]
    assert rows_with(c.store, EMAIL) != []

    r = delete(c, profile_id)
    assert r.status == 200, r.body
    assert r.json() == {"erased": True, "events": 1, "jobs": 1,
                        "suppressed": 0}

    assert lookup(c).status == 404
    assert c.get("/v1/profiles/" + profile_id, headers=AUTH).status == 404
    assert c.get("/v1/profiles/%s/timeline" % profile_id,
                 headers=AUTH).status == 404
    assert rows_with(c.store, EMAIL) == []
    assert c.store.query("SELECT type FROM events") == [("page_view",)]
    assert c.store.query("SELECT count(*) FROM stage_history"
                         " WHERE profile IS NULL") == [(2,)]
    assert [j["state"] for j in c.store.jobs()] == ["sent"]
    assert c.store.query("SELECT count(*) FROM erasures") == [(1,)]

    lines = [line for line in c.log_text().splitlines()
             if "profile erased" in line]
    assert len(lines) == 1
    assert profile_id in lines[0]
    assert "@" not in lines[0]

    # A second erase finds nothing.
    assert delete(c, profile_id).status == 404

    # The sender's id was erased too, so its repeat is a new event, and
    # the address makes a fresh profile.
    page_view(c, "case-" + EMAIL)
    settle(c)
    r = lookup(c)
    assert r.status == 200
    assert r.json()["profile"]["id"] != profile_id
    assert c.stop() == 0


def test_erase_needs_token_and_known_id(tmp_path):
    c = start(tmp_path)
    assert delete(c, "p_1", headers={}).status == 401
    r = delete(c, "p_1")
    assert r.status == 404
    assert r.json()["error"] == "no profile has id p_1"
    assert delete(c, "p_1/timeline").status == 404
    r = c.request("OPTIONS", "/v1/profiles/p_1", headers=AUTH)
    assert r.status == 405
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "DELETE"}
    assert c.stop() == 0
