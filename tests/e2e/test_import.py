"""CSV profile import: POST /v1/imports and `crier profiles import`."""
import hashlib
import json
import os

from crierlib import Crier, Store, run_crier, wait_until

TOKEN = "import-token-for-tests"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
AUTH = {"Authorization": "Bearer " + TOKEN}
CSV = {"Content-Type": "text/csv"}

CONFIG = """
clock = "test";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
attributes: { household_size = "number"; birth_date = "date";
              veteran = "bool"; };
admin: { tokens = [ "sha256:%s" ]; };
""" % DIGEST

GOOD_AND_BAD = (
    "email,phone,first_name,household_size,birth_date,veteran,"
    "consent.email\r\n"
    "ana@example.gov,,Ana,4,1990-06-01,true,granted\r\n"     # line 2
    "not-an-address,,Bob,,,,\r\n"                           # line 3
    ",,Nobody,,,,\r\n"                                      # line 4
    "carl@example.gov,,Carl,four,,,\r\n"                    # line 5
    "dee@example.gov,,Dee,,2025-02-29,,\r\n"                # line 6
    "eve@example.gov,,\"Eve \"\"E\"\"\nSmith\",2,,false,revoked\r\n"  # 7-8
    "fay@example.gov,,Fay\r\n"                              # line 9
    ",+1 312 555 0100,Gus,,,,\r\n")                         # line 10


def crier(tmp_path):
    c = Crier(tmp_path, CONFIG)
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def post_import(c, text, query="", headers=None):
    return c.post("/v1/imports" + query, text.encode(),
                  headers=dict(AUTH, **(headers or CSV)))


