"""The case trigger: signed Open311 and generic case webhooks."""
import hashlib
import hmac
import json
import os
import re
import sys
import time
from datetime import datetime

import pytest

from crierlib import PLUGINS, ROOT, Crier, Store, run_crier, wait_until

sys.path.insert(0, os.path.join(ROOT, "examples", "chicago"))

from replay import snapshots  # noqa: E402
from residents import load_requests, resident_for  # noqa: E402

SECRET = "case-test-secret"
HOOK = "/hooks/case"

CASE_CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  cases: { plugin = "case"; path = "%s"; secret = "%s"; };
};
""" % (HOOK, SECRET)

# A closed Chicago pothole request, as the docs show it.
CLOSED_REQUEST = {
    "service_request_id": "14-00684314",
    "status": "closed",
    "status_notes": "CDOT Inspect Public Way Survey Transfer Outcome",
    "service_name": "Pothole in Street",
    "service_code": "4fd3b656e750846c53000004",
    "agency_responsible": "Division of In-House Construction CDOT",
    "requested_datetime": "2014-05-09T19:02:21-05:00",
    "updated_datetime": "2015-10-10T10:15:40-05:00",
    "address": "1200 W 81ST ST, CHICAGO, IL, 60620",
    "lat": 41.74685764200721,
    "long": -87.6536401592609,
    "extended_attributes": {"channel": "phone", "ward": "21"},
    "notes": [{"datetime": "2014-05-09T19:02:21-05:00",
               "summary": "Request opened", "type": "opened"}],
    "email": "ana@example.gov",
    "first_name": "Ana",
}

GENERIC_CASE = {
    "case": {"id": "C-1042", "type": "benefits", "status": "closed",
             "opened_at": "2026-01-05T09:00:00-05:00",
             "closed_at": "2026-02-10T16:30:00-05:00",
             "outcome": "approved",
             "attributes": {"program": "childcare"}},
    "event": "case.closed",
    "person": {"email": "ana@example.gov", "phone": "+13125550100",
               "first_name": "Ana"},
    "time": "2026-02-10T16:30:00-05:00",
}


def signature(secret, timestamp, raw):
    """Returns the X-Crier-Signature value for a timestamp and raw body."""
    mac = hmac.new(secret.encode(), b"%d." % timestamp + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def post_case(c, payload, timestamp=None, secret=SECRET, signed_raw=None,
              delivery=None):
    """Posts `payload` to the case hook, signed as a case system would.

    `payload` is JSON-encoded unless it is bytes. `signed_raw`, when given,
    is signed in place of the bytes that are sent. `delivery` is sent as
    X-Crier-Delivery.
    """
    raw = payload
    if not isinstance(payload, bytes):
        raw = json.dumps(payload).encode()
    if signed_raw is None:
        signed_raw = raw
    if timestamp is None:
        timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Crier-Timestamp": str(timestamp),
        "X-Crier-Signature": signature(secret, timestamp, signed_raw),
    }
    if delivery is not None:
        headers["X-Crier-Delivery"] = delivery
    return c.post(HOOK, raw, headers=headers)


def store_of(c):
    return Store(os.path.join(c.workdir, "var", "crier.db"))


def case_events(c):
    """Returns the stored events as (source, ext_id, type, time_ms, body).

    ext_id is the dedupe id, which starts with "case id/type/time".
    """
    rows = store_of(c).query("SELECT source, ext_id, type, time_ms, body"
                             " FROM events ORDER BY seq")
    return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def identities_of_case(c, case_id):
    """Returns {kind: value} of the profile that contains `case_id`."""
    rows = store_of(c).query(
        "SELECT i.kind, i.value FROM identities i"
        " JOIN identities c ON c.profile = i.profile"
        " WHERE c.kind = 'case_id' AND c.value = ?", case_id)
    return dict(rows)


def epoch_ms(rfc3339):
    return int(datetime.fromisoformat(rfc3339).timestamp() * 1000)


def assert_rejected(r, status, field):
    assert r.status == status
    assert r.json()["field"] == field


@pytest.fixture
def cases(tmp_path):
    """A running crier with SQLite and the case trigger on /hooks/case."""
    c = Crier(tmp_path, CASE_CONFIG).start()
    yield c
    c.stop()


def test_open311_closed_stored(cases):
    r = post_case(cases, CLOSED_REQUEST)
    assert r.status == 202
    assert r.json() == {"accepted": 1, "duplicates": 0}

    # 202 means committed: the row is there without waiting.
    events = case_events(cases)
    assert len(events) == 1
    source, ext_id, type_, time_ms, body = events[0]
    assert source == "cases"
    assert type_ == "case.closed"
    assert ext_id.startswith(
        "14-00684314/case.closed/2015-10-10T10:15:40-05:00")
    assert time_ms == epoch_ms("2015-10-10T10:15:40-05:00")
    assert body["time"] == "2015-10-10T15:15:40.000Z"
    assert body["profile"] == {"case_id": "14-00684314",
                               "email": "ana@example.gov"}
    assert body["attributes"] == {"first_name": "Ana"}
    assert body["properties"]["source_format"] == "open311"
    assert body["properties"]["case"] == {
        "id": "14-00684314",
        "service_name": "Pothole in Street",
        "service_code": "4fd3b656e750846c53000004",
        "status": "closed",
        "status_notes": "CDOT Inspect Public Way Survey Transfer Outcome",
        "agency": "Division of In-House Construction CDOT",
        "address": "1200 W 81ST ST, CHICAGO, IL, 60620",
        "ward": "21",
        "opened_at": "2014-05-09T19:02:21-05:00",
        "updated_at": "2015-10-10T10:15:40-05:00",
        "closed_at": "2015-10-10T10:15:40-05:00",
    }


def test_open311_identities_linked(cases):
    assert post_case(cases, CLOSED_REQUEST).status == 202

    def linked():
        identities = identities_of_case(cases, "14-00684314")
        return identities if "email" in identities else None

    # The pipeline links identities to profiles after the commit.
    identities = wait_until(linked, timeout=5)
    assert identities == {"case_id": "14-00684314",
                          "email": "ana@example.gov"}


def test_open311_opened_type(cases):
    same_time = dict(CLOSED_REQUEST, service_request_id="14-1",
                     status="open",
                     updated_datetime=CLOSED_REQUEST["requested_datetime"])
    no_update = dict(CLOSED_REQUEST, service_request_id="14-2",
                     status="open")
    del no_update["updated_datetime"]
    assert post_case(cases, same_time).status == 202
    assert post_case(cases, no_update).status == 202

    events = case_events(cases)
    assert [e[2] for e in events] == ["case.opened", "case.opened"]
    for _, _, _, time_ms, body in events:
        assert time_ms == epoch_ms("2014-05-09T19:02:21-05:00")
        assert "closed_at" not in body["properties"]["case"]
    assert events[1][1].startswith(
        "14-2/case.opened/2014-05-09T19:02:21-05:00")


def test_open311_updated_type(cases):
    updated = dict(CLOSED_REQUEST, status="open",
                   updated_datetime="2014-07-29T14:11:00-05:00")
    assert post_case(cases, updated).status == 202

    [(_, ext_id, type_, time_ms, body)] = case_events(cases)
    assert type_ == "case.updated"
    assert ext_id.startswith(
        "14-00684314/case.updated/2014-07-29T14:11:00-05:00")
    assert time_ms == epoch_ms("2014-07-29T14:11:00-05:00")
    assert body["properties"]["case"]["status"] == "open"
    assert "closed_at" not in body["properties"]["case"]


def test_numeric_request_id(cases):
    request = dict(CLOSED_REQUEST, service_request_id=684314)
    assert post_case(cases, request).status == 202

    [(_, ext_id, _, _, body)] = case_events(cases)
    assert ext_id.startswith("684314/case.closed/")
    assert body["profile"]["case_id"] == "684314"
    assert body["properties"]["case"]["id"] == "684314"


def test_local_phone_left_out(cases):
    request = dict(CLOSED_REQUEST, phone="312-555-0100")
    assert post_case(cases, request).status == 202

    [(_, _, _, _, body)] = case_events(cases)
    assert "phone" not in body["profile"]


def test_chicago_snapshots_replayed(cases):
    request = load_requests()[0]
    request_id = request["service_request_id"]
    for snap in snapshots(request):
        r = post_case(cases, snap)
        assert r.status == 202, r.body
        assert r.json() == {"accepted": 1, "duplicates": 0}

    types = [e[2] for e in case_events(cases)]
    assert len(types) == len(request["notes"])
    assert types[0] == "case.opened"
    assert types[-1] == "case.closed"
    assert set(types[1:-1]) == {"case.updated"}
    for _, _, _, _, body in case_events(cases):
        assert body["profile"]["case_id"] == request_id
        assert body["profile"]["email"] == resident_for(request_id)["email"]


def test_repeated_webhook_is_duplicate(cases):
    assert post_case(cases, CLOSED_REQUEST).json() == {"accepted": 1,
                                                       "duplicates": 0}
    r = post_case(cases, CLOSED_REQUEST)
    assert r.status == 202
    assert r.json() == {"accepted": 0, "duplicates": 1}
    assert len(case_events(cases)) == 1


def test_wrong_secret_rejected(cases):
    r = post_case(cases, CLOSED_REQUEST, secret="not-the-secret")
    assert_rejected(r, 401, "X-Crier-Signature")
    assert "does not match" in r.json()["error"]
    assert case_events(cases) == []


@pytest.mark.parametrize("header", ["X-Crier-Signature",
                                    "X-Crier-Timestamp"])
def test_missing_header_rejected(cases, header):
    raw = json.dumps(CLOSED_REQUEST).encode()
    now = int(time.time())
    headers = {"Content-Type": "application/json",
               "X-Crier-Timestamp": str(now),
               "X-Crier-Signature": signature(SECRET, now, raw)}
    del headers[header]
    r = cases.post(HOOK, raw, headers=headers)
    assert_rejected(r, 401, header)
    assert "missing" in r.json()["error"]
    assert case_events(cases) == []


def test_unsigned_request_rejected(cases):
    r = cases.post(HOOK, CLOSED_REQUEST)
    assert r.status == 401
    assert case_events(cases) == []


@pytest.mark.parametrize("value", [
    "sha1=" + "0" * 40,
    "sha256=" + "A" * 64,
    "sha256=" + "0" * 63,
])
def test_malformed_signature_rejected(cases, value):
    now = int(time.time())
    r = cases.post(HOOK, CLOSED_REQUEST,
                   headers={"X-Crier-Timestamp": str(now),
                            "X-Crier-Signature": value})
    assert_rejected(r, 401, "X-Crier-Signature")
    assert case_events(cases) == []


def test_stale_timestamp_rejected(cases):
    r = post_case(cases, CLOSED_REQUEST, timestamp=int(time.time()) - 1000)
    assert_rejected(r, 401, "X-Crier-Timestamp")
    assert "old" in r.json()["error"]
    assert case_events(cases) == []


def test_future_timestamp_rejected(cases):
    r = post_case(cases, CLOSED_REQUEST, timestamp=int(time.time()) + 1000)
    assert_rejected(r, 401, "X-Crier-Timestamp")
    assert "future" in r.json()["error"]
    assert case_events(cases) == []


def test_future_skew_reported_exactly(cases):
    # crier's clock has milliseconds and the header whole seconds, so the
    # difference for a timestamp 301 s ahead lies between 300 and 301 s,
    # and it must not be rounded down to the 300 s allowed.
    r = post_case(cases, CLOSED_REQUEST, timestamp=int(time.time()) + 301)
    assert_rejected(r, 401, "X-Crier-Timestamp")
    match = re.match(r"is (\d+(?:\.\d+)?) s in the future, more than the"
                     r" 300 s allowed", r.json()["error"])
    assert match, r.json()["error"]
    assert 300 < float(match.group(1)) <= 301
    assert case_events(cases) == []


def test_rejections_logged_rate_limited(cases):
    secret_body = dict(CLOSED_REQUEST, email="private@example.gov")
    for _ in range(3):
        r = post_case(cases, secret_body, secret="not-the-secret")
        assert r.status == 401
    lines = [line for line in cases.log_text().splitlines()
             if "case webhook rejected" in line]
    assert len(lines) == 1
    assert " notice " in lines[0]
    assert "status=401" in lines[0]
    assert "peer=127.0.0.1" in lines[0]
    assert "private@example.gov" not in lines[0]
    assert "sha256=" not in lines[0]


def test_non_numeric_timestamp_rejected(cases):
    raw = json.dumps(CLOSED_REQUEST).encode()
    r = cases.post(HOOK, raw, headers={
        "Content-Type": "application/json",
        "X-Crier-Timestamp": "2026-01-01T00:00:00Z",
        "X-Crier-Signature": signature(SECRET, 0, raw)})
    assert_rejected(r, 401, "X-Crier-Timestamp")
    assert case_events(cases) == []


def test_tolerance_setting_applies(tmp_path):
    config = CASE_CONFIG.replace('secret = "%s";' % SECRET,
                                 'secret = "%s"; tolerance_s = 10;' % SECRET)
    c = Crier(tmp_path, config).start()
    try:
        r = post_case(c, CLOSED_REQUEST, timestamp=int(time.time()) - 60)
        assert_rejected(r, 401, "X-Crier-Timestamp")
        assert "10 s allowed" in r.json()["error"]
        assert post_case(c, CLOSED_REQUEST).status == 202
    finally:
        c.stop()


def test_tampered_body_rejected(cases):
    original = json.dumps(CLOSED_REQUEST).encode()
    tampered = json.dumps(dict(CLOSED_REQUEST,
                               email="mallory@example.gov")).encode()
    r = post_case(cases, tampered, signed_raw=original)
    assert_rejected(r, 401, "X-Crier-Signature")
    assert case_events(cases) == []


def test_invalid_json_rejected(cases):
    r = post_case(cases, b'{"service_request_id": ')
    assert r.status == 400
    assert "invalid JSON" in r.json()["error"]
    assert case_events(cases) == []


def test_missing_request_id_names_field(cases):
    request = dict(CLOSED_REQUEST)
    del request["service_request_id"]
    r = post_case(cases, request)
    assert_rejected(r, 400, "service_request_id")
    assert r.json()["index"] is None
    assert case_events(cases) == []


def test_bad_datetime_names_field(cases):
    request = dict(CLOSED_REQUEST, updated_datetime="2015-10-10 10:15:40")
    r = post_case(cases, request)
    assert_rejected(r, 400, "updated_datetime")
    assert case_events(cases) == []


def test_generic_case_stored(cases):
    r = post_case(cases, GENERIC_CASE)
    assert r.status == 202
    assert r.json() == {"accepted": 1, "duplicates": 0}

    [(source, ext_id, type_, time_ms, body)] = case_events(cases)
    assert source == "cases"
    assert type_ == "case.closed"
    assert ext_id.startswith("C-1042/case.closed/2026-02-10T16:30:00-05:00")
    assert time_ms == epoch_ms("2026-02-10T16:30:00-05:00")
    assert body["profile"] == {"email": "ana@example.gov",
                               "phone": "+13125550100",
                               "case_id": "C-1042"}
    assert body["attributes"] == {"first_name": "Ana"}
    assert body["properties"]["source_format"] == "generic"
    assert body["properties"]["case"] == GENERIC_CASE["case"]


def test_generic_type_derived(cases):
    opened = {"case": {"id": 77, "status": "open",
                       "opened_at": "2026-01-05T09:00:00-05:00"}}
    assert post_case(cases, opened).status == 202

    [(_, ext_id, type_, time_ms, body)] = case_events(cases)
    assert type_ == "case.opened"
    assert ext_id.startswith("77/case.opened/2026-01-05T09:00:00-05:00")
    assert time_ms == epoch_ms("2026-01-05T09:00:00-05:00")
    assert body["profile"] == {"case_id": "77"}
    assert body["properties"]["case"]["id"] == "77"


def test_single_body_error_has_no_index(cases):
    # The core checks the email and numbers the events it checks, but a
    # single request was not sent as an array.
    r = post_case(cases, dict(CLOSED_REQUEST, email="not-an-address"))
    assert_rejected(r, 400, "profile.email")
    assert r.json()["index"] is None
    r = post_case(cases, [CLOSED_REQUEST,
                          dict(CLOSED_REQUEST, email="not-an-address")])
    assert_rejected(r, 400, "profile.email")
    assert r.json()["index"] == 1
    assert case_events(cases) == []


@pytest.mark.parametrize("case_id", [1.5, True, ""])
def test_generic_invalid_case_id(cases, case_id):
    body = dict(GENERIC_CASE, case=dict(GENERIC_CASE["case"], id=case_id))
    r = post_case(cases, body)
    assert_rejected(r, 400, "case.id")
    assert r.json()["error"] == ("must be a non-empty string or a whole"
                                 " number")
    assert case_events(cases) == []


def test_generic_unknown_member_names_field(cases):
    r = post_case(cases, dict(GENERIC_CASE, resident={"email": "a@b.gov"}))
    assert_rejected(r, 400, "resident")
    assert case_events(cases) == []


def test_generic_missing_case_id(cases):
    body = dict(GENERIC_CASE, case={"status": "open"})
    r = post_case(cases, body)
    assert_rejected(r, 400, "case.id")
    assert case_events(cases) == []


def test_array_of_requests_stored(cases):
    opened = dict(CLOSED_REQUEST, service_request_id="14-1", status="open")
    del opened["updated_datetime"]
    updated = dict(CLOSED_REQUEST, service_request_id="14-2", status="open")
    r = post_case(cases, [opened, updated, CLOSED_REQUEST, GENERIC_CASE])
    assert r.status == 202
    assert r.json() == {"accepted": 4, "duplicates": 0}

    events = case_events(cases)
    assert [(e[1].split("/")[0], e[2]) for e in events] == [
        ("14-1", "case.opened"),
        ("14-2", "case.updated"),
        ("14-00684314", "case.closed"),
        ("C-1042", "case.closed"),
    ]
    assert events[3][4]["properties"]["source_format"] == "generic"


def test_array_repeat_counts_duplicates(cases):
    first = post_case(cases, [CLOSED_REQUEST])
    assert first.json() == {"accepted": 1, "duplicates": 0}
    r = post_case(cases, [CLOSED_REQUEST, GENERIC_CASE])
    assert r.status == 202
    assert r.json() == {"accepted": 1, "duplicates": 1}
    assert len(case_events(cases)) == 2


def test_bad_element_stores_nothing(cases):
    broken = dict(CLOSED_REQUEST)
    del broken["service_request_id"]
    broken["service_name"] = "Graffiti Removal"
    r = post_case(cases, [GENERIC_CASE, broken])
    assert r.status == 400
    assert r.json()["index"] == 1
    assert case_events(cases) == []


def test_empty_array_rejected(cases):
    r = post_case(cases, [])
    assert r.status == 400
    assert case_events(cases) == []


def test_check_reports_missing_secret(tmp_path):
    conf = tmp_path / "nosecret.conf"
    conf.write_text('plugin_dir = "%s";\n'
                    'store: { plugin = "sqlite"; path = "var/crier.db"; };\n'
                    'triggers: {\n'
                    '  cases: { plugin = "case"; path = "/hooks/case"; };\n'
                    '};\n' % PLUGINS)
    code, out, err = run_crier("check", "-c", str(conf))
    assert code == 2
    assert "nosecret.conf:4: triggers.cases.secret:" in err
    assert "required" in err


@pytest.mark.parametrize("setting, key, message", [
    ('path = "hooks/case"; secret = "s";', "path", "must start with '/'"),
    ('path = "/hooks/case"; secret = "";', "secret", "must not be empty"),
    ('path = "/hooks/case"; secret = "s"; tolerance = 60;', "tolerance",
     "unknown setting; valid settings are path, secret, secrets, "
     "tolerance_s, mapping and poll"),
    ('path = "/h"; secrets = [ "new", "" ];', "secrets.2",
     "must not be empty"),
    ('path = "/h"; secret = "s"; mapping = { id = "case/number"; };',
     "mapping.id", "must be empty or start with '/'"),
    ('path = "/h"; secret = "s"; mapping = { id = "/n"; status = "/s";'
     ' statuses = { closed = [ "done" ]; finished = [ "x" ]; }; };',
     "mapping.statuses.finished", "unknown setting"),
    ('poll = { interval_s = 60; };', "poll.url", "is required"),
])
def test_check_reports_bad_setting(tmp_path, setting, key, message):
    conf = tmp_path / "bad.conf"
    conf.write_text('plugin_dir = "%s";\n'
                    'store: { plugin = "sqlite"; path = "var/crier.db"; };\n'
                    'triggers: {\n'
                    '  cases: { plugin = "case"; %s };\n'
                    '};\n' % (PLUGINS, setting))
    code, out, err = run_crier("check", "-c", str(conf))
    assert code == 2
    assert "triggers.cases.%s: %s" % (key, message) in err


ROTATION_CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  cases: { plugin = "case"; path = "%s";
           secrets = [ "new-secret", "%s" ]; };
};
""" % (HOOK, SECRET)


