"""A fake SMS provider on loopback that speaks the Twilio Messages API.

It records every request and responds from a queue of scenario responses.
Once the queue is empty it accepts each message with 201 and a new sid.
"""
import http.server
import json
import threading
import urllib.parse


class FakeTwilio:
    def __init__(self, port=0):
        self.requests = []
        self.answers = []
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                with fake.lock:
                    fake.requests.append({
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"),
                        "form": dict(urllib.parse.parse_qsl(body)),
                    })
                    n = len(fake.requests)
                    answer = fake.answers.pop(0) if fake.answers else None
                if answer is None:
                    answer = (201, {}, {"sid": "SM%032d" % n,
                                        "status": "queued"})
                status, headers, payload = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def answer(self, status, payload, headers=None):
        """Queues one response for the next request."""
        with self.lock:
            self.answers.append((status, headers or {}, payload))

    def count(self):
        with self.lock:
            return len(self.requests)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