def profile_of(c, kind, value):
    r = c.get("/v1/profiles?%s=%s" % (kind, value.replace("+", "%2B")),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"]


def rejected_by_line(summary):
    return {r["line"]: r for r in summary["rejected"]}


def test_post_good_and_bad_rows(tmp_path):
    c = crier(tmp_path).start()
    r = post_import(c, GOOD_AND_BAD, "?id=members-2026")
    assert r.status == 200, r.body
    summary = r.json()
    assert summary["import"] == "members-2026"
    assert summary["rows"] == 8
    assert summary["accepted"] == 3
    assert summary["duplicates"] == 0
    assert summary["rejected_total"] == 5
    bad = rejected_by_line(summary)
    assert sorted(bad) == [3, 4, 5, 6, 9]
    assert bad[3]["field"] == "email"
    assert "email" in bad[3]["error"]
    assert bad[4]["field"] is None
    assert "no identity" in bad[4]["error"]
    assert bad[5]["field"] == "household_size"
    assert "must be a number" in bad[5]["error"]
    assert bad[6]["field"] == "birth_date"
    assert "must be a date" in bad[6]["error"]
    assert bad[9]["error"] == "the row has 3 fields; the header has 7"
    c.stop()


def test_post_creates_profiles(tmp_path):
    c = crier(tmp_path).start()
    assert post_import(c, GOOD_AND_BAD).status == 200
    # The response comes once the profiles are committed.
    ana = profile_of(c, "email", "ana@example.gov")
    assert ana["attributes"] == {"first_name": "Ana", "household_size": 4,
                                 "birth_date": "1990-06-01", "veteran": True}
    assert ana["consent"]["email"]["state"] == "granted"
    assert ana["consent"]["email"]["source"] == "import:profile.imported"
    eve = profile_of(c, "email", "eve@example.gov")
    assert eve["attributes"]["first_name"] == 'Eve "E"\nSmith'
    assert eve["attributes"]["veteran"] is False
    gus = profile_of(c, "phone", "+13125550100")
    assert gus["attributes"] == {"first_name": "Gus"}
    r = c.get("/v1/profiles?email=carl@example.gov", headers=AUTH)
    assert r.status == 404
    c.stop()


def test_repost_is_all_duplicates(tmp_path):
    c = crier(tmp_path).start()
    first = post_import(c, GOOD_AND_BAD).json()
    again = post_import(c, GOOD_AND_BAD).json()
    assert again["import"] == first["import"]
    assert len(first["import"]) == 32
    assert again["accepted"] == 0
    assert again["duplicates"] == 3
    assert again["rejected_total"] == 5
    other = post_import(c, GOOD_AND_BAD, "?id=second").json()
    assert other["accepted"] == 3
    c.stop()


def test_post_header_errors(tmp_path):
    c = crier(tmp_path).start()
    r = post_import(c, "email,name,email\na@example.gov,A,b@example.gov\n")
    assert r.status == 400
    assert r.json()["field"] == "email"
    assert "twice" in r.json()["error"]
    r = post_import(c, "name\nAna\n")
    assert r.status == 400
    assert "no identity column" in r.json()["error"]
    r = post_import(c, "")
    assert r.status == 400
    c.stop()


def test_post_request_errors(tmp_path):
    c = crier(tmp_path).start()
    r = c.post("/v1/imports", b"email\na@example.gov\n", headers=CSV)
    assert r.status == 401
    r = post_import(c, "email\na@example.gov\n",
                    headers={"Content-Type": "application/json"})
    assert r.status == 415
    r = post_import(c, "email\na@example.gov\n", "?id=a/b")
    assert r.status == 400
    assert r.json()["field"] == "id"
    r = post_import(c, "email\na@example.gov\n", "?name=x")
    assert r.status == 400
    r = post_import(c, "email\na@example.gov\n", "",
                    {"Content-Type": "text/csv; charset=utf-8"})
    assert r.status == 200
    c.stop()


def test_post_many_batches(tmp_path):
    c = crier(tmp_path).start()
    rows = ["email,first_name"] + [
        "p%d@example.gov,P%d" % (i, i) for i in range(2500)]
    r = post_import(c, "\n".join(rows) + "\n")
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 2500
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 2500
    assert c.store.query("SELECT count(*) FROM events")[0][0] == 0
    c.stop()


def write_rows(path, count):
    with open(path, "w") as f:
        f.write("email,case_id,first_name,household_size\n")
        for i in range(count):
            f.write("r%d@example.gov,c-%d,Resident %d,%d\n"
                    % (i, i, i, i % 7 + 1))


def test_command_imports_offline(tmp_path):
    c = crier(tmp_path)
    path = os.path.join(c.workdir, "people.csv")
    write_rows(path, 5000)
    code, out, err = run_crier("-c", c.conf, "profiles", "import", path,
                               timeout=120)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["rows"] == 5000
    assert summary["accepted"] == 5000
    assert summary["rejected"] == []
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 5000
    assert c.store.query("SELECT count(*) FROM identities"
                         " WHERE kind = 'email'")[0][0] == 5000
    code, out, err = run_crier("-c", c.conf, "profiles", "import", path,
                               timeout=120)
    assert code == 0, err
    assert json.loads(out)["duplicates"] == 5000
    c.start()
    profile = profile_of(c, "case_id", "c-4321")
    assert profile["attributes"] == {"first_name": "Resident 4321",
                                     "household_size": 3}
    assert c.stop() == 0


def test_command_rejects_across_chunks(tmp_path):
    """Bad rows in several 64 KiB reads and batches keep their lines."""
    c = crier(tmp_path)
    path = os.path.join(c.workdir, "people.csv")
    bad_email = {2, 1001, 1502, 4001}
    bad_number = {1002, 2999}
    with open(path, "w") as f:
        f.write("email,case_id,first_name,household_size\n")
        for line in range(2, 4002):
            email = "r%d@example.gov" % line
            if line in bad_email:
                email = "not-an-address-%d" % line
            size = "x" if line in bad_number else str(line % 7 + 1)
            f.write("%s,c-%d,Resident %d with a longer name,%s\n"
                    % (email, line, line, size))
    assert os.path.getsize(path) > 3 * 64 * 1024

    code, out, err = run_crier("-c", c.conf, "profiles", "import", path,
                               timeout=120)
    assert code == 0, err
    summary = json.loads(out)
    rejected = rejected_by_line(summary)
    assert summary["rows"] == 4000
    assert summary["rejected_total"] == 6
    assert summary["accepted"] == 3994
    assert sorted(rejected) == sorted(bad_email | bad_number)

    for line in bad_email:
        assert rejected[line]["field"] == "email"
    for line in bad_number:
        assert rejected[line]["field"] == "household_size"

    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 3994
    assert c.store.query("SELECT count(*) FROM identities"
                         " WHERE kind = 'case_id' AND value = 'c-1001'"
                         )[0][0] == 0
    assert c.store.query("SELECT count(*) FROM identities"
                         " WHERE kind = 'case_id' AND value = 'c-4000'"
                         )[0][0] == 1


def test_command_rejects_busy_database(tmp_path):
    c = crier(tmp_path).start()
    path = os.path.join(c.workdir, "people.csv")
    write_rows(path, 3)
    code, out, err = run_crier("-c", c.conf, "profiles", "import", path)
    assert code == 2
    assert out == ""
    assert "in use by another crier process" in err
    assert c.stop() == 0


def test_command_errors(tmp_path):
    c = crier(tmp_path)
    code, _, err = run_crier("-c", c.conf, "profiles", "import",
                             os.path.join(c.workdir, "missing.csv"))
    assert code == 2
    assert "cannot read" in err
    bad = os.path.join(c.workdir, "bad.csv")
    with open(bad, "w") as f:
        f.write("name\nAna\n")
    code, _, err = run_crier("-c", c.conf, "profiles", "import", bad)
    assert code == 2
    assert "no identity column" in err
    code, _, err = run_crier("-c", c.conf, "profiles", "export", bad)
    assert code == 64


# An import updates profiles and segments but runs no rules: the rule below
# would put every imported profile in a stage. It reacts to the type the
# import validates its rows as, not to the segment events that the
# import's segment changes record, which rules do see.
RULES_AND_SEGMENTS = CONFIG + """
segments = ( { name = "spanish"; when = "profile.language == 'es'"; } );
programs: { welcome: { stages = [ "new", "greeted" ]; }; };
rules = ( { name = "greet"; program = "welcome";
            on = [ "signed_up", "profile.imported" ]; stage = "greeted"; } );
"""


def test_import_updates_known_profiles(tmp_path):
    c = Crier(tmp_path, RULES_AND_SEGMENTS).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    r = c.post("/v1/events", {"type": "signed_up",
                              "profile": {"email": "ana@example.gov"},
                              "attributes": {"language": "en",
                                             "city": "Lima"}})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)
    ana = profile_of(c, "email", "ana@example.gov")
    assert ana["stages"]["welcome"]["stage"] == "greeted"
    moves = c.store.query("SELECT count(*) FROM stage_history")[0][0]

    r = post_import(c, "email,phone,language\n"
                       "ANA@example.gov,+1 312 555 0100,es\n"
                       "bo@example.gov,,es\n"
                       "cy@example.gov,,en\n"
                       "bo@example.gov,,zh\n")
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 4
    again = profile_of(c, "phone", "+13125550100")
    assert again["id"] == ana["id"]
    assert again["attributes"] == {"language": "es", "city": "Lima"}
    assert again["stages"] == ana["stages"]
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 3
    members = c.store.query("SELECT i.value FROM segment_members m"
                            " JOIN identities i ON i.profile = m.profile"
                            " AND i.kind = 'email'"
                            " WHERE m.segment = 'spanish'")
    assert members == [("ana@example.gov",)]
    # Only the event above moved stages; the import moved none, and stored
    # no event of its own, only the segment changes: Ana and Bo entered,
    # and Bo left at his second row.
    wait_until(c.store.pipeline_done)
    assert c.store.query("SELECT count(*) FROM stage_history")[0][0] == moves
    assert c.store.query("SELECT type FROM events ORDER BY seq") == [
        ("signed_up",), ("segment.entered",), ("segment.entered",),
        ("segment.left",)]
    assert c.stop() == 0