def test_secret_rotation_accepts_both(tmp_path):
    c = Crier(tmp_path, ROTATION_CONFIG).start()
    try:
        r = post_case(c, CLOSED_REQUEST, secret=SECRET)
        assert r.status == 202, r.body
        request = dict(CLOSED_REQUEST, service_request_id="14-00684315")
        r = post_case(c, request, secret="new-secret")
        assert r.status == 202, r.body
        r = post_case(c, request, secret="retired-secret")
        assert_rejected(r, 401, "X-Crier-Signature")
        assert len(case_events(c)) == 2
    finally:
        c.stop()


# An update without a time, of which only the delivery id marks a retry.
TIMELESS_UPDATE = {"case": {"id": "C-7", "status": "in review"},
                   "event": "case.updated"}


def test_delivery_retry_stored_once(cases):
    r = post_case(cases, TIMELESS_UPDATE, delivery="d-1")
    assert r.json() == {"accepted": 1, "duplicates": 0}
    r = post_case(cases, TIMELESS_UPDATE, delivery="d-1")
    assert r.status == 202
    assert r.json() == {"accepted": 0, "duplicates": 1}
    r = post_case(cases, TIMELESS_UPDATE, delivery="d-2")
    assert r.json() == {"accepted": 1, "duplicates": 0}
    ids = [e[1] for e in case_events(cases)]
    assert ids == ["delivery/d-1/0", "delivery/d-2/0"]


