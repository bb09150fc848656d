"""The webhook channel against a receiver on loopback: signed requests,
each message once, pacing, retries and permanent failures."""
import collections
import hashlib
import hmac
import http.server
import json
import os
import threading
import time

from crierlib import ROOT, Crier, Store, wait_until

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
SECRET = "webhook-test-secret"
TOLERANCE_S = 300
WINDOW_S = 0.9

CONFIG = """
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  cases: { plugin = "webhook"; url = "%(url)s";
           secret = "${WEBHOOK_SECRET}";
           max_per_second = %(rate)d; max_in_flight = %(in_flight)d;
           timeout_ms = 5000; };
};
delivery: { max_attempts = 3; backoff = "1s"; poll = "200ms"; };
programs: { cases: { }; };
rules = (
  { name = "case-note"; program = "cases"; on = "case.updated";
    when = "true";
    send = { channel = "cases"; template = "welcome"; }; }
);
"""


class Receiver:
    """A threaded HTTP server that checks each request's signature and
    records it. The first request of each message gets `first_status`
    and every later one `status`. Every response waits `hold` seconds, so
    that requests overlap and their count can be measured."""

    def __init__(self, hold=0.0, first_status=200, status=200):
        self.hold = hold
        self.first_status = first_status
        self.status = status
        self.requests = []
        self.open = 0
        self.max_open = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                receiver.handle(self)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hooks/crier" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def handle(self, req):
        arrived = time.monotonic()
        with self.lock:
            self.open += 1
            self.max_open = max(self.max_open, self.open)

        body = req.rfile.read(int(req.headers["Content-Length"]))
        stamp = req.headers.get("X-Crier-Timestamp", "")
        digest = hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                          hashlib.sha256).hexdigest()
        doc = json.loads(body)

        with self.lock:
            record = {"arrived": arrived, "body": doc,
                      "signed": hmac.compare_digest(
                          "sha256=" + digest,
                          req.headers.get("X-Crier-Signature", "")),
                      "fresh": abs(time.time() - int(stamp or 0))
                      <= TOLERANCE_S,
                      "header_id": req.headers.get("X-Crier-Message-Id"),
                      "content_type": req.headers.get("Content-Type")}
            first = all(r["body"]["message_id"] != doc["message_id"]
                        for r in self.requests)
            self.requests.append(record)
            status = self.first_status if first else self.status

        time.sleep(self.hold)
        with self.lock:
            self.open -= 1

        reply = b'{"error": "subject is not allowed here"}' \
            if status == 400 else b'{"ok": true}'
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(reply)))
        if status == 503:
            req.send_header("Retry-After", "1")
        if status == 200:
            req.send_header("X-Request-Id", "rcv-" + doc["message_id"])
        req.end_headers()
        req.wfile.write(reply)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start(tmp_path, receiver, rate=50, in_flight=4):
    config = CONFIG % {"templates": TEMPLATES, "url": receiver.url,
                       "rate": rate, "in_flight": in_flight}
    c = Crier(tmp_path, config, env={"WEBHOOK_SECRET": SECRET}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def post_cases(c, count):
    events = [{"type": "case.updated", "id": "case-%d" % i,
               "profile": {"case_id": "c-%d" % i,
                           "url": "https://cases.example.gov/r/%d" % i},
               "attributes": {"first_name": "Resident %d" % i},
               "properties": {"url": "https://example.gov/case/%d" % i}}
              for i in range(count)]
    r = c.post("/v1/events", events)
    assert r.status == 202


def settled(c, count):
    jobs = c.store.jobs()
    return len(jobs) == count and all(
        j["state"] in ("sent", "failed", "dead") for j in jobs)


def test_webhook_each_message_once_signed_and_paced(tmp_path):
    count, rate, in_flight = 12, 4, 2
    receiver = Receiver(hold=0.3)
    c = start(tmp_path, receiver, rate=rate, in_flight=in_flight)
    try:
        post_cases(c, count)
        wait_until(lambda: settled(c, count), timeout=60)
        jobs = c.store.jobs()
        provider_ids = c.store.query("SELECT message_id, provider_id"
                                     " FROM jobs")
        profiles = dict(c.store.query("SELECT message_id, profile"
                                      " FROM jobs"))
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0

    assert [j["state"] for j in jobs] == ["sent"] * count
    reqs = receiver.requests
    ids = collections.Counter(r["body"]["message_id"] for r in reqs)
    assert set(ids) == {j["message_id"] for j in jobs}
    assert max(ids.values()) == 1
    assert all(r["signed"] for r in reqs)
    assert all(r["fresh"] for r in reqs)
    assert all(r["header_id"] == r["body"]["message_id"] for r in reqs)
    assert all(r["content_type"] == "application/json" for r in reqs)
    for message_id, provider_id in provider_ids:
        assert provider_id == "rcv-" + message_id

    body = reqs[0]["body"]
    assert body["rule"] == "case-note"
    assert body["channel"] == "cases"
    assert body["to"].startswith("https://cases.example.gov/r/")
    assert body["profile"] == profiles[body["message_id"]]
    assert body["subject"].startswith("Welcome, Resident ")
    assert "you read https://example.gov/case/" in body["text"]
    assert body["key"].startswith("rule:case-note/")

    # Pacing: no window of WINDOW_S contains more than the rate, give or
    # take one. crier paces when it hands a request to libcurl, and a
    # loaded machine delays some requests more than others on their way
    # to the receiver. So the window is a little shorter than a second and
    # one request of slack is allowed. Without pacing, all of them would
    # arrive at once. The first `rate` requests may go at once and the
    # rest arrive at the rate. The receiver never saw more open requests
    # than max_in_flight.
    times = sorted(r["arrived"] for r in reqs)
    busiest = max(sum(1 for t in times if start_t <= t < start_t + WINDOW_S)
                  for start_t in times)
    print("arrivals=%s busiest=%d max_open=%d"
          % (["%.3f" % (t - times[0]) for t in times], busiest,
             receiver.max_open))
    assert busiest <= rate + 1
    assert (count - rate) / (times[-1] - times[0]) <= rate * 1.1
    assert receiver.max_open <= in_flight
    assert receiver.max_open == in_flight


def test_webhook_paced_past_lease_sent_once(tmp_path):
    """Messages that wait for pacing longer than half the lease go back
    to the outbox as retries, so no second claim sends them again."""
    count = 12
    receiver = Receiver()
    config = (CONFIG % {"templates": TEMPLATES, "url": receiver.url,
                        "rate": 2, "in_flight": 1}).replace(
        'max_attempts = 3;', 'max_attempts = 50; lease = "2s"; max_backoff = "2s";')
    c = Crier(tmp_path, config, env={"WEBHOOK_SECRET": SECRET}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        post_cases(c, count)
        wait_until(lambda: settled(c, count), timeout=90)
        jobs = c.store.jobs()
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0
    assert [j["state"] for j in jobs] == ["sent"] * count
    ids = collections.Counter(r["body"]["message_id"]
                              for r in receiver.requests)
    assert set(ids) == {j["message_id"] for j in jobs}
    assert max(ids.values()) == 1
    # A message given back was never requested, so each job counts only
    # the request that sent it.
    assert [j["attempts"] for j in jobs] == [1] * count
    assert "waited past its hand-over time" in c.log_text()


def test_webhook_503_then_200_delivers_once(tmp_path):
    receiver = Receiver(first_status=503)
    c = start(tmp_path, receiver)
    try:
        post_cases(c, 1)
        wait_until(lambda: settled(c, 1), timeout=30)
        jobs = c.store.jobs()
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0
    assert jobs[0]["state"] == "sent"
    assert jobs[0]["attempts"] == 2
    attempts = [r["body"]["attempt"] for r in receiver.requests]
    assert attempts == [1, 2]
    # The 503 asked for a wait of one second.
    gap = receiver.requests[1]["arrived"] - receiver.requests[0]["arrived"]
    assert gap >= 1.0
    ids = {r["body"]["message_id"] for r in receiver.requests}
    assert ids == {jobs[0]["message_id"]}


def test_webhook_400_fails_without_retry(tmp_path):
    receiver = Receiver(first_status=400, status=400)
    c = start(tmp_path, receiver)
    try:
        post_cases(c, 1)
        wait_until(lambda: settled(c, 1), timeout=30)
        # Longer than the backoff, so a retry would have happened.
        time.sleep(2.0)
        jobs = c.store.jobs()
    finally:
        code = c.stop()
        receiver.stop()
    assert code == 0
    assert jobs[0]["state"] == "failed"
    assert jobs[0]["attempts"] == 1
    assert "HTTP 400" in jobs[0]["error"]
    assert "subject is not allowed here" in jobs[0]["error"]
    assert len(receiver.requests) == 1
