"""A full disk (ENOSPC) under the SQLite store, injected with the
LD_PRELOAD shim tests/faults/enospc.c: events get 503 with Retry-After
while the disk is full, nothing is corrupted, and crier takes events
again once space returns."""
import os
import sqlite3

from crierlib import BUILD, Crier, Store, wait_until

# A sanitizer build checks that its runtime is loaded first, which a
# preloaded shim breaks; the shim intercepts nothing that ASan needs.
ASAN_OPTIONS = os.environ.get("ASAN_OPTIONS", "") + \
    ":verify_asan_link_order=0"

SHIM = os.path.join(BUILD, "test-faults", "enospc.so")

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""


def event(i):
    return {"type": "page_view", "id": "ev-%d" % i,
            "profile": {"anonymous_id": "visitor-%d" % (i % 7)},
            "properties": {"url": "https://www.example.gov/%d" % i}}


def post_range(c, first, count, accepted, rejected):
    """Posts events first.. one by one; records each id by outcome."""
    for i in range(first, first + count):
        r = c.post("/v1/events", event(i))
        if r.status == 202:
            accepted.add("ev-%d" % i)
        else:
            assert r.status == 503, r.body
            assert int(r.headers["Retry-After"]) >= 1
            rejected.add("ev-%d" % i)


def stored_ids(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return [row[0] for row in db.execute(
            "SELECT json_extract(body, '$.id') FROM events"
            " WHERE json_extract(body, '$.type') = 'page_view'")]
    finally:
        db.close()


def test_disk_full_then_space_returns(tmp_path):
    flag = os.path.join(str(tmp_path), "disk-full")
    var = os.path.join(str(tmp_path), "var")
    c = Crier(tmp_path, CONFIG, env={
        "ASAN_OPTIONS": ASAN_OPTIONS, "LD_PRELOAD": SHIM,
        "CRIER_ENOSPC_DIR": var, "CRIER_ENOSPC_FLAG": flag}).start()
    db = os.path.join(var, "crier.db")
    accepted, rejected = set(), set()

    post_range(c, 0, 50, accepted, rejected)
    assert len(accepted) == 50

    open(flag, "w").close()
    post_range(c, 50, 50, accepted, rejected)
    assert len(rejected) == 50, "writes went through a full disk"
    assert c.get("/healthz").status == 200

    os.unlink(flag)
    post_range(c, 100, 50, accepted, rejected)
    assert len(accepted) == 100
    wait_until(Store(db).pipeline_done)
    assert c.stop() == 0

    ids = stored_ids(db)
    assert sorted(ids) == sorted(accepted)
    assert len(ids) == len(set(ids)), "duplicate events"
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    print("accepted=%d rejected=%d stored=%d duplicates=%d"
          % (len(accepted), len(rejected), len(ids), len(ids) - len(set(ids))))


PIPELINE = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
delivery: { max_attempts = 50; backoff = "1s"; };
programs: { child-safety: { }; };
rules = (
  { name    = "crib-recall";
    program = "child-safety";
    on      = "page_view";
    when    = "event.properties.url ~ '/recalls/cribs'";
    send    = { channel = "email"; template = "welcome"; }; }
);
"""


def recall_event(i):
    return {"type": "page_view", "id": "ev-%d" % i,
            "profile": {"email": "resident-%d@example.gov" % i},
            "attributes": {"first_name": "R%d" % i},
            "properties": {"url": "https://example.gov/recalls/cribs"}}


def recall_view(c, i):
    r = c.post("/v1/events", recall_event(i))
    assert r.status in (202, 503), r.body
    return r.status == 202


def test_disk_full_during_delivery(tmp_path):
    """The disk fills while the pipeline plans and the outbox writes
    messages; once space returns every accepted event has one message."""
    from crierlib import ROOT, maildir_messages
    templates = os.path.join(ROOT, "tests", "data", "e2e-templates")
    flag = os.path.join(str(tmp_path), "disk-full")
    var = os.path.join(str(tmp_path), "var")
    c = Crier(tmp_path, PIPELINE % templates, env={
        "ASAN_OPTIONS": ASAN_OPTIONS, "LD_PRELOAD": SHIM,
        "CRIER_ENOSPC_DIR": var, "CRIER_ENOSPC_FLAG": flag}).start()
    store = Store(os.path.join(var, "crier.db"))
    # One batch, and the disk fills while the pipeline works through it.
    r = c.post("/v1/events", {"events": [recall_event(i)
                                         for i in range(200)]})
    assert r.status == 202
    accepted = list(range(200))
    open(flag, "w").close()
    rejected = [i for i in range(200, 220) if not recall_view(c, i)]
    sending_at_fault = sum(1 for j in store.jobs() if j["state"] == "sending")
    c.post("/v1/test/clock", {"advance": "2s"})
    os.unlink(flag)
    accepted += [i for i in range(220, 250) if recall_view(c, i)]

    def settled():
        c.post("/v1/test/clock", {"advance": "2s"})
        jobs = store.jobs()
        return (store.pipeline_done() and len(jobs) == len(accepted) and
                all(j["state"] == "sent" for j in jobs))
    wait_until(settled, timeout=60, interval=0.2)
    assert c.stop() == 0

    ids = stored_ids(os.path.join(var, "crier.db"))
    assert sorted(ids) == sorted("ev-%d" % i for i in accepted)
    messages = maildir_messages(os.path.join(var, "outbox"))
    recipients = [m["To"] for m in messages]
    repeats = len(recipients) - len(set(recipients))
    assert set(recipients) == {"resident-%d@example.gov" % i
                               for i in accepted}
    assert repeats <= sending_at_fault
    print("accepted=%d rejected=%d stored=%d messages=%d repeats=%d "
          "sending_at_fault=%d" % (len(accepted), len(rejected), len(ids),
                                   len(messages), repeats, sending_at_fault))
