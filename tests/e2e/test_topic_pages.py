"""The hosted pages of topics with the real binary: the subscribe form and
its double opt-in, the preference page, signed links that fail when
edited, and in headless Chromium WCAG 2.1 AA (axe-core), 320 px,
keyboard use and JavaScript off."""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest

from crierlib import (ROOT, Crier, Store, body_of, maildir_messages,
                      run_crier, wait_until)
from test_beacon_browser import CHROMIUM
from test_dashboard import node_tools

TOKEN = "admin-token-for-page-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
NODE_DIR = os.path.join(ROOT, "tests", "e2e", "node")
SECRET = "page-secret-for-tests-0123456789abcdef"

CONFIG = """
clock = "test";
templates = "%(templates)s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: {
  email: { plugin = "email"; outbox = "var/outbox";
           from = "City of Example <alerts@example.gov>"; };
};
topics = (
  { name = "crib-recalls"; title = "Crib recalls";
    category = "Child safety"; channels = [ "email" ]; },
  { name = "road-closures"; title = "Road closures in Ward 3";
    category = "Streets"; channels = [ "email" ]; },
  { name = "snow-days"; title = "Snow days";
    category = "Streets"; channels = [ "email" ]; }
);
pages: { secret = "%(secret)s"; confirm_template = "topic-confirm";
         confirm_ttl = "2h"; };
admin: { tokens = [ "sha256:%(digest)s" ]; };
"""

TEMPLATES = {
    "topic-confirm": {
        "subject": "Confirm your subscription",
        "text": "Confirm here: {{confirm_url}}\n"
                "Your choices: {{preferences_url}}\n",
    },
    "news": {
        "subject": "News",
        "text": "Main Street is closed.\n"
                "Your choices: {{preferences_url}}\n",
    },
}


def start_templates(templates):
    """Writes the test's templates under `templates`."""
    for name, parts in TEMPLATES.items():
        os.makedirs(os.path.join(templates, name), exist_ok=True)
        for part, text in parts.items():
            with open(os.path.join(templates, name, part + ".mustache"),
                      "w") as f:
                f.write(text)


def start(workdir):
    templates = os.path.join(str(workdir), "templates")
    start_templates(templates)
    text = CONFIG % {"templates": templates, "secret": SECRET,
                     "digest": hashlib.sha256(TOKEN.encode()).hexdigest()}
    c = Crier(workdir, text).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.outbox = os.path.join(c.workdir, "var", "outbox")
    return c


def form_post(c, path, fields):
    body = urllib.parse.urlencode(fields, doseq=True)
    return c.request("POST", path, body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})


def links_in(c, to, name):
    """Returns every `name` link (confirm or prefs) in mail to `to`."""
    out = []
    for m in maildir_messages(c.outbox):
        if m["To"] == to:
            out += re.findall(r"(http://\S+/p/%s/\S+)" % name,
                              body_of(m, "plain"))
    return out


def subscriptions(c, email):
    r = c.get("/v1/profiles?email=" + urllib.parse.quote(email),
              headers=AUTH)
    assert r.status == 200, r.body
    pid = r.json()["profile"]["id"]
    r = c.get("/v1/subscriptions?profile=" + pid, headers=AUTH)
    return {(s["topic"], s["channel"]): s for s in
            r.json()["subscriptions"]}


def subscribe_and_confirm(c, email, topic="crib-recalls"):
    r = form_post(c, "/p/topics/" + topic, {"email": email})
    assert r.status == 200, r.body
    wait_until(lambda: links_in(c, email, "confirm"))
    path = urllib.parse.urlparse(links_in(c, email, "confirm")[-1]).path
    r = c.post(path, b"")
    assert r.status == 200, r.body
    return path


