"""Typed profile attributes: declared types are checked and normalised at
ingest, stored as normalised, and seen that way by rules."""
import json
import os

from crierlib import Crier, Store, run_crier, wait_until

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
attributes: {
  first_name = "string";
  household_size = "number";
  veteran = "bool";
  birth_date = "date";
  timezone = "timezone";
  language = "language";
};
programs: { snap: { }; };
rules = (
  { name = "spanish-speakers"; program = "snap"; on = "signup";
    when = "profile.language == 'es-MX'
            && profile.birth_date == '1990-06-01'";
    stage = "consideration"; }
);
"""

GOOD = {"first_name": "Ana", "household_size": 3, "veteran": False,
        "birth_date": "1990-06-01", "timezone": "America/Chicago",
        "language": "es-mx", "nickname": ["free", "form"]}


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, event):
    r = c.post("/v1/events", event)
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def attributes_of(c, email):
    rows = c.store.query("SELECT p.attributes FROM profiles p JOIN"
                         " identities i ON i.profile = p.id"
                         " WHERE i.kind = 'email' AND i.value = ?", email)
    return json.loads(rows[0][0]) if rows else None


def signup(email, attributes):
    return {"type": "signup", "profile": {"email": email},
            "attributes": attributes}


def test_good_event_stores_normalised_values(tmp_path):
    c = start(tmp_path)
    try:
        send(c, signup("ana@example.gov", GOOD))
        assert attributes_of(c, "ana@example.gov") == dict(GOOD,
                                                           language="es-MX")
        # The rule compared the stored, normalised values.
        assert c.store.stage_of("email", "ana@example.gov",
                                "snap") == "consideration"
    finally:
        c.stop()


def test_wrong_type_rejected_and_nothing_stored(tmp_path):
    c = start(tmp_path)
    try:
        bad = signup("ben@example.gov", {"first_name": "Ben",
                                         "birth_date": "2025-02-29"})
        r = c.post("/v1/events", {"events": [signup("cy@example.gov", GOOD),
                                             bad]})
        assert r.status == 400
        body = r.json()
        assert body["index"] == 1
        assert body["field"] == "attributes.birth_date"
        assert body["error"] == ("attributes.birth_date must be a date"
                                 " such as 2025-03-14")

        r = c.post("/v1/events", signup("ben@example.gov",
                                         {"veteran": "true"}))
        assert r.status == 400
        assert r.json()["field"] == "attributes.veteran"

        assert c.store.query("SELECT count(*) FROM events") == [(0,)]
    finally:
        c.stop()


def test_wrong_type_names_json_type(tmp_path):
    c = start(tmp_path)
    try:
        cases = [
            ({"household_size": True}, "attributes.household_size",
             "attributes.household_size must be a number such as 4,"
             " not a bool"),
            ({"veteran": 0}, "attributes.veteran",
             "attributes.veteran must be true or false, not a number"),
            ({"veteran": "yes"}, "attributes.veteran",
             "attributes.veteran must be true or false, not a string"),
            ({"first_name": [1]}, "attributes.first_name",
             "attributes.first_name must be a string, not an array"),
            ({"timezone": "posixrules"}, "attributes.timezone",
             "attributes.timezone must be an IANA time zone name such as"
             " America/Chicago"),
            ({"timezone": "right/UTC"}, "attributes.timezone", None),
            ({"": 1}, "attributes", None),
        ]
        for attributes, field, error in cases:
            r = c.post("/v1/events", signup("eve@example.gov", attributes))
            assert r.status == 400, attributes
            assert r.json()["field"] == field
            if error is not None:
                assert r.json()["error"] == error
        assert c.store.query("SELECT count(*) FROM events") == [(0,)]
    finally:
        c.stop()


def test_empty_name_rejected_without_types(tmp_path):
    c = Crier(tmp_path, 'store: { plugin = "memory"; };\n'
              'triggers: { api: { plugin = "api"; }; };\n').start()
    try:
        r = c.post("/v1/events", signup("fay@example.gov", {"": 1}))
        assert r.status == 400
        assert r.json()["field"] == "attributes"
    finally:
        c.stop()


def test_null_removes_declared_attribute(tmp_path):
    c = start(tmp_path)
    try:
        send(c, signup("dee@example.gov", GOOD))
        send(c, signup("dee@example.gov", {"birth_date": None,
                                           "timezone": None}))
        stored = attributes_of(c, "dee@example.gov")
        assert "birth_date" not in stored
        assert "timezone" not in stored
        assert stored["language"] == "es-MX"
    finally:
        c.stop()


def test_check_rejects_unknown_type(tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('store: { plugin = "memory"; };\n'
                    'attributes: {\n'
                    '  first_name = "string";\n'
                    '  birth_date = "datetime";\n'
                    '};\n')
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert ("%s:4: attributes.birth_date: unknown type \"datetime\"" % conf
            in err + out)
