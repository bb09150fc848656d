"""Two crier nodes on one PostgreSQL, each with its own test clock, share
date-relative schedules, journey waits, digest windows and bulletins.
Every occurrence is planned once across the two nodes and every message
is sent once. Where a node is killed with SIGKILL, the other finishes its
work after the leases end, and a message repeats only when its job was
claimed or sending on the killed node."""
import collections
import hashlib
import os

import pytest

from crierlib import (ROOT, Crier, PostgresServer, maildir_messages,
                      wait_until)

TOKEN = "admin-token-for-claim-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
DATA = os.path.join(ROOT, "tests", "data")

BASE = """
node = "%(node)s";
clock = "test";
time_zone = "America/Chicago";
templates = "%(templates)s";
store: { plugin = "postgres"; url = "%(url)s"; schema = "%(schema)s";
         connections = 3; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Agency <agency@example.gov>"; }; };
delivery: { lease = "5s"; poll = "100ms"; };
admin: { tokens = [ "sha256:%(digest)s" ]; };
"""

SCHEDULES = """
attributes: { enrolled_on = "date"; };
triggers: {
  api: { plugin = "api"; };
  dates: { plugin = "schedule";
    schedules = (
      { name = "anniversary"; date = "profile.enrolled_on";
        repeat = "yearly"; at = "10:00"; }
    ); };
};
rules = (
  { name = "anniversary"; on = "date.anniversary";
    send = { channel = "email"; template = "reminder"; }; }
);
"""

SEND = '{ channel = "email"; template = "reminder"; }'
JOURNEY = """
triggers: { api: { plugin = "api"; }; };
journeys = (
  { name = "welcome"; on = "signup";
    steps = (
      { name = "hello"; send = %(send)s; },
      { name = "pause-1"; wait = "3d"; },
      { name = "tips"; send = %(send)s; },
      { name = "pause-2"; wait = "7d"; },
      { name = "last"; send = %(send)s; }
    ); }
);
""" % {"send": SEND}

DIGESTS = """
triggers: { api: { plugin = "api"; }; };
digests = (
  { name = "notes"; window = "5m"; channel = "email";
    template = "case-notes"; key = "event.properties.note_id"; }
);
rules = (
  { name = "note"; on = "case.note"; send = { digest = "notes"; }; }
);
"""

BULLETINS = """
triggers: { api: { plugin = "api"; }; };
topics = (
  { name = "road-closures"; title = "Road closures";
    category = "Streets"; channels = [ "email" ]; }
);
"""


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    pg = PostgresServer(tmp_path_factory.mktemp("pg"))
    yield pg
    pg.stop()


class Nodes:
    """Nodes a and b on one schema, each in a folder of its own."""

    def __init__(self, tmp_path, pg, schema, templates, extra):
        self.pg = pg
        self.schema = schema
        self.nodes = {}
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            config = BASE % {
                "node": name, "templates": os.path.join(DATA, templates),
                "url": pg.url, "schema": schema,
                "digest": hashlib.sha256(TOKEN.encode()).hexdigest()}
            self.nodes[name] = Crier(folder, config + extra)
        for node in self.nodes.values():
            node.start()
        self.a = self.nodes["a"]
        self.b = self.nodes["b"]

    def q(self, sql):
        return self.pg.scalar(sql, self.schema)

    def rows(self, sql):
        return self.pg.query(sql, self.schema)

    def set_clock(self, now, names=("a", "b")):
        for name in names:
            r = self.nodes[name].post("/v1/test/clock", {"now": now})
            assert r.status == 200, r.body

    def settle(self, timeout=60):
        """Waits until the shared pipeline cursor reaches the last event."""
        def done():
            last, cursor = self.rows(
                "SELECT (SELECT max(seq) FROM events),"
                " (SELECT value FROM cursors WHERE name = 'pipeline')")[0]
            return last != "" and last == cursor
        wait_until(done, timeout=timeout, interval=0.2)

    def messages(self):
        """Returns the messages in both outboxes."""
        found = []
        for node in self.nodes.values():
            found += maildir_messages(os.path.join(node.workdir, "var",
                                                   "outbox"))
        return found

    def stop(self):
        """Stops both nodes; returns their exit codes."""
        return [node.stop() for node in self.nodes.values()]


