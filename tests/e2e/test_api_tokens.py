"""The api trigger's bearer tokens: who may send events."""
import hashlib
import os

from crierlib import Crier, Store, run_crier

TOKEN = "event-sender-token-for-tests"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
EVENT = {"type": "form.submitted", "profile": {"email": "ana@example.gov"},
         "consent": {"email": "revoked"}}

CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; %(tokens)s }; };
"""

TOKENS = 'tokens = [ "sha256:%s" ];' % DIGEST


def start(tmp_path, tokens=TOKENS):
    c = Crier(tmp_path, CONFIG % {"tokens": tokens}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def stored_events(c):
    return c.store.query("SELECT count(*) FROM events")[0][0]


def test_missing_token_rejected(tmp_path):
    c = start(tmp_path)
    try:
        r = c.post("/v1/events", EVENT)
        assert r.status == 401
        assert r.json()["field"] == "Authorization"
        assert "missing Authorization" in r.json()["error"]
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert stored_events(c) == 0
    finally:
        c.stop()


def test_wrong_token_rejected(tmp_path):
    c = start(tmp_path)
    try:
        r = c.post("/v1/events", EVENT,
                   headers={"Authorization": "Bearer not-the-token"})
        assert r.status == 401
        assert r.json()["field"] == "Authorization"
        assert r.json()["error"] == "invalid bearer token"
        r = c.post("/v1/events", EVENT,
                   headers={"Authorization": "Basic " + TOKEN})
        assert r.status == 401
        assert r.json()["field"] == "Authorization"
        assert stored_events(c) == 0
        assert TOKEN not in c.log_text()
    finally:
        c.stop()


def test_right_token_accepted(tmp_path):
    c = start(tmp_path)
    try:
        r = c.post("/v1/events", EVENT,
                   headers={"Authorization": "bearer " + TOKEN})
        assert r.status == 202, r.body
        assert r.json()["accepted"] == 1
        assert stored_events(c) == 1
    finally:
        c.stop()


def test_no_tokens_route_open(tmp_path):
    c = start(tmp_path, tokens="")
    try:
        r = c.post("/v1/events", EVENT)
        assert r.status == 202, r.body
        assert "event API open to anyone" not in c.log_text()
    finally:
        c.stop()


def test_bad_digest_fails_check(tmp_path):
    c = Crier(tmp_path, CONFIG % {"tokens": 'tokens = [ "md5:abc" ];'})
    code, out, err = run_crier("check", "-c", c.conf)
    assert code != 0
    assert "triggers.api.tokens[0]" in err
    assert "sha256sum" in err


def test_empty_tokens_fails_check(tmp_path):
    c = Crier(tmp_path, CONFIG % {"tokens": 'tokens = [ ];'})
    code, out, err = run_crier("check", "-c", c.conf)
    assert code != 0
    assert "triggers.api.tokens" in err


def public_listen_config(tmp_path, tokens):
    """Writes a config that listens on all addresses, for `check` only:
    check loads the plugins but opens no socket."""
    c = Crier(tmp_path, CONFIG % {"tokens": tokens})
    with open(c.conf) as f:
        text = f.read()
    with open(c.conf, "w") as f:
        f.write(text.replace('listen = "127.0.0.1:', 'listen = "0.0.0.0:'))
    return c


def test_public_listen_without_tokens_warns(tmp_path):
    c = public_listen_config(tmp_path, "")
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 0, err
    assert "event API open to anyone" in err
    assert "set tokens" in err


def test_public_listen_with_tokens_quiet(tmp_path):
    c = public_listen_config(tmp_path, TOKENS)
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 0, err
    assert "event API open to anyone" not in err