def test_repost_resumes_after_committed_rows(tmp_path):
    c = crier(tmp_path).start()
    rows = ["email,first_name"] + [
        "p%d@example.gov,P%d" % (i, i) for i in range(2500)]
    first = post_import(c, "\n".join(rows[:1201]) + "\n", "?id=part").json()
    assert first["accepted"] == 1200
    # The same id again, as after an interrupted import: rows up to the
    # last committed line are duplicates and the rest go in.
    rest = post_import(c, "\n".join(rows) + "\n", "?id=part").json()
    assert rest["rows"] == 2500
    assert rest["duplicates"] == 1200
    assert rest["accepted"] == 1300
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 2500
    assert c.store.query("SELECT value FROM cursors"
                         " WHERE name = 'import:part'")[0][0] == 2501
    assert c.stop() == 0


def test_identity_repeated_across_batches(tmp_path):
    c = crier(tmp_path).start()
    rows = ["email,case_id,first_name"]
    for i in range(3000):
        # Every row after the first thousand names a profile of an earlier
        # batch by its case id, with a new email.
        case = i % 1000
        rows.append("p%d@example.gov,c-%d,P%d" % (i, case, i))
    r = post_import(c, "\n".join(rows) + "\n")
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 3000
    assert c.store.query("SELECT count(*) FROM profiles")[0][0] == 1000
    owners = c.store.query("SELECT count(DISTINCT profile) FROM identities"
                           " WHERE value IN ('c-7', 'p7@example.gov',"
                           " 'p1007@example.gov', 'p2007@example.gov')")
    assert owners == [(1,)]
    assert profile_of(c, "case_id", "c-7")["attributes"] == {
        "first_name": "P2007"}
    assert c.stop() == 0


