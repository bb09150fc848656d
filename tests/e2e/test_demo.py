"""The shipped demo: Chicago 311 requests in, the right emails out over a
real SMTP server."""
import os
import sys

from crierlib import (ROOT, Crier, SmtpServer, Store, body_of,
                      shipped_config, wait_until)

sys.path.insert(0, os.path.join(ROOT, "examples", "chicago"))
import replay  # noqa: E402
import residents  # noqa: E402

SECRET = "demo-test-secret"


def expected_emails():
    """Returns {(recipient, subject): text that the body must contain}."""
    out = {}
    for request in residents.load_requests():
        rid = request["service_request_id"]
        person = residents.resident_for(rid)
        hello = "Hello %s," % person["first_name"]
        subject = "We received your request: %s (%s)" % (
            request["service_name"], rid)
        out[(person["email"], subject)] = hello
        if request["status"] != "closed":
            continue
        if request["service_name"] == "Building Violation":
            subject = "Building inspection finished: %s" % request["address"]
        else:
            subject = "Your request was closed: %s (%s)" % (
                request["service_name"], rid)
        out[(person["email"], subject)] = hello
    return out


def test_demo_replay_sends_expected_emails(tmp_path):
    smtp = SmtpServer(tmp_path)
    c = Crier(tmp_path, shipped_config(smtp.port, tmp_path),
              env={"CASE_SECRET": SECRET}).start()
    try:
        accepted, refused = replay.replay(c.url + "/hooks/case", SECRET)
        assert refused == 0
        assert accepted == sum(len(r["notes"])
                               for r in residents.load_requests())

        # Replaying again is harmless: every webhook is a duplicate.
        store = Store(os.path.join(str(tmp_path), "var", "crier.db"))
        events = store.query("SELECT count(*) FROM events")[0][0]
        assert events == accepted
        accepted_again, _ = replay.replay(c.url + "/hooks/case", SECRET)
        assert accepted_again == accepted
        assert store.query("SELECT count(*) FROM events")[0][0] == events

        expected = expected_emails()
        wait_until(store.pipeline_done, timeout=30)
        wait_until(lambda: len(smtp.messages()) >= len(expected), timeout=60)
        wait_until(lambda: all(j["state"] == "sent" for j in store.jobs()),
                   timeout=30)

        msgs = smtp.messages()
        got = {}
        for m in msgs:
            got[(str(m["To"]), str(m["Subject"]))] = body_of(m, "plain")
        assert set(got) == set(expected)
        for key, hello in expected.items():
            assert hello in got[key], key

        jobs = store.jobs()
        ids = {str(m["Message-ID"]) for m in msgs}
        assert len(jobs) == len(expected)
        assert len(ids) == len(jobs)
        assert ids == {j["message_id"] for j in jobs}
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def test_demo_page_view_moves_stage(tmp_path):
    c = Crier(tmp_path, shipped_config(None, tmp_path)).start()
    try:
        page = c.get("/site/street-services.html")
        assert page.status == 200
        assert b'<script src="/crier.js"' in page.body
        assert c.get("/crier.js").status == 200

        # What crier.js sends from that page.
        hit = {"visitor": "demo-visitor-1", "type": "page_view",
               "url": c.url + "/site/street-services.html",
               "title": "Street services (crier demo)"}
        r = c.post("/v1/beacon", hit)
        assert r.status == 202
        store = Store(os.path.join(str(tmp_path), "var", "crier.db"))
        wait_until(store.pipeline_done)
        assert store.stage_of("visitor", "demo-visitor-1",
                              "street-services") == "consideration"

        other = dict(hit, visitor="demo-visitor-2",
                     url=c.url + "/site/recycling.html")
        assert c.post("/v1/beacon", other).status == 202
        wait_until(store.pipeline_done)
        assert store.stage_of("visitor", "demo-visitor-2",
                              "street-services") == "awareness"
    finally:
        assert c.stop() == 0
