"""The SMS channel against a fake Twilio on loopback: sending, retries,
permanent failures, failover, and replies (STOP, START, HELP, text)."""
import base64
import hashlib
import hmac
import os
import time
import urllib.parse

from crierlib import (PLUGINS, ROOT, Crier, Store, free_port, run_crier,
                      wait_until)
from fake_twilio import FakeTwilio

TOKEN = "admin-token-for-sms-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-for-tests"
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
STOP_TEXT = "Unsubscribed from City alerts. Reply START to resume."
HELP_TEXT = "City alerts: call 311. Reply STOP to unsubscribe."
PHONE = "+13125550100"


NOTICE_RULE = """
  { name = "notice"; on = "permit.ready";
    send = { channel = "sms"; template = "sms-notice"; }; }"""


def config(providers, rules=NOTICE_RULE, delivery=""):
    return """
clock = "test";
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { sms: { plugin = "sms"; default_region = "US";
                   %s
                   inbound = { path = "/hooks/sms";
                               stop_text = "%s"; help_text = "%s"; }; }; };
attributes: { timezone = "timezone"; };
delivery: { %s };
rules = ( %s );
admin: { tokens = [ "sha256:%s" ]; };
""" % (TEMPLATES, providers, STOP_TEXT, HELP_TEXT, delivery, rules,
       hashlib.sha256(TOKEN.encode()).hexdigest())


def one_provider(url):
    return ('base_url = "%s"; account_sid = "%s"; '
            'auth_token = "${SMS_AUTH_TOKEN}"; from = "+13125550199";'
            % (url, SID))


def start(tmp_path, providers, **kw):
    c = Crier(tmp_path, config(providers, **kw),
              env={"SMS_AUTH_TOKEN": AUTH_TOKEN}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def plan(c, text="Your permit 24-113 is ready.", phone=PHONE):
    r = c.post("/v1/events", {"type": "permit.ready",
                              "profile": {"phone": phone},
                              "properties": {"text": text}})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def job(c):
    rows = c.store.query("SELECT state, attempts, provider_id, error,"
                         " last_error, message_id FROM jobs")
    assert len(rows) == 1
    return dict(zip(("state", "attempts", "provider_id", "error",
                     "last_error", "message_id"), rows[0]))


def advance(c, duration):
    assert c.post("/v1/test/clock", {"advance": duration}).status == 200


def test_sent_once_with_basic_auth(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["state"] == "sent")
        time.sleep(0.3)
        assert fake.count() == 1
        req = fake.requests[0]
        assert req["path"] == "/2010-04-01/Accounts/%s/Messages.json" % SID
        expected = base64.b64encode(("%s:%s" % (SID, AUTH_TOKEN)).encode())
        assert req["authorization"] == "Basic " + expected.decode()
        assert req["content_type"] == "application/x-www-form-urlencoded"
        assert req["form"]["To"] == PHONE
        assert req["form"]["From"] == "+13125550199"
        assert req["form"]["Body"] == "Your permit 24-113 is ready."
        j = job(c)
        callback = urllib.parse.urlsplit(req["form"]["StatusCallback"])
        assert callback.path == "/hooks/sms/status"
        assert urllib.parse.parse_qs(callback.query)["message_id"] == [
            j["message_id"]]
        assert j["provider_id"] == "SM%032d" % 1
    finally:
        assert c.stop() == 0
        fake.stop()


def test_429_retried_after_retry_after(tmp_path):
    fake = FakeTwilio()
    fake.answer(429, {"code": 20429, "message": "Too Many Requests"},
                {"Retry-After": "120"})
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["attempts"] == 1 and
                   job(c)["state"] == "planned")
        assert "20429" in job(c)["last_error"]
        # The default backoff is 30 s; the provider asked for 120 s.
        advance(c, "60s")
        time.sleep(0.5)
        assert fake.count() == 1
        advance(c, "61s")
        wait_until(lambda: job(c)["state"] == "sent")
        assert fake.count() == 2
    finally:
        assert c.stop() == 0
        fake.stop()


