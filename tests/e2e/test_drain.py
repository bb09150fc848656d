"""Draining keep-alive connections on SIGTERM, as an upgrade (SIGUSR2)
does: a request sent just after the drain began is answered with
"Connection: close", and an idle connection closes after a short grace."""
import json
import signal
import socket
import time

from crierlib import Crier

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""


def event_request(visitor):
    body = json.dumps({"type": "visit", "visitor": visitor}).encode()
    return (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def read_response(sock):
    """Reads one response; returns (status, headers in lowercase, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "connection closed before a response: %r" % data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(4096)
        assert chunk
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:length]


def test_request_after_drain_answered(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    with socket.create_connection(("127.0.0.1", c.port), timeout=5) as s:
        s.sendall(event_request("v-1"))
        status, headers, _ = read_response(s)
        assert status == 202
        assert headers.get("connection") != "close"

        c.proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        s.sendall(event_request("v-2"))
        status, headers, body = read_response(s)
        assert status == 202, body
        assert headers["connection"] == "close"
        assert s.recv(4096) == b""
    assert c.proc.wait(10) == 0


def test_idle_connection_closed_after_grace(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    with socket.create_connection(("127.0.0.1", c.port), timeout=5) as s:
        s.sendall(event_request("v-1"))
        assert read_response(s)[0] == 202

        began = time.monotonic()
        c.proc.send_signal(signal.SIGTERM)
        assert s.recv(4096) == b""
        waited = time.monotonic() - began
    assert c.proc.wait(10) == 0
    assert 0.2 <= waited < 2
