"""Limits on slow clients, connections per address and beacon requests."""
import socket
import time

from crierlib import Crier

BEACON = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
clock = "test";
triggers: { web: { plugin = "beacon"; max_requests_per_minute = 3; }; };
"""

STORE = 'store: { plugin = "memory"; };\n'

HIT = "/b.gif?t=page_view&v=visitor-1&u=https%3A%2F%2Fwww.example.gov%2F"


def connect(c):
    s = socket.create_connection(("127.0.0.1", c.port), timeout=10)
    return s


def closed_within(s, seconds):
    """Returns the seconds until the server closed `s`, or None."""
    start = time.time()
    s.settimeout(0.1)
    while time.time() - start < seconds:
        try:
            if s.recv(4096) == b"":
                return time.time() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.time() - start
    return None


def trickle_until_closed(s, data, interval, limit):
    """Sends `data` a byte every `interval` s; returns bytes sent before
    the server closed, or None when it never did within `limit` s."""
    start = time.time()
    for i, byte in enumerate(data):
        if time.time() - start > limit:
            return None
        try:
            s.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            return i
        if closed_within(s, interval) is not None:
            return i + 1
    return None


def test_header_trickle_closed(tmp_path):
    c = Crier(tmp_path, STORE + 'header_timeout_ms = 1000;\n').start()
    s = connect(c)
    head = b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"x" * 200
    start = time.time()
    sent = trickle_until_closed(s, head, 0.1, 10)
    took = time.time() - start
    assert sent is not None, "the server kept a trickling header"
    assert sent < len(head)
    assert 0.9 <= took < 4, took
    s.close()
    c.stop()


def test_body_trickle_closed(tmp_path):
    c = Crier(tmp_path, STORE + 'body_timeout_ms = 1000;\n').start()
    s = connect(c)
    s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: a\r\n"
              b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n")
    start = time.time()
    sent = trickle_until_closed(s, b"[" + b" " * 499, 0.1, 10)
    took = time.time() - start
    assert sent is not None, "the server kept a trickling body"
    assert sent < 500
    assert 0.9 <= took < 4, took
    s.close()
    c.stop()


def test_body_in_time_served(tmp_path):
    """A body that arrives within the time-out is read as usual."""
    c = Crier(tmp_path, STORE + 'body_timeout_ms = 2000;\n').start()
    s = connect(c)
    s.sendall(b"POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
              b"Connection: close\r\n\r\nab")
    time.sleep(0.5)
    s.sendall(b"cd")
    s.settimeout(5)
    reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 404 "), reply
    s.close()
    c.stop()


def test_connections_per_ip(tmp_path):
    c = Crier(tmp_path, STORE + 'max_connections_per_ip = 3;\n').start()
    open_socks = [connect(c) for _ in range(3)]
    for s in open_socks:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")

    extra = connect(c)
    assert closed_within(extra, 3) is not None, "a 4th connection stayed"
    extra.close()

    # Closing one makes room for another.
    open_socks.pop().close()
    time.sleep(0.2)
    again = connect(c)
    again.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
    assert again.recv(4096).startswith(b"HTTP/1.1 200 ")
    again.close()
    for s in open_socks:
        s.close()
    assert "too many from one address" in c.log_text()
    c.stop()


def test_trusted_proxy_not_limited(tmp_path):
    c = Crier(tmp_path, STORE + 'max_connections_per_ip = 2;\n'
              'trusted_proxies = [ "127.0.0.1" ];\n').start()
    open_socks = [connect(c) for _ in range(4)]
    for s in open_socks:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
        s.close()
    c.stop()


def test_beacon_rate_limit(tmp_path):
    c = Crier(tmp_path, BEACON).start()
    for _ in range(3):
        assert c.get(HIT).status == 200
    r = c.get(HIT)
    assert r.status == 429
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60

    # Without trusted_proxies, X-Forwarded-For does not change the client.
    r = c.get(HIT, headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status == 429

    # A POSTed hit is limited too, with a JSON reason.
    r = c.post("/v1/beacon", {"type": "page_view", "visitor": "visitor-1"},
               headers={"Content-Type": "application/json"})
    assert r.status == 429
    assert "Retry-After" in r.json()["error"]

    # The next minute of the crier clock starts a new count.
    assert c.post("/v1/test/clock", {"advance": "%ds" % retry}).status == 200
    assert c.get(HIT).status == 200
    assert "beacon requests rate limited" in c.log_text()
    c.stop()


def test_beacon_rate_limit_behind_proxy(tmp_path):
    c = Crier(tmp_path, BEACON + 'trusted_proxies = [ "127.0.0.1" ];\n')
    c.start()
    for _ in range(3):
        r = c.get(HIT, headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status == 200
    r = c.get(HIT, headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status == 429

    # Behind a trusted proxy each forwarded client has its own count.
    r = c.get(HIT, headers={"X-Forwarded-For": "198.51.100.4"})
    assert r.status == 200
    c.stop()
