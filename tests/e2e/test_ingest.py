"""POST /v1/events: accepted events are stored once, bad input is refused."""
import json
import os
import signal
import socket
import sqlite3
import time

from crierlib import PLUGINS, Crier, run_crier
from conftest import SQLITE_API


def stored_events(c):
    db = sqlite3.connect(os.path.join(c.workdir, "var", "crier.db"))
    try:
        return [json.loads(r[0]) for r in
                db.execute("SELECT body FROM events ORDER BY seq")]
    finally:
        db.close()


def test_single_event_accepted(crier):
    r = crier.post("/v1/events", {"type": "page_view", "visitor": "v-1",
                                  "properties": {"url": "/recalls"}})
    assert r.status == 202
    assert r.json() == {"accepted": 1, "duplicates": 0}


def test_batch_accepted(crier):
    events = [{"type": "signup", "profile": {"email": "a%d@example.gov" % i}}
              for i in range(50)]
    r = crier.post("/v1/events", {"events": events})
    assert r.status == 202
    assert r.json()["accepted"] == 50


def test_repeated_id_is_duplicate(crier):
    ev = {"id": "e-1", "type": "signup", "visitor": "v-9"}
    assert crier.post("/v1/events", ev).json() == {"accepted": 1,
                                                   "duplicates": 0}
    assert crier.post("/v1/events", ev).json() == {"accepted": 0,
                                                   "duplicates": 1}


def test_duplicate_inside_batch(crier):
    ev = {"id": "same", "type": "signup", "visitor": "v-1"}
    r = crier.post("/v1/events", {"events": [ev, ev]})
    assert r.json() == {"accepted": 1, "duplicates": 1}


def test_missing_type_names_field(crier):
    r = crier.post("/v1/events", {"visitor": "v-2"})
    assert r.status == 400
    body = r.json()
    assert body["field"] == "type"
    assert "required" in body["error"]


def test_bad_event_in_batch_stores_nothing(crier):
    events = [{"id": "ok-1", "type": "signup", "visitor": "v-1"},
              {"id": "ok-2", "type": "signup", "visitor": "v-2",
               "time": "yesterday"}]
    r = crier.post("/v1/events", {"events": events})
    assert r.status == 400
    assert r.json()["index"] == 1
    assert r.json()["field"] == "time"
    # Nothing of the refused request was stored: the first event is new.
    r = crier.post("/v1/events", events[0])
    assert r.json() == {"accepted": 1, "duplicates": 0}