def test_delivery_keeps_content_id(cases):
    r = post_case(cases, CLOSED_REQUEST, delivery="first")
    assert r.json() == {"accepted": 1, "duplicates": 0}
    r = post_case(cases, CLOSED_REQUEST, delivery="second")
    assert r.json() == {"accepted": 0, "duplicates": 1}


def test_delivery_invalid_rejected(cases):
    r = post_case(cases, CLOSED_REQUEST, delivery="x" * 101)
    assert_rejected(r, 400, "X-Crier-Delivery")
    assert case_events(cases) == []


MAPPING_CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  permits: {
    plugin = "case"; path = "%s"; secret = "%s";
    mapping = {
      id = "/permit/number"; status = "/permit/state";
      statuses = { opened = [ "filed" ]; updated = [ "in review" ];
                   closed = [ "issued", "denied" ]; };
      opened = "/permit/filed_at"; updated = "/permit/changed_at";
      type = "/permit/kind"; outcome = "/permit/decision";
      email = "/applicant/contact/e~1mail";
      attributes = { first_name = "/applicant/name/0"; };
      fields = { office = "/permit/office"; };
    };
  };
};
""" % (HOOK, SECRET)

PERMIT = {
    "permit": {"number": 88412, "state": "issued", "kind": "sidewalk cafe",
               "filed_at": "2026-03-02T10:00:00-06:00",
               "changed_at": "2026-03-20T15:45:00-06:00",
               "decision": "approved", "office": "Loop"},
    "applicant": {"contact": {"e/mail": "rosa@example.com"},
                  "name": ["Rosa", "Vargas"]},
}


def test_mapping_builds_case(tmp_path):
    c = Crier(tmp_path, MAPPING_CONFIG).start()
    try:
        r = post_case(c, PERMIT)
        assert r.status == 202, r.body
        [(source, ext_id, type_, time_ms, body)] = case_events(c)
        assert source == "permits"
        assert type_ == "case.closed"
        assert ext_id.startswith("88412/case.closed/")
        assert time_ms == epoch_ms("2026-03-20T15:45:00-06:00")
        assert body["profile"]["email"] == "rosa@example.com"
        assert body["profile"]["case_id"] == "88412"
        assert body["attributes"] == {"first_name": "Rosa"}
        kase = body["properties"]["case"]
        assert kase["status"] == "issued"
        assert kase["type"] == "sidewalk cafe"
        assert kase["outcome"] == "approved"
        assert kase["office"] == "Loop"
        wait_until(lambda: store_of(c).pipeline_done())
        [(related,)] = store_of(c).query("SELECT related FROM profiles")
        record = json.loads(related)["cases"]["88412"]
        assert record["status"] == "issued"
        assert record["outcome"] == "approved"
    finally:
        c.stop()


def test_mapping_missing_value_names_pointer(tmp_path):
    c = Crier(tmp_path, MAPPING_CONFIG).start()
    try:
        permit = json.loads(json.dumps(PERMIT))
        del permit["permit"]["state"]
        r = post_case(c, permit)
        assert_rejected(r, 400, "/permit/state")
        permit["permit"]["state"] = "lost"
        r = post_case(c, permit)
        assert_rejected(r, 400, "/permit/state")
        assert '"lost"' in r.json()["error"]
        assert case_events(c) == []
    finally:
        c.stop()


def expected_types(request):
    """Returns the event types that the snapshots of `request` give."""
    types = []
    for snap in snapshots(request):
        if snap["status"] == "closed":
            types.append("case.closed")
        elif snap["updated_datetime"] == snap["requested_datetime"]:
            types.append("case.opened")
        else:
            types.append("case.updated")
    return types


@pytest.mark.parametrize("deliveries", [1, 2])
def test_chicago_notes_replayed(cases, deliveries):
    """Every note of every request, in time order, each sent
    `deliveries` times, gives one case per request and its statuses."""
    requests = load_requests()
    for request in requests:
        for n, snap in enumerate(snapshots(request)):
            for attempt in range(deliveries):
                r = post_case(cases, snap, delivery="%s-%d" % (
                    request["service_request_id"], n))
                assert r.status == 202, r.body
                assert r.json() == {"accepted": 0 if attempt else 1,
                                    "duplicates": 1 if attempt else 0}

    events = case_events(cases)
    by_case = {}
    for _, _, type_, _, body in events:
        by_case.setdefault(body["profile"]["case_id"], []).append(
            (type_, body["properties"]["case"]["status"]))
    assert len(by_case) == len(requests)
    for request in requests:
        request_id = request["service_request_id"]
        got = by_case[request_id]
        assert [t for t, _ in got] == expected_types(request), request_id
        assert [s for _, s in got] == [
            snap["status"] for snap in snapshots(request)], request_id
        closings = [t for t, _ in got if t == "case.closed"]
        assert len(closings) == (1 if request["status"] == "closed" else 0)

    wait_until(lambda: store_of(cases).pipeline_done(), timeout=60)
    owners = {}
    for profile, related in store_of(cases).query(
            "SELECT id, related FROM profiles"):
        for case_id, record in json.loads(related)["cases"].items():
            owners.setdefault(case_id, []).append(record)
    assert len(owners) == len(requests)
    for request in requests:
        [record] = owners[request["service_request_id"]]
        last = list(snapshots(request))[-1]
        assert record["status"] == last["status"]
