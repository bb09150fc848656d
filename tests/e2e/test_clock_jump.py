"""The host's wall clock jumps back an hour, forward a day and back
again, moved by the LD_PRELOAD shim tests/faults/clock.c: every event
accepted is stored once and gets one message. The events posted after
the clock steps back are sent at once, which failed while crier's
timers ran on the wall clock.

A job planned while the clock was a day ahead is due a day ahead, so
after the clock steps back it waits until the wall clock reaches that
time again (docs/KNOWN_LIMITS.md, "Security"). The test shows those jobs
and then moves the clock ahead again to release them."""
import os
import time

from crierlib import BUILD, ROOT, Crier, Store, maildir_messages, wait_until

# A sanitizer build checks that its runtime is loaded first, which a
# preloaded shim breaks; the shim intercepts nothing that ASan needs.
ASAN_OPTIONS = os.environ.get("ASAN_OPTIONS", "") + \
    ":verify_asan_link_order=0"

SHIM = os.path.join(BUILD, "test-faults", "clock.so")

CONFIG = """
templates = "%s";
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
    when    = "event.properties.url ~ '/recalls/cribs'";
    send    = { channel = "email"; template = "welcome"; }; }
);
""" % os.path.join(ROOT, "tests", "data", "e2e-templates")

# Offsets of the wall clock in seconds, in the order the test sets them.
JUMPS = [0, -3600, 86400, 0]
PER_JUMP = 25


def recall_event(i):
    return {"type": "page_view", "id": "ev-%d" % i,
            "profile": {"email": "resident-%d@example.gov" % i},
            "attributes": {"first_name": "R%d" % i},
            "properties": {"url": "https://example.gov/recalls/cribs"}}


def test_wall_clock_jumps(tmp_path):
    offset_file = os.path.join(str(tmp_path), "clock-offset")
    with open(offset_file, "w") as f:
        f.write("0\n")
    c = Crier(tmp_path, CONFIG, env={
        "ASAN_OPTIONS": ASAN_OPTIONS, "LD_PRELOAD": SHIM,
        "CRIER_CLOCK_OFFSET_FILE": offset_file}).start()
    store = Store(os.path.join(c.workdir, "var", "crier.db"))
    accepted = []
    for n, offset in enumerate(JUMPS):
        with open(offset_file, "w") as f:
            f.write("%d\n" % offset)
        time.sleep(0.1)
        for i in range(n * PER_JUMP, (n + 1) * PER_JUMP):
            r = c.post("/v1/events", recall_event(i))
            assert r.status == 202, r.body
            accepted.append(i)

    def settled():
        jobs = store.jobs()
        return (store.pipeline_done() and len(jobs) == len(accepted) and
                all(j["state"] in ("sent", "planned") for j in jobs) and
                len([j for j in jobs if j["state"] == "sent"]) >=
                len(accepted) - PER_JUMP)
    wait_until(settled, timeout=60, interval=0.2)
    time.sleep(1)

    # Jobs still planned were all planned during the day-ahead jump.
    now_ms = int(time.time() * 1000)
    delayed = store.query("SELECT due FROM jobs WHERE state = 'planned'")
    assert all(due > now_ms + 80000 * 1000 for (due,) in delayed)

    # Once the wall clock reaches their due time again they are sent.
    with open(offset_file, "w") as f:
        f.write("%d\n" % 86400)
    wait_until(lambda: all(j["state"] == "sent" for j in store.jobs()),
               timeout=60, interval=0.2)
    assert c.stop() == 0

    stored = [row[0] for row in store.query(
        "SELECT json_extract(body, '$.id') FROM events"
        " WHERE json_extract(body, '$.type') = 'page_view'")]
    assert sorted(stored) == sorted("ev-%d" % i for i in accepted)
    messages = maildir_messages(os.path.join(c.workdir, "var", "outbox"))
    recipients = [m["To"] for m in messages]
    assert sorted(recipients) == sorted("resident-%d@example.gov" % i
                                        for i in accepted)
    ids = [m["Message-ID"] for m in messages]
    assert len(ids) == len(set(ids))

    # The events kept the times the jumped clock gave them.
    times = [row[0] for row in store.query("SELECT time_ms FROM events"
                                           " ORDER BY seq")]
    assert min(times) < times[0] - 3000 * 1000
    assert max(times) > times[0] + 86000 * 1000
    print("accepted=%d stored=%d messages=%d duplicates=%d delayed=%d"
          % (len(accepted), len(stored), len(messages),
             len(recipients) - len(set(recipients)), len(delayed)))
