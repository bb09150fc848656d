"""Helpers for the reload and upgrade tests: a webhook receiver that
records every request, and a bounded load of events on fresh
connections that counts refused connections and failed requests."""
import ctypes
import hashlib
import http.client
import http.server
import json
import os
import signal
import threading
import time

TOKEN = "reload-test-token"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
AUTH = {"Authorization": "Bearer " + TOKEN}
PR_SET_CHILD_SUBREAPER = 36


def write_templates(root, subjects):
    """Writes one template per name in `subjects`, whose subject line is
    the given text followed by the profile's first name."""
    for name, subject in subjects.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "subject.mustache"), "w") as f:
            f.write(subject + " {{profile.first_name}}\n")
        with open(os.path.join(folder, "text.mustache"), "w") as f:
            f.write("Hello {{profile.first_name}}.\n")


class Receiver:
    """A threaded HTTP server that responds 200 to every POST after `hold`
    seconds and records the path, the body and two headers."""

    def __init__(self, hold=0.0):
        self.hold = hold
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.hold)
                with receiver.lock:
                    receiver.requests.append({
                        "path": self.path, "time": time.monotonic(),
                        "body": json.loads(body),
                        "message_id": self.headers["X-Crier-Message-Id"],
                        "agent": self.headers["User-Agent"]})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Load:
    """Posts `count` events from `threads` threads, each on a new
    connection, at most `rate` a second in all. Records the time and
    status of every response, and every connection error."""

    def __init__(self, port, count, threads=2, rate=100):
        self.port = port
        self.count = count
        self.gap = threads / float(rate)
        self.results = {}         # event number -> (responded, status)
        self.errors = []          # (event number, repr of the error)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i, threads))
                        for i in range(threads)]

    def event(self, n):
        return {"type": "visit", "id": "visit-%d" % n,
                "profile": {"url": "https://example.org/r/%d" % n,
                            "email": "r%d@example.org" % n},
                "attributes": {"first_name": "R%d" % n}}

    def _post(self, n):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", "/v1/events", json.dumps(self.event(n)),
                         {"Content-Type": "application/json"})
            status = conn.getresponse().status
            with self.lock:
                self.results[n] = (time.monotonic(), status)
        except OSError as e:
            with self.lock:
                self.errors.append((n, repr(e)))
        finally:
            conn.close()

    def _run(self, first, step):
        for n in range(first, self.count, step):
            self._post(n)
            time.sleep(self.gap)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def wait(self, timeout=120):
        for t in self.threads:
            t.join(timeout)

    def posted(self):
        with self.lock:
            return len(self.results) + len(self.errors)


def become_subreaper():
    """Makes this process the parent of every crier that an upgrade
    starts, once the crier that started it exits, so that stop_pid can
    reap it (PR_SET_CHILD_SUBREAPER, Linux 3.4 and later)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def stop_pid(pid, timeout=20):
    """Stops a crier that an upgrade started with SIGTERM, and reaps it
    (become_subreaper made it a child of the test). Returns its exit
    status."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("crier %d did not stop within %ds" % (pid, timeout))
