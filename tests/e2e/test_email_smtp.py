"""The email channel against a real SMTP server (aiosmtpd, see
smtp_scenarios.py): the MIME crier writes, parsed back with Python's email
package, and the outcome of each kind of SMTP reply."""
import collections
import email
import email.header
import email.policy
import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest

from crierlib import ROOT, Crier, SmtpServer, Store, free_port, wait_until

TOKEN = "admin-token-for-email-tests"
AUTH = {"Authorization": "Bearer " + TOKEN}
TEMPLATES = os.path.join(ROOT, "tests", "data", "e2e-templates")
SUBJECT = ("\U0001F6A7 Road work on Elm St starts Monday \u2014 "
           "d\u00e9tour via 5th Ave")
CONFIG = """
templates = "%s";
store: { plugin = "sqlite"; path = "var/crier.db"; };
triggers: { api: { plugin = "api"; }; };
channels: { email: { plugin = "email"; %s
                     from = "Ville d'Exemple \u00c9tudes <works@example.gov>";
                     }; };
rules = (
  { name = "notice"; on = "notice";
    send = { channel = "email"; template = "notice"; }; },
  { name = "statutory"; on = "statutory"; class = "service";
    send = { channel = "email"; template = "notice"; }; }
);
delivery: { message_id_domain = "crier.example.gov"; backoff = "200ms";
            max_backoff = "%s"; poll = "100ms"; max_attempts = 100;
            max_in_flight = 64; };
admin: { tokens = [ "sha256:%s" ]; };
"""


def config(smtp_settings, max_backoff="1s"):
    return CONFIG % (TEMPLATES, smtp_settings, max_backoff,
                     hashlib.sha256(TOKEN.encode()).hexdigest())


def start(tmp_path, port, extra="", **kw):
    settings = 'url = "smtp://127.0.0.1:%d"; %s' % (port, extra)
    c = Crier(tmp_path, config(settings, **kw)).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def notify(c, addresses, subject="Road work", body="Expect delays."):
    """Posts one `notice` event per address, in batches."""
    events = [{"type": "notice", "profile": {"email": a},
               "properties": {"subject": subject, "body": body}}
              for a in addresses]
    for i in range(0, len(events), 500):
        r = c.post("/v1/events", {"events": events[i:i + 500]})
        assert r.status == 202, r.body
    wait_until(c.store.pipeline_done, timeout=60)


def settled(c, count):
    """True when `count` jobs exist and each is sent or failed."""
    jobs = c.store.jobs()
    return (len(jobs) == count and
            all(j["state"] in ("sent", "failed") for j in jobs))


def test_mime_parses_back(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port)
    try:
        notify(c, ["ana@example.gov"], subject=SUBJECT,
               body="Caf\u00e9 & <b>d\u00e9tour</b>")
        wait_until(lambda: settled(c, 1), timeout=20)
        [msg] = smtp.messages()
        [name] = os.listdir(os.path.join(smtp.maildir, "new"))
        with open(os.path.join(smtp.maildir, "new", name), "rb") as f:
            raw = f.read()
        profile = c.get("/v1/profiles?email=ana%40example.gov",
                        headers=AUTH).json()["profile"]
        timeline = c.get("/v1/profiles/%s/timeline" % profile["id"],
                         headers=AUTH).json()["entries"]
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0

    # The header as crier sent it: encoded words of at most 75 characters
    # on lines of at most 78.
    header = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert max(len(line) for line in header.split("\r\n")) <= 78
    words = [w for w in header.split() if w.startswith("=?")]
    assert words
    for word in words:
        assert len(word) <= 75, word
    # Each word decodes on its own, so none splits a UTF-8 sequence.
    for word in words:
        for data, charset in email.header.decode_header(word):
            data.decode(charset)
    assert str(msg["Subject"]) == SUBJECT
    assert str(msg["From"]) == ("Ville d'Exemple \u00c9tudes "
                                "<works@example.gov>")
    assert msg["To"] == "ana@example.gov"
    assert msg["Message-ID"].startswith("<")
    assert msg["Message-ID"].endswith("@crier.example.gov>")
    assert msg["Date"] is not None
    assert msg["MIME-Version"] == "1.0"
    # Without unsubscribe_secret there is no link to offer.
    assert msg["List-Unsubscribe"] is None

    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain",
                                                     "text/html"]
    assert "Caf\u00e9 & <b>d\u00e9tour</b>" in parts[0].get_content()
    assert ("Caf\u00e9 &amp; &lt;b&gt;d\u00e9tour&lt;/b&gt;"
            in parts[1].get_content())

    # The stored event returns the subject byte for byte.
    events = [e["event"] for e in timeline if e["kind"] == "event"]
    assert events[0]["properties"]["subject"] == SUBJECT


