"""PATCH and PUT /v1/profiles/{id}: an admin changes attributes and
consent, and the pipeline's next batch sees the change."""
import hashlib
import os
import urllib.parse

from crierlib import ROOT, Crier, Store, wait_until

TOKEN = "admin-token-for-patch-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Benefits <benefits@example.gov>"; }; };
attributes: { household_size = "number"; birth_date = "date"; };
rules = (
  { name = "newsletter"; on = "newsletter.ready";
    when = "profile.consent.email != 'revoked'";
    send = { channel = "email"; template = "welcome"; }; }
);
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def signup(c, email="ana@example.gov"):
    """Sends a signup for `email` and returns the profile's id."""
    send(c, [{"type": "signup", "profile": {"email": email},
              "attributes": {"first_name": "Ana", "city": "Springfield"},
              "consent": {"sms": "granted"}}])
    r = c.get("/v1/profiles?email=" + urllib.parse.quote(email),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"]["id"]


def patch(c, profile_id, body, headers=AUTH):
    return c.request("PATCH", "/v1/profiles/" + profile_id, body,
                     headers=headers)


def put(c, profile_id, body):
    return c.request("PUT", "/v1/profiles/" + profile_id, body,
                     headers=AUTH)


def newsletter_jobs(c):
    return [j for j in c.store.jobs() if j["rule"] == "newsletter"]


def test_patch_sets_removes_and_consents(tmp_path):
    c = start(tmp_path)
    pid = signup(c)
    r = patch(c, pid, {"attributes": {"household_size": 4, "city": None},
                       "consent": {"email": "revoked"}})
    assert r.status == 200, r.body
    profile = r.json()["profile"]
    assert profile["id"] == pid
    assert profile["attributes"] == {"first_name": "Ana",
                                     "household_size": 4}
    assert profile["consent"]["email"]["state"] == "revoked"
    assert profile["consent"]["email"]["source"] == "admin"
    assert profile["consent"]["email"]["time"].startswith("20")
    assert profile["consent"]["sms"]["source"] == "api:signup"
    assert profile["identities"] == [{"kind": "email",
                                      "value": "ana@example.gov"}]
    shown = c.get("/v1/profiles/" + pid, headers=AUTH).json()["profile"]
    assert shown == profile
    log = c.log_text()
    assert "profile changed by an admin" in log
    assert "household_size" in log
    assert "Springfield" not in log
    assert c.stop() == 0


def test_admin_revoke_stops_email_rule(tmp_path):
    c = start(tmp_path)
    pid = signup(c)
    r = patch(c, pid, {"consent": {"email": "revoked"}})
    assert r.status == 200, r.body
    send(c, [{"type": "newsletter.ready",
              "profile": {"email": "ana@example.gov"}}])
    assert newsletter_jobs(c) == []
    r = patch(c, pid, {"consent": {"email": "granted"}})
    assert r.status == 200, r.body
    send(c, [{"type": "newsletter.ready",
              "profile": {"email": "ana@example.gov"}}])
    assert len(newsletter_jobs(c)) == 1
    assert c.stop() == 0


def test_put_replaces_attributes(tmp_path):
    c = start(tmp_path)
    pid = signup(c)
    r = put(c, pid, {"attributes": {"birth_date": "2020-02-29"}})
    assert r.status == 200, r.body
    profile = r.json()["profile"]
    assert profile["attributes"] == {"birth_date": "2020-02-29"}
    assert profile["consent"]["sms"]["state"] == "granted"
    r = put(c, pid, {"attributes": {}, "consent": {"email": "granted"}})
    assert r.status == 200, r.body
    consent = r.json()["profile"]["consent"]
    assert list(consent) == ["email"]
    assert consent["email"]["source"] == "admin"
    assert c.stop() == 0


def test_invalid_bodies_400(tmp_path):
    c = start(tmp_path)
    pid = signup(c)
    cases = [
        ({"attributes": {"household_size": "four"}},
         "attributes.household_size"),
        ({"attributes": {"birth_date": "2025-02-30"}},
         "attributes.birth_date"),
        ({"consent": {"email": "maybe"}}, "consent.email"),
        ({"identities": [{"kind": "email", "value": "b@example.gov"}]},
         "identities"),
        ({"stages": {}}, "stages"),
        ({"id": "p_2"}, "id"),
        ({"colour": "blue"}, "colour"),
    ]
    for body, field in cases:
        r = patch(c, pid, body)
        assert r.status == 400, (body, r.body)
        assert r.json()["field"] == field
        assert field in r.json()["error"]
    for body in (["attributes"], "not json"):
        r = patch(c, pid, body if isinstance(body, list) else body.encode())
        assert r.status == 400, body
    r = put(c, pid, {"consent": {"email": "granted"}})
    assert r.status == 400
    assert r.json()["field"] == "attributes"
    profile = c.get("/v1/profiles/" + pid, headers=AUTH).json()["profile"]
    assert profile["attributes"] == {"first_name": "Ana",
                                     "city": "Springfield"}
    assert c.stop() == 0


def test_unknown_profile_404(tmp_path):
    c = start(tmp_path)
    r = patch(c, "p_missing", {"attributes": {"city": "Shelbyville"}})
    assert r.status == 404
    assert r.json()["error"] == "no profile has id p_missing"
    assert put(c, "p_missing", {"attributes": {}}).status == 404
    assert patch(c, "p_1/timeline", {}).status == 404
    assert c.stop() == 0


def test_needs_token(tmp_path):
    c = start(tmp_path)
    pid = signup(c)
    r = patch(c, pid, {"attributes": {"city": None}}, headers={})
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = c.request("PUT", "/v1/profiles/" + pid, {"attributes": {}})
    assert r.status == 401
    assert c.stop() == 0


def test_patch_past_attribute_limit(tmp_path):
    c = start(tmp_path)
    try:
        pid = signup(c)
        many = {"n%d" % i: i for i in range(255)}
        r = patch(c, pid, {"attributes": many})
        assert r.status == 413, r.body
        assert r.json()["field"] == "attributes"
        assert "maximum of 256" in r.json()["error"]
        r = c.get("/v1/profiles/" + pid, headers=AUTH)
        assert "n0" not in r.json()["profile"]["attributes"]
        r = patch(c, pid, {"attributes": {"n%d" % i: i for i in range(254)}})
        assert r.status == 200, r.body
    finally:
        c.stop()


def test_put_past_byte_limit(tmp_path):
    c = start(tmp_path)
    try:
        pid = signup(c)
        r = put(c, pid, {"attributes": {"notes": "x" * 70000}})
        assert r.status == 413, r.body
        assert r.json()["field"] == "attributes"
        assert "bytes as compact JSON" in r.json()["error"]
    finally:
        c.stop()
