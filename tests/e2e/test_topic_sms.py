"""SMS double opt-in: a pending SMS subscription is confirmed when the
resident replies YES, in the commit of the reply's event."""
import os

from crierlib import Crier, Store, wait_until
from fake_twilio import FakeTwilio
from test_sms import AUTH, AUTH_TOKEN, PHONE, config, one_provider, reply

TOPICS = """
topics = (
  { name = "road-closures"; title = "Road closures";
    category = "Streets"; channels = [ "sms" ]; },
  { name = "snow-days"; title = "Snow days";
    category = "Streets"; channels = [ "sms" ]; }
);
"""


def start(tmp_path, fake):
    text = config(one_provider(fake.url)) + TOPICS
    c = Crier(tmp_path, text, env={"SMS_AUTH_TOKEN": AUTH_TOKEN}).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def subscriptions(c, pid):
    r = c.get("/v1/subscriptions?profile=" + pid, headers=AUTH)
    assert r.status == 200, r.body
    return {s["topic"]: s for s in r.json()["subscriptions"]}


def test_yes_confirms_pending_sms(tmp_path):
    fake = FakeTwilio()
    c = start(tmp_path, fake)
    try:
        r = c.post("/v1/events", {"type": "signed_up",
                                  "profile": {"phone": PHONE}})
        assert r.status == 202
        wait_until(c.store.pipeline_done)
        r = c.request("POST", "/v1/subscriptions", {"subscriptions": [
            {"phone": PHONE, "topic": "road-closures", "channel": "sms",
             "status": "pending"},
            {"phone": PHONE, "topic": "snow-days", "channel": "sms",
             "status": "unsubscribed"}]}, headers=AUTH)
        assert r.status == 200, r.body
        assert r.json() == {"written": 2, "missing": []}
        pid = c.get("/v1/profiles?phone=%2B" + PHONE[1:],
                    headers=AUTH).json()["profile"]["id"]
        assert subscriptions(c, pid)["road-closures"]["status"] == "pending"
        # As "Unsubscribe from all" would, before the resident confirms.
        r = c.request("PATCH", "/v1/profiles/" + pid,
                      {"consent": {"sms": "revoked"}}, headers=AUTH)
        assert r.status == 200, r.body

        assert reply(c, PHONE, "YES").status == 200
        wait_until(c.store.pipeline_done)
        subs = subscriptions(c, pid)
        assert subs["road-closures"]["status"] == "confirmed"
        assert subs["road-closures"]["origin"] == "sms"
        # The YES is fresh consent: it grants SMS consent again.
        consent = c.get("/v1/profiles/" + pid,
                        headers=AUTH).json()["profile"]["consent"]["sms"]
        assert consent["state"] == "granted"
        assert consent["source"].endswith(":sms.start")
        # An unsubscribed topic stays so: YES confirms, it never
        # subscribes.
        assert subs["snow-days"]["status"] == "unsubscribed"
    finally:
        assert c.stop() == 0
        fake.stop()
