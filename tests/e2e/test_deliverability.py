"""Bounces and complaints of the email channel: the VERP envelope sender
on a real SMTP server, and the provider event webhook with SendGrid,
Amazon SES (through SNS) and Mailgun bodies."""
import base64
import json
import os
import subprocess

from crierlib import (PLUGINS, Crier, SmtpServer, Store, run_crier,
                      wait_until)
from test_email_smtp import AUTH, config, notify, settled

BOUNCE_SECRET = "bounce-secret-for-tests-0123"
WEBHOOK_PASSWORD = "webhook-password-for-tests"
BOUNCES = ('bounces = { address = "bounces@mail.example.gov"; '
           'secret = "%s"; message_id_domain = "crier.example.gov"; '
           'webhook = { path = "/hooks/email/events"; password = "%s"; }; };'
           % (BOUNCE_SECRET, WEBHOOK_PASSWORD))


def start(tmp_path, port, extra=BOUNCES):
    settings = 'url = "smtp://127.0.0.1:%d"; %s' % (port, extra)
    c = Crier(tmp_path, config(settings)).start()
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    return c


def sent_to(c, smtp, addresses):
    """Sends one notice to each address; returns {address: job}."""
    notify(c, addresses)
    wait_until(lambda: settled(c, len(addresses)), timeout=20)
    rows = c.store.query("SELECT id, recipient, message_id FROM jobs")
    return {to: {"id": i, "message_id": m} for i, to, m in rows}


def webhook(c, body, password=WEBHOOK_PASSWORD):
    token = base64.b64encode(("provider:" + password).encode()).decode()
    return c.post("/hooks/email/events", json.dumps(body),
                  headers={"Content-Type": "application/json",
                           "Authorization": "Basic " + token})


def delivery(c, job_id):
    r = c.get("/v1/messages/%d" % job_id, headers=AUTH)
    assert r.status == 200, r.body
    return r.json().get("delivery")


def counts(c):
    return dict(c.store.query("SELECT metric, sum(count) FROM"
                              " report_messages GROUP BY metric"))


def consent(c, address):
    r = c.get("/v1/profiles?email=" + address.replace("@", "%40"),
              headers=AUTH)
    assert r.status == 200, r.body
    return r.json()["profile"].get("consent", {}).get("email", {}).get(
        "state")


def test_verp_envelope_sender(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port)
    try:
        jobs = sent_to(c, smtp, ["ana@example.gov", "ben@example.gov"])
        senders = smtp.envelope_senders()
        by_id = smtp.senders_by_message_id()
        messages = smtp.messages()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert len(senders) == 2
    assert len(by_id) == 2
    for job in jobs.values():
        sender = by_id[job["message_id"]]
        hex_id = job["message_id"][1:33]
        local, domain = sender.split("@")
        assert domain == "mail.example.gov"
        assert local.startswith("bounces+" + hex_id + ".")
        assert len(local) <= 64
    # The From header stays the agency's address.
    assert all(str(m["From"]).endswith("<works@example.gov>")
               for m in messages)
    assert senders[0] != senders[1]


def test_without_bounces_sender_is_from(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port, extra="")
    try:
        sent_to(c, smtp, ["ana@example.gov"])
        senders = smtp.envelope_senders()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert senders == ["works@example.gov"]


