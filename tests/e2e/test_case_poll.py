"""The case trigger's polling: an Open311 server that the test runs on
loopback, serving the Chicago 2014 service requests."""
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from crierlib import ROOT, Crier, Store, wait_until

sys.path.insert(0, os.path.join(ROOT, "examples", "chicago"))

from residents import load_requests  # noqa: E402

SINCE = "2014-01-01T00:00:00Z"


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Open311Server:
    """Serves GET /requests.json: the records whose requested_datetime lies
    in [start_date, end_date), after the canned failures in `failures`
    ("500", "garbage" or "object"), one per request."""

    def __init__(self, records, failures=()):
        self.records = records
        self.failures = list(failures)
        self.queries = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.handle(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/requests.json" % (
            self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def handle(self, handler):
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self.lock:
            self.queries.append(query)
            failure = self.failures.pop(0) if self.failures else None
        if url.path != "/requests.json":
            status, body = 404, b"{}"
        elif failure == "500":
            status, body = 500, b"internal error"
        elif failure == "garbage":
            status, body = 200, b"<html>maintenance</html>"
        elif failure == "object":
            status, body = 200, b'{"error": "busy"}'
        else:
            start = parse_time(query["start_date"])
            end = parse_time(query["end_date"])
            found = [r for r in self.records
                     if start <= parse_time(r["requested_datetime"]) < end]
            status, body = 200, json.dumps(found).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def query_count(self):
        with self.lock:
            return len(self.queries)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def poll_config(url):
    return """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  city311: { plugin = "case";
             poll = { url = "%s"; interval_s = 1; window_s = 7776000;
                      since = "%s"; updated_param = "updated_after"; }; };
};
""" % (url, SINCE)


def store_of(c):
    return Store(os.path.join(c.workdir, "var", "crier.db"))


def stored_ids(c):
    return [r[0] for r in store_of(c).query(
        "SELECT ext_id FROM events ORDER BY seq")]


def poll_cursor(c):
    rows = store_of(c).query("SELECT value FROM cursors WHERE name = ?",
                             "plugin:city311:poll")
    return rows[0][0] if rows else None


@pytest.fixture
def requests_2014():
    return load_requests()


@pytest.fixture
def open311(requests_2014):
    server = Open311Server(requests_2014)
    yield server
    server.stop()


def test_poll_fetches_every_request(tmp_path, open311, requests_2014):
    c = Crier(tmp_path, poll_config(open311.url)).start()
    try:
        wait_until(lambda: len(stored_ids(c)) == len(requests_2014),
                   timeout=30)
        ids = stored_ids(c)
        assert sorted(i.split("/")[0] for i in ids) == sorted(
            r["service_request_id"] for r in requests_2014)
        closed = [i for i in ids if "/case.closed/" in i]
        assert len(closed) == sum(r["status"] == "closed"
                                  for r in requests_2014)

        # The windows follow each other without a gap.
        queries = list(open311.queries)
        assert queries[0]["start_date"] == SINCE
        for before, after in zip(queries, queries[1:]):
            assert after["start_date"] in (before["start_date"],
                                           before["end_date"])
        assert all(q["updated_after"] == q["start_date"] for q in queries)
        # The cursor catches up with the clock, window after window.
        wait_until(lambda: (poll_cursor(c) or 0) > time.time() * 1000 - 60000,
                   timeout=30)
    finally:
        c.stop()


def test_poll_resumes_after_restart(tmp_path, open311, requests_2014):
    c = Crier(tmp_path, poll_config(open311.url)).start()
    wait_until(lambda: len(stored_ids(c)) == len(requests_2014), timeout=30)
    wait_until(lambda: poll_cursor(c) is not None)
    c.stop()
    cursor = poll_cursor(c)
    seen = open311.query_count()

    c = Crier(tmp_path, poll_config(open311.url)).start()
    try:
        wait_until(lambda: open311.query_count() >= seen + 2, timeout=15)
        resumed = open311.queries[seen]
        resumed_ms = parse_time(resumed["start_date"]).timestamp() * 1000
        assert resumed_ms == cursor // 1000 * 1000
        assert len(stored_ids(c)) == len(requests_2014)
        assert "case poll started" in c.log_text()
    finally:
        c.stop()


def test_poll_failures_retried(tmp_path, requests_2014):
    records = list(requests_2014) + [{"status": "open",
                                      "requested_datetime":
                                      "2014-06-01T00:00:00-05:00"}]
    server = Open311Server(records, failures=["500", "garbage", "object"])
    c = Crier(tmp_path, poll_config(server.url)).start()
    try:
        wait_until(lambda: len(stored_ids(c)) == len(requests_2014),
                   timeout=30)
        starts = [q["start_date"] for q in server.queries[:4]]
        assert starts == [SINCE] * 4
        log = c.log_text()
        assert "HTTP status 500, expected 200" in log
        assert "invalid JSON at line 1" in log
        assert "not a JSON array" in log
        assert log.count("case poll failed") == 3
        assert "case poll record skipped" in log
        assert "field=service_request_id" in log
        assert "maintenance" not in log
    finally:
        c.stop()
        server.stop()
