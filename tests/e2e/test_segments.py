"""Segments: membership kept by the pipeline, read by the admin routes."""
import hashlib
import os
import urllib.parse

from crierlib import PLUGINS, Crier, Store, run_crier, wait_until

TOKEN = "admin-token-for-segment-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
# The test clock starts at 2026-01-01T00:00:00Z.
CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
segments = (
  { name = "toddler-parents";
    when = "any(profile.dependents, age_months(birth_date) < 24)"; },
  { name = "lima"; when = "profile.city == 'Lima'"; }
);
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


def get(c, path):
    r = c.get(path, headers=AUTH)
    assert r.status == 200, r.body
    return r.json()


def profile_id(c, email):
    return get(c, "/v1/profiles?email=%s" %
               urllib.parse.quote(email))["profile"]["id"]


def child(email, birth_date):
    return {"type": "child.added", "profile": {"email": email},
            "related": {"dependents": [
                {"id": "child-" + email,
                 "attributes": {"birth_date": birth_date}}]}}


def city(email, name):
    return {"type": "moved", "profile": {"email": email},
            "attributes": {"city": name}}


def members(c, name, query=""):
    return get(c, "/v1/segments/%s/members%s" % (name, query))


def test_profiles_enter_and_leave(tmp_path):
    c = start(tmp_path)
    # Ana's child is 10 months old, Bo's 30 months.
    send(c, [child("ana@example.gov", "2025-03-01"),
             child("bo@example.gov", "2023-07-01"),
             city("ana@example.gov", "Lima"),
             city("cy@example.gov", "Lima")])
    ana = profile_id(c, "ana@example.gov")
    cy = profile_id(c, "cy@example.gov")

    listed = get(c, "/v1/segments")["segments"]
    assert [(s["name"], s["count"]) for s in listed] == [
        ("toddler-parents", 1), ("lima", 2)]
    assert listed[1]["when"] == "profile.city == 'Lima'"
    one = get(c, "/v1/segments/toddler-parents")
    assert one["count"] == 1
    assert one["when"].startswith("any(profile.dependents")
    page = members(c, "toddler-parents")
    assert [m["profile"] for m in page["members"]] == [ana]
    assert page["members"][0]["since"] == "2026-01-01T00:00:00.000Z"
    assert page["next"] is None

    # Paging goes in profile id order.
    first = members(c, "lima", "?limit=1")
    assert len(first["members"]) == 1
    assert first["next"] == first["members"][0]["profile"]
    second = members(c, "lima", "?limit=1&after=" + first["next"])
    assert second["next"] is None
    assert sorted([first["members"][0]["profile"],
                   second["members"][0]["profile"]]) == sorted([ana, cy])

    # Cy moves away and leaves the segment.
    send(c, [city("cy@example.gov", "Cusco")])
    assert get(c, "/v1/segments/lima")["count"] == 1

    # Fifteen months later the child is 25 months old, and the clock pass
    # takes Ana out without an event from her.
    r = c.post("/v1/test/clock", {"now": "2027-04-01T00:00:00Z"})
    assert r.status == 200, r.body
    wait_until(lambda: get(c, "/v1/segments/toddler-parents")["count"] == 0)
    assert members(c, "toddler-parents")["members"] == []
    assert c.stop() == 0


def test_erase_removes_membership(tmp_path):
    c = start(tmp_path)
    send(c, [city("ana@example.gov", "Lima")])
    ana = profile_id(c, "ana@example.gov")
    r = c.request("DELETE", "/v1/profiles/" + ana, headers=AUTH)
    assert r.status == 200, r.body
    assert get(c, "/v1/segments/lima")["count"] == 0
    assert c.stop() == 0


def test_segment_routes_errors(tmp_path):
    c = start(tmp_path)
    r = c.get("/v1/segments")
    assert r.status == 401
    r = c.get("/v1/segments/unknown", headers=AUTH)
    assert r.status == 404, r.body
    assert "segment not found" in r.json()["error"]
    r = c.get("/v1/segments/unknown/members", headers=AUTH)
    assert r.status == 404, r.body
    assert r.json()["error"].startswith("segment not found: unknown;")
    r = c.get("/v1/segments/unknown/other", headers=AUTH)
    assert r.status == 404, r.body
    assert r.json()["error"].startswith("segment not found: unknown/other;")
    r = c.get("/v1/segments/lima/members?limit=0", headers=AUTH)
    assert r.status == 400, r.body
    assert r.json()["field"] == "limit"
    r = c.get("/v1/segments/lima/members?page=2", headers=AUTH)
    assert r.status == 400, r.body
    assert c.stop() == 0


