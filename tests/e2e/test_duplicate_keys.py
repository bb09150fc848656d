"""JSON bodies that give a key twice get 400 naming the key."""
import hashlib
import os

import pytest

from crierlib import Crier, Store

TOKEN = "admin-token-for-tests"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
AUTH = {"Authorization": "Bearer " + TOKEN}

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; web: { plugin = "beacon"; }; };
admin: { tokens = [ "sha256:%s" ]; };
""" % DIGEST


@pytest.fixture
def crier(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    yield c
    c.stop()


def stored_events(c):
    return c.store.query("SELECT type FROM events")


def assert_duplicate(r, key):
    assert r.status == 400, r.body
    assert 'duplicate key "%s"' % key in r.json()["error"]


def test_events_route_rejects(crier):
    body = ('{"type": "ok", "profile": {"email": "ana@example.gov"},'
            ' "type": "dup"}')
    r = crier.post("/v1/events", body,
                   headers={"Content-Type": "application/json"})
    assert_duplicate(r, "type")
    assert stored_events(crier) == []


def test_nested_key_named(crier):
    body = ('{"type": "ok", "profile": {"email": "ana@example.gov",'
            ' "email": "eve@example.gov"}}')
    r = crier.post("/v1/events", body,
                   headers={"Content-Type": "application/json"})
    assert_duplicate(r, "email")


def test_escaped_key_named(crier):
    body = '{"a\\"b": 1, "a\\"b": 2}'
    r = crier.post("/v1/events", body,
                   headers={"Content-Type": "application/json"})
    assert_duplicate(r, 'a\\"b')


def test_beacon_rejects(crier):
    r = crier.post("/v1/beacon", '{"type":"ok","visitor":"v","type":"dup"}',
                   headers={"Content-Type": "application/json"})
    assert_duplicate(r, "type")
    assert stored_events(crier) == []


def test_admin_route_rejects(crier):
    headers = dict(AUTH, **{"Content-Type": "application/json"})
    r = crier.post("/v1/admin/pause",
                   '{"channel": "email", "channel": "sms"}', headers=headers)
    assert_duplicate(r, "channel")


def test_single_keys_accepted(crier):
    body = '{"type": "ok", "profile": {"email": "ana@example.gov"}}'
    r = crier.post("/v1/events", body,
                   headers={"Content-Type": "application/json"})
    assert r.status == 202, r.body