def test_import_into_memory_store(tmp_path):
    c = Crier(tmp_path, CONFIG.replace(
        'store: { plugin = "sqlite"; path = "var/crier.db"; };',
        'store: { plugin = "memory"; };')).start()
    rows = ["email,case_id,household_size"] + [
        "m%d@example.gov,c-%d,%d" % (i, i % 1500, i % 5) for i in range(2500)]
    r = post_import(c, "\n".join(rows) + "\n", "?id=memory")
    assert r.status == 200, r.body
    assert r.json()["accepted"] == 2500
    first = profile_of(c, "email", "m1@example.gov")
    again = profile_of(c, "email", "m1501@example.gov")
    assert again["id"] == first["id"]
    assert again["attributes"] == {"household_size": 1501 % 5}
    repeat = post_import(c, "\n".join(rows) + "\n", "?id=memory").json()
    assert repeat["duplicates"] == 2500
    assert c.stop() == 0


# A segment that counts events needs the profile's history, which an
# import does not load: the import leaves such a membership as it is.
COUNTING = CONFIG + """
segments = (
  { name = "readers"; when = "count(event.type == 'page_view', 30 days) >= 2
                               && profile.city != 'Quito'"; },
  { name = "limenos"; when = "profile.city == 'Lima'"; }
);
"""


def test_import_keeps_counted_memberships(tmp_path):
    c = Crier(tmp_path, COUNTING).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    view = {"type": "page_view", "profile": {"email": "ana@example.gov"}}
    r = c.post("/v1/events", {"events": [view, view]})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)

    r = post_import(c, "email,city\nana@example.gov,Lima\n")
    assert r.status == 200, r.body
    rows = c.store.query("SELECT segment FROM segment_members"
                         " ORDER BY segment")
    assert rows == [("limenos",), ("readers",)]
    assert c.stop() == 0


def test_post_row_past_attribute_limit(tmp_path):
    c = crier(tmp_path).start()
    try:
        names = ["a%d" % i for i in range(300)]
        text = ("email," + ",".join(names) + "\r\n"
                + "ana@example.gov," + ",".join("1" for _ in names) + "\r\n"
                + "bob@example.gov," + "," * (len(names) - 1) + "\r\n")
        r = post_import(c, text)
        assert r.status == 200, r.body
        summary = r.json()
        assert summary["accepted"] == 1
        assert summary["rejected_total"] == 1
        bad = rejected_by_line(summary)
        assert sorted(bad) == [2]
        assert bad[2]["field"] is None
        assert "maximum of 256" in bad[2]["error"]
    finally:
        c.stop()


# Rules on segment.entered run in the server, for the events that an
# offline import left in the event log.
SEGMENT_RULE = CONFIG + """
segments = ( { name = "large"; when = "profile.household_size >= 5"; } );
programs: { outreach: { stages = [ "invited" ]; }; };
rules = ( { name = "invite"; program = "outreach"; on = "segment.entered";
            when = "event.properties.segment == 'large'"; } );
"""


def test_command_leaves_segment_events_to_server(tmp_path):
    c = Crier(tmp_path, SEGMENT_RULE)
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    path = os.path.join(c.workdir, "people.csv")
    write_rows(path, 70)
    code, out, err = run_crier("-c", c.conf, "profiles", "import", path,
                               timeout=120)
    assert code == 0, err
    # household_size is i % 7 + 1, so 30 of the 70 rows are 5 or more.
    entered = c.store.query("SELECT count(*) FROM events"
                            " WHERE type = 'segment.entered'")[0][0]
    assert entered == 30
    c.start()
    wait_until(c.store.pipeline_done)
    stages = c.store.query("SELECT count(*) FROM stages"
                           " WHERE program = 'outreach'")[0][0]
    assert stages == 30
    assert c.stop() == 0