def sent_by_recipient(nodes):
    """Counts the messages in both outboxes by recipient."""
    return collections.Counter(m["To"] for m in nodes.messages())


def post_split(nodes, events):
    """Posts alternate events to a and b, in batches of 100."""
    halves = (events[0::2], events[1::2])
    for node, half in zip((nodes.a, nodes.b), halves):
        for first in range(0, len(half), 100):
            r = node.post("/v1/events", {"events": half[first:first + 100]})
            assert r.status == 202, r.body


def test_schedules_fire_once_across_nodes(tmp_path, postgres):
    residents = 200
    nodes = Nodes(tmp_path, postgres, "claims_schedules",
                  "schedule-templates", SCHEDULES)
    try:
        nodes.set_clock("2026-01-01T00:00:00Z")
        # Anniversaries spread over January 2 to February 20.
        post_split(nodes, [
            {"type": "signup", "id": "signup-%03d" % i,
             "profile": {"email": "r%03d@example.gov" % i},
             "attributes": {"enrolled_on": "2024-%02d-%02d" % (
                 1 + (i % 50 + 1) // 31, (i % 50 + 1) % 31 + 1),
                 "first_name": "R%d" % i}}
            for i in range(residents)])
        nodes.settle()
        wait_until(lambda: nodes.q("SELECT count(*) FROM schedules")
                   == str(residents), timeout=30)

        # Both clocks walk through the dates a week at a time, so both
        # nodes claim rows of the same due times.
        for day in ("01-08", "01-15", "01-22", "01-29", "02-05", "02-12",
                    "02-19", "02-26"):
            nodes.set_clock("2026-%sT23:00:00Z" % day)
        wait_until(lambda: nodes.q(
            "SELECT count(*) FROM schedules WHERE occurrence >= '2027'")
            == str(residents), timeout=60, interval=0.2)
        nodes.settle()

        fired = nodes.rows("SELECT profile, count(*) FROM events"
                           " WHERE type = 'date.anniversary'"
                           " GROUP BY profile")
        assert len(fired) == residents
        assert {count for _, count in fired} == {"1"}
        assert nodes.q("SELECT count(*) FROM jobs"
                       " WHERE rule = 'anniversary'") == str(residents)
        assert nodes.q("SELECT count(DISTINCT recipient) FROM jobs"
                       " WHERE rule = 'anniversary'") == str(residents)

        wait_until(lambda: nodes.q(
            "SELECT count(*) FROM jobs WHERE rule = 'anniversary'"
            " AND state = 'sent'") == str(residents), timeout=60,
            interval=0.2)
        sent = sent_by_recipient(nodes)
        assert len(sent) == residents
        assert set(sent.values()) == {1}
    finally:
        codes = nodes.stop()
    assert codes == [0, 0]


JOURNEY_JOBS = ("SELECT count(*) FROM jobs"
                " WHERE rule LIKE 'journey:welcome/%'")
LEASED_ROWS = ("SELECT count(*) FROM journeys WHERE due IS NOT NULL"
               " AND lease_until IS NOT NULL")


def test_journey_steps_once_after_sigkill(tmp_path, postgres):
    residents = 400
    nodes = Nodes(tmp_path, postgres, "claims_journeys",
                  "schedule-templates", JOURNEY)
    a_killed = False

    # A clock move past the 5 s delivery lease lets a node claim again the
    # jobs it is still sending, so each move waits until every job is sent.
    def all_sent(count):
        wait_until(lambda: nodes.q(JOURNEY_JOBS + " AND state = 'sent'")
                   == str(count), timeout=120, interval=0.2)
        assert nodes.q(JOURNEY_JOBS) == str(count)

    try:
        nodes.set_clock("2026-03-02T15:00:00Z")
        post_split(nodes, [
            {"type": "signup", "id": "signup-%03d" % i,
             "profile": {"email": "r%03d@example.gov" % i},
             "attributes": {"first_name": "R%d" % i}}
            for i in range(residents)])
        nodes.settle()
        all_sent(residents)

        # The first wait ends on both nodes at once.
        nodes.set_clock("2026-03-05T15:00:01Z")
        all_sent(2 * residents)

        # The second wait ends on node a only, and a dies as soon as it
        # has leased the due rows for 30 s or planned a last step. Rows
        # that it leased and did not wake wait for that lease on node b's
        # clock.
        nodes.set_clock("2026-03-12T15:00:02Z", names=("a",))
        wait_until(lambda: nodes.q(LEASED_ROWS) != "0" or int(nodes.q(
            JOURNEY_JOBS)) > 2 * residents, timeout=30, interval=0.001)
        nodes.a.kill()
        a_killed = True
        in_flight = int(nodes.q("SELECT count(*) FROM jobs WHERE owner = 'a'"
                                " AND state IN ('claimed', 'sending')"))
        leased = nodes.q(LEASED_ROWS)
        planned_at_kill = int(nodes.q(JOURNEY_JOBS))

        # Node b's clock passes the wait, the lease of a's rows and the
        # delivery lease of a's jobs in one move.
        nodes.set_clock("2026-03-12T15:01:00Z", names=("b",))
        all_sent(3 * residents)

        keys = nodes.rows("SELECT recipient, count(*) FROM jobs"
                          " WHERE rule LIKE 'journey:welcome/%'"
                          " GROUP BY recipient")
        assert len(keys) == residents
        assert {count for _, count in keys} == {"3"}
        assert nodes.q("SELECT count(DISTINCT key) FROM jobs"
                       " WHERE rule LIKE 'journey:welcome/%'") \
            == str(3 * residents)
        assert nodes.q("SELECT count(*) FROM journeys"
                       " WHERE journey = 'welcome' AND state = 'active'") \
            == "0"

        sent = sent_by_recipient(nodes)
        total = sum(sent.values())
        print("planned_at_kill=%d leased_at_kill=%s in_flight_at_kill=%d "
              "messages=%d" % (planned_at_kill, leased, in_flight, total))
        assert len(sent) == residents
        assert min(sent.values()) == 3
        assert total - 3 * residents <= in_flight
    finally:
        codes = nodes.stop()
    assert codes[1] == 0
    assert a_killed


def test_digest_one_email_per_window(tmp_path, postgres):
    residents = 60
    notes_each = 4
    nodes = Nodes(tmp_path, postgres, "claims_digests", "journey-templates",
                  DIGESTS)
    try:
        nodes.set_clock("2026-04-08T16:00:00Z")
        # Each resident's notes go to both nodes in turn.
        post_split(nodes, [
            {"type": "case.note", "id": "note-%03d-%d" % (i, n),
             "time": "2026-04-08T16:00:0%dZ" % n,
             "profile": {"email": "r%03d@example.gov" % i},
             "properties": {"note_id": "n-%d" % n,
                            "note": "note %d of r%03d" % (n, i)}}
            for n in range(notes_each) for i in range(residents)])
        nodes.settle()
        assert nodes.q("SELECT count(*) FROM journeys"
                       " WHERE journey = 'digest:notes'"
                       " AND state = 'active'") == str(residents)

        nodes.set_clock("2026-04-08T16:05:00Z")
        wait_until(lambda: nodes.q(
            "SELECT count(*) FROM jobs WHERE rule LIKE 'digest:%'"
            " AND state = 'sent'") == str(residents), timeout=60,
            interval=0.2)
        assert nodes.q("SELECT count(*) FROM jobs"
                       " WHERE rule LIKE 'digest:%'") == str(residents)

        sent = collections.defaultdict(list)
        for m in nodes.messages():
            sent[m["To"]].append(m.get_payload(decode=True).decode())
        assert len(sent) == residents
        for i in range(residents):
            bodies = sent["r%03d@example.gov" % i]
            assert len(bodies) == 1
            for n in range(notes_each):
                assert "note %d of r%03d" % (n, i) in bodies[0]
    finally:
        codes = nodes.stop()
    assert codes == [0, 0]


def call(node, method, path, body=None, status=200):
    r = node.request(method, path, body, headers=AUTH)
    assert r.status == status, r.body
    return r.json()


def test_bulletin_once_after_sigkill(tmp_path, postgres):
    subscribers = 1500
    nodes = Nodes(tmp_path, postgres, "claims_bulletins", "e2e-templates",
                  BULLETINS)
    a_killed = False
    try:
        nodes.set_clock("2026-05-01T12:00:00Z")
        post_split(nodes, [
            {"type": "signed_up", "id": "signup-%04d" % i,
             "profile": {"email": "r%04d@example.gov" % i},
             "attributes": {"first_name": "R%d" % i}}
            for i in range(subscribers)])
        nodes.settle()
        ids = [row[0] for row in nodes.rows("SELECT id FROM profiles")]
        assert len(ids) == subscribers
        for first in range(0, subscribers, 500):
            out = call(nodes.b, "POST", "/v1/subscriptions", {
                "subscriptions": [
                    {"profile": p, "topic": "road-closures",
                     "channel": "email", "status": "confirmed"}
                    for p in ids[first:first + 500]]})
            assert out["written"] == len(ids[first:first + 500])

        # At 36000 an hour the bulletin plans 10 messages a second of the
        # test clock, so each node plans only as far as its clock moves.
        b = call(nodes.a, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "road-closures",
                  "rate": 36000}, 201)
        rule = "bulletin:" + b["id"]
        jobs = "SELECT count(*) FROM jobs WHERE rule = '%s'" % rule

        def settled(count):
            """Waits until `count` jobs are planned and every one is
            sent, so that no job is in flight when a clock moves past
            the 5 s delivery lease."""
            wait_until(lambda: nodes.q(jobs + " AND state = 'sent'")
                       == str(count), timeout=60, interval=0.1)
            assert nodes.q(jobs) == str(count)

        settled(1)
        nodes.set_clock("2026-05-01T12:00:20Z", names=("a",))
        settled(201)

        # Node a dies with the bulletin planned in part. Node b reads the
        # stored bulletin at its next refresh, plans from the highest job
        # key on, and sends every message.
        nodes.a.kill()
        a_killed = True
        moves = 0
        now = 0
        while nodes.q(jobs) != str(subscribers):
            moves += 1
            assert moves <= 12
            now += 60
            nodes.set_clock("2026-05-01T12:%02d:00Z" % (now // 60),
                            names=("b",))
            wait_until(lambda: nodes.q(
                jobs + " AND state NOT IN ('sent', 'planned')") == "0"
                and nodes.q(jobs + " AND state = 'planned'") == "0",
                timeout=60, interval=0.1)
        settled(subscribers)
        done = call(nodes.b, "GET", "/v1/bulletins/" + b["id"])
        assert done["progress"]["planned"] == subscribers
        assert done["progress"]["sent"] == subscribers

        sent = sent_by_recipient(nodes)
        assert len(sent) == subscribers
        assert set(sent.values()) == {1}
        owners = dict(nodes.rows("SELECT owner, count(*) FROM jobs"
                                 " WHERE rule = '%s' GROUP BY owner" % rule))
        assert owners["a"] == "201"
        assert owners["b"] == str(subscribers - 201)
    finally:
        codes = nodes.stop()
    assert codes[1] == 0
    assert a_killed


def test_bulletin_rate_across_nodes(tmp_path, postgres):
    """Both nodes plan one bulletin, and together they keep to its rate:
    at 36000 an hour, 10 messages a second of the test clock after the
    first. Turns take the bulletin's lease in the store and count the
    planned jobs there, so the total is exact, not one allowance per
    node. After node a dies with SIGKILL, perhaps in a turn, node b
    plans on once the lease ends. A bulletin far behind its pace plans
    one batch at once and then goes on at the rate."""
    subscribers = 1500
    nodes = Nodes(tmp_path, postgres, "claims_bulletin_rate",
                  "e2e-templates", BULLETINS)
    a_killed = False
    try:
        nodes.set_clock("2026-05-01T12:00:00Z")
        post_split(nodes, [
            {"type": "signed_up", "id": "signup-%04d" % i,
             "profile": {"email": "r%04d@example.gov" % i},
             "attributes": {"first_name": "R%d" % i}}
            for i in range(subscribers)])
        nodes.settle()
        ids = [row[0] for row in nodes.rows("SELECT id FROM profiles")]
        assert len(ids) == subscribers
        for first in range(0, subscribers, 500):
            out = call(nodes.a, "POST", "/v1/subscriptions", {
                "subscriptions": [
                    {"profile": p, "topic": "road-closures",
                     "channel": "email", "status": "confirmed"}
                    for p in ids[first:first + 500]]})
            assert out["written"] == len(ids[first:first + 500])

        b = call(nodes.a, "POST", "/v1/bulletins",
                 {"template": "welcome", "topic": "road-closures",
                  "rate": 36000}, 201)
        rule = "bulletin:" + b["id"]
        jobs = "SELECT count(*) FROM jobs WHERE rule = '%s'" % rule

        def allowed(seconds):
            return min(subscribers, 1 + 10 * seconds)

        def at(seconds):
            return "2026-05-01T12:%02d:%02dZ" % divmod(seconds, 60)

        def planned_and_sent(count):
            """Waits until at least `count` jobs are planned and every
            one is sent, so that no job is in flight when a clock moves
            past the 5 s delivery lease; returns the jobs planned."""
            wait_until(lambda: int(nodes.q(jobs)) >= count and nodes.q(
                jobs + " AND state <> 'sent'") == "0",
                timeout=60, interval=0.1)
            return int(nodes.q(jobs))

        assert planned_and_sent(1) == 1
        # Both clocks move 20 s a step, in turn a first and b first.
        # Each node would allow 200 more on its own; together they plan
        # 200 a step.
        for step in range(1, 4):
            order = ("a", "b") if step % 2 else ("b", "a")
            for name in order:
                nodes.set_clock(at(20 * step), names=(name,))
            assert planned_and_sent(allowed(20 * step)) == \
                allowed(20 * step)

        # Node a dies right after its clock moves, perhaps holding the
        # lease in a turn. Node b's clock moves a second at a time until
        # it holds the lease and plans all its clock allows.
        nodes.set_clock(at(80), names=("a",))
        nodes.a.kill()
        a_killed = True
        seconds = 80
        while True:
            nodes.set_clock(at(seconds), names=("b",))
            try:
                wait_until(lambda: int(nodes.q(jobs)) >=
                           allowed(seconds), timeout=1, interval=0.1)
                break
            except AssertionError:
                seconds += 1
                # The lease ends 5 s after a's last turn started.
                assert seconds <= 90
        assert planned_and_sent(allowed(seconds)) == allowed(seconds)

        # Ten minutes pass with no turn: node b plans one batch of 500
        # at once, not the 6000 that the rate allowed meanwhile, and then
        # 50 for the next 5 s.
        before = allowed(seconds)
        seconds += 600
        nodes.set_clock(at(seconds), names=("b",))
        assert planned_and_sent(before + 500) == before + 500
        seconds += 5
        nodes.set_clock(at(seconds), names=("b",))
        assert planned_and_sent(before + 550) == before + 550
        seconds += 60
        nodes.set_clock(at(seconds), names=("b",))
        assert planned_and_sent(subscribers) == subscribers
        done = call(nodes.b, "GET", "/v1/bulletins/" + b["id"])
        assert done["progress"]["planned"] == subscribers
        assert done["progress"]["sent"] == subscribers
        sent = sent_by_recipient(nodes)
        assert len(sent) == subscribers
        assert set(sent.values()) == {1}
    finally:
        codes = nodes.stop()
    assert codes[1] == 0
    assert a_killed