def test_sendgrid_bounce_and_spam_report(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port)
    try:
        jobs = sent_to(c, smtp, ["ana@example.gov", "ben@example.gov",
                                 "cy@example.gov"])
        ana, ben, cy = (jobs[a] for a in ("ana@example.gov",
                                          "ben@example.gov",
                                          "cy@example.gov"))
        body = [
            {"event": "processed", "email": "ana@example.gov",
             "smtp-id": ana["message_id"], "sg_event_id": "e0"},
            {"event": "bounce", "type": "bounce", "status": "5.1.1",
             "reason": "550 5.1.1 no such user", "email": "ana@example.gov",
             "smtp-id": ana["message_id"], "sg_event_id": "e1"},
            {"event": "spamreport", "email": "ben@example.gov",
             "smtp-id": ben["message_id"], "sg_event_id": "e2"},
            {"event": "delivered", "email": "cy@example.gov",
             "smtp-id": cy["message_id"], "sg_event_id": "e3"},
        ]
        r = webhook(c, body)
        assert r.status == 200, r.body
        assert r.json() == {"accepted": 3, "duplicates": 0}
        # A provider's retry of the same events stores nothing new.
        assert webhook(c, body).json() == {"accepted": 0, "duplicates": 3}
        wait_until(c.store.pipeline_done)

        bounced = delivery(c, ana["id"])
        assert bounced["status"] == "bounced"
        assert bounced["code"] == "5.1.1"
        assert bounced["text"] == "550 5.1.1 no such user"
        assert delivery(c, ben["id"])["status"] == "complained"
        assert delivery(c, cy["id"])["status"] == "delivered"
        n = counts(c)
        assert (n["bounced"], n["complained"], n["delivered"]) == (1, 1, 1)
        # A hard bounce marks the address invalid, a complaint stops
        # outreach to the resident.
        assert c.store.query("SELECT value, kind FROM invalid_addresses") \
            == [("ana@example.gov", "email")]
        assert consent(c, "ben@example.gov") == "revoked"
        assert consent(c, "cy@example.gov") is None
        # The report's rules table has the new columns.
        rules = c.get("/v1/reports/rules", headers=AUTH)
        assert rules.status == 200, rules.body
        table = rules.json()
        row = table["rows"][0]
        assert (row["delivered"], row["bounced"], row["complained"]) == \
            (1, 1, 1)
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def test_ses_and_mailgun_events(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port)
    try:
        jobs = sent_to(c, smtp, ["ana@example.gov", "ben@example.gov"])
        ana, ben = jobs["ana@example.gov"], jobs["ben@example.gov"]
        ses = {"Type": "Notification", "MessageId": "sns-1",
               "Message": json.dumps({
                   "notificationType": "Bounce",
                   "bounce": {"bounceType": "Transient",
                              "feedbackId": "fb-1",
                              "bouncedRecipients": [
                                  {"emailAddress": "ana@example.gov",
                                   "status": "4.2.2",
                                   "diagnosticCode": "mailbox full"}]},
                   "mail": {"messageId": "ses-1",
                            "commonHeaders": {
                                "messageId": ana["message_id"]}}})}
        assert webhook(c, ses).status == 200
        mailgun = {"signature": {},
                   "event-data": {
                       "event": "failed", "severity": "permanent",
                       "id": "mg-1", "recipient": "ben@example.gov",
                       "delivery-status": {"code": 550,
                                           "description": "no mailbox"},
                       "message": {"headers": {
                           "message-id": ben["message_id"][1:-1]}}}}
        assert webhook(c, mailgun).status == 200
        wait_until(c.store.pipeline_done)
        soft = delivery(c, ana["id"])
        assert (soft["status"], soft["code"]) == ("bounced", "4.2.2")
        hard = delivery(c, ben["id"])
        assert (hard["status"], hard["code"]) == ("bounced", "550")
        # Only the permanent one marks the address invalid.
        assert c.store.query("SELECT value FROM invalid_addresses") == \
            [("ben@example.gov",)]
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def test_webhook_needs_password(tmp_path):
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port)
    try:
        body = [{"event": "spamreport", "email": "ana@example.gov",
                 "smtp-id": "<x@crier.example.gov>", "sg_event_id": "e"}]
        r = webhook(c, body, password="wrong-password-000000")
        assert r.status == 401
        r = c.post("/hooks/email/events", json.dumps(body),
                   headers={"Content-Type": "application/json"})
        assert r.status == 401
        r = c.post("/hooks/email/events", "{",
                   headers={"Authorization": "Basic " + base64.b64encode(
                       b"u:" + WEBHOOK_PASSWORD.encode()).decode()})
        assert r.status == 400
        assert c.store.query("SELECT count(*) FROM events"
                             " WHERE type LIKE 'email.%'") == [(0,)]
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0


