"""Two crier nodes on one PostgreSQL send webhooks to one receiver: the
pacing limits of the channel hold for both nodes together, because each
request first takes a slot that the store counts over every node."""
import collections
import os

import pytest

from crierlib import ROOT, Crier, PostgresServer, wait_until
from test_webhook import SECRET, WINDOW_S, Receiver

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
SCHEMA = "crier_webhook_nodes"
COUNT = 30
RATE = 3
IN_FLIGHT = 2

# Each node claims only a few jobs at a time, so that both nodes send.
CONFIG = """
node = "%(node)s";
templates = "%(templates)s";
store: { plugin = "postgres"; url = "%(pg)s"; schema = "%(schema)s";
         connections = 3; };
triggers: { api: { plugin = "api"; }; };
channels: {
  cases: { plugin = "webhook"; url = "%(url)s";
           secret = "${WEBHOOK_SECRET}";
           max_per_second = %(rate)d; max_in_flight = %(in_flight)d;
           timeout_ms = 5000; };
};
delivery: { max_attempts = 3; backoff = "1s"; poll = "100ms";
            max_in_flight = 3; };
programs: { cases: { }; };
rules = (
  { name = "case-note"; program = "cases"; on = "case.updated";
    when = "true";
    send = { channel = "cases"; template = "welcome"; }; }
);
"""


@pytest.fixture
def postgres(tmp_path):
    pg = PostgresServer(tmp_path)
    yield pg
    pg.stop()


def node(tmp_path, name, pg, receiver):
    workdir = tmp_path / name
    workdir.mkdir()
    config = CONFIG % {"node": name, "templates": TEMPLATES, "pg": pg.url,
                       "schema": SCHEMA, "url": receiver.url,
                       "rate": RATE, "in_flight": IN_FLIGHT}
    return Crier(workdir, config, env={"WEBHOOK_SECRET": SECRET}).start()


def cases(count):
    return [{"type": "case.updated", "id": "case-%d" % i,
             "profile": {"case_id": "c-%d" % i,
                         "url": "https://cases.example.gov/r/%d" % i},
             "attributes": {"first_name": "Resident %d" % i},
             "properties": {"url": "https://example.gov/case/%d" % i}}
            for i in range(count)]


def test_two_nodes_share_webhook_pacing(tmp_path, postgres):
    receiver = Receiver(hold=0.5)
    a = node(tmp_path, "a", postgres, receiver)
    b = node(tmp_path, "b", postgres, receiver)
    q = lambda sql: postgres.query(sql, SCHEMA)  # noqa: E731
    try:
        r = a.post("/v1/events", cases(COUNT))
        assert r.status == 202
        wait_until(lambda: q("SELECT count(*) FROM jobs WHERE state IN "
                             "('sent', 'failed', 'dead')")[0][0]
                   == str(COUNT), timeout=90, interval=0.2)
        jobs = q("SELECT state, message_id, owner FROM jobs")
    finally:
        code_a = a.stop()
        code_b = b.stop()
        receiver.stop()
    assert code_a == 0
    assert code_b == 0

    # Every message arrived once, and both nodes sent some.
    assert [j[0] for j in jobs] == ["sent"] * COUNT
    reqs = receiver.requests
    ids = collections.Counter(r["body"]["message_id"] for r in reqs)
    assert set(ids) == {j[1] for j in jobs}
    assert max(ids.values()) == 1
    assert all(r["signed"] for r in reqs)
    owners = collections.Counter(j[2] for j in jobs)
    assert set(owners) == {"a", "b"}

    # The limits hold for the two nodes together, with the one request of
    # slack and the window of WINDOW_S that test_webhook.py explains. Each
    # node alone would allow RATE and IN_FLIGHT, so without shared
    # pacing the receiver would see about twice both.
    times = sorted(r["arrived"] for r in reqs)
    busiest = max(sum(1 for t in times if start_t <= t < start_t + WINDOW_S)
                  for start_t in times)
    print("owners=%s busiest=%d max_open=%d seconds=%.1f"
          % (dict(owners), busiest, receiver.max_open,
             times[-1] - times[0]))
    assert busiest <= RATE + 1
    assert (COUNT - RATE) / (times[-1] - times[0]) <= RATE * 1.1
    assert receiver.max_open <= IN_FLIGHT
