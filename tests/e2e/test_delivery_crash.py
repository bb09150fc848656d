"""kill -9 during delivery: no message is lost, each job keeps one
Message-ID, and repeats are at most the messages that were in flight."""
import collections
import os
import sys
import time

from crierlib import (ROOT, Crier, SmtpServer, Store, shipped_config,
                      wait_until)

sys.path.insert(0, os.path.join(ROOT, "examples", "chicago"))
import replay  # noqa: E402

SECRET = "crash-test-secret"
IN_FLIGHT = 4
TEST_CLOCK_START = 1767225600  # 2026-01-01T00:00:00Z, the default
SETTINGS = """
clock = "test";
delivery: { message_id_domain = "crier.example.gov"; lease = "1m";
            max_in_flight = %d; };
""" % IN_FLIGHT


def test_kill9_during_delivery_repeats_only_in_flight(tmp_path):
    smtp = SmtpServer(tmp_path, delay=0.1)
    config = shipped_config(smtp.port, tmp_path).replace(
        'delivery: { message_id_domain = "crier.example.gov"; };',
        SETTINGS).replace('url = "smtp:', 'connections = %d; url = "smtp:'
                          % IN_FLIGHT)
    c = Crier(tmp_path, config, env={"CASE_SECRET": SECRET}).start()
    store = Store(os.path.join(str(tmp_path), "var", "crier.db"))
    try:
        # Signed at the test clock's time, which the case trigger checks.
        replay.replay(c.url + "/hooks/case", SECRET, now=TEST_CLOCK_START)
        wait_until(store.pipeline_done, timeout=30)
        planned = len(store.jobs())
        # Let some messages go out, then crash in the middle of delivery.
        wait_until(lambda: len(smtp.messages()) >= 10, timeout=30)
        c.kill()
        sent_before = sum(1 for j in store.jobs() if j["state"] == "sent")
        assert sent_before < planned

        c.start()
        # Jobs caught in `claimed` or `sending` wait for their lease. The
        # jump also makes the messages already waiting for a connection
        # pass their hand-over time, and those go back as retries. So the
        # clock moves on again whenever every job left waits for a retry,
        # by less than a lease, so that a message just handed over keeps
        # its lease.
        time.sleep(0.5)
        assert c.post("/v1/test/clock", {"advance": "2m"}).status == 200
        deadline = time.time() + 60
        while True:
            states = {j["state"] for j in store.jobs()}
            if states == {"sent"}:
                break
            assert time.time() < deadline, states
            if states == {"sent", "planned"}:
                assert c.post("/v1/test/clock",
                              {"advance": "40s"}).status == 200
            time.sleep(0.2)
        time.sleep(0.5)
        msgs = smtp.messages()
        ids = collections.Counter(str(m["Message-ID"]) for m in msgs)
        jobs = store.jobs()
        assert len(jobs) == planned
        assert set(ids) == {j["message_id"] for j in jobs}
        repeats = sum(n - 1 for n in ids.values())
        print("jobs=%d sent_before_kill=%d messages=%d repeats=%d"
              % (planned, sent_before, len(msgs), repeats))
        assert repeats <= IN_FLIGHT
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def test_slow_smtp_server_does_not_stall_ingest(tmp_path):
    # Each message takes the server 1 s to accept; events must still be
    # answered at once, because no SMTP wait blocks the event loop.
    smtp = SmtpServer(tmp_path, delay=1.0)
    config = shipped_config(smtp.port, tmp_path)
    c = Crier(tmp_path, config, env={"CASE_SECRET": SECRET}).start()
    store = Store(os.path.join(str(tmp_path), "var", "crier.db"))
    try:
        replay.replay(c.url + "/hooks/case", SECRET)
        wait_until(lambda: any(j["state"] == "sending"
                               for j in store.jobs()), timeout=30)
        slowest = 0.0
        for i in range(20):
            start = time.time()
            r = c.post("/v1/events", {"type": "probe", "visitor": "v%d" % i})
            slowest = max(slowest, time.time() - start)
            assert r.status == 202
        assert slowest < 0.5
    finally:
        # SIGTERM hands back what waits for a connection at once.
        started = time.time()
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert time.time() - started < 5
    states = {j["state"] for j in store.jobs()}
    assert "claimed" not in states
    assert "sending" not in states
