"""Two crier nodes on one PostgreSQL share a frequency cap. The store
counts the cap in the transaction that marks a message `sending`. So
when both nodes claim messages to the same residents at once, each
resident still gets exactly the cap's number of messages at the SMTP
server, and the others are suppressed with the reason `cap`."""
import collections
import hashlib
import os

import pytest

from crierlib import ROOT, Crier, PostgresServer, SmtpServer, wait_until

RESIDENTS = 6
EVENTS_EACH = 10         # offers per resident
CAP = 3
TOKEN = "admin-token-for-postgres-caps"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
SCHEMA = "crier_caps"
CONFIG = """
node = "%s";
templates = "%s";
store: { plugin = "postgres"; url = "%s"; schema = "%s";
         connections = 3; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; url = "smtp://127.0.0.1:%d";
                     connections = 4; from = "Works <works@example.gov>";
                     }; };
rules = (
  { name = "offer"; on = "offer.ready";
    send = { channel = "email"; template = "notice"; }; }
);
delivery: { message_id_domain = "crier.example.gov"; lease = "30s";
            poll = "100ms"; max_in_flight = 16;
            caps = ( { channel = "email"; class = "outreach"; max = %d;
                       per = "7d"; } ); };
admin: { tokens = [ "sha256:%s" ]; };
"""


def node_config(name, pg, smtp):
    return CONFIG % (name, TEMPLATES, pg.url, SCHEMA, smtp.port, CAP,
                     hashlib.sha256(TOKEN.encode()).hexdigest())


def address(resident):
    return "r%d@example.gov" % resident


def offers(node_index):
    """Returns the offers that node `node_index` (0 or 1) receives: every
    other round, each round one offer to every resident, so that the
    planned jobs of each resident are spread over the claim order."""
    return [{"id": "offer-%d-%d" % (resident, n), "type": "offer.ready",
             "profile": {"email": address(resident)},
             "properties": {"subject": "Offer %d" % n, "body": "Apply."}}
            for n in range(node_index, EVENTS_EACH, 2)
            for resident in range(RESIDENTS)]


@pytest.fixture
def postgres(tmp_path):
    pg = PostgresServer(tmp_path)
    yield pg
    pg.stop()


def test_cap_exact_across_two_nodes(tmp_path, postgres):
    # Each message takes the server 0.1 s, so that the node that claims
    # first is still sending when the other polls, and both claim jobs.
    smtp = SmtpServer(tmp_path, delay=0.1)
    nodes = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        nodes.append(Crier(tmp_path / name,
                           node_config(name, postgres, smtp)).start())
    q = lambda sql: postgres.query(sql, SCHEMA)  # noqa: E731
    total = RESIDENTS * EVENTS_EACH
    try:
        # The pause keeps every job waiting until all are planned, so
        # that the resume lets both nodes claim them at once.
        r = nodes[0].post("/v1/admin/pause", {"channel": "email"},
                          headers=AUTH)
        assert r.status == 200, r.body
        for i, node in enumerate(nodes):
            r = node.post("/v1/events", {"events": offers(i)})
            assert r.status == 202, r.body
        wait_until(lambda: q("SELECT count(*) FROM jobs")[0][0]
                   == str(total), timeout=60, interval=0.2)
        r = nodes[0].post("/v1/admin/resume", {"channel": "email"},
                          headers=AUTH)
        assert r.status == 200, r.body

        wait_until(lambda: q("SELECT count(*) FROM jobs WHERE state NOT IN"
                             " ('sent', 'suppressed')")[0][0] == "0",
                   timeout=120, interval=0.2)
        wait_until(lambda: len(smtp.messages()) >= RESIDENTS * CAP,
                   timeout=30, interval=0.2)

        received = collections.Counter(str(m["To"])
                                       for m in smtp.messages())
        for resident in range(RESIDENTS):
            assert received[address(resident)] == CAP, received
        assert sum(received.values()) == RESIDENTS * CAP

        states = collections.Counter(
            (row[0], row[1], row[2]) for row in
            q("SELECT recipient, state, coalesce(error, '') FROM jobs"))
        for resident in range(RESIDENTS):
            to = address(resident)
            assert states[(to, "sent", "")] == CAP, states
            assert states[(to, "suppressed", "cap")] == EVENTS_EACH - CAP
        assert sum(states.values()) == total

        # Both nodes claimed jobs of the same residents, so the cap was
        # contended across nodes rather than settled on one.
        shared = q("SELECT count(*) FROM (SELECT profile FROM jobs"
                   " GROUP BY profile HAVING count(DISTINCT owner) = 2) p")
        assert int(shared[0][0]) > 0, q("SELECT owner, count(*) FROM jobs"
                                        " GROUP BY owner")
    finally:
        codes = [node.stop() for node in nodes]
        smtp.stop()
    assert codes == [0, 0]
