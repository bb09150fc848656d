"""POST /v1/profiles/{id}/merge: one resident known under two profiles."""
import hashlib
import os

from crierlib import Crier, Store, wait_until

TOKEN = "merge-test-token"
AUTH = {"Authorization": "Bearer " + TOKEN}
CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
admin: { tokens = [ "sha256:%s" ]; };
""" % hashlib.sha256(TOKEN.encode()).hexdigest()


def start(tmp_path):
    c = Crier(tmp_path, CONFIG).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, events):
    r = c.post("/v1/events", {"events": events})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def profile(c, query):
    r = c.get("/v1/profiles?" + query, headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"]


def test_merge_two_known_profiles(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "profile": {"email": "ana@example.gov"},
              "attributes": {"first_name": "Ana"},
              "consent": {"sms": "granted"}},
             {"type": "signup", "profile": {"phone": "+13125550100"},
              "attributes": {"first_name": "A.", "ward": "21"},
              "consent": {"sms": "revoked"}},
             {"type": "page_view", "profile": {"phone": "+13125550100"}}])
    into = profile(c, "email=ana@example.gov")["id"]
    source = profile(c, "phone=%2B13125550100")["id"]
    assert into != source

    r = c.post("/v1/profiles/%s/merge" % into, {"from": source},
               headers=AUTH)
    assert r.status == 200, r.body
    assert r.json() == {"merged": True, "from": source, "into": into}

    merged = profile(c, "phone=%2B13125550100")
    assert merged["id"] == into
    assert merged["attributes"] == {"first_name": "Ana", "ward": "21"}
    # The more restrictive consent wins.
    assert merged["consent"]["sms"]["state"] == "revoked"
    # The three events of both, and the one that records the merge.
    wait_until(c.store.pipeline_done)
    events = c.store.query("SELECT type FROM events WHERE profile = ?"
                           " ORDER BY seq", into)
    assert [e[0] for e in events] == ["signup", "signup", "page_view",
                                      "profile.merged"]
    status = c.get("/v1/profiles/" + source, headers=AUTH).status
    assert status == 200   # followed the 301 to the surviving profile
    c.stop()


def test_merge_refuses_bad_requests(tmp_path):
    c = start(tmp_path)
    send(c, [{"type": "signup", "profile": {"email": "bo@example.gov"}}])
    bo = profile(c, "email=bo@example.gov")["id"]
    path = "/v1/profiles/%s/merge" % bo
    assert c.post(path, {"from": bo}).status == 401
    r = c.post(path, {"from": bo}, headers=AUTH)
    assert r.status == 400
    assert r.json()["field"] == "from"
    assert c.post(path, {"source": "x"}, headers=AUTH).status == 400
    r = c.post(path, {"from": "no-such-profile"}, headers=AUTH)
    assert r.status == 404
    assert r.json()["field"] == "from"
    r = c.post("/v1/profiles/no-such-profile/merge", {"from": bo},
               headers=AUTH)
    assert r.status == 404
    assert c.post("/v1/profiles/%s/other" % bo, {}, headers=AUTH).status == 404
    c.stop()
