"""Operations: the emergency stop, /readyz, the audit log, the log file's
reopen on SIGUSR1 and `crier backup` while crier serves."""
import fcntl
import hashlib
import os
import signal
import sqlite3
import subprocess
import threading
import time

from crierlib import (BINARY, ROOT, Crier, Store, maildir_messages,
                      run_crier, wait_until)

TOKEN = "admin-token-for-operations-tests"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
AUTH = {"Authorization": "Bearer " + TOKEN}
TOKEN_NAME = "sha256:" + DIGEST[:12]
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")

# Two Maildir email channels, so that pausing one leaves the other.
CONFIG = """
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "Benefits <benefits@example.gov>"; };
  letters: { plugin = "email"; outbox = "var/letters";
             from = "Benefits <benefits@example.gov>"; };
};
delivery: { poll = "100ms"; max_in_flight = 1; };
rules = (
  { name = "low"; on = "notice"; priority = 0;
    send = { channel = "email"; template = "welcome"; }; },
  { name = "high"; on = "notice"; priority = 10;
    send = { channel = "email"; template = "welcome"; }; },
  { name = "letter"; on = "notice";
    send = { channel = "letters"; template = "welcome"; }; }
);
admin: { tokens = [ "sha256:%s" ]; };
%s
"""


def start(tmp_path, extra=""):
    c = Crier(tmp_path, CONFIG % (TEMPLATES, DIGEST, extra)).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def mails(c, folder="outbox"):
    return maildir_messages(os.path.join(c.workdir, "var", folder))


def jobs_of(c, rule):
    return [j for j in c.store.jobs() if j["rule"] == rule]


