"""Limits on a profile's size: attributes and related records that would
take a profile past them are ignored, and the rest of the event applies."""
import json
import os
import time

from crierlib import Crier, Store, wait_until

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
"""

ATTRIBUTES_MAX = 256
ATTRIBUTES_BYTES_MAX = 64 * 1024
RELATED_MAX = 256


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def post(c, event):
    r = c.post("/v1/events", event)
    assert r.status == 202, r.body


def profile_of(c, email):
    rows = c.store.query("SELECT p.attributes, p.consent, p.related"
                         " FROM profiles p JOIN identities i"
                         " ON i.profile = p.id"
                         " WHERE i.kind = 'email' AND i.value = ?", email)
    if not rows:
        return None
    attributes, consent, related = rows[0]
    return (json.loads(attributes), json.loads(consent),
            json.loads(related or "{}"))


def test_attribute_flood_stays_bounded(tmp_path):
    c = start(tmp_path)
    try:
        for batch in range(20):
            attrs = {"a%d_%d" % (batch, i): "x" * 40 for i in range(1000)}
            post(c, {"type": "form.submitted",
                     "profile": {"email": "flood@example.gov"},
                     "attributes": attrs})
        began = time.monotonic()
        post(c, {"type": "signup", "profile": {"email": "ana@example.gov"},
                 "attributes": {"first_name": "Ana"}})
        wait_until(c.store.pipeline_done, timeout=30)
        elapsed = time.monotonic() - began
        attributes, _, _ = profile_of(c, "flood@example.gov")
        assert len(attributes) <= ATTRIBUTES_MAX
        assert len(json.dumps(attributes, separators=(",", ":"))) \
            <= ATTRIBUTES_BYTES_MAX
        assert profile_of(c, "ana@example.gov")[0] == {"first_name": "Ana"}
        assert elapsed < 5, elapsed
        log = c.log_text()
        assert "event attributes ignored: profile too large" in log
        assert "seq=1 " in log
    finally:
        c.stop()


def test_rest_of_event_applies(tmp_path):
    c = start(tmp_path)
    try:
        post(c, {"type": "signup", "profile": {"email": "ana@example.gov"},
                 "attributes": {"first_name": "Ana"}})
        too_many = {"n%d" % i: i for i in range(ATTRIBUTES_MAX)}
        post(c, {"type": "form.submitted",
                 "profile": {"email": "ana@example.gov"},
                 "attributes": too_many,
                 "consent": {"email": "revoked"}})
        wait_until(c.store.pipeline_done)
        attributes, consent, _ = profile_of(c, "ana@example.gov")
        assert attributes == {"first_name": "Ana"}
        assert consent["email"]["state"] == "revoked"
        assert "seq=2 " in c.log_text()
    finally:
        c.stop()


def test_dependents_bounded(tmp_path):
    c = start(tmp_path)
    try:
        for batch in range(3):
            dependents = [{"id": "d%d_%d" % (batch, i),
                           "attributes": {"n": i}} for i in range(100)]
            post(c, {"type": "household.updated",
                     "profile": {"email": "ana@example.gov"},
                     "related": {"dependents": dependents}})
        wait_until(c.store.pipeline_done)
        _, _, related = profile_of(c, "ana@example.gov")
        assert len(related["dependents"]) == RELATED_MAX
        assert "related records ignored: profile too large" in c.log_text()
    finally:
        c.stop()
