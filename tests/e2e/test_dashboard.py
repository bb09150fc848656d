"""The dashboard at /admin/: login, session cookie, the page's charts and
tables, and in headless Chromium its layout at 320 px and WCAG 2.1 AA
(axe-core)."""
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import urllib.parse

import pytest

from crierlib import ROOT, Crier, Store, wait_until
from test_beacon_browser import CHROMIUM, CHROMIUM_FLAGS

TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
TOKEN = "admin-token-for-dashboard-tests"
NODE_DIR = os.path.join(ROOT, "tests", "e2e", "node")

CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
programs: { snap-benefits: { }; };
rules = (
  { name = "snap-invite"; program = "snap-benefits"; on = "page_view";
    send = { channel = "email"; template = "welcome"; };
    stage = "consideration"; },
  { name = "snap-adopt"; program = "snap-benefits"; on = "applied";
    stage = "adoption"; }
);
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    events = [{"type": "page_view", "profile": {"email": "r%d@example.gov" % i}}
              for i in range(6)]
    events += [{"type": "applied", "profile": {"email": "r%d@example.gov" % i}}
               for i in range(2)]
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202
    wait_until(c.store.pipeline_done)
    wait_until(lambda: all(j["state"] == "sent" for j in c.store.jobs()))
    return c


class Raw:
    """A response read without following redirects."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def post(c, path, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    try:
        conn.request("POST", path, body, headers)
        r = conn.getresponse()
        return Raw(r.status, r.headers, r.read())
    finally:
        conn.close()


def login(c, token=TOKEN, headers=None):
    body = urllib.parse.urlencode({"token": token})
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return post(c, "/admin/login", body, h)


def text_of(r):
    return r.body.decode() if isinstance(r.body, bytes) else r.body


def test_dashboard_login_and_page(tmp_path):
    c = start(tmp_path)
    r = c.get("/admin/")
    assert r.status == 200
    assert '<label for="token">' in text_of(r)
    assert "<svg" not in text_of(r)

    assert login(c, "wrong").status == 401
    assert login(c, headers={"Origin": "http://evil.example"}).status == 403
    r = login(c)
    assert r.status == 303
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("crier_session=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/admin/"):
        assert flag in cookie
    assert TOKEN not in cookie
    session = cookie.split(";")[0]

    r = c.get("/admin/", headers={"Cookie": session})
    assert r.status == 200
    page = text_of(r)
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    assert "<script" not in page
    assert page.count('class="bar"') == 5
    assert page.count('class="line"') == 5
    # The funnel's text equivalent: 4 in consideration, 2 in adoption.
    assert ('<th scope="row">consideration</th><td class="n">4</td>'
            '<td class="n">6</td>') in page
    assert ('<th scope="row">adoption</th><td class="n">2</td>'
            '<td class="n">2</td>') in page
    assert '<th scope="row">snap-invite</th><td class="n">6</td>' in page

    # The bearer token works as for the API; logging out ends the session.
    r = c.get("/admin/", headers={"Authorization": "Bearer " + TOKEN})
    assert 'class="bar"' in text_of(r)
    r = post(c, "/admin/logout", "", {"Cookie": session})
    assert r.status == 303
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    r = c.get("/admin/", headers={"Cookie": session})
    assert "<svg" not in text_of(r)
    assert c.stop() == 0


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_login_page_in_chromium(tmp_path):
    c = start(tmp_path)
    try:
        dom = subprocess.run(
            [CHROMIUM] + CHROMIUM_FLAGS +
            ["--user-data-dir=%s" % (tmp_path / "profile"), "--dump-dom",
             c.url + "/admin/"],
            capture_output=True, text=True, timeout=60).stdout
        assert '<input id="token" name="token" type="password"' in dom
        assert '<label for="token">Admin token</label>' in dom
    finally:
        assert c.stop() == 0


def node_tools():
    """Installs playwright-core and axe-core from the npm registry into
    tests/e2e/node; returns the reason when that is not possible."""
    if shutil.which("node") is None:
        return "node is not installed"
    p = subprocess.run([os.path.join(ROOT, "scripts", "install-node-deps")],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return "npm packages not installed: " + p.stderr.strip()[-300:]
    return None


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_dashboard_in_chromium_with_axe(tmp_path):
    reason = node_tools()
    if reason:
        pytest.skip(reason)
    c = start(tmp_path)
    out = os.environ.get("CRIER_SCREENSHOTS",
                         os.path.join(os.environ.get("CRIER_BUILD",
                                                     str(tmp_path)),
                                      "screenshots"))
    os.makedirs(out, exist_ok=True)
    try:
        p = subprocess.run(["node", os.path.join(NODE_DIR, "dashboard.js"),
                            c.url, TOKEN, out],
                           capture_output=True, text=True, timeout=120,
                           cwd=NODE_DIR)
        assert p.returncode == 0, p.stderr
        result = json.loads(p.stdout)
    finally:
        assert c.stop() == 0
    assert result["title"] == "crier reports"
    assert result["funnels"] == 1
    assert result["bars"] == 5
    assert result["lines"] == 5
    assert result["tables"] == 3
    assert result["scripts"] == 0
    assert result["rules"][0].startswith("snap-invite")
    assert result["cookies"] == [{"name": "crier_session", "httpOnly": True,
                                  "sameSite": "Strict"}]
    # Nothing is wider than a 320 px phone: wide tables scroll inside
    # their own region.
    assert result["scrollWidth"] <= 320
    assert result["violations"] == []
    assert result["loginViolations"] == []
    for name in ("dashboard-320.png", "dashboard-1024.png"):
        with open(os.path.join(out, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
