"""TLS in front of crier: nginx on loopback with a self-signed certificate
that the test makes, as docs/security.md describes."""
import os
import shutil
import ssl
import subprocess
import time
import urllib.request

import pytest

from crierlib import Crier, free_port, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
clock = "test";
trusted_proxies = [ "127.0.0.2" ];
triggers: { web: { plugin = "beacon"; max_requests_per_minute = 2; }; };
"""

NGINX_CONF = """
daemon off;
master_process off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  server {
    listen 127.0.0.1:%(tls_port)d ssl;
    ssl_certificate %(dir)s/cert.pem;
    ssl_certificate_key %(dir)s/key.pem;
    location / {
      proxy_pass http://127.0.0.1:%(crier_port)d;
      proxy_bind 127.0.0.2;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
"""

HIT = "/b.gif?t=page_view&v=visitor-1&u=https%3A%2F%2Fwww.example.gov%2F"


@pytest.fixture
def proxied(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tls / "key.pem"),
                    "-out", str(tls / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    port = free_port()
    conf = tls / "nginx.conf"
    conf.write_text(NGINX_CONF % {"dir": tls, "tls_port": port,
                                  "crier_port": c.port})
    proc = subprocess.Popen([NGINX, "-p", str(tls), "-c", str(conf)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(tls / "cert.pem"))
    base = "https://127.0.0.1:%d" % port

    def up():
        try:
            with urllib.request.urlopen(base + "/healthz", context=context,
                                        timeout=2) as r:
                return r.status == 200
        except OSError:
            return proc.poll() is not None
    wait_until(up, timeout=20)
    assert proc.poll() is None, proc.stderr.read()
    yield c, base, context
    proc.terminate()
    proc.wait(10)
    c.stop()


def get(base, path, context, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=context, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def test_https_reaches_crier(proxied):
    c, base, context = proxied
    status, headers = get(base, "/healthz", context)
    assert status == 200
    assert headers["Server"].startswith("nginx")


def test_plain_http_to_tls_port_fails(proxied):
    c, base, context = proxied
    with pytest.raises(OSError):
        urllib.request.urlopen(base.replace("https", "http") + "/healthz",
                               timeout=5).read()


def test_client_address_from_proxy(proxied):
    """nginx connects from 127.0.0.2, the one trusted proxy, and appends
    the client (127.0.0.1) to X-Forwarded-For, so crier limits the
    client, and an address the client forges to the left is ignored."""
    c, base, context = proxied
    for _ in range(2):
        assert get(base, HIT, context)[0] == 200
    status, headers = get(base, HIT, context)
    assert status == 429
    assert int(headers["Retry-After"]) >= 1

    status, _ = get(base, HIT, context, {"X-Forwarded-For": "198.51.100.9"})
    assert status == 429

    # Straight to crier, the client is not a trusted proxy, so its
    # X-Forwarded-For is not read at all.
    r = c.get(HIT, headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status == 429

    # A new minute on the crier clock lets the client in again.
    assert c.post("/v1/test/clock", {"advance": "60s"}).status == 200
    assert get(base, HIT, context)[0] == 200
