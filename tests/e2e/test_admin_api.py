"""The admin API: bearer tokens, profile lookup, profile read, timeline."""
import hashlib
import http.client
import os
import urllib.parse

from crierlib import Crier, Store, run_crier, wait_until

TOKEN = "admin-token-for-tests"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
AUTH = {"Authorization": "Bearer " + TOKEN}
START = "2026-01-01T00:00:00.000Z"

CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
programs: { child-safety: { }; };
rules = (
  { name    = "crib-recall";
    program = "child-safety";
    on      = "page_view";
    when    = "event.properties.url ~ '/recalls/cribs'
               && profile.stage == 'awareness'";
    stage   = "consideration"; }
);
%(admin)s
"""

ADMIN = 'admin: { tokens = [ "sha256:%s" ]; };' % DIGEST


def start(tmp_path, admin=ADMIN):
    c = Crier(tmp_path, CONFIG % {"admin": admin}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def send(c, event):
    r = c.post("/v1/events", event)
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def page_view(c, url="/recalls/cribs", **identities):
    send(c, {"type": "page_view",
             "profile": identities or {"email": "ana@example.gov"},
             "attributes": {"first_name": "Ana"},
             "properties": {"url": url}})


def admin_get(c, path):
    return c.get(path, headers=AUTH)


def raw_get(c, path):
    """GET without following redirects; returns (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    try:
        conn.request("GET", path, headers=AUTH)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def profile_id(c, kind, value):
    r = admin_get(c, "/v1/profiles?%s=%s" % (kind, urllib.parse.quote(value)))
    assert r.status == 200, r.body
    return r.json()["profile"]["id"]


def test_off_without_tokens(tmp_path):
    c = start(tmp_path, admin="")
    for path in ("/v1/profiles?email=ana@example.gov", "/v1/profiles/p_1",
                 "/v1/profiles/p_1/timeline"):
        r = admin_get(c, path)
        assert r.status == 403
        assert "admin.tokens" in r.json()["error"]
    assert c.stop() == 0


def test_empty_token_list_fails_check(tmp_path):
    c = Crier(tmp_path, CONFIG % {"admin": "admin: {\n  tokens = [ ];\n};"})
    code, out, err = run_crier("check", "-c", c.conf)
    assert code == 2
    assert "admin.tokens: is empty: remove the admin group" in err


def test_without_tokens_is_off(tmp_path):
    c = start(tmp_path, admin="admin: { };")
    assert admin_get(c, "/v1/profiles?email=a@b.gov").status == 403
    c.stop()


def test_missing_token_401(tmp_path):
    c = start(tmp_path)
    r = c.get("/v1/profiles?email=ana@example.gov")
    assert r.status == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.json()["field"] == "Authorization"
    c.stop()


def test_wrong_token_401(tmp_path):
    c = start(tmp_path)
    for value in ("Bearer wrong-token-value", "Bearer " + DIGEST,
                  "Basic " + TOKEN, "Bearer", "Bearer  "):
        r = c.get("/v1/profiles/p_1", headers={"Authorization": value})
        assert r.status == 401, value
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert r.json()["field"] == "Authorization"
    c.stop()
    log = c.log_text()
    assert "admin request rejected" in log
    assert "wrong-token-value" not in log
    # Five rejections within 10 s are logged as one line.
    assert log.count("admin request rejected") == 1


def test_bad_digest_fails_check(tmp_path):
    c = Crier(tmp_path, CONFIG % {
        "admin": 'admin: {\n  tokens = [ "%s" ];\n};' % DIGEST})
    code, out, err = run_crier("check", "-c", c.conf)
    assert code != 0
    assert "admin.tokens[0]" in out + err
    assert "sha256sum" in out + err


def test_lookup_by_email(tmp_path):
    c = start(tmp_path)
    page_view(c, url="/parks")
    r = admin_get(c, "/v1/profiles?email=Ana%40Example.GOV")
    assert r.status == 200, r.body
    profile = r.json()["profile"]
    assert profile["id"]
    assert profile["identities"] == [{"kind": "email",
                                      "value": "ana@example.gov"}]
    assert profile["attributes"] == {"first_name": "Ana"}
    assert profile["created"] == START
    assert profile["updated"] == START
    assert profile["stages"]["child-safety"] == {"stage": "awareness",
                                                 "since": START}
    c.stop()


def test_lookup_by_phone_normalized(tmp_path):
    c = start(tmp_path)
    page_view(c, phone="+1 312 555 0100")
    r = admin_get(c, "/v1/profiles?phone=%2B1%20(312)%20555-0100")
    assert r.status == 200, r.body
    assert r.json()["profile"]["identities"] == [
        {"kind": "phone", "value": "+13125550100"}]
    c.stop()


def test_lookup_unknown_email_404(tmp_path):
    c = start(tmp_path)
    r = admin_get(c, "/v1/profiles?email=nobody@example.gov")
    assert r.status == 404
    assert r.json()["error"] == "no profile has email nobody@example.gov"
    c.stop()


def test_lookup_needs_one_parameter(tmp_path):
    c = start(tmp_path)
    r = admin_get(c, "/v1/profiles")
    assert r.status == 400
    assert "exactly one" in r.json()["error"]
    r = admin_get(c, "/v1/profiles?email=a@b.gov&phone=%2B13125550100")
    assert r.status == 400
    assert r.json()["field"] == "phone"
    c.stop()


def test_lookup_rejects_bad_kind_and_value(tmp_path):
    c = start(tmp_path)
    cases = [("/v1/profiles?Email=a@b.gov", "Email"),
             ("/v1/profiles?e-mail=a@b.gov", "e-mail"),
             ("/v1/profiles?email=", "email"),
             ("/v1/profiles?email=not-an-address", "email"),
             ("/v1/profiles?phone=3125550100", "phone")]
    for path, field in cases:
        r = admin_get(c, path)
        assert r.status == 400, path
        assert r.json()["field"] == field, path
    assert admin_get(c, "/v1/profiles?email=%zz").status == 400
    c.stop()


def test_profile_by_id(tmp_path):
    c = start(tmp_path)
    page_view(c, url="/parks")
    found = admin_get(c, "/v1/profiles?email=ana@example.gov").json()
    r = admin_get(c, "/v1/profiles/" + found["profile"]["id"])
    assert r.status == 200, r.body
    assert r.json() == found
    c.stop()


def test_unknown_profile_404(tmp_path):
    c = start(tmp_path)
    r = admin_get(c, "/v1/profiles/p_0000")
    assert r.status == 404, r.body
    assert r.json()["error"] == "no profile has id p_0000"
    assert admin_get(c, "/v1/profiles/p_0000/timeline").status == 404
    c.stop()


def test_merged_profile_redirects(tmp_path):
    c = start(tmp_path)
    send(c, {"type": "page_view", "visitor": "v-7",
             "properties": {"url": "/parks"}})
    page_view(c, url="/parks")
    anon = profile_id(c, "visitor", "v-7")
    known = profile_id(c, "email", "ana@example.gov")
    assert anon != known
    send(c, {"type": "page_view", "visitor": "v-7",
             "profile": {"email": "ana@example.gov"},
             "properties": {"url": "/parks"}})
    status, headers, body = raw_get(c, "/v1/profiles/" + anon)
    assert status == 301, body
    assert headers["Location"] == "/v1/profiles/" + known
    status, headers, body = raw_get(c, "/v1/profiles/%s/timeline?limit=5"
                                    % anon)
    assert status == 301, body
    assert headers["Location"] == "/v1/profiles/%s/timeline?limit=5" % known
    c.stop()


def test_timeline_newest_first(tmp_path):
    c = start(tmp_path)
    page_view(c)
    pid = profile_id(c, "email", "ana@example.gov")
    r = admin_get(c, "/v1/profiles/%s/timeline" % pid)
    assert r.status == 200, r.body
    body = r.json()
    entries = body["entries"]
    assert body["next"] is None
    assert entries[0]["kind"] == "stage"
    assert entries[0]["to"] == "consideration"
    assert entries[0]["rule"] == "crib-recall"
    assert entries[-1]["kind"] == "event"
    assert entries[-1]["type"] == "page_view"
    assert all(e["time"] == START for e in entries)
    c.stop()


def test_timeline_pages(tmp_path):
    c = start(tmp_path)
    page_view(c)
    pid = profile_id(c, "email", "ana@example.gov")
    first = admin_get(c, "/v1/profiles/%s/timeline?limit=1" % pid).json()
    assert len(first["entries"]) == 1
    assert first["next"] is not None
    r = admin_get(c, "/v1/profiles/%s/timeline?limit=500&before=%s"
                  % (pid, urllib.parse.quote(first["next"])))
    assert r.status == 200, r.body
    assert r.json()["entries"][0] != first["entries"][0]
    c.stop()


def test_timeline_limit_checked(tmp_path):
    c = start(tmp_path)
    for limit in ("0", "501", "abc", "-1", "", "10x"):
        r = admin_get(c, "/v1/profiles/p_1/timeline?limit=" + limit)
        assert r.status == 400, limit
        assert r.json()["field"] == "limit", limit
    page_view(c)
    pid = profile_id(c, "email", "ana@example.gov")
    for before in ("", "garbage", "1:2", "99999999999999999999:1:1",
                   "-5:1:1", "9223372036854775808:1:1", "%2B5:1:1",
                   "5:1:-1", "5:1:1x"):
        r = admin_get(c, "/v1/profiles/%s/timeline?before=%s"
                      % (pid, before))
        assert r.status == 400, before
        assert r.json()["field"] == "before", before
    for query in ("limit=1&limit=2", "before=5:1:1&before=6:1:1"):
        r = admin_get(c, "/v1/profiles/%s/timeline?%s" % (pid, query))
        assert r.status == 400, query
        assert r.json()["field"] == query.split("=")[0], query
        assert "more than once" in r.json()["error"], query
    r = admin_get(c, "/v1/profiles/%s/timeline?before=9223372036854775807"
                  ":1:1" % pid)
    assert r.status == 200, r.body
    r = admin_get(c, "/v1/profiles/p_1/timeline?page=2")
    assert r.status == 400
    assert r.json()["field"] == "page"
    c.stop()


def test_unknown_subpath_404(tmp_path):
    c = start(tmp_path)
    for path in ("/v1/profiles/", "/v1/profiles/p_1/events",
                 "/v1/profiles/p_1/timeline/x"):
        assert admin_get(c, path).status == 404, path
    c.stop()


def test_other_methods_405(tmp_path):
    c = start(tmp_path)
    cases = [(m, p) for m in ("PUT", "PATCH", "DELETE", "POST")
             for p in ("/v1/profiles/p_1", "/v1/profiles?email=a@b.gov")]
    # DELETE of a profile by id is erase (test_erase.py), POST under it
    # is the merge of test_admin_merge.py, and PUT and PATCH change it
    # (test_admin_patch.py).
    for method in ("DELETE", "POST", "PUT", "PATCH"):
        cases.remove((method, "/v1/profiles/p_1"))
    for method, path in cases:
        r = c.request(method, path, body={}, headers=AUTH)
        assert r.status == 405, (method, path)
        assert "GET" in r.headers["Allow"].split(", ")
    c.stop()