def test_check_rejects_bad_segments(tmp_path):
    conf = tmp_path / "plugins.conf"
    head = 'plugin_dir = "%s";\nstore: { plugin = "memory"; };\n' % PLUGINS
    conf.write_text(head +
                    'segments = (\n'
                    '  { name = "lima";\n'
                    '    when = "profile.city = \'Lima\'"; }\n'
                    ');\n')
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert ("%s:5:26: segments[0].when: unknown operator '='" % conf
            in err + out)

    conf.write_text(head +
                    'segments = (\n'
                    '  { name = "lima"; when = "true"; },\n'
                    '  { name = "lima"; when = "false"; }\n'
                    ');\n')
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert ('%s:5: segments[1].name: segment name "lima" is used twice'
            % conf in err + out)


def test_command_lists_counts_offline(tmp_path):
    c = start(tmp_path)
    send(c, [child("ana@example.gov", "2025-03-01"),
             city("ana@example.gov", "Lima"),
             city("cy@example.gov", "Lima")])
    ana = profile_id(c, "ana@example.gov")
    cy = profile_id(c, "cy@example.gov")
    assert c.stop() == 0

    code, out, err = run_crier("-c", c.conf, "segments")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "MEMBERS", "WHEN"]
    assert lines[1].split()[:2] == ["toddler-parents", "1"]
    assert lines[1].endswith(
        "any(profile.dependents, age_months(birth_date) < 24)")
    assert lines[2].split()[:2] == ["lima", "2"]
    assert lines[2].endswith("profile.city == 'Lima'")
    assert len(lines) == 3
    # The columns line up.
    assert lines[1].index("any(") == lines[2].index("profile.city")

    code, out, err = run_crier("-c", c.conf, "segments", "lima")
    assert code == 0, err
    assert out.splitlines() == sorted([ana, cy])
    code, out, err = run_crier("-c", c.conf, "segments", "toddler-parents")
    assert code == 0, err
    assert out.splitlines() == [ana]


def test_command_rejects_unknown_segment(tmp_path):
    c = start(tmp_path)
    assert c.stop() == 0
    code, out, err = run_crier("-c", c.conf, "segments", "unknown")
    assert code == 2
    assert out == ""
    assert "segment not found: unknown" in err
    code, _, _ = run_crier("-c", c.conf, "segments", "lima", "extra")
    assert code == 64


def test_command_rejects_busy_database(tmp_path):
    c = start(tmp_path)
    code, out, err = run_crier("-c", c.conf, "segments")
    assert code == 2
    assert out == ""
    assert "in use by another crier process" in err
    assert c.stop() == 0


def test_members_as_csv(tmp_path):
    c = start(tmp_path)
    send(c, [city("ana@example.gov", "Lima"),
             city("bo@example.gov", "Lima"),
             city("cy@example.gov", "Lima")])
    ids = sorted(profile_id(c, e) for e in
                 ("ana@example.gov", "bo@example.gov", "cy@example.gov"))

    r = c.get("/v1/segments/lima/members?format=csv&limit=2", headers=AUTH)
    assert r.status == 200, r.body
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.body.decode().split("\r\n") == [
        "profile,since",
        "%s,2026-01-01T00:00:00.000Z" % ids[0],
        "%s,2026-01-01T00:00:00.000Z" % ids[1],
        ""]
    assert r.headers["Link"] == (
        '</v1/segments/lima/members?format=csv&limit=2&after=%s>; '
        'rel="next"' % urllib.parse.quote(ids[1], safe=""))
    assert r.headers["X-Next"] == ids[1]

    # The Link target is the next page, and the last page has no link.
    link = r.headers["Link"]
    r = c.get(link[1:link.index(">")], headers=AUTH)
    assert r.status == 200, r.body
    assert r.body.decode().splitlines() == [
        "profile,since", "%s,2026-01-01T00:00:00.000Z" % ids[2]]
    assert r.headers["Link"] is None
    assert r.headers["X-Next"] is None

    # Accept: text/csv chooses CSV too, and format=json overrides it.
    headers = dict(AUTH, Accept="text/csv")
    r = c.get("/v1/segments/lima/members", headers=headers)
    assert r.status == 200, r.body
    assert r.body.decode().splitlines()[0] == "profile,since"
    assert len(r.body.decode().splitlines()) == 4
    r = c.get("/v1/segments/lima/members?format=json", headers=headers)
    assert [m["profile"] for m in r.json()["members"]] == ids
    r = c.get("/v1/segments/lima/members?format=xml", headers=AUTH)
    assert r.status == 400, r.body
    assert r.json()["field"] == "format"
    assert c.stop() == 0
