"""Template language variants, required fields, preview and test sends,
against the templates in tests/data/e2e-lang-templates."""
import hashlib
import os
import urllib.parse

from crierlib import (ROOT, Crier, Store, body_of, maildir_messages,
                      wait_until)

TOKEN = "admin-token-for-template-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-lang-templates")
CONFIG = """
templates = "%s";
default_language = "en";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; outbox = "var/outbox";
                     from = "Safety <safety@example.gov>"; }; };
attributes: { first_name = "string"; language = "language"; };
rules = (
  { name = "crib-recall"; on = "recall.announced";
    send = { channel = "email"; template = "crib-safety"; }; }
);
admin: { tokens = [ "sha256:%s" ];
         test_recipients = [ "@staff.example.gov", "lead@example.org" ]; };
""" % (TEMPLATES, hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    c.maildir = os.path.join(c.workdir, "var", "outbox")
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def recall(email, attributes):
    return {"type": "recall.announced", "profile": {"email": email},
            "attributes": attributes}


def profile_id(c, email):
    r = c.get("/v1/profiles?email=%s" % urllib.parse.quote(email),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"]["id"]


def jobs_by_recipient(c):
    rows = c.store.query("SELECT recipient, state, error, language FROM jobs")
    return {r[0]: {"state": r[1], "error": r[2], "language": r[3]}
            for r in rows}


def settled(c, count):
    jobs = jobs_by_recipient(c)
    return len(jobs) == count and all(
        j["state"] in ("sent", "failed") for j in jobs.values())


def messages_to(c, address):
    return [m for m in maildir_messages(c.maildir) if m["To"] == address]


def test_language_variant_and_default(tmp_path):
    c = start(tmp_path)
    send(c, [recall("ana@example.gov", {"first_name": "Ana",
                                        "language": "es-MX"}),
             recall("bo@example.gov", {"first_name": "Bo"})])
    wait_until(lambda: settled(c, 2))

    jobs = jobs_by_recipient(c)
    assert jobs["ana@example.gov"] == {"state": "sent", "error": None,
                                       "language": "es"}
    assert jobs["bo@example.gov"] == {"state": "sent", "error": None,
                                      "language": "en"}
    (spanish,) = messages_to(c, "ana@example.gov")
    assert spanish["Subject"] == "Seguridad de cunas para Ana"
    assert body_of(spanish, "plain") == "Hola Ana, revise su cuna.\n"
    (default,) = messages_to(c, "bo@example.gov")
    assert default["Subject"] == "Crib safety for Bo"
    assert c.stop() == 0


def test_missing_required_field_fails_alone(tmp_path):
    c = start(tmp_path)
    send(c, [recall("a@example.gov", {"first_name": "Ana"}),
             recall("b@example.gov", {"first_name": ""}),
             recall("c@example.gov", {"first_name": "Cy"})])
    wait_until(lambda: settled(c, 3))

    jobs = jobs_by_recipient(c)
    assert jobs["a@example.gov"]["state"] == "sent"
    assert jobs["b@example.gov"]["state"] == "failed"
    assert "missing profile.first_name" in jobs["b@example.gov"]["error"]
    assert jobs["c@example.gov"]["state"] == "sent"
    # Each recipient was handled once: one message each for the others.
    assert len(messages_to(c, "a@example.gov")) == 1
    assert len(messages_to(c, "b@example.gov")) == 0
    assert len(messages_to(c, "c@example.gov")) == 1
    attempts = c.store.query("SELECT recipient, attempts FROM jobs"
                             " ORDER BY recipient")
    assert attempts == [("a@example.gov", 1), ("b@example.gov", 0),
                        ("c@example.gov", 1)]
    assert c.stop() == 0


def test_preview_for_profile(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "profile": {"email": "ana@example.gov"},
              "attributes": {"first_name": "Ana", "language": "es-MX"}}])
    pid = profile_id(c, "ana@example.gov")

    r = c.post("/v1/templates/crib-safety/preview", {"profile": pid},
               headers=AUTH)
    assert r.status == 200, r.body
    body = r.json()
    version = body.pop("version")
    assert len(version) == 12
    assert int(version, 16) >= 0
    assert body == {"template": "crib-safety", "language": "es",
                        "subject": "Seguridad de cunas para Ana",
                        "text": "Hola Ana, revise su cuna.\n",
                        "html": None}

    # A language in the body overrides the profile's.
    r = c.post("/v1/templates/crib-safety/preview",
               {"profile": pid, "language": "en-GB"}, headers=AUTH)
    assert r.status == 200, r.body
    assert r.json()["language"] == "en"
    assert r.json()["version"] != version
    assert r.json()["html"] == "<p>Hello Ana &amp; family.</p>\n"
    # A preview sends nothing and plans no job.
    assert c.store.query("SELECT count(*) FROM jobs") == [(0,)]
    assert c.stop() == 0