def test_malformed_json(crier):
    r = crier.post("/v1/events", '{"type": ',
                   headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert "invalid JSON" in r.json()["error"]


def test_invalid_identity(crier):
    r = crier.post("/v1/events", {"type": "x", "profile": {"email": "no"}})
    assert r.status == 400
    assert r.json()["field"] == "profile.email"


def test_too_many_events(crier):
    r = crier.post("/v1/events",
                   {"events": [{"type": "x", "visitor": "v"}] * 1001})
    assert r.status == 400
    assert r.json()["field"] == "events"


def test_body_over_limit(crier):
    r = crier.post("/v1/events", b"a" * (11 * 1024 * 1024),
                   headers={"Content-Type": "application/json"})
    assert r.status == 413


def test_unknown_route(crier):
    assert crier.get("/no/such/route").status == 404


def test_event_is_normalised(crier):
    crier.post("/v1/events", {"type": "signup",
                              "time": "2026-03-01T09:30:00-06:00",
                              "profile": {"email": "Ana@Example.GOV",
                                          "phone": "+1 (312) 555-0100"}})
    ev = stored_events(crier)[-1]
    assert ev["time"] == "2026-03-01T15:30:00.000Z"
    assert ev["profile"]["email"] == "ana@example.gov"
    assert ev["profile"]["phone"] == "+13125550100"


def test_sigterm_keeps_accepted_events(tmp_path):
    c = Crier(tmp_path, SQLITE_API).start()
    for i in range(20):
        assert c.post("/v1/events", {"id": "t-%d" % i, "type": "x",
                                     "visitor": "v"}).status == 202
    assert c.stop(signal.SIGTERM) == 0
    assert len(stored_events(c)) == 20


def test_check_reports_file_and_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text('plugin_dir = "%s";\n'
                    'store: { plugin = "sqlite"; path = 5; };\n' % PLUGINS)
    code, out, err = run_crier("check", "-c", str(conf))
    assert code == 2
    assert "bad.conf:2: store.path:" in err


def test_check_reports_syntax_error(tmp_path):
    conf = tmp_path / "broken.conf"
    conf.write_text('listen = = "x";\n')
    code, out, err = run_crier("check", "-c", str(conf))
    assert code == 2
    assert "broken.conf:1:" in err


def check_text(tmp_path, text):
    conf = tmp_path / "core.conf"
    conf.write_text('plugin_dir = "%s";\nstore: { plugin = "memory"; };\n%s'
                    % (PLUGINS, text))
    return run_crier("check", "-c", str(conf))


def test_check_rejects_bad_listen(tmp_path):
    for listen in ("127.0.0.1:99999", "localhost:8080", "127.0.0.1",
                   "[::1]:0"):
        code, out, err = check_text(tmp_path, 'listen = "%s";\n' % listen)
        assert code == 2, listen
        assert "core.conf:3: listen: must be an IP address" in err
    code, out, err = check_text(tmp_path, 'listen = "[::1]:8080";\n')
    assert code == 0


def test_check_rejects_bad_trusted_proxy(tmp_path):
    code, out, err = check_text(
        tmp_path, 'trusted_proxies = [ "10.0.0.0/8", "10.0.0.0/99" ];\n')
    assert code == 2
    assert "core.conf:3: trusted_proxies[1]: must be an IP address" in err
    code, out, err = check_text(
        tmp_path, 'trusted_proxies = [ "10.0.0.0/8", "::1", "fd00::/8" ];\n')
    assert code == 0


def test_check_rejects_bad_event_type_in_rule(tmp_path):
    code, out, err = check_text(
        tmp_path, 'rules = ( { name = "r"; on = "case opened!"; } );\n')
    assert code == 2
    assert "core.conf:3: rules[0].on: must name an event type" in err


def test_check_points_at_end_of_expression(tmp_path):
    code, out, err = check_text(
        tmp_path, 'rules = ( { name = "r"; on = "x"; when = "event."; } );\n')
    assert code == 2
    # The error is at the end: the column of the closing quote.
    assert "core.conf:3:49: rules[0].when:" in err


def test_batch_with_other_member_refused(crier):
    r = crier.post("/v1/events", {"events": [{"type": "x", "visitor": "v"}],
                                  "source": "crm"})
    assert r.status == 400
    assert r.json()["field"] == "source"


def test_bare_array_batch_accepted(crier):
    r = crier.post("/v1/events", [{"type": "x", "visitor": "v1"},
                                  {"type": "x", "visitor": "v2"}])
    assert r.status == 202
    assert r.json() == {"accepted": 2, "duplicates": 0}


def test_api_block_refuses_settings(tmp_path):
    conf = tmp_path / "api.conf"
    conf.write_text('plugin_dir = "%s";\nstore: { plugin = "memory"; };\n'
                    'triggers: { api: { plugin = "api"; path = "/x"; }; };\n'
                    % PLUGINS)
    code, out, err = run_crier("check", "-c", str(conf))
    assert code == 2
    assert "api.conf:3: triggers.api.path: unknown setting" in err


def test_sigusr1_reopens_log_file(tmp_path):
    config = SQLITE_API + 'log_file = "var/crier.log";\n'
    c = Crier(tmp_path, config).start()
    log = os.path.join(c.workdir, "var", "crier.log")
    os.rename(log, log + ".1")
    c.proc.send_signal(signal.SIGUSR1)
    for _ in range(100):
        if os.path.exists(log):
            break
        time.sleep(0.05)
    assert c.post("/v1/events", {"type": "x", "visitor": "v"}).status == 202
    assert c.stop() == 0
    with open(log) as f:
        text = f.read()
    assert "log file reopened" in text
    assert "stopped" in text


def test_lengths_count_characters(crier):
    emoji = "\U0001F600"
    cases = [("visitor", 128, "visitor must be a string of 1 to 128 "
              "characters"),
             ("id", 256, "id must be a string of 1 to 256 characters "
              "or a whole number")]
    for field, limit, message in cases:
        ev = {"type": "signup", "visitor": "v-1", field: emoji * limit}
        r = crier.post("/v1/events", ev)
        assert r.status == 202, (field, r.body)
        ev[field] = emoji * (limit + 1)
        r = crier.post("/v1/events", ev)
        assert r.status == 400, field
        assert r.json()["error"] == message
    ev = {"type": "signup", "profile": {"case_id": emoji * 320}}
    assert crier.post("/v1/events", ev).status == 202
    ev["profile"]["case_id"] = emoji * 321
    r = crier.post("/v1/events", ev)
    assert r.status == 400
    assert r.json()["field"] == "profile.case_id"


def test_impossible_times_rejected(crier):
    for when in ["9999-12-31T23:59:59-14:00", "2016-06-15T10:00:61Z",
                 "0001-01-01T00:00:00+14:00"]:
        r = crier.post("/v1/events", {"type": "signup", "visitor": "v-1",
                                      "time": when})
        assert r.status == 400, when
        assert r.json()["field"] == "time"
        assert "0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z" in \
            r.json()["error"]
    r = crier.post("/v1/events", {"type": "signup", "visitor": "v-1",
                                  "time": "2016-12-31T23:59:60Z"})
    assert r.status == 202, r.body
    assert stored_events(crier)[-1]["time"] == "2016-12-31T23:59:59.999Z"


def test_reserved_types_named_in_full(crier):
    r = crier.post("/v1/events", {"type": "date.x", "visitor": "v-1"})
    assert r.status == 400
    assert r.json()["error"] == (
        "type is reserved for the events crier records itself: "
        "segment.*, profile.updated, profile.merged, journey.due, "
        "digest.due and date.*")


def test_http11_without_host_rejected(crier):
    with socket.create_connection(("127.0.0.1", crier.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert b"the Host header is missing" in head