def tamper(path):
    """Changes the recipient inside a signed token, keeping its signature."""
    prefix, token = path.rsplit("/", 1)
    payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["p"]["profile"] = data["p"]["profile"][:-1] + (
        "0" if data["p"]["profile"][-1] != "0" else "1")
    forged = base64.urlsafe_b64encode(
        json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return "%s/%s.%s" % (prefix, forged, signature)


def test_subscribe_form_double_opt_in(tmp_path):
    c = start(tmp_path)
    try:
        r = c.get("/p/topics/crib-recalls")
        assert r.status == 200
        page = r.body.decode()
        assert '<label for="email">Email address</label>' in page
        assert "<script" not in page
        assert "script-src" not in r.headers["Content-Security-Policy"]
        assert c.get("/p/topics/nope").status == 404

        r = form_post(c, "/p/topics/crib-recalls", {"email": "not an email"})
        assert r.status == 400
        assert 'aria-invalid="true"' in r.body.decode()

        r = form_post(c, "/p/topics/crib-recalls",
                      {"email": "Ana@Example.gov"})
        assert r.status == 200
        assert "Check your email" in r.body.decode()
        subs = subscriptions(c, "ana@example.gov")
        assert subs[("crib-recalls", "email")]["status"] == "pending"
        assert subs[("crib-recalls", "email")]["origin"] == "page"

        wait_until(lambda: links_in(c, "ana@example.gov", "confirm"))
        link = urllib.parse.urlparse(
            links_in(c, "ana@example.gov", "confirm")[0]).path
        r = c.get(link)
        assert r.status == 200
        assert "Confirm subscription" in r.body.decode()
        assert subscriptions(c, "ana@example.gov")[
            ("crib-recalls", "email")]["status"] == "pending"

        assert c.post(tamper(link), b"").status == 404
        assert c.post(link[:-2] + "xx", b"").status == 404
        r = c.post(link, b"")
        assert r.status == 200
        assert "You will get email about" in r.body.decode()
        assert subscriptions(c, "ana@example.gov")[
            ("crib-recalls", "email")]["status"] == "confirmed"
    finally:
        c.stop()


def test_confirm_link_expires(tmp_path):
    c = start(tmp_path)
    try:
        r = form_post(c, "/p/topics/crib-recalls", {"email": "bo@example.gov"})
        assert r.status == 200
        wait_until(lambda: links_in(c, "bo@example.gov", "confirm"))
        link = urllib.parse.urlparse(
            links_in(c, "bo@example.gov", "confirm")[0]).path
        r = c.post("/v1/test/clock", {"now": "2026-01-01T02:00:01Z"})
        assert r.status == 200
        r = c.post(link, b"")
        assert r.status == 410
        assert "/p/topics/crib-recalls" in r.body.decode()
        assert subscriptions(c, "bo@example.gov")[
            ("crib-recalls", "email")]["status"] == "pending"
    finally:
        c.stop()


def test_preference_page_changes_and_all(tmp_path):
    c = start(tmp_path)
    try:
        subscribe_and_confirm(c, "cy@example.gov")
        subscribe_and_confirm(c, "di@example.gov")
        prefs = urllib.parse.urlparse(
            links_in(c, "cy@example.gov", "prefs")[0]).path
        r = c.get(prefs)
        assert r.status == 200
        page = r.body.decode()
        assert re.search(r'value="crib-recalls:email" checked', page)
        assert "<legend>Streets</legend>" in page

        # An edited token reaches nobody's page.
        assert c.get(tamper(prefs)).status == 404
        assert form_post(c, tamper(prefs), {"action": "all"}).status == 404

        r = form_post(c, prefs, {"action": "save",
                                 "sub": ["road-closures:email",
                                         "snow-days:email"]})
        assert r.status == 200
        assert "Your choices are saved" in r.body.decode()
        subs = subscriptions(c, "cy@example.gov")
        assert subs[("crib-recalls", "email")]["status"] == "unsubscribed"
        assert subs[("road-closures", "email")]["status"] == "confirmed"
        assert subs[("snow-days", "email")]["status"] == "confirmed"
        # The other resident is untouched.
        assert subscriptions(c, "di@example.gov")[
            ("crib-recalls", "email")]["status"] == "confirmed"

        r = form_post(c, prefs, {"action": "all"})
        assert r.status == 200
        subs = subscriptions(c, "cy@example.gov")
        assert {s["status"] for s in subs.values()} == {"unsubscribed"}
        wait_until(c.store.pipeline_done)
        r = c.get("/v1/profiles?email=cy@example.gov", headers=AUTH)
        assert r.json()["profile"]["consent"]["email"]["state"] == "revoked"
    finally:
        c.stop()


def test_unsubscribe_all_revokes_every_channel(tmp_path):
    """"Unsubscribe from all" revokes consent on email and SMS, the
    channels the page lists, not email only."""
    from fake_twilio import FakeTwilio
    from test_sms import AUTH_TOKEN, one_provider

    fake = FakeTwilio()
    templates = os.path.join(str(tmp_path), "templates")
    start_templates(templates)
    text = CONFIG % {"templates": templates, "secret": SECRET,
                     "digest": hashlib.sha256(TOKEN.encode()).hexdigest()}
    text = text.replace("channels: {", "channels: {\n  sms: { plugin = "
                        "\"sms\"; default_region = \"US\"; %s };"
                        % one_provider(fake.url))
    text = text.replace('channels = [ "email" ]; },\n  { name = "road',
                        'channels = [ "email", "sms" ]; },\n  { name = "road')
    c = Crier(tmp_path, text, env={"SMS_AUTH_TOKEN": AUTH_TOKEN}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.outbox = os.path.join(c.workdir, "var", "outbox")
    try:
        subscribe_and_confirm(c, "fay@example.gov")
        r = c.post("/v1/events", {"type": "phone.added", "profile": {
            "email": "fay@example.gov", "phone": "+13125550142"}})
        assert r.status == 202, r.body
        wait_until(c.store.pipeline_done)
        r = c.request("POST", "/v1/subscriptions", {"subscriptions": [
            {"email": "fay@example.gov", "topic": "crib-recalls",
             "channel": "sms", "status": "confirmed"}]}, headers=AUTH)
        assert r.json() == {"written": 1, "missing": []}
        prefs = urllib.parse.urlparse(
            links_in(c, "fay@example.gov", "prefs")[0]).path
        assert 'value="crib-recalls:sms" checked' in c.get(prefs).body.decode()

        assert form_post(c, prefs, {"action": "all"}).status == 200
        subs = subscriptions(c, "fay@example.gov")
        assert subs[("crib-recalls", "sms")]["status"] == "unsubscribed"
        assert {s["status"] for s in subs.values()} == {"unsubscribed"}
        wait_until(c.store.pipeline_done)
        r = c.get("/v1/profiles?email=fay@example.gov", headers=AUTH)
        consent = r.json()["profile"]["consent"]
        assert consent["email"]["state"] == "revoked"
        assert consent["sms"]["state"] == "revoked"
        assert consent["sms"]["source"] == "pages:preferences.unsubscribed"
        assert fake.count() == 0
    finally:
        c.stop()
        fake.stop()


def test_bulletin_links_preferences(tmp_path):
    c = start(tmp_path)
    try:
        subscribe_and_confirm(c, "ed@example.gov", "road-closures")
        r = c.request("POST", "/v1/bulletins",
                      {"template": "news", "topic": "road-closures"},
                      headers=AUTH)
        assert r.status == 201, r.body
        bid = r.json()["id"]
        wait_until(lambda: c.request("GET", "/v1/bulletins/" + bid,
                                     headers=AUTH).json()["state"]
                   == "complete")
        news = [m for m in maildir_messages(c.outbox) if m["Subject"] ==
                "News"]
        assert len(news) == 1
        link = re.search(r"(http://\S+/p/prefs/\S+)",
                         body_of(news[0], "plain")).group(1)
        r = c.get(urllib.parse.urlparse(link).path)
        assert r.status == 200
        assert re.search(r'value="road-closures:email" checked',
                         r.body.decode())
    finally:
        c.stop()


def test_confirm_grants_consent_again(tmp_path):
    """A resident who unsubscribed from all, then subscribes and confirms
    again, gets bulletins: the confirmation grants the channel's consent
    that "Unsubscribe from all" revoked."""
    c = start(tmp_path)
    try:
        subscribe_and_confirm(c, "gil@example.gov")
        prefs = urllib.parse.urlparse(
            links_in(c, "gil@example.gov", "prefs")[0]).path
        assert form_post(c, prefs, {"action": "all"}).status == 200
        wait_until(c.store.pipeline_done)
        r = c.get("/v1/profiles?email=gil@example.gov", headers=AUTH)
        assert r.json()["profile"]["consent"]["email"]["state"] == "revoked"

        # A confirmation message is keyed by its time, and the test
        # clock does not advance by itself.
        r = c.post("/v1/test/clock", {"now": "2026-01-01T00:10:00Z"})
        assert r.status == 200, r.body
        r = form_post(c, "/p/topics/crib-recalls",
                      {"email": "gil@example.gov"})
        assert r.status == 200, r.body
        wait_until(lambda: len(links_in(c, "gil@example.gov",
                                        "confirm")) == 2)
        path = urllib.parse.urlparse(
            links_in(c, "gil@example.gov", "confirm")[-1]).path
        r = c.post(path, b"")
        assert r.status == 200, r.body
        # Status and consent are stored before the page responds.
        assert subscriptions(c, "gil@example.gov")[
            ("crib-recalls", "email")]["status"] == "confirmed"
        r = c.get("/v1/profiles?email=gil@example.gov", headers=AUTH)
        consent = r.json()["profile"]["consent"]["email"]
        assert consent["state"] == "granted"
        assert consent["source"] == "pages:subscription.confirmed"

        r = c.request("POST", "/v1/bulletins",
                      {"template": "news", "topic": "crib-recalls"},
                      headers=AUTH)
        assert r.status == 201, r.body
        bid = r.json()["id"]
        wait_until(lambda: c.request("GET", "/v1/bulletins/" + bid,
                                     headers=AUTH).json()["state"]
                   == "complete")
        progress = c.request("GET", "/v1/bulletins/" + bid,
                             headers=AUTH).json()["progress"]
        assert progress["sent"] == 1, progress
        assert progress["suppressed"] == 0, progress
    finally:
        c.stop()


def test_confirm_after_erase_does_nothing(tmp_path):
    c = start(tmp_path)
    try:
        r = form_post(c, "/p/topics/crib-recalls",
                      {"email": "hal@example.gov"})
        assert r.status == 200, r.body
        wait_until(lambda: links_in(c, "hal@example.gov", "confirm"))
        path = urllib.parse.urlparse(
            links_in(c, "hal@example.gov", "confirm")[0]).path
        r = c.get("/v1/profiles?email=hal@example.gov", headers=AUTH)
        pid = r.json()["profile"]["id"]
        r = c.request("DELETE", "/v1/profiles/" + pid, headers=AUTH)
        assert r.status == 200, r.body

        r = c.post(path, b"")
        assert r.status in (404, 410), r.body
        assert "no longer valid" in r.body.decode()
        assert c.store.query("SELECT count(*) FROM subscriptions "
                             "WHERE profile = ?", pid) == [(0,)]
        assert c.store.query("SELECT count(*) FROM profiles "
                             "WHERE id = ?", pid) == [(0,)]
    finally:
        c.stop()


def test_preference_form_needs_action(tmp_path):
    c = start(tmp_path)
    try:
        subscribe_and_confirm(c, "ida@example.gov")
        prefs = urllib.parse.urlparse(
            links_in(c, "ida@example.gov", "prefs")[0]).path
        for fields in ({"action": "everything"}, {},
                       {"sub": ["snow-days:email"]}):
            r = form_post(c, prefs, fields)
            assert r.status == 400, fields
        subs = subscriptions(c, "ida@example.gov")
        assert subs[("crib-recalls", "email")]["status"] == "confirmed"
        assert ("snow-days", "email") not in subs
        wait_until(c.store.pipeline_done)
        r = c.get("/v1/profiles?email=ida@example.gov", headers=AUTH)
        assert r.json()["profile"]["consent"]["email"]["state"] \
            == "granted"
    finally:
        c.stop()


def test_concurrent_forms_make_one_profile(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    c = start(tmp_path)
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(
                lambda i: form_post(c, "/p/topics/crib-recalls",
                                    {"email": "jo@example.gov"}).status,
                range(20)))
        assert statuses == [200] * 20
        assert c.store.query("SELECT count(*) FROM profiles") == [(1,)]
        assert c.store.query(
            "SELECT count(*) FROM profiles WHERE id NOT IN "
            "(SELECT profile FROM identities)") == [(0,)]
    finally:
        c.stop()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_pages_in_chromium_with_axe(tmp_path):
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
        confirm = subscribe_and_confirm(c, "fay@example.gov")
        prefs = urllib.parse.urlparse(
            links_in(c, "fay@example.gov", "prefs")[0]).path
        p = subprocess.run(["node", os.path.join(NODE_DIR, "pages.js"),
                            c.url, "/p/topics/road-closures", confirm, prefs,
                            out],
                           capture_output=True, text=True, timeout=180,
                           cwd=NODE_DIR)
        assert p.returncode == 0, p.stderr
        result = json.loads(p.stdout)
        subs = subscriptions(c, "fay@example.gov")
        typed = subscriptions(c, "gus@example.gov")
        plain = subscriptions(c, "hal@example.gov")
    finally:
        c.stop()
    for name in ("subscribe", "sent", "confirm", "prefs", "saved"):
        page = result[name]
        assert page["violations"] == [], (name, page["violations"])
        assert page["scrollWidth"] <= 320, name
        assert page["scripts"] == 0, name
    assert result["subscribe"]["forms"] == 1
    assert result["subscribe"]["focused"] == ["email", "submit"]
    assert result["sent"]["heading"] == "Check your email"
    assert result["saved"]["status"] == "Your choices are saved."
    assert result["nojs"]["heading"] == "Check your email"
    # The keyboard round trip on the preference page ticked Snow days.
    assert subs[("snow-days", "email")]["status"] == "confirmed"
    assert subs[("crib-recalls", "email")]["status"] == "confirmed"
    assert result["prefs"]["afterBox"] == "Save choices"
    # The keyboard and the JavaScript-free forms each left a pending
    # subscription.
    assert typed[("road-closures", "email")]["status"] == "pending"
    assert plain[("road-closures", "email")]["status"] == "pending"
    sizes = result["shots"]
    for name in ("subscribe-form-320.png", "prefs-320.png",
                 "sent-320.png"):
        with open(os.path.join(out, name), "rb") as f:
            head = f.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(head[16:20], "big")
        height = int.from_bytes(head[20:24], "big")
        assert 0 < width <= 320, name
        assert height > 40, name
        assert sizes[name]["inked"] > 0.01, name


def test_config_errors_name_key(tmp_path):
    templates = os.path.join(str(tmp_path), "templates")
    cases = [
        ('{ name = "Crib Recalls"; title = "X"; category = "Y"; '
         'channels = [ "email" ]; }', "topics[0]", "lowercase"),
        ('{ name = "crib"; title = "X"; category = "Y"; '
         'channels = [ "fax" ]; }', "topics[0]", "not configured"),
        ('{ name = "crib"; title = "X"; category = "Y"; '
         'channels = [ "email" ]; colour = "red"; }', "colour", "unknown"),
    ]
    for n, (topic, key, words) in enumerate(cases):
        text = CONFIG % {"templates": templates, "secret": SECRET,
                         "digest": "0" * 64}
        text = re.sub(r"topics = \(.*?\n\);", "topics = ( %s );" % topic,
                      text, flags=re.S)
        workdir = os.path.join(str(tmp_path), "case%d" % n)
        os.makedirs(workdir)
        start_templates(templates)
        c = Crier(workdir, text)
        code, out, err = run_crier("check", "-c", c.conf)
        assert code != 0, topic
        assert key in out + err, (topic, out + err)
        assert words in out + err, (topic, out + err)

    text = CONFIG % {"templates": templates, "secret": "short",
                     "digest": "0" * 64}
    workdir = os.path.join(str(tmp_path), "secret")
    os.makedirs(workdir)
    code, out, err = run_crier("check", "-c", Crier(workdir, text).conf)
    assert code != 0
    assert "pages.secret" in out + err
    assert "openssl rand" in out + err