def test_preview_for_sample_data(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/templates/crib-safety/preview",
               {"data": {"profile": {"first_name": "Zoe",
                                     "language": "es"}}}, headers=AUTH)
    assert r.status == 200, r.body
    assert r.json()["subject"] == "Seguridad de cunas para Zoe"
    assert r.json()["language"] == "es"

    r = c.post("/v1/templates/crib-safety/preview",
               {"data": {"profile": {}}}, headers=AUTH)
    assert r.status == 422, r.body
    assert r.json()["field"] == "profile.first_name"
    assert r.json()["error"] == "missing profile.first_name"
    assert c.stop() == 0


def test_preview_rejects_bad_requests(tmp_path):
    c = start(tmp_path)
    cases = [
        ("/v1/templates/nope/preview", {"data": {}}, 404, None),
        ("/v1/templates/crib-safety/preview", {}, 400, "profile"),
        ("/v1/templates/crib-safety/preview",
         {"data": {}, "profile": "p"}, 400, "profile"),
        ("/v1/templates/crib-safety/preview", {"data": []}, 400, "data"),
        ("/v1/templates/crib-safety/preview", {"profile": 7}, 400,
         "profile"),
        ("/v1/templates/crib-safety/preview",
         {"data": {}, "language": "not a tag"}, 400, "language"),
        ("/v1/templates/crib-safety/preview", {"profile": "p_missing"},
         404, "profile"),
        ("/v1/templates/crib-safety/other", {"data": {}}, 404, None),
    ]
    for path, body, status, field in cases:
        r = c.post(path, body, headers=AUTH)
        assert r.status == status, (path, body, r.body)
        assert r.json().get("field") == field, (path, body, r.body)
    r = c.post("/v1/templates/crib-safety/preview", {"data": {}})
    assert r.status == 401
    assert c.stop() == 0


def test_test_send_reaches_staff_and_is_not_counted(tmp_path):
    c = start(tmp_path)
    r = c.post("/v1/templates/crib-safety/test",
               {"to": "Inspector@Staff.Example.gov", "language": "es",
                "data": {"profile": {"first_name": "Prueba"}}},
               headers=AUTH)
    assert r.status == 200, r.body
    assert r.json()["sent"] is True
    assert r.json()["language"] == "es"

    (msg,) = maildir_messages(c.maildir)
    assert msg["To"] == "Inspector@Staff.Example.gov"
    assert msg["Subject"] == "Seguridad de cunas para Prueba"
    assert msg["Message-ID"] == r.json()["message_id"]
    # No job records the test, so job counts never include it.
    assert c.store.query("SELECT count(*) FROM jobs") == [(0,)]
    assert c.stop() == 0


def test_test_send_only_to_listed_addresses(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "profile": {"email": "ana@example.gov"},
              "attributes": {"first_name": "Ana"}}])
    pid = profile_id(c, "ana@example.gov")
    for to in ("ana@example.gov", "x@sub.staff.example.gov",
               "other@example.org"):
        r = c.post("/v1/templates/crib-safety/test",
                   {"to": to, "profile": pid}, headers=AUTH)
        assert r.status == 403, (to, r.body)
        assert r.json()["field"] == "to"
    r = c.post("/v1/templates/crib-safety/test", {"profile": pid},
               headers=AUTH)
    assert r.status == 400
    assert r.json()["field"] == "to"
    r = c.post("/v1/templates/crib-safety/test",
               {"to": "lead@example.org", "profile": pid,
                "channel": "sms"}, headers=AUTH)
    assert r.status == 400
    assert r.json()["field"] == "channel"
    assert maildir_messages(c.maildir) == []

    # A profile's data, sent to a listed address, never to the resident.
    r = c.post("/v1/templates/crib-safety/test",
               {"to": "lead@example.org", "profile": pid}, headers=AUTH)
    assert r.status == 200, r.body
    (msg,) = maildir_messages(c.maildir)
    assert msg["To"] == "lead@example.org"
    assert msg["Subject"] == "Crib safety for Ana"
    assert c.stop() == 0