def dkim_key(tmp_path):
    """Makes an RSA key; returns its path and the DNS TXT record of its
    public key."""
    key = os.path.join(str(tmp_path), "dkim.key")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_dkim_signature_verifies(tmp_path):
    import dkim
    key, record = dkim_key(tmp_path)
    lookups = []

    def dnsfunc(name, timeout=5):
        lookups.append(name)
        return record if name == b"crier2026._domainkey.example.gov." \
            else None

    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port,
              'unsubscribe_secret = "unsubscribe-secret-for-tests"; '
              'dkim = { domain = "example.gov"; selector = "crier2026"; '
              'key_file = "%s"; };' % key)
    try:
        sent_to(c, smtp, ["ana@example.gov"])
        folder = os.path.join(smtp.maildir, "new")
        [name] = os.listdir(folder)
        with open(os.path.join(folder, name), "rb") as f:
            raw = f.read()
    finally:
        code = c.stop()
        smtp.stop()
    assert code == 0
    assert raw.startswith(b"DKIM-Signature: ")
    header = raw.split(b"\r\n\r\n", 1)[0]
    assert b"d=example.gov" in header
    assert b"s=crier2026" in header
    assert b"a=rsa-sha256" in header
    assert b"c=relaxed/relaxed" in header
    assert dkim.verify(raw, dnsfunc=dnsfunc)
    assert lookups == [b"crier2026._domainkey.example.gov."]
    # The signature covers the headers a resident reads and the body.
    field = header.split(b"\r\n\r\n")[0].split(b"\r\nFrom:")[0]
    tags = dkim.util.parse_tag_value(
        field[len(b"DKIM-Signature: "):].replace(b"\r\n", b""))
    names = [h.strip().lower() for h in tags[b"h"].split(b":")]
    for name in (b"from", b"to", b"subject", b"date", b"message-id",
                 b"list-unsubscribe"):
        assert name in names, name
    tampered = raw.replace(b"Expect delays.", b"Expect nothing.")
    assert tampered != raw
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_dkim_config_errors(tmp_path):
    key = os.path.join(str(tmp_path), "not-a-key")
    with open(key, "w") as f:
        f.write("hello\n")
    for settings, field in (
            ('dkim = { domain = "example.gov"; selector = "s"; '
             'key_file = "/nonexistent/dkim.key"; };', "dkim.key_file"),
            ('dkim = { domain = "example.gov"; selector = "s"; '
             'key_file = "%s"; };' % key, "dkim.key_file"),
            ('dkim = { selector = "s"; key_file = "%s"; };' % key,
             "dkim.domain"),
            ('dkim = { domain = "example.gov"; selector = "s"; '
             'key_file = "%s"; headers = ["Subject"]; };'
             % dkim_key(tmp_path)[0], "dkim.headers")):
        text = 'plugin_dir = "%s";\n' % PLUGINS + config(
            'url = "smtp://127.0.0.1:1"; ' + settings)
        path = os.path.join(str(tmp_path), "crier.conf")
        with open(path, "w") as f:
            f.write(text)
        code, out, err = run_crier("check", "-c", path)
        assert code != 0, settings
        assert "email." + field in err, (settings, err)


def dsn(verp, original, recipient, action, status, diagnostic, report_id):
    """Returns a delivery status notification (RFC 3464) as an MTA writes
    it: sent to the VERP address, quoting the original's header."""
    header = original.split(b"\r\n\r\n", 1)[0]
    return (
        "Return-Path: <>\r\n"
        "Delivered-To: %(verp)s\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: %(verp)s\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <%(report_id)s@mx.example.net>\r\n"
        "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        "\tboundary=\"BOUNDARY-1\"\r\n"
        "\r\n"
        "--BOUNDARY-1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message could not be delivered.\r\n"
        "\r\n"
        "--BOUNDARY-1\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        "Arrival-Date: Mon, 05 Jan 2026 09:59:58 +0000\r\n"
        "\r\n"
        "Final-Recipient: rfc822; %(recipient)s\r\n"
        "Original-Recipient: rfc822;%(recipient)s\r\n"
        "Action: %(action)s\r\n"
        "Status: %(status)s\r\n"
        "Remote-MTA: dns; mail.example.gov\r\n"
        "Diagnostic-Code: smtp; %(diagnostic)s\r\n"
        "\r\n"
        "--BOUNDARY-1\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n" % locals()).encode() + header + (
        "\r\n\r\n--BOUNDARY-1--\r\n").encode()


def arf(original, recipient, report_id):
    """Returns an abuse feedback report (RFC 5965) as a mailbox
    provider's feedback loop sends it, quoting the whole original."""
    return (
        "From: Feedback Loop <fbl@isp.example.net>\r\n"
        "To: abuse@example.gov\r\n"
        "Subject: Complaint\r\n"
        "Message-ID: <%(report_id)s@isp.example.net>\r\n"
        "Date: Mon, 05 Jan 2026 11:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report;\r\n"
        "\tboundary=\"BOUNDARY-2\"\r\n"
        "\r\n"
        "--BOUNDARY-2\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "This is an email abuse report.\r\n"
        "\r\n"
        "--BOUNDARY-2\r\n"
        "Content-Type: message/feedback-report\r\n"
        "\r\n"
        "Feedback-Type: abuse\r\n"
        "User-Agent: ExampleFBL/1.0\r\n"
        "Version: 1\r\n"
        "Original-Rcpt-To: <%(recipient)s>\r\n"
        "Arrival-Date: Mon, 05 Jan 2026 10:58:00 +0000\r\n"
        "\r\n"
        "--BOUNDARY-2\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n" % locals()).encode() + original + (
        "\r\n--BOUNDARY-2--\r\n").encode()