def test_reject_fails_without_retry(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="reject")
    c = start(tmp_path, smtp.port)
    try:
        notify(c, ["nobody@example.gov"])
        wait_until(lambda: settled(c, 1), timeout=20)
        time.sleep(1.0)
        [job] = c.store.jobs()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert job["state"] == "failed"
    assert job["attempts"] == 1
    assert job["error"].startswith("invalid address: SMTP 550 5.1.1")
    assert smtp.messages() == []


def test_busy_reply_then_accept(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="busy")
    c = start(tmp_path, smtp.port)
    try:
        notify(c, ["ana@example.gov"])
        wait_until(lambda: settled(c, 1), timeout=20)
        [job] = c.store.jobs()
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert job["state"] == "sent"
    assert job["attempts"] == 2
    assert "421 4.3.2" in job["last_error"]
    assert len(msgs) == 1


def test_server_down_then_up(tmp_path):
    port = free_port()
    addresses = ["p%d@example.gov" % i for i in range(20)]
    c = start(tmp_path, port, max_backoff="500ms")
    smtp = None
    try:
        notify(c, addresses)
        wait_until(lambda: all(j["attempts"] >= 2 for j in c.store.jobs()),
                   timeout=30)
        assert not any(j["state"] == "sent" for j in c.store.jobs())
        smtp = SmtpServer(tmp_path, scenario="accept", port=port)
        wait_until(lambda: settled(c, len(addresses)), timeout=30)
        time.sleep(0.5)
        jobs = c.store.jobs()
        msgs = smtp.messages()
    finally:
        code = c.stop()
        if smtp is not None:
            smtp.stop()
    assert code == 0
    assert all(j["state"] == "sent" for j in jobs)
    ids = collections.Counter(m["Message-ID"] for m in msgs)
    assert len(ids) == len(addresses)
    assert max(ids.values()) == 1
    assert sorted(m["To"] for m in msgs) == sorted(addresses)


