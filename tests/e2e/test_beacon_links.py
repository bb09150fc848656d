"""Email click and open tracking on the beacon: GET /c/{token} and
GET /b.gif?m={token}, and the DNT and GPC request headers."""
import base64
import hashlib
import hmac
import http.client
import json
import os

import pytest

from crierlib import Crier, Store

SECRET = "e2e-link-secret"
TARGET = "https://www.example.gov/recalls/cribs?utm_source=email&x=%2F#top"
MESSAGE = "rule:welcome/p-1/7"

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { web: { plugin = "beacon"; link_secret = "%s"; %s }; };
"""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(payload, secret=SECRET):
    """Signs a payload as link_token_sign does."""
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return body + "." + b64url(mac)


def click_token(url=TARGET, secret=SECRET):
    return sign({"m": MESSAGE, "p": {"email": "ana@example.gov"}, "u": url},
                secret)


def raw_get(c, path, headers=None):
    """GETs without following redirects; returns (status, headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        r.read()
        return r.status, r.headers
    finally:
        conn.close()


def events_of(c):
    store = Store(os.path.join(c.workdir, "var", "crier.db"))
    rows = store.query("SELECT type, body FROM events ORDER BY seq")
    return [(r[0], json.loads(r[1])) for r in rows]


@pytest.fixture
def web(tmp_path):
    c = Crier(tmp_path, CONFIG % (SECRET, "honour_dnt = true;")).start()
    yield c
    c.stop()


def test_click_redirects_to_signed_url(web):
    status, headers = raw_get(web, "/c/" + click_token())
    assert status == 302
    assert headers["Location"] == TARGET
    events = events_of(web)
    assert len(events) == 1
    type_, event = events[0]
    assert type_ == "email.clicked"
    assert event["profile"] == {"email": "ana@example.gov"}
    assert event["properties"]["message"] == MESSAGE
    assert event["properties"]["url"] == TARGET


@pytest.mark.parametrize("token", [
    # One character of the signature changed.
    click_token()[:-1] + ("A" if click_token()[-1] != "A" else "B"),
    # Signed with another secret.
    click_token(secret="another-secret"),
    # The payload of another URL under the original signature.
    click_token("https://evil.example/")[:click_token(
        "https://evil.example/").index(".")] +
    click_token()[click_token().index("."):],
    "not-a-token",
    "",
])
def test_bad_token_gets_400(web, token):
    status, headers = raw_get(web, "/c/" + token)
    assert status == 400
    assert headers.get("Location") is None
    assert events_of(web) == []


def test_signed_non_http_url_gets_400(web):
    status, headers = raw_get(web, "/c/" + click_token("javascript:alert(1)"))
    assert status == 400
    assert headers.get("Location") is None
    assert events_of(web) == []


def test_open_pixel_stores_opened(web):
    token = sign({"m": MESSAGE, "p": {"email": "ana@example.gov"}})
    r = web.get("/b.gif?m=" + token,
                headers={"User-Agent": "Mozilla/5.0 (Windows NT 5.1; "
                         "rv:11.0) Gecko Firefox/11.0 (via ggpht.com "
                         "GoogleImageProxy)"})
    assert r.status == 200
    assert r.headers["Content-Type"] == "image/gif"
    [(type_, event)] = events_of(web)
    assert type_ == "email.opened"
    assert event["profile"] == {"email": "ana@example.gov"}
    assert event["properties"]["message"] == MESSAGE
    assert event["properties"]["bot"] == "mail_proxy"


def test_open_pixel_forged_stores_nothing(web):
    r = web.get("/b.gif?m=" + click_token(secret="another-secret"))
    assert r.status == 400
    assert events_of(web) == []


@pytest.mark.parametrize("header", [{"DNT": "1"}, {"Sec-GPC": "1"}])
def test_dnt_headers_store_nothing(web, header):
    status, headers = raw_get(web, "/c/" + click_token(), header)
    assert status == 302
    assert headers["Location"] == TARGET
    assert web.get("/b.gif?v=v-dnt", headers=header).status == 200
    r = web.post("/v1/beacon", {"visitor": "v-dnt"}, headers=header)
    assert r.status == 202
    assert r.json() == {"accepted": 0, "duplicates": 0}
    assert events_of(web) == []


def test_dnt_headers_ignored_by_default(tmp_path):
    c = Crier(tmp_path, CONFIG % (SECRET, "")).start()
    try:
        r = c.post("/v1/beacon", {"visitor": "v-dnt"},
                   headers={"DNT": "1"})
        assert r.status == 202
        assert [t for t, _ in events_of(c)] == ["page_view"]
    finally:
        c.stop()


def test_no_click_route_without_secret(tmp_path):
    c = Crier(tmp_path, """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { web: { plugin = "beacon"; }; };
""").start()
    try:
        status, headers = raw_get(c, "/c/" + click_token())
        assert status == 404
        assert headers.get("Location") is None
    finally:
        c.stop()


def test_example_secret_warns(tmp_path):
    c = Crier(tmp_path, CONFIG % ("change-me", "")).start()
    try:
        assert "the link secret is the example value" in c.log_text()
    finally:
        c.stop()


TRACKED_CONFIG = """
templates = "templates";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  api: { plugin = "api"; };
  web: { plugin = "beacon"; link_secret = "%(secret)s"; };
};
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
delivery: { link_secret = "%(secret)s"; };
rules = (
  { name = "recall"; on = "signup";
    send = { channel = "email"; template = "recall"; }; }
);
"""

TRACKED_HTML = """<html><body>
<p><a href="https://www.example.gov/recalls?a=1&amp;b=2">Read the recall</a>
<a href="mailto:help@example.gov">Write to us</a></p>
</body></html>
"""


def test_sent_email_links_are_tracked(tmp_path):
    """The outbox rewrites the links of a sent email into /c/ links and
    adds the open pixel; both land on the recipient's profile."""
    import re
    from crierlib import body_of, maildir_messages, wait_until

    folder = tmp_path / "templates" / "recall"
    folder.mkdir(parents=True)
    (folder / "subject.mustache").write_text("Crib recall")
    (folder / "text.mustache").write_text("See https://www.example.gov/\n")
    (folder / "html.mustache").write_text(TRACKED_HTML)
    c = Crier(tmp_path, TRACKED_CONFIG % {"secret": SECRET}).start()
    try:
        r = c.post("/v1/events", {"type": "signup",
                                  "profile": {"email": "ana@example.gov"}})
        assert r.status == 202
        outbox = os.path.join(c.workdir, "var", "outbox")
        [msg] = wait_until(lambda: maildir_messages(outbox), timeout=15)
        html = body_of(msg, "html")
        text = body_of(msg, "plain")
        links = re.findall(r'href="([^"]*)"', html)
        pixels = re.findall(r'<img src="([^"]*)"', html)

        assert len(links) == 2
        assert links[0].startswith(c.url + "/c/")
        assert links[1] == "mailto:help@example.gov"
        assert len(pixels) == 1
        assert pixels[0].startswith(c.url + "/b.gif?m=")
        assert html.index("<img") < html.index("</body>")
        assert "https://www.example.gov/" in text

        status, headers = raw_get(c, links[0][len(c.url):])
        assert status == 302
        assert headers["Location"] == "https://www.example.gov/recalls?a=1&b=2"
        assert c.get(pixels[0][len(c.url):]).status == 200

        store = Store(os.path.join(c.workdir, "var", "crier.db"))
        [job] = store.jobs()
        events = events_of(c)
    finally:
        c.stop()
    assert [t for t, _ in events] == ["signup", "email.clicked",
                                      "email.opened"]
    for _, event in events[1:]:
        assert event["profile"] == {"email": "ana@example.gov"}
        assert event["properties"]["message"] == job["key"]