def raw_messages(smtp):
    """Returns {To: (envelope sender, raw bytes)} of what crier sent."""
    folder = os.path.join(smtp.maildir, "new")
    senders = {}
    with open(smtp.maildir + ".senders") as f:
        for line in f:
            key, sender = line.split(" ", 1)
            senders[key] = sender.strip()
    out = {}
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as f:
            raw = f.read()
        to = [line for line in raw.split(b"\r\n")
              if line.startswith(b"To: ")][0][4:].decode()
        out[to] = (senders[name.split(":")[0]], raw)
    return out


def test_imap_bounce_mailbox(tmp_path):
    from dovecot import Dovecot
    smtp = SmtpServer(tmp_path, scenario="accept")
    c = start(tmp_path, smtp.port)
    try:
        jobs = sent_to(c, smtp, ["ana@example.gov", "ben@example.gov",
                                 "cy@example.gov"])
    finally:
        assert c.stop() == 0
    sent = raw_messages(smtp)
    mailbox = [
        dsn(sent["ana@example.gov"][0], sent["ana@example.gov"][1],
            "ana@example.gov", "failed", "5.1.1",
            "550 5.1.1 <ana@example.gov>: Recipient address rejected",
            "r1"),
        arf(sent["ben@example.gov"][1], "ben@example.gov", "r2"),
        # A delay is not final, and a person's mail is no report.
        dsn(sent["cy@example.gov"][0], sent["cy@example.gov"][1],
            "cy@example.gov", "delayed", "4.4.1", "connection timed out",
            "r3"),
        b"From: ana@example.gov\r\nTo: bounces@mail.example.gov\r\n"
        b"Subject: why?\r\nMessage-ID: <r4@example.gov>\r\n\r\nHi\r\n",
        # A forged VERP address names nothing.
        dsn("bounces+" + "0" * 32 + ".000000000000@mail.example.gov",
            b"From: x@example.net\r\n", "cy@example.gov", "failed", "5.1.1",
            "550 no such user", "r5"),
    ]
    imap = Dovecot(mailbox)
    extra = BOUNCES.replace(
        "webhook =", 'imap = { url = "%s"; username = "crier"; '
        'password = "%s"; poll_ms = 200; }; webhook =' % (imap.url,
                                                         imap.password))
    try:
        c = Crier(tmp_path, config('url = "smtp://127.0.0.1:%d"; %s'
                                   % (smtp.port, extra))).start()
    except Exception:
        imap.stop()
        smtp.stop()
        raise
    c.store = Store(os.path.join(c.workdir, "var", "crier.db"))
    try:
        wait_until(lambda: imap.search("UNKEYWORD CrierProcessed") == [],
                   timeout=20)
        wait_until(c.store.pipeline_done)
        ana, ben, cy = (jobs[a] for a in ("ana@example.gov",
                                          "ben@example.gov",
                                          "cy@example.gov"))
        bounced = delivery(c, ana["id"])
        assert bounced["status"] == "bounced"
        assert bounced["code"] == "5.1.1"
        assert "Recipient address rejected" in bounced["text"]
        assert delivery(c, ben["id"])["status"] == "complained"
        assert delivery(c, cy["id"]) is None
        assert c.store.query("SELECT value FROM invalid_addresses") == \
            [("ana@example.gov",)]
        assert consent(c, "ben@example.gov") == "revoked"
        events = c.store.query("SELECT type FROM events WHERE type IN"
                               " ('email.bounced', 'email.complained')"
                               " ORDER BY type")
        assert events == [("email.bounced",), ("email.complained",)]
        # Every message is marked, the person's mail too.
        assert len(imap.search("KEYWORD CrierProcessed")) == 5
        assert len(imap.search("SEEN")) == 5

        # A crash before the mark reads a report again: a duplicate.
        uid = imap.search("ALL")[0]
        imap.store(uid, "-FLAGS (CrierProcessed)")
        wait_until(lambda: imap.search("UNKEYWORD CrierProcessed") == [],
                   timeout=20)
        wait_until(c.store.pipeline_done)
        assert c.store.query("SELECT count(*) FROM events WHERE type IN"
                             " ('email.bounced', 'email.complained')") == \
            [(2,)]
        assert counts(c)["bounced"] == 1
    finally:
        code = c.stop()
        imap.stop()
        smtp.stop()
    assert code == 0