def make_certificate(tmp_path):
    """Writes a self-signed certificate for 127.0.0.1 and its key."""
    cert = os.path.join(str(tmp_path), "cert.pem")
    key = os.path.join(str(tmp_path), "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def run_starttls_auth(tmp_path, mechanism):
    cert, key = make_certificate(tmp_path)
    smtp = SmtpServer(tmp_path, scenario="accept",
                      extra=["--cert", cert, "--key", key,
                             "--user", "crier", "--password", "s3cret",
                             "--mechanism", mechanism])
    c = start(tmp_path, smtp.port,
              'tls = "starttls"; ca_file = "%s"; username = "crier"; '
              'password = "s3cret";' % cert)
    try:
        notify(c, ["ana@example.gov", "ben@example.gov"])
        wait_until(lambda: settled(c, 2), timeout=20)
        jobs = c.store.jobs()
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert [j["state"] for j in jobs] == ["sent", "sent"]
    assert all(j["error"] is None for j in jobs)
    assert len(msgs) == 2
    with open(os.path.join(str(tmp_path), "auth.log")) as f:
        used = f.read().split()
    assert used and set(used) == {mechanism}


def test_starttls_auth_plain(tmp_path):
    run_starttls_auth(tmp_path, "PLAIN")


def test_starttls_auth_login(tmp_path):
    run_starttls_auth(tmp_path, "LOGIN")


def test_wrong_password_retries(tmp_path):
    cert, key = make_certificate(tmp_path)
    smtp = SmtpServer(tmp_path, scenario="accept",
                      extra=["--cert", cert, "--key", key,
                             "--user", "crier", "--password", "s3cret"])
    c = start(tmp_path, smtp.port,
              'tls = "starttls"; ca_file = "%s"; username = "crier"; '
              'password = "wrong";' % cert)
    try:
        notify(c, ["ana@example.gov"])
        wait_until(lambda: c.store.jobs()[0]["attempts"] >= 2, timeout=20)
        [job] = c.store.jobs()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert job["state"] != "sent"
    assert job["state"] != "failed"
    assert smtp.messages() == []


@pytest.mark.parametrize("pipelining", [False, True],
                         ids=["lockstep", "pipelined"])
def test_rate_limited_server_gets_all(tmp_path, pipelining):
    """1,450 recipients through a server that takes 100 messages a second
    (454 4.7.0 beyond) and replies 450 4.2.1 for 5 s after the 600th,
    with and without PIPELINING offered."""
    count = 1450
    smtp = SmtpServer(tmp_path, scenario="rate",
                      extra=["--pipelining"] if pipelining else [])
    c = start(tmp_path, smtp.port, "connections = 4;")
    addresses = ["r%04d@example.gov" % i for i in range(count)]
    started = time.time()
    try:
        notify(c, addresses)
        wait_until(lambda: settled(c, count), timeout=240, interval=0.5)
        elapsed = time.time() - started
        jobs = c.store.jobs()
        time.sleep(0.5)
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    states = collections.Counter(j["state"] for j in jobs)
    print("recipients=%d seconds=%.1f states=%s retried=%d"
          % (count, elapsed, dict(states),
             sum(1 for j in jobs if j["attempts"] > 1)))
    assert states == {"sent": count}
    ids = collections.Counter(m["Message-ID"] for m in msgs)
    assert len(ids) == count
    assert max(ids.values()) == 1
    assert {j["message_id"] for j in jobs} == set(ids)
    # The server throttled, so some jobs were retried.
    assert any(j["attempts"] > 1 for j in jobs)


def consent_of(c, address):
    """Returns the profile's email consent state, or None when unset."""
    r = c.get("/v1/profiles?email=" + address.replace("@", "%40"),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"].get("consent", {}).get("email", {}).get(
        "state")


def test_one_click_unsubscribe(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port,
              'unsubscribe_secret = "unsubscribe-secret-for-tests";')
    try:
        notify(c, ["ana@example.gov", "ben@example.gov"])
        wait_until(lambda: settled(c, 2), timeout=20)
        by_to = {m["To"]: m for m in smtp.messages()}
        ana = by_to["ana@example.gov"]
        assert ana["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = str(ana["List-Unsubscribe"]).strip()
        assert link.startswith("<" + c.url + "/u/")
        assert link.endswith(">")
        path = link[1:-1][len(c.url):]
        assert by_to["ben@example.gov"]["List-Unsubscribe"] != \
            ana["List-Unsubscribe"]

        # A GET, as a mail scanner sends, only shows the button.
        page = c.get(path)
        assert page.status == 200
        assert b'<form method="post">' in page.body
        assert b"ana@example.gov" in page.body
        assert page.headers["Cache-Control"] == "no-store"
        time.sleep(0.3)
        assert consent_of(c, "ana@example.gov") is None

        # A tampered token changes nothing either way.
        bad = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
        assert c.get(bad).status == 404
        assert c.post(bad, "List-Unsubscribe=One-Click").status == 404
        assert consent_of(c, "ana@example.gov") is None

        # The one-click POST responds after the opt-out is stored.
        r = c.post(path, "List-Unsubscribe=One-Click",
                   headers={"Content-Type":
                            "application/x-www-form-urlencoded"})
        assert r.status == 200
        assert c.store.query("SELECT count(*) FROM events WHERE type ="
                             " 'email.unsubscribed'") == [(1,)]
        # The pipeline then applies the stored event to the profile.
        wait_until(c.store.pipeline_done)
        assert consent_of(c, "ana@example.gov") == "revoked"
        assert consent_of(c, "ben@example.gov") is None
        # A repeat gets the same response and stores nothing new.
        assert c.post(path, "List-Unsubscribe=One-Click").status == 200
        unsubscribed = c.store.query(
            "SELECT count(*) FROM events WHERE type = 'email.unsubscribed'")
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert unsubscribed == [(1,)]


def test_smtps_implicit_tls(tmp_path):
    cert, key = make_certificate(tmp_path)
    smtp = SmtpServer(tmp_path, scenario="accept",
                      extra=["--cert", cert, "--key", key, "--implicit-tls",
                             "--user", "crier", "--password", "s3cret"])
    settings = ('url = "smtps://127.0.0.1:%d"; ca_file = "%s"; '
                'username = "crier"; password = "s3cret";' % (smtp.port, cert))
    c = Crier(tmp_path, config(settings)).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        notify(c, ["ana@example.gov"])
        wait_until(lambda: settled(c, 1), timeout=20)
        [job] = c.store.jobs()
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert job["state"] == "sent"
    assert len(msgs) == 1
    with open(os.path.join(str(tmp_path), "auth.log")) as f:
        assert f.read().split() == ["PLAIN"]


def test_untrusted_certificate_retries(tmp_path):
    # Without ca_file the self-signed certificate fails verification.
    cert, key = make_certificate(tmp_path)
    smtp = SmtpServer(tmp_path, scenario="accept",
                      extra=["--cert", cert, "--key", key])
    c = start(tmp_path, smtp.port, 'tls = "starttls";')
    try:
        notify(c, ["ana@example.gov"])
        wait_until(lambda: c.store.jobs()[0]["attempts"] >= 2, timeout=20)
        [job] = c.store.jobs()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert job["state"] != "sent"
    assert "SSL" in job["last_error"] or "certificate" in job["last_error"]
    assert smtp.messages() == []


def test_service_messages_have_no_unsubscribe(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port,
              'unsubscribe_secret = "unsubscribe-secret-for-tests";')
    try:
        r = c.post("/v1/events", {"events": [
            {"type": "statutory", "profile": {"email": "ana@example.gov"},
             "properties": {"subject": "Hearing", "body": "On Monday."}},
            {"type": "notice", "profile": {"email": "ben@example.gov"},
             "properties": {"subject": "Road work", "body": "Delays."}}]})
        assert r.status == 202, r.body
        wait_until(lambda: settled(c, 2), timeout=20)
        by_to = {m["To"]: m for m in smtp.messages()}
        # A statutory notice cannot be unsubscribed from; outreach can.
        assert by_to["ana@example.gov"]["List-Unsubscribe"] is None
        assert by_to["ben@example.gov"]["List-Unsubscribe"] is not None
    finally:
        c.stop()


def start_servers(tmp_path, urls):
    settings = "urls = [ %s ];" % ", ".join('"%s"' % u for u in urls)
    c = Crier(tmp_path, config(settings)).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def attempt_log(c, job_id):
    r = c.get("/v1/messages/%d" % job_id, headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["attempt_log"]


def test_failover_when_first_refuses(tmp_path):
    down = free_port()
    (tmp_path / "b").mkdir()
    smtp = SmtpServer(tmp_path / "b", scenario="accept")
    second = "smtp://127.0.0.1:%d" % smtp.port
    c = start_servers(tmp_path, ["smtp://127.0.0.1:%d" % down, second])
    try:
        notify(c, ["ana@example.gov", "bo@example.gov"])
        wait_until(lambda: settled(c, 2), timeout=20)
        jobs = c.store.jobs()
        log = attempt_log(c, jobs[0]["id"])
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert [j["state"] for j in jobs] == ["sent", "sent"]
    # The next server took each message on its first attempt.
    assert [j["attempts"] for j in jobs] == [1, 1]
    assert len(log) == 1
    assert log[0]["outcome"] == "sent"
    assert log[0]["reply"].endswith("(%s)" % second)
    assert sorted(m["To"] for m in msgs) == ["ana@example.gov",
                                              "bo@example.gov"]
    assert "SMTP server down" in c.log_text()


def test_failover_on_421(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    busy = SmtpServer(tmp_path / "a", scenario="busy")
    smtp = SmtpServer(tmp_path / "b", scenario="accept")
    c = start_servers(tmp_path, ["smtp://127.0.0.1:%d" % busy.port,
                                 "smtp://127.0.0.1:%d" % smtp.port])
    try:
        notify(c, ["ana@example.gov"])
        wait_until(lambda: settled(c, 1), timeout=20)
        [job] = c.store.jobs()
        msgs = smtp.messages()
        busy_msgs = busy.messages()
    finally:
        code = c.stop()
        busy.stop()
        smtp.stop()
    assert code == 0
    assert job["state"] == "sent"
    assert job["attempts"] == 1
    assert len(msgs) == 1
    assert busy_msgs == []


def test_all_servers_down_retries(tmp_path):
    ports = [free_port(), free_port()]
    c = start_servers(tmp_path, ["smtp://127.0.0.1:%d" % p for p in ports])
    try:
        notify(c, ["ana@example.gov"])
        wait_until(lambda: c.store.jobs()[0]["attempts"] >= 2, timeout=20)
        [job] = c.store.jobs()
    finally:
        code = c.stop()
    assert code == 0
    assert job["state"] != "sent"
    assert "127.0.0.1:%d" % ports[1] in job["last_error"]


def test_pipelined_replies_per_message(tmp_path):
    """On one connection that pipelines, each message gets its own
    outcome: 550 5.1.1 to RCPT fails only that message, 554 to its end
    fails only that one, and the others around them are sent once."""
    smtp = SmtpServer(tmp_path,
                      handler=["reply_smtp.PipeliningReplyMailbox", "reject"])
    c = start(tmp_path, smtp.port, "connections = 1;")
    addresses = ["ana@example.gov", "nouser1@example.gov", "ben@example.gov",
                 "reject1@example.gov", "cy@example.gov",
                 "nouser2@example.gov", "dee@example.gov"]
    try:
        notify(c, addresses)
        wait_until(lambda: settled(c, len(addresses)), timeout=30)
        jobs = {j["to"]: j for j in c.store.jobs()}
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0

    for a in ("ana", "ben", "cy", "dee"):
        assert jobs[a + "@example.gov"]["state"] == "sent", a
        assert jobs[a + "@example.gov"]["attempts"] == 1, a
    for a in ("nouser1", "nouser2"):
        job = jobs[a + "@example.gov"]
        assert job["state"] == "failed", a
        assert job["error"].startswith("invalid address: SMTP 550 5.1.1"), a

    assert jobs["reject1@example.gov"]["state"] == "failed"
    assert jobs["reject1@example.gov"]["error"] == \
        "SMTP 554 5.7.1 Message rejected by policy"
    assert sorted(m["To"] for m in msgs) == [
        "ana@example.gov", "ben@example.gov", "cy@example.gov",
        "dee@example.gov"]
    # Every RCPT TO came with its DATA in one write.
    with open(os.path.join(str(tmp_path), "pipelined.log")) as f:
        assert sorted(f.read().split()) == sorted(addresses)


def test_waiting_past_lease_sent_once(tmp_path):
    """Messages that wait for an SMTP connection longer than half the
    lease go back to the outbox as retries, so no second claim sends
    them again."""
    count = 12

    # One connection to a server that takes 0.4 s per message: the queue
    # waits about 5 s, past the hand-over time of 1 s.
    smtp = SmtpServer(tmp_path, delay=0.4)
    settings = 'url = "smtp://127.0.0.1:%d"; connections = 1;' % smtp.port
    c = Crier(tmp_path, config(settings).replace(
        'max_attempts = 100;', 'max_attempts = 100; lease = "2s";'))
    c.start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))

    try:
        notify(c, ["r%d@example.gov" % i for i in range(count)])
        wait_until(lambda: settled(c, count), timeout=90)
        time.sleep(1.0)
        jobs = c.store.jobs()
        msgs = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()

    assert code == 0
    assert [j["state"] for j in jobs] == ["sent"] * count
    ids = collections.Counter(str(m["Message-ID"]) for m in msgs)
    assert set(ids) == {j["message_id"] for j in jobs}
    assert max(ids.values()) == 1
    # A message given back was never offered to the server, so each job
    # counts only the hand-over that sent it.
    assert [j["attempts"] for j in jobs] == [1] * count
    assert "waited for a connection past its hand-over time" in c.log_text()




class SlowReader(threading.Thread):
    """An SMTP server that replies 354 and then waits before it reads the
    message, through a small receive buffer, so that the sender's socket
    fills and takes the message in parts. It keeps each message it
    received in `messages`."""

    def __init__(self, wait=0.5):
        super().__init__(daemon=True)
        self.wait = wait
        self.messages = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]

    def run(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,),
                             daemon=True).start()

    def serve(self, conn):
        # crier may close an idle connection at any point of its stop.
        with conn:
            try:
                self.session(conn.makefile("rb"), conn)
            except OSError:
                pass

    def session(self, reader, conn):
        conn.sendall(b"220 slow.example ESMTP\r\n")
        for line in reader:
            verb = line[:4].upper()
            if verb == b"EHLO":
                conn.sendall(b"250 slow.example\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                time.sleep(self.wait)
                data = []
                for part in reader:
                    if part == b".\r\n":
                        break
                    data.append(part[1:] if part.startswith(b"..") else part)
                self.messages.append(b"".join(data))
                conn.sendall(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def stop(self):
        self.listener.close()


def test_large_message_arrives_whole(tmp_path):
    """A message larger than the socket takes at once goes out in parts,
    each byte once and in order. Each "=" takes three bytes in
    quoted-printable, so that the message (5 MB) is larger than the
    largest send buffer of a loopback socket (4 MB)."""
    lines = ["%06d %s" % (i, "=" * 60) for i in range(13000)]

    folder = tmp_path / "templates" / "notice"
    folder.mkdir(parents=True)
    (folder / "subject.mustache").write_text("Paving notice")
    (folder / "text.mustache").write_text("\n".join(lines) + "\n")
    (folder / "html.mustache").write_text(
        "".join("<p>%s</p>\n" % line for line in lines))

    smtp = SlowReader()
    smtp.start()
    settings = 'url = "smtp://127.0.0.1:%d";' % smtp.port
    text = config(settings).replace(TEMPLATES, str(tmp_path / "templates"))
    c = Crier(tmp_path, text).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        notify(c, ["ana@example.gov", "ben@example.gov"])
        wait_until(lambda: settled(c, 2), timeout=60)
        jobs = c.store.jobs()
    finally:
        code = c.stop()
        smtp.stop()

    assert code == 0
    assert [j["state"] for j in jobs] == ["sent", "sent"]
    assert len(smtp.messages) == 2
    for raw in smtp.messages:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        plain, html = list(msg.iter_parts())
        assert plain.get_content().splitlines() == lines
        assert html.get_content().splitlines() == ["<p>%s</p>" % line
                                                   for line in lines]
