"""Consent per channel: set by events, merged, shown and read by rules."""
import hashlib
import os
import urllib.parse

from crierlib import ROOT, Crier, Store, wait_until

TOKEN = "admin-token-for-consent-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
CONFIG = """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Benefits <benefits@example.gov>"; }; };
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


def profile_by(c, kind, value):
    r = c.get("/v1/profiles?%s=%s" % (kind, urllib.parse.quote(value)),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"]


def newsletter_jobs(c):
    return [j for j in c.store.jobs() if j["rule"] == "newsletter"]


def test_revoke_shows_in_admin_api(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "form.submitted", "time": "2026-01-02T10:00:00Z",
              "profile": {"email": "ana@example.gov"},
              "consent": {"email": "revoked", "sms": "granted"}}])

    consent = profile_by(c, "email", "ana@example.gov")["consent"]
    assert consent == {
        "email": {"state": "revoked", "source": "api:form.submitted",
                  "time": "2026-01-02T10:00:00.000Z"},
        "sms": {"state": "granted", "source": "api:form.submitted",
                "time": "2026-01-02T10:00:00.000Z"},
    }
    assert c.stop() == 0


def test_invalid_consent_rejected(tmp_path):
    c = start(tmp_path)
    for consent, field in (({"email": "yes"}, "consent.email"),
                           ({"Email": "revoked"}, "consent.Email"),
                           (["email"], "consent")):
        r = c.post("/v1/events", {"type": "t", "visitor": "v-1",
                                  "consent": consent})
        assert r.status == 400, r.body
        assert r.json()["field"] == field
        assert field in r.json()["error"]
    assert c.stop() == 0


def test_merge_keeps_revoked(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "opt_out", "time": "2026-01-02T10:00:00Z",
              "profile": {"email": "bo@example.gov"},
              "consent": {"sms": "revoked"}}])
    known = profile_by(c, "email", "bo@example.gov")["id"]
    # Later, in a fresh browser, the anonymous visitor grants sms.
    send(c, [{"type": "opt_in", "time": "2026-01-03T10:00:00Z",
              "visitor": "v-bo", "consent": {"sms": "granted",
                                             "email": "granted"}}])
    anonymous = profile_by(c, "visitor", "v-bo")
    assert anonymous["id"] != known
    assert anonymous["consent"]["sms"]["state"] == "granted"

    send(c, [{"type": "form.submitted", "visitor": "v-bo",
              "profile": {"email": "bo@example.gov"}}])

    merged = profile_by(c, "visitor", "v-bo")
    assert merged["id"] == known
    assert merged["consent"]["sms"] == {
        "state": "revoked", "source": "api:opt_out",
        "time": "2026-01-02T10:00:00.000Z"}
    # A kind only the anonymous profile had goes over.
    assert merged["consent"]["email"]["state"] == "granted"
    assert merged["consent"]["email"]["source"] == "api:opt_in"
    assert c.stop() == 0


def test_rule_skips_email_after_revoke(tmp_path):
    c = start(tmp_path)
    ana = {"email": "ana@example.gov"}
    send(c, [{"type": "newsletter.ready", "profile": ana}])
    assert len(newsletter_jobs(c)) == 1

    send(c, [{"type": "preferences.saved", "profile": ana,
              "consent": {"email": "revoked"}}])
    send(c, [{"type": "newsletter.ready", "profile": ana}])
    assert len(newsletter_jobs(c)) == 1

    # Granting again lets the next newsletter through.
    send(c, [{"type": "preferences.saved", "profile": ana,
              "consent": {"email": "granted"}}])
    send(c, [{"type": "newsletter.ready", "profile": ana}])
    assert len(newsletter_jobs(c)) == 2
    assert c.stop() == 0
