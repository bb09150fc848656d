"""crier.js in headless Chromium: consent, identify and Do Not Track.

Each test serves a page with the snippet from the beacon's `pages` folder,
opens it in a fresh headless Chromium and reads the stored events. The
page posts a marker hit of its own 300 ms after the snippet ran, so once
the marker is stored every hit the snippet sent before it is stored too.
"""
import json
import os
import shutil
import subprocess

import pytest

from crierlib import Crier, Store, wait_until

CHROMIUM = shutil.which("chromium")

# The flags a headless Chromium needs as root and without a network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

# The page reads what to do from its query string: consent=1 calls
# crier.consent(true), identify=<email> calls crier.identify, and dnt=1
# makes navigator.doNotTrack "1" before the snippet loads.
PAGE = """<!doctype html>
<html><head><title>Crib recall</title>
<script>
var q = new URLSearchParams(location.search);
if (q.get("dnt"))
  Object.defineProperty(Navigator.prototype, "doNotTrack",
                        {get: function () { return "1"; }});
</script>
<script src="/crier.js"></script>
<script>
crier.track("download", {file: "crib-recall.pdf"});
if (q.get("consent")) crier.consent(true);
if (q.get("identify")) crier.identify({email: q.get("identify")});
setTimeout(function () {
  fetch("/v1/beacon", {method: "POST", body: JSON.stringify(
    {visitor: "marker", type: "page_done"})});
}, 300);
</script></head><body>Crib recall</body></html>
"""

CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  web: { plugin = "beacon"; pages = "site"; %s };
  api: { plugin = "api"; };
};
"""


def start_crier(tmp_path, settings=""):
    os.makedirs(tmp_path / "site")
    (tmp_path / "site" / "index.html").write_text(PAGE)
    return Crier(tmp_path, CONFIG % settings).start()


def events_of(c):
    store = Store(os.path.join(c.workdir, "var", "crier.db"))
    rows = store.query("SELECT type, body FROM events ORDER BY seq")
    return [(r[0], json.loads(r[1])) for r in rows]


def visit(c, tmp_path, query, markers=1):
    """Opens the page in Chromium until `markers` markers are stored, the
    last from this visit; returns the stored events without the markers.
    Visits of one test share a browser profile, so a visitor id too."""
    assert CHROMIUM is not None, "chromium is missing; scripts/install-deps"
    url = c.url + "/site/index.html?" + query
    log = open(tmp_path / "chromium.log", "wb")
    proc = subprocess.Popen(
        [CHROMIUM] + CHROMIUM_FLAGS +
        ["--user-data-dir=%s" % (tmp_path / "chromium"), url],
        stdout=log, stderr=log)
    try:
        wait_until(lambda: [t for t, _ in events_of(c)].count("page_done")
                   >= markers, timeout=30)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    return [(t, e) for t, e in events_of(c) if t != "page_done"]


def test_nothing_sent_without_consent(tmp_path):
    c = start_crier(tmp_path)
    try:
        assert visit(c, tmp_path, "") == []
    finally:
        c.stop()


def test_consent_sends_queued_hits(tmp_path):
    c = start_crier(tmp_path)
    try:
        events = visit(c, tmp_path, "consent=1")
    finally:
        c.stop()
    assert [t for t, _ in events] == ["page_view", "download"]
    page_view, download = events[0][1], events[1][1]
    assert page_view["visitor"] == download["visitor"]
    assert len(page_view["visitor"]) == 32
    assert page_view["properties"]["title"] == "Crib recall"
    assert page_view["properties"]["url"].endswith("?consent=1")
    assert download["properties"]["file"] == "crib-recall.pdf"
    # Headless Chromium names itself in its user agent.
    assert download["properties"]["bot"] == "script"


def test_assumed_consent_sends_at_once(tmp_path):
    c = start_crier(tmp_path, 'consent = "assumed";')
    try:
        events = visit(c, tmp_path, "")
    finally:
        c.stop()
    assert [t for t, _ in events] == ["page_view", "download"]


def test_dnt_honoured_when_configured(tmp_path):
    c = start_crier(tmp_path, "honour_dnt = true;")
    try:
        assert visit(c, tmp_path, "consent=1&dnt=1") == []
    finally:
        c.stop()


def test_dnt_ignored_by_default(tmp_path):
    c = start_crier(tmp_path)
    try:
        events = visit(c, tmp_path, "consent=1&dnt=1")
    finally:
        c.stop()
    assert [t for t, _ in events] == ["page_view", "download"]


def test_identify_merges_visitor(tmp_path):
    c = start_crier(tmp_path)
    try:
        # The known profile exists before the visit.
        r = c.post("/v1/events", {"type": "signup",
                                  "profile": {"email": "ana@example.gov"}})
        assert r.status == 202

        # The first visit makes an anonymous profile for the visitor, the
        # second identifies the same browser.
        store = Store(os.path.join(c.workdir, "var", "crier.db"))
        visit(c, tmp_path, "consent=1")
        wait_until(store.pipeline_done, timeout=10)
        events = visit(c, tmp_path, "identify=ana@example.gov", markers=2)
        wait_until(store.pipeline_done, timeout=10)
        owners = dict(store.query(
            "SELECT kind, profile FROM identities WHERE kind IN"
            " ('email', 'visitor') AND value != 'marker'"))
        merges = store.query("SELECT into_id FROM merges")
    finally:
        c.stop()
    # The second visit remembers the consent of the first.
    assert [t for t, _ in events] == ["signup", "page_view", "download",
                                      "page_view", "download", "identify"]
    identify = events[5][1]
    assert identify["profile"] == {"email": "ana@example.gov"}
    assert identify["visitor"] == events[1][1]["visitor"]
    assert owners["visitor"] == owners["email"]
    assert merges == [(owners["email"],)]
