"""Two crier nodes on one PostgreSQL: they share ingest, the pipeline and
delivery, and when one is killed with SIGKILL the other finishes its
work. Every message reaches the SMTP server, repeats are at most the jobs
that the killed node was sending, and every accepted event is stored
once."""
import collections
import hashlib
import os
import time

import pytest

from crierlib import (ROOT, Crier, PostgresServer, SmtpServer, free_port,
                      wait_until)

MESSAGES = 10000
BATCH = 500
OVERLAP = 2000           # events posted to both nodes
TOKEN = "admin-token-for-postgres-tests"
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
SCHEMA = "crier_nodes"
CONFIG = """
node = "%s";
templates = "%s";
store: { plugin = "postgres"; url = "%s"; schema = "%s";
         connections = 3; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; url = "smtp://127.0.0.1:%d";
                     connections = 8; from = "Works <works@example.gov>";
                     }; };
rules = (
  { name = "notice"; on = "notice";
    send = { channel = "email"; template = "notice"; }; }
);
delivery: { message_id_domain = "crier.example.gov"; lease = "5s";
            poll = "100ms"; max_in_flight = 32; };
admin: { tokens = [ "sha256:%s" ]; };
"""


def node_config(name, pg, smtp):
    return CONFIG % (name, TEMPLATES, pg.url, SCHEMA, smtp.port,
                     hashlib.sha256(TOKEN.encode()).hexdigest())


def events(first, last):
    return [{"id": "notice-%05d" % i, "type": "notice",
             "profile": {"email": "r%05d@example.gov" % i},
             "properties": {"subject": "Road work", "body": "Expect delays."}}
            for i in range(first, last)]


def post_all(node, items):
    """Posts `items` in batches; returns the accepted and duplicate
    counts that the node answered."""
    accepted = duplicates = 0
    for i in range(0, len(items), BATCH):
        r = node.post("/v1/events", {"events": items[i:i + BATCH]},
                      timeout=60)
        assert r.status == 202, r.body
        accepted += r.json()["accepted"]
        duplicates += r.json()["duplicates"]
    return accepted, duplicates


@pytest.fixture
def postgres(tmp_path):
    pg = PostgresServer(tmp_path)
    yield pg
    pg.stop()


def test_two_nodes_survive_sigkill(tmp_path, postgres):
    smtp = SmtpServer(tmp_path)
    dirs = [tmp_path / "a", tmp_path / "b"]
    for d in dirs:
        d.mkdir()
    a = Crier(dirs[0], node_config("a", postgres, smtp)).start()
    b = Crier(dirs[1], node_config("b", postgres, smtp)).start()
    q = lambda sql: postgres.scalar(sql, SCHEMA)  # noqa: E731
    started = time.time()
    try:
        # Half the events go to each node, and OVERLAP of them to both,
        # as a sender that retries on the other node would post them.
        half = MESSAGES // 2
        got_a = post_all(a, events(0, half))
        got_b = post_all(b, events(half - OVERLAP, MESSAGES))
        assert got_a[0] + got_b[0] == MESSAGES
        assert got_a[1] + got_b[1] == OVERLAP

        wait_until(lambda: len(smtp.messages()) >= MESSAGES // 5,
                   timeout=120, interval=0.2)
        a.kill()
        sending = int(q("SELECT count(*) FROM jobs WHERE owner = 'a'"
                        " AND state IN ('claimed', 'sending')"))
        killed_at = int(q("SELECT count(*) FROM jobs WHERE state = 'sent'"))

        # Node b takes the killed node's jobs once their 5 s lease ends.
        wait_until(lambda: q("SELECT count(*) FROM jobs WHERE state = 'sent'")
                   == str(MESSAGES), timeout=300, interval=0.5)
        time.sleep(0.5)
        msgs = smtp.messages()
        ids = collections.Counter(str(m["Message-ID"]) for m in msgs)
        repeats = sum(n - 1 for n in ids.values())
        print("messages=%d distinct=%d repeats=%d in_flight_at_kill=%d "
              "sent_at_kill=%d seconds=%.1f"
              % (len(msgs), len(ids), repeats, sending, killed_at,
                 time.time() - started))
        assert len(ids) == MESSAGES
        assert repeats <= sending
        assert q("SELECT count(*) FROM jobs") == str(MESSAGES)
        assert q("SELECT count(*) FROM events WHERE type = 'notice'") \
            == str(MESSAGES)
        assert q("SELECT count(DISTINCT ext_id) FROM events"
                 " WHERE type = 'notice'") == str(MESSAGES)
        assert q("SELECT count(*) FROM jobs WHERE owner = 'b'") != "0"
    finally:
        a.stop()
        code = b.stop()
        smtp.stop()
    assert code == 0
