"""The beacon trigger: /b.gif, /v1/beacon and /crier.js."""
import http.client
import json
import os
import urllib.parse

import pytest

from crierlib import Crier, Store, wait_until

BEACON_CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { web: { plugin = "beacon"; }; };
"""

# A program without stages gets the default five, the first of which is
# "awareness".
STAGE_CONFIG = BEACON_CONFIG + """
programs: { street-services: { }; };
rules = (
  { name    = "pages";
    program = "street-services";
    on      = "page_view";
    when    = "event.properties.url ~ '/street-services'";
    stage   = "consideration"; }
);
"""

ORIGIN_CONFIG = """
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: {
  web: { plugin = "beacon"; allowed_origins = [ "https://www.example.gov" ]; };
};
"""

GIF_LENGTH = 43
PAGE = "https://www.example.gov/recalls/cribs"


def store_of(c):
    return Store(os.path.join(c.workdir, "var", "crier.db"))


def beacon_events(c):
    """Returns the stored events as (source, type, body)."""
    rows = store_of(c).query("SELECT source, type, body FROM events"
                             " ORDER BY seq")
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


def gif_hit(c, **params):
    return c.get("/b.gif?" + urllib.parse.urlencode(params))


def assert_gif(r):
    assert r.headers["Content-Type"] == "image/gif"
    assert r.headers["Cache-Control"] == "no-store"
    assert len(r.body) == GIF_LENGTH
    assert r.body.startswith(b"GIF89a")


@pytest.fixture
def web(tmp_path):
    """A running crier with SQLite and the beacon trigger."""
    c = Crier(tmp_path, BEACON_CONFIG).start()
    yield c
    c.stop()


def test_gif_hit_stored(web):
    r = gif_hit(web, v="v-gif-1", u=PAGE, r="https://www.example.gov/",
                ti="Crib recall")
    assert r.status == 200
    assert_gif(r)

    # The GIF is sent after the commit, so the row is there without
    # waiting.
    events = beacon_events(web)
    assert len(events) == 1
    source, type_, body = events[0]
    assert source == "web"
    assert type_ == "page_view"
    assert body["visitor"] == "v-gif-1"
    assert body["properties"]["url"] == PAGE
    assert body["properties"]["referrer"] == "https://www.example.gov/"
    assert body["properties"]["title"] == "Crib recall"
    assert "profile" not in body


def test_gif_custom_type(web):
    r = gif_hit(web, v="v-gif-2", t="download", u=PAGE)
    assert r.status == 200
    [(_, type_, body)] = beacon_events(web)
    assert type_ == "download"
    assert body["visitor"] == "v-gif-2"


def test_gif_without_visitor(web):
    r = gif_hit(web, u=PAGE)
    assert r.status == 400
    assert_gif(r)
    assert beacon_events(web) == []


def test_gif_dotted_type_rejected(web):
    r = gif_hit(web, v="v-gif-3", t="case.closed")
    assert r.status == 400
    assert_gif(r)
    assert beacon_events(web) == []


@pytest.mark.parametrize("query, field", [
    ("v=%00", "v"),
    ("v=%zz", "v"),
    ("v=%", "v"),
    ("v=%FF%FE", "v"),
    ("v=v-bad&t=%00", "t"),
    ("v=v-bad&u=%FF%FE", "u"),
    ("v=v-bad&r=%zz", "r"),
    ("v=v-bad&ti=Crib%E2%82", "ti"),
])
def test_gif_undecodable_param_rejected(tmp_path, query, field):
    c = Crier(tmp_path, BEACON_CONFIG.replace(
        "triggers:", 'log_level = "debug";\ntriggers:')).start()
    try:
        r = c.get("/b.gif?" + query)
        assert r.status == 400
        assert_gif(r)
        assert beacon_events(c) == []
        assert "beacon hit rejected status=400 field=%s " % field \
            in c.log_text()
    finally:
        c.stop()


def test_gif_head_stores_nothing(web):
    r = web.request("HEAD", "/b.gif?v=v-head&u=%2Frecalls")
    assert r.status == 200
    assert r.headers["Content-Type"] == "image/gif"
    assert beacon_events(web) == []


def test_post_json_stored(web):
    hit = {"visitor": "v-post-1", "url": PAGE,
           "referrer": "https://www.example.gov/", "title": "Crib recall",
           "properties": {"section": "recalls"}}
    r = web.post("/v1/beacon", hit, headers={"User-Agent": "crier-e2e/1"})
    assert r.status == 202
    assert r.json() == {"accepted": 1, "duplicates": 0}
    assert r.headers["Access-Control-Allow-Origin"] == "*"

    [(source, type_, body)] = beacon_events(web)
    assert source == "web"
    assert type_ == "page_view"
    assert body["visitor"] == "v-post-1"
    assert body["properties"] == {"url": PAGE,
                                  "referrer": "https://www.example.gov/",
                                  "title": "Crib recall",
                                  "user_agent": "crier-e2e/1",
                                  "section": "recalls"}


def test_post_text_plain_stored(web):
    # navigator.sendBeacon sends a string body as text/plain.
    hit = json.dumps({"visitor": "v-post-2", "type": "download",
                      "properties": {"file": "crib-recall.pdf"}})
    r = web.post("/v1/beacon", hit,
                 headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status == 202
    assert r.json() == {"accepted": 1, "duplicates": 0}

    [(_, type_, body)] = beacon_events(web)
    assert type_ == "download"
    assert body["visitor"] == "v-post-2"
    assert body["properties"]["file"] == "crib-recall.pdf"


def test_post_invalid_json(web):
    r = web.post("/v1/beacon", '{"visitor": ',
                 headers={"Content-Type": "text/plain"})
    assert r.status == 400
    body = r.json()
    assert "JSON" in body["error"]
    assert "field" in body
    assert beacon_events(web) == []


def test_post_missing_visitor_names_field(web):
    r = web.post("/v1/beacon", {"url": PAGE})
    assert r.status == 400
    assert r.json()["field"] == "visitor"
    assert beacon_events(web) == []


@pytest.mark.parametrize("hit, field", [
    ({"visitor": "v", "type": "case.closed"}, "type"),
    ({"visitor": "v", "url": 5}, "url"),
    ({"visitor": "v", "properties": []}, "properties"),
    ({"visitor": "v" * 129}, "visitor"),
    ({"visitor": "v", "profile": {"email": "a@example.gov"}}, "profile"),
])
def test_post_bad_hit_names_field(web, hit, field):
    r = web.post("/v1/beacon", hit)
    assert r.status == 400
    assert r.json()["field"] == field
    assert beacon_events(web) == []


def test_post_empty_visitor_message(web):
    r = web.post("/v1/beacon", {"visitor": "", "url": PAGE})
    assert r.status == 400
    assert r.json()["field"] == "visitor"
    assert "is empty" in r.json()["error"]
    assert beacon_events(web) == []


def test_post_without_content_type_stored(web):
    # urllib adds a form Content-Type to every POST, so this goes through
    # http.client, which adds none.
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    try:
        conn.request("POST", "/v1/beacon",
                     body=json.dumps({"visitor": "v-bare"}).encode())
        r = conn.getresponse()
        assert r.status == 202
        assert json.loads(r.read()) == {"accepted": 1, "duplicates": 0}
    finally:
        conn.close()
    [(_, _, body)] = beacon_events(web)
    assert body["visitor"] == "v-bare"


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded",
    "application/jsonp",
    "text/html",
])
def test_post_other_content_type(web, content_type):
    r = web.post("/v1/beacon", '{"visitor": "v"}',
                 headers={"Content-Type": content_type})
    assert r.status == 415
    assert r.json()["field"] == "Content-Type"
    assert beacon_events(web) == []


def test_pages_stay_in_folder(tmp_path):
    pages = tmp_path / "pages"
    outside = tmp_path / "outside"
    pages.mkdir()
    outside.mkdir()
    (pages / "index.html").write_text("<p>index</p>")
    (pages / "about.html").write_text("<p>about</p>")
    (outside / "secret.txt").write_text("secret")
    os.symlink("about.html", str(pages / "alias.html"))
    os.symlink("../outside/secret.txt", str(pages / "leak.txt"))
    os.symlink("../outside", str(pages / "docs"))
    config = BEACON_CONFIG.replace('plugin = "beacon";',
                                   'plugin = "beacon"; pages = "pages";')
    c = Crier(tmp_path, config).start()
    try:
        r = c.get("/site/")
        assert r.status == 200
        assert r.body == b"<p>index</p>"
        assert c.get("/site/alias.html").body == b"<p>about</p>"
        for path in ("/site/leak.txt", "/site/docs/secret.txt",
                     "/site/missing.html"):
            r = c.get(path)
            assert r.status == 404, path
            assert b"secret" not in r.body
    finally:
        c.stop()


def test_unlisted_origin_rejected(tmp_path):
    c = Crier(tmp_path, ORIGIN_CONFIG).start()
    try:
        hit = {"visitor": "v-origin", "url": PAGE}
        r = c.post("/v1/beacon", hit,
                   headers={"Origin": "https://evil.example.com"})
        assert r.status == 403
        assert r.json()["field"] == "Origin"
        assert beacon_events(c) == []

        r = c.post("/v1/beacon", hit,
                   headers={"Origin": "https://www.example.gov"})
        assert r.status == 202
        assert (r.headers["Access-Control-Allow-Origin"]
                == "https://www.example.gov")
        assert len(beacon_events(c)) == 1
    finally:
        c.stop()


def test_preflight_headers(web):
    r = web.request("OPTIONS", "/v1/beacon",
                    headers={"Origin": "https://www.example.gov",
                             "Access-Control-Request-Method": "POST"})
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Methods"] == "POST"
    assert r.headers["Access-Control-Allow-Headers"] == "Content-Type"


def test_snippet_served(web):
    r = web.get("/crier.js")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/javascript")
    assert r.headers["Cache-Control"] == "max-age=300"
    script = r.body.decode()
    assert "sendBeacon" in script
    assert "/v1/beacon" in script
    assert "/b.gif" in script
    assert len(r.body) <= 2048
    # consent = "required" and honour_dnt = false by default.
    assert script.endswith("})(window,document,1,0);\n")


def test_page_view_moves_stage(tmp_path):
    c = Crier(tmp_path, STAGE_CONFIG).start()
    try:
        store = store_of(c)
        other = gif_hit(c, v="v-other", u="https://www.example.gov/parks")
        assert other.status == 200
        match = gif_hit(c, v="v-streets",
                        u="https://www.example.gov/street-services/potholes")
        assert match.status == 200

        # The pipeline commits stage changes with its cursor, so once the
        # cursor reaches the last event every rule has run on both hits.
        wait_until(store.pipeline_done, timeout=5)
        assert store.stage_of("visitor", "v-streets",
                              "street-services") == "consideration"
        assert store.stage_of("visitor", "v-other",
                              "street-services") == "awareness"
    finally:
        c.stop()