def test_invalid_to_fails_without_retry(tmp_path):
    fake = FakeTwilio()
    fake.answer(400, {"code": 21211, "message": "The 'To' number "
                      "+13125550100 is not a valid phone number.",
                      "status": 400})
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["state"] == "failed")
        j = job(c)
        assert "21211" in j["error"]
        assert "is not a valid phone number" in j["error"]
        advance(c, "2h")
        time.sleep(0.5)
        assert fake.count() == 1
        assert job(c)["state"] == "failed"
    finally:
        assert c.stop() == 0
        fake.stop()


def test_500_then_201_is_sent(tmp_path):
    fake = FakeTwilio()
    fake.answer(500, {"code": 20500, "message": "Internal Server Error"})
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["attempts"] == 1 and
                   job(c)["state"] == "planned")
        advance(c, "31s")
        wait_until(lambda: job(c)["state"] == "sent")
        assert fake.count() == 2
        assert job(c)["provider_id"] == "SM%032d" % 2
    finally:
        assert c.stop() == 0
        fake.stop()


def test_too_many_segments_fails(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url) + " max_segments = 2;")
    try:
        plan(c, text="x" * 307)
        wait_until(lambda: job(c)["state"] == "failed")
        assert "3 SMS segments" in job(c)["error"]
        assert "max_segments = 2" in job(c)["error"]
        assert fake.count() == 0
    finally:
        assert c.stop() == 0
        fake.stop()


def test_failover_to_second_provider(tmp_path):
    fake = FakeTwilio()
    down = "http://127.0.0.1:%d" % free_port()  # nothing listens there
    providers = """providers = (
        { base_url = "%s"; account_sid = "%s"; auth_token = "t1";
          from = "+13125550198"; },
        { base_url = "%s"; account_sid = "%s"; auth_token = "t2";
          from = "+13125550199"; } );""" % (down, SID, fake.url, SID)
    c = start(tmp_path, providers)
    try:
        plan(c)
        wait_until(lambda: job(c)["state"] == "sent")
        assert fake.count() == 1
        assert fake.requests[0]["form"]["From"] == "+13125550199"
        assert job(c)["attempts"] == 1
    finally:
        assert c.stop() == 0
        fake.stop()


def test_provider_down_then_up_sends_once(tmp_path):
    """The only provider refuses connections: the message waits for its
    retry, with the error recorded, and goes out once the provider is up."""
    port = free_port()
    c = start(tmp_path, one_provider("http://127.0.0.1:%d" % port))
    fake = None
    try:
        plan(c)
        wait_until(lambda: job(c)["attempts"] == 1
                   and job(c)["state"] == "planned")
        assert job(c)["last_error"]
        assert job(c)["provider_id"] is None
        fake = FakeTwilio(port)
        # The default backoff is 30 s, less up to a quarter of jitter.
        advance(c, "31s")
        wait_until(lambda: job(c)["state"] == "sent")
        assert fake.count() == 1
        assert job(c)["attempts"] == 2
        assert job(c)["provider_id"].startswith("SM")
    finally:
        assert c.stop() == 0
        if fake is not None:
            fake.stop()


def test_503_retried_after_retry_after(tmp_path):
    fake = FakeTwilio()
    fake.answer(503, {"code": 20503, "message": "Service Unavailable"},
                {"Retry-After": "300"})
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["attempts"] == 1 and
                   job(c)["state"] == "planned")
        assert "20503" in job(c)["last_error"]
        advance(c, "200s")
        time.sleep(0.5)
        assert fake.count() == 1
        advance(c, "101s")
        wait_until(lambda: job(c)["state"] == "sent")
        assert fake.count() == 2
    finally:
        assert c.stop() == 0
        fake.stop()