def notice(c, email):
    r = c.post("/v1/events", {"events": [
        {"type": "notice", "profile": {"email": email}}]})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def test_pause_channel_holds_across_restart(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/admin/pause", {"channel": "email"}, headers=AUTH)
    assert r.status == 200, r.body
    assert r.json()["paused"] == "channel:email"
    assert r.json()["changed"] is True

    notice(c, "ana@example.gov")
    # The other channel is not paused, so its letter goes out.
    wait_until(lambda: len(mails(c, "letters")) == 1)
    time.sleep(0.5)
    assert mails(c) == []
    assert {j["state"] for j in jobs_of(c, "low") + jobs_of(c, "high")} \
        == {"planned"}

    # The pause is in the store, so a restart does not resume it.
    assert c.stop() == 0
    c.start()
    listed = c.get("/v1/admin/pause", headers=AUTH).json()["pauses"]
    assert [(p["scope"], p["name"], p["by"]) for p in listed] == \
        [("channel", "email", TOKEN_NAME)]
    time.sleep(0.5)
    assert mails(c) == []

    r = c.post("/v1/admin/resume", {"channel": "email"}, headers=AUTH)
    assert r.status == 200, r.body
    assert r.json()["resumed"] == "channel:email"
    assert r.json()["pauses"] == []
    wait_until(lambda: len(mails(c)) == 2)
    # One job in flight at a time, so the log shows the claim order: the
    # higher priority first.
    sent = [line.split(" rule=")[1].split()[0]
            for line in c.log_text().splitlines()
            if " message sent " in line and "rule=letter" not in line]
    assert sent == ["high", "low"]
    assert c.stop() == 0


def test_pause_all_then_resume(tmp_path):
    c = start(tmp_path)
    assert c.post("/v1/admin/pause", {}, headers=AUTH).status == 200
    notice(c, "ben@example.gov")
    time.sleep(0.5)
    assert mails(c) == []
    assert mails(c, "letters") == []

    # Resuming a channel does not lift the pause of everything.
    r = c.post("/v1/admin/resume", {"channel": "letters"}, headers=AUTH)
    assert r.json()["changed"] is False
    time.sleep(0.3)
    assert mails(c, "letters") == []

    assert c.post("/v1/admin/resume", {}, headers=AUTH).status == 200
    wait_until(lambda: len(mails(c)) == 2 and len(mails(c, "letters")) == 1)
    assert c.stop() == 0


def test_pause_rejects_bad_bodies(tmp_path):
    c = start(tmp_path)
    cases = [
        ({"channel": "fax"}, "channel"),
        ({"channel": "email", "program": "cases"}, "program"),
        ({"rule": "low"}, "rule"),
        ({"channel": "email", "rule": "low"}, "rule"),
        ({"program": ""}, "program"),
        ("[1]", None),
    ]
    for body, field in cases:
        r = c.post("/v1/admin/pause", body, headers=AUTH)
        assert r.status == 400, body
        assert r.json().get("field") == field, body
    assert c.post("/v1/admin/pause", {}).status == 401
    assert c.get("/v1/admin/pause", headers=AUTH).json()["pauses"] == []
    assert c.stop() == 0


def test_pause_program(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/admin/pause", {"program": "cases"}, headers=AUTH)
    assert r.status == 200
    assert r.json()["pauses"][0]["name"] == "cases"
    assert r.json()["pauses"][0]["scope"] == "program"
    # These rules belong to no program, so they still send.
    notice(c, "cy@example.gov")
    wait_until(lambda: len(mails(c)) == 2)
    assert c.stop() == 0


def test_readyz_ready_and_store_blocked(tmp_path):
    c = start(tmp_path)
    r = c.get("/readyz")
    assert r.status == 200
    assert r.json() == {"status": "ready"}

    # Locks on every read slot of the WAL index, taken by this process,
    # keep the store from starting a read, so the readiness read fails or
    # times out. SQLite's WAL locks are fcntl locks on bytes 120 to 127 of
    # the -shm file.
    shm = os.open(os.path.join(c.workdir, "var", "crier.db-shm"), os.O_RDWR)
    fcntl.lockf(shm, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)
    try:
        r = c.get("/readyz")
        assert r.status == 503
        assert r.json()["status"] == "not ready"
        assert r.json()["reasons"][0].startswith("store: ")
        assert c.get("/healthz").status == 200
    finally:
        fcntl.lockf(shm, fcntl.LOCK_UN, 8, 120)
        os.close(shm)
    wait_until(lambda: c.get("/readyz").status == 200)
    assert c.stop() == 0


def test_audit_log_records_admin_actions(tmp_path):
    c = start(tmp_path)
    assert c.post("/v1/admin/pause", {"channel": "letters"},
                  headers=AUTH).status == 200
    assert c.post("/v1/admin/resume", {"channel": "letters"},
                  headers=AUTH).status == 200
    assert c.request("DELETE", "/v1/profiles/p_missing",
                     headers=AUTH).status == 404
    # Reads and rejected tokens are not admin actions.
    c.get("/v1/admin/pause", headers=AUTH)
    c.post("/v1/admin/pause", {}, headers={"Authorization": "Bearer no"})

    wait_until(lambda: len(c.get("/v1/admin/audit",
                                 headers=AUTH).json()["entries"]) == 3)
    r = c.get("/v1/admin/audit", headers=AUTH)
    assert r.status == 200, r.body
    entries = r.json()["entries"]
    assert [(e["action"], e["target"], e["result"]) for e in entries] == [
        ("DELETE /v1/profiles/{id}", "p_missing", 404),
        ("POST /v1/admin/resume", "channel:letters", 200),
        ("POST /v1/admin/pause", "channel:letters", 200),
    ]
    assert {e["token"] for e in entries} == {TOKEN_NAME}
    assert entries[0]["time"].endswith("Z")
    assert TOKEN not in c.log_text()

    page = c.get("/v1/admin/audit?limit=2", headers=AUTH).json()
    assert len(page["entries"]) == 2
    rest = c.get("/v1/admin/audit?limit=2&before=%d" % page["next"],
                 headers=AUTH).json()
    assert [e["action"] for e in rest["entries"]] == ["POST /v1/admin/pause"]
    assert rest["next"] is None

    only = c.get("/v1/admin/audit?action=POST%20/v1/admin/resume",
                 headers=AUTH).json()["entries"]
    assert [e["target"] for e in only] == ["channel:letters"]
    assert c.get("/v1/admin/audit?since=2000-01-01T00:00:00Z&until="
                 "2000-01-02T00:00:00Z", headers=AUTH).json()["entries"] \
        == []
    assert c.get("/v1/admin/audit?limit=0", headers=AUTH).status == 400
    assert c.get("/v1/admin/audit?colour=red", headers=AUTH).status == 400
    assert c.get("/v1/admin/audit").status == 401

    # Erasing a resident leaves the audit log as it was, plus the erase.
    notice(c, "dee@example.gov")
    profile = c.get("/v1/profiles?email=dee@example.gov",
                    headers=AUTH).json()["profile"]["id"]
    assert c.request("DELETE", "/v1/profiles/" + profile,
                     headers=AUTH).status == 200
    # The entry is written as the response goes out, so it may trail it.
    after = wait_until(lambda: [e for e in [c.get(
        "/v1/admin/audit", headers=AUTH).json()["entries"]]
        if len(e) == 4])[0]
    assert after[0]["target"] == profile
    assert after[1:] == entries
    assert c.stop() == 0


def test_audit_filters_checked(tmp_path):
    c = start(tmp_path)
    try:
        assert c.post("/v1/admin/pause", {"channel": "letters"},
                      headers=AUTH).status == 200
        wait_until(lambda: len(c.get("/v1/admin/audit",
                                     headers=AUTH).json()["entries"]) == 1)
        cases = [
            ("token=" + TOKEN_NAME[len("sha256:"):], "token"),
            ("token=sha256:xyz", "token"),
            ("token=%s&token=%s" % (TOKEN_NAME, TOKEN_NAME), "token"),
            ("limit=1&limit=2", "limit"),
            ("since=1&since=2", "since"),
            ("since=99999999999999999999", "since"),
            ("since=-5", "since"),
            ("until=1970-01-01T00:00:00Z&until=1", "until"),
            ("before=99999999999999999999", "before"),
            ("action=", "action"),
        ]
        for query, field in cases:
            r = c.get("/v1/admin/audit?" + query, headers=AUTH)
            assert r.status == 400, query
            assert r.json()["field"] == field, query
        r = c.get("/v1/admin/audit?token=" + TOKEN_NAME, headers=AUTH)
        assert r.status == 200
        assert len(r.json()["entries"]) == 1
    finally:
        c.stop()


def test_log_file_reopen_loses_nothing(tmp_path):
    c = start(tmp_path, 'log_file = "var/log/crier.log";')
    path = os.path.join(c.workdir, "var", "log", "crier.log")
    wait_until(lambda: os.path.exists(path))
    total = 60

    def actions():
        for i in range(total):
            body = {"channel": "letters"}
            route = "/v1/admin/pause" if i % 2 == 0 else "/v1/admin/resume"
            assert c.post(route, body, headers=AUTH).status == 200

    worker = threading.Thread(target=actions)
    worker.start()
    time.sleep(0.05)
    os.rename(path, path + ".1")
    c.proc.send_signal(signal.SIGUSR1)
    worker.join()
    wait_until(lambda: os.path.exists(path) and
               "log file reopened" in open(path).read())

    def count():
        lines = 0
        for name in (path + ".1", path):
            with open(name) as f:
                lines += sum(1 for line in f if " admin action " in line)
        return lines

    wait_until(lambda: count() == total)
    # A new action after the reopen lands in the new file.
    c.post("/v1/admin/pause", {"channel": "letters"}, headers=AUTH)
    wait_until(lambda: " admin action " in open(path).read())
    assert c.stop() == 0


def test_backup_during_load_restores(tmp_path):
    work = tmp_path / "live"
    work.mkdir()
    c = start(work)
    acked = []
    stop = threading.Event()
    backup_started = threading.Event()
    before_backup = []

    def load():
        # Bounded: at most 60 batches of 20 events.
        for batch in range(60):
            if stop.is_set():
                break
            events = [{"type": "visit", "id": "e-%d-%d" % (batch, i),
                       "profile": {"email": "r%d@example.gov" % i}}
                      for i in range(20)]
            r = c.post("/v1/events", {"events": events})
            assert r.status == 202, r.body
            ids = [e["id"] for e in events]
            acked.extend(ids)
            if not backup_started.is_set():
                before_backup.extend(ids)

    worker = threading.Thread(target=load)
    worker.start()
    wait_until(lambda: len(acked) >= 200)
    backup_started.set()
    copy = os.path.join(str(tmp_path), "copy.db")
    code, out, err = run_crier("-c", c.conf, "backup", copy)
    stop.set()
    worker.join()
    assert code == 0, err
    assert out.startswith("backup written: " + copy)
    # Residents' data: readable by the owner only, whatever the umask.
    assert os.stat(copy).st_mode & 0o777 == 0o600

    db = sqlite3.connect(copy)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in db.execute("SELECT ext_id FROM events")}
    db.close()
    assert set(before_backup) <= stored
    assert c.stop() == 0

    # Restore: the copy becomes the database of a new crier.
    restored = tmp_path / "restored"
    (restored / "var").mkdir(parents=True)
    os.rename(copy, str(restored / "var" / "crier.db"))
    r2 = start(restored)
    assert r2.get("/readyz").status == 200
    ids = {row[0] for row in r2.store.query("SELECT ext_id FROM events")}
    assert set(before_backup) <= ids
    assert r2.stop() == 0


def test_backup_refuses_existing_file_and_memory_store(tmp_path):
    c = Crier(tmp_path, CONFIG % (TEMPLATES, DIGEST, ""))
    existing = os.path.join(str(tmp_path), "taken.db")
    open(existing, "w").close()
    code, out, err = run_crier("-c", c.conf, "backup", existing)
    assert code == 1
    assert "taken.db exists; give a new file name" in err

    memory = tmp_path / "memory"
    memory.mkdir()
    m = Crier(memory, (CONFIG % (TEMPLATES, DIGEST, "")).replace(
        'store: { plugin = "sqlite"; path = "var/crier.db"; };',
        'store: { plugin = "memory"; };'))
    code, out, err = run_crier("-c", m.conf, "backup",
                               os.path.join(str(memory), "x.db"))
    assert code == 1
    assert "pg_dump" in err
    code, out, err = run_crier("-c", m.conf, "backup")
    assert code == 64
