"""PostgreSQL stopped (pg_ctl stop -m fast) and started again on the same
port under a running crier. While it is down, POST /v1/events returns 503
with Retry-After and /readyz returns 503. Afterwards the pool reconnects by
itself, events are accepted again, and every event acknowledged with 202
before, during or after the outage is stored and gets its message. A job
that was being sent when the connection went keeps its lease, is sent
again when the lease ends, and so may give a repeated message."""
import os
import threading
import time

import pytest

from crierlib import (ROOT, Crier, PostgresServer, maildir_messages,
                      wait_until)

SCHEMA = "restart"
CONFIG = """
templates = "%s";
store: { plugin = "postgres"; url = "%s"; schema = "%s";
         connections = 3; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Works <works@example.gov>"; }; };
rules = ( { name = "hello"; on = "signup";
            send = { channel = "email"; template = "notice"; }; } );
delivery: { lease = "5s"; poll = "100ms"; };
"""


def event(i):
    return {"id": "ev-%d" % i, "type": "signup",
            "profile": {"email": "r%d@example.gov" % i},
            "properties": {"subject": "Hello", "body": "Welcome."}}


@pytest.fixture
def postgres(tmp_path):
    pg = PostgresServer(tmp_path)
    yield pg
    pg.stop()


class Poster(threading.Thread):
    """Posts one event at a time until stopped, and records which ids
    got 202 and which got 503."""

    def __init__(self, node, first):
        super().__init__(daemon=True)
        self.node = node
        self.next = first
        self.accepted = []
        self.rejected = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            i = self.next
            self.next += 1
            r = self.node.post("/v1/events", event(i), timeout=15)
            if r.status == 202:
                self.accepted.append(i)
            else:
                assert r.status == 503, r.body
                self.rejected.append(i)
                time.sleep(0.05)


def post_batches(node, first, count):
    for i in range(first, first + count, 10):
        r = node.post("/v1/events", {"events": [event(j) for j in
                                                range(i, i + 10)]})
        assert r.status == 202, r.body
    return list(range(first, first + count))


def test_postgres_restart_loses_nothing(tmp_path, postgres):
    templates = os.path.join(ROOT, "tests", "data", "e2e-templates")
    c = Crier(tmp_path, CONFIG % (templates, postgres.url, SCHEMA)).start()
    q = lambda sql: postgres.scalar(sql, SCHEMA)  # noqa: E731
    accepted = post_batches(c, 0, 100)

    poster = Poster(c, 1000)
    poster.start()
    wait_until(lambda: len(poster.accepted) >= 20, timeout=20)
    postgres.halt()

    # Down: events are refused with a hint to retry, and not ready.
    r = c.post("/v1/events", event(900))
    assert r.status == 503
    assert r.headers["Retry-After"] == "5"
    assert c.get("/readyz").status == 503
    assert c.get("/healthz").status == 200
    time.sleep(1)

    postgres.resume()
    wait_until(lambda: c.post("/v1/events", event(901)).status == 202,
               timeout=20, interval=0.2)
    accepted.append(901)
    wait_until(lambda: c.get("/readyz").status == 200, timeout=10)
    count = len(poster.accepted)
    wait_until(lambda: len(poster.accepted) >= count + 20, timeout=20)
    poster.done.set()
    poster.join(timeout=30)
    accepted += poster.accepted
    accepted += post_batches(c, 2000, 100)

    def settled():
        return q("SELECT count(*) FROM jobs WHERE state = 'sent'") == \
            q("SELECT count(*) FROM events WHERE type = 'signup'")
    wait_until(settled, timeout=60, interval=0.5)
    resent = int(q("SELECT count(*) FROM jobs WHERE attempts > 1"))
    assert c.stop() == 0
    log = c.log_text()
    assert "lost the connection to PostgreSQL" in log
    assert "reconnected to PostgreSQL" in log

    stored = {row[0] for row in postgres.query(
        "SELECT ext_id FROM events WHERE type = 'signup'", SCHEMA)}
    acknowledged = {"ev-%d" % i for i in accepted}
    # Every 202 is stored; an event refused with 503 may be stored too
    # when PostgreSQL committed it just before the connection went.
    assert acknowledged <= stored
    refused = {"ev-%d" % i for i in poster.rejected + [900]}
    assert stored - acknowledged <= refused
    recipients = [m["To"] for m in maildir_messages(
        os.path.join(str(tmp_path), "var", "outbox"))]
    repeats = len(recipients) - len(set(recipients))
    assert {"r%s@example.gov" % s[3:] for s in stored} == set(recipients)
    assert repeats <= resent
    print("accepted=%d refused=%d stored=%d refused_but_stored=%d "
          "messages=%d repeats=%d resent_jobs=%d"
          % (len(acknowledged), len(refused), len(stored),
             len(stored - acknowledged), len(recipients), repeats, resent))