def test_failover_on_server_error(tmp_path):
    first, second = FakeTwilio(), FakeTwilio()
    first.answer(500, {"code": 20500, "message": "Internal Server Error"})
    providers = """providers = (
        { base_url = "%s"; account_sid = "%s"; auth_token = "t1";
          from = "+13125550198"; },
        { base_url = "%s"; account_sid = "%s"; auth_token = "t2";
          from = "+13125550199"; } );""" % (first.url, SID, second.url, SID)
    c = start(tmp_path, providers)
    try:
        plan(c)
        wait_until(lambda: job(c)["state"] == "sent")
        assert first.count() == 1
        assert second.count() == 1
        assert job(c)["provider_id"] == "SM%032d" % 1
        assert job(c)["attempts"] == 1
    finally:
        assert c.stop() == 0
        first.stop()
        second.stop()


def twilio_post(c, form, token=AUTH_TOKEN, signature=None):
    url = c.url + "/hooks/sms"
    data = url + "".join(k + form[k] for k in sorted(form))
    if signature is None:
        digest = hmac.new(token.encode(), data.encode(), hashlib.sha1)
        signature = base64.b64encode(digest.digest()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature != "":
        headers["X-Twilio-Signature"] = signature
    return c.post("/hooks/sms", urllib.parse.urlencode(form),
                  headers=headers)


def reply(c, phone, body, n=[0]):
    n[0] += 1
    return twilio_post(c, {"From": phone, "To": "+13125550199",
                           "Body": body, "MessageSid": "SMin%d" % n[0],
                           "AccountSid": SID})


def sms_consent(c, phone):
    r = c.get("/v1/profiles?phone=" + urllib.parse.quote(phone),
              headers=AUTH)
    if r.status == 404:
        return None
    assert r.status == 200, r.body
    entry = r.json()["profile"].get("consent", {}).get("sms")
    return entry["state"] if entry else None


def test_stop_keywords_opt_out(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        for i, body in enumerate(["STOP", "stop", "  Stop\n", "STOP ALL",
                                  "UNSUBSCRIBE"]):
            phone = "+1312555020%d" % i
            r = reply(c, phone, body)
            assert r.status == 200, r.body
            text = r.body.decode()
            assert text.count("<Message>") == 1
            assert STOP_TEXT in text
            wait_until(c.store.pipeline_done)
            assert sms_consent(c, phone) == "revoked", body
        # The confirmations went in the responses, not through the provider.
        assert fake.count() == 0
    finally:
        assert c.stop() == 0
        fake.stop()


def test_ordinary_text_is_an_inbound_message(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        r = reply(c, PHONE, "Please stop the noise on Elm St")
        assert r.status == 200
        assert "<Message>" not in r.body.decode()
        assert "<Response>" in r.body.decode()
        wait_until(c.store.pipeline_done)
        assert sms_consent(c, PHONE) is None
        rows = c.store.query("SELECT type, source FROM events")
        assert rows == [("sms.received", "sms")]
    finally:
        assert c.stop() == 0
        fake.stop()


def test_start_opts_back_in(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        assert reply(c, PHONE, "STOP").status == 200
        wait_until(c.store.pipeline_done)
        assert sms_consent(c, PHONE) == "revoked"
        r = reply(c, PHONE, "start")
        assert r.status == 200
        assert "Reply STOP" in r.body.decode()
        wait_until(lambda: c.store.pipeline_done() and
                   sms_consent(c, PHONE) == "granted")
    finally:
        assert c.stop() == 0
        fake.stop()


def test_help_answers_help_text(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        r = reply(c, PHONE, " Help ")
        assert r.status == 200
        assert r.body.decode().count("<Message>") == 1
        assert HELP_TEXT in r.body.decode()
        wait_until(c.store.pipeline_done)
        assert sms_consent(c, PHONE) is None
    finally:
        assert c.stop() == 0
        fake.stop()


def test_bad_signature_rejected_stores_nothing(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        form = {"From": PHONE, "To": "+13125550199", "Body": "STOP",
                "MessageSid": "SMbad"}
        assert twilio_post(c, form, token="wrong-token").status == 403
        assert twilio_post(c, form, signature="").status == 403
        assert twilio_post(c, form, signature="AAAA").status == 403
        time.sleep(0.3)
        assert c.store.query("SELECT count(*) FROM events") == [(0,)]
        assert sms_consent(c, PHONE) is None
    finally:
        assert c.stop() == 0
        fake.stop()


def test_crier_signature_on_inbound(tmp_path):
    fake = FakeTwilio()
    providers = one_provider(fake.url)
    c = Crier(tmp_path, config(providers).replace(
        'path = "/hooks/sms";',
        'path = "/hooks/sms"; signature = "crier"; '
        'secrets = [ "old-secret", "sms-secret" ];'),
        env={"SMS_AUTH_TOKEN": AUTH_TOKEN}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    body = urllib.parse.urlencode({"From": PHONE, "To": "+13125550199",
                                   "Body": "STOP", "MessageSid": "SMc1"})
    # The test clock starts at 2026-01-01T00:00:00Z.
    timestamp = "1767225600"

    def post(secret):
        mac = hmac.new(secret.encode(), (timestamp + "." + body).encode(),
                       hashlib.sha256).hexdigest()
        return c.post("/hooks/sms", body, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Crier-Timestamp": timestamp,
            "X-Crier-Signature": "sha256=" + mac})
    try:
        assert post("wrong-secret").status == 401
        assert c.store.query("SELECT count(*) FROM events") == [(0,)]
        r = post("sms-secret")
        assert r.status == 200, r.body
        assert STOP_TEXT in r.body.decode()
        wait_until(c.store.pipeline_done)
        assert sms_consent(c, PHONE) == "revoked"
    finally:
        assert c.stop() == 0
        fake.stop()


def test_config_errors_name_the_key(tmp_path):
    conf = tmp_path / "plugins.conf"
    conf.write_text('plugin_dir = "%s";\n' % PLUGINS + config(
        'base_url = "http://127.0.0.1:9"; account_sid = "%s"; '
        'auth_token = "${SMS_MISSING_TOKEN:-}"; from = "+13125550199";'
        % SID))
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert "plugins.conf:" in err
    assert "channels.sms.auth_token" in err
    assert "is missing or empty" in err

    conf.write_text('plugin_dir = "%s";\n' % PLUGINS + config(
        one_provider("http://127.0.0.1:9")).replace(
            'default_region = "US"', 'default_region = "ZZ"').replace(
                "${SMS_AUTH_TOKEN}", AUTH_TOKEN))
    code, out, err = run_crier("check", "-c", str(conf))
    assert code != 0
    assert "channels.sms.default_region" in err


def preview(c, body):
    return c.post("/v1/templates/sms-notice/preview", body, headers=AUTH)


def test_preview_counts_segments(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        r = preview(c, {"data": {"event": {"properties": {
            "text": "Your permit is ready."}}}, "channel": "sms"})
        assert r.status == 200, r.body
        assert r.json()["channel"] == "sms"
        assert r.json()["sms"] == {"encoding": "GSM-7", "segments": 1,
                                   "units": len(r.json()["text"])}

        long_text = "\u00e1\u00e7\u0151" * 30
        r = preview(c, {"data": {"event": {"properties": {
            "text": long_text}}}, "channel": "sms"})
        assert r.status == 200, r.body
        assert r.json()["sms"]["encoding"] == "UCS-2"
        assert r.json()["sms"]["segments"] == 2

        r = preview(c, {"data": {"event": {"properties": {"text": "x"}}}})
        assert r.status == 200
        assert "sms" not in r.json()
        r = preview(c, {"data": {}, "channel": "fax"})
        assert r.status == 400
        assert r.json()["field"] == "channel"
    finally:
        assert c.stop() == 0
        fake.stop()


STOP_RULES = """
  { name = "reminder"; on = "permit.ready";
    send = { channel = "sms"; template = "sms-notice"; delay = "1d"; }; },
  { name = "news"; on = "news.ready";
    send = { channel = "sms"; template = "sms-notice"; }; },
  { name = "alert"; on = "alert.due"; class = "service";
    send = { channel = "sms"; template = "sms-notice"; }; }"""


def jobs_of(c, rule):
    return [j for j in c.store.jobs() if j["rule"] == rule]


def event(c, kind, text):
    r = c.post("/v1/events", {"type": kind, "profile": {"phone": PHONE},
                              "properties": {"text": text}})
    assert r.status == 202, r.body
    wait_until(c.store.pipeline_done)


def test_stop_suppresses_outbox_until_start(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url), rules=STOP_RULES)
    try:
        # The reminder is planned for tomorrow, before the STOP.
        event(c, "permit.ready", "Permit 24-113: inspection tomorrow.")
        [reminder] = jobs_of(c, "reminder")
        assert reminder["state"] == "planned"

        r = reply(c, PHONE, "STOP")
        assert r.status == 200, r.body
        assert r.body.decode().count("<Message>") == 1
        assert STOP_TEXT in r.body.decode()
        wait_until(lambda: c.store.pipeline_done() and
                   sms_consent(c, PHONE) == "revoked")

        event(c, "news.ready", "Library hours change.")
        event(c, "alert.due", "Water main break on Elm St.")
        for rule in ("news", "alert"):
            wait_until(lambda: jobs_of(c, rule)[0]["state"] == "suppressed")
            assert jobs_of(c, rule)[0]["error"] == "hard opt-out"

        advance(c, "1d")
        wait_until(lambda: jobs_of(c, "reminder")[0]["state"]
                   == "suppressed")
        assert jobs_of(c, "reminder")[0]["error"] == "hard opt-out"
        # The only confirmation was the webhook's response.
        assert fake.count() == 0

        assert reply(c, PHONE, "START").status == 200
        wait_until(lambda: c.store.pipeline_done() and
                   sms_consent(c, PHONE) == "granted")
        event(c, "news.ready", "Pool opens Monday.")
        event(c, "alert.due", "Boil water notice lifted.")
        for rule in ("news", "alert"):
            wait_until(lambda: len(jobs_of(c, rule)) == 2 and
                       jobs_of(c, rule)[1]["state"] == "sent")
        wait_until(lambda: fake.count() == 2)
        bodies = sorted(q["form"]["Body"] for q in fake.requests)
        assert bodies == ["Boil water notice lifted.", "Pool opens Monday."]
    finally:
        assert c.stop() == 0
        fake.stop()


def test_quiet_hours_hold_sms_across_midnight(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url),
              delivery='quiet_hours = { sms = "21:00-08:00"; };')
    try:
        # 04:00 UTC is 22:00 the evening before in Chicago (UTC-6).
        assert c.post("/v1/test/clock",
                      {"now": "2026-01-02T04:00:00Z"}).status == 200
        r = c.post("/v1/events", {"type": "permit.ready",
                                  "profile": {"phone": PHONE},
                                  "attributes": {
                                      "timezone": "America/Chicago"},
                                  "properties": {"text": "Permit ready."}})
        assert r.status == 202, r.body
        wait_until(c.store.pipeline_done)
        wait_until(lambda: "held for quiet hours" in c.log_text())
        assert job(c)["state"] == "planned"
        assert job(c)["attempts"] == 0
        due = c.store.query("SELECT due FROM jobs")[0][0]
        # 08:00 in Chicago on 2 January is 14:00 UTC.
        assert due == 1767225600000 + 38 * 3600 * 1000

        advance(c, "599m")  # 13:59 UTC, 07:59 in Chicago
        time.sleep(0.3)
        assert job(c)["state"] == "planned"
        assert fake.count() == 0
        advance(c, "2m")
        wait_until(lambda: job(c)["state"] == "sent")
        assert fake.count() == 1
        assert job(c)["attempts"] == 1
    finally:
        assert c.stop() == 0
        fake.stop()


def status_post(c, query, form, token=AUTH_TOKEN):
    """Posts a Twilio status callback, signed over the URL with its
    query as Twilio signs it."""
    path = "/hooks/sms/status"
    if query:
        path += "?" + urllib.parse.urlencode(query)
    data = c.url + path + "".join(k + form[k] for k in sorted(form))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature":
                   base64.b64encode(digest.digest()).decode()}
    return c.post(path, urllib.parse.urlencode(form), headers=headers)


def message_delivery(c, job_id):
    r = c.get("/v1/messages/%d" % job_id, headers=AUTH)
    assert r.status == 200, r.body
    return r.json().get("delivery")


def test_status_callback_sets_delivery(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["state"] == "sent")
        j = job(c)
        job_id = c.store.query("SELECT id FROM jobs")[0][0]
        form = {"MessageSid": j["provider_id"], "MessageStatus": "sent",
                "To": PHONE, "AccountSid": SID}
        # A status on the way changes nothing.
        r = status_post(c, {"message_id": j["message_id"]}, form)
        assert r.status == 204, r.body
        form["MessageStatus"] = "undelivered"
        form["ErrorCode"] = "30003"
        r = status_post(c, {"message_id": j["message_id"]}, form)
        assert r.status == 204, r.body
        # Twilio repeats a callback that timed out: a duplicate.
        assert status_post(c, {"message_id": j["message_id"]},
                           form).status == 204
        wait_until(c.store.pipeline_done)
        delivery = message_delivery(c, job_id)
        assert delivery["status"] == "undelivered"
        assert delivery["code"] == "30003"
        assert delivery["time"].endswith("Z")
        # The job state stays as it was, and the status is on the
        # resident's timeline as an event.
        assert job(c)["state"] == "sent"
        events = c.store.query("SELECT type FROM events"
                               " WHERE type LIKE 'sms.%'")
        assert events == [("sms.undelivered",)]
        counts = dict(c.store.query(
            "SELECT metric, sum(count) FROM report_messages"
            " GROUP BY metric"))
        assert counts["undelivered"] == 1
        metrics = c.get("/metrics").body.decode()
        assert 'crier_delivery_statuses_total{status="undelivered"} 1' \
            in metrics
    finally:
        assert c.stop() == 0
        fake.stop()


def test_status_callback_for_unknown_message(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        form = {"MessageSid": "SMunknown", "MessageStatus": "delivered",
                "To": PHONE, "AccountSid": SID}
        # A 2xx response, so Twilio does not retry. The receipt names no
        # stored message, so nothing is kept or counted.
        r = status_post(c, {"message_id": "<nobody@crier.test>"}, form)
        assert r.status == 204, r.body
        assert status_post(c, {}, form).status == 204
        wait_until(c.store.pipeline_done)
        assert c.store.query("SELECT count(*) FROM report_messages"
                             " WHERE metric = 'delivered'") == [(0,)]
        # A bad signature is rejected.
        assert status_post(c, {"message_id": "<x@y>"}, form,
                           token="wrong").status == 403
    finally:
        assert c.stop() == 0
        fake.stop()


def test_sender_cannot_forge_receipts(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        for kind in ("sms.delivered", "email.bounced", "email.complained"):
            r = c.post("/v1/events", {"type": kind,
                                      "profile": {"phone": PHONE},
                                      "properties": {"message_id": "<x@y>"}})
            assert r.status == 400, (kind, r.body)
            assert "reserved" in r.body.decode()
    finally:
        assert c.stop() == 0
        fake.stop()


def test_landline_receipt_marks_number_invalid(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, one_provider(fake.url))
    try:
        plan(c)
        wait_until(lambda: job(c)["state"] == "sent")
        j = job(c)
        form = {"MessageSid": j["provider_id"], "MessageStatus": "failed",
                "ErrorCode": "30006", "To": PHONE, "AccountSid": SID}
        r = status_post(c, {"message_id": j["message_id"]}, form)
        assert r.status == 204, r.body
        wait_until(c.store.pipeline_done)
        assert c.store.query("SELECT value, kind, reason FROM"
                             " invalid_addresses") == [(PHONE, "phone",
                                                        "30006")]
        # The next message to that number is not handed to Twilio.
        plan(c, text="Second notice.")
        wait_until(lambda: c.store.query(
            "SELECT count(*) FROM jobs WHERE state = 'suppressed'")[0][0] == 1)
        assert fake.count() == 1
    finally:
        assert c.stop() == 0
        fake.stop()
